//! serving-bench: latency of the order look-up and the sales summary under a steady request
//! rate. Loads `BENCH_ORDERS` orders (default 5000) through stream-job into the stand-ins, starts
//! serving, then sends `BENCH_RATE` requests per second (default 200) of each kind for
//! `BENCH_SECONDS` (default 10) and prints client-side p50/p99.
//! Run with `cargo run --release -p bench --bin serving-bench`.

use std::time::{Duration, Instant};

use anyhow::ensure;
use chrono::Utc;
use service_runtime::settings::{ProcessEnv, Settings};
use serving::configuration::ServingConfig;
use serving::startup::Application;
use stream_job::startup::StreamJob;

const KEY: &str = "bench-key-0123456789";

async fn steady(
    client: &reqwest::Client,
    urls: Vec<String>,
    rate: usize,
    seconds: u64,
) -> anyhow::Result<Vec<Duration>> {
    let tick = Duration::from_secs(1) / rate as u32;
    let mut interval = tokio::time::interval(tick);
    let mut handles = Vec::new();
    for n in 0..rate * seconds as usize {
        interval.tick().await;
        let request = client.get(&urls[n % urls.len()]).bearer_auth(KEY).send();
        handles.push(tokio::spawn(async move {
            let started = Instant::now();
            let status = request.await.map(|r| r.status().as_u16()).unwrap_or(0);
            (status, started.elapsed())
        }));
    }
    let mut latencies = Vec::new();
    for handle in handles {
        let (status, latency) = handle.await?;
        ensure!(status == 200, "a request answered {status}");
        latencies.push(latency);
    }
    latencies.sort();
    Ok(latencies)
}

fn print(name: &str, latencies: &[Duration]) {
    let pct = |p: f64| {
        latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)].as_secs_f64()
            * 1e3
    };
    println!(
        "{name:<28} {:>6} requests   p50 {:>7.2} ms   p99 {:>7.2} ms",
        latencies.len(),
        pct(0.50),
        pct(0.99)
    );
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let settings = Settings::new(&ProcessEnv);
    let orders = settings.bounded("BENCH_ORDERS", 5_000, 10, 1_000_000)? as usize;
    let rate = settings.bounded("BENCH_RATE", 200, 1, 10_000)? as usize;
    let seconds = settings.bounded("BENCH_SECONDS", 10, 1, 600)?;
    let stores = bench::stores().await;
    bench::preload(&stores, orders).await?;
    let now = Utc::now();
    let group = test_support::unique_name("serving-bench");
    let job = StreamJob::start(bench::job_config(&stores, &group, &[])?).await?;
    let deadline = Instant::now() + Duration::from_secs(300);
    while stores.kafka.committed_total(&group, &stores.topic) < orders as i64 {
        ensure!(
            Instant::now() < deadline,
            "stream-job did not load the orders"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    job.shutdown().await?;

    let env = stores.env(&[
        ("SERVING_LISTEN_ADDR", "127.0.0.1:0"),
        ("SERVING_API_KEYS", KEY),
    ]);
    let app = Application::build(ServingConfig::from_settings(&Settings::new(&env))?).await?;
    let base = format!("http://{}", app.local_addr());
    anyhow::ensure!(
        app.cassandra()
            .reached_within(Duration::from_secs(30))
            .await,
        "serving did not reach Cassandra"
    );
    tokio::spawn(app.run(std::future::pending()));
    let client = reqwest::Client::new();
    let lookups: Vec<String> = (0..orders)
        .step_by(7)
        .map(|n| format!("{base}/v1/orders/bench-{}-{n}", std::process::id()))
        .collect();
    let from = (now - chrono::Duration::hours(2)).format("%Y-%m-%dT%H:%M:%SZ");
    let to = (now + chrono::Duration::minutes(5)).format("%Y-%m-%dT%H:%M:%SZ");
    let summaries: Vec<String> = ["store", "region", "minute", "hour"]
        .iter()
        .map(|g| format!("{base}/v1/sales/summary?from={from}&to={to}&group_by={g}"))
        .collect();
    let lookup = steady(&client, lookups, rate, seconds).await?;
    let summary = steady(&client, summaries, rate, seconds).await?;
    println!("serving-bench: {orders} orders loaded; {rate} requests/s of each kind for {seconds} s (kassandra, clickhouse-server 18.16)");
    print("GET /v1/orders/{id}", &lookup);
    print("GET /v1/sales/summary", &summary);
    Ok(())
}
