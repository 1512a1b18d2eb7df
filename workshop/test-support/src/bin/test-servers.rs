//! `test-servers`: Apache Kafka and Apache Cassandra from Maven Central (DESIGN.md §8), started
//! once for a test run, `scripts/run-local` or a benchmark. It fetches their class paths when
//! missing, starts one broker and one node on loopback, waits until each answers its protocol,
//! writes their settings (login included) as `export` lines to the endpoints file, and stops both
//! by PID on SIGTERM or Ctrl-C (and they die with it if it is killed). With `--cluster` it starts
//! three of each instead (issue 21).

use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use test_support::servers::cluster::Cluster;
use test_support::servers::{self, Ports, TestServers};

/// What runs until the launcher is stopped (dropping it stops the servers).
#[expect(dead_code, reason = "held only to be dropped")]
enum Running {
    One(Box<TestServers>),
    Cluster(Cluster),
}

/// Starts Apache Kafka and Apache Cassandra from Maven Central on loopback and writes their
/// endpoints to a file until stopped.
#[derive(Parser)]
#[command(name = "test-servers")]
struct Cli {
    /// Where the servers keep their data (reused when there).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Start Kafka and Cassandra with no data (their directories under DIR are emptied).
    #[arg(long)]
    fresh: bool,
    /// The broker's plain listener (default: a free port).
    #[arg(long)]
    kafka_port: Option<u16>,
    /// Cassandra's native port (default: a free port).
    #[arg(long)]
    cassandra_port: Option<u16>,
    /// The file of `export` lines (default: target/test-servers/run/endpoints.env).
    #[arg(long)]
    endpoints: Option<PathBuf>,
    /// Three Kafka brokers and three Cassandra nodes on 127.0.0.1, .2 and .3, replicated three
    /// ways (DIR/cluster, always fresh), instead of one of each.
    #[arg(long)]
    cluster: bool,
    /// Only fetch the class paths from Maven Central.
    #[arg(long)]
    fetch_only: bool,
    /// A topic to create once the broker answers, as NAME:PARTITIONS (repeatable).
    #[arg(long = "topic", value_parser = topic)]
    topics: Vec<(String, i32)>,
    /// Start nothing: create the --topic topics on the broker KAFKA_BOOTSTRAP_SERVERS names.
    #[arg(long)]
    topics_only: bool,
}

fn topic(text: &str) -> Result<(String, i32), String> {
    let (name, partitions) = text
        .rsplit_once(':')
        .ok_or_else(|| format!("{text:?} is not NAME:PARTITIONS"))?;
    let partitions = partitions
        .parse()
        .map_err(|_| format!("{partitions:?} is not a partition count"))?;
    Ok((name.to_string(), partitions))
}

async fn create_topics(topics: &[(String, i32)]) {
    let kafka = test_support::kafka::TestKafka::start();
    for (name, partitions) in topics {
        kafka.create_topic(name, *partitions).await;
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let dir = cli
        .dir
        .unwrap_or_else(|| servers::target_dir().join("test-servers/run"));
    let endpoints_file = cli
        .endpoints
        .unwrap_or_else(servers::endpoints::default_file);
    let ports = Ports {
        kafka: cli.kafka_port,
        cassandra: cli.cassandra_port,
    };
    if cli.topics_only {
        create_topics(&cli.topics).await;
        return Ok(());
    }
    servers::maven::class_path("kafka")?;
    servers::maven::class_path("cassandra")?;
    if cli.fetch_only {
        return Ok(());
    }
    if cli.fresh {
        // The servers' data only: DIR may also hold this launcher's own log.
        for server in ["kafka", "cassandra"] {
            let data = dir.join(server);
            if data.exists() {
                std::fs::remove_dir_all(&data)
                    .with_context(|| format!("cannot empty {}", data.display()))?;
            }
        }
    }
    std::fs::create_dir_all(&dir)?;
    let _ = std::fs::remove_file(&endpoints_file);
    let (servers, endpoints) = if cli.cluster {
        let cluster = Cluster::start(&dir.join("cluster")).await?;
        let mut endpoints = cluster.endpoints();
        endpoints.set("TEST_SERVERS_PID", std::process::id().to_string());
        (Running::Cluster(cluster), endpoints)
    } else {
        let servers = TestServers::start(&dir, &ports).await?;
        let endpoints = servers.endpoints();
        (Running::One(Box::new(servers)), endpoints)
    };
    for (name, value) in &endpoints.vars {
        if name.starts_with("KAFKA_") {
            std::env::set_var(name, value);
        }
    }
    create_topics(&cli.topics).await;
    // The endpoints carry the login, so they go to the file alone, never to the log.
    println!(
        "Kafka at {}, Cassandra at {}; settings in {}",
        endpoints.get("KAFKA_BOOTSTRAP_SERVERS").unwrap_or_default(),
        endpoints
            .get("CASSANDRA_CONTACT_POINTS")
            .unwrap_or_default(),
        endpoints_file.display()
    );
    // Written whole, then renamed, so a reader never sees half of it.
    let partial = endpoints_file.with_extension("partial");
    if let Some(parent) = endpoints_file.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(&partial, endpoints.to_shell())?;
    std::fs::rename(&partial, &endpoints_file)?;
    service_runtime::shutdown::signal().await;
    let _ = std::fs::remove_file(&endpoints_file);
    eprintln!("stopping the test servers");
    drop(servers);
    Ok(())
}
