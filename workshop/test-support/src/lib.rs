//! The test harness every integration test shares.
//!
//! Each external system is reached through one type here: Kafka and Cassandra are the servers the
//! test run started once (`servers`, `test-servers`) or the endpoints the environment names (for
//! instance the services of a `docker compose up`); ClickHouse is the current engine started
//! per test, or the server `CLICKHOUSE_URL` names. Tests then run unchanged against both.
//! [`stores::TestStores`] puts the three together with their schemas; [`orders`] makes sample
//! orders and [`metrics`] reads what a service exposes.

pub mod cassandra;
pub mod clickhouse;
pub mod kafka;
pub mod metrics;
pub mod openapi;
pub mod orders;
pub mod process;
pub mod proxy;
pub mod servers;
pub mod service;
pub mod stores;

/// Blocks until SIGTERM or Ctrl-C: what a launcher does once it printed its address.
pub fn wait_for_shutdown() {
    match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime.block_on(service_runtime::shutdown::signal()),
        Err(error) => eprintln!("cannot wait for a shutdown signal: {error}"),
    }
}

/// The text of `field` in every element of a JSON array (a response's `errors`, `results`, …);
/// panics if it is not an array of objects with that text field.
pub fn texts<'a>(array: &'a serde_json::Value, field: &str) -> Vec<&'a str> {
    array
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {array}"))
        .iter()
        .map(|element| {
            element[field]
                .as_str()
                .unwrap_or_else(|| panic!("no text {field} in {element}"))
        })
        .collect()
}

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

/// Sends `request` and answers its status and its JSON body (`null` when the body is not JSON);
/// panics naming what it could not reach.
pub async fn status_and_json(request: reqwest::RequestBuilder) -> (u16, serde_json::Value) {
    let response = request.send().await.expect("send the request");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or_default())
}
