//! ClickHouse: settings and the client.

use std::time::Duration;

use clickhouse::Client;
use sales_model::BusinessZone;
use service_runtime::settings::{ConfigError, Settings};
use service_runtime::{ExposeSecret, SecretString};

#[derive(Clone, Debug)]
pub struct ClickHouseConfig {
    pub url: String,
    pub database: String,
    pub user: String,
    pub password: SecretString,
    /// Size of the event-time tumbling windows of the aggregate tables, in seconds; divides a day
    /// and every offset of the business zone, so no window straddles a business midnight.
    pub window_seconds: u32,
    /// The zone of the `day` columns.
    pub business_zone: BusinessZone,
    /// Longest a single statement may take before it counts as failed.
    pub request_timeout: Duration,
    /// Whether the client checks its row types against the server's column types
    /// (`RowBinaryWithNamesAndTypes`). On by default; only servers older than 22.x, which
    /// cannot describe rows, need it off.
    pub validate_rows: bool,
}

impl ClickHouseConfig {
    pub fn from_settings(s: &Settings<'_>) -> Result<Self, ConfigError> {
        let business_zone = crate::business_zone(s)?;
        Ok(Self {
            url: s.string("CLICKHOUSE_URL", "http://localhost:8123"),
            database: crate::identifier(s, "CLICKHOUSE_DATABASE")?,
            user: s.string("CLICKHOUSE_USER", "default"),
            password: s.secret("CLICKHOUSE_PASSWORD").unwrap_or_default(),
            window_seconds: window_seconds(s, business_zone)?,
            business_zone,
            request_timeout: s.millis("CLICKHOUSE_REQUEST_TIMEOUT_MS", 30_000)?,
            validate_rows: s.parse("CLICKHOUSE_VALIDATE_ROWS", true)?,
        })
    }
}

/// Windows must tile a business day exactly, so no window straddles two days (or two daily
/// partitions).
fn window_seconds(s: &Settings<'_>, zone: BusinessZone) -> Result<u32, ConfigError> {
    let var = "STREAM_JOB_WINDOW_SECONDS";
    let seconds = s.bounded(var, 60, 1, 86_400)? as u32;
    let refuse = |reason: String| ConfigError {
        var: var.into(),
        value: seconds.to_string(),
        reason,
    };
    if 86_400 % seconds != 0 {
        return Err(refuse(
            "must divide 86400 (a day) exactly, e.g. 10, 60, 300, 3600".into(),
        ));
    }
    zone.check_window(seconds).map_err(refuse)?;
    Ok(seconds)
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
