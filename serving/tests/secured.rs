//! The pipeline over the connections a managed deployment requires: Kafka over SASL_SSL with
//! SCRAM-SHA-256 and Cassandra with client encryption and a password, both with certificates made
//! for this run (test-servers). ingest-api, stream-job and serving each connect through them, and
//! a wrong CA or a wrong password is refused with an error that says which.

use std::time::{Duration, Instant};

use ingest_api::configuration::IngestConfig;
use sales_stores::cassandra::{connect, CassandraConfig};
use sales_stores::kafka::KafkaConnection;
use service_runtime::settings::Settings;
use serving::configuration::ServingConfig;
use stream_job::configuration::StreamConfig;
use stream_job::startup::StreamJob;
use test_support::orders::SampleOrder;
use test_support::servers::endpoints::required;
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

/// What a metadata request over `env`'s Kafka connection answers: Ok, or librdkafka's reason.
async fn kafka_answer(env: &Vec<(String, String)>) -> Result<(), String> {
    let connection =
        KafkaConnection::from_settings(&Settings::new(env)).map_err(|e| e.to_string())?;
    tokio::task::spawn_blocking(move || connection.check(Duration::from_secs(10)))
        .await
        .expect("the check ran")
        .map_err(|e| format!("{e:#}"))
}

async fn cassandra_answer(env: &Vec<(String, String)>) -> Result<(), String> {
    let config = CassandraConfig::from_settings(&Settings::new(env)).map_err(|e| e.to_string())?;
    connect(&config)
        .await
        .map(drop)
        .map_err(|e| format!("{e:#}"))
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
            kafka_answer(&with(&secured, &[("KAFKA_SSL_CA_LOCATION", &stranger_ca)])).await,
            "certificate verify failed",
        ),
        (
            kafka_answer(&with(
                &secured,
                &[("KAFKA_SASL_PASSWORD", "not-the-password")],
            ))
            .await,
            "invalid credentials",
        ),
        (
            cassandra_answer(&with(&secured, &[("CASSANDRA_TLS_CA_FILE", &stranger_ca)])).await,
            "certificate verify failed",
        ),
        (
            cassandra_answer(&with(
                &secured,
                &[("CASSANDRA_PASSWORD", "not-the-password")],
            ))
            .await,
            "password are incorrect",
        ),
    ];
    for (answer, reason) in refusals {
        let error = answer.expect_err("a wrong CA or password must be refused");
        assert!(error.contains(reason), "expected {reason:?} in: {error}");
    }
    assert_eq!(kafka_answer(&secured).await, Ok(()));
    assert_eq!(cassandra_answer(&secured).await, Ok(()));

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
    let posted = client
        .post(format!("{ingest_url}/v1/orders"))
        .bearer_auth(INGEST_KEY)
        .json(&sale)
        .send()
        .await
        .expect("post");
    assert_eq!(posted.status(), 202);

    // stream-job consumes over SASL_SSL and writes to Cassandra over TLS.
    let job = StreamJob::start(StreamConfig::from_settings(&settings).expect("job config"))
        .await
        .expect("stream-job starts");
    let deadline = Instant::now() + Duration::from_secs(60);
    while stores.kafka.committed_total(&group, &stores.topic) < 1 {
        assert!(Instant::now() < deadline, "stream-job did not commit");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    job.shutdown().await.expect("the job stopped cleanly");

    // serving reads it over TLS.
    let serving = serving::startup::Application::build(
        ServingConfig::from_settings(&settings).expect("serving config"),
    )
    .await
    .expect("serving starts");
    let serving_url = format!("http://{}", serving.local_addr());
    assert!(
        serving
            .cassandra()
            .reached_within(Duration::from_secs(30))
            .await,
        "serving did not reach Cassandra over TLS"
    );
    tokio::spawn(serving.run(std::future::pending()));
    let order: serde_json::Value = client
        .get(format!("{serving_url}/v1/orders/secured-1"))
        .bearer_auth(SERVING_KEY)
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert_eq!(order["order_id"], "secured-1");
    assert_eq!(order["store_id"], "store-001");
    assert_eq!(order["total"], sale["total"]);
}
