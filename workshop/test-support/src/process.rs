//! Running one of the project's binaries as a user would, to read what it prints: in particular,
//! that no key or password it was given ever appears there.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::Duration;

/// Starts `binary` with `env` added to the environment, lets it run for `run_for`, stops it, and
/// returns everything it printed (stdout, then stderr).
pub fn output_of(binary: &str, args: &[&str], env: &[(&str, &str)], run_for: Duration) -> String {
    let mut child = Command::new(binary)
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {binary}: {e}"));
    std::thread::sleep(run_for);
    let _ = child.kill();
    let _ = child.wait();
    let mut output = String::new();
    for stream in [
        child.stdout.take().map(|s| Box::new(s) as Box<dyn Read>),
        child.stderr.take().map(|s| Box::new(s) as Box<dyn Read>),
    ]
    .into_iter()
    .flatten()
    {
        let mut stream = stream;
        let _ = stream.read_to_string(&mut output);
    }
    output
}

/// Secrets every binary may be given; none may ever appear in what a binary prints.
const SECRETS: [(&str, &str); 5] = [
    ("INGEST_API_KEYS", "known-ingest-key-4b1d5e7f"),
    ("SERVING_API_KEYS", "known-serving-key-5d0c8a21"),
    ("CASSANDRA_PASSWORD", "known-cassandra-password-9c2e"),
    ("CLICKHOUSE_PASSWORD", "known-clickhouse-password-71af"),
    ("KAFKA_SASL_PASSWORD", "known-kafka-password-3e9b"),
];

/// Starts `binary` with every secret set, every store and broker unreachable (so it logs its
/// retries) and debug logging, and asserts that it printed `started` and none of the secrets.
pub fn assert_no_secret_printed(binary: &str, args: &[&str], started: &str) {
    let mut env = vec![
        ("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9"),
        ("CASSANDRA_CONTACT_POINTS", "127.0.0.1:9"),
        ("CASSANDRA_USERNAME", "pipeline"),
        ("KAFKA_SECURITY_PROTOCOL", "sasl_plaintext"),
        ("KAFKA_SASL_USERNAME", "pipeline"),
        ("CLICKHOUSE_URL", "http://127.0.0.1:9"),
        ("INGEST_LISTEN_ADDR", "127.0.0.1:0"),
        ("SERVING_LISTEN_ADDR", "127.0.0.1:0"),
        ("STREAM_JOB_ADMIN_ADDR", "127.0.0.1:0"),
        ("RUST_LOG", "debug"),
    ];
    env.extend(SECRETS);
    let output = output_of(binary, args, &env, Duration::from_secs(3));
    assert!(
        output.contains(started),
        "{binary} did not start:\n{output}"
    );
    for (var, secret) in SECRETS {
        assert!(
            !output.contains(secret),
            "{binary} printed {var}:\n{output}"
        );
    }
}
