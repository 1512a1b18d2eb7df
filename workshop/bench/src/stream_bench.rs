//! stream-bench: how fast stream-job moves orders from Kafka into both sinks (Cassandra raw
//! orders, ClickHouse facts and recomputed windows), through test-servers' Kafka and Cassandra
//! unless the environment names real services. Run with
//! `cargo run --release -p bench --bin stream-bench`.
//!
//! Pre-loads `BENCH_ORDERS` envelopes spread over the last hour, starts the job's pipeline, and
//! times from its first write until the last offset is committed (which happens only once every
//! order is in the sinks and its windows are recomputed). `BENCH_SINKS` picks the sinks: `both`
//! (the job as it runs), `cassandra` or `clickhouse` alone, so each store's share of the time is
//! visible. The last line is the result as JSON, for `bench-run`.

use std::time::{Duration, Instant};

use anyhow::{ensure, Context};
use bench::metric;
use service_runtime::settings::{ProcessEnv, Settings};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let settings = Settings::new(&ProcessEnv);
    let orders = settings.bounded("BENCH_ORDERS", 20_000, 100, 10_000_000)? as usize;
    let concurrency = settings.string("CASSANDRA_CONCURRENCY", "64");
    let sinks = settings.choice("BENCH_SINKS", "both", &["both", "cassandra", "clickhouse"])?;

    let stores = bench::stores().await;
    bench::preload(&stores, orders)
        .await
        .context("pre-load the topic")?;

    let group = test_support::unique_name("stream-bench");
    let config = bench::job_config(
        &stores,
        &group,
        &[("CASSANDRA_CONCURRENCY", concurrency.as_str())],
    )?;
    let job = bench::SinkJob::start(&config, &sinks).await?;
    let metrics_url = format!("http://{}/metrics", job.admin);
    let first_write = if sinks == "clickhouse" {
        "stream_job_written_total{table=\"order_facts\"}"
    } else {
        "stream_job_written_total{table=\"orders_by_id\"}"
    };
    let written = || async {
        let text = reqwest::get(&metrics_url).await.ok()?.text().await.ok()?;
        Some(metric(&text, first_write))
    };
    let deadline = Instant::now() + Duration::from_secs(600);
    while written().await.unwrap_or(0.0) == 0.0 {
        ensure!(Instant::now() < deadline, "the job never wrote");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Markers on stdout (a line each, flushed) for a profiler that wants the timed part alone.
    println!("timed part: started");
    let started = Instant::now();
    while stores.kafka.committed_total(&group, &stores.topic) < orders as i64 {
        ensure!(Instant::now() < deadline, "the job did not finish in time");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let elapsed = started.elapsed();
    println!("timed part: ended");
    let text = reqwest::get(&metrics_url).await?.text().await?;
    job.stop().await?;
    let per_second = orders as f64 / elapsed.as_secs_f64();
    let mean_flush_ms =
        1e3 * metric(
            &text,
            "stream_job_flush_latency_seconds_sum{sink=\"clickhouse\"}",
        ) / metric(
            &text,
            "stream_job_flush_latency_seconds_count{sink=\"clickhouse\"}",
        )
        .max(1.0);
    println!("stream-bench: {orders} orders over 60 windows x 50 stores, Cassandra concurrency {concurrency}, sinks: {sinks}");
    println!(
        "Kafka -> {}: {:.2} s = {per_second:.0} orders/s",
        match sinks.as_str() {
            "cassandra" => "Cassandra (4 tables)",
            "clickhouse" => "ClickHouse (facts, lines, windows)",
            _ => "Cassandra (4 tables) + ClickHouse (facts, lines, windows)",
        },
        elapsed.as_secs_f64(),
    );
    println!(
        "windows recomputed: {}, flushes: {}, mean flush {:.1} ms",
        metric(&text, "stream_job_windows_recomputed_total"),
        metric(
            &text,
            "stream_job_flush_latency_seconds_count{sink=\"clickhouse\"}"
        ),
        mean_flush_ms
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
        stores.kafka.bootstrap_servers(),
        stores.cassandra.contact_point(),
        stores.clickhouse.engine().describe()
    );
    println!(
        "RESULT {}",
        serde_json::json!({
            "sinks": sinks,
            "orders": orders,
            "orders_per_second": per_second,
            "mean_flush_ms": (sinks != "cassandra").then_some(mean_flush_ms),
        })
    );
    Ok(())
}
