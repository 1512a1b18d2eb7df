//! Clients for the two stores the pipeline writes and serving reads: Cassandra (raw orders) and
//! ClickHouse (facts and windowed aggregates), each with its settings from the environment, so
//! every binary connects the same way.

pub mod cassandra;
pub mod clickhouse;

use sales_model::config::{ConfigError, Settings};

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
