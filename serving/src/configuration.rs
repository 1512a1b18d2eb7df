//! serving's settings: one struct read from environment variables, each field naming its
//! variable, with the defaults the README documents (a test holds the two together).

use std::net::SocketAddr;
use std::time::Duration;

use sales_stores::cassandra::CassandraConfig;
use sales_stores::clickhouse::ClickHouseConfig;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize};
use service_runtime::settings::{between, text, ConfigError, Settings};

use crate::jobs::schedule::check_schedule;

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default)]
pub struct ServingConfig {
    #[serde(rename = "SERVING_LISTEN_ADDR", with = "text")]
    pub listen_addr: SocketAddr,
    /// The bearer keys for the `/v1` routes, and their rate limit.
    pub auth: ServingKeys,
    pub cassandra: CassandraConfig,
    pub clickhouse: ClickHouseConfig,
    /// Widest `from`..`to` a sales query may span, in days.
    #[serde(rename = "SERVING_MAX_SPAN_DAYS")]
    #[serde(deserialize_with = "between::<1, 3_660, _, _>")]
    pub max_span_days: u64,
    /// Rows a page holds when the request does not say.
    #[serde(rename = "SERVING_DEFAULT_PAGE")]
    #[serde(deserialize_with = "between::<1, 10_000, _, _>")]
    pub default_page: usize,
    /// Most rows a page may hold.
    #[serde(rename = "SERVING_MAX_PAGE")]
    #[serde(deserialize_with = "between::<1, 10_000, _, _>")]
    pub max_page: usize,
    pub jobs: JobsConfig,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default)]
pub struct JobsConfig {
    /// Cron expression (seconds first, as tokio-cron-scheduler reads it).
    #[serde(rename = "RECONCILE_SCHEDULE", deserialize_with = "schedule")]
    pub reconcile_schedule: String,
    /// How many days, today included, each reconciliation compares.
    #[serde(rename = "RECONCILE_DAYS", deserialize_with = "between::<1, 31, _, _>")]
    pub reconcile_days: u32,
    /// Orders younger than this many seconds are left out of a reconciliation (they may still
    /// be in flight).
    #[serde(rename = "RECONCILE_GRACE_SECS")]
    #[serde(deserialize_with = "between::<0, 86_400, _, _>")]
    pub reconcile_grace_secs: u64,
    #[serde(rename = "RETENTION_SCHEDULE", deserialize_with = "schedule")]
    pub retention_schedule: String,
    /// ClickHouse partitions (days) older than this many days are dropped.
    #[serde(rename = "RETENTION_DAYS")]
    #[serde(deserialize_with = "between::<1, 36_500, _, _>")]
    pub retention_days: u32,
}

/// A cron expression the scheduler takes.
fn schedule<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    let expression = String::deserialize(deserializer)?;
    check_schedule(&expression).map_err(D::Error::custom)?;
    Ok(expression)
}

service_runtime::bearer_keys!(
    /// serving's bearer keys.
    ServingKeys: "SERVING_API_KEYS", "SERVING_API_KEYS_FILE", "SERVING_RATE_LIMIT_PER_KEY" = 5_000
);

impl Default for ServingConfig {
    fn default() -> Self {
        ServingConfig {
            listen_addr: SocketAddr::from(([0, 0, 0, 0], 8081)),
            auth: ServingKeys::default(),
            cassandra: CassandraConfig::default(),
            clickhouse: ClickHouseConfig::default(),
            max_span_days: 31,
            default_page: 50,
            max_page: 500,
            jobs: JobsConfig::default(),
        }
    }
}

impl Default for JobsConfig {
    fn default() -> Self {
        JobsConfig {
            reconcile_schedule: "0 */5 * * * *".into(),
            reconcile_days: 2,
            reconcile_grace_secs: 300,
            retention_schedule: "0 30 3 * * *".into(),
            retention_days: 90,
        }
    }
}

impl ServingConfig {
    /// The settings, checked against each other, with the keys file read.
    pub fn from_settings(s: &Settings<'_>) -> Result<Self, ConfigError> {
        let mut config: ServingConfig = s.read()?;
        config.clickhouse.check()?;
        if config.default_page > config.max_page {
            let (var, limit) = ("SERVING_DEFAULT_PAGE", "SERVING_MAX_PAGE");
            let (page, max) = (config.default_page, config.max_page);
            return Err(ConfigError::exceeds(var, page, limit, max, ""));
        }
        config.auth.load()?;
        Ok(config)
    }

    /// Widest `from`..`to` a sales query may span.
    pub fn max_span(&self) -> Duration {
        Duration::from_secs(86_400 * self.max_span_days)
    }
}

impl JobsConfig {
    /// Orders younger than this are left out of a reconciliation.
    pub fn reconcile_grace(&self) -> Duration {
        Duration::from_secs(self.reconcile_grace_secs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "serving-key-0123456789";

    // README.md's table under "## serving" lists what serving alone reads and stream-job's table
    // the store settings both read, each with the default ServingConfig declares.
    service_runtime::readme_lists_every_setting!(
        ServingConfig,
        own: "serving",
        shared: ["stream-job"]
    );

    #[test]
    fn defaults_match_the_readme() {
        let env = vec![("SERVING_API_KEYS", KEY)];
        let config = ServingConfig::from_settings(&Settings::new(&env)).unwrap();
        assert_eq!(config.listen_addr.port(), 8081);
        assert_eq!(config.max_span(), Duration::from_secs(31 * 86_400));
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
            // Checked after the read, across a group's fields.
            ("STREAM_JOB_WINDOW_SECONDS", "7"),
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
