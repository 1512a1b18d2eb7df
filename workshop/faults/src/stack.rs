//! The pipeline under test: ingest-api and stream-job as child processes on the current ClickHouse
//! engine from `test_support` (behind a cuttable TCP proxy) and one of three backings:
//! - the run's Kafka and Cassandra (or those the environment names), Cassandra behind a cuttable
//!   proxy;
//! - the same with a broker of the stack's own (Apache Kafka from `test-servers`) that a scenario
//!   can SIGKILL, SIGSTOP and restart on its data;
//! - a [`Cluster`] of three brokers and three Cassandra nodes, with three stream-job members in
//!   one group reading and writing at `LOCAL_QUORUM`.
//!
//! It also samples the group's consumer lag while loadgen runs, knows when the job has caught up,
//! and checks a record against the stores.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use loadgen::catalog::{Catalog, PRICE_LIST, SEED_STORES};
use loadgen::check::Report;
use loadgen::run::{Curve, RunConfig};
use loadgen::stats::Summary;
use loadgen::traffic::{Fact, Mix, Traffic};
use sales_stores::cassandra::CassandraConfig;
use sales_stores::clickhouse::ClickHouseConfig;
use service_runtime::settings::Settings;
use test_support::cassandra::TestCassandra;
use test_support::clickhouse::TestClickHouse;
use test_support::kafka::TestKafka;
use test_support::proxy::TcpProxy;
use test_support::servers::cluster::{self, Cluster};
use test_support::servers::kafka::{Kafka, KafkaOptions};
use test_support::stores::{repository_root, TestStores};
use tokio_util::sync::CancellationToken;

use test_support::service::{free_local_addr, Service};

pub const KEY: &str = "fault-suite-key-0123456789";
pub const GROUP: &str = "fault-suite";
/// Not a whole hour from UTC, so a business day computed in UTC anywhere would show.
pub const ZONE: &str = "Asia/Kolkata";

/// What the stack's Kafka and Cassandra are.
pub enum Backing {
    /// The run's servers.
    Run,
    /// The run's Cassandra and a broker of the stack's own.
    OwnBroker,
    /// Three of each, replicated three ways.
    Cluster(Cluster),
}

pub struct Stack {
    pub stores: TestStores,
    /// The stack's own broker, when it was started with one.
    pub broker: Option<Kafka>,
    /// The cluster under the stack, when it runs on one.
    pub cluster: Option<Cluster>,
    /// In front of the run's Cassandra; a cluster is reached directly (the driver finds every
    /// node of it).
    pub cassandra_proxy: Option<TcpProxy>,
    pub clickhouse_proxy: TcpProxy,
    pub ingest: Service,
    /// stream-job's members of one consumer group: one, or three on a cluster.
    pub members: Vec<Member>,
    pub ingest_url: String,
    pub dir: PathBuf,
    /// Every fact recorded so far, over all scenarios.
    pub facts: Vec<Fact>,
    runs: usize,
    lag: Option<LagWatch>,
}

/// One stream-job process and its admin address.
pub struct Member {
    pub service: Service,
    pub admin_url: String,
}

/// The group's consumer lag, sampled twice a second while loadgen runs.
struct LagWatch {
    stop: CancellationToken,
    peak: tokio::task::JoinHandle<i64>,
}

impl Drop for LagWatch {
    /// A scenario that fails before [`Stack::peak_lag`] still stops the sampler: the runtime
    /// waits for its blocking thread at exit.
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

fn authority(url: &str) -> &str {
    url.split("://").nth(1).unwrap_or(url).trim_end_matches('/')
}

impl Stack {
    /// Starts the services on `backing` (a cluster is given back by [`Stack::into_cluster`]).
    pub async fn start(dir: &Path, backing: Backing) -> anyhow::Result<Stack> {
        std::fs::create_dir_all(dir)?;
        let (kafka, cassandra, broker, cluster) = match backing {
            Backing::Run => (TestKafka::start(), TestCassandra::start(), None, None),
            Backing::OwnBroker => {
                let kafka_dir = dir.join("kafka");
                let _ = std::fs::remove_dir_all(&kafka_dir);
                let options = KafkaOptions::single(&kafka_dir, "127.0.0.1")?;
                let mut broker = Kafka::spawn(options)?;
                broker.process.wait_ready(Duration::from_secs(120)).await?;
                let kafka = TestKafka::at(&broker.bootstrap());
                (kafka, TestCassandra::start(), Some(broker), None)
            }
            Backing::Cluster(cluster) => {
                let kafka = TestKafka::cluster(
                    &cluster.bootstrap(),
                    cluster::REPLICAS as i32,
                    cluster::MIN_INSYNC as i32,
                );
                let replication = cluster::keyspace_replication();
                let cassandra = TestCassandra::at(
                    &cluster.contact_points(),
                    cluster::LOGIN,
                    Some(&replication),
                );
                (kafka, cassandra, None, Some(cluster))
            }
        };
        let clickhouse = TestClickHouse::start().await;
        let cql = repository_root().join("cql");
        let stores = TestStores::on(kafka, cassandra, clickhouse, 6, &cql).await;
        let cassandra_proxy = match cluster {
            Some(_) => None,
            None => Some(TcpProxy::start(stores.cassandra.contact_point()).await),
        };
        let clickhouse_proxy = TcpProxy::start(authority(stores.clickhouse.url())).await;
        let ingest_addr = free_local_addr()?;
        let common = [("BUSINESS_TIME_ZONE", ZONE), ("RUST_LOG", "info")];
        let mut ingest_env = stores.env(&common);
        ingest_env.extend([
            ("INGEST_LISTEN_ADDR".into(), ingest_addr.clone()),
            ("INGEST_API_KEYS".into(), KEY.into()),
        ]);
        let clickhouse_url = format!("http://{}", clickhouse_proxy.addr());
        let cassandra_addr = match &cassandra_proxy {
            Some(proxy) => proxy.addr(),
            None => stores.cassandra.contact_point().to_string(),
        };
        let mut job_settings = common.to_vec();
        job_settings.extend([
            ("STREAM_JOB_GROUP", GROUP),
            ("STREAM_JOB_MAX_BACKOFF_MS", "2000"),
            ("CASSANDRA_CONTACT_POINTS", &cassandra_addr),
            ("CLICKHOUSE_URL", &clickhouse_url),
        ]);
        if cluster.is_some() {
            job_settings.extend([
                ("CASSANDRA_LOCAL_DC", cluster::DATA_CENTRE),
                ("CASSANDRA_CONSISTENCY", "LOCAL_QUORUM"),
            ]);
        }
        let ingest_url = format!("http://{ingest_addr}");
        let mut ingest = Service::new(
            "ingest-api",
            &[],
            ingest_env,
            dir,
            format!("{ingest_url}/health"),
        )?;
        ingest.start().await?;
        let count = if cluster.is_some() { 3 } else { 1 };
        let mut members = Vec::new();
        for n in 1..=count {
            let admin_addr = free_local_addr()?;
            let mut settings = job_settings.clone();
            settings.push(("STREAM_JOB_ADMIN_ADDR", &admin_addr));
            // Each member logs to a folder of its own (stream-job.log in each).
            let logs = if n == 1 {
                dir.to_path_buf()
            } else {
                dir.join(format!("member-{n}"))
            };
            std::fs::create_dir_all(&logs)?;
            let admin_url = format!("http://{admin_addr}");
            let mut service = Service::new(
                "stream-job",
                &["run"],
                stores.env(&settings),
                &logs,
                format!("{admin_url}/health"),
            )?;
            service.start().await?;
            members.push(Member { service, admin_url });
        }
        Ok(Stack {
            stores,
            broker,
            cluster,
            cassandra_proxy,
            clickhouse_proxy,
            ingest,
            members,
            ingest_url,
            dir: dir.to_path_buf(),
            facts: Vec::new(),
            runs: 0,
            lag: None,
        })
    }

    /// The first (or only) stream-job member.
    pub fn job(&mut self) -> &mut Service {
        &mut self.members[0].service
    }

    /// Stops the services and gives back the cluster the stack ran on.
    pub async fn into_cluster(mut self) -> Option<Cluster> {
        for member in &mut self.members {
            let _ = member.service.kill().await;
        }
        let _ = self.ingest.kill().await;
        self.cluster.take()
    }

    /// Starts loadgen: `count` orders at `rate`/s with the default mix (retries, duplicates,
    /// invalid and late orders, refunds, voids) in batches of `batch`; its record goes to the
    /// scenario's file.
    pub fn load(
        &mut self,
        count: u64,
        rate: f64,
        batch: usize,
    ) -> tokio::task::JoinHandle<anyhow::Result<(Summary, Vec<Fact>)>> {
        self.runs += 1;
        let record = self.dir.join(format!("record-{}.jsonl", self.runs));
        let _ = std::fs::remove_file(&record);
        let _ = std::fs::remove_file(record.with_extension("jsonl.journal"));
        let seed = 1_000 + self.runs as u64;
        self.watch_lag();
        let config = RunConfig {
            base_url: self.ingest_url.clone(),
            key: service_runtime::SecretString::from(KEY.to_string()),
            rate,
            count: Some(count),
            duration: None,
            concurrency: 16,
            batch,
            curve: Curve::Flat,
            record: Some(record.clone()),
            resume: false,
            seed,
            request_timeout: Duration::from_secs(30),
            progress: false,
        };
        tokio::spawn(async move {
            let catalog = Catalog::from_csv(
                SEED_STORES,
                PRICE_LIST,
                &["EUR", "USD", "JPY", "KWD"].map(String::from),
            )?;
            let zone = ZONE.parse().map_err(|e| anyhow::anyhow!("{e}"))?;
            let traffic = Arc::new(Traffic::new(seed, catalog, Mix::default(), zone));
            let summary = loadgen::run::run(
                traffic,
                config,
                CancellationToken::new(),
                CancellationToken::new(),
            )
            .await?;
            let facts = loadgen::record::read_facts(&record)?;
            Ok((summary, facts))
        })
    }

    /// Samples the group's lag twice a second until [`Stack::peak_lag`].
    fn watch_lag(&mut self) {
        // One sampler at a time: a second load replaces the first one's.
        if let Some(previous) = self.lag.take() {
            previous.stop.cancel();
        }
        let stop = CancellationToken::new();
        let bootstrap = self.stores.kafka.bootstrap_servers().to_string();
        let topic = self.stores.topic.clone();
        let token = stop.clone();
        let peak = tokio::task::spawn_blocking(move || {
            let kafka = TestKafka::at(&bootstrap);
            let mut peak = 0;
            while !token.is_cancelled() {
                // A sample the cluster cannot answer (a broker just died) is skipped.
                if let Ok(lag) = kafka.try_lag(GROUP, &topic) {
                    peak = peak.max(lag);
                }
                std::thread::sleep(Duration::from_millis(500));
            }
            peak
        });
        self.lag = Some(LagWatch { stop, peak });
    }

    /// The highest consumer lag sampled since loadgen started (messages), and stops sampling.
    pub async fn peak_lag(&mut self) -> i64 {
        match self.lag.take() {
            Some(mut watch) => {
                watch.stop.cancel();
                (&mut watch.peak).await.unwrap_or(0)
            }
            None => 0,
        }
    }

    /// Waits until the job has committed everything on the topic (lag zero); how long it took.
    pub async fn settle(&self, within: Duration) -> anyhow::Result<Duration> {
        self.stores
            .kafka
            .wait_caught_up(GROUP, &self.stores.topic, within)
            .await
            .map_err(|e| anyhow::anyhow!("stream-job: {e}"))
    }

    pub fn committed(&self) -> i64 {
        self.stores.kafka.committed_total(GROUP, &self.stores.topic)
    }

    /// `facts` against the stores (found counts), and every record of this stack against
    /// ClickHouse's totals exactly: it is the only traffic these stores saw.
    pub async fn check(&mut self, facts: &[Fact]) -> anyhow::Result<(Report, Report)> {
        self.facts.extend_from_slice(facts);
        let env = self.stores.env(&[("BUSINESS_TIME_ZONE", ZONE)]);
        let settings = Settings::new(&env);
        let cassandra = CassandraConfig::from_settings(&settings)?;
        let clickhouse = ClickHouseConfig::from_settings(&settings)?;
        let own = loadgen::check::check(facts, &cassandra, &clickhouse, false).await?;
        let all = loadgen::check::check(&self.facts, &cassandra, &clickhouse, true).await?;
        Ok((own, all))
    }

    /// The first stream-job member's `/health` status code.
    pub async fn job_health(&self) -> u16 {
        reqwest::get(format!("{}/health", self.members[0].admin_url))
            .await
            .map_or(0, |r| r.status().as_u16())
    }
}
