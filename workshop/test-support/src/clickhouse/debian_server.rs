//! Debian's `clickhouse-server` package (18.16) in a temporary directory with its own ports: a
//! real server, so a smoke test can prove the Rust client's exchange with one (compressed
//! RowBinary inserts and selects), over plain HTTP and over HTTPS with a certificate of its own.
//! Its SQL is old, so the tests that check results run on the current engine instead.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// The running server; dropping it stops the process and removes its directory.
pub struct DebianServer {
    child: Child,
    dir: PathBuf,
    url: String,
    https_url: String,
}

impl Drop for DebianServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Three distinct free ports (all held while the next is picked, so they differ).
fn free_ports() -> (u16, u16, u16) {
    let bind = || TcpListener::bind("127.0.0.1:0").expect("find a free port");
    let (a, b, c) = (bind(), bind(), bind());
    let port = |l: &TcpListener| l.local_addr().expect("local address").port();
    (port(&a), port(&b), port(&c))
}

/// A self-signed certificate for `localhost` and 127.0.0.1 (`cert.pem`, `key.pem` in `dir`),
/// made with the `openssl` command (scripts/test installs it).
fn self_signed_certificate(dir: &Path) {
    let status = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        ])
        .args(["-subj", "/CN=localhost"])
        .args(["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
        .arg("-keyout")
        .arg(dir.join("key.pem"))
        .arg("-out")
        .arg(dir.join("cert.pem"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("run openssl (apt-get install openssl)");
    assert!(status.success(), "openssl could not make a certificate");
}

impl DebianServer {
    /// Spawns the server; it answers `/ping` once it is up (the caller waits for that).
    pub fn spawn() -> DebianServer {
        let dir = std::env::temp_dir().join(crate::unique_name("clickhouse"));
        std::fs::create_dir_all(&dir).expect("create the ClickHouse directory");
        let (http_port, tcp_port, https_port) = free_ports();
        self_signed_certificate(&dir);
        let config = dir.join("config.xml");
        std::fs::write(
            &config,
            server_config(&dir, http_port, tcp_port, https_port),
        )
        .expect("write config.xml");
        std::fs::write(dir.join("users.xml"), USERS).expect("write users.xml");
        let binary = ["/usr/bin/clickhouse-server", "/usr/sbin/clickhouse-server"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .expect("clickhouse-server is not installed: `apt-get install clickhouse-server` (scripts/test does this)");
        let child = Command::new(binary)
            .arg(format!("--config-file={}", config.display()))
            .stdout(Stdio::null())
            .stderr(
                std::fs::File::create(dir.join("stderr.log"))
                    .map_or_else(|_| Stdio::null(), Stdio::from),
            )
            .spawn()
            .expect("start clickhouse-server");
        DebianServer {
            child,
            dir,
            url: format!("http://127.0.0.1:{http_port}"),
            https_url: format!("https://localhost:{https_port}"),
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// The same server over TLS, with the certificate of [`DebianServer::certificate`].
    pub fn https_url(&self) -> &str {
        &self.https_url
    }

    /// The server's self-signed certificate (PEM): the CA a client must trust for HTTPS.
    pub fn certificate(&self) -> PathBuf {
        self.dir.join("cert.pem")
    }
}

fn server_config(dir: &Path, http_port: u16, tcp_port: u16, https_port: u16) -> String {
    let d = dir.display();
    format!(
        r#"<?xml version="1.0"?>
<yandex>
    <logger><level>warning</level><log>{d}/server.log</log><errorlog>{d}/server.err.log</errorlog><size>10M</size><count>1</count></logger>
    <http_port>{http_port}</http_port>
    <tcp_port>{tcp_port}</tcp_port>
    <https_port>{https_port}</https_port>
    <openSSL><server><certificateFile>{d}/cert.pem</certificateFile><privateKeyFile>{d}/key.pem</privateKeyFile><verificationMode>none</verificationMode><loadDefaultCAFile>false</loadDefaultCAFile><disableProtocols>sslv2,sslv3</disableProtocols></server></openSSL>
    <listen_host>127.0.0.1</listen_host>
    <timezone>UTC</timezone>
    <path>{d}/data/</path>
    <tmp_path>{d}/tmp/</tmp_path>
    <user_files_path>{d}/user_files/</user_files_path>
    <format_schema_path>{d}/format_schemas/</format_schema_path>
    <users_config>{d}/users.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <mark_cache_size>5368709120</mark_cache_size>
    <max_concurrent_queries>100</max_concurrent_queries>
</yandex>
"#
    )
}

const USERS: &str = r#"<?xml version="1.0"?>
<yandex>
    <profiles><default><max_memory_usage>4000000000</max_memory_usage></default></profiles>
    <users>
        <default>
            <password></password>
            <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
            <profile>default</profile>
            <quota>default</quota>
        </default>
    </users>
    <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors><result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval></default></quotas>
</yandex>
"#;
