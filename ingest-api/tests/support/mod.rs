//! Spawns the real ingest-api on port 0 against the test Kafka.
#![allow(dead_code)]

use std::time::Duration;

use chrono::Utc;
use ingest_api::configuration::IngestConfig;
use ingest_api::startup::Application;
use serde_json::Value;
use service_runtime::settings::Settings;
use test_support::kafka::{key_text, TestKafka};
use test_support::orders::SampleOrder;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub const KEY: &str = "test-key-0123456789";

pub struct TestApp {
    pub base: String,
    pub topic: String,
    pub client: reqwest::Client,
    shutdown: Option<oneshot::Sender<()>>,
    pub handle: JoinHandle<anyhow::Result<()>>,
}

/// Starts the app with the test defaults plus `extra` settings.
pub async fn spawn_app(kafka: &TestKafka, extra: &[(&str, &str)]) -> TestApp {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_test_writer()
        .try_init();
    let topic = if kafka.mock().is_some() {
        "Order".to_string()
    } else {
        test_support::unique_name("Order")
    };
    let mut env = vec![
        ("INGEST_LISTEN_ADDR", "127.0.0.1:0"),
        ("KAFKA_BOOTSTRAP_SERVERS", kafka.bootstrap_servers()),
        ("KAFKA_TOPIC", topic.as_str()),
        ("INGEST_API_KEYS", KEY),
        ("KAFKA_PRODUCE_TIMEOUT_MS", "3000"),
        ("INGEST_REQUEST_TIMEOUT_MS", "8000"),
        ("KAFKA_ADMIN_TIMEOUT_MS", "1000"),
    ];
    env.extend_from_slice(extra);
    let partitions = env
        .iter()
        .rev()
        .find(|(k, _)| *k == "KAFKA_TOPIC_PARTITIONS")
        .map_or(6, |(_, v)| v.parse().expect("partitions"));
    kafka.create_topic(&topic, partitions).await;
    let config = IngestConfig::from_settings(&Settings::new(&env)).expect("test configuration");
    let app = Application::build(config).await.expect("build the app");
    let base = format!("http://{}", app.local_addr());
    let (tx, rx) = oneshot::channel::<()>();
    let handle = tokio::spawn(app.run(async move {
        let _ = rx.await;
    }));
    let app = TestApp {
        base,
        topic,
        client: reqwest::Client::new(),
        shutdown: Some(tx),
        handle,
    };
    app.wait_ready().await;
    app
}

impl TestApp {
    pub async fn wait_ready(&self) {
        test_support::wait_until_ok(&format!("{}/ready", self.base), Duration::from_secs(30))
            .await
            .expect("ingest-api ready");
    }

    /// POSTs `body` as JSON with the test key.
    pub async fn post(&self, path: &str, body: &Value) -> reqwest::Response {
        self.post_raw(path, body.to_string(), "application/json", Some(KEY))
            .await
    }

    pub async fn post_raw(
        &self,
        path: &str,
        body: String,
        content_type: &str,
        key: Option<&str>,
    ) -> reqwest::Response {
        let mut request = self
            .client
            .post(format!("{}{path}", self.base))
            .header("content-type", content_type)
            .body(body);
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        request.send().await.expect("send request")
    }

    pub async fn get_text(&self, path: &str) -> (u16, String) {
        let response = self
            .client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .expect("send request");
        (
            response.status().as_u16(),
            response.text().await.unwrap_or_default(),
        )
    }

    /// POSTs `body` until it is accepted (202), for up to ten seconds; the last status.
    pub async fn post_until_accepted(&self, path: &str, body: &Value) -> u16 {
        let mut status = 0;
        for _ in 0..50 {
            status = self.post(path, body).await.status().as_u16();
            if status == 202 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        status
    }

    /// Triggers a graceful shutdown and waits for the app to finish.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.handle.await.expect("app task")
    }
}

/// The keys on `topic`: up to `at_most` messages, read for up to `wait`.
pub fn keys_on(kafka: &TestKafka, topic: &str, at_most: usize, wait: Duration) -> Vec<String> {
    let messages = kafka.read_topic(topic, at_most, wait);
    messages.iter().map(key_text).collect()
}

/// The texts of `a` and `b` in every element of a JSON array, e.g. each error's field and code.
pub fn text_pairs<'a>(array: &'a Value, a: &str, b: &str) -> Vec<(&'a str, &'a str)> {
    let firsts = test_support::texts(array, a);
    firsts
        .into_iter()
        .zip(test_support::texts(array, b))
        .collect()
}

/// A valid order created a minute ago, with a total matching its line.
pub fn order(order_id: &str) -> Value {
    SampleOrder::new(
        order_id,
        "store-042",
        Utc::now() - chrono::Duration::minutes(1),
    )
    .with("terminal_id", "t-3")
    .customer(Some("c-9001"))
    .with("payment_method", "card")
    .line("sku-1", "Latte", 2, 350)
    .discount(50)
    .json()
}
