//! Shared set-up for the benchmark tools: the stores (`test_support`'s world, the run's servers
//! unless the environment names real services), stream-job's settings for them, sample orders,
//! and pre-loading the topic.

use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::future::try_join_all;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::ClientConfig;
use serde_json::Value;
use service_runtime::settings::Settings;
use stream_job::configuration::StreamConfig;
use test_support::orders::SampleOrder;
use test_support::stores::TestStores;

pub use test_support::metrics::{histogram_quantile, metric};

/// Kafka (the topic with 6 partitions), Cassandra and ClickHouse with their schemas.
pub async fn stores() -> TestStores {
    TestStores::start(6).await
}

/// stream-job's configuration for `stores`, plus `extra` settings.
pub fn job_config(
    stores: &TestStores,
    group: &str,
    extra: &[(&str, &str)],
) -> anyhow::Result<StreamConfig> {
    let mut settings = vec![
        ("STREAM_JOB_GROUP", group),
        ("STREAM_JOB_ADMIN_ADDR", "127.0.0.1:0"),
    ];
    settings.extend_from_slice(extra);
    let env = stores.env(&settings);
    Ok(StreamConfig::from_settings(&Settings::new(&env))?)
}

/// The benchmark's order `n`: two lines, 3 items, total 9.20, in one of 50 stores.
fn sample(n: usize, created_at: DateTime<Utc>) -> SampleOrder {
    SampleOrder::new(
        &format!("bench-{}-{n}", std::process::id()),
        &format!("store-{:03}", n % 50),
        created_at,
    )
    .customer(Some(&format!("c-{}", n % 1000)))
    .line("sku-1", "Latte", 2, 350)
    .line("sku-2", "Croissant", 1, 220)
}

/// Order `n` as a POS body.
pub fn order_body(n: usize, created_at: DateTime<Utc>) -> Value {
    sample(n, created_at).json()
}

/// Order `n` as the Kafka envelope ingest-api would produce.
pub fn envelope(n: usize, created_at: DateTime<Utc>) -> Vec<u8> {
    sample(n, created_at).envelope().to_json()
}

/// Produces `orders` order envelopes spread over the last hour to the order topic, in chunks, and
/// waits until Kafka acknowledged every one.
pub async fn preload(stores: &TestStores, orders: usize) -> anyhow::Result<()> {
    let now = Utc::now();
    let messages = (0..orders).map(|n| {
        (
            format!("bench-{n}"),
            envelope(n, now - chrono::Duration::seconds((n % 3600) as i64)),
        )
    });
    produce_all(stores, messages.collect()).await
}

/// Long histories for serving's pages: `customer` with `customer_orders` orders spread over the
/// last two years, and `store` with `store_orders` orders on one business day a week ago. Each
/// day's orders fall in one minute, so the window recomputes stay few.
pub async fn preload_history(
    stores: &TestStores,
    customer: &str,
    customer_orders: usize,
    store: &str,
    store_orders: usize,
) -> anyhow::Result<()> {
    let today = Utc::now().date_naive();
    let noon = |days_ago: i64| {
        (today - chrono::Duration::days(days_ago))
            .and_hms_opt(12, 0, 0)
            .map(|t| t.and_utc())
            .unwrap_or_else(Utc::now)
    };
    let mut messages = Vec::with_capacity(customer_orders + store_orders);
    for n in 0..customer_orders {
        let at = noon(1 + (n % 730) as i64) + chrono::Duration::milliseconds((n / 730) as i64 * 7);
        let order = SampleOrder::new(&format!("hist-c-{n}"), &format!("store-{:03}", n % 50), at)
            .customer(Some(customer))
            .line("sku-1", "Latte", 1, 350);
        messages.push((format!("hist-c-{n}"), order.envelope_at(at).to_json()));
    }
    for n in 0..store_orders {
        let at = noon(7) + chrono::Duration::milliseconds(n as i64 * 2);
        let order = SampleOrder::new(&format!("hist-s-{n}"), store, at)
            .customer(Some(&format!("c-{}", n % 1000)))
            .line("sku-2", "Croissant", 1, 220);
        messages.push((format!("hist-s-{n}"), order.envelope_at(at).to_json()));
    }
    produce_all(stores, messages).await
}

/// Produces keyed payloads to the order topic in chunks and waits for every acknowledgement.
async fn produce_all(stores: &TestStores, messages: Vec<(String, Vec<u8>)>) -> anyhow::Result<()> {
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", stores.kafka.bootstrap_servers())
        .set("linger.ms", "5")
        .create()?;
    for chunk in messages.chunks(5_000) {
        try_join_all(chunk.iter().map(|(key, payload)| {
            let producer = producer.clone();
            async move {
                producer
                    .send(
                        FutureRecord::to(&stores.topic).key(key).payload(payload),
                        Duration::from_secs(30),
                    )
                    .await
                    .map_err(|(e, _)| e)
            }
        }))
        .await?;
    }
    Ok(())
}
