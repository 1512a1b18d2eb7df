//! Settings from environment variables, with the defaults documented in the README.

use std::net::SocketAddr;
use std::time::Duration;

use sales_stores::cassandra::CassandraConfig;
use sales_stores::clickhouse::ClickHouseConfig;
use sales_stores::kafka::KafkaConnection;
use service_runtime::settings::{ConfigError, Settings};

#[derive(Clone, Debug)]
pub struct StreamConfig {
    pub kafka: SourceConfig,
    pub cassandra: CassandraConfig,
    pub clickhouse: ClickHouseConfig,
    /// Health and metrics listen here.
    pub admin_addr: SocketAddr,
    /// How often the sinks are flushed and offsets committed.
    pub flush_interval: Duration,
    /// Longest pause between two attempts at a failing write.
    pub max_backoff: Duration,
}

#[derive(Clone, Debug)]
pub struct SourceConfig {
    /// The brokers, and TLS/SASL to reach them.
    pub connection: KafkaConnection,
    pub topic: String,
    pub dlq_topic: String,
    pub group_id: String,
    /// Most messages handled as one batch.
    pub batch_max: usize,
    /// How long a batch waits to fill once its first message arrived.
    pub batch_linger: Duration,
    pub session_timeout: Duration,
    /// A sink outage longer than this makes the consumer leave its group (it rejoins and resumes
    /// from the last commit when the sink is back; nothing is lost).
    pub max_poll_interval: Duration,
}

impl StreamConfig {
    pub fn from_settings(s: &Settings<'_>) -> Result<Self, ConfigError> {
        let session_timeout = s.millis("KAFKA_SESSION_TIMEOUT_MS", 10_000)?;
        Ok(Self {
            kafka: SourceConfig {
                connection: KafkaConnection::from_settings(s)?,
                topic: s.string("KAFKA_TOPIC", "Order"),
                dlq_topic: s.string("KAFKA_DLQ_TOPIC", "Order.dlq"),
                group_id: s.string("STREAM_JOB_GROUP", "stream-job"),
                batch_max: s.bounded("STREAM_JOB_BATCH_MAX", 1000, 1, 100_000)? as usize,
                batch_linger: s.millis("STREAM_JOB_BATCH_LINGER_MS", 100)?,
                session_timeout,
                max_poll_interval: s.millis("KAFKA_MAX_POLL_INTERVAL_MS", 600_000)?,
            },
            cassandra: CassandraConfig::from_settings(s)?,
            clickhouse: ClickHouseConfig::from_settings(s)?,
            admin_addr: s.parse(
                "STREAM_JOB_ADMIN_ADDR",
                SocketAddr::from(([0, 0, 0, 0], 9100)),
            )?,
            flush_interval: s.millis("STREAM_JOB_FLUSH_INTERVAL_MS", 1_000)?,
            max_backoff: s.millis("STREAM_JOB_MAX_BACKOFF_MS", 10_000)?,
        })
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

    // README.md's table under "## stream-job" lists exactly what stream-job reads, with the
    // defaults it applies (SASL and TLS settings are read when those are on).
    service_runtime::readme_lists_every_setting!(
        StreamConfig::from_settings,
        own: "stream-job",
        shared: [],
        env: [
            ("KAFKA_SECURITY_PROTOCOL", "sasl_ssl"),
            ("KAFKA_SASL_USERNAME", "user"),
            ("KAFKA_SASL_PASSWORD", "password"),
            ("CASSANDRA_TLS", "true"),
        ]
    );

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
        ] {
            let env = vec![(var, value)];
            let err = StreamConfig::from_settings(&Settings::new(&env)).unwrap_err();
            assert_eq!(err.var, var);
        }
    }
}
