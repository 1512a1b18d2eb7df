//! The real servers of DESIGN.md §8, started from their published artifacts: Apache Kafka and
//! Apache Cassandra from Maven Central, run as JVM child processes on loopback.
//!
//! - [`maven`] copies a server's runtime class path into `target/test-servers/<name>/lib` from the
//!   pom kept in `workshop/test-support/servers/<name>/`, once, and again only when the pom changes.
//! - [`kafka::Kafka`] and [`cassandra::Cassandra`] start one broker or node each, wait until it
//!   answers its own protocol, and stop it by PID (SIGKILL for a crash, SIGSTOP for a hang);
//!   a restart keeps the data directory.
//! - [`cluster::Cluster`] starts three of each on 127.0.0.1, .2 and .3, replicated three ways.
//! - [`tls`] makes a CA and a server certificate at test time for the SASL_SSL listener and
//!   Cassandra's client encryption.
//! - [`Endpoints`] is what a test run exports (`KAFKA_BOOTSTRAP_SERVERS`,
//!   `CASSANDRA_CONTACT_POINTS`, …) and how a test finds it again.

pub mod cassandra;
pub mod cluster;
pub mod endpoints;
pub mod java;
pub mod kafka;
pub mod maven;
pub mod tls;

pub use endpoints::Endpoints;

use std::path::PathBuf;

/// `target/` of this workspace (or `CARGO_TARGET_DIR`), where the servers' class paths and the
/// test run's data live.
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| crate::stores::repository_root().join("target"))
}

/// A free TCP port on `host`.
pub fn free_port(host: &str) -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind((host, 0))?.local_addr()?.port())
}

/// What `test-servers` starts for a test run: one broker with a plain and a SASL_SSL (SCRAM)
/// listener, one Cassandra node with `PasswordAuthenticator` and optional client encryption, and
/// the certificates both use.
pub struct TestServers {
    pub kafka: kafka::Kafka,
    pub cassandra: cassandra::Cassandra,
    pub certificates: tls::Certificates,
}

/// Fixed ports for a run a person reaches by hand (`scripts/run-local`); free ones otherwise.
#[derive(Clone, Debug, Default)]
pub struct Ports {
    pub kafka: Option<u16>,
    pub cassandra: Option<u16>,
}

/// The SCRAM user the SASL_SSL listener knows.
pub const SCRAM_USER: (&str, &str) = ("pipeline", "test-scram-password");

impl TestServers {
    /// Starts both servers with their data under `dir` (reused when there), and waits until
    /// each answers its protocol.
    pub async fn start(dir: &std::path::Path, ports: &Ports) -> anyhow::Result<TestServers> {
        const HOST: &str = "127.0.0.1";
        // Every path handed out (the CA file, say) must hold from any working directory.
        let dir = &std::path::absolute(dir)?;
        let certificates = tls::make(&dir.join("tls"))?;
        let mut kafka_options = kafka::KafkaOptions::single(&dir.join("kafka"), HOST)?;
        if let Some(port) = ports.kafka {
            kafka_options.port = port;
        }
        kafka_options.sasl_ssl = Some(kafka::SaslSsl {
            port: free_port(HOST)?,
            certificates: certificates.clone(),
            username: SCRAM_USER.0.to_string(),
            password: SCRAM_USER.1.to_string(),
        });
        let mut cassandra_options =
            cassandra::CassandraOptions::single(&dir.join("cassandra"), HOST)?;
        if let Some(port) = ports.cassandra {
            cassandra_options.native_port = port;
        }
        cassandra_options.certificates = Some(certificates.clone());
        // Both JVMs start together; each is then waited for.
        let started = std::time::Instant::now();
        let mut kafka = kafka::Kafka::spawn(kafka_options)?;
        let mut cassandra = cassandra::Cassandra::spawn(cassandra_options)?;
        let within = std::time::Duration::from_secs(180);
        kafka.process.wait_ready(within).await?;
        let kafka_ready = started.elapsed();
        cassandra.process.wait_ready(within).await?;
        let cassandra_ready = started.elapsed();
        eprintln!(
            "test servers up in {:.1} s: Kafka {} ({:.1} s), Cassandra {} ({:.1} s)",
            started.elapsed().as_secs_f64(),
            kafka.bootstrap(),
            kafka_ready.as_secs_f64(),
            cassandra.contact_point(),
            cassandra_ready.as_secs_f64(),
        );
        Ok(TestServers {
            kafka,
            cassandra,
            certificates,
        })
    }

    /// The settings a test (or a service) reads to reach these servers.
    pub fn endpoints(&self) -> Endpoints {
        let mut endpoints = Endpoints::default();
        endpoints.set("KAFKA_BOOTSTRAP_SERVERS", self.kafka.bootstrap());
        endpoints.set("CASSANDRA_CONTACT_POINTS", self.cassandra.contact_point());
        endpoints.set("CASSANDRA_USERNAME", cassandra::SUPERUSER.0);
        endpoints.set("CASSANDRA_PASSWORD", cassandra::SUPERUSER.1);
        if let Some(sasl) = &self.kafka.options.sasl_ssl {
            endpoints.set(
                "TEST_KAFKA_SASL_SSL_SERVERS",
                format!("{}:{}", self.kafka.options.host, sasl.port),
            );
            endpoints.set("TEST_KAFKA_SCRAM_USERNAME", sasl.username.as_str());
            endpoints.set("TEST_KAFKA_SCRAM_PASSWORD", sasl.password.as_str());
        }
        endpoints.set(
            "TEST_TLS_CA_FILE",
            self.certificates.ca_file.display().to_string(),
        );
        endpoints.set(
            "TEST_KAFKA_PID",
            self.kafka.process.pid().unwrap_or(0).to_string(),
        );
        endpoints.set(
            "TEST_CASSANDRA_PID",
            self.cassandra.process.pid().unwrap_or(0).to_string(),
        );
        endpoints.set("TEST_SERVERS_PID", std::process::id().to_string());
        endpoints
    }
}
