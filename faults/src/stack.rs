//! The pipeline under test: the run's Cassandra (or the one the environment names) and the current
//! ClickHouse engine from `test_support`, a cuttable TCP proxy in front of each, ingest-api and
//! stream-job as child processes reaching the stores through those proxies, and a Kafka broker:
//! the run's, or one of the stack's own (Apache Kafka from `test-servers`) that a scenario can
//! SIGKILL, SIGSTOP and restart on its data. It also knows when the job has caught up and how to
//! check a record against the stores.

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
use test_support::clickhouse::TestClickHouse;
use test_support::kafka::TestKafka;
use test_support::proxy::TcpProxy;
use test_support::servers::kafka::{Kafka, KafkaOptions};
use test_support::stores::TestStores;
use tokio_util::sync::CancellationToken;

use test_support::service::{free_local_addr, Service};

pub const KEY: &str = "fault-suite-key-0123456789";
pub const GROUP: &str = "fault-suite";
/// Not a whole hour from UTC, so a business day computed in UTC anywhere would show.
pub const ZONE: &str = "Asia/Kolkata";

pub struct Stack {
    pub stores: TestStores,
    /// The stack's own broker, when it was started with one.
    pub broker: Option<Kafka>,
    pub cassandra_proxy: TcpProxy,
    pub clickhouse_proxy: TcpProxy,
    pub ingest: Service,
    pub job: Service,
    pub ingest_url: String,
    pub admin_url: String,
    pub dir: PathBuf,
    /// Every fact recorded so far, over all scenarios.
    pub facts: Vec<Fact>,
    runs: usize,
}

fn authority(url: &str) -> &str {
    url.split("://").nth(1).unwrap_or(url).trim_end_matches('/')
}

impl Stack {
    /// With `own_broker`, a broker of its own (data under `dir/kafka`) instead of the run's.
    pub async fn start(dir: &Path, own_broker: bool) -> anyhow::Result<Stack> {
        std::fs::create_dir_all(dir)?;
        let broker = if own_broker {
            let kafka_dir = dir.join("kafka");
            let _ = std::fs::remove_dir_all(&kafka_dir);
            let options = KafkaOptions::single(&kafka_dir, "127.0.0.1")?;
            Some(Kafka::start(options, Duration::from_secs(120)).await?)
        } else {
            None
        };
        let kafka = match &broker {
            Some(broker) => TestKafka::at(&broker.bootstrap()),
            None => TestKafka::start(),
        };
        let stores = TestStores::with(kafka, TestClickHouse::start().await, 6).await;
        let cassandra_proxy = TcpProxy::start(stores.cassandra.contact_point()).await;
        let clickhouse_proxy = TcpProxy::start(authority(stores.clickhouse.url())).await;
        let ingest_addr = free_local_addr()?;
        let admin_addr = free_local_addr()?;
        let common = [("BUSINESS_TIME_ZONE", ZONE), ("RUST_LOG", "info")];
        let mut ingest_env = stores.env(&common);
        ingest_env.extend([
            ("INGEST_LISTEN_ADDR".into(), ingest_addr.clone()),
            ("INGEST_API_KEYS".into(), KEY.into()),
        ]);
        let clickhouse_url = format!("http://{}", clickhouse_proxy.addr());
        let cassandra_addr = cassandra_proxy.addr();
        let mut job_settings = common.to_vec();
        job_settings.extend([
            ("STREAM_JOB_GROUP", GROUP),
            ("STREAM_JOB_ADMIN_ADDR", admin_addr.as_str()),
            ("STREAM_JOB_MAX_BACKOFF_MS", "2000"),
            ("CASSANDRA_CONTACT_POINTS", &cassandra_addr),
            ("CLICKHOUSE_URL", &clickhouse_url),
        ]);
        let job_env = stores.env(&job_settings);
        let ingest_url = format!("http://{ingest_addr}");
        let admin_url = format!("http://{admin_addr}");
        let mut ingest = Service::new(
            "ingest-api",
            &[],
            ingest_env,
            dir,
            format!("{ingest_url}/health"),
        )?;
        let mut job = Service::new(
            "stream-job",
            &["run"],
            job_env,
            dir,
            format!("{admin_url}/health"),
        )?;
        ingest.start().await?;
        job.start().await?;
        Ok(Stack {
            stores,
            broker,
            cassandra_proxy,
            clickhouse_proxy,
            ingest,
            job,
            ingest_url,
            admin_url,
            dir: dir.to_path_buf(),
            facts: Vec::new(),
            runs: 0,
        })
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

    /// stream-job's `/health` status code.
    pub async fn job_health(&self) -> u16 {
        reqwest::get(format!("{}/health", self.admin_url))
            .await
            .map_or(0, |r| r.status().as_u16())
    }
}
