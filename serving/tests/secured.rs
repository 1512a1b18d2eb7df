//! The pipeline over the connections a managed deployment requires: Kafka over SASL_SSL with
//! SCRAM-SHA-256 and Cassandra with client encryption and a password, both with certificates made
//! for this run (test-servers). ingest-api, stream-job and serving each connect through them, and
//! a wrong CA or a wrong password is refused with an error that says which.

mod support;

use std::time::Duration;

use ingest_api::configuration::IngestConfig;
use sales_stores::cassandra::{connect, CassandraConfig};
use sales_stores::kafka::KafkaConnection;
use service_runtime::settings::Settings;
use test_support::orders::SampleOrder;
use test_support::servers::endpoints::required;
use test_support::status_and_json;
use test_support::stores::TestStores;

const INGEST_KEY: &str = "secured-ingest-key-0123";
const SERVING_KEY: &str = "secured-serving-key-0123";

/// `base` with `changes` replacing or adding settings.
fn with(base: &[(String, String)], changes: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = base
        .iter()
        .filter(|(k, _)| !changes.iter().any(|(c, _)| c == k))
        .cloned()
        .collect();
    env.extend(changes.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    env
}

/// The store a connection check reaches.
#[derive(Debug, Clone, Copy)]
enum Store {
    Kafka,
    Cassandra,
}

impl Store {
    /// What connecting over `env` answers: Ok, or the client's reason. Kafka is asked for its
    /// metadata; Cassandra opens a session.
    async fn answer(self, env: &Vec<(String, String)>) -> Result<(), String> {
        let settings = Settings::new(env);
        match self {
            Store::Kafka => {
                let connection =
                    KafkaConnection::from_settings(&settings).map_err(|e| e.to_string())?;
                tokio::task::spawn_blocking(move || connection.check(Duration::from_secs(10)))
                    .await
                    .expect("the check ran")
                    .map_err(|e| format!("{e:#}"))
            }
            Store::Cassandra => {
                let config =
                    CassandraConfig::from_settings(&settings).map_err(|e| e.to_string())?;
                connect(&config)
                    .await
                    .map(drop)
                    .map_err(|e| format!("{e:#}"))
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pipeline_runs_over_sasl_ssl_and_cassandra_tls_and_names_a_wrong_ca_or_password() {
    let stores = TestStores::start(3).await;
    let ca = required("TEST_TLS_CA_FILE");
    let sasl_servers = required("TEST_KAFKA_SASL_SSL_SERVERS");
    let (user, password) = (
        required("TEST_KAFKA_SCRAM_USERNAME"),
        required("TEST_KAFKA_SCRAM_PASSWORD"),
    );
    let group = test_support::unique_name("secured");
    let secured = stores.env(&[
        ("KAFKA_BOOTSTRAP_SERVERS", &sasl_servers),
        ("KAFKA_SECURITY_PROTOCOL", "sasl_ssl"),
        ("KAFKA_SASL_MECHANISM", "SCRAM-SHA-256"),
        ("KAFKA_SASL_USERNAME", &user),
        ("KAFKA_SASL_PASSWORD", &password),
        ("KAFKA_SSL_CA_LOCATION", &ca),
        ("CASSANDRA_TLS", "true"),
        ("CASSANDRA_TLS_CA_FILE", &ca),
        ("INGEST_LISTEN_ADDR", "127.0.0.1:0"),
        ("INGEST_API_KEYS", INGEST_KEY),
        ("SERVING_LISTEN_ADDR", "127.0.0.1:0"),
        ("SERVING_API_KEYS", SERVING_KEY),
        ("STREAM_JOB_GROUP", &group),
        ("STREAM_JOB_ADMIN_ADDR", "127.0.0.1:0"),
        ("STREAM_JOB_FLUSH_INTERVAL_MS", "200"),
    ]);

    // A stranger's CA, a wrong password: each refused, and the error says why.
    let stranger = std::env::temp_dir().join(test_support::unique_name("stranger-ca"));
    let stranger_ca = test_support::servers::tls::make_ca(&stranger, "stranger")
        .expect("make a CA")
        .display()
        .to_string();
    let refusals = [
        (
            Store::Kafka,
            "KAFKA_SSL_CA_LOCATION",
            stranger_ca.as_str(),
            "certificate verify failed",
        ),
        (
            Store::Kafka,
            "KAFKA_SASL_PASSWORD",
            "not-the-password",
            "invalid credentials",
        ),
        (
            Store::Cassandra,
            "CASSANDRA_TLS_CA_FILE",
            stranger_ca.as_str(),
            "certificate verify failed",
        ),
        (
            Store::Cassandra,
            "CASSANDRA_PASSWORD",
            "not-the-password",
            "password are incorrect",
        ),
    ];
    for (store, setting, value, reason) in refusals {
        let error = store
            .answer(&with(&secured, &[(setting, value)]))
            .await
            .expect_err("a wrong CA or password must be refused");
        assert!(
            error.contains(reason),
            "{store:?} {setting}: expected {reason:?} in: {error}"
        );
    }
    assert_eq!(Store::Kafka.answer(&secured).await, Ok(()));
    assert_eq!(Store::Cassandra.answer(&secured).await, Ok(()));

    // ingest-api produces over SASL_SSL.
    let settings = Settings::new(&secured);
    let ingest = ingest_api::startup::Application::build(
        IngestConfig::from_settings(&settings).expect("ingest config"),
    )
    .await
    .expect("ingest-api starts");
    let ingest_url = format!("http://{}", ingest.local_addr());
    tokio::spawn(ingest.run(std::future::pending()));
    test_support::wait_until_ok(&format!("{ingest_url}/ready"), Duration::from_secs(60))
        .await
        .expect("ingest-api ready over SASL_SSL");
    let sale = SampleOrder::new("secured-1", "store-001", chrono::Utc::now()).json();
    let client = reqwest::Client::new();
    let (status, posted) = status_and_json(
        client
            .post(format!("{ingest_url}/v1/orders"))
            .bearer_auth(INGEST_KEY)
            .json(&sale),
    )
    .await;
    assert_eq!(status, 202, "{posted}");

    // stream-job consumes over SASL_SSL and writes to Cassandra over TLS.
    support::load(&stores, &settings, &[]).await;

    // serving reads it over TLS.
    let serving = support::serve(&settings).await;
    let (status, order) = status_and_json(
        client
            .get(format!("{}/v1/orders/secured-1", serving.base))
            .bearer_auth(SERVING_KEY),
    )
    .await;
    assert_eq!(status, 200, "{order}");
    assert_eq!(order["order_id"], "secured-1");
    assert_eq!(order["store_id"], "store-001");
    assert_eq!(order["total"], sale["total"]);
}
