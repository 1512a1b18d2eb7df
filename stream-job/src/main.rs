use std::path::PathBuf;

use anyhow::Context;
use chrono::{DateTime, Utc};
use clap::{Args, Parser, Subcommand};
use sales_stores::cassandra::{self, schema};
use service_runtime::{shutdown, telemetry};
use stream_job::configuration::StreamConfig;
use stream_job::replay::{self, Selection};
use stream_job::startup::StreamJob;

/// The consumer of the order topic. Settings come from the environment (README, "stream-job").
#[derive(Parser)]
#[command(name = "stream-job")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Consume the order topic (the default).
    Run,
    /// Apply the cql/ files (DIR, default ./cql) to Cassandra and exit;
    /// CASSANDRA_REPLICATION overrides the keyspace's replication map.
    ApplySchema { dir: Option<PathBuf> },
    /// Read the dead-letter topic (KAFKA_DLQ_TOPIC), and send letters through the pipeline again.
    #[command(subcommand)]
    DeadLetters(DeadLetters),
}

#[derive(Subcommand)]
enum DeadLetters {
    /// Count the letters by reason and by hour, and list them.
    List(Chosen),
    /// One letter: its headers, key and original bytes.
    Show {
        /// The letter's PARTITION:OFFSET in the dead-letter topic (as `list` prints it).
        position: String,
    },
    /// Re-publish the chosen letters to the order topic. A letter that would be refused again
    /// (still invalid, or its id taken by other content) is named and not sent; replaying a
    /// letter twice changes nothing (it is a retry).
    Replay {
        #[command(flatten)]
        chosen: Chosen,
        /// Only these letters: PARTITION:OFFSET, comma-separated.
        #[arg(long, value_delimiter = ',')]
        offsets: Vec<String>,
        /// Say what would happen and send nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Args)]
struct Chosen {
    /// Only letters with this reason code (malformed, invalid_order, conflicting_duplicate, …).
    #[arg(long)]
    reason: Option<String>,
    /// Only letters written at or after this instant (RFC 3339).
    #[arg(long)]
    since: Option<DateTime<Utc>>,
    /// Only letters written before this instant (RFC 3339).
    #[arg(long)]
    until: Option<DateTime<Utc>>,
}

impl Chosen {
    fn selection(self) -> Selection {
        Selection {
            reason: self.reason,
            since: self.since,
            until: self.until,
            positions: Vec::new(),
        }
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let settings = telemetry::start();
    let config = StreamConfig::from_settings(&settings).context("stream-job cannot start")?;
    match cli.command.unwrap_or(Command::Run) {
        Command::Run => {
            tracing::info!(?config, "starting stream-job");
            let job = StreamJob::start(config).await?;
            tracing::info!(admin = %job.admin_addr(), "running");
            job.run_until(shutdown::signal()).await
        }
        Command::ApplySchema { dir } => {
            let dir = dir.unwrap_or_else(|| PathBuf::from("cql"));
            let session = cassandra::connect(&config.cassandra)
                .await
                .context("cannot reach Cassandra")?;
            let replication = config.cassandra_replication.clone();
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
        Command::DeadLetters(command) => dead_letters(&config, command).await,
    }
}

async fn dead_letters(config: &StreamConfig, command: DeadLetters) -> anyhow::Result<()> {
    match command {
        DeadLetters::List(chosen) => {
            let selection = chosen.selection();
            let letters: Vec<_> = replay::read_letters(config)?
                .into_iter()
                .filter(|l| selection.takes(l))
                .collect();
            print!("{}", replay::summary(&letters));
        }
        DeadLetters::Show { position } => {
            let (partition, offset) = replay::parse_position(&position)?;
            let letter = replay::read_letters(config)?
                .into_iter()
                .find(|l| (l.partition, l.offset) == (partition, offset))
                .with_context(|| {
                    format!("{} has no letter at {position}", config.kafka.dlq_topic)
                })?;
            print!("{}", replay::describe(&letter));
        }
        DeadLetters::Replay {
            chosen,
            offsets,
            dry_run,
        } => {
            let mut selection = chosen.selection();
            selection.positions = offsets
                .iter()
                .map(|o| replay::parse_position(o))
                .collect::<anyhow::Result<_>>()?;
            let (report, _) = replay::replay(config, &selection, dry_run).await?;
            print!("{report}");
        }
    }
    Ok(())
}
