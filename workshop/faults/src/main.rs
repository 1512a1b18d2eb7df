//! `fault-suite`: the pipeline's real binaries under loadgen traffic while its dependencies and
//! processes fail. `--full` runs the scale the reliability page reports (50,000 orders through 20
//! kills, 30 s store outages, a Cassandra node down 60 s); without it, a short run for CI. The
//! `cluster-*` scenarios run on three brokers and three Cassandra nodes it starts once (issue 21).
//! Prints a markdown table and writes it to `--report`; exits non-zero if any scenario broke the
//! invariant.
//!
//! Needs `ingest-api` and `stream-job` built beside it: `scripts/fault-suite` builds and runs it.

mod cluster;
mod scenarios;
mod stack;

use std::path::PathBuf;
use std::time::Instant;

use clap::Parser;
use scenarios::{Outcome, Scale};
use stack::{Backing, Stack};
use test_support::servers::cluster::Cluster;

#[derive(Parser)]
#[command(
    name = "fault-suite",
    about = "The pipeline under faults, checked against loadgen's record"
)]
struct Cli {
    /// The full scale and every scenario (about 25 minutes with release builds); without it, the
    /// short CI run, which leaves out the cluster's two broker scenarios.
    #[arg(long)]
    full: bool,
    /// Run only these scenarios: broker, broker-hang, kills, outages, poison, sigterm,
    /// cluster-leader, cluster-broker-hang, cluster-cassandra, cluster-members.
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Where the markdown report goes.
    #[arg(long, default_value = "target/fault-suite/report.md")]
    report: PathBuf,
    /// Logs of the services and loadgen's records.
    #[arg(long, default_value = "target/fault-suite")]
    dir: PathBuf,
}

const SCENARIOS: [&str; 10] = [
    "broker",
    "broker-hang",
    "kills",
    "outages",
    "poison",
    "sigterm",
    "cluster-leader",
    "cluster-broker-hang",
    "cluster-cassandra",
    "cluster-members",
];

/// What the short run leaves out to stay within the test command's time: the single broker's
/// kill and hang cover the clients' side; the cluster's Cassandra node and members remain.
const SHORT_LEAVES_OUT: [&str; 2] = ["cluster-leader", "cluster-broker-hang"];

fn table(outcomes: &[Outcome], scale: &str, seconds: f64) -> String {
    let mut text = format!(
        "Fault suite ({scale}), {:.0} s, on {} ({} cores). Each row ran on fresh stores and ends with DESIGN.md §6's invariant against loadgen's record.\n\n\
         | scenario | load held | faults injected | accepted | in Cassandra | in ClickHouse | totals exact | peak consumer lag | caught up after the load | result | notes |\n\
         | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n",
        seconds,
        std::env::consts::ARCH,
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    for o in outcomes {
        text.push_str(&format!(
            "| {} | {} | {} | {} | {} of {} | {} of {} | {} | {} messages | {:.1} s | {} ({:.0} s) | {} |\n",
            o.scenario,
            o.load,
            o.faults,
            o.accepted,
            o.in_cassandra,
            o.events,
            o.in_clickhouse,
            o.events,
            if o.totals_exact { "yes" } else { "NO" },
            o.peak_lag,
            o.caught_up,
            if o.passed { "pass" } else { "FAIL" },
            o.seconds,
            o.notes
        ));
    }
    text
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if std::env::var_os("RUST_LOG").is_none() {
        // The Cassandra driver's reconnection warnings while a proxy is cut are noise here.
        std::env::set_var("RUST_LOG", "info,scylla=off");
    }
    service_runtime::telemetry::init("text");
    let (scale, name) = if cli.full {
        (Scale::FULL, "full")
    } else {
        (Scale::SHORT, "short")
    };
    for name in &cli.only {
        anyhow::ensure!(
            SCENARIOS.contains(&name.as_str()),
            "no scenario {name:?}; choose from {SCENARIOS:?}"
        );
    }
    let started = Instant::now();
    let mut outcomes = Vec::new();
    // Started once, at the first cluster scenario, and handed from stack to stack.
    let mut cluster: Option<Cluster> = None;
    for scenario in SCENARIOS {
        let chosen = if cli.only.is_empty() {
            cli.full || !SHORT_LEAVES_OUT.contains(&scenario)
        } else {
            cli.only.iter().any(|o| o == scenario)
        };
        if !chosen {
            continue;
        }
        // Fresh stores and processes for each scenario, so its invariant is about its own traffic;
        // the broker scenarios start a broker of their own to kill or hang.
        let backing = if scenario.starts_with("cluster") {
            match cluster.take() {
                Some(cluster) => Backing::Cluster(cluster),
                None => Backing::Cluster(Cluster::start(&cli.dir.join("cluster")).await?),
            }
        } else if scenario.starts_with("broker") {
            Backing::OwnBroker
        } else {
            Backing::Run
        };
        let mut stack = Stack::start(&cli.dir.join(scenario), backing).await?;
        tracing::info!(scenario, "starting");
        let outcome = match scenario {
            "broker" => scenarios::broker_killed(&mut stack, scale).await,
            "broker-hang" => scenarios::broker_hung(&mut stack, scale).await,
            "kills" => scenarios::kills(&mut stack, scale).await,
            "outages" => scenarios::store_outages(&mut stack, scale).await,
            "poison" => scenarios::poison(&mut stack, scale).await,
            "sigterm" => scenarios::sigterm(&mut stack, scale).await,
            "cluster-leader" => cluster::leader_killed(&mut stack, scale).await,
            "cluster-broker-hang" => cluster::broker_hung(&mut stack, scale).await,
            "cluster-cassandra" => cluster::cassandra_node_killed(&mut stack, scale).await,
            _ => cluster::members_lost(&mut stack, scale).await,
        };
        cluster = stack.into_cluster().await.or(cluster);
        let outcome = outcome.unwrap_or_else(|error| Outcome {
            scenario,
            load: String::new(),
            faults: String::new(),
            accepted: String::new(),
            in_cassandra: 0,
            in_clickhouse: 0,
            events: 0,
            totals_exact: false,
            peak_lag: 0,
            caught_up: 0.0,
            notes: format!("{error:#}"),
            seconds: 0.0,
            passed: false,
            problems: vec![format!("{error:#}")],
        });
        tracing::info!(scenario, passed = outcome.passed, notes = %outcome.notes, "done");
        for problem in &outcome.problems {
            tracing::error!(scenario, %problem, "invariant broken");
        }
        let failed = !outcome.passed;
        outcomes.push(outcome);
        if failed {
            break;
        }
    }
    let report = table(&outcomes, name, started.elapsed().as_secs_f64());
    println!("{report}");
    if let Some(parent) = cli.report.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(&cli.report, &report)?;
    if outcomes.iter().any(|o| !o.passed) {
        anyhow::bail!("a scenario failed; logs in {}", cli.dir.display());
    }
    Ok(())
}
