//! The cluster scenarios (issue 21): the pipeline on three Kafka brokers and three Cassandra nodes
//! (topics and keyspace replicated three ways, `min.insync.replicas=2`, reads and writes at
//! `LOCAL_QUORUM`) with three stream-job members in one group, while one node of something dies
//! or hangs under loadgen traffic. Each ends like every scenario: the job caught up, and DESIGN.md
//! §6's invariant against loadgen's record.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context};
use test_support::servers::cluster::Cluster;
use test_support::servers::kafka::Kafka;

use crate::scenarios::{
    crash_broker, finish, hang_broker, load_around, seconds, Load, Outcome, Scale,
};
use crate::stack::Stack;

/// The cluster scenarios' traffic: the fault and thirteen seconds more.
async fn load_over(stack: &mut Stack, scale: Scale, fault: Duration) -> (Instant, Load) {
    load_around(stack, scale, fault, Duration::from_secs(13)).await
}

fn cluster(stack: &mut Stack) -> anyhow::Result<&mut Cluster> {
    stack
        .cluster
        .as_mut()
        .context("the stack runs on no cluster")
}

fn broker(stack: &mut Stack, node: i32) -> anyhow::Result<&mut Kafka> {
    cluster(stack)?
        .broker(node)
        .with_context(|| format!("no broker {node}"))
}

/// The broker that leads the most partitions of the order topic, and how many it leads.
fn busiest_leader(stack: &Stack) -> (i32, usize) {
    let mut led: BTreeMap<i32, usize> = BTreeMap::new();
    for leader in stack.stores.kafka.leaders(&stack.stores.topic) {
        *led.entry(leader).or_default() += 1;
    }
    led.into_iter()
        .max_by_key(|&(id, count)| (count, -id))
        .unwrap_or((1, 0))
}

/// The broker leading the most partitions crashes (SIGKILL) and starts again on its data: the
/// other two take its partitions over with every acknowledged write (`acks=all` with two in-sync
/// replicas), and nothing accepted is lost.
pub async fn leader_killed(stack: &mut Stack, scale: Scale) -> anyhow::Result<Outcome> {
    let (started, load) = load_over(stack, scale, scale.broker_down).await;
    let (node, led) = busiest_leader(stack);
    let what = crash_broker(broker(stack, node)?, scale.broker_down).await?;
    let what = format!("broker {node} (leader of {led} of 6 partitions) {what}");
    finish(
        stack,
        "cluster: partition leader SIGKILLed",
        started,
        load,
        what,
        vec![],
    )
    .await
}

/// The broker leading the most partitions hangs (SIGSTOP) and carries on (SIGCONT): the
/// controller fences it, its partitions move, and nothing accepted is lost or counted twice.
pub async fn broker_hung(stack: &mut Stack, scale: Scale) -> anyhow::Result<Outcome> {
    let (started, load) = load_over(stack, scale, scale.broker_hang).await;
    let (node, led) = busiest_leader(stack);
    let what = hang_broker(broker(stack, node)?, scale.broker_hang).await?;
    let what = format!("broker {node} (leader of {led} of 6 partitions) {what}");
    finish(stack, "cluster: a broker hung", started, load, what, vec![]).await
}

/// One Cassandra node crashes (SIGKILL) for a while and starts again: the job goes on writing
/// at quorum on the other two and commits while the node is down; the others keep hints of what
/// it missed and hand them over once it is back, until none is left.
pub async fn cassandra_node_killed(stack: &mut Stack, scale: Scale) -> anyhow::Result<Outcome> {
    let (started, load) = load_over(stack, scale, scale.node_down).await;
    let host = "127.0.0.2";
    let node = cluster(stack)?
        .node(host)
        .with_context(|| format!("no node on {host}"))?;
    node.process.kill();
    let committed_at_kill = stack.committed();
    tokio::time::sleep(scale.node_down).await;
    let committed_while_down = stack.committed() - committed_at_kill;
    // Hints reach their files every hints_flush_period (10 s), so the first may still be in
    // memory when the outage ends: the node stays down until one is on disk (30 s more at most).
    let mut hints = cluster(stack)?.hints_held_by_others(host);
    let waiting = Instant::now();
    while hints.bytes == 0 && waiting.elapsed() < Duration::from_secs(30) {
        tokio::time::sleep(Duration::from_secs(1)).await;
        hints = cluster(stack)?.hints_held_by_others(host);
    }
    let node = cluster(stack)?
        .node(host)
        .with_context(|| format!("no node on {host}"))?;
    let back = node.restart(Duration::from_secs(180)).await?;
    ensure!(
        committed_while_down > 0,
        "stream-job committed nothing while one Cassandra node of three was down"
    );
    ensure!(
        hints.bytes > 0,
        "the other nodes hold no hints for the node that was down"
    );
    // The node has caught up once the others have handed every hint over and deleted its file.
    let back_at = Instant::now();
    loop {
        let left = cluster(stack)?.hints_held_by_others(host);
        if left.files == 0 {
            break;
        }
        ensure!(
            back_at.elapsed() < Duration::from_secs(300),
            "{} hint files still held for {host} 300 s after it came back",
            left.files
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let caught_up = back_at.elapsed();
    finish(
        stack,
        "cluster: a Cassandra node SIGKILLed",
        started,
        load,
        format!(
            "node {host} SIGKILLed for {} s, then restarted (answering {:.1} s later)",
            scale.node_down.as_secs(),
            back.as_secs_f64()
        ),
        vec![
            format!("{committed_while_down} messages committed at quorum while it was down"),
            format!(
                "{} hint files ({} KiB) for it; all handed over {:.1} s after it answered",
                hints.files,
                hints.bytes / 1024,
                caught_up.as_secs_f64()
            ),
        ],
    )
    .await
}

/// Of three stream-job members, one crashes (SIGKILL) and another is stopped (SIGTERM, a
/// deploy); the group gives their partitions to the one left, and both start again later. Nothing
/// is lost or counted twice.
pub async fn members_lost(stack: &mut Stack, scale: Scale) -> anyhow::Result<Outcome> {
    ensure!(stack.members.len() == 3, "the stack has no three members");
    let started = Instant::now();
    let load = stack.load(scale.orders, scale.rate, 1);
    let quarter = seconds(scale.rate, scale.orders) / 4;
    tokio::time::sleep(quarter).await;
    stack.members[1].service.kill().await?;
    tokio::time::sleep(quarter).await;
    let status = stack.members[2]
        .service
        .terminate(Duration::from_secs(30))
        .await?;
    ensure!(
        status.success(),
        "stream-job member 3 exited with {status} after SIGTERM"
    );
    tokio::time::sleep(quarter).await;
    stack.members[1].service.start().await?;
    stack.members[2].service.start().await?;
    finish(
        stack,
        "cluster: two of three stream-job members lost",
        started,
        load,
        "member 2 SIGKILLed at a quarter of the load, member 3 SIGTERMed at half; both started again at three quarters".into(),
        vec!["member 3 exited 0".into()],
    )
    .await
}
