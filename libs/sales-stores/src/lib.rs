//! Clients for the two stores the pipeline writes and serving reads: Cassandra (raw orders) and
//! ClickHouse (facts and windowed aggregates), and how every Kafka client reaches the brokers
//! (TLS, SASL), each with its settings from the environment, so
//! every binary (and the test harness) connects the same way; and applying Cassandra's schema,
//! which the job, serving's tests and the harness all need.

pub mod cassandra;
pub mod clickhouse;
pub mod kafka;

use sales_model::BusinessZone;
use service_runtime::settings::{ConfigError, Settings};

/// The zone in which `created_at` becomes a business day in every store (`BUSINESS_TIME_ZONE`,
/// an IANA name, default `UTC`); a name that is not a zone stops start-up.
pub fn business_zone(s: &Settings<'_>) -> Result<BusinessZone, ConfigError> {
    s.parse("BUSINESS_TIME_ZONE", BusinessZone::default())
}

/// A keyspace or database name from `var` (default `sales`). Names are spliced into queries, so
/// they must be plain identifiers.
pub fn identifier(s: &Settings<'_>, var: &str) -> Result<String, ConfigError> {
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
