//! Shared set-up for the benchmark tools: the stores (`test_support`'s world, the run's servers
//! unless the environment names real services), stream-job's settings for them, sample orders,
//! and pre-loading the topic.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::future::try_join_all;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::ClientConfig;
use serde_json::Value;
use service_runtime::settings::Settings;
use stream_job::cassandra::sink::CassandraSink;
use stream_job::clickhouse::sink::ClickHouseSink;
use stream_job::configuration::StreamConfig;
use stream_job::dead_letter::DeadLetters;
use stream_job::health::Health;
use stream_job::metrics::Metrics;
use stream_job::pipeline::Pipeline;
use stream_job::sink::Sink;
use stream_job::source::OrderSource;
use test_support::orders::SampleOrder;
use test_support::stores::TestStores;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

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

/// stream-job's pipeline with the sinks chosen by name (`both`, `cassandra` or `clickhouse`), and
/// its metrics served on `admin`: the job as it runs, or one store's share of it.
pub struct SinkJob {
    pub admin: SocketAddr,
    stop: CancellationToken,
    job: JoinHandle<()>,
}

impl SinkJob {
    pub async fn start(config: &StreamConfig, sinks: &str) -> anyhow::Result<SinkJob> {
        let metrics = Arc::new(Metrics::default());
        let health = Health::default();
        let mut chosen: Vec<Arc<dyn Sink>> = Vec::new();
        if sinks != "clickhouse" {
            chosen.push(Arc::new(
                CassandraSink::connect(&config.cassandra, metrics.clone()).await?,
            ));
        }
        if sinks != "cassandra" {
            chosen.push(Arc::new(ClickHouseSink::new(
                &config.clickhouse,
                metrics.clone(),
            )));
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let admin = listener.local_addr()?;
        let router = stream_job::admin::router(metrics.clone(), health.clone());
        tokio::spawn(async move { axum::serve(listener, router).await });
        let stop = CancellationToken::new();
        let pipeline = Pipeline {
            source: OrderSource::new(&config.kafka, metrics.clone())?,
            dead_letters: DeadLetters::new(&config.kafka, metrics.clone())?,
            sinks: chosen,
            metrics,
            health,
            flush_interval: config.flush_interval,
            max_backoff: config.max_backoff,
        };
        let job = tokio::spawn(pipeline.run(stop.clone()));
        Ok(SinkJob { admin, stop, job })
    }

    /// Stops the pipeline after its final flush and commit.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.stop.cancel();
        Ok(self.job.await?)
    }
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
    produce_all(stores, &stores.topic, messages.collect()).await
}

/// Long histories for serving's pages: `customer` with `customer_orders` orders spread over the
/// last two years at three stores, and `store` with `store_orders` orders on one business day a
/// week ago. Each day's orders fall in one minute, so the window recomputes stay few.
pub async fn preload_history(
    stores: &TestStores,
    topic: &str,
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
        // Oldest first, a day's orders together, as they would have arrived over the two
        // years: a batch then touches a day or two of windows, not hundreds.
        let day = 730 - (n * 730 / customer_orders.max(1)) as i64;
        let at = noon(day) + chrono::Duration::milliseconds((n % 8_000) as i64 * 7);
        // A regular shops at a few stores: three here.
        let order = SampleOrder::new(&format!("hist-c-{n}"), &format!("store-{:03}", n % 3), at)
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
    produce_all(stores, topic, messages).await
}

/// Produces keyed payloads to `topic` in chunks and waits for every acknowledgement.
async fn produce_all(
    stores: &TestStores,
    topic: &str,
    messages: Vec<(String, Vec<u8>)>,
) -> anyhow::Result<()> {
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
                        FutureRecord::to(topic).key(key).payload(payload),
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
