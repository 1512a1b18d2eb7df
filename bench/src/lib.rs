//! Shared set-up for the benchmark tools: the stand-ins with the schemas applied, sample orders,
//! and reading figures off a Prometheus histogram.

use std::path::Path;
use std::time::Duration;

use futures::future::try_join_all;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::ClientConfig;

use chrono::{DateTime, Utc};
use sales_model::config::Settings;
use sales_model::{parse_order_json, Envelope, Freshness};
use serde_json::{json, Value};
use stream_job::cassandra::{self, schema};
use stream_job::configuration::StreamConfig;
use test_support::cassandra::TestCassandra;
use test_support::clickhouse::TestClickHouse;
use test_support::kafka::TestKafka;

/// Kafka, Cassandra and ClickHouse (stand-ins unless the environment names real ones), schemas
/// applied, topics created.
pub struct Stores {
    pub kafka: TestKafka,
    pub cassandra: TestCassandra,
    pub clickhouse: TestClickHouse,
}

impl Stores {
    pub async fn start() -> anyhow::Result<Stores> {
        let kafka = TestKafka::start();
        kafka.create_topic("Order", 6);
        kafka.create_topic("Order.dlq", 1);
        let cassandra = TestCassandra::start();
        let clickhouse = TestClickHouse::start().await;
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        clickhouse.apply_schema(&root.join("clickhouse-sql")).await;
        clickhouse
            .load_csv("stores", &root.join("clickhouse-sql/seed/stores.csv"))
            .await;
        let stores = Stores {
            kafka,
            cassandra,
            clickhouse,
        };
        let session = cassandra::connect(&stores.job_config("unused", &[])?.cassandra).await?;
        schema::apply(&session, &root.join("cql"), "sales", None).await?;
        Ok(stores)
    }

    /// stream-job's configuration for these stores, plus `extra` settings.
    pub fn job_config(&self, group: &str, extra: &[(&str, &str)]) -> anyhow::Result<StreamConfig> {
        let mut env = vec![
            ("KAFKA_BOOTSTRAP_SERVERS", self.kafka.bootstrap_servers()),
            ("STREAM_JOB_GROUP", group),
            ("CASSANDRA_CONTACT_POINTS", self.cassandra.contact_point()),
            ("CASSANDRA_CONSISTENCY", "ONE"),
            ("CASSANDRA_AWAIT_SCHEMA_AGREEMENT", "false"),
            ("CLICKHOUSE_URL", self.clickhouse.url()),
            ("CLICKHOUSE_DATABASE", self.clickhouse.database()),
            ("STREAM_JOB_ADMIN_ADDR", "127.0.0.1:0"),
        ];
        env.extend_from_slice(extra);
        Ok(StreamConfig::from_settings(&Settings::new(&env))?)
    }
}

/// A valid POS order body: two lines, 3 items, total 9.20, in one of 50 stores.
pub fn order_body(n: usize, created_at: DateTime<Utc>) -> Value {
    json!({
        "order_id": format!("bench-{}-{n}", std::process::id()),
        "store_id": format!("store-{:03}", n % 50),
        "customer_id": format!("c-{}", n % 1000),
        "channel": "in_store",
        "currency": "EUR",
        "created_at": created_at.to_rfc3339(),
        "items": [
            {"sku": "sku-1", "name": "Latte", "quantity": 2, "unit_price": "3.50"},
            {"sku": "sku-2", "name": "Croissant", "quantity": 1, "unit_price": "2.20"}
        ],
        "total": "9.20"
    })
}

/// The same order as the Kafka envelope ingest-api would produce.
pub fn envelope(n: usize, created_at: DateTime<Utc>) -> anyhow::Result<Vec<u8>> {
    let order = parse_order_json(
        order_body(n, created_at).to_string().as_bytes(),
        Utc::now(),
        Freshness::default(),
    )
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(Envelope::new(order, Utc::now()).to_json())
}

impl Stores {
    /// Produces `orders` order envelopes spread over the last hour to `Order`, in chunks, and
    /// waits until Kafka acknowledged every one.
    pub async fn preload(&self, orders: usize) -> anyhow::Result<()> {
        let producer: FutureProducer = ClientConfig::new()
            .set("bootstrap.servers", self.kafka.bootstrap_servers())
            .set("linger.ms", "5")
            .create()?;
        let now = Utc::now();
        let payloads = (0..orders)
            .map(|n| envelope(n, now - chrono::Duration::seconds((n % 3600) as i64)))
            .collect::<anyhow::Result<Vec<_>>>()?;
        for (chunk_no, chunk) in payloads.chunks(5_000).enumerate() {
            try_join_all(chunk.iter().enumerate().map(|(i, payload)| {
                let key = format!("bench-{}", chunk_no * 5_000 + i);
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
            .await?;
        }
        Ok(())
    }
}

/// A metric's value from a Prometheus text exposition (0 when absent).
pub fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|v| v.trim().parse().ok()))
        .unwrap_or(0.0)
}

/// The `q` quantile of a histogram, interpolated linearly inside its bucket.
pub fn histogram_quantile(text: &str, name: &str, q: f64) -> Option<f64> {
    let prefix = format!("{name}_bucket{{le=\"");
    let buckets: Vec<(f64, f64)> = text
        .lines()
        .filter_map(|l| l.strip_prefix(&prefix))
        .filter_map(|rest| {
            let (le, count) = rest.split_once("\"} ")?;
            let le = if le == "+Inf" {
                f64::INFINITY
            } else {
                le.parse().ok()?
            };
            Some((le, count.trim().parse().ok()?))
        })
        .collect();
    let total = buckets.last()?.1;
    if total == 0.0 {
        return None;
    }
    let rank = q * total;
    let mut previous = (0.0, 0.0);
    for (le, count) in buckets {
        if count >= rank {
            if le.is_infinite() {
                return Some(previous.0);
            }
            let share = if count > previous.1 {
                (rank - previous.1) / (count - previous.1)
            } else {
                1.0
            };
            return Some(previous.0 + (le - previous.0) * share);
        }
        previous = (le, count);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_interpolate_inside_buckets() {
        let text = "x_bucket{le=\"1.0\"} 0\nx_bucket{le=\"2.0\"} 50\nx_bucket{le=\"4.0\"} 100\nx_bucket{le=\"+Inf\"} 100\n";
        assert_eq!(histogram_quantile(text, "x", 0.5), Some(2.0));
        assert_eq!(histogram_quantile(text, "x", 0.25), Some(1.5));
        assert_eq!(histogram_quantile(text, "x", 0.75), Some(3.0));
        assert_eq!(histogram_quantile("", "x", 0.5), None);
    }
}
