//! stream-job's settings: one struct read from environment variables, each field naming its
//! variable, with the defaults the README documents (a test holds the two together).

use std::net::SocketAddr;
use std::time::Duration;

use sales_stores::cassandra::CassandraConfig;
use sales_stores::clickhouse::ClickHouseConfig;
use sales_stores::kafka::KafkaConnection;
use serde::{Deserialize, Serialize};
use service_runtime::settings::{between, millis, text, ConfigError, Settings};

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default)]
pub struct StreamConfig {
    pub kafka: SourceConfig,
    pub cassandra: CassandraConfig,
    pub clickhouse: ClickHouseConfig,
    /// Health and metrics listen here.
    #[serde(rename = "STREAM_JOB_ADMIN_ADDR", with = "text")]
    pub admin_addr: SocketAddr,
    /// How often the sinks are flushed and offsets committed.
    #[serde(rename = "STREAM_JOB_FLUSH_INTERVAL_MS", with = "millis")]
    pub flush_interval: Duration,
    /// Longest pause between two attempts at a failing write.
    #[serde(rename = "STREAM_JOB_MAX_BACKOFF_MS", with = "millis")]
    pub max_backoff: Duration,
    /// The keyspace's replication (a CQL map) for `apply-schema`; the schema's development
    /// `SimpleStrategy` with one replica when unset.
    #[serde(rename = "CASSANDRA_REPLICATION")]
    pub cassandra_replication: Option<String>,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default)]
pub struct SourceConfig {
    /// The brokers, and TLS/SASL to reach them.
    pub connection: KafkaConnection,
    #[serde(rename = "KAFKA_TOPIC")]
    pub topic: String,
    #[serde(rename = "KAFKA_DLQ_TOPIC")]
    pub dlq_topic: String,
    #[serde(rename = "STREAM_JOB_GROUP")]
    pub group_id: String,
    /// Most messages handled as one batch.
    #[serde(rename = "STREAM_JOB_BATCH_MAX")]
    #[serde(deserialize_with = "between::<1, 100_000, _, _>")]
    pub batch_max: usize,
    /// How long a batch waits to fill once its first message arrived.
    #[serde(rename = "STREAM_JOB_BATCH_LINGER_MS", with = "millis")]
    pub batch_linger: Duration,
    #[serde(rename = "KAFKA_SESSION_TIMEOUT_MS", with = "millis")]
    pub session_timeout: Duration,
    /// A sink outage longer than this makes the consumer leave its group (it rejoins and resumes
    /// from the last commit when the sink is back; nothing is lost).
    #[serde(rename = "KAFKA_MAX_POLL_INTERVAL_MS", with = "millis")]
    pub max_poll_interval: Duration,
}

impl Default for StreamConfig {
    fn default() -> Self {
        StreamConfig {
            kafka: SourceConfig::default(),
            cassandra: CassandraConfig::default(),
            clickhouse: ClickHouseConfig::default(),
            admin_addr: SocketAddr::from(([0, 0, 0, 0], 9100)),
            flush_interval: Duration::from_secs(1),
            max_backoff: Duration::from_secs(10),
            cassandra_replication: None,
        }
    }
}

impl Default for SourceConfig {
    fn default() -> Self {
        SourceConfig {
            connection: KafkaConnection::default(),
            topic: "Order".into(),
            dlq_topic: "Order.dlq".into(),
            group_id: "stream-job".into(),
            batch_max: 1000,
            batch_linger: Duration::from_millis(100),
            session_timeout: Duration::from_secs(10),
            max_poll_interval: Duration::from_secs(600),
        }
    }
}

impl StreamConfig {
    /// The settings, each group checked.
    pub fn from_settings(s: &Settings<'_>) -> Result<Self, ConfigError> {
        let config: StreamConfig = s.read()?;
        config.kafka.connection.check_login()?;
        config.clickhouse.check()?;
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use scylla::statement::Consistency;

    #[test]
    fn defaults_match_the_readme() {
        let env: Vec<(&str, &str)> = vec![];
        let config = StreamConfig::from_settings(&Settings::new(&env)).unwrap();
        assert_eq!(config.kafka.topic, "Order");
        assert_eq!(config.kafka.dlq_topic, "Order.dlq");
        assert_eq!(config.kafka.group_id, "stream-job");
        assert_eq!(config.cassandra.keyspace, "sales");
        assert_eq!(config.cassandra.consistency, Consistency::LocalQuorum);
        assert_eq!(config.cassandra.contact_points, vec!["localhost:9042"]);
        assert_eq!(config.flush_interval, Duration::from_secs(1));
        assert_eq!(config.admin_addr.port(), 9100);
        assert_eq!(config.clickhouse.url, "http://localhost:8123");
        assert_eq!(config.clickhouse.database, "sales");
        assert_eq!(config.clickhouse.window_seconds, 60);
    }

    // README.md's table under "## stream-job" lists exactly the variables StreamConfig
    // declares, with its defaults.
    service_runtime::readme_lists_every_setting!(StreamConfig, own: "stream-job", shared: []);

    #[test]
    fn bad_values_name_their_variable() {
        for (var, value) in [
            ("CASSANDRA_KEYSPACE", "sales; DROP"),
            ("CASSANDRA_CONSISTENCY", "SOME"),
            ("STREAM_JOB_BATCH_MAX", "0"),
            ("CASSANDRA_AWAIT_SCHEMA_AGREEMENT", "maybe"),
            ("STREAM_JOB_ADMIN_ADDR", "9100"),
            ("STREAM_JOB_WINDOW_SECONDS", "7"),
            ("CLICKHOUSE_DATABASE", "sales-x"),
            ("KAFKA_SECURITY_PROTOCOL", "tls"),
            ("KAFKA_SASL_MECHANISM", "GSSAPI"),
        ] {
            let env = vec![(var, value)];
            let err = StreamConfig::from_settings(&Settings::new(&env)).unwrap_err();
            assert_eq!(err.var, var);
        }
        // SASL without a login is refused after the read, naming what is missing.
        let env = vec![("KAFKA_SECURITY_PROTOCOL", "sasl_ssl")];
        let err = StreamConfig::from_settings(&Settings::new(&env)).unwrap_err();
        assert_eq!(err.var, "KAFKA_SASL_USERNAME");
    }
}
