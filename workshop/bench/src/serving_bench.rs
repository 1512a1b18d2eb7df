//! serving-bench: latency of serving's reads under a steady request rate. Loads `BENCH_ORDERS`
//! orders (default 5000) through stream-job into the run's servers, and into Cassandra alone
//! (the pages read nothing else) long histories: a customer with `BENCH_CUSTOMER_HISTORY` orders
//! (default 50,000) over two years and a store-day with `BENCH_STORE_DAY` orders (default
//! 20,000). Then sends `BENCH_RATE` order look-ups per second (default 200), and a tenth of that
//! of each other kind, for `BENCH_SECONDS` (default 10) and prints client-side p50/p99: look-ups,
//! summaries, and store-day and customer pages for a short and for the long history, first pages
//! and pages deep into it, so whether a page's cost depends on history shows. Last, two floors at
//! the pages' rate: `GET /health`, which reads no store, and the long store-day's first 51 rows
//! read straight from Cassandra, so a page's p99 can be set against what it cannot beat here.
//! Run with `cargo run --release -p bench --bin serving-bench`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::ensure;
use chrono::Utc;
use sales_stores::cassandra::CassandraConfig;
use service_runtime::settings::{ProcessEnv, Settings};
use serving::configuration::ServingConfig;
use serving::startup::Application;
use test_support::stores::TestStores;

const KEY: &str = "bench-key-0123456789";

/// Runs `op(n)` `rate` times a second for `seconds`, each started on time whether or not the
/// ones before it finished; each one's latency, sorted, and how many failed (the first failure is
/// printed).
async fn steady_with<F, Fut>(
    rate: usize,
    seconds: u64,
    op: F,
) -> anyhow::Result<(Vec<Duration>, usize)>
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = Result<(), String>> + Send + 'static,
{
    let tick = Duration::from_secs(1) / rate as u32;
    let mut interval = tokio::time::interval(tick);
    let mut handles = Vec::new();
    for n in 0..rate * seconds as usize {
        interval.tick().await;
        let attempt = op(n);
        handles.push(tokio::spawn(async move {
            let started = Instant::now();
            let outcome = attempt.await;
            (outcome, started.elapsed())
        }));
    }
    let mut latencies = Vec::new();
    let mut failed = 0usize;
    for handle in handles {
        let (outcome, latency) = handle.await?;
        if let Err(error) = outcome {
            failed += 1;
            if failed == 1 {
                eprintln!("serving-bench: {error}");
            }
        }
        latencies.push(latency);
    }
    latencies.sort();
    Ok((latencies, failed))
}

/// GETs of `urls`, in turn, at `rate` a second for `seconds`; a failure is an answer other than 200.
async fn steady(
    client: &reqwest::Client,
    urls: Vec<String>,
    rate: usize,
    seconds: u64,
) -> anyhow::Result<(Vec<Duration>, usize)> {
    steady_with(rate, seconds, |n| {
        let url = urls[n % urls.len()].clone();
        let request = client.get(&url).bearer_auth(KEY).send();
        async move {
            match request.await.map(|r| r.status().as_u16()) {
                Ok(200) => Ok(()),
                Ok(status) => Err(format!("{url} answered {status}")),
                Err(error) => Err(format!("{url}: {error}")),
            }
        }
    })
    .await
}

fn print(name: &str, latencies: &[Duration], failed: usize) {
    let pct = |p: f64| {
        latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)].as_secs_f64()
            * 1e3
    };
    println!(
        "{name:<44} {:>6} requests   p50 {:>8.2} ms   p99 {:>8.2} ms   not 200: {failed}",
        latencies.len(),
        pct(0.50),
        pct(0.99)
    );
    println!(
        "RESULT {}",
        serde_json::json!({"read": name, "p50_ms": pct(0.50), "p99_ms": pct(0.99), "failed": failed})
    );
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let settings = Settings::new(&ProcessEnv);
    let orders = settings.bounded("BENCH_ORDERS", 5_000, 10, 1_000_000)? as usize;
    let rate = settings.bounded("BENCH_RATE", 200, 1, 10_000)? as usize;
    let seconds = settings.bounded("BENCH_SECONDS", 10, 1, 600)?;
    let customer_history =
        settings.bounded("BENCH_CUSTOMER_HISTORY", 50_000, 0, 1_000_000)? as usize;
    let store_day = settings.bounded("BENCH_STORE_DAY", 20_000, 0, 1_000_000)? as usize;
    let stores = bench::stores().await;
    let now = Utc::now();
    // The recent orders go through the whole job (serving's summaries read ClickHouse); the long
    // histories, which only Cassandra's pages read, are loaded into Cassandra alone from a topic
    // of their own: recomputing two years of ClickHouse windows would take the load far past
    // what the pages need (a replay's ClickHouse budget is stream-bench's business).
    bench::preload(&stores, orders).await?;
    load(&stores, &stores.topic, orders, "both").await?;
    let history = format!("{}-history", stores.topic);
    stores.kafka.create_topic(&history, 6).await;
    stores
        .kafka
        .create_topic(&format!("{history}.dlq"), 1)
        .await;
    bench::preload_history(
        &stores,
        &history,
        "c-history",
        customer_history,
        "store-history",
        store_day,
    )
    .await?;
    load(&stores, &history, customer_history + store_day, "cassandra").await?;

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
    let today = now.date_naive();
    let history_day = today - chrono::Duration::days(7);
    let store_page = |store: &str, day: chrono::NaiveDate| {
        format!("{base}/v1/stores/{store}/orders?date={day}&limit=50")
    };
    let customer_page = |customer: &str| format!("{base}/v1/customers/{customer}/orders?limit=50");
    let mut kinds: Vec<(String, Vec<String>)> = vec![
        ("GET /v1/orders/{id}".into(), lookups),
        ("GET /v1/sales/summary".into(), summaries),
        (
            format!("store-day page, {} orders", orders / 50),
            vec![store_page("store-001", today)],
        ),
        (
            format!("customer page, {} orders", orders / 1000),
            vec![customer_page("c-1")],
        ),
    ];
    for (history, first) in [
        (store_day, store_page("store-history", history_day)),
        (customer_history, customer_page("c-history")),
    ] {
        if history == 0 {
            continue;
        }
        let what = if first.contains("/stores/") {
            "store-day"
        } else {
            "customer"
        };
        let depth = (history / 50 / 2).clamp(1, 100);
        let deep_page = deep(&client, &first, depth).await?;
        kinds.push((format!("{what} page, {history} orders"), vec![first]));
        kinds.push((
            format!("{what} page {depth} deep, {history} orders"),
            vec![deep_page],
        ));
    }
    println!("serving-bench: {orders} orders, a customer with {customer_history} over two years, a store-day with {store_day}; {rate} look-ups/s, {} summaries and pages/s of each kind, for {seconds} s (Cassandra {}, {})", (rate / 10).max(1), stores.cassandra.contact_point(), stores.clickhouse.engine().describe());
    // Look-ups at the full rate; summaries and pages at a tenth of it: a summary on the test
    // engine (chdb behind a one-process Python front) or a page of a long history takes long
    // enough that the full rate would only measure the queue.
    let page_rate = (rate / 10).max(1);
    for (n, (name, urls)) in kinds.into_iter().enumerate() {
        let rate = if n == 0 { rate } else { page_rate };
        let (latencies, failed) = steady(&client, urls, rate, seconds).await?;
        print(&name, &latencies, failed);
    }
    // What bounds a page on this machine, at the pages' rate: an answer that reads no store (the
    // HTTP client, serving's router and the runtime they share), and the store read alone (the
    // first page of the long store-day, straight from Cassandra on a session of its own).
    let (latencies, failed) =
        steady(&client, vec![format!("{base}/health")], page_rate, seconds).await?;
    print("floor: GET /health, no store read", &latencies, failed);
    if store_day > 0 {
        let env = stores.env(&[]);
        let cassandra = CassandraConfig::from_settings(&Settings::new(&env))?;
        let session = Arc::new(sales_stores::cassandra::connect(&cassandra).await?);
        let read = Arc::new(
            session
                .prepare(format!(
                    "SELECT * FROM {}.orders_by_store_day WHERE store_id = ? AND day = ? LIMIT 51",
                    stores.keyspace
                ))
                .await?,
        );
        let (latencies, failed) = steady_with(page_rate, seconds, |_| {
            let (read, session) = (read.clone(), session.clone());
            async move {
                let result = session
                    .execute_unpaged(&read, ("store-history", history_day))
                    .await
                    .map_err(|e| e.to_string())?;
                let rows = result.into_rows_result().map_err(|e| e.to_string())?;
                match rows.rows_num() {
                    51 => Ok(()),
                    n => Err(format!("the store-day read answered {n} rows, not 51")),
                }
            }
        })
        .await?;
        print(
            "floor: Cassandra read of a page's 51 rows",
            &latencies,
            failed,
        );
    }
    Ok(())
}

/// Runs stream-job's pipeline with `sinks` over `topic` until it committed `total` orders.
async fn load(stores: &TestStores, topic: &str, total: usize, sinks: &str) -> anyhow::Result<()> {
    if total == 0 {
        return Ok(());
    }
    let group = test_support::unique_name("serving-bench");
    let dlq = format!("{topic}.dlq");
    let config = bench::job_config(
        stores,
        &group,
        &[("KAFKA_TOPIC", topic), ("KAFKA_DLQ_TOPIC", &dlq)],
    )?;
    let job = bench::SinkJob::start(&config, sinks).await?;
    // One member loads somewhat over 1,000 orders/s into both stores on Apache Cassandra; a
    // tenth of that leaves room for a busy machine.
    let started = Instant::now();
    let deadline = started + Duration::from_secs(120 + total as u64 / 100);
    while stores.kafka.committed_total(&group, topic) < total as i64 {
        ensure!(
            Instant::now() < deadline,
            "stream-job ({sinks}) did not load the {total} orders of {topic} within {} s ({} committed)",
            started.elapsed().as_secs(),
            stores.kafka.committed_total(&group, topic)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    job.stop().await?;
    println!(
        "serving-bench: stream-job ({sinks}) loaded {total} orders in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The URL of page `pages` of a paged listing (following `next_page` tokens).
async fn deep(client: &reqwest::Client, first: &str, pages: usize) -> anyhow::Result<String> {
    let mut url = first.to_string();
    for _ in 0..pages {
        let body: serde_json::Value = client
            .get(&url)
            .bearer_auth(KEY)
            .send()
            .await?
            .json()
            .await?;
        let token = body["next_page"]
            .as_str()
            .ok_or_else(|| anyhow::anyhow!("{url} has fewer than {pages} pages"))?;
        url = format!("{first}&page={token}");
    }
    Ok(url)
}
