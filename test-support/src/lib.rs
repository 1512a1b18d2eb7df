//! The test harness every integration test shares.
//!
//! Each external system is reached through one type here that either starts the stand-in of
//! DESIGN.md §8 in-process or, when the environment names a real endpoint (for instance the
//! services of a `docker compose up`), uses that instead. Tests then run unchanged against both.

pub mod cassandra;
pub mod clickhouse;
pub mod kafka;
pub mod proxy;

/// A name unique to this test run, so tests sharing a real broker or database never collide.
pub fn unique_name(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}
