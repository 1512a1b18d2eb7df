//! stream-job's Cassandra path against the stand-ins (Kafka mock cluster, kassandra) or the real
//! services named by KAFKA_BOOTSTRAP_SERVERS / CASSANDRA_CONTACT_POINTS.

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDate, Utc};
use rdkafka::message::Headers;
use rdkafka::Message;
use sales_model::config::Settings;
use sales_model::{parse_order_json, Envelope, Freshness};
use scylla::client::session::Session;
use serde_json::{json, Value};
use stream_job::cassandra::{self, schema};
use stream_job::configuration::StreamConfig;
use stream_job::startup::StreamJob;
use test_support::cassandra::TestCassandra;
use test_support::kafka::TestKafka;
use test_support::proxy::TcpProxy;

const WAIT: Duration = Duration::from_secs(30);

/// One test's world: Kafka, Cassandra with the schema applied, and the names it uses.
struct World {
    kafka: TestKafka,
    cassandra: TestCassandra,
    session: Session,
    keyspace: String,
    topic: String,
    group: String,
}

impl World {
    async fn new() -> World {
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
        World {
            kafka,
            group: test_support::unique_name("stream-job"),
            cassandra,
            session,
            keyspace,
            topic,
        }
    }

    fn config_for(
        kafka: &TestKafka,
        cassandra: &str,
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

    async fn start_job(&self) -> StreamJob {
        self.start_job_via(self.cassandra.contact_point()).await
    }

    async fn start_job_via(&self, cassandra: &str) -> StreamJob {
        let config = World::config_for(
            &self.kafka,
            cassandra,
            &self.topic,
            &self.keyspace,
            &self.group,
        );
        StreamJob::start(config).await.expect("start the job")
    }

    async fn produce(&self, envelope: &Envelope) {
        self.kafka
            .produce(
                &self.topic,
                envelope.order.order_id().as_str(),
                &envelope.to_json(),
            )
            .await;
    }

    /// order_id → number of rows, over a whole table.
    async fn rows_per_order(&self, table: &str) -> HashMap<String, usize> {
        let result = self
            .session
            .query_unpaged(
                format!("SELECT order_id FROM {}.{table}", self.keyspace),
                (),
            )
            .await
            .expect("scan")
            .into_rows_result()
            .expect("rows");
        let mut counts = HashMap::new();
        for row in result.rows::<(String,)>().expect("typed rows") {
            *counts.entry(row.expect("row").0).or_insert(0) += 1;
        }
        counts
    }

    /// Waits until `orders_by_id` holds `count` orders.
    async fn wait_for_orders(&self, count: usize) -> HashMap<String, usize> {
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

    async fn wait_for_commits(&self, total: i64) {
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

fn envelope(
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

fn minutes_ago(minutes: i64) -> DateTime<Utc> {
    let t = Utc::now() - chrono::Duration::minutes(minutes);
    DateTime::from_timestamp_millis(t.timestamp_millis()).expect("valid time")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_land_in_every_table_with_exact_values_and_a_redelivery_adds_no_row() {
    let world = World::new().await;
    let at = minutes_ago(30);
    let with_customer = envelope("o-1", "store-1", Some("c-7"), at);
    let without_customer = envelope("o-2", "store-1", None, at);
    world.produce(&with_customer).await;
    world.produce(&without_customer).await;
    world.produce(&with_customer).await; // a redelivered retry
    let job = world.start_job().await;
    world.wait_for_orders(2).await;
    world.wait_for_commits(3).await;

    for table in ["orders_by_id", "orders_by_store_day", "orders_by_day"] {
        let rows = world.rows_per_order(table).await;
        assert_eq!(
            rows,
            HashMap::from([("o-1".to_string(), 1), ("o-2".to_string(), 1)]),
            "{table}"
        );
    }
    assert_eq!(
        world.rows_per_order("orders_by_customer").await,
        HashMap::from([("o-1".to_string(), 1)])
    );

    type ById = (
        String,
        String,
        Option<String>,
        String,
        String,
        DateTime<Utc>,
        NaiveDate,
        Vec<String>,
        Vec<String>,
        Vec<i32>,
        Vec<i64>,
        i32,
        i64,
        i64,
        i64,
    );
    let (store, terminal, customer, channel, currency, created, day, skus, names, quantities, prices, items, discount, tax, total): ById = world
        .session
        .query_unpaged(
            format!(
                "SELECT store_id, terminal_id, customer_id, channel, currency, created_at, day, line_skus, line_names, line_quantities, \
                 line_unit_prices_minor, item_count, discount_minor, tax_minor, total_minor FROM {}.orders_by_id WHERE order_id = ?",
                world.keyspace
            ),
            ("o-1",),
        )
        .await
        .unwrap()
        .into_rows_result()
        .unwrap()
        .single_row()
        .unwrap();
    assert_eq!(
        (store.as_str(), terminal.as_str(), customer.as_deref()),
        ("store-1", "t-3", Some("c-7"))
    );
    assert_eq!((channel.as_str(), currency.as_str()), ("delivery", "EUR"));
    assert_eq!((created, day), (at, at.date_naive()));
    assert_eq!(
        (skus, names),
        (
            vec!["sku-1".to_string(), "sku-2".into()],
            vec!["Latte".to_string(), "Bagel".into()]
        )
    );
    assert_eq!((quantities, prices), (vec![2, 1], vec![350, 225]));
    assert_eq!((items, discount, tax, total), (3, 25, 100, 1000));

    let (order_id, total, items, customer): (String, i64, i32, Option<String>) = world
        .session
        .query_unpaged(
            format!(
                "SELECT order_id, total_minor, item_count, customer_id FROM {}.orders_by_store_day WHERE store_id = ? AND day = ? AND created_at = ? AND order_id = ?",
                world.keyspace
            ),
            ("store-1", at.date_naive(), at, "o-1"),
        )
        .await
        .unwrap()
        .into_rows_result()
        .unwrap()
        .single_row()
        .unwrap();
    assert_eq!(
        (order_id.as_str(), total, items, customer.as_deref()),
        ("o-1", 1000, 3, Some("c-7"))
    );

    let (store, total): (String, i64) = world
        .session
        .query_unpaged(
            format!(
                "SELECT store_id, total_minor FROM {}.orders_by_customer WHERE customer_id = ?",
                world.keyspace
            ),
            ("c-7",),
        )
        .await
        .unwrap()
        .into_rows_result()
        .unwrap()
        .single_row()
        .unwrap();
    assert_eq!((store.as_str(), total), ("store-1", 1000));
    job.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poison_messages_go_to_the_dead_letter_topic_and_the_job_goes_on() {
    let world = World::new().await;
    let good: Value =
        serde_json::from_slice(&envelope("ok-1", "store-1", None, minutes_ago(5)).to_json())
            .unwrap();
    let mut future_version = good.clone();
    future_version["schema_version"] = json!(2);
    let mut bad_total = good.clone();
    bad_total["order"]["order_id"] = json!("bad-total");
    bad_total["order"]["total_minor"] = json!(1);
    world
        .kafka
        .produce(&world.topic, "garbage", b"{not json")
        .await;
    world
        .kafka
        .produce(&world.topic, "ok-1", future_version.to_string().as_bytes())
        .await;
    world
        .kafka
        .produce(&world.topic, "bad-total", bad_total.to_string().as_bytes())
        .await;
    world
        .produce(&envelope("ok-2", "store-1", None, minutes_ago(5)))
        .await;

    let job = world.start_job().await;
    world.wait_for_orders(1).await;
    world.wait_for_commits(4).await;
    assert_eq!(
        world.rows_per_order("orders_by_id").await,
        HashMap::from([("ok-2".to_string(), 1)])
    );

    let dead = world
        .kafka
        .read_topic(&format!("{}.dlq", world.topic), 3, WAIT);
    assert_eq!(dead.len(), 3);
    let mut seen = Vec::new();
    for message in &dead {
        let headers = message.headers().expect("dead letters carry headers");
        let header = |name: &str| {
            headers
                .iter()
                .find(|h| h.key == name)
                .and_then(|h| h.value)
                .map(|v| String::from_utf8_lossy(v).into_owned())
                .unwrap_or_default()
        };
        assert_eq!(header("dlq.source.topic"), world.topic);
        assert!(header("dlq.source.partition").parse::<i32>().is_ok());
        assert!(header("dlq.source.offset").parse::<i64>().is_ok());
        assert!(!header("dlq.error.message").is_empty());
        seen.push((
            String::from_utf8_lossy(message.key().unwrap_or_default()).into_owned(),
            header("dlq.error.code"),
        ));
    }
    seen.sort();
    assert_eq!(
        seen,
        vec![
            ("bad-total".to_string(), "invalid_order".to_string()),
            ("garbage".to_string(), "malformed".to_string()),
            ("ok-1".to_string(), "unsupported_schema_version".to_string()),
        ]
    );
    let metrics = reqwest::get(format!("http://{}/metrics", job.admin_addr()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("stream_job_dead_lettered_total{code=\"malformed\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("stream_job_written_total{table=\"orders_by_id\"} 1"),
        "{metrics}"
    );
    job.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_killed_mid_stream_and_restarted_stores_every_order_exactly_once() {
    let world = World::new().await;
    let total = 400;
    for i in 0..total {
        world
            .produce(&envelope(
                &format!("k-{i}"),
                &format!("store-{}", i % 7),
                Some("c-1"),
                minutes_ago(i % 90),
            ))
            .await;
    }
    let job = world.start_job().await;
    let deadline = Instant::now() + WAIT;
    while world.rows_per_order("orders_by_id").await.len() < 40 {
        assert!(Instant::now() < deadline, "the job wrote nothing");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    job.kill();
    let at_kill = world.rows_per_order("orders_by_id").await.len();
    let committed_at_kill = world.kafka.committed_total(&world.group, &world.topic);
    assert!(
        committed_at_kill as usize <= at_kill,
        "committed {committed_at_kill} but only {at_kill} stored"
    );

    let job = world.start_job().await;
    let rows = world.wait_for_orders(total as usize).await;
    world.wait_for_commits(total).await;
    assert_eq!(rows.len(), total as usize);
    for table in [
        "orders_by_id",
        "orders_by_store_day",
        "orders_by_customer",
        "orders_by_day",
    ] {
        let rows = world.rows_per_order(table).await;
        assert_eq!(rows.len(), total as usize, "{table}");
        assert!(
            rows.values().all(|n| *n == 1),
            "{table} has a duplicate row"
        );
    }
    job.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_cassandra_is_unreachable_nothing_is_committed_or_lost() {
    let world = World::new().await;
    let proxy = TcpProxy::start(world.cassandra.contact_point()).await;
    let job = world.start_job_via(&proxy.addr()).await;
    for i in 0..20 {
        world
            .produce(&envelope(
                &format!("before-{i}"),
                "store-1",
                None,
                minutes_ago(1),
            ))
            .await;
    }
    world.wait_for_orders(20).await;
    world.wait_for_commits(20).await;

    proxy.cut();
    for i in 0..30 {
        world
            .produce(&envelope(
                &format!("during-{i}"),
                "store-2",
                Some("c-2"),
                minutes_ago(1),
            ))
            .await;
    }
    let health = format!("http://{}/health", job.admin_addr());
    let deadline = Instant::now() + WAIT;
    while reqwest::get(&health).await.unwrap().status() != 503 {
        assert!(
            Instant::now() < deadline,
            "health never reported the outage"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        world.kafka.committed_total(&world.group, &world.topic),
        20,
        "offsets advanced past unwritten orders"
    );
    assert_eq!(world.rows_per_order("orders_by_id").await.len(), 20);

    proxy.restore();
    world.wait_for_orders(50).await;
    world.wait_for_commits(50).await;
    assert_eq!(reqwest::get(&health).await.unwrap().status(), 200);
    let metrics = reqwest::get(format!("http://{}/metrics", job.admin_addr()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let failures: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("stream_job_sink_failures_total{sink=\"cassandra\"} "))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    assert!(
        failures > 0,
        "the outage should show as failed write attempts:\n{metrics}"
    );
    job.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_graceful_stop_commits_what_is_written_and_the_other_member_takes_over() {
    let world = World::new().await;
    for i in 0..100 {
        world
            .produce(&envelope(
                &format!("g-{i}"),
                "store-3",
                None,
                minutes_ago(2),
            ))
            .await;
    }
    let first = world.start_job().await;
    let second = world.start_job().await;
    world.wait_for_orders(100).await;
    first.shutdown().await;
    for i in 100..150 {
        world
            .produce(&envelope(
                &format!("g-{i}"),
                "store-3",
                None,
                minutes_ago(2),
            ))
            .await;
    }
    world.wait_for_orders(150).await;
    second.shutdown().await;
    assert_eq!(world.kafka.committed_total(&world.group, &world.topic), 150);
    assert!(world
        .rows_per_order("orders_by_id")
        .await
        .values()
        .all(|n| *n == 1));
}
