//! The test world shared by stream-job's integration tests: Kafka, Cassandra and ClickHouse (the
//! stand-ins, or the real services the environment names) with the schemas applied, and helpers
//! to produce orders and read what the job stored.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use sales_model::config::Settings;
use sales_model::{parse_order_json, Envelope, Freshness};
use scylla::client::session::Session;
use serde_json::json;
use stream_job::cassandra::{self, schema};
use stream_job::configuration::StreamConfig;
use stream_job::startup::StreamJob;
use test_support::cassandra::TestCassandra;
use test_support::clickhouse::TestClickHouse;
use test_support::kafka::TestKafka;

pub const WAIT: Duration = Duration::from_secs(30);

/// One test's world: Kafka, Cassandra with the schema applied, and the names it uses.
pub struct World {
    pub kafka: TestKafka,
    pub cassandra: TestCassandra,
    pub clickhouse: TestClickHouse,
    pub session: Session,
    pub keyspace: String,
    pub topic: String,
    pub group: String,
}

impl World {
    /// A world on the current ClickHouse engine (or the one `CLICKHOUSE_URL` names).
    pub async fn new() -> World {
        World::on(TestClickHouse::start().await).await
    }

    /// A world whose ClickHouse is `clickhouse`, with the schema and store seed applied.
    pub async fn on(clickhouse: TestClickHouse) -> World {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(
                tracing_subscriber::EnvFilter::try_from_default_env()
                    .unwrap_or_else(|_| "warn".into()),
            )
            .with_test_writer()
            .try_init();
        let kafka = TestKafka::start();
        let cassandra = TestCassandra::start();
        let (topic, keyspace) = if kafka.mock().is_some() && cassandra.is_standin() {
            ("Order".to_string(), "sales".to_string())
        } else {
            (
                test_support::unique_name("Order"),
                test_support::unique_name("sales").replace('-', "_"),
            )
        };
        kafka.create_topic(&topic, 3);
        kafka.create_topic(&format!("{topic}.dlq"), 1);
        let config = World::config_for(
            &kafka,
            cassandra.contact_point(),
            "http://unused",
            "unused",
            &topic,
            &keyspace,
            "unused",
        );
        let session = cassandra::connect(&config.cassandra)
            .await
            .expect("connect to Cassandra");
        schema::apply(
            &session,
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("../cql"),
            &keyspace,
            None,
        )
        .await
        .expect("apply the schema");
        let sql = Path::new(env!("CARGO_MANIFEST_DIR")).join("../clickhouse-sql");
        clickhouse.apply_schema(&sql).await;
        clickhouse
            .load_csv("stores", &sql.join("seed/stores.csv"))
            .await;
        World {
            kafka,
            clickhouse,
            group: test_support::unique_name("stream-job"),
            cassandra,
            session,
            keyspace,
            topic,
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub fn config_for(
        kafka: &TestKafka,
        cassandra: &str,
        clickhouse: &str,
        database: &str,
        topic: &str,
        keyspace: &str,
        group: &str,
    ) -> StreamConfig {
        let dlq = format!("{topic}.dlq");
        let env = vec![
            ("KAFKA_BOOTSTRAP_SERVERS", kafka.bootstrap_servers()),
            ("KAFKA_TOPIC", topic),
            ("KAFKA_DLQ_TOPIC", dlq.as_str()),
            ("STREAM_JOB_GROUP", group),
            ("CASSANDRA_CONTACT_POINTS", cassandra),
            ("CASSANDRA_KEYSPACE", keyspace),
            ("CLICKHOUSE_URL", clickhouse),
            ("CLICKHOUSE_DATABASE", database),
            ("CLICKHOUSE_REQUEST_TIMEOUT_MS", "5000"),
            ("CASSANDRA_CONSISTENCY", "ONE"),
            ("CASSANDRA_AWAIT_SCHEMA_AGREEMENT", "false"),
            ("CASSANDRA_REQUEST_TIMEOUT_MS", "2000"),
            ("STREAM_JOB_ADMIN_ADDR", "127.0.0.1:0"),
            ("STREAM_JOB_FLUSH_INTERVAL_MS", "200"),
            ("STREAM_JOB_BATCH_LINGER_MS", "20"),
            ("STREAM_JOB_BATCH_MAX", "50"),
            ("STREAM_JOB_MAX_BACKOFF_MS", "500"),
            ("KAFKA_SESSION_TIMEOUT_MS", "6000"),
        ];
        StreamConfig::from_settings(&Settings::new(&env)).expect("test configuration")
    }

    pub async fn start_job(&self) -> StreamJob {
        self.start_job_via(self.cassandra.contact_point(), self.clickhouse.url())
            .await
    }

    /// Starts the job with the given endpoints (a proxy in front of a store, say).
    pub async fn start_job_via(&self, cassandra: &str, clickhouse: &str) -> StreamJob {
        StreamJob::start(self.job_config(cassandra, clickhouse))
            .await
            .expect("start the job")
    }

    pub fn job_config(&self, cassandra: &str, clickhouse: &str) -> StreamConfig {
        let mut config = World::config_for(
            &self.kafka,
            cassandra,
            clickhouse,
            self.clickhouse.database(),
            &self.topic,
            &self.keyspace,
            &self.group,
        );
        config.clickhouse.validate_rows = self.clickhouse.validates_rows();
        config
    }

    pub async fn produce(&self, envelope: &Envelope) {
        self.kafka
            .produce(
                &self.topic,
                envelope.order.order_id().as_str(),
                &envelope.to_json(),
            )
            .await;
    }

    /// Every row of a query, read page by page.
    pub async fn scan<T>(&self, cql: String) -> Vec<T>
    where
        T: for<'f, 'm> scylla::deserialize::row::DeserializeRow<'f, 'm> + 'static,
    {
        use futures::TryStreamExt;
        let cql = cql.replace(" sales.", &format!(" {}.", self.keyspace));
        self.session
            .query_iter(cql, ())
            .await
            .expect("scan")
            .rows_stream::<T>()
            .expect("typed rows")
            .try_collect()
            .await
            .expect("rows")
    }

    /// order_id → number of rows, over a whole table.
    pub async fn rows_per_order(&self, table: &str) -> HashMap<String, usize> {
        let mut counts = HashMap::new();
        for (order_id,) in self
            .scan::<(String,)>(format!("SELECT order_id FROM sales.{table}"))
            .await
        {
            *counts.entry(order_id).or_insert(0) += 1;
        }
        counts
    }

    /// Waits until `orders_by_id` holds `count` orders.
    pub async fn wait_for_orders(&self, count: usize) -> HashMap<String, usize> {
        let deadline = Instant::now() + WAIT;
        loop {
            let rows = self.rows_per_order("orders_by_id").await;
            if rows.len() >= count {
                return rows;
            }
            assert!(
                Instant::now() < deadline,
                "only {} of {count} orders arrived",
                rows.len()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until the job's `/health` reports the outage (503), lets the job retry for two more
    /// seconds, and checks that its group committed nothing beyond `committed` meanwhile.
    pub async fn assert_outage_holds_commits(&self, job: &StreamJob, committed: i64) {
        let health = format!("http://{}/health", job.admin_addr());
        let deadline = Instant::now() + WAIT;
        while reqwest::get(&health)
            .await
            .expect("reach the admin port")
            .status()
            != 503
        {
            assert!(
                Instant::now() < deadline,
                "health never reported the outage"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert_eq!(
            self.kafka.committed_total(&self.group, &self.topic),
            committed,
            "offsets advanced past orders a store does not hold"
        );
    }

    pub async fn wait_for_commits(&self, total: i64) {
        let deadline = Instant::now() + WAIT;
        loop {
            let committed = self.kafka.committed_total(&self.group, &self.topic);
            if committed >= total {
                assert_eq!(committed, total, "committed past the produced messages");
                return;
            }
            assert!(
                Instant::now() < deadline,
                "committed {committed} of {total}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

pub fn envelope(
    order_id: &str,
    store: &str,
    customer: Option<&str>,
    created_at: DateTime<Utc>,
) -> Envelope {
    let mut body = json!({
        "order_id": order_id,
        "store_id": store,
        "terminal_id": "t-3",
        "channel": "delivery",
        "currency": "EUR",
        "created_at": created_at.to_rfc3339(),
        "items": [
            {"sku": "sku-1", "name": "Latte", "quantity": 2, "unit_price": "3.50"},
            {"sku": "sku-2", "name": "Bagel", "quantity": 1, "unit_price": "2.25"}
        ],
        "discount": "0.25",
        "tax": "1.00",
        "total": "10.00",
        "payment_method": "card"
    });
    if let Some(customer) = customer {
        body["customer_id"] = json!(customer);
    }
    let order = parse_order_json(
        body.to_string().as_bytes(),
        Utc::now(),
        Freshness::default(),
    )
    .expect("valid test order");
    Envelope::new(order, Utc::now())
}

pub fn minutes_ago(minutes: i64) -> DateTime<Utc> {
    let t = Utc::now() - chrono::Duration::minutes(minutes);
    DateTime::from_timestamp_millis(t.timestamp_millis()).expect("valid time")
}
