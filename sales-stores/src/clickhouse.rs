//! ClickHouse: settings and the client.

use std::time::Duration;

use clickhouse::Client;
use sales_model::config::{ConfigError, Settings};

#[derive(Clone)]
pub struct ClickHouseConfig {
    pub url: String,
    pub database: String,
    pub user: String,
    pub password: String,
    /// Size of the event-time tumbling windows of the aggregate tables, in seconds; divides a day.
    pub window_seconds: u32,
    /// Longest a single statement may take before it counts as failed.
    pub request_timeout: Duration,
}

impl std::fmt::Debug for ClickHouseConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClickHouseConfig")
            .field("url", &self.url)
            .field("database", &self.database)
            .field("user", &self.user)
            .field("window_seconds", &self.window_seconds)
            .field("request_timeout", &self.request_timeout)
            .finish_non_exhaustive()
    }
}

impl ClickHouseConfig {
    pub fn from_settings(s: &Settings<'_>) -> Result<Self, ConfigError> {
        Ok(Self {
            url: s.string("CLICKHOUSE_URL", "http://localhost:8123"),
            database: crate::identifier(s, "CLICKHOUSE_DATABASE")?,
            user: s.string("CLICKHOUSE_USER", "default"),
            password: s.string("CLICKHOUSE_PASSWORD", ""),
            window_seconds: window_seconds(s)?,
            request_timeout: s.millis("CLICKHOUSE_REQUEST_TIMEOUT_MS", 30_000)?,
        })
    }
}

/// Windows must tile a day exactly, so no window straddles two daily partitions.
fn window_seconds(s: &Settings<'_>) -> Result<u32, ConfigError> {
    let seconds = s.bounded("STREAM_JOB_WINDOW_SECONDS", 60, 1, 86_400)? as u32;
    if 86_400 % seconds != 0 {
        return Err(ConfigError {
            var: "STREAM_JOB_WINDOW_SECONDS".into(),
            value: seconds.to_string(),
            reason: "must divide 86400 (a day) exactly, e.g. 10, 60, 300, 3600".into(),
        });
    }
    Ok(seconds)
}

/// A client for the configured database. Row validation is off: the row types of this project
/// are written against `clickhouse-sql/`, and the old server CI runs cannot describe rows for
/// validation.
pub fn client(config: &ClickHouseConfig) -> Client {
    Client::default()
        .with_url(&config.url)
        .with_user(&config.user)
        .with_password(&config.password)
        .with_database(&config.database)
        .with_validation(false)
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
        let env = vec![("CLICKHOUSE_PASSWORD", "s3cret-value")];
        let config = ClickHouseConfig::from_settings(&Settings::new(&env)).unwrap();
        assert_eq!(config.window_seconds, 60);
        assert!(!format!("{config:?}").contains("s3cret-value"));
    }
}
