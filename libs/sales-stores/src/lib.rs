//! Clients for the two stores the pipeline writes and serving reads: Cassandra (raw orders) and
//! ClickHouse (facts and windowed aggregates), and how every Kafka client reaches the brokers
//! (TLS, SASL), each with its settings from the environment, so
//! every binary (and the test harness) connects the same way; and applying Cassandra's schema,
//! which the job, serving's tests and the harness all need.

pub mod cassandra;
pub mod clickhouse;
pub mod kafka;

use serde::de::Error as _;
use serde::{Deserialize, Deserializer};

/// A keyspace or database name (`#[serde(deserialize_with = "identifier")]`). Names are spliced
/// into queries, so they must be plain identifiers.
pub fn identifier<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    let name = String::deserialize(deserializer)?;
    let plain = !name.is_empty()
        && name.len() <= 48
        && name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if plain {
        Ok(name)
    } else {
        Err(D::Error::custom(
            "must be a letter followed by up to 47 letters, digits or underscores",
        ))
    }
}
