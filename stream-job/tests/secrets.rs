//! No secret reaches stream-job's output: started with known store passwords (and the stores
//! unreachable, so it logs its retries at debug level), neither password appears in anything it
//! prints.

use std::time::Duration;

const CASSANDRA_PASSWORD: &str = "known-cassandra-password-9c2e";
const CLICKHOUSE_PASSWORD: &str = "known-clickhouse-password-71af";

#[test]
fn store_passwords_never_appear_in_the_output() {
    let output = test_support::process::output_of(
        env!("CARGO_BIN_EXE_stream-job"),
        &["run"],
        &[
            ("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9"),
            ("CASSANDRA_CONTACT_POINTS", "127.0.0.1:9"),
            ("CASSANDRA_USERNAME", "pipeline"),
            ("CASSANDRA_PASSWORD", CASSANDRA_PASSWORD),
            ("CLICKHOUSE_URL", "http://127.0.0.1:9"),
            ("CLICKHOUSE_PASSWORD", CLICKHOUSE_PASSWORD),
            ("STREAM_JOB_ADMIN_ADDR", "127.0.0.1:0"),
            ("RUST_LOG", "debug"),
        ],
        Duration::from_secs(3),
    );
    assert!(output.contains("starting stream-job"), "{output}");
    for secret in [CASSANDRA_PASSWORD, CLICKHOUSE_PASSWORD] {
        assert!(
            !output.contains(secret),
            "a password was printed:\n{output}"
        );
    }
}
