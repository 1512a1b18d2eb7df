//! No secret reaches serving's output: started with a known API key and store passwords (and
//! Cassandra unreachable, so it logs its retries at debug level), none of them appears in anything
//! it prints.

use std::time::Duration;

const KEY: &str = "known-serving-key-5d0c8a21";
const CASSANDRA_PASSWORD: &str = "known-cassandra-password-e4b7";
const CLICKHOUSE_PASSWORD: &str = "known-clickhouse-password-0f93";

#[test]
fn keys_and_passwords_never_appear_in_the_output() {
    let output = test_support::process::output_of(
        env!("CARGO_BIN_EXE_serving"),
        &[],
        &[
            ("SERVING_API_KEYS", KEY),
            ("SERVING_LISTEN_ADDR", "127.0.0.1:0"),
            ("CASSANDRA_CONTACT_POINTS", "127.0.0.1:9"),
            ("CASSANDRA_USERNAME", "pipeline"),
            ("CASSANDRA_PASSWORD", CASSANDRA_PASSWORD),
            ("CLICKHOUSE_URL", "http://127.0.0.1:9"),
            ("CLICKHOUSE_PASSWORD", CLICKHOUSE_PASSWORD),
            ("RUST_LOG", "debug"),
        ],
        Duration::from_secs(3),
    );
    assert!(output.contains("starting serving"), "{output}");
    for secret in [KEY, CASSANDRA_PASSWORD, CLICKHOUSE_PASSWORD] {
        assert!(!output.contains(secret), "a secret was printed:\n{output}");
    }
}
