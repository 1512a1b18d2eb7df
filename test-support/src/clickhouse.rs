//! ClickHouse for tests: a `clickhouse-server` process (Debian's package) with its own temporary
//! directory and ports, or the server named by `CLICKHOUSE_URL`.
//!
//! Against a real server every test gets its own database; the schema files name `sales`, so
//! [`adapt`] renames it.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A ClickHouse endpoint and database for one test.
pub struct TestClickHouse {
    url: String,
    database: String,
    server: Option<Server>,
    http: reqwest::Client,
}

struct Server {
    child: Child,
    dir: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Renames the `sales` database in schema or query text to `database`.
pub fn adapt(sql: &str, database: &str) -> String {
    sql.replace(
        "DATABASE IF NOT EXISTS sales",
        &format!("DATABASE IF NOT EXISTS {database}"),
    )
    .replace("sales.", &format!("{database}."))
}

/// Two distinct free ports (both held while the second is picked, so they differ).
fn free_ports() -> (u16, u16) {
    let bind = || TcpListener::bind("127.0.0.1:0").expect("find a free port");
    let (a, b) = (bind(), bind());
    let port = |l: &TcpListener| l.local_addr().expect("local address").port();
    (port(&a), port(&b))
}

impl TestClickHouse {
    /// Uses `CLICKHOUSE_URL` when set (with a fresh database), else starts `clickhouse-server`.
    pub async fn start() -> TestClickHouse {
        let http = reqwest::Client::new();
        if let Ok(url) = std::env::var("CLICKHOUSE_URL") {
            if !url.trim().is_empty() {
                let database = crate::unique_name("sales").replace('-', "_");
                return TestClickHouse {
                    url,
                    database,
                    server: None,
                    http,
                };
            }
        }
        let dir = std::env::temp_dir().join(crate::unique_name("clickhouse"));
        std::fs::create_dir_all(&dir).expect("create the ClickHouse directory");
        let (http_port, tcp_port) = free_ports();
        let config = dir.join("config.xml");
        std::fs::write(&config, server_config(&dir, http_port, tcp_port))
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
        let test = TestClickHouse {
            url: format!("http://127.0.0.1:{http_port}"),
            database: "sales".to_string(),
            server: Some(Server { child, dir }),
            http,
        };
        test.wait_until_up().await;
        test
    }

    async fn wait_until_up(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let ping = self.http.get(format!("{}/ping", self.url)).send().await;
            if ping.is_ok_and(|r| r.status().is_success()) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "clickhouse-server did not start at {}",
                self.url
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// True for the spawned `clickhouse-server`.
    pub fn is_standin(&self) -> bool {
        self.server.is_some()
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn database(&self) -> &str {
        &self.database
    }

    /// Runs one statement; returns the response body (TSV for SELECTs), panicking with the
    /// server's message on failure.
    pub async fn query(&self, sql: &str) -> String {
        let response = self
            .http
            .post(&self.url)
            .body(sql.to_string())
            .send()
            .await
            .expect("reach ClickHouse");
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        assert!(status.is_success(), "ClickHouse refused {sql}: {body}");
        body
    }

    /// Applies every `NNN_*.sql` file of `dir` in order, one statement at a time.
    pub async fn apply_schema(&self, dir: &Path) {
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .expect("read the schema directory")
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| {
                p.extension().is_some_and(|e| e == "sql")
                    && p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.as_bytes().first().is_some_and(u8::is_ascii_digit))
            })
            .collect();
        files.sort();
        for file in files {
            let text = std::fs::read_to_string(&file).expect("read a schema file");
            let code: Vec<&str> = text
                .lines()
                .map(|l| l.split("--").next().unwrap_or(""))
                .collect();
            for statement in code
                .join("\n")
                .split(';')
                .map(str::trim)
                .filter(|s| !s.is_empty())
            {
                self.query(&adapt(statement, &self.database)).await;
            }
        }
    }

    /// Loads a CSVWithNames file into `table` of the test database.
    pub async fn load_csv(&self, table: &str, csv: &Path) {
        let body = std::fs::read(csv).expect("read the CSV");
        let query = format!("INSERT INTO {}.{table} FORMAT CSVWithNames", self.database);
        let response = self
            .http
            .post(&self.url)
            .query(&[("query", query.as_str())])
            .body(body)
            .send()
            .await
            .expect("reach ClickHouse");
        assert!(
            response.status().is_success(),
            "loading {}: {}",
            csv.display(),
            response.text().await.unwrap_or_default()
        );
    }
}

fn server_config(dir: &Path, http_port: u16, tcp_port: u16) -> String {
    let d = dir.display();
    format!(
        r#"<?xml version="1.0"?>
<yandex>
    <logger><level>warning</level><log>{d}/server.log</log><errorlog>{d}/server.err.log</errorlog><size>10M</size><count>1</count></logger>
    <http_port>{http_port}</http_port>
    <tcp_port>{tcp_port}</tcp_port>
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
