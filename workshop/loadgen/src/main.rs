//! The loadgen command: `loadgen` posts traffic (see `--help`), `loadgen check` compares a record
//! with the stores. Every option can also come from the environment variable it names, as compose
//! sets them.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use loadgen::catalog::{Catalog, PRICE_LIST, SEED_STORES};
use loadgen::run::{run, Curve, RunConfig};
use loadgen::traffic::{Mix, Traffic};
use sales_stores::cassandra::CassandraConfig;
use sales_stores::clickhouse::ClickHouseConfig;
use service_runtime::{telemetry, SecretString};
use tokio_util::sync::CancellationToken;

#[derive(Parser)]
#[command(
    name = "loadgen",
    version,
    about = "Realistic POS traffic for ingest-api, and a check of what reached the stores"
)]
#[command(args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    post: PostArgs,
}

#[derive(Subcommand)]
enum Command {
    /// Compare a record of accepted events with Cassandra and ClickHouse (settings from the
    /// same CASSANDRA_* / CLICKHOUSE_* / BUSINESS_TIME_ZONE variables as the services).
    Check(CheckArgs),
}

#[derive(Args)]
struct CheckArgs {
    /// The record written by `loadgen --record`.
    #[arg(long, env = "LOADGEN_RECORD")]
    record: PathBuf,
    /// The record is the only traffic the stores saw: totals must be equal, not just contain it.
    #[arg(long)]
    exclusive: bool,
}

#[derive(Args)]
struct PostArgs {
    /// ingest-api's base URL.
    #[arg(long, env = "INGEST_URL", default_value = "http://localhost:8080")]
    url: String,
    /// One of ingest-api's keys (INGEST_API_KEYS).
    #[arg(long, env = "INGEST_API_KEY", hide_env_values = true)]
    key: Option<String>,
    /// Orders per second; 0 sends as fast as the senders can.
    #[arg(long, env = "LOADGEN_RATE", default_value_t = 20.0)]
    rate: f64,
    /// Stop after this many orders (steps), counting those of the run resumed.
    #[arg(long, env = "LOADGEN_COUNT")]
    count: Option<u64>,
    /// Stop after this long (`90s`, `10m`, `2h`).
    #[arg(long, env = "LOADGEN_DURATION", value_parser = humantime::parse_duration)]
    duration: Option<Duration>,
    /// Requests in flight at once.
    #[arg(long, env = "LOADGEN_CONCURRENCY", default_value_t = 8)]
    concurrency: usize,
    /// Orders per request: 1 posts to /v1/orders, more to /v1/orders/batch.
    #[arg(long, env = "LOADGEN_BATCH", default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=1000))]
    batch: u64,
    /// How the rate moves over the business day.
    #[arg(long, env = "LOADGEN_CURVE", value_enum, default_value_t = Curve::Flat)]
    curve: Curve,
    /// The same seed sends the same orders (ids, stores, baskets, amounts); without one, a seed
    /// from the clock is chosen and printed.
    #[arg(long, env = "LOADGEN_SEED")]
    seed: Option<u64>,
    /// CSV of stores (first column `store_id`); default: the ClickHouse store seed.
    #[arg(long, env = "LOADGEN_STORES_FILE")]
    stores_file: Option<PathBuf>,
    /// CSV price list `sku,name,price_eur`; default: the bundled café menu.
    #[arg(long, env = "LOADGEN_PRICE_LIST")]
    price_list: Option<PathBuf>,
    /// Currencies the stores sell in, handed out store by store.
    #[arg(
        long,
        env = "LOADGEN_CURRENCIES",
        value_delimiter = ',',
        default_value = "EUR,USD,JPY,KWD"
    )]
    currencies: Vec<String>,
    /// Percent of accepted orders sent again, as a POS retry.
    #[arg(long, env = "LOADGEN_RETRY_PERCENT", default_value_t = 2.0)]
    retry_percent: f64,
    /// Percent of orders sent twice in their batch (batch mode).
    #[arg(long, env = "LOADGEN_DUPLICATE_PERCENT", default_value_t = 1.0)]
    duplicate_percent: f64,
    /// Percent of orders made invalid (they must get 422).
    #[arg(long, env = "LOADGEN_INVALID_PERCENT", default_value_t = 1.0)]
    invalid_percent: f64,
    /// Percent of orders made minutes to six days before they are sent.
    #[arg(long, env = "LOADGEN_LATE_PERCENT", default_value_t = 2.0)]
    late_percent: f64,
    /// Percent of orders refunded later, in full or in part.
    #[arg(long, env = "LOADGEN_REFUND_PERCENT", default_value_t = 3.0)]
    refund_percent: f64,
    /// Percent of orders voided later.
    #[arg(long, env = "LOADGEN_VOID_PERCENT", default_value_t = 1.0)]
    void_percent: f64,
    /// Business days of the record are in this zone; set it as the pipeline's.
    #[arg(long, env = "BUSINESS_TIME_ZONE", default_value = "UTC")]
    business_time_zone: String,
    /// Write each accepted event to this file (JSON lines), and a journal beside it.
    #[arg(long, env = "LOADGEN_RECORD")]
    record: Option<PathBuf>,
    /// Go on with the run whose --record is named.
    #[arg(long, requires = "record")]
    resume: bool,
    /// Write the final figures as JSON to this file.
    #[arg(long)]
    summary: Option<PathBuf>,
    /// Seconds before a request counts as failed (and is retried).
    #[arg(long, default_value_t = 30)]
    request_timeout: u64,
    /// No progress bar or progress log lines.
    #[arg(long)]
    quiet: bool,
}

fn mix(args: &PostArgs) -> anyhow::Result<Mix> {
    let mix = Mix {
        retry: args.retry_percent,
        duplicate: args.duplicate_percent,
        invalid: args.invalid_percent,
        late: args.late_percent,
        refund: args.refund_percent,
        void: args.void_percent,
    };
    let shares = [
        mix.retry,
        mix.duplicate,
        mix.invalid,
        mix.late,
        mix.refund,
        mix.void,
    ];
    if shares.iter().any(|p| !(0.0..=100.0).contains(p)) {
        anyhow::bail!("every percentage must be between 0 and 100");
    }
    if mix.refund + mix.void > 100.0 {
        anyhow::bail!("refund and void percentages together can be 100 at most");
    }
    Ok(mix)
}

fn read(path: &Option<PathBuf>, bundled: &'static str) -> anyhow::Result<String> {
    match path {
        Some(path) => {
            std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
        }
        None => Ok(bundled.to_string()),
    }
}

async fn post(args: PostArgs) -> anyhow::Result<()> {
    let key = args
        .key
        .clone()
        .context("set INGEST_API_KEY (or --key) to one of ingest-api's keys")?;
    if !(args.rate >= 0.0 && args.rate.is_finite()) {
        anyhow::bail!("--rate must be 0 (as fast as possible) or a positive number");
    }
    let catalog = Catalog::from_csv(
        &read(&args.stores_file, SEED_STORES)?,
        &read(&args.price_list, PRICE_LIST)?,
        &args.currencies,
    )?;
    let zone = args
        .business_time_zone
        .parse()
        .map_err(|e| anyhow::anyhow!("BUSINESS_TIME_ZONE: {e}"))?;
    let seed = args.seed.unwrap_or_else(|| {
        chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default() as u64 % 1_000_000_007
    });
    tracing::info!(
        seed,
        url = %args.url,
        rate = args.rate,
        batch = args.batch,
        concurrency = args.concurrency,
        stores = catalog.stores.len(),
        products = catalog.products.len(),
        "posting orders"
    );
    let traffic = Arc::new(Traffic::new(seed, catalog, mix(&args)?, zone));
    let config = RunConfig {
        base_url: args.url,
        key: SecretString::from(key),
        rate: args.rate,
        count: args.count,
        duration: args.duration,
        concurrency: args.concurrency.max(1),
        batch: args.batch as usize,
        curve: args.curve,
        record: args.record,
        resume: args.resume,
        seed,
        request_timeout: Duration::from_secs(args.request_timeout.max(1)),
        progress: !args.quiet,
    };
    let (stop, abandon) = (CancellationToken::new(), CancellationToken::new());
    tokio::spawn(stop_on_signals(stop.clone(), abandon.clone()));
    let summary = run(traffic, config, stop, abandon).await?;
    println!("{summary}");
    if let Some(path) = args.summary {
        std::fs::write(&path, serde_json::to_vec_pretty(&summary)?)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}

/// The first Ctrl-C or SIGTERM stops sending and lets requests in flight finish; a second one
/// gives up on them (the journal keeps them for `--resume`).
async fn stop_on_signals(stop: CancellationToken, abandon: CancellationToken) {
    let Ok(mut term) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
    else {
        return;
    };
    for token in [stop, abandon] {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        tracing::info!("stopping: requests in flight finish (signal again to give up on them)");
        token.cancel();
    }
}

async fn check(
    args: CheckArgs,
    settings: &service_runtime::settings::Settings<'_>,
) -> anyhow::Result<bool> {
    let facts = loadgen::record::read_facts(&args.record)?;
    let cassandra = CassandraConfig::from_settings(settings)?;
    let clickhouse = ClickHouseConfig::from_settings(settings)?;
    let report = loadgen::check::check(&facts, &cassandra, &clickhouse, args.exclusive).await?;
    println!("{report}");
    Ok(report.ok())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let settings = telemetry::start();
    match cli.command {
        Some(Command::Check(args)) => {
            if !check(args, &settings).await? {
                std::process::exit(1);
            }
            Ok(())
        }
        None => post(cli.post).await,
    }
}
