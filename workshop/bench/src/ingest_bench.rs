//! ingest-bench: throughput and latency of ingest-api against the run's Kafka broker (or the broker
//! named by KAFKA_BOOTSTRAP_SERVERS). Run with `cargo run --release -p bench --bin ingest-bench`.
//!
//! Measures, in one run so the ratios are comparable on a noisy machine:
//! - single orders: `BENCH_ORDERS` POSTs to /v1/orders from `BENCH_CONCURRENCY` clients;
//! - batches: the same number of orders in batches of `BENCH_BATCH` to /v1/orders/batch.
//!
//! `BENCH_ONLY=single` or `batch` runs one of the two. `INGEST_URL` points it at a running
//! ingest-api (key `bench-key-0123456789`) instead of one in this process, to compare two builds
//! with the same client.

use std::time::{Duration, Instant};

use anyhow::{ensure, Context};
use bench::order_body;
use chrono::Utc;
use futures::stream::{self, StreamExt};
use ingest_api::configuration::IngestConfig;
use ingest_api::startup::Application;
use serde_json::Value;
use service_runtime::settings::{ProcessEnv, Settings};
use test_support::kafka::TestKafka;

const KEY: &str = "bench-key-0123456789";

struct Run {
    orders: usize,
    elapsed: Duration,
    latencies: Vec<Duration>,
}

impl Run {
    fn print(&self, name: &str) {
        let mut sorted = self.latencies.clone();
        sorted.sort();
        let pct = |p: f64| sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)];
        println!(
            "{name:<22} {:>7} orders in {:>6.2} s = {:>8.0} orders/s   request latency p50 {:>6.1} ms  p99 {:>6.1} ms",
            self.orders,
            self.elapsed.as_secs_f64(),
            self.orders as f64 / self.elapsed.as_secs_f64(),
            pct(0.50).as_secs_f64() * 1e3,
            pct(0.99).as_secs_f64() * 1e3,
        );
    }
}

async fn post(client: &reqwest::Client, url: &str, body: &Value) -> anyhow::Result<(u16, Value)> {
    let response = client.post(url).bearer_auth(KEY).json(body).send().await?;
    Ok((response.status().as_u16(), response.json().await?))
}

/// Sends `requests` with at most `concurrency` in flight and times each; `orders` is how many
/// orders they carry in all.
async fn timed<F>(
    orders: usize,
    concurrency: usize,
    requests: impl Iterator<Item = F>,
) -> anyhow::Result<Run>
where
    F: std::future::Future<Output = anyhow::Result<()>>,
{
    let started = Instant::now();
    let results: Vec<anyhow::Result<Duration>> = stream::iter(requests.map(|request| async move {
        let t = Instant::now();
        request.await?;
        Ok(t.elapsed())
    }))
    .buffer_unordered(concurrency)
    .collect()
    .await;
    let latencies = results.into_iter().collect::<anyhow::Result<Vec<_>>>()?;
    Ok(Run {
        orders,
        elapsed: started.elapsed(),
        latencies,
    })
}

async fn run_single(
    client: &reqwest::Client,
    base: &str,
    orders: usize,
    concurrency: usize,
) -> anyhow::Result<Run> {
    let url = format!("{base}/v1/orders");
    let requests = (0..orders).map(|n| {
        let url = url.clone();
        async move {
            let (status, body) = post(client, &url, &order_body(n, Utc::now())).await?;
            ensure!(status == 202, "single order answered {status}: {body}");
            Ok(())
        }
    });
    timed(orders, concurrency, requests).await
}

async fn run_batches(
    client: &reqwest::Client,
    base: &str,
    orders: usize,
    batch: usize,
    concurrency: usize,
) -> anyhow::Result<Run> {
    let url = format!("{base}/v1/orders/batch");
    let batches: Vec<Vec<Value>> = (0..orders)
        .map(|n| order_body(orders + n, Utc::now()))
        .collect::<Vec<_>>()
        .chunks(batch)
        .map(<[Value]>::to_vec)
        .collect();
    let requests = batches.into_iter().map(|chunk| {
        let url = url.clone();
        async move {
            let (status, body) = post(client, &url, &Value::Array(chunk.clone())).await?;
            ensure!(
                status == 200 && body["accepted"] == chunk.len(),
                "batch answered {status}: {body}"
            );
            Ok(())
        }
    });
    timed(orders, concurrency, requests).await
}

/// Starts ingest-api in this process on `kafka`; its base URL.
async fn in_process(kafka: &TestKafka) -> anyhow::Result<String> {
    let bootstrap = kafka.bootstrap_servers().to_string();
    let env = vec![
        ("INGEST_LISTEN_ADDR", "127.0.0.1:0"),
        ("KAFKA_BOOTSTRAP_SERVERS", bootstrap.as_str()),
        ("INGEST_API_KEYS", KEY),
        ("KAFKA_ADMIN_TIMEOUT_MS", "1000"),
        ("INGEST_BODY_LIMIT_BYTES", "4194304"),
    ];
    let config = IngestConfig::from_settings(&Settings::new(&env))?;
    let app = Application::build(config).await?;
    let base = format!("http://{}", app.local_addr());
    tokio::spawn(app.run(std::future::pending()));
    Ok(base)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let settings = Settings::new(&ProcessEnv);
    let orders = settings.bounded("BENCH_ORDERS", 20_000, 100, 10_000_000)? as usize;
    let concurrency = settings.bounded("BENCH_CONCURRENCY", 64, 1, 4096)? as usize;
    let batch = settings.bounded("BENCH_BATCH", 500, 1, 1000)? as usize;
    let only = settings.choice("BENCH_ONLY", "both", &["both", "single", "batch"])?;

    // INGEST_URL names a running ingest-api (a release binary to compare with another, say)
    // that accepts the bench's key; otherwise one is started in this process.
    let (base, kafka) = match std::env::var("INGEST_URL") {
        Ok(url) => (url, None),
        Err(_) => {
            let kafka = TestKafka::start();
            kafka.create_topic("Order", 6).await;
            (in_process(&kafka).await?, Some(kafka))
        }
    };
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .build()?;
    test_support::wait_until_ok(&format!("{base}/ready"), Duration::from_secs(30))
        .await
        .map_err(anyhow::Error::msg)?;

    println!("ingest-bench: {orders} orders per run, {concurrency} concurrent single posts, batches of {batch} x 4 concurrent");
    match &kafka {
        Some(kafka) if kafka.mock().is_some() => {
            println!("kafka: librdkafka mock cluster (in-process)")
        }
        Some(kafka) => println!("kafka: {}", kafka.bootstrap_servers()),
        None => println!("ingest-api: {base}"),
    }
    run_single(&client, &base, orders.min(2_000), concurrency)
        .await
        .context("warm-up")?;
    if only != "batch" {
        let single = run_single(&client, &base, orders, concurrency)
            .await
            .context("single orders")?;
        single.print("POST /v1/orders");
    }
    if only != "single" {
        let batches = run_batches(&client, &base, orders, batch, 4)
            .await
            .context("batches")?;
        batches.print("POST /v1/orders/batch");
    }
    Ok(())
}
