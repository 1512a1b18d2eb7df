use std::path::PathBuf;

use anyhow::Context;
use sales_stores::cassandra::{self, schema};
use service_runtime::{shutdown, telemetry};
use stream_job::configuration::StreamConfig;
use stream_job::startup::StreamJob;

const USAGE: &str = "usage: stream-job [run | apply-schema [DIR]]
  run            consume the order topic (default)
  apply-schema   apply the cql/ files (DIR, default ./cql) to Cassandra and exit;
                 CASSANDRA_REPLICATION overrides the keyspace's replication map";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let settings = telemetry::start();
    let config = StreamConfig::from_settings(&settings).context("stream-job cannot start")?;
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        None | Some("run") => {
            tracing::info!(?config, "starting stream-job");
            let job = StreamJob::start(config).await?;
            tracing::info!(admin = %job.admin_addr(), "running");
            job.run_until(shutdown::signal()).await
        }
        Some("apply-schema") => {
            let dir = PathBuf::from(args.get(1).map_or("cql", String::as_str));
            let session = cassandra::connect(&config.cassandra)
                .await
                .context("cannot reach Cassandra")?;
            let replication = settings.raw("CASSANDRA_REPLICATION");
            let applied = schema::apply(
                &session,
                &dir,
                &config.cassandra.keyspace,
                replication.as_deref(),
            )
            .await?;
            tracing::info!(statements = applied, keyspace = %config.cassandra.keyspace, "schema applied");
            Ok(())
        }
        Some(_) => {
            eprintln!("{USAGE}");
            std::process::exit(2);
        }
    }
}
