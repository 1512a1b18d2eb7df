//! Settings from environment variables, with the defaults documented in the README.

use std::net::SocketAddr;
use std::time::Duration;

use sales_model::config::{ConfigError, Settings};
use scylla::statement::Consistency;

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
    pub bootstrap_servers: String,
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

#[derive(Clone, Debug)]
pub struct CassandraConfig {
    pub contact_points: Vec<String>,
    pub keyspace: String,
    pub local_dc: Option<String>,
    pub consistency: Consistency,
    /// Orders written concurrently.
    pub concurrency: usize,
    pub request_timeout: Duration,
    /// Wait for schema agreement after DDL (off only for the single-node test stand-in).
    pub await_schema_agreement: bool,
    pub username: Option<String>,
    pub password: Option<String>,
}

#[derive(Clone)]
pub struct ClickHouseConfig {
    pub url: String,
    pub database: String,
    pub user: String,
    pub password: String,
    /// Size of the event-time tumbling windows, in seconds; divides a day.
    pub window_seconds: u32,
    /// Longest a single insert or recompute may take before it counts as failed (and is retried).
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

impl StreamConfig {
    pub fn from_settings(s: &Settings<'_>) -> Result<Self, ConfigError> {
        let session_timeout = s.millis("KAFKA_SESSION_TIMEOUT_MS", 10_000)?;
        Ok(Self {
            kafka: SourceConfig {
                bootstrap_servers: s.string("KAFKA_BOOTSTRAP_SERVERS", "localhost:9092"),
                topic: s.string("KAFKA_TOPIC", "Order"),
                dlq_topic: s.string("KAFKA_DLQ_TOPIC", "Order.dlq"),
                group_id: s.string("STREAM_JOB_GROUP", "stream-job"),
                batch_max: s.bounded("STREAM_JOB_BATCH_MAX", 1000, 1, 100_000)? as usize,
                batch_linger: s.millis("STREAM_JOB_BATCH_LINGER_MS", 100)?,
                session_timeout,
                max_poll_interval: s.millis("KAFKA_MAX_POLL_INTERVAL_MS", 600_000)?,
            },
            cassandra: CassandraConfig {
                contact_points: s.list("CASSANDRA_CONTACT_POINTS", "localhost:9042"),
                keyspace: identifier(s, "CASSANDRA_KEYSPACE")?,
                local_dc: s.raw("CASSANDRA_LOCAL_DC"),
                consistency: consistency(s)?,
                concurrency: s.bounded("CASSANDRA_CONCURRENCY", 64, 1, 4096)? as usize,
                request_timeout: s.millis("CASSANDRA_REQUEST_TIMEOUT_MS", 5_000)?,
                await_schema_agreement: s.parse("CASSANDRA_AWAIT_SCHEMA_AGREEMENT", true)?,
                username: s.raw("CASSANDRA_USERNAME"),
                password: s.raw("CASSANDRA_PASSWORD"),
            },
            clickhouse: ClickHouseConfig {
                url: s.string("CLICKHOUSE_URL", "http://localhost:8123"),
                database: identifier(s, "CLICKHOUSE_DATABASE")?,
                user: s.string("CLICKHOUSE_USER", "default"),
                password: s.string("CLICKHOUSE_PASSWORD", ""),
                window_seconds: window_seconds(s)?,
                request_timeout: s.millis("CLICKHOUSE_REQUEST_TIMEOUT_MS", 30_000)?,
            },
            admin_addr: s.parse(
                "STREAM_JOB_ADMIN_ADDR",
                SocketAddr::from(([0, 0, 0, 0], 9100)),
            )?,
            flush_interval: s.millis("STREAM_JOB_FLUSH_INTERVAL_MS", 1_000)?,
            max_backoff: s.millis("STREAM_JOB_MAX_BACKOFF_MS", 10_000)?,
        })
    }
}

/// Keyspace and database names are spliced into queries, so they must be plain identifiers.
fn identifier(s: &Settings<'_>, var: &str) -> Result<String, ConfigError> {
    let name = s.string(var, "sales");
    let plain = !name.is_empty()
        && name.len() <= 48
        && name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if plain {
        Ok(name)
    } else {
        Err(ConfigError {
            var: var.into(),
            value: name,
            reason: "must be a letter followed by up to 47 letters, digits or underscores".into(),
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

fn consistency(s: &Settings<'_>) -> Result<Consistency, ConfigError> {
    let allowed = [
        "ONE",
        "TWO",
        "THREE",
        "QUORUM",
        "ALL",
        "LOCAL_QUORUM",
        "EACH_QUORUM",
        "LOCAL_ONE",
    ];
    Ok(
        match s
            .choice("CASSANDRA_CONSISTENCY", "LOCAL_QUORUM", &allowed)?
            .as_str()
        {
            "ONE" => Consistency::One,
            "TWO" => Consistency::Two,
            "THREE" => Consistency::Three,
            "QUORUM" => Consistency::Quorum,
            "ALL" => Consistency::All,
            "EACH_QUORUM" => Consistency::EachQuorum,
            "LOCAL_ONE" => Consistency::LocalOne,
            _ => Consistency::LocalQuorum,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

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
