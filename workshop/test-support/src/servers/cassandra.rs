//! One Apache Cassandra node: `CassandraDaemon` in the foreground on JDK 17, with the
//! `--add-exports/--add-opens` of Cassandra's `conf/jvm17-server.options`, the jamm agent, a
//! `cassandra.yaml` and logback configuration of ours, and its data in its own directory.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::java::{JavaProcess, Readiness};
use super::tls::Certificates;

/// The module flags of `conf/jvm17-server.options` (Cassandra 5.0) that the server needs on 17.
const JVM17_MODULE_FLAGS: &[&str] = &[
    "--add-exports=java.base/jdk.internal.misc=ALL-UNNAMED",
    "--add-exports=java.management.rmi/com.sun.jmx.remote.internal.rmi=ALL-UNNAMED",
    "--add-exports=java.rmi/sun.rmi.registry=ALL-UNNAMED",
    "--add-exports=java.rmi/sun.rmi.server=ALL-UNNAMED",
    "--add-exports=java.sql/java.sql=ALL-UNNAMED",
    "--add-exports=java.base/java.lang.ref=ALL-UNNAMED",
    "--add-exports=jdk.unsupported/sun.misc=ALL-UNNAMED",
    "--add-exports=jdk.compiler/com.sun.tools.javac.file=ALL-UNNAMED",
    "--add-exports=jdk.attach/sun.tools.attach=ALL-UNNAMED",
    "--add-opens=java.base/java.lang.module=ALL-UNNAMED",
    "--add-opens=java.base/jdk.internal.loader=ALL-UNNAMED",
    "--add-opens=java.base/jdk.internal.ref=ALL-UNNAMED",
    "--add-opens=java.base/jdk.internal.reflect=ALL-UNNAMED",
    "--add-opens=java.base/jdk.internal.math=ALL-UNNAMED",
    "--add-opens=java.base/jdk.internal.module=ALL-UNNAMED",
    "--add-opens=java.base/jdk.internal.util.jar=ALL-UNNAMED",
    "--add-opens=jdk.management/com.sun.management.internal=ALL-UNNAMED",
    "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
    "--add-opens=java.base/java.io=ALL-UNNAMED",
    "--add-opens=java.base/java.lang.reflect=ALL-UNNAMED",
    "--add-opens=jdk.compiler/com.sun.tools.javac=ALL-UNNAMED",
    "--add-opens=java.base/java.lang=ALL-UNNAMED",
    "--add-opens=java.base/java.util=ALL-UNNAMED",
    "-Djdk.attach.allowAttachSelf=true",
    "-Dio.netty.tryReflectionSetAccessible=true",
    "-Dio.netty.allocator.useCacheForAllThreads=true",
    "-Dio.netty.allocator.maxOrder=11",
];

/// The superuser a fresh node has with `PasswordAuthenticator`.
pub const SUPERUSER: (&str, &str) = ("cassandra", "cassandra");

const LOGBACK: &str = r#"<configuration>
  <appender name="out" class="ch.qos.logback.core.ConsoleAppender">
    <encoder><pattern>%-5level [%thread] %date{ISO8601} %F:%L - %msg%n</pattern></encoder>
  </appender>
  <logger name="org.apache.cassandra.utils.SigarLibrary" level="WARN"/>
  <root level="INFO"><appender-ref ref="out"/></root>
</configuration>
"#;

#[derive(Clone, Debug)]
pub struct CassandraOptions {
    /// Holds `data/`, `cassandra.yaml` and `cassandra.log`; data found there is reused.
    pub dir: PathBuf,
    pub host: String,
    pub native_port: u16,
    /// Gossip and streaming; the same on every node of a cluster.
    pub storage_port: u16,
    /// `host` of the seed (the first node); the storage port is the cluster's.
    pub seed: String,
    /// Client encryption, optional on the one native port: TLS and plain text both answered.
    pub certificates: Option<Certificates>,
    pub heap_mb: u32,
    /// The replication factor the token allocator plans for (the cluster's keyspaces').
    pub token_replication: usize,
}

impl CassandraOptions {
    /// One node on free ports of `host`, its data in `dir`.
    pub fn single(dir: &Path, host: &str) -> anyhow::Result<CassandraOptions> {
        Ok(CassandraOptions {
            dir: dir.to_path_buf(),
            host: host.to_string(),
            native_port: super::free_port(host)?,
            storage_port: super::free_port(host)?,
            seed: host.to_string(),
            certificates: None,
            heap_mb: 1024,
            token_replication: 1,
        })
    }

    pub fn contact_point(&self) -> String {
        format!("{}:{}", self.host, self.native_port)
    }

    fn yaml(&self) -> String {
        let data = self.dir.join("data");
        let data = data.display();
        let encryption = match &self.certificates {
            Some(c) => format!(
                "client_encryption_options:\n  enabled: true\n  optional: true\n  keystore: {}\n  keystore_password: {}\n  store_type: PKCS12\n  require_client_auth: false\n",
                c.keystore.display(),
                c.keystore_password
            ),
            None => String::new(),
        };
        format!(
            "cluster_name: sales-test\n\
             num_tokens: 16\n\
             allocate_tokens_for_local_replication_factor: {token_replication}\n\
             partitioner: org.apache.cassandra.dht.Murmur3Partitioner\n\
             authenticator: PasswordAuthenticator\n\
             authorizer: CassandraAuthorizer\n\
             role_manager: CassandraRoleManager\n\
             data_file_directories: [{data}/data]\n\
             commitlog_directory: {data}/commitlog\n\
             saved_caches_directory: {data}/saved_caches\n\
             hints_directory: {data}/hints\n\
             cdc_raw_directory: {data}/cdc_raw\n\
             commitlog_sync: periodic\n\
             commitlog_sync_period: 10000ms\n\
             seed_provider:\n  - class_name: org.apache.cassandra.locator.SimpleSeedProvider\n    parameters:\n      - seeds: \"{seed}:{storage}\"\n\
             listen_address: {host}\n\
             rpc_address: {host}\n\
             storage_port: {storage}\n\
             native_transport_port: {native}\n\
             start_native_transport: true\n\
             endpoint_snitch: GossipingPropertyFileSnitch\n\
             auto_bootstrap: {bootstrap}\n\
             auto_snapshot: false\n\
             disk_failure_policy: stop\n\
             commit_failure_policy: stop\n\
             {encryption}",
            seed = self.seed,
            storage = self.storage_port,
            native = self.native_port,
            host = self.host,
            token_replication = self.token_replication,
            // A node joining a ring takes its ranges with their data (the logins among them); the
            // seed, first of a fresh cluster, has no one to take them from.
            bootstrap = self.host != self.seed,
        )
    }
}

/// Whether the node at `contact_point` answers a query as the superuser.
async fn answers(contact_point: String) -> bool {
    let session = scylla::client::session_builder::SessionBuilder::new()
        .known_node(contact_point)
        .user(SUPERUSER.0, SUPERUSER.1)
        .connection_timeout(Duration::from_secs(2))
        .build()
        .await;
    match session {
        Ok(session) => session
            .query_unpaged("SELECT release_version FROM system.local", ())
            .await
            .is_ok(),
        Err(_) => false,
    }
}

pub struct Cassandra {
    pub options: CassandraOptions,
    /// The JVM: [`JavaProcess::kill`] crashes the node, [`JavaProcess::pause`] hangs it.
    pub process: JavaProcess,
}

impl Cassandra {
    /// Writes the node's configuration and starts it without waiting.
    pub fn spawn(mut options: CassandraOptions) -> anyhow::Result<Cassandra> {
        // The configuration names its files by absolute path (`file://` URIs, data directories).
        options.dir = std::path::absolute(&options.dir)?;
        let lib = super::maven::class_path("cassandra")?;
        let jamm = super::maven::jar(&lib, "jamm-")?;
        let dir = &options.dir;
        std::fs::create_dir_all(dir.join("triggers"))?;
        let yaml = dir.join("cassandra.yaml");
        std::fs::write(&yaml, options.yaml())?;
        std::fs::write(
            dir.join("cassandra-rackdc.properties"),
            "dc=datacenter1\nrack=rack1\n",
        )?;
        let logback = dir.join("logback.xml");
        std::fs::write(&logback, LOGBACK)?;
        let heap = options.heap_mb;
        let mut args: Vec<String> = vec![
            format!("-Xms{heap}m"),
            format!("-Xmx{heap}m"),
            "-XX:+UseG1GC".into(),
            "-XX:+ParallelRefProcEnabled".into(),
            "-XX:MaxTenuringThreshold=1".into(),
            "-XX:+ExitOnOutOfMemoryError".into(),
            "-Xss256k".into(),
        ];
        args.extend(JVM17_MODULE_FLAGS.iter().map(|s| s.to_string()));
        args.extend([
            format!("-javaagent:{}", jamm.display()),
            format!("-Dcassandra.config=file://{}", yaml.display()),
            format!(
                "-Dcassandra-rackdc.properties=file://{}",
                dir.join("cassandra-rackdc.properties").display()
            ),
            format!("-Dlogback.configurationFile={}", logback.display()),
            format!("-Dcassandra.storagedir={}", dir.join("data").display()),
            format!(
                "-Dcassandra.triggers_dir={}",
                dir.join("triggers").display()
            ),
            format!("-Dcassandra.logdir={}", dir.join("logs").display()),
            // The start-up speed-ups Cassandra documents for tests.
            "-Dcassandra.skip_wait_for_gossip_to_settle=0".into(),
            "-Dcassandra.superuser_setup_delay_ms=0".into(),
            "-Dcassandra.ring_delay_ms=1000".into(),
            "-Dcassandra.consistent.rangemovement=false".into(),
            "-Dcassandra-foreground=yes".into(),
            "-cp".into(),
            format!("{}/*", lib.display()),
            "org.apache.cassandra.service.CassandraDaemon".into(),
        ]);
        let process = JavaProcess::spawn(
            &format!("cassandra {}", options.host),
            args,
            &dir.join("cassandra.log"),
            Readiness::new(
                "Cassandra",
                options.contact_point(),
                "Starting listening for CQL clients",
                answers,
            ),
        )?;
        Ok(Cassandra { options, process })
    }

    pub fn contact_point(&self) -> String {
        self.options.contact_point()
    }

    /// Starts the node again on the same data and ports, and waits until it answers.
    pub async fn restart(&mut self, within: Duration) -> anyhow::Result<Duration> {
        self.process.restart()?;
        self.process.wait_ready(within).await
    }
}
