//! stream-bench: how fast stream-job moves orders from Kafka into both sinks (Cassandra raw
//! orders, ClickHouse facts and recomputed windows), through the stand-ins unless the environment
//! names real services. Run with `cargo run --release -p bench --bin stream-bench`.
//!
//! Pre-loads `BENCH_ORDERS` envelopes spread over the last hour, starts the job, and times from
//! its first write until the last offset is committed (which happens only once every order is in
//! both stores and its windows are recomputed).

use std::time::{Duration, Instant};

use anyhow::{ensure, Context};
use bench::metric;
use service_runtime::settings::{ProcessEnv, Settings};
use stream_job::startup::StreamJob;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let settings = Settings::new(&ProcessEnv);
    let orders = settings.bounded("BENCH_ORDERS", 20_000, 100, 10_000_000)? as usize;
    let concurrency = settings.string("CASSANDRA_CONCURRENCY", "64");

    let stores = bench::stores().await;
    bench::preload(&stores, orders)
        .await
        .context("pre-load the topic")?;

    let group = test_support::unique_name("stream-bench");
    let job = StreamJob::start(bench::job_config(
        &stores,
        &group,
        &[("CASSANDRA_CONCURRENCY", concurrency.as_str())],
    )?)
    .await?;
    let metrics_url = format!("http://{}/metrics", job.admin_addr());
    let written = || async {
        let text = reqwest::get(&metrics_url).await.ok()?.text().await.ok()?;
        Some(metric(
            &text,
            "stream_job_written_total{table=\"orders_by_id\"}",
        ))
    };
    let deadline = Instant::now() + Duration::from_secs(600);
    while written().await.unwrap_or(0.0) == 0.0 {
        ensure!(Instant::now() < deadline, "the job never wrote");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let started = Instant::now();
    while stores.kafka.committed_total(&group, &stores.topic) < orders as i64 {
        ensure!(Instant::now() < deadline, "the job did not finish in time");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let elapsed = started.elapsed();
    let text = reqwest::get(&metrics_url).await?.text().await?;
    job.shutdown().await?;
    println!("stream-bench: {orders} orders over 60 windows x 50 stores, Cassandra concurrency {concurrency}");
    println!(
        "Kafka -> Cassandra (4 tables) + ClickHouse (facts, lines, windows): {:.2} s = {:.0} orders/s",
        elapsed.as_secs_f64(),
        orders as f64 / elapsed.as_secs_f64()
    );
    println!(
        "windows recomputed: {}, flushes: {}, mean flush {:.1} ms",
        metric(&text, "stream_job_windows_recomputed_total"),
        metric(
            &text,
            "stream_job_flush_latency_seconds_count{sink=\"clickhouse\"}"
        ),
        1e3 * metric(
            &text,
            "stream_job_flush_latency_seconds_sum{sink=\"clickhouse\"}"
        ) / metric(
            &text,
            "stream_job_flush_latency_seconds_count{sink=\"clickhouse\"}"
        )
        .max(1.0)
    );
    let checking = metric(&text, "stream_job_conflict_check_seconds_sum");
    let writing = metric(
        &text,
        "stream_job_sink_latency_seconds_sum{sink=\"cassandra\"}",
    );
    println!(
        "conflicting-duplicate check (a Cassandra read per order id, before the writes): {:.2} s = {:.0}% of the run; Cassandra writes {:.2} s",
        checking,
        100.0 * checking / elapsed.as_secs_f64(),
        writing
    );
    println!(
        "stores: Kafka {}, Cassandra {}, ClickHouse {}",
        if stores.kafka.mock().is_some() {
            "mock cluster"
        } else {
            "real"
        },
        if stores.cassandra.is_standin() {
            "kassandra"
        } else {
            "real"
        },
        stores.clickhouse.engine().describe()
    );
    Ok(())
}
