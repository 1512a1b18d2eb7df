//! The test world of stream-job's integration tests: the shared [`TestStores`] plus a consumer
//! group of its own, and helpers to run the job, produce orders and wait for what it stored.
#![allow(dead_code)]

use std::collections::HashMap;
use std::ops::Deref;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use ingest_api::configuration::IngestConfig;
use ingest_api::startup::Application;
use sales_model::Envelope;
use service_runtime::settings::Settings;
use stream_job::configuration::StreamConfig;
use stream_job::startup::StreamJob;
use test_support::clickhouse::TestClickHouse;
use test_support::kafka::TestKafka;
use test_support::orders::SampleOrder;
use test_support::stores::TestStores;

pub const WAIT: Duration = Duration::from_secs(30);

/// One test's world: the stores and the job's consumer group.
pub struct World {
    pub stores: TestStores,
    pub group: String,
    /// Settings every job of this world gets besides the harness's (say BUSINESS_TIME_ZONE).
    pub settings: Vec<(&'static str, &'static str)>,
}

impl Deref for World {
    type Target = TestStores;

    fn deref(&self) -> &TestStores {
        &self.stores
    }
}

impl World {
    /// A world on the current ClickHouse engine (or the one `CLICKHOUSE_URL` names).
    pub async fn new() -> World {
        World::on(TestClickHouse::start().await).await
    }

    /// A world whose ClickHouse is `clickhouse`.
    pub async fn on(clickhouse: TestClickHouse) -> World {
        World::with(TestKafka::start(), clickhouse).await
    }

    /// A world on librdkafka's mock cluster, for a test that injects Kafka errors.
    pub async fn with_injected_errors() -> World {
        World::with(
            TestKafka::with_injected_errors(),
            TestClickHouse::start().await,
        )
        .await
    }

    async fn with(kafka: TestKafka, clickhouse: TestClickHouse) -> World {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(
                tracing_subscriber::EnvFilter::try_from_default_env()
                    .unwrap_or_else(|_| "warn".into()),
            )
            .with_test_writer()
            .try_init();
        World {
            stores: TestStores::with(kafka, clickhouse, 3).await,
            group: test_support::unique_name("stream-job"),
            settings: Vec::new(),
        }
    }

    /// ingest-api on a free port, producing to this world's topic with `settings` added, once it
    /// answers `/ready`: its base URL and its task.
    pub async fn start_ingest(
        &self,
        settings: &[(&str, &str)],
    ) -> (String, tokio::task::JoinHandle<anyhow::Result<()>>) {
        let mut all = vec![("INGEST_LISTEN_ADDR", "127.0.0.1:0")];
        all.extend_from_slice(settings);
        let env = self.env(&all);
        let config = IngestConfig::from_settings(&Settings::new(&env)).expect("ingest config");
        let app = Application::build(config).await.expect("build ingest-api");
        let base = format!("http://{}", app.local_addr());
        let task = tokio::spawn(app.run(std::future::pending()));
        test_support::wait_until_ok(&format!("{base}/ready"), WAIT)
            .await
            .expect("ingest-api ready");
        (base, task)
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

    /// The job's settings, with the stores reached at `cassandra` and `clickhouse` (a proxy in
    /// front of one, say); short intervals so tests run fast.
    pub fn job_config(&self, cassandra: &str, clickhouse: &str) -> StreamConfig {
        let mut settings = vec![
            ("STREAM_JOB_GROUP", self.group.as_str()),
            ("CASSANDRA_CONTACT_POINTS", cassandra),
            ("CLICKHOUSE_URL", clickhouse),
            ("CLICKHOUSE_REQUEST_TIMEOUT_MS", "5000"),
            ("CASSANDRA_REQUEST_TIMEOUT_MS", "2000"),
            ("STREAM_JOB_ADMIN_ADDR", "127.0.0.1:0"),
            ("STREAM_JOB_FLUSH_INTERVAL_MS", "200"),
            ("STREAM_JOB_BATCH_LINGER_MS", "20"),
            ("STREAM_JOB_BATCH_MAX", "50"),
            ("STREAM_JOB_MAX_BACKOFF_MS", "500"),
            ("KAFKA_SESSION_TIMEOUT_MS", "6000"),
        ];
        settings.extend(self.settings.iter().copied());
        let env = self.env(&settings);
        StreamConfig::from_settings(&Settings::new(&env)).expect("test configuration")
    }

    /// Produces the orders `{prefix}-{i}` of `(store, customer)` for every `i` in `numbers`,
    /// each the test order of [`envelope`] at `at(i)`.
    pub async fn produce_series(
        &self,
        prefix: &str,
        numbers: std::ops::Range<i64>,
        (store, customer): (&str, Option<&str>),
        at: impl Fn(i64) -> DateTime<Utc>,
    ) {
        for i in numbers {
            let order = envelope(&format!("{prefix}-{i}"), store, customer, at(i));
            self.produce(&order).await;
        }
    }

    pub async fn produce(&self, envelope: &Envelope) {
        self.kafka
            .produce(
                &self.topic,
                envelope.event.order_id().as_str(),
                &envelope.to_json(),
            )
            .await;
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

    /// Waits until the job's `/health` answers 503 with `naming` in its body.
    pub async fn wait_until_unhealthy(&self, job: &StreamJob, naming: &str) {
        let health = format!("http://{}/health", job.admin_addr());
        let deadline = Instant::now() + WAIT;
        loop {
            let response = reqwest::get(&health).await.expect("reach the admin port");
            let status = response.status();
            let body = response.text().await.unwrap_or_default();
            if status == 503 && body.contains(naming) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "health never named {naming:?}: {status} {body}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until the job's `/health` reports the outage (503), lets the job retry for two more
    /// seconds, and checks that its group committed nothing beyond `committed` meanwhile.
    pub async fn assert_outage_holds_commits(&self, job: &StreamJob, committed: i64) {
        self.wait_until_unhealthy(job, "").await;
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

/// The order most tests use: delivery, two lines (3 items), 0.25 off, 1.00 tax, total 10.00.
pub fn envelope(
    order_id: &str,
    store: &str,
    customer: Option<&str>,
    created_at: DateTime<Utc>,
) -> Envelope {
    SampleOrder::new(order_id, store, created_at)
        .with("terminal_id", "t-3")
        .with("channel", "delivery")
        .with("payment_method", "card")
        .customer(customer)
        .line("sku-1", "Latte", 2, 350)
        .line("sku-2", "Bagel", 1, 225)
        .discount(25)
        .tax(100)
        .envelope()
}

pub fn minutes_ago(minutes: i64) -> DateTime<Utc> {
    let t = Utc::now() - chrono::Duration::minutes(minutes);
    DateTime::from_timestamp_millis(t.timestamp_millis()).expect("valid time")
}
