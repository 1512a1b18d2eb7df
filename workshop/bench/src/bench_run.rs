//! bench-run: every comparison of the benchmark report, measured in one run on one machine so the
//! ratios mean something on a shared, noisy box. `workshop/bench/run` builds the release binaries and calls
//! it; it writes a dated markdown report.
//!
//! 1. ingest-api, single-order POSTs: saturation, and p99 at fixed 1k and 5k orders/s;
//! 2. the reference ingest (FastAPI + pydantic + kafka-python 2.0.2) under the same load tool,
//!    broker and order bodies;
//! 3. ingest-api's batch endpoint at 10, 100 and 1000 orders per request;
//! 4. a raw librdkafka producer with ingest-api's producer settings: the physical limit;
//! 5. stream-job through both sinks and through each alone (`stream-bench`);
//! 6. end-to-end freshness at a steady 1,000 orders/s, and 7. each service's peak RSS meanwhile;
//! 8. serving's reads (`serving-bench`).
//!
//! The load tool is loadgen for both ingests: same orders (valid only, no refunds, no retries),
//! same concurrency, same loopback.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use bench::{histogram_quantile, metric};
use futures::stream::{self, StreamExt};
use loadgen::catalog::{Catalog, PRICE_LIST, SEED_STORES};
use loadgen::run::{Curve, RunConfig};
use loadgen::stats::Summary;
use loadgen::traffic::{Mix, Traffic};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::ClientConfig;
use service_runtime::SecretString;
use test_support::kafka::TestKafka;
use test_support::service::{free_local_addr, peak_rss_mib, sibling, Service};
use test_support::stores::{repository_root, TestStores};
use tokio_util::sync::CancellationToken;

const KEY: &str = "bench-key-0123456789";
/// Requests in flight during saturation and fixed-rate runs.
const SATURATION_CONCURRENCY: usize = 128;

/// Only valid, on-time sales: the ingest benchmark measures the accept path, the same for both.
fn plain_traffic(seed: u64) -> anyhow::Result<Arc<Traffic>> {
    let catalog = Catalog::from_csv(SEED_STORES, PRICE_LIST, &["EUR".to_string()])?;
    let mix = Mix {
        retry: 0.0,
        duplicate: 0.0,
        invalid: 0.0,
        late: 0.0,
        refund: 0.0,
        void: 0.0,
    };
    Ok(Arc::new(Traffic::new(
        seed,
        catalog,
        mix,
        "UTC".parse().map_err(|e| anyhow::anyhow!("{e}"))?,
    )))
}

/// One loadgen run against `url`.
async fn load(
    url: &str,
    seed: u64,
    rate: f64,
    count: Option<u64>,
    duration: Option<Duration>,
    concurrency: usize,
    batch: usize,
) -> anyhow::Result<Summary> {
    let config = RunConfig {
        base_url: url.to_string(),
        key: SecretString::from(KEY.to_string()),
        rate,
        count,
        duration,
        concurrency,
        batch,
        curve: Curve::Flat,
        record: None,
        resume: false,
        seed,
        request_timeout: Duration::from_secs(30),
        progress: false,
    };
    loadgen::run::run(
        plain_traffic(seed)?,
        config,
        CancellationToken::new(),
        CancellationToken::new(),
    )
    .await
}

/// Pre-serialised request bodies: `bodies` of `per_body` plain orders each (one order as an
/// object, more as an array for the batch route).
fn bodies(seed: u64, bodies: usize, per_body: usize) -> anyhow::Result<Vec<Vec<u8>>> {
    let traffic = plain_traffic(seed)?;
    let now = chrono::Utc::now();
    (0..bodies)
        .map(|b| {
            let orders: Vec<serde_json::Value> = (0..per_body)
                .map(|i| traffic.step((b * per_body + i) as u64, now).sale.body)
                .collect();
            Ok(if per_body == 1 {
                serde_json::to_vec(&orders[0])?
            } else {
                serde_json::to_vec(&orders)?
            })
        })
        .collect()
}

/// Saturation: `requests` POSTs of pre-serialised bodies to `url`, `concurrency` in flight, as
/// wrk would send them, so the client's cost per order is as small as it can be. Every answer
/// must be a 2xx.
async fn blast(
    url: &str,
    bodies: &[Vec<u8>],
    per_body: usize,
    concurrency: usize,
    requests: usize,
) -> anyhow::Result<Summary> {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .build()?;
    let stats = Arc::new(loadgen::stats::Stats::default());
    let started = Instant::now();
    let failures: usize = stream::iter(0..requests)
        .map(|n| {
            let (client, stats) = (client.clone(), stats.clone());
            let body = bodies[n % bodies.len()].clone();
            async move {
                let sent = Instant::now();
                let answer = client
                    .post(url)
                    .bearer_auth(KEY)
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await;
                let ok = match answer {
                    Ok(answer) => answer.status().is_success() && answer.bytes().await.is_ok(),
                    Err(_) => false,
                };
                stats.request(sent.elapsed());
                usize::from(!ok)
            }
        })
        .buffer_unordered(concurrency)
        .fold(0, |failed, f| async move { failed + f })
        .await;
    let seconds = started.elapsed().as_secs_f64();
    anyhow::ensure!(
        failures == 0,
        "{failures} of {requests} requests to {url} failed"
    );
    let mut summary = stats.summary();
    summary.orders_accepted = (requests * per_body) as u64;
    summary.orders_per_second = (requests * per_body) as f64 / seconds;
    summary.seconds = seconds;
    Ok(summary)
}

/// Saturation, then 1k/s and 5k/s offered by loadgen, against one ingest; the three summaries.
async fn ingest_series(
    url: &str,
    seed: u64,
    orders: u64,
    fixed_seconds: u64,
) -> anyhow::Result<[Summary; 3]> {
    let singles = bodies(seed, 10_000, 1)?;
    let route = format!("{url}/v1/orders");
    // Warm-up: connections, the producer, the allocator.
    blast(&route, &singles, 1, SATURATION_CONCURRENCY, 2_000).await?;
    let saturation = blast(&route, &singles, 1, SATURATION_CONCURRENCY, orders as usize).await?;
    let fixed = Some(Duration::from_secs(fixed_seconds));
    let at_1k = load(
        url,
        seed + 2,
        1_000.0,
        None,
        fixed,
        SATURATION_CONCURRENCY,
        1,
    )
    .await?;
    let at_5k = load(
        url,
        seed + 3,
        5_000.0,
        None,
        fixed,
        SATURATION_CONCURRENCY,
        1,
    )
    .await?;
    Ok([saturation, at_1k, at_5k])
}

/// The physical limit: the same envelopes through a bare librdkafka producer with ingest-api's
/// producer settings (idempotent, acks=all, lz4, linger 2 ms), as many in flight as it takes.
async fn raw_producer(kafka: &TestKafka, orders: usize) -> anyhow::Result<f64> {
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", kafka.bootstrap_servers())
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("compression.type", "lz4")
        .set("linger.ms", "2")
        .set("message.timeout.ms", "5000")
        .set("queue.buffering.max.messages", "100000")
        .create()?;
    let now = chrono::Utc::now();
    let payloads: Vec<(String, Vec<u8>)> = (0..orders)
        .map(|n| (format!("raw-{n}"), bench::envelope(n, now)))
        .collect();
    let started = Instant::now();
    let results: Vec<_> = stream::iter(&payloads)
        .map(|(key, payload)| {
            let producer = producer.clone();
            async move {
                producer
                    .send(
                        FutureRecord::to("Order").key(key).payload(payload),
                        Duration::from_secs(30),
                    )
                    .await
                    .map_err(|(e, _)| e)
            }
        })
        .buffer_unordered(10_000)
        .collect()
        .await;
    let elapsed = started.elapsed();
    anyhow::ensure!(
        results.iter().all(Result::is_ok),
        "the raw producer lost messages"
    );
    Ok(orders as f64 / elapsed.as_secs_f64())
}

/// A sub-benchmark binary's output, and its JSON result lines.
fn run_bench(
    binary: &str,
    env: &[(&str, &str)],
) -> anyhow::Result<(String, Vec<serde_json::Value>)> {
    let output = std::process::Command::new(sibling(binary)?)
        .envs(env.iter().copied())
        .env("RUST_LOG", "warn")
        .output()
        .with_context(|| format!("run {binary}"))?;
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    anyhow::ensure!(
        output.status.success(),
        "{binary} failed: {}\n{}",
        text,
        String::from_utf8_lossy(&output.stderr)
    );
    let results = text
        .lines()
        .filter_map(|l| l.strip_prefix("RESULT "))
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    Ok((text, results))
}

/// A service's environment from literal pairs.
fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(var, value)| (var.to_string(), value.to_string()))
        .collect()
}

fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .map_or("unknown CPU".to_string(), |m| m.trim().to_string());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let memory_gib = meminfo
        .lines()
        .find(|l| l.starts_with("MemTotal"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kib| kib.parse::<f64>().ok())
        .map_or(0.0, |kib| kib / 1024.0 / 1024.0);
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!("{cores} cores ({model}), {memory_gib:.1} GiB memory")
}

fn ms(value: f64) -> String {
    format!("{value:.1} ms")
}

struct Report {
    text: String,
    /// Rows of the targets table, which goes first.
    targets: Vec<String>,
}

impl Report {
    /// The report's title and what it ran on.
    fn start() -> Report {
        let commit = std::process::Command::new("git")
            .args(["rev-parse", "--short", "HEAD"])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_default();
        let mut report = Report {
            text: String::new(),
            targets: Vec::new(),
        };
        report.line(format!(
            "# Benchmark report, {}",
            chrono::Utc::now().format("%Y-%m-%d %H:%M UTC")
        ));
        report.line("");
        report.line(format!(
            "Commit `{commit}`, release builds, on {}. Servers: Apache Kafka and Apache Cassandra from Maven Central (test-servers), chdb behind our HTTP front. Everything below ran in this one run.",
            machine()
        ));
        report.line("");
        report
    }

    fn target(&mut self, figure: &str, target: &str, measured: String, met: bool) {
        self.targets.push(format!(
            "| {figure} | {target} | {measured} | {} |",
            if met { "met" } else { "**missed**" }
        ));
    }

    /// The report: the header, the targets table, then the sections.
    fn finish(&self) -> String {
        let split = self.text.find("\n## ").map_or(self.text.len(), |i| i + 1);
        let (header, body) = self.text.split_at(split);
        format!(
            "{header}## Targets\n\n| figure | target | measured | |\n| --- | --- | --- | --- |\n{}\n\n{body}",
            self.targets.join("\n")
        )
    }

    fn line(&mut self, line: impl AsRef<str>) {
        self.text.push_str(line.as_ref());
        self.text.push('\n');
        println!("{}", line.as_ref());
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    if std::env::var_os("RUST_LOG").is_none() {
        std::env::set_var("RUST_LOG", "warn,scylla=off");
    }
    service_runtime::telemetry::init("text");
    let out: PathBuf = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| repository_root().join("workshop/bench/reports/latest.md"));
    let logs = repository_root().join("target/bench-run");
    std::fs::create_dir_all(&logs)?;
    let quick = std::env::var("BENCH_QUICK").is_ok_and(|v| v == "1");
    let started = Instant::now();
    let mut report = Report::start();
    let ingest = measure_ingest(&logs, quick).await?;
    ingest.write(&mut report);
    stream_job(&mut report, quick)?;
    end_to_end(&mut report, &logs, quick).await?;
    serving(&mut report, quick)?;
    report.line(format!(
        "The whole run took {:.0} s.",
        started.elapsed().as_secs_f64()
    ));
    if let Some(parent) = out.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(&out, report.finish()).with_context(|| format!("write {}", out.display()))?;
    println!("\nreport written to {}", out.display());
    Ok(())
}

/// What the ingest comparison measured: ours and the reference (saturation, then 1k and 5k
/// orders/s offered), our batch endpoint per batch size, and the raw producer's orders/s.
struct IngestFigures {
    ours: [Summary; 3],
    theirs: [Summary; 3],
    batches: Vec<(usize, Summary)>,
    raw: f64,
}

/// 1–4: the ingest side, against the Kafka broker alone.
async fn measure_ingest(logs: &Path, quick: bool) -> anyhow::Result<IngestFigures> {
    let (orders, fixed_seconds) = if quick { (5_000, 5) } else { (40_000, 15) };
    let kafka = TestKafka::start();
    kafka.create_topic("Order", 6).await;
    kafka.create_topic("Order.dlq", 1).await;
    let ingest_addr = free_local_addr()?;
    let mut ingest = Service::new(
        "ingest-api",
        &[],
        env(&[
            ("KAFKA_BOOTSTRAP_SERVERS", kafka.bootstrap_servers()),
            ("INGEST_LISTEN_ADDR", &ingest_addr),
            ("INGEST_API_KEYS", KEY),
            ("INGEST_RATE_LIMIT_PER_KEY", "1000000"),
            ("RUST_LOG", "warn"),
        ]),
        logs,
        format!("http://{ingest_addr}/health"),
    )?;
    ingest.start().await?;
    let ours_url = format!("http://{ingest_addr}");
    let ours = ingest_series(&ours_url, 1, orders, fixed_seconds).await?;
    let mut batches = Vec::new();
    for size in [10usize, 100, 1000] {
        let batch_bodies = bodies(10 + size as u64, (100_000 / size).clamp(20, 1_000), size)?;
        let requests = ((orders as usize * 4) / size).max(100);
        let route = format!("{ours_url}/v1/orders/batch");
        batches.push((size, blast(&route, &batch_bodies, size, 8, requests).await?));
    }
    ingest.terminate(Duration::from_secs(30)).await?;

    let reference_addr = free_local_addr()?;
    let mut reference = Service::at(
        "reference-ingest",
        repository_root().join("workshop/bench/reference-ingest/run"),
        &[],
        env(&[
            ("KAFKA_BOOTSTRAP_SERVERS", kafka.bootstrap_servers()),
            ("REFERENCE_ADDR", &reference_addr),
            ("REFERENCE_API_KEY", KEY),
        ]),
        logs,
        format!("http://{reference_addr}/health"),
    );
    reference.start().await?;
    let theirs = ingest_series(
        &format!("http://{reference_addr}"),
        20,
        orders / 4,
        fixed_seconds,
    )
    .await?;
    reference.terminate(Duration::from_secs(30)).await?;
    let raw = raw_producer(&kafka, (orders * 5) as usize).await?;
    drop(kafka);

    Ok(IngestFigures {
        ours,
        theirs,
        batches,
        raw,
    })
}

impl IngestFigures {
    fn write(&self, report: &mut Report) {
        let IngestFigures {
            ours,
            theirs,
            batches,
            raw,
        } = self;
        let raw = *raw;
        let ratio = ours[0].orders_per_second / theirs[0].orders_per_second.max(1.0);
        report.line("## Ingest: ours beside the reference");
        report.line("");
        report.line(format!(
            "Load tools, the same for both: saturation is 10,000 pre-serialised valid orders POSTed over and over with {SATURATION_CONCURRENCY} in flight (as wrk would; the client's cost per order is as small as it gets); the fixed rates are loadgen generating valid orders at 1,000 and 5,000 per second with up to {SATURATION_CONCURRENCY} in flight, all on loopback. The reference is `workshop/bench/reference-ingest` (FastAPI + pydantic + kafka-python 2.0.2, float money, `send()` without waiting for the ack, 2 uvicorn workers) on the same broker."
        ));
        report.line("");
        report.line("| ingest | orders | throughput | p50 | p99 | p99 at 1k/s offered (achieved) | p99 at 5k/s offered (achieved) |");
        report.line("| --- | --- | --- | --- | --- | --- | --- |");
        for (name, series) in [
            ("ingest-api (ours)", &ours),
            ("reference (FastAPI, kafka-python)", &theirs),
        ] {
            report.line(format!(
                "| {name} | {} | {:.0} orders/s | {} | {} | {} ({:.0}/s) | {} ({:.0}/s) |",
                series[0].orders_accepted,
                series[0].orders_per_second,
                ms(series[0].latency_ms_p50),
                ms(series[0].latency_ms_p99),
                ms(series[1].latency_ms_p99),
                series[1].orders_per_second,
                ms(series[2].latency_ms_p99),
                series[2].orders_per_second,
            ));
        }
        report.line("");
        report.line(format!(
            "**Single-order throughput: {ratio:.1}× the reference's**, p99 {} against {} (target: ≥ 12×, lower p99). The reference answers before Kafka has the order; ours only after `acks=all`.",
            ms(ours[0].latency_ms_p99),
            ms(theirs[0].latency_ms_p99)
        ));
        report.target(
            "single-order ingest vs the reference",
            "≥ 12× its throughput, lower p99",
            format!(
                "{ratio:.1}× ({:.0} vs {:.0} orders/s); p99 {} vs {}",
                ours[0].orders_per_second,
                theirs[0].orders_per_second,
                ms(ours[0].latency_ms_p99),
                ms(theirs[0].latency_ms_p99)
            ),
            ratio >= 12.0 && ours[0].latency_ms_p99 < theirs[0].latency_ms_p99,
        );
        if let Some((_, thousand)) = batches.last() {
            let share = thousand.orders_per_second / raw;
            report.target(
                "batch ingest (1000) vs the raw producer",
                "≥ 50%",
                format!(
                    "{:.0}% ({:.0} vs {raw:.0} orders/s)",
                    100.0 * share,
                    thousand.orders_per_second
                ),
                share >= 0.6,
            );
        }
        report.line("");
        report.line("## Batch endpoint and the physical limit");
        report.line("");
        report.line(format!("Raw librdkafka producer, same envelopes and producer settings, 10,000 in flight: **{raw:.0} orders/s**."));
        report.line("");
        report.line(
            "| mode | orders | throughput | share of the raw producer | request p50 | request p99 |",
        );
        report.line("| --- | --- | --- | --- | --- | --- |");
        report.line(format!(
            "| single POSTs | {} | {:.0} orders/s | {:.0}% | {} | {} |",
            ours[0].orders_accepted,
            ours[0].orders_per_second,
            100.0 * ours[0].orders_per_second / raw,
            ms(ours[0].latency_ms_p50),
            ms(ours[0].latency_ms_p99)
        ));
        for (size, summary) in batches.iter() {
            report.line(format!(
                "| batches of {size} | {} | {:.0} orders/s | {:.0}% | {} | {} |",
                summary.orders_accepted,
                summary.orders_per_second,
                100.0 * summary.orders_per_second / raw,
                ms(summary.latency_ms_p50),
                ms(summary.latency_ms_p99)
            ));
        }
        report.line("");
    }
}

/// 5: stream-job through both sinks and each alone.
fn stream_job(report: &mut Report, quick: bool) -> anyhow::Result<()> {
    report.line("## stream-job");
    report.line("");
    report.line(
        "Pre-loaded topic, timed from the first write to the last commit (windows recomputed), after a warm-up of 5,000 orders that is not reported.",
    );
    report.line("");
    report.line("| sinks | orders | throughput | mean ClickHouse flush |");
    report.line("| --- | --- | --- | --- |");
    let stream_orders = if quick { "5000" } else { "20000" };
    // The first heavy use of the Cassandra node in the run: a warm-up (not reported) gets its JVM
    // compiled and its caches filled, as a node in service has them, before the figures.
    run_bench(
        "stream-bench",
        &[("BENCH_SINKS", "cassandra"), ("BENCH_ORDERS", "5000")],
    )?;
    let mut per_second = Vec::new();
    for sinks in ["both", "cassandra", "clickhouse"] {
        let (_, results) = run_bench(
            "stream-bench",
            &[("BENCH_SINKS", sinks), ("BENCH_ORDERS", stream_orders)],
        )?;
        for r in results {
            per_second.push(r["orders_per_second"].as_f64().unwrap_or(0.0));
            report.line(format!(
                "| {} | {} | {:.0} orders/s | {} |",
                r["sinks"].as_str().unwrap_or(sinks),
                r["orders"],
                r["orders_per_second"].as_f64().unwrap_or(0.0),
                r["mean_flush_ms"].as_f64().map_or("—".to_string(), ms)
            ));
        }
    }
    report.line("");
    if let [both, cassandra, clickhouse] = per_second[..] {
        report.target(
            "stream-job, both sinks, one member",
            "≥ 10,000 orders/s",
            format!(
                "{both:.0} orders/s (Cassandra alone {cassandra:.0}, ClickHouse alone {clickhouse:.0}); what bounds it: Profiles"
            ),
            both >= 10_000.0,
        );
    }
    Ok(())
}

/// The pipeline for the steady load: ingest-api, stream-job and serving on `stores`.
struct Pipeline {
    ingest: Service,
    job: Service,
    serving: Service,
    ingest_url: String,
    admin_addr: String,
    serving_addr: String,
}

async fn start_pipeline(stores: &TestStores, logs: &Path) -> anyhow::Result<Pipeline> {
    let ingest_addr = free_local_addr()?;
    let admin_addr = free_local_addr()?;
    let serving_addr = free_local_addr()?;
    let mut ingest_env = stores.env(&[("RUST_LOG", "warn")]);
    ingest_env.extend([
        ("INGEST_LISTEN_ADDR".into(), ingest_addr.clone()),
        ("INGEST_API_KEYS".into(), KEY.into()),
    ]);
    let job_env = stores.env(&[
        ("RUST_LOG", "warn"),
        ("STREAM_JOB_GROUP", "bench-run"),
        ("STREAM_JOB_ADMIN_ADDR", &admin_addr),
    ]);
    let serving_env = stores.env(&[
        ("RUST_LOG", "warn"),
        ("SERVING_LISTEN_ADDR", &serving_addr),
        ("SERVING_API_KEYS", KEY),
    ]);
    let mut ingest = Service::new(
        "ingest-api",
        &[],
        ingest_env,
        logs,
        format!("http://{ingest_addr}/health"),
    )?;
    let mut job = Service::new(
        "stream-job",
        &["run"],
        job_env,
        logs,
        format!("http://{admin_addr}/health"),
    )?;
    let mut serving = Service::new(
        "serving",
        &[],
        serving_env,
        logs,
        format!("http://{serving_addr}/health"),
    )?;
    ingest.start().await?;
    job.start().await?;
    serving.start().await?;
    Ok(Pipeline {
        ingest,
        job,
        serving,
        ingest_url: format!("http://{ingest_addr}"),
        admin_addr,
        serving_addr,
    })
}

/// 6–7: freshness and memory at a steady 1,000 orders/s through the whole pipeline, at the
/// default flush interval and a shorter one.
async fn end_to_end(report: &mut Report, logs: &Path, quick: bool) -> anyhow::Result<()> {
    let stores = TestStores::start(6).await;
    let Pipeline {
        mut ingest,
        mut job,
        mut serving,
        ingest_url,
        admin_addr,
        serving_addr,
    } = start_pipeline(&stores, logs).await?;
    warm_up(&ingest_url, &stores, 98).await?;
    let steady_seconds = if quick { 10 } else { 30 };
    // stream-job's default flush interval (other_flush_interval measures a shorter one).
    let job_flush_ms = 1_000;
    let reads = tokio::spawn(read_while(
        format!("http://{serving_addr}"),
        Duration::from_secs(steady_seconds),
    ));
    let steady = load(
        &ingest_url,
        30,
        1_000.0,
        None,
        Some(Duration::from_secs(steady_seconds)),
        SATURATION_CONCURRENCY,
        1,
    )
    .await?;
    let served = reads.await??;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let text = reqwest::get(format!("http://{admin_addr}/metrics"))
        .await?
        .text()
        .await?;
    let quantile = |q| histogram_quantile(&text, "stream_job_freshness_seconds", q);
    let freshness = |q| quantile(q).map_or("—".to_string(), |s| format!("{:.0} ms", s * 1e3));
    let p95 = quantile(0.95).unwrap_or(f64::INFINITY);
    report.target(
        "freshness p95 at 1k orders/s",
        "≤ 1 s",
        format!(
            "{} (p50 {}, p99 {})",
            freshness(0.95),
            freshness(0.5),
            freshness(0.99)
        ),
        p95 <= 1.0,
    );
    let peaks: Vec<(&str, Option<f64>)> = [
        ("ingest-api", &ingest),
        ("stream-job", &job),
        ("serving", &serving),
    ]
    .into_iter()
    .map(|(name, service)| (name, service.id().and_then(peak_rss_mib)))
    .collect();
    report.target(
        "peak RSS per service at 1k orders/s",
        "≤ 64 MB (61 MiB)",
        peaks
            .iter()
            .map(|(name, mib)| {
                format!(
                    "{name} {}",
                    mib.map_or("—".into(), |m| format!("{m:.1} MiB"))
                )
            })
            .collect::<Vec<_>>()
            .join(", "),
        peaks
            .iter()
            .all(|(_, mib)| mib.is_some_and(|m| m * 1_048_576.0 <= 64e6)),
    );
    let flushes = metric(
        &text,
        "stream_job_flush_latency_seconds_count{sink=\"clickhouse\"}",
    );
    let recomputed = metric(&text, "stream_job_windows_recomputed_total");
    report.line("## End to end at a steady 1,000 orders/s");
    report.line("");
    report.line(format!(
        "{steady_seconds} s of single-order POSTs ({:.0} orders/s achieved, request p99 {}), ingest-api → Kafka → stream-job → Cassandra + ClickHouse, while serving answered {served} reads.",
        steady.orders_per_second,
        ms(steady.latency_ms_p99)
    ));
    report.line("");
    report.line("| flush interval | freshness p50 | p95 | p99 | ClickHouse flushes/s | window recomputes/s |");
    report.line("| --- | --- | --- | --- | --- | --- |");
    report.line(format!(
        "| {} ms (default) | {} | {} | {} | {:.1} | {:.1} |",
        job_flush_ms,
        freshness(0.5),
        freshness(0.95),
        freshness(0.99),
        flushes / steady_seconds as f64,
        recomputed / steady_seconds as f64
    ));
    job.terminate(Duration::from_secs(30)).await?;
    other_flush_interval(report, &stores, logs, &ingest_url, quick).await?;
    report.line("");
    report.line("| service | peak RSS (VmHWM) |");
    report.line("| --- | --- |");
    for (name, mib) in &peaks {
        report.line(format!(
            "| {name} | {} |",
            mib.map_or("—".into(), |m| format!("{m:.1} MiB"))
        ));
    }
    report.line("");
    ingest.terminate(Duration::from_secs(30)).await?;
    serving.terminate(Duration::from_secs(30)).await?;
    drop(stores);

    Ok(())
}

/// The same load with a shorter flush interval: fresher windows for more ClickHouse work.
async fn other_flush_interval(
    report: &mut Report,
    stores: &TestStores,
    logs: &Path,
    ingest_url: &str,
    quick: bool,
) -> anyhow::Result<()> {
    let steady_seconds = if quick { 10 } else { 30 };
    let other_flush_ms = "250";
    let other_admin = free_local_addr()?;
    let mut other_job = Service::new(
        "stream-job",
        &["run"],
        stores.env(&[
            ("RUST_LOG", "warn"),
            ("STREAM_JOB_GROUP", "bench-run"),
            ("STREAM_JOB_ADMIN_ADDR", &other_admin),
            ("STREAM_JOB_FLUSH_INTERVAL_MS", other_flush_ms),
        ]),
        logs,
        format!("http://{other_admin}/health"),
    )?;
    other_job.start().await?;
    warm_up(ingest_url, stores, 99).await?;
    load(
        ingest_url,
        31,
        1_000.0,
        None,
        Some(Duration::from_secs(steady_seconds)),
        SATURATION_CONCURRENCY,
        1,
    )
    .await?;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let other = reqwest::get(format!("http://{other_admin}/metrics"))
        .await?
        .text()
        .await?;
    let other_quantile = |q| {
        histogram_quantile(&other, "stream_job_freshness_seconds", q)
            .map_or("—".to_string(), |s| format!("{:.0} ms", s * 1e3))
    };
    report.line(format!(
        "| {other_flush_ms} ms | {} | {} | {} | {:.1} | {:.1} |",
        other_quantile(0.5),
        other_quantile(0.95),
        other_quantile(0.99),
        metric(
            &other,
            "stream_job_flush_latency_seconds_count{sink=\"clickhouse\"}"
        ) / steady_seconds as f64,
        metric(&other, "stream_job_windows_recomputed_total") / steady_seconds as f64
    ));
    other_job.terminate(Duration::from_secs(30)).await?;
    Ok(())
}

/// 8: serving's reads (serving-bench).
fn serving(report: &mut Report, quick: bool) -> anyhow::Result<()> {
    report.line("## serving");
    report.line("");
    let (customer, store_day) = if quick {
        ("5000", "2000")
    } else {
        ("50000", "20000")
    };
    let seconds = if quick { "3" } else { "10" };
    let (text, results) = run_bench(
        "serving-bench",
        &[
            ("BENCH_CUSTOMER_HISTORY", customer),
            ("BENCH_STORE_DAY", store_day),
            ("BENCH_SECONDS", seconds),
        ],
    )?;
    let p99 = |prefix: &str| {
        results
            .iter()
            .filter(|r| r["read"].as_str().is_some_and(|n| n.starts_with(prefix)))
            .filter_map(|r| r["p99_ms"].as_f64())
            .collect::<Vec<f64>>()
    };
    let pages: Vec<f64> = [p99("store-day page"), p99("customer page")].concat();
    let worst = pages.iter().copied().fold(0.0, f64::max);
    let best = pages.iter().copied().fold(f64::INFINITY, f64::min);
    report.target(
        "serving page p99 with long histories",
        "≤ 10 ms, flat as history grows",
        format!(
            "worst {} (best {}) over short and long histories, first and 100th pages",
            ms(worst),
            ms(best)
        ),
        !pages.is_empty() && worst <= 10.0,
    );
    report.line("```");
    for line in text.lines().filter(|l| !l.starts_with("RESULT ")) {
        report.line(line);
    }
    report.line("```");
    report.line("");
    report.line("A store-day page is read on the server, in clustering order from the cursor; a customer page reads the months it spans.");
    report.line("");
    let floor = |prefix: &str| p99(prefix).first().copied();
    if let (Some(http), Some(store)) = (floor("floor: GET /health"), floor("floor: Cassandra read"))
    {
        report.line(format!(
            "**What bounds a page.** At the pages' rate in the same run, an answer that reads no store took p99 {}, and the store-day page's Cassandra read alone p99 {}: together {}. The worst page took {}, {} above them.",
            ms(http),
            ms(store),
            ms(http + store),
            ms(worst),
            ms(worst - http - store)
        ));
        report.line("");
    }
    Ok(())
}

/// A few orders through the whole pipeline, and the job caught up with them: it has joined its
/// group and connected to both stores before the measured load starts.
async fn warm_up(ingest: &str, stores: &TestStores, seed: u64) -> anyhow::Result<()> {
    load(ingest, seed, 100.0, Some(200), None, 8, 1).await?;
    stores
        .kafka
        .wait_caught_up("bench-run", &stores.topic, Duration::from_secs(120))
        .await
        .map_err(|e| anyhow::anyhow!("stream-job did not catch up with the warm-up: {e}"))?;
    Ok(())
}

/// Reads a page of serving's store-day listing five times a second for `span`, as people using
/// it would; how many answers were 2xx.
async fn read_while(base: String, span: Duration) -> anyhow::Result<u64> {
    let client = reqwest::Client::new();
    let until = Instant::now() + span;
    let mut reads = 0;
    let day = chrono::Utc::now().format("%Y-%m-%d").to_string();
    while Instant::now() < until {
        let answer = client
            .get(format!(
                "{base}/v1/stores/store-001/orders?date={day}&limit=50"
            ))
            .bearer_auth(KEY)
            .send()
            .await;
        if answer.is_ok_and(|a| a.status().is_success()) {
            reads += 1;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Ok(reads)
}
