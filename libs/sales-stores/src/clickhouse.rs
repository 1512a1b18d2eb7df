//! ClickHouse: settings and the client.

use std::time::Duration;

use clickhouse::Client;
use sales_model::BusinessZone;
use serde::{Deserialize, Serialize};
use service_runtime::settings::{between, millis, text, ConfigError, Settings};
use service_runtime::{ExposeSecret, SecretString};

/// How to reach ClickHouse, and the windows it sums in (the README's ClickHouse settings).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default)]
pub struct ClickHouseConfig {
    /// The HTTP interface.
    #[serde(rename = "CLICKHOUSE_URL")]
    pub url: String,
    #[serde(rename = "CLICKHOUSE_DATABASE", deserialize_with = "crate::identifier")]
    pub database: String,
    #[serde(rename = "CLICKHOUSE_USER")]
    pub user: String,
    /// Empty unless set; never printed nor serialised.
    #[serde(rename = "CLICKHOUSE_PASSWORD", skip_serializing)]
    pub password: SecretString,
    /// Size of the event-time tumbling windows of the aggregate tables, in seconds; divides a day
    /// and every offset of the business zone, so no window straddles a business midnight
    /// ([`ClickHouseConfig::check`]).
    #[serde(rename = "STREAM_JOB_WINDOW_SECONDS")]
    #[serde(deserialize_with = "between::<1, 86_400, _, _>")]
    pub window_seconds: u32,
    /// The zone of the `day` columns.
    #[serde(rename = "BUSINESS_TIME_ZONE", with = "text")]
    pub business_zone: BusinessZone,
    /// Longest a single statement may take before it counts as failed.
    #[serde(rename = "CLICKHOUSE_REQUEST_TIMEOUT_MS", with = "millis")]
    pub request_timeout: Duration,
    /// Whether the client checks its row types against the server's column types
    /// (`RowBinaryWithNamesAndTypes`). On by default; only servers older than 22.x, which
    /// cannot describe rows, need it off.
    #[serde(rename = "CLICKHOUSE_VALIDATE_ROWS")]
    pub validate_rows: bool,
}

impl Default for ClickHouseConfig {
    fn default() -> Self {
        ClickHouseConfig {
            url: "http://localhost:8123".into(),
            database: "sales".into(),
            user: "default".into(),
            password: SecretString::default(),
            window_seconds: 60,
            business_zone: BusinessZone::default(),
            request_timeout: Duration::from_secs(30),
            validate_rows: true,
        }
    }
}

impl ClickHouseConfig {
    pub fn from_settings(s: &Settings<'_>) -> Result<Self, ConfigError> {
        let config: ClickHouseConfig = s.read()?;
        config.check()?;
        Ok(config)
    }

    /// Windows must tile a business day exactly, so no window straddles two days (or two daily
    /// partitions).
    pub fn check(&self) -> Result<(), ConfigError> {
        let seconds = self.window_seconds;
        let refuse = |reason: String| ConfigError {
            var: "STREAM_JOB_WINDOW_SECONDS".into(),
            value: seconds.to_string(),
            reason,
        };
        if 86_400 % seconds != 0 {
            return Err(refuse(
                "must divide 86400 (a day) exactly, e.g. 10, 60, 300, 3600".into(),
            ));
        }
        self.business_zone.check_window(seconds).map_err(refuse)
    }
}

/// A client for the configured database. With row validation on, a row type that drifts from
/// `clickhouse-sql/` fails with the column it disagrees on instead of writing shifted bytes. The
/// server abandons any statement after the request timeout (`max_execution_time`), as the
/// client does ([`within`]), so a statement given up on does not go on running there.
pub fn client(config: &ClickHouseConfig) -> Client {
    Client::default()
        .with_url(&config.url)
        .with_user(&config.user)
        .with_password(config.password.expose_secret())
        .with_database(&config.database)
        .with_validation(config.validate_rows)
        .with_setting(
            "max_execution_time",
            config.request_timeout.as_secs().max(1).to_string(),
        )
}

/// Runs one ClickHouse request, failing it when it has not finished after `timeout`.
pub async fn within<T>(
    timeout: Duration,
    request: impl std::future::Future<Output = clickhouse::error::Result<T>>,
) -> anyhow::Result<T> {
    Ok(tokio::time::timeout(timeout, request)
        .await
        .map_err(|_| anyhow::anyhow!("ClickHouse did not answer within {timeout:?}"))??)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_must_divide_a_day_and_passwords_stay_out_of_logs() {
        let env = vec![("STREAM_JOB_WINDOW_SECONDS", "7")];
        assert_eq!(
            ClickHouseConfig::from_settings(&Settings::new(&env))
                .unwrap_err()
                .var,
            "STREAM_JOB_WINDOW_SECONDS"
        );
        let env = vec![
            ("STREAM_JOB_WINDOW_SECONDS", "3600"),
            ("BUSINESS_TIME_ZONE", "Asia/Kolkata"),
        ];
        let refused = ClickHouseConfig::from_settings(&Settings::new(&env)).unwrap_err();
        assert_eq!(refused.var, "STREAM_JOB_WINDOW_SECONDS");
        assert!(refused.reason.contains("+05:30"), "{}", refused.reason);
        let env = vec![("BUSINESS_TIME_ZONE", "Mars/Olympus")];
        let refused = ClickHouseConfig::from_settings(&Settings::new(&env)).unwrap_err();
        assert_eq!(refused.var, "BUSINESS_TIME_ZONE");
        let env = vec![("CLICKHOUSE_PASSWORD", "s3cret-value")];
        let config = ClickHouseConfig::from_settings(&Settings::new(&env)).unwrap();
        assert_eq!(config.window_seconds, 60);
        assert!(
            config.validate_rows,
            "rows are validated unless switched off"
        );
        assert!(!format!("{config:?}").contains("s3cret-value"));
    }
}
