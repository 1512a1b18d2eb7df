//! A cluster on one machine, as issue 21's deployment runs it: three Apache Kafka nodes in KRaft
//! (each a broker and a controller of one quorum) and three Apache Cassandra nodes of one data
//! centre, node *n* of each on `127.0.0.n`. Linux routes all of 127.0.0.0/8 to loopback, so every
//! node keeps the same ports on its own address with no aliases set up.
//!
//! Topics on it get three replicas and `min.insync.replicas=2`, keyspaces
//! `NetworkTopologyStrategy` with three replicas, and the logins (`system_auth`) three replicas
//! too, so any one node of each may die while the pipeline reads and writes at quorum. The two
//! nodes after the seed bootstrap (take their ranges with the data in them), one at a time.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;
use scylla::client::session::Session;

use super::cassandra::{Cassandra, CassandraOptions, SUPERUSER};
use super::kafka::{new_cluster_id, Kafka, KafkaOptions, Voter};
use super::Endpoints;

/// Node *n*'s address.
pub const HOSTS: [&str; 3] = ["127.0.0.1", "127.0.0.2", "127.0.0.3"];
/// The data centre `cassandra-rackdc.properties` names.
pub const DATA_CENTRE: &str = "datacenter1";
/// Replicas of every topic, keyspace and the logins.
pub const REPLICAS: usize = 3;
/// Writes a partition needs acknowledged (`min.insync.replicas`).
pub const MIN_INSYNC: usize = 2;
/// The superuser the cluster's clients log in as, made once `system_auth` has three replicas,
/// so every node holds it (the built-in `cassandra` role lives where the first node put it).
pub const LOGIN: (&str, &str) = ("cluster_admin", "cluster-admin-password");

/// Hint files on disk, and their bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HintsHeld {
    pub files: usize,
    pub bytes: u64,
}

pub struct Cluster {
    pub brokers: Vec<Kafka>,
    pub nodes: Vec<Cassandra>,
}

/// A port free on every one of `hosts`, so each node listens on the same one.
fn shared_port(hosts: &[&str]) -> anyhow::Result<u16> {
    for _ in 0..100 {
        let port = super::free_port(hosts[0])?;
        if hosts[1..]
            .iter()
            .all(|host| std::net::TcpListener::bind((*host, port)).is_ok())
        {
            return Ok(port);
        }
    }
    anyhow::bail!("no port is free on all of {hosts:?}")
}

/// The keyspace replication map the cluster's keyspaces get.
pub fn keyspace_replication() -> String {
    format!("{{'class': 'NetworkTopologyStrategy', '{DATA_CENTRE}': {REPLICAS}}}")
}

/// How many times a node that fails to join is started again.
const JOIN_ATTEMPTS: u32 = 3;

/// Starts a node that joins the ring. On a loaded machine the seed can stall for seconds (a
/// CI run logged a 13.8 s pause), and a joining node that hears nothing from it within its ring
/// delay gives up ("Unable to contact any seeds") and exits. It is then started again on the
/// same data, where Cassandra resumes the interrupted bootstrap.
async fn join(options: CassandraOptions, within: Duration) -> anyhow::Result<Cassandra> {
    let host = options.host.clone();
    let mut node = Cassandra::spawn(options)?;
    let mut attempt = 1;
    loop {
        match node.process.wait_ready(within).await {
            Ok(_) => return Ok(node),
            Err(error) if attempt < JOIN_ATTEMPTS => {
                // The first line names the exit and the log; the log's tail follows it.
                let reason = error.to_string();
                let reason = reason.lines().next().unwrap_or_default();
                eprintln!("cassandra {host} did not join (attempt {attempt}: {reason}); starting it again");
                attempt += 1;
                tokio::time::sleep(Duration::from_secs(5)).await;
                node.process.restart()?;
            }
            Err(error) => return Err(error),
        }
    }
}

impl Cluster {
    /// Starts three brokers and three Cassandra nodes with their data under `dir` (emptied
    /// first), and waits until all answer. The brokers start together (their quorum needs a
    /// majority); Cassandra's seed starts first and the two others join it.
    pub async fn start(dir: &Path) -> anyhow::Result<Cluster> {
        let dir = std::path::absolute(dir)?;
        if dir.exists() {
            std::fs::remove_dir_all(&dir)
                .with_context(|| format!("cannot empty {}", dir.display()))?;
        }
        let within = Duration::from_secs(240);
        let started = Instant::now();
        let kafka_port = shared_port(&HOSTS)?;
        let controller_port = shared_port(&HOSTS)?;
        let voters: Vec<Voter> = HOSTS
            .iter()
            .enumerate()
            .map(|(i, host)| Voter {
                node_id: i as u32 + 1,
                host: host.to_string(),
                controller_port,
            })
            .collect();
        let cluster_id = new_cluster_id();
        let mut brokers = Vec::new();
        for (voter, host) in voters.iter().zip(HOSTS) {
            brokers.push(Kafka::spawn(KafkaOptions {
                dir: dir.join(format!("kafka-{}", voter.node_id)),
                node_id: voter.node_id,
                host: host.to_string(),
                port: kafka_port,
                controller_port,
                voters: voters.clone(),
                cluster_id: cluster_id.clone(),
                sasl_ssl: None,
                internal_replication: REPLICAS,
                heap_mb: 384,
            })?);
        }
        let native_port = shared_port(&HOSTS)?;
        let storage_port = shared_port(&HOSTS)?;
        let options = |n: usize| CassandraOptions {
            dir: dir.join(format!("cassandra-{}", n + 1)),
            host: HOSTS[n].to_string(),
            native_port,
            storage_port,
            seed: HOSTS[0].to_string(),
            certificates: None,
            heap_mb: 768,
            token_replication: REPLICAS,
        };
        let mut seed = Cassandra::spawn(options(0))?;
        seed.process.wait_ready(within).await?;
        let mut nodes = vec![seed];
        for broker in &mut brokers {
            broker.process.wait_ready(within).await?;
        }
        let kafka_ready = started.elapsed();
        // The two others join the seed one at a time: a node takes its tokens from the ring it sees.
        for n in 1..HOSTS.len() {
            nodes.push(join(options(n), within).await?);
        }
        let cluster = Cluster { brokers, nodes };
        cluster.replicate_logins().await?;
        eprintln!(
            "cluster up in {:.1} s: Kafka {} ({:.1} s), Cassandra {}",
            started.elapsed().as_secs_f64(),
            cluster.bootstrap(),
            kafka_ready.as_secs_f64(),
            cluster.contact_points(),
        );
        Ok(cluster)
    }

    /// `system_auth` replicated three ways, and [`LOGIN`] made while every node is up: a login
    /// must not depend on the one node that happened to hold it. Retried while the nodes settle
    /// their view of the ring.
    async fn replicate_logins(&self) -> anyhow::Result<()> {
        let statements = [
            format!(
                "ALTER KEYSPACE system_auth WITH replication = {}",
                keyspace_replication()
            ),
            format!(
                "CREATE ROLE IF NOT EXISTS {} WITH PASSWORD = '{}' AND LOGIN = true AND SUPERUSER = true",
                LOGIN.0, LOGIN.1
            ),
        ];
        let mut attempt = 0;
        loop {
            attempt += 1;
            let result = async {
                let session = self.session_as(SUPERUSER).await?;
                for statement in &statements {
                    session.query_unpaged(statement.as_str(), ()).await?;
                }
                // Every node answers the new login.
                for node in &self.nodes {
                    scylla::client::session_builder::SessionBuilder::new()
                        .known_node(node.contact_point())
                        .user(LOGIN.0, LOGIN.1)
                        .build()
                        .await?;
                }
                anyhow::Ok(())
            }
            .await;
            match result {
                Ok(()) => return Ok(()),
                Err(error) if attempt < 30 => {
                    eprintln!("cluster logins not ready ({error:#}); trying again");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                Err(error) => return Err(error.context("cannot set up the cluster's login")),
            }
        }
    }

    /// A session on the whole cluster as [`LOGIN`].
    pub async fn session(&self) -> anyhow::Result<Session> {
        self.session_as(LOGIN).await
    }

    async fn session_as(&self, (user, password): (&str, &str)) -> anyhow::Result<Session> {
        Ok(scylla::client::session_builder::SessionBuilder::new()
            .known_nodes(self.nodes.iter().map(|n| n.contact_point()))
            .user(user, password)
            .build()
            .await?)
    }

    /// The hints the nodes other than `host` hold on disk, with one node down: the writes it
    /// missed, handed over and deleted once it is back. Read from their hints directories, not
    /// `system_views.pending_hints`, which lists a file only once its writer has closed it (and a
    /// node keeps writing one file for a target for as long as the target is down).
    pub fn hints_held_by_others(&self, host: &str) -> HintsHeld {
        let files = self
            .nodes
            .iter()
            .filter(|node| node.options.host != host)
            .filter_map(|node| std::fs::read_dir(node.options.dir.join("data/hints")).ok())
            .flatten()
            .flatten()
            .filter(|entry| entry.path().extension().is_some_and(|e| e == "hints"));
        let mut held = HintsHeld::default();
        for file in files {
            held.files += 1;
            held.bytes += file.metadata().map(|m| m.len()).unwrap_or(0);
        }
        held
    }

    /// Every broker's `host:port`, for `KAFKA_BOOTSTRAP_SERVERS`.
    pub fn bootstrap(&self) -> String {
        let all: Vec<String> = self.brokers.iter().map(Kafka::bootstrap).collect();
        all.join(",")
    }

    /// Every node's `host:port`, for `CASSANDRA_CONTACT_POINTS`.
    pub fn contact_points(&self) -> String {
        let all: Vec<String> = self.nodes.iter().map(Cassandra::contact_point).collect();
        all.join(",")
    }

    /// The broker with Kafka's node id `node_id`.
    pub fn broker(&mut self, node_id: i32) -> Option<&mut Kafka> {
        self.brokers
            .iter_mut()
            .find(|b| b.options.node_id as i32 == node_id)
    }

    /// The Cassandra node on `host`.
    pub fn node(&mut self, host: &str) -> Option<&mut Cassandra> {
        self.nodes.iter_mut().find(|n| n.options.host == host)
    }

    /// What a test (or a service) reads to reach the cluster, with the replication the issue's
    /// deployment asks for.
    pub fn endpoints(&self) -> Endpoints {
        let mut endpoints = Endpoints::default();
        endpoints.set("KAFKA_BOOTSTRAP_SERVERS", self.bootstrap());
        endpoints.set("KAFKA_REPLICATION_FACTOR", REPLICAS.to_string());
        endpoints.set("KAFKA_MIN_INSYNC_REPLICAS", MIN_INSYNC.to_string());
        endpoints.set("CASSANDRA_CONTACT_POINTS", self.contact_points());
        endpoints.set("CASSANDRA_USERNAME", LOGIN.0);
        endpoints.set("CASSANDRA_PASSWORD", LOGIN.1);
        endpoints.set("CASSANDRA_LOCAL_DC", DATA_CENTRE);
        endpoints.set("CASSANDRA_CONSISTENCY", "LOCAL_QUORUM");
        endpoints.set("CASSANDRA_REPLICATION", keyspace_replication());
        endpoints
    }
}
