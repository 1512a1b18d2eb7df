//! The test harness every integration test shares.
//!
//! Each external system is reached through one type here that either starts the stand-in of
//! DESIGN.md §8 in-process or, when the environment names a real endpoint (for instance the
//! services of a `docker compose up`), uses that instead. Tests then run unchanged against both.
//! [`stores::TestStores`] puts the three together with their schemas; [`orders`] makes sample
//! orders and [`metrics`] reads what a service exposes.

pub mod cassandra;
pub mod clickhouse;
pub mod kafka;
pub mod metrics;
pub mod openapi;
pub mod orders;
pub mod proxy;
pub mod stores;

/// A name unique to this test run, so tests sharing a real broker or database never collide.
pub fn unique_name(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}

/// Polls `url` until it answers 200 OK, for at most `timeout`; the error says which URL never did.
pub async fn wait_until_ok(url: &str, timeout: std::time::Duration) -> Result<(), String> {
    let client = reqwest::Client::new();
    let deadline = std::time::Instant::now() + timeout;
    loop {
        if client
            .get(url)
            .send()
            .await
            .is_ok_and(|r| r.status() == 200)
        {
            return Ok(());
        }
        if std::time::Instant::now() >= deadline {
            return Err(format!("{url} did not answer 200 within {timeout:?}"));
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}
