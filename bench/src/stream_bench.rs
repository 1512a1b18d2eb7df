//! stream-bench: how fast stream-job moves orders from Kafka into Cassandra, through the
//! stand-ins (librdkafka mock cluster, kassandra) unless KAFKA_BOOTSTRAP_SERVERS /
//! CASSANDRA_CONTACT_POINTS name real services. Run with
//! `cargo run --release -p bench --bin stream-bench`.
//!
//! Pre-loads `BENCH_ORDERS` envelopes, starts the job, and times from its first write until the
//! last offset is committed (which the job does only once every order is durable).

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context};
use chrono::Utc;
use futures::future::try_join_all;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::ClientConfig;
use sales_model::config::{ProcessEnv, Settings};
use sales_model::{parse_order_json, Envelope, Freshness};
use serde_json::json;
use stream_job::cassandra::{self, schema};
use stream_job::configuration::StreamConfig;
use stream_job::startup::StreamJob;
use test_support::cassandra::TestCassandra;
use test_support::kafka::TestKafka;

fn envelope(n: usize) -> anyhow::Result<Vec<u8>> {
    let body = json!({
        "order_id": format!("bench-{n}"),
        "store_id": format!("store-{:03}", n % 50),
        "customer_id": format!("c-{}", n % 1000),
        "channel": "in_store",
        "currency": "EUR",
        "created_at": (Utc::now() - chrono::Duration::seconds((n % 3600) as i64)).to_rfc3339(),
        "items": [
            {"sku": "sku-1", "name": "Latte", "quantity": 2, "unit_price": "3.50"},
            {"sku": "sku-2", "name": "Croissant", "quantity": 1, "unit_price": "2.20"}
        ],
        "total": "9.20"
    });
    let order = parse_order_json(
        body.to_string().as_bytes(),
        Utc::now(),
        Freshness::default(),
    )
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(Envelope::new(order, Utc::now()).to_json())
}

async fn written(admin: &str) -> u64 {
    let Ok(response) = reqwest::get(format!("http://{admin}/metrics")).await else {
        return 0;
    };
    let text = response.text().await.unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix("stream_job_written_total{table=\"orders_by_id\"} "))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let settings = Settings::new(&ProcessEnv);
    let orders = settings.bounded("BENCH_ORDERS", 20_000, 100, 10_000_000)? as usize;
    let concurrency = settings.string("CASSANDRA_CONCURRENCY", "64");

    let kafka = TestKafka::start();
    let cassandra = TestCassandra::start();
    kafka.create_topic("Order", 6);
    kafka.create_topic("Order.dlq", 1);
    let group = test_support::unique_name("stream-bench");
    let env = vec![
        ("KAFKA_BOOTSTRAP_SERVERS", kafka.bootstrap_servers()),
        ("STREAM_JOB_GROUP", group.as_str()),
        ("CASSANDRA_CONTACT_POINTS", cassandra.contact_point()),
        ("CASSANDRA_CONSISTENCY", "ONE"),
        ("CASSANDRA_AWAIT_SCHEMA_AGREEMENT", "false"),
        ("CASSANDRA_CONCURRENCY", concurrency.as_str()),
        ("STREAM_JOB_ADMIN_ADDR", "127.0.0.1:0"),
    ];
    let config = StreamConfig::from_settings(&Settings::new(&env))?;
    let session = cassandra::connect(&config.cassandra).await?;
    schema::apply(
        &session,
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../cql"),
        "sales",
        None,
    )
    .await?;

    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", kafka.bootstrap_servers())
        .set("linger.ms", "5")
        .create()?;
    let payloads = (0..orders)
        .map(envelope)
        .collect::<anyhow::Result<Vec<_>>>()?;
    for (offset, chunk) in payloads.chunks(5_000).enumerate() {
        try_join_all(chunk.iter().enumerate().map(|(i, payload)| {
            let key = format!("bench-{}", offset * 5_000 + i);
            let producer = producer.clone();
            async move {
                producer
                    .send(
                        FutureRecord::to("Order").key(&key).payload(payload),
                        Duration::from_secs(30),
                    )
                    .await
                    .map_err(|(e, _)| e)
            }
        }))
        .await
        .context("pre-load the topic")?;
    }

    let job = StreamJob::start(config).await?;
    let admin = job.admin_addr().to_string();
    let deadline = Instant::now() + Duration::from_secs(600);
    while written(&admin).await == 0 {
        ensure!(Instant::now() < deadline, "the job never wrote");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let started = Instant::now();
    while kafka.committed_total(&group, "Order") < orders as i64 {
        ensure!(Instant::now() < deadline, "the job did not finish in time");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let elapsed = started.elapsed();
    job.shutdown().await;
    println!("stream-bench: {orders} orders, Cassandra concurrency {concurrency}");
    println!(
        "Kafka -> Cassandra (4 tables, {} rows): {:.2} s = {:.0} orders/s ({} stand-in)",
        orders * 4,
        elapsed.as_secs_f64(),
        orders as f64 / elapsed.as_secs_f64(),
        if cassandra.is_standin() {
            "kassandra"
        } else {
            "real Cassandra, not a"
        }
    );
    Ok(())
}
