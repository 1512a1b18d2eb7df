//! Settings from environment variables, with the defaults documented in the README.

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use sales_stores::cassandra::CassandraConfig;
use sales_stores::clickhouse::ClickHouseConfig;
use service_runtime::auth::{load_keys, load_rate_limit};
use service_runtime::settings::{ConfigError, Settings};
use service_runtime::SecretString;

use crate::jobs::schedule::check_schedule;

#[derive(Clone, Debug)]
pub struct ServingConfig {
    pub listen_addr: SocketAddr,
    /// Bearer keys for the `/v1` routes. Never logged.
    pub api_keys: Vec<SecretString>,
    /// Requests a second each key may make; past that, 429 with `Retry-After`.
    pub rate_limit_per_key: NonZeroU32,
    pub cassandra: CassandraConfig,
    pub clickhouse: ClickHouseConfig,
    /// Widest `from`..`to` a sales query may span.
    pub max_span: Duration,
    pub default_page: usize,
    pub max_page: usize,
    pub jobs: JobsConfig,
}

#[derive(Clone, Debug)]
pub struct JobsConfig {
    /// Cron expression (seconds first, as tokio-cron-scheduler reads it).
    pub reconcile_schedule: String,
    /// How many days, today included, each reconciliation compares.
    pub reconcile_days: u32,
    /// Orders younger than this are left out of a reconciliation (they may still be in flight).
    pub reconcile_grace: Duration,
    pub retention_schedule: String,
    /// ClickHouse partitions (days) older than this many days are dropped.
    pub retention_days: u32,
}

fn schedule(s: &Settings<'_>, var: &str, default: &str) -> Result<String, ConfigError> {
    let expression = s.string(var, default);
    check_schedule(&expression).map_err(|reason| ConfigError {
        var: var.into(),
        value: expression.clone(),
        reason,
    })?;
    Ok(expression)
}

impl ServingConfig {
    pub fn from_settings(s: &Settings<'_>) -> Result<Self, ConfigError> {
        let default_page = s.bounded("SERVING_DEFAULT_PAGE", 50, 1, 10_000)? as usize;
        let max_page = s.bounded("SERVING_MAX_PAGE", 500, 1, 10_000)? as usize;
        if default_page > max_page {
            let (var, limit) = ("SERVING_DEFAULT_PAGE", "SERVING_MAX_PAGE");
            return Err(ConfigError::exceeds(var, default_page, limit, max_page, ""));
        }
        Ok(Self {
            listen_addr: s.parse(
                "SERVING_LISTEN_ADDR",
                SocketAddr::from(([0, 0, 0, 0], 8081)),
            )?,
            api_keys: load_keys(s, "SERVING_API_KEYS", "SERVING_API_KEYS_FILE")?,
            rate_limit_per_key: load_rate_limit(s, "SERVING_RATE_LIMIT_PER_KEY", 5000)?,
            cassandra: CassandraConfig::from_settings(s)?,
            clickhouse: ClickHouseConfig::from_settings(s)?,
            max_span: Duration::from_secs(
                86_400 * s.bounded("SERVING_MAX_SPAN_DAYS", 31, 1, 3_660)?,
            ),
            default_page,
            max_page,
            jobs: JobsConfig {
                reconcile_schedule: schedule(s, "RECONCILE_SCHEDULE", "0 */5 * * * *")?,
                reconcile_days: s.bounded("RECONCILE_DAYS", 2, 1, 31)? as u32,
                reconcile_grace: Duration::from_secs(s.bounded(
                    "RECONCILE_GRACE_SECS",
                    300,
                    0,
                    86_400,
                )?),
                retention_schedule: schedule(s, "RETENTION_SCHEDULE", "0 30 3 * * *")?,
                retention_days: s.bounded("RETENTION_DAYS", 90, 1, 36_500)? as u32,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "serving-key-0123456789";

    // README.md's table under "## serving" lists what serving alone reads and stream-job's table
    // the store settings both read, each with the default serving applies.
    service_runtime::readme_lists_every_setting!(
        ServingConfig::from_settings,
        own: "serving",
        shared: ["stream-job"],
        env: [("SERVING_API_KEYS", KEY), ("CASSANDRA_TLS", "true")]
    );

    #[test]
    fn defaults_match_the_readme() {
        let env = vec![("SERVING_API_KEYS", KEY)];
        let config = ServingConfig::from_settings(&Settings::new(&env)).unwrap();
        assert_eq!(config.listen_addr.port(), 8081);
        assert_eq!(config.max_span, Duration::from_secs(31 * 86_400));
        assert_eq!((config.default_page, config.max_page), (50, 500));
        assert_eq!(config.jobs.reconcile_schedule, "0 */5 * * * *");
        assert_eq!(config.jobs.retention_schedule, "0 30 3 * * *");
        assert_eq!(
            (config.jobs.reconcile_days, config.jobs.retention_days),
            (2, 90)
        );
        assert!(!format!("{config:?}").contains(KEY));
    }

    #[test]
    fn bad_values_stop_start_up_naming_the_variable() {
        for (var, value) in [
            ("RECONCILE_SCHEDULE", "every five minutes"),
            ("RETENTION_SCHEDULE", "0 61 * * * *"),
            ("RETENTION_DAYS", "0"),
            ("SERVING_DEFAULT_PAGE", "600"),
            ("SERVING_MAX_SPAN_DAYS", "x"),
        ] {
            let env = vec![("SERVING_API_KEYS", KEY), (var, value)];
            assert_eq!(
                ServingConfig::from_settings(&Settings::new(&env))
                    .unwrap_err()
                    .var,
                var,
                "{var}={value}"
            );
        }
        let env: Vec<(&str, &str)> = vec![];
        assert_eq!(
            ServingConfig::from_settings(&Settings::new(&env))
                .unwrap_err()
                .var,
            "SERVING_API_KEYS"
        );
    }
}
