//! freshness-bench: end-to-end freshness at a steady request rate. Posts `BENCH_RATE` orders per
//! second (default 1000, in batches of 50 every 50 ms) to ingest-api for `BENCH_SECONDS` (default
//! 30), with stream-job writing both stores, then reads stream-job's freshness histogram: now
//! minus ingested_at at the moment the window recompute covering the order completed.
//! Run with `cargo run --release -p bench --bin freshness-bench`.

use std::time::{Duration, Instant};

use anyhow::ensure;
use bench::{histogram_quantile, metric, order_body};
use chrono::Utc;
use ingest_api::configuration::IngestConfig;
use ingest_api::startup::Application;
use serde_json::Value;
use service_runtime::settings::{ProcessEnv, Settings};
use stream_job::startup::StreamJob;

const KEY: &str = "bench-key-0123456789";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let settings = Settings::new(&ProcessEnv);
    let rate = settings.bounded("BENCH_RATE", 1_000, 20, 100_000)? as usize;
    let seconds = settings.bounded("BENCH_SECONDS", 30, 5, 3_600)?;
    let stores = bench::stores().await;

    let env = stores.env(&[
        ("INGEST_LISTEN_ADDR", "127.0.0.1:0"),
        ("INGEST_API_KEYS", KEY),
        ("KAFKA_ADMIN_TIMEOUT_MS", "1000"),
    ]);
    let app = Application::build(IngestConfig::from_settings(&Settings::new(&env))?).await?;
    let base = format!("http://{}", app.local_addr());
    tokio::spawn(app.run(std::future::pending()));
    let group = test_support::unique_name("freshness-bench");
    let job = StreamJob::start(bench::job_config(&stores, &group, &[])?).await?;
    let client = reqwest::Client::new();
    test_support::wait_until_ok(&format!("{base}/ready"), Duration::from_secs(30))
        .await
        .map_err(anyhow::Error::msg)?;

    // Steady load: one batch every tick, each sent without waiting for the previous one.
    let tick = Duration::from_millis(50);
    let per_tick = (rate * tick.as_millis() as usize / 1000).max(1);
    let ticks = seconds as usize * 1000 / tick.as_millis() as usize;
    let mut interval = tokio::time::interval(tick);
    let mut sent = Vec::new();
    let started = Instant::now();
    for t in 0..ticks {
        interval.tick().await;
        let batch: Vec<Value> = (0..per_tick)
            .map(|i| order_body(t * per_tick + i, Utc::now()))
            .collect();
        let request = client
            .post(format!("{base}/v1/orders/batch"))
            .bearer_auth(KEY)
            .json(&batch)
            .send();
        sent.push(tokio::spawn(async move {
            let reply: Value = request.await.ok()?.json().await.ok()?;
            reply["accepted"].as_u64()
        }));
    }
    let offered = started.elapsed();
    let mut accepted = 0;
    for handle in sent {
        accepted += handle.await?.unwrap_or(0);
    }
    let total = (ticks * per_tick) as u64;
    ensure!(
        accepted == total,
        "only {accepted} of {total} orders were accepted"
    );
    let deadline = Instant::now() + Duration::from_secs(120);
    while stores.kafka.committed_total(&group, &stores.topic) < total as i64 {
        ensure!(Instant::now() < deadline, "the job did not catch up");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let text = reqwest::get(format!("http://{}/metrics", job.admin_addr()))
        .await?
        .text()
        .await?;
    job.shutdown().await?;
    let name = "stream_job_freshness_seconds";
    let p = |q| {
        histogram_quantile(&text, name, q)
            .map_or("n/a".to_string(), |s| format!("{:.0} ms", s * 1e3))
    };
    println!(
        "freshness-bench: {total} orders at {:.0} orders/s for {:.1} s (batches of {per_tick} every {} ms), flush interval 1 s, 60 s windows",
        total as f64 / offered.as_secs_f64(),
        offered.as_secs_f64(),
        tick.as_millis()
    );
    println!(
        "end-to-end freshness (ingested -> window recomputed): p50 {}  p95 {}  p99 {}  ({} orders timed; histogram steps of 25%)",
        p(0.50),
        p(0.95),
        p(0.99),
        metric(&text, &format!("{name}_count"))
    );
    Ok(())
}
