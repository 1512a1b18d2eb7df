//! Settings from environment variables, with the defaults documented in the README.

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use sales_model::Freshness;
use sales_stores::kafka::KafkaConnection;
use service_runtime::auth::{load_keys, load_rate_limit};
use service_runtime::settings::{ConfigError, Settings};
use service_runtime::SecretString;

/// Everything ingest-api can be told.
#[derive(Clone, Debug)]
pub struct IngestConfig {
    pub listen_addr: SocketAddr,
    pub kafka: KafkaConfig,
    /// Bearer keys that may post orders. Never logged.
    pub api_keys: Vec<SecretString>,
    /// Requests a second each key may make; past that, 429 with `Retry-After`.
    pub rate_limit_per_key: NonZeroU32,
    pub body_limit_bytes: usize,
    pub request_timeout: Duration,
    pub max_batch: usize,
    pub freshness: Freshness,
}

/// How to reach Kafka and what to write.
#[derive(Clone, Debug)]
pub struct KafkaConfig {
    /// The brokers, and TLS/SASL to reach them.
    pub connection: KafkaConnection,
    pub topic: String,
    pub partitions: i32,
    pub replication_factor: i32,
    /// Replicas that must hold an order before Kafka acknowledges it (`acks=all`), given to a
    /// topic this service creates.
    pub min_insync_replicas: i32,
    /// How long one order may wait for its delivery report before the client gets a 503.
    pub produce_timeout: Duration,
    pub compression: String,
    /// Time allowed for topic creation and metadata requests at start-up.
    pub admin_timeout: Duration,
    /// Orders that may wait in the producer's queue; beyond that, new orders get a 503.
    pub queue_max_messages: u64,
}

impl IngestConfig {
    pub fn from_settings(s: &Settings<'_>) -> Result<Self, ConfigError> {
        let produce_timeout = s.millis("KAFKA_PRODUCE_TIMEOUT_MS", 5_000)?;
        let request_timeout = s.millis("INGEST_REQUEST_TIMEOUT_MS", 10_000)?;
        if request_timeout <= produce_timeout {
            return Err(ConfigError {
                var: "INGEST_REQUEST_TIMEOUT_MS".into(),
                value: request_timeout.as_millis().to_string(),
                reason: format!(
                    "must be longer than KAFKA_PRODUCE_TIMEOUT_MS ({} ms), so a slow produce answers 503 with Retry-After",
                    produce_timeout.as_millis()
                ),
            });
        }
        let replication_factor = s.bounded("KAFKA_REPLICATION_FACTOR", 1, 1, 10)? as i32;
        let min_insync_replicas = s.bounded("KAFKA_MIN_INSYNC_REPLICAS", 1, 1, 10)? as i32;
        if min_insync_replicas > replication_factor {
            return Err(ConfigError::exceeds(
                "KAFKA_MIN_INSYNC_REPLICAS",
                min_insync_replicas,
                "KAFKA_REPLICATION_FACTOR",
                replication_factor,
                ": no order could be acknowledged",
            ));
        }
        Ok(Self {
            listen_addr: s.parse("INGEST_LISTEN_ADDR", SocketAddr::from(([0, 0, 0, 0], 8080)))?,
            kafka: KafkaConfig {
                connection: KafkaConnection::from_settings(s)?,
                topic: s.string("KAFKA_TOPIC", "Order"),
                partitions: s.bounded("KAFKA_TOPIC_PARTITIONS", 6, 1, 10_000)? as i32,
                replication_factor,
                min_insync_replicas,
                produce_timeout,
                compression: s.choice(
                    "KAFKA_COMPRESSION",
                    "lz4",
                    &["none", "gzip", "snappy", "lz4", "zstd"],
                )?,
                admin_timeout: s.millis("KAFKA_ADMIN_TIMEOUT_MS", 5_000)?,
                queue_max_messages: s.bounded(
                    "KAFKA_QUEUE_MAX_MESSAGES",
                    100_000,
                    1,
                    10_000_000,
                )?,
            },
            api_keys: load_keys(s, "INGEST_API_KEYS", "INGEST_API_KEYS_FILE")?,
            rate_limit_per_key: load_rate_limit(s, "INGEST_RATE_LIMIT_PER_KEY", 20000)?,
            body_limit_bytes: s.bounded(
                "INGEST_BODY_LIMIT_BYTES",
                1024 * 1024,
                1024,
                64 * 1024 * 1024,
            )? as usize,
            request_timeout,
            max_batch: s.bounded("INGEST_MAX_BATCH", 1000, 1, 1000)? as usize,
            freshness: Freshness {
                max_future: Duration::from_secs(s.bounded(
                    "INGEST_MAX_FUTURE_SECS",
                    300,
                    0,
                    86_400,
                )?),
                max_age: Duration::from_secs(s.bounded(
                    "INGEST_MAX_AGE_SECS",
                    7 * 86_400,
                    60,
                    366 * 86_400,
                )?),
            },
        })
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
        assert_eq!(config.kafka.compression, "lz4");
        assert_eq!(config.kafka.replication_factor, 1);
        assert_eq!(config.kafka.min_insync_replicas, 1);
        assert_eq!(config.body_limit_bytes, 1024 * 1024);
        assert_eq!(config.max_batch, 1000);
        assert_eq!(config.kafka.produce_timeout, Duration::from_secs(5));
        assert_eq!(config.request_timeout, Duration::from_secs(10));
        assert_eq!(config.freshness, Freshness::default());
    }

    // README.md's table under "## ingest-api" lists exactly what ingest-api reads, with the
    // defaults it applies (the SASL settings are read when SASL is on).
    service_runtime::readme_lists_every_setting!(
        IngestConfig::from_settings,
        own: "ingest-api",
        shared: [],
        env: [
            ("INGEST_API_KEYS", KEY),
            ("KAFKA_SECURITY_PROTOCOL", "sasl_ssl"),
            ("KAFKA_SASL_USERNAME", "user"),
            ("KAFKA_SASL_PASSWORD", "password"),
        ]
    );

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
