//! TLS to the stores, from configuration alone (managed Cassandra and ClickHouse services require
//! it): ClickHouse over HTTPS against a real server (Debian's clickhouse-server with a
//! certificate of its own), and a missing Cassandra CA file named. Kafka over SASL_SSL and
//! Cassandra over client encryption run end to end in `serving/tests/secured.rs`. One test per process: the
//! ClickHouse case sets `SSL_CERT_FILE`, the standard OpenSSL variable an operator sets for a
//! private CA.

use clickhouse::Row;
use sales_stores::cassandra::{connect, CassandraConfig};
use sales_stores::clickhouse::{client, ClickHouseConfig};
use serde::Deserialize;
use service_runtime::settings::Settings;
use test_support::cassandra::TestCassandra;
use test_support::clickhouse::debian_server::DebianServer;

#[derive(Row, Deserialize)]
struct Version {
    version: String,
}

async fn server_version(url: &str) -> anyhow::Result<String> {
    let env = vec![
        ("CLICKHOUSE_URL", url),
        ("CLICKHOUSE_DATABASE", "system"),
        ("CLICKHOUSE_VALIDATE_ROWS", "false"),
        ("CLICKHOUSE_REQUEST_TIMEOUT_MS", "5000"),
    ];
    let config = ClickHouseConfig::from_settings(&Settings::new(&env))?;
    let row: Version = client(&config)
        .query("SELECT version() AS version")
        .fetch_one()
        .await?;
    Ok(row.version)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stores_are_reached_over_tls_when_configured() {
    // Cassandra: a CA file that is not there is named (serving/tests/secured.rs runs the pipeline
    // over the node's client encryption).
    let cassandra = TestCassandra::start();
    let config = |extra: &[(&str, &str)]| {
        let mut env = cassandra.settings();
        env.extend_from_slice(extra);
        CassandraConfig::from_settings(&Settings::new(&env)).expect("config")
    };
    let missing = connect(&config(&[
        ("CASSANDRA_TLS", "true"),
        ("CASSANDRA_TLS_CA_FILE", "/nonexistent/ca.pem"),
    ]))
    .await
    .unwrap_err();
    assert!(
        format!("{missing:#}").contains("CASSANDRA_TLS_CA_FILE"),
        "{missing:#}"
    );

    let server = DebianServer::spawn();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while server_version(server.url()).await.is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "clickhouse-server did not start"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    // A certificate nobody vouched for is refused: the connection really is TLS, and verified.
    let untrusted = server_version(server.https_url()).await.unwrap_err();
    assert!(
        format!("{untrusted:#}")
            .to_lowercase()
            .contains("certificate"),
        "{untrusted:#}"
    );
    // Trusting the server's CA, the same client reads over HTTPS.
    std::env::set_var("SSL_CERT_FILE", server.certificate());
    assert_eq!(server_version(server.https_url()).await.unwrap(), "18.16.1");
}
