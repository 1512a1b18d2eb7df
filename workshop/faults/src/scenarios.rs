//! The scenarios of the fault suite. Each offers loadgen traffic to the real binaries, injects
//! its fault, waits until stream-job has caught up, and ends with DESIGN.md §6's invariant
//! against loadgen's record: every accepted event in both stores, and ClickHouse's totals equal
//! to the record's.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context};
use rand::prelude::*;
use rand_chacha::ChaCha8Rng;
use rdkafka::message::Headers;
use serde_json::{json, Value};
use test_support::orders::SampleOrder;
use test_support::servers::kafka::Kafka;

use crate::stack::Stack;

/// How hard the suite pushes: `short` for CI, `full` as the issue asks.
#[derive(Debug, Clone, Copy)]
pub struct Scale {
    pub rate: f64,
    pub broker_down: Duration,
    pub kill_orders: u64,
    pub kills: usize,
    pub outage: Duration,
    pub poison: usize,
    /// Orders offered by the other scenarios.
    pub orders: u64,
    /// How long a broker of the cluster hangs (SIGSTOP).
    pub broker_hang: Duration,
    /// How long a Cassandra node of the cluster stays dead.
    pub node_down: Duration,
}

impl Scale {
    pub const SHORT: Scale = Scale {
        rate: 250.0,
        broker_down: Duration::from_secs(10),
        kill_orders: 5_000,
        kills: 5,
        outage: Duration::from_secs(10),
        poison: 1_000,
        orders: 3_000,
        broker_hang: Duration::from_secs(15),
        node_down: Duration::from_secs(20),
    };
    pub const FULL: Scale = Scale {
        rate: 1_000.0,
        broker_down: Duration::from_secs(10),
        kill_orders: 50_000,
        kills: 20,
        outage: Duration::from_secs(30),
        poison: 1_000,
        orders: 20_000,
        broker_hang: Duration::from_secs(30),
        node_down: Duration::from_secs(60),
    };
}

/// One line of the report.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub scenario: &'static str,
    pub load: String,
    pub faults: String,
    pub accepted: String,
    pub in_cassandra: usize,
    pub in_clickhouse: usize,
    pub events: usize,
    pub totals_exact: bool,
    /// The highest consumer lag sampled while loadgen ran (messages).
    pub peak_lag: i64,
    /// Seconds from the end of the load until the committed offsets reached the topic's end.
    pub caught_up: f64,
    pub notes: String,
    pub seconds: f64,
    pub passed: bool,
    pub problems: Vec<String>,
}

/// Waits for the load, lets the job catch up, checks, and writes the outcome.
pub(crate) async fn finish(
    stack: &mut Stack,
    scenario: &'static str,
    started: Instant,
    load: Load,
    faults: String,
    mut notes: Vec<String>,
) -> anyhow::Result<Outcome> {
    let (summary, facts) = load.await??;
    let caught_up = stack.settle(Duration::from_secs(300)).await?;
    let peak_lag = stack.peak_lag().await;
    let (own, all) = stack.check(&facts).await?;
    if summary.unavailable_503 > 0 {
        notes.push(format!("{} answers 503", summary.unavailable_503));
    }
    if summary.transport_errors > 0 {
        notes.push(format!(
            "{} requests retried after a transport error",
            summary.transport_errors
        ));
    }
    let mut problems = own.problems.clone();
    problems.extend(all.problems.iter().cloned());
    Ok(Outcome {
        scenario,
        load: format!(
            "{} orders at {:.0}/s, {} refused as invalid (422), {} retries/duplicates",
            summary.sales_sent,
            summary.orders_per_second,
            summary.events_rejected,
            summary.repeats_accepted
        ),
        faults,
        accepted: format!(
            "{} orders, {} refunds, {} voids",
            summary.orders_accepted, summary.refunds_accepted, summary.voids_accepted
        ),
        in_cassandra: own.found_in_cassandra,
        in_clickhouse: own.found_in_clickhouse,
        events: own.sales + own.refunds,
        totals_exact: all.ok(),
        peak_lag,
        caught_up: caught_up.as_secs_f64(),
        notes: notes.join("; "),
        seconds: started.elapsed().as_secs_f64(),
        passed: own.ok() && all.ok(),
        problems,
    })
}

pub(crate) fn seconds(rate: f64, orders: u64) -> Duration {
    Duration::from_secs_f64(orders as f64 / rate)
}

pub(crate) type Load =
    tokio::task::JoinHandle<anyhow::Result<(loadgen::stats::Summary, Vec<loadgen::traffic::Fact>)>>;

/// Traffic around a fault: single orders for `fault` and `after` more, three seconds under way
/// when this returns.
pub(crate) async fn load_around(
    stack: &mut Stack,
    scale: Scale,
    fault: Duration,
    after: Duration,
) -> (Instant, Load) {
    let started = Instant::now();
    let orders = (scale.rate * (fault + after).as_secs_f64()) as u64;
    let load = stack.load(orders, scale.rate, 1);
    tokio::time::sleep(Duration::from_secs(3)).await;
    (started, load)
}

fn own_broker(stack: &mut Stack) -> anyhow::Result<&mut Kafka> {
    stack
        .broker
        .as_mut()
        .context("the stack has no broker of its own")
}

/// The broker scenarios' traffic: the outage and ten seconds more.
async fn broker_load(stack: &mut Stack, scale: Scale) -> (Instant, Load) {
    load_around(stack, scale, scale.broker_down, Duration::from_secs(10)).await
}

/// The stack's own broker crashes (SIGKILL) during ingest load and starts again on its data after
/// a while: ingest-api answers 503 (never 2xx without Kafka's ack), loadgen retries after
/// `Retry-After`, stream-job reconnects, and everything accepted arrives.
pub async fn broker_killed(stack: &mut Stack, scale: Scale) -> anyhow::Result<Outcome> {
    let (started, load) = broker_load(stack, scale).await;
    let what = crash_broker(own_broker(stack)?, scale.broker_down).await?;
    let what = format!("broker {what}");
    finish(stack, "Kafka broker SIGKILLed", started, load, what, vec![]).await
}

/// The stack's own broker hangs (SIGSTOP: its sockets stay open, nothing answers) during ingest
/// load, then carries on (SIGCONT): requests time out rather than fail fast, and nothing accepted
/// is lost or counted twice.
pub async fn broker_hung(stack: &mut Stack, scale: Scale) -> anyhow::Result<Outcome> {
    let (started, load) = broker_load(stack, scale).await;
    let what = hang_broker(own_broker(stack)?, scale.broker_down).await?;
    let what = format!("broker {what}");
    finish(stack, "Kafka broker hung", started, load, what, vec![]).await
}

/// `broker` crashes (SIGKILL) for `down` and starts again on its data; what happened, for the
/// report.
pub async fn crash_broker(broker: &mut Kafka, down: Duration) -> anyhow::Result<String> {
    let back = broker
        .process
        .crash_for(down, Duration::from_secs(120))
        .await?;
    Ok(format!(
        "SIGKILLed, restarted on its data after {} s (answering {:.1} s later)",
        down.as_secs(),
        back.as_secs_f64()
    ))
}

/// `broker` hangs (SIGSTOP) for `hang`, then carries on (SIGCONT); what happened, for the report.
pub async fn hang_broker(broker: &mut Kafka, hang: Duration) -> anyhow::Result<String> {
    broker.process.hang_for(hang).await?;
    Ok(format!("SIGSTOPped for {} s, then SIGCONT", hang.as_secs()))
}

/// stream-job SIGKILLed at random moments and started again while orders stream in.
pub async fn kills(stack: &mut Stack, scale: Scale) -> anyhow::Result<Outcome> {
    let started = Instant::now();
    let load = stack.load(scale.kill_orders, scale.rate, 1);
    let span = seconds(scale.rate, scale.kill_orders).as_secs_f64();
    let mut rng = ChaCha8Rng::seed_from_u64(20_261_122);
    let mut moments: Vec<f64> = (0..scale.kills)
        .map(|_| rng.random_range(0.05..0.95) * span)
        .collect();
    moments.sort_by(f64::total_cmp);
    let mut elapsed = 0.0;
    for moment in &moments {
        tokio::time::sleep(Duration::from_secs_f64((moment - elapsed).max(0.2))).await;
        elapsed = started.elapsed().as_secs_f64();
        stack.job().kill().await?;
        stack.job().start().await?;
    }
    finish(
        stack,
        "stream-job SIGKILLed",
        started,
        load,
        format!("{} SIGKILLs at random moments", moments.len()),
        vec![],
    )
    .await
}

/// Cassandra, then ClickHouse, unreachable for a while under load: the job backs off, reports
/// unhealthy, commits nothing while a store is down, and catches up afterwards.
pub async fn store_outages(stack: &mut Stack, scale: Scale) -> anyhow::Result<Outcome> {
    let started = Instant::now();
    let orders = (scale.rate * (2.0 * scale.outage.as_secs_f64() + 15.0)) as u64;
    let load = stack.load(orders, scale.rate, 10);
    let mut notes = Vec::new();
    for store in ["Cassandra", "ClickHouse"] {
        tokio::time::sleep(Duration::from_secs(4)).await;
        let proxy = if store == "Cassandra" {
            stack
                .cassandra_proxy
                .as_ref()
                .context("Cassandra is a cluster here, with no proxy to cut")?
        } else {
            &stack.clickhouse_proxy
        };
        proxy.cut();
        let cut_at = Instant::now();
        // /health turns 503 once a write to the store has failed: at once when the connection is
        // refused, after the request timeout when a request was in flight.
        let mut health = stack.job_health().await;
        while health != 503 && cut_at.elapsed() + Duration::from_secs(2) < scale.outage {
            tokio::time::sleep(Duration::from_millis(100)).await;
            health = stack.job_health().await;
        }
        let red_after = cut_at.elapsed();
        // A batch in flight when the store went away may still be committed; after that, none.
        tokio::time::sleep(Duration::from_secs(1)).await;
        let committed = stack.committed();
        tokio::time::sleep(scale.outage.saturating_sub(cut_at.elapsed())).await;
        let still = stack.committed();
        proxy.restore();
        ensure!(
            still == committed,
            "stream-job committed {} messages while {store} was unreachable",
            still - committed
        );
        ensure!(
            health == 503,
            "stream-job's /health answered {health} while {store} was unreachable"
        );
        notes.push(format!(
            "{store}: nothing committed while down, /health 503 after {:.1} s",
            red_after.as_secs_f64()
        ));
    }
    finish(
        stack,
        "Cassandra, then ClickHouse, unreachable",
        started,
        load,
        format!(
            "Cassandra down {0} s, then ClickHouse down {0} s",
            scale.outage.as_secs()
        ),
        notes,
    )
    .await
}

/// Messages no POS could send, written straight to the topic among loadgen's orders: every one a
/// dead letter with its reason, and the totals untouched.
pub async fn poison(stack: &mut Stack, scale: Scale) -> anyhow::Result<Outcome> {
    let started = Instant::now();
    let dlq = format!("{}.dlq", stack.stores.topic);
    let dead_before = stack.stores.kafka.end_offsets_total(&dlq);
    let load = stack.load(scale.orders, scale.rate, 1);
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let good: Value = serde_json::from_slice(
        &SampleOrder::new("poison-template", "store-001", chrono::Utc::now())
            .line("sku-latte", "Latte", 1, 350)
            .envelope()
            .to_json(),
    )?;
    let producer: rdkafka::producer::FutureProducer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", stack.stores.kafka.bootstrap_servers())
        .create()?;
    for n in 0..scale.poison {
        let key = format!("poison-{n}");
        let payload: Vec<u8> = match n % 4 {
            0 => (0..rng.random_range(1..200))
                .map(|_| rng.random())
                .collect(),
            1 => json!({"schema_version": 2, "kind": "order", "hello": n})
                .to_string()
                .into_bytes(),
            2 => {
                let mut bad = good.clone();
                bad["order"]["order_id"] = json!(key);
                bad["order"]["total_minor"] = json!(-1 - n as i64);
                bad.to_string().into_bytes()
            }
            _ => {
                let mut bad = good.clone();
                bad["order"]["order_id"] = json!(key);
                bad["order"]["created_at"] = json!("2300-01-01T00:00:00Z");
                bad.to_string().into_bytes()
            }
        };
        producer
            .send(
                rdkafka::producer::FutureRecord::to(&stack.stores.topic)
                    .key(&key)
                    .payload(&payload),
                Duration::from_secs(10),
            )
            .await
            .map_err(|(e, _)| e)?;
        if n % 50 == 49 {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let outcome = finish(
        stack,
        "poison messages on the topic",
        started,
        load,
        format!(
            "{} poison messages (random bytes, wrong schema, invalid orders, out-of-range times)",
            scale.poison
        ),
        vec![],
    )
    .await?;
    let dead_after = stack.stores.kafka.end_offsets_total(&dlq);
    let dead = (dead_after - dead_before) as usize;
    ensure!(
        dead == scale.poison,
        "{dead} dead letters for {} poison messages",
        scale.poison
    );
    let letters = stack
        .stores
        .kafka
        .read_topic(&dlq, dead_after as usize, Duration::from_secs(30));
    let mut codes: BTreeMap<String, usize> = BTreeMap::new();
    for letter in letters.iter().skip(dead_before as usize) {
        let code = rdkafka::Message::headers(letter)
            .and_then(|h| {
                h.iter()
                    .find(|h| h.key == "dlq.error.code")
                    .and_then(|h| h.value)
                    .map(|v| String::from_utf8_lossy(v).into_owned())
            })
            .unwrap_or_else(|| "no reason".into());
        *codes.entry(code).or_default() += 1;
    }
    ensure!(
        !codes.contains_key("no reason"),
        "dead letters without a reason: {codes:?}"
    );
    let codes: Vec<String> = codes.iter().map(|(c, n)| format!("{c} {n}")).collect();
    Ok(crate::scenarios::Outcome {
        notes: format!(
            "{}; {dead} dead letters: {}",
            outcome.notes,
            codes.join(", ")
        ),
        ..outcome
    })
}

/// ingest-api, then stream-job, stopped with SIGTERM under load (a deploy) and started again:
/// both exit cleanly, and nothing accepted is lost.
pub async fn sigterm(stack: &mut Stack, scale: Scale) -> anyhow::Result<Outcome> {
    let started = Instant::now();
    let load = stack.load(scale.orders, scale.rate, 1);
    let span = seconds(scale.rate, scale.orders);
    let mut notes = Vec::new();
    tokio::time::sleep(span / 3).await;
    let status = stack.ingest.terminate(Duration::from_secs(30)).await?;
    ensure!(
        status.success(),
        "ingest-api exited with {status} after SIGTERM"
    );
    stack.ingest.start().await?;
    notes.push("ingest-api exited 0 and came back".to_string());
    tokio::time::sleep(span / 3).await;
    let status = stack.job().terminate(Duration::from_secs(30)).await?;
    ensure!(
        status.success(),
        "stream-job exited with {status} after SIGTERM"
    );
    stack.job().start().await?;
    notes.push("stream-job exited 0 and came back".to_string());
    finish(
        stack,
        "SIGTERM under load",
        started,
        load,
        "SIGTERM to ingest-api, then to stream-job".into(),
        notes,
    )
    .await
}
