//! One Apache Kafka broker in KRaft combined mode (broker and controller in one JVM):
//! `kafka.tools.StorageTool format` once per data directory, then `kafka.Kafka`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context};
use base64::Engine;

use super::java::{JavaProcess, Readiness};
use super::tls::Certificates;

/// A SASL_SSL listener beside the plain one: SCRAM-SHA-256 over TLS with the given certificate.
#[derive(Clone, Debug)]
pub struct SaslSsl {
    pub port: u16,
    pub certificates: Certificates,
    pub username: String,
    pub password: String,
}

/// One controller of the quorum: `node_id@host:controller_port`.
#[derive(Clone, Debug)]
pub struct Voter {
    pub node_id: u32,
    pub host: String,
    pub controller_port: u16,
}

#[derive(Clone, Debug)]
pub struct KafkaOptions {
    /// Holds `data/`, `server.properties` and `kafka.log`; data found there is reused.
    pub dir: PathBuf,
    /// The broker's `node.id`, unique in its cluster.
    pub node_id: u32,
    /// The address it listens on (a loopback address of its own in a cluster).
    pub host: String,
    /// Where clients reach it.
    pub port: u16,
    /// Where the quorum's controllers reach each other.
    pub controller_port: u16,
    /// The whole quorum, this node included.
    pub voters: Vec<Voter>,
    /// The cluster's id, the same for every node of it.
    pub cluster_id: String,
    pub sasl_ssl: Option<SaslSsl>,
    /// Replication of the internal topics (offsets, transactions): the cluster's size.
    pub internal_replication: usize,
    pub heap_mb: u32,
}

impl KafkaOptions {
    /// A one-node cluster on free ports of `host`, its data in `dir`.
    pub fn single(dir: &Path, host: &str) -> anyhow::Result<KafkaOptions> {
        let controller_port = super::free_port(host)?;
        Ok(KafkaOptions {
            dir: dir.to_path_buf(),
            node_id: 1,
            host: host.to_string(),
            port: super::free_port(host)?,
            controller_port,
            voters: vec![Voter {
                node_id: 1,
                host: host.to_string(),
                controller_port,
            }],
            cluster_id: new_cluster_id(),
            sasl_ssl: None,
            internal_replication: 1,
            heap_mb: 512,
        })
    }

    pub fn bootstrap(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }

    fn properties(&self) -> String {
        let voters: Vec<String> = self
            .voters
            .iter()
            .map(|v| format!("{}@{}:{}", v.node_id, v.host, v.controller_port))
            .collect();
        let (host, replication) = (&self.host, self.internal_replication);
        let min_isr = replication.min(2);
        let mut listeners = vec![
            format!("PLAINTEXT://{host}:{}", self.port),
            format!("CONTROLLER://{host}:{}", self.controller_port),
        ];
        let mut advertised = vec![format!("PLAINTEXT://{host}:{}", self.port)];
        let mut text = String::new();
        if let Some(sasl) = &self.sasl_ssl {
            listeners.push(format!("SASL_SSL://{host}:{}", sasl.port));
            advertised.push(format!("SASL_SSL://{host}:{}", sasl.port));
            text.push_str(&format!(
                "sasl.enabled.mechanisms=SCRAM-SHA-256\n\
                 listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;\n\
                 ssl.keystore.type=PKCS12\n\
                 ssl.keystore.location={}\n\
                 ssl.keystore.password={}\n",
                sasl.certificates.keystore.display(),
                sasl.certificates.keystore_password
            ));
        }
        text.push_str(&format!(
            "process.roles=broker,controller\n\
             node.id={node}\n\
             controller.quorum.voters={voters}\n\
             listeners={listeners}\n\
             advertised.listeners={advertised}\n\
             controller.listener.names=CONTROLLER\n\
             inter.broker.listener.name=PLAINTEXT\n\
             listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SASL_SSL:SASL_SSL\n\
             log.dirs={data}\n\
             num.partitions=1\n\
             auto.create.topics.enable=false\n\
             unclean.leader.election.enable=false\n\
             default.replication.factor={replication}\n\
             min.insync.replicas={min_isr}\n\
             offsets.topic.replication.factor={replication}\n\
             offsets.topic.num.partitions=10\n\
             transaction.state.log.replication.factor={replication}\n\
             transaction.state.log.min.isr={min_isr}\n\
             share.coordinator.state.topic.replication.factor={replication}\n\
             share.coordinator.state.topic.min.isr={min_isr}\n\
             group.initial.rebalance.delay.ms=0\n\
             log.flush.interval.messages=9223372036854775807\n",
            node = self.node_id,
            voters = voters.join(","),
            listeners = listeners.join(","),
            advertised = advertised.join(","),
            data = self.dir.join("data").display(),
        ));
        text
    }
}

/// A fresh cluster id: 16 random bytes, base64url without padding, as `StorageTool random-uuid`
/// prints.
pub fn new_cluster_id() -> String {
    // One in 64 encodings starts with '-', which the storage tool's argument parser takes for an
    // option ("--cluster-id: expected one argument"); Kafka's own generator draws again too.
    loop {
        let id = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(uuid::Uuid::new_v4().as_bytes());
        if !id.starts_with('-') {
            return id;
        }
    }
}

const LOG4J: &str = "status = warn\n\
appender.out.type = Console\n\
appender.out.name = out\n\
appender.out.layout.type = PatternLayout\n\
appender.out.layout.pattern = [%d] %p %m (%c)%n\n\
rootLogger.level = info\n\
rootLogger.appenderRef.out.ref = out\n\
logger.state.name = state.change.logger\n\
logger.state.level = warn\n";

/// Whether a broker at `bootstrap` answers a metadata request with its brokers.
async fn answers(bootstrap: String) -> bool {
    tokio::task::spawn_blocking(move || {
        use rdkafka::consumer::{BaseConsumer, Consumer};
        rdkafka::ClientConfig::new()
            .set("bootstrap.servers", &bootstrap)
            .create::<BaseConsumer>()
            .is_ok_and(|consumer| {
                consumer
                    .fetch_metadata(None, Duration::from_secs(2))
                    .is_ok_and(|metadata| !metadata.brokers().is_empty())
            })
    })
    .await
    .unwrap_or(false)
}

pub struct Kafka {
    pub options: KafkaOptions,
    /// The JVM: [`JavaProcess::kill`] crashes the broker, [`JavaProcess::pause`] hangs it.
    pub process: JavaProcess,
}

impl Kafka {
    /// Formats the data directory when it holds none, and starts the broker without waiting.
    pub fn spawn(mut options: KafkaOptions) -> anyhow::Result<Kafka> {
        options.dir = std::path::absolute(&options.dir)?;
        let lib = super::maven::class_path("kafka")?;
        let dir = &options.dir;
        std::fs::create_dir_all(dir)?;
        let properties = dir.join("server.properties");
        std::fs::write(&properties, options.properties())?;
        let log4j = dir.join("log4j2.properties");
        std::fs::write(&log4j, LOG4J)?;
        let class_path = format!("{}/*", lib.display());
        if !dir.join("data/meta.properties").exists() {
            let mut format = vec![
                "-Xmx256m".to_string(),
                format!("-Dlog4j2.configurationFile={}", log4j.display()),
                "-cp".into(),
                class_path.clone(),
                "kafka.tools.StorageTool".into(),
                "format".into(),
                "-t".into(),
                options.cluster_id.clone(),
                "-c".into(),
                properties.display().to_string(),
            ];
            if let Some(sasl) = &options.sasl_ssl {
                format.push("--add-scram".into());
                format.push(format!(
                    "SCRAM-SHA-256=[name={},password={}]",
                    sasl.username, sasl.password
                ));
            }
            let output = std::process::Command::new(super::java::java17())
                .args(&format)
                .output()
                .context("cannot run Kafka's StorageTool")?;
            if !output.status.success() {
                bail!(
                    "kafka.tools.StorageTool format failed:\n{}{}",
                    String::from_utf8_lossy(&output.stdout),
                    String::from_utf8_lossy(&output.stderr)
                );
            }
        }
        let heap = options.heap_mb;
        let args = vec![
            format!("-Xms{heap}m"),
            format!("-Xmx{heap}m"),
            "-XX:+UseG1GC".into(),
            "-XX:MaxGCPauseMillis=20".into(),
            "-XX:+ExitOnOutOfMemoryError".into(),
            "-Djava.awt.headless=true".into(),
            format!("-Dlog4j2.configurationFile={}", log4j.display()),
            format!("-Dkafka.logs.dir={}", dir.join("logs").display()),
            "-cp".into(),
            class_path,
            "kafka.Kafka".into(),
            properties.display().to_string(),
        ];
        let process = JavaProcess::spawn(
            &format!("kafka node {}", options.node_id),
            args,
            &dir.join("kafka.log"),
            Readiness::new(
                "Kafka",
                options.bootstrap(),
                "Kafka Server started",
                answers,
            ),
        )?;
        Ok(Kafka { options, process })
    }

    pub fn bootstrap(&self) -> String {
        self.options.bootstrap()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_ids_never_look_like_an_option() {
        for _ in 0..2_000 {
            let id = new_cluster_id();
            assert!(!id.starts_with('-'), "{id}");
            assert_eq!(id.len(), 22, "{id}");
        }
    }
}
