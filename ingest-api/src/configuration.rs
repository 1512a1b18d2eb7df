//! ingest-api's settings: one struct read from environment variables, each field naming its
//! variable, with the defaults the README documents (a test holds the two together).

use std::net::SocketAddr;
use std::time::Duration;

use sales_model::Freshness;
use sales_stores::kafka::KafkaConnection;
use serde::{Deserialize, Serialize};
use service_runtime::settings::{between, millis, text, ConfigError, Settings};

/// Everything ingest-api can be told.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default)]
pub struct IngestConfig {
    #[serde(rename = "INGEST_LISTEN_ADDR", with = "text")]
    pub listen_addr: SocketAddr,
    pub kafka: KafkaConfig,
    /// The bearer keys that may post events, and their rate limit.
    pub auth: IngestKeys,
    #[serde(rename = "INGEST_BODY_LIMIT_BYTES")]
    #[serde(deserialize_with = "between::<1024, 67_108_864, _, _>")]
    pub body_limit_bytes: usize,
    /// Longest a request may take; longer than `kafka.produce_timeout`, so a slow produce
    /// answers 503 with `Retry-After` first.
    #[serde(rename = "INGEST_REQUEST_TIMEOUT_MS", with = "millis")]
    pub request_timeout: Duration,
    /// Most events in one batch request.
    #[serde(rename = "INGEST_MAX_BATCH")]
    #[serde(deserialize_with = "between::<1, 1000, _, _>")]
    pub max_batch: usize,
    /// How far ahead of the server clock a `created_at` may be.
    #[serde(rename = "INGEST_MAX_FUTURE_SECS")]
    #[serde(deserialize_with = "between::<0, 86_400, _, _>")]
    pub max_future_secs: u64,
    /// How far behind the server clock a `created_at` may be (a retry window).
    #[serde(rename = "INGEST_MAX_AGE_SECS")]
    #[serde(deserialize_with = "between::<60, 31_622_400, _, _>")]
    pub max_age_secs: u64,
}

/// How to reach Kafka and what to write.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default)]
pub struct KafkaConfig {
    /// The brokers, and TLS/SASL to reach them.
    pub connection: KafkaConnection,
    #[serde(rename = "KAFKA_TOPIC")]
    pub topic: String,
    /// Given to a topic this service creates.
    #[serde(rename = "KAFKA_TOPIC_PARTITIONS")]
    #[serde(deserialize_with = "between::<1, 10_000, _, _>")]
    pub partitions: i32,
    #[serde(rename = "KAFKA_REPLICATION_FACTOR")]
    #[serde(deserialize_with = "between::<1, 10, _, _>")]
    pub replication_factor: i32,
    /// Replicas that must hold an order before Kafka acknowledges it (`acks=all`), given to a
    /// topic this service creates.
    #[serde(rename = "KAFKA_MIN_INSYNC_REPLICAS")]
    #[serde(deserialize_with = "between::<1, 10, _, _>")]
    pub min_insync_replicas: i32,
    /// How long one order may wait for its delivery report before the client gets a 503.
    #[serde(rename = "KAFKA_PRODUCE_TIMEOUT_MS", with = "millis")]
    pub produce_timeout: Duration,
    #[serde(rename = "KAFKA_COMPRESSION")]
    pub compression: Compression,
    /// Time allowed for topic creation and metadata requests at start-up.
    #[serde(rename = "KAFKA_ADMIN_TIMEOUT_MS", with = "millis")]
    pub admin_timeout: Duration,
    /// Orders that may wait in the producer's queue; beyond that, new orders get a 503.
    #[serde(rename = "KAFKA_QUEUE_MAX_MESSAGES")]
    #[serde(deserialize_with = "between::<1, 10_000_000, _, _>")]
    pub queue_max_messages: u64,
}

/// The producer's `compression.type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    None,
    Gzip,
    Snappy,
    Lz4,
    Zstd,
}

impl Compression {
    pub fn as_str(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Snappy => "snappy",
            Compression::Lz4 => "lz4",
            Compression::Zstd => "zstd",
        }
    }
}

service_runtime::bearer_keys!(
    /// ingest-api's bearer keys.
    IngestKeys: "INGEST_API_KEYS", "INGEST_API_KEYS_FILE", "INGEST_RATE_LIMIT_PER_KEY" = 20_000
);

impl Default for IngestConfig {
    fn default() -> Self {
        let freshness = Freshness::default();
        IngestConfig {
            listen_addr: SocketAddr::from(([0, 0, 0, 0], 8080)),
            kafka: KafkaConfig::default(),
            auth: IngestKeys::default(),
            body_limit_bytes: 1024 * 1024,
            request_timeout: Duration::from_secs(10),
            max_batch: 1000,
            max_future_secs: freshness.max_future.as_secs(),
            max_age_secs: freshness.max_age.as_secs(),
        }
    }
}

impl Default for KafkaConfig {
    fn default() -> Self {
        KafkaConfig {
            connection: KafkaConnection::default(),
            topic: "Order".into(),
            partitions: 6,
            replication_factor: 1,
            min_insync_replicas: 1,
            produce_timeout: Duration::from_secs(5),
            compression: Compression::Lz4,
            admin_timeout: Duration::from_secs(5),
            queue_max_messages: 100_000,
        }
    }
}

impl IngestConfig {
    /// The settings, checked against each other, with the keys file read.
    pub fn from_settings(s: &Settings<'_>) -> Result<Self, ConfigError> {
        let mut config: IngestConfig = s.read()?;
        config.kafka.connection.check_login()?;
        let kafka = &config.kafka;
        if config.request_timeout <= kafka.produce_timeout {
            return Err(ConfigError {
                var: "INGEST_REQUEST_TIMEOUT_MS".into(),
                value: config.request_timeout.as_millis().to_string(),
                reason: format!(
                    "must be longer than KAFKA_PRODUCE_TIMEOUT_MS ({} ms), so a slow produce answers 503 with Retry-After",
                    kafka.produce_timeout.as_millis()
                ),
            });
        }
        if kafka.min_insync_replicas > kafka.replication_factor {
            return Err(ConfigError::exceeds(
                "KAFKA_MIN_INSYNC_REPLICAS",
                kafka.min_insync_replicas,
                "KAFKA_REPLICATION_FACTOR",
                kafka.replication_factor,
                ": no order could be acknowledged",
            ));
        }
        config.auth.load()?;
        Ok(config)
    }

    /// How far from the server clock an event's `created_at` may be.
    pub fn freshness(&self) -> Freshness {
        Freshness {
            max_future: Duration::from_secs(self.max_future_secs),
            max_age: Duration::from_secs(self.max_age_secs),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "dev-key-0123456789";

    #[test]
    fn defaults_match_the_readme() {
        let env = vec![("INGEST_API_KEYS", KEY)];
        let config = IngestConfig::from_settings(&Settings::new(&env)).unwrap();
        assert_eq!(config.listen_addr.to_string(), "0.0.0.0:8080");
        assert_eq!(config.kafka.topic, "Order");
        assert_eq!(config.kafka.partitions, 6);
        assert_eq!(config.kafka.compression, Compression::Lz4);
        assert_eq!(config.kafka.replication_factor, 1);
        assert_eq!(config.kafka.min_insync_replicas, 1);
        assert_eq!(config.body_limit_bytes, 1024 * 1024);
        assert_eq!(config.max_batch, 1000);
        assert_eq!(config.kafka.produce_timeout, Duration::from_secs(5));
        assert_eq!(config.request_timeout, Duration::from_secs(10));
        assert_eq!(config.freshness(), Freshness::default());
    }

    // README.md's table under "## ingest-api" lists exactly the variables IngestConfig declares,
    // with its defaults.
    service_runtime::readme_lists_every_setting!(IngestConfig, own: "ingest-api", shared: []);

    #[test]
    fn bad_values_stop_start_up_naming_the_variable() {
        let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
            (vec![], "INGEST_API_KEYS"),
            (vec![("INGEST_API_KEYS", "short")], "INGEST_API_KEYS"),
            (
                vec![("INGEST_API_KEYS", KEY), ("KAFKA_TOPIC_PARTITIONS", "0")],
                "KAFKA_TOPIC_PARTITIONS",
            ),
            (
                vec![("INGEST_API_KEYS", KEY), ("INGEST_LISTEN_ADDR", "8080")],
                "INGEST_LISTEN_ADDR",
            ),
            (
                vec![("INGEST_API_KEYS", KEY), ("KAFKA_COMPRESSION", "brotli")],
                "KAFKA_COMPRESSION",
            ),
            (
                vec![("INGEST_API_KEYS", KEY), ("INGEST_MAX_BATCH", "1001")],
                "INGEST_MAX_BATCH",
            ),
            (
                vec![
                    ("INGEST_API_KEYS", KEY),
                    ("KAFKA_REPLICATION_FACTOR", "3"),
                    ("KAFKA_MIN_INSYNC_REPLICAS", "4"),
                ],
                "KAFKA_MIN_INSYNC_REPLICAS",
            ),
            (
                vec![
                    ("INGEST_API_KEYS", KEY),
                    ("INGEST_REQUEST_TIMEOUT_MS", "5000"),
                ],
                "INGEST_REQUEST_TIMEOUT_MS",
            ),
            (
                vec![("INGEST_API_KEYS_FILE", "/nonexistent/keys")],
                "INGEST_API_KEYS_FILE",
            ),
            (
                vec![
                    ("INGEST_API_KEYS", KEY),
                    ("KAFKA_SECURITY_PROTOCOL", "sasl_ssl"),
                    ("KAFKA_SASL_USERNAME", "pipeline"),
                ],
                "KAFKA_SASL_PASSWORD",
            ),
        ];
        for (env, var) in cases {
            let err = IngestConfig::from_settings(&Settings::new(&env)).unwrap_err();
            assert_eq!(err.var, var, "{env:?}: {err}");
        }
    }

    #[test]
    fn keys_are_never_shown_in_debug_output() {
        let env = vec![("INGEST_API_KEYS", KEY)];
        let config = IngestConfig::from_settings(&Settings::new(&env)).unwrap();
        assert!(!format!("{config:?}").contains(KEY));
    }
}
