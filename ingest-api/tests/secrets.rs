//! No secret reaches ingest-api's output: started with a known API key (and Kafka unreachable, so
//! it logs its retries at debug level), the key never appears in anything it prints.

use std::time::Duration;

const KEY: &str = "known-ingest-key-4b1d5e7f";

#[test]
fn the_api_key_never_appears_in_the_output() {
    let output = test_support::process::output_of(
        env!("CARGO_BIN_EXE_ingest-api"),
        &[],
        &[
            ("INGEST_API_KEYS", KEY),
            ("INGEST_LISTEN_ADDR", "127.0.0.1:0"),
            ("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9"),
            ("RUST_LOG", "debug"),
        ],
        Duration::from_secs(3),
    );
    assert!(output.contains("starting ingest-api"), "{output}");
    assert!(!output.contains(KEY), "the key was printed:\n{output}");
}
