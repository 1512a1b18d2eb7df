//! The ClickHouse path: order facts, and the windowed aggregates recomputed from them
//! (DESIGN.md §6).

pub mod sink;
pub mod windows;

use clickhouse::Client;

use crate::configuration::ClickHouseConfig;

/// A client for the configured database. Row validation is off: the row types here are written
/// against `clickhouse-sql/`, and the old server CI runs cannot describe rows for validation.
pub fn client(config: &ClickHouseConfig) -> Client {
    Client::default()
        .with_url(&config.url)
        .with_user(&config.user)
        .with_password(&config.password)
        .with_database(&config.database)
        .with_validation(false)
}
