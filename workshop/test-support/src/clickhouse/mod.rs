//! ClickHouse for tests (DESIGN.md §8): the current engine (chdb behind our HTTP front, see
//! [`current_engine`]), Debian's old `clickhouse-server` for the client's smoke test against a
//! real server, or the server named by `CLICKHOUSE_URL` (the compose image, say).
//!
//! Every test gets a database of its own; the schema files name `sales`, so [`adapt`] renames it.
//! Tests read results as typed rows ([`TestClickHouse::rows`]), never as text, so the same
//! assertions hold on every engine.

mod current_engine;
pub mod debian_server;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ::clickhouse::{Client, RowOwned, RowRead};

use debian_server::DebianServer;

/// Which ClickHouse a test talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// chdb's current engine (26.x) behind `chdb_front.py`.
    Current,
    /// Debian's `clickhouse-server` 18.16: a real server, but too old to describe rows.
    Debian,
    /// The server named by `CLICKHOUSE_URL`.
    External,
}

impl Engine {
    /// A short name for benchmark output.
    pub fn describe(self) -> &'static str {
        match self {
            Engine::Current => "chdb (current engine) behind chdb_front.py",
            Engine::Debian => "clickhouse-server 18.16 (Debian)",
            Engine::External => "real (CLICKHOUSE_URL)",
        }
    }
}

/// A ClickHouse endpoint and database for one test.
pub struct TestClickHouse {
    url: String,
    database: String,
    engine: Engine,
    _server: Option<DebianServer>,
    http: reqwest::Client,
}

/// Renames the `sales` database in schema or query text to `database`.
pub fn adapt(sql: &str, database: &str) -> String {
    sql.replace(
        "DATABASE IF NOT EXISTS sales",
        &format!("DATABASE IF NOT EXISTS {database}"),
    )
    .replace("sales.", &format!("{database}."))
}

fn external_url() -> Option<String> {
    std::env::var("CLICKHOUSE_URL")
        .ok()
        .filter(|url| !url.trim().is_empty())
}

fn fresh_database() -> String {
    crate::unique_name("sales").replace('-', "_")
}

impl TestClickHouse {
    /// `CLICKHOUSE_URL` when set, else the current engine; a fresh database either way.
    pub async fn start() -> TestClickHouse {
        TestClickHouse::start_in(&fresh_database()).await
    }

    /// Like [`TestClickHouse::start`], with the database named `database` (`scripts/run-local`
    /// uses `sales`, the name the dashboard reads).
    pub async fn start_in(database: &str) -> TestClickHouse {
        let (url, engine) = match external_url() {
            Some(url) => (url, Engine::External),
            None => {
                let url = tokio::task::spawn_blocking(current_engine::url)
                    .await
                    .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
                (url, Engine::Current)
            }
        };
        TestClickHouse::up(url, database.to_string(), engine, None).await
    }

    /// A real ClickHouse server for the client's smoke test: `CLICKHOUSE_URL` when set, else
    /// Debian's `clickhouse-server`, spawned for this test alone.
    pub async fn start_real_server() -> TestClickHouse {
        if let Some(url) = external_url() {
            return TestClickHouse::up(url, fresh_database(), Engine::External, None).await;
        }
        let server = DebianServer::spawn();
        TestClickHouse::up(
            server.url().to_string(),
            fresh_database(),
            Engine::Debian,
            Some(server),
        )
        .await
    }

    async fn up(
        url: String,
        database: String,
        engine: Engine,
        server: Option<DebianServer>,
    ) -> TestClickHouse {
        let test = TestClickHouse {
            url,
            database,
            engine,
            _server: server,
            http: reqwest::Client::new(),
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
                "ClickHouse did not answer at {}",
                self.url
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// Whether the client can check its row types against the server's (`RowBinaryWithNamesAndTypes`):
    /// every server but the old Debian one.
    pub fn validates_rows(&self) -> bool {
        self.engine != Engine::Debian
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn database(&self) -> &str {
        &self.database
    }

    /// A client for the test database, validating rows wherever the server can.
    pub fn client(&self) -> Client {
        Client::default()
            .with_url(&self.url)
            .with_database(&self.database)
            .with_validation(self.validates_rows())
    }

    /// The rows of a query as typed values; `sales.` in `sql` names the test database.
    pub async fn rows<T: RowOwned + RowRead>(&self, sql: &str) -> Vec<T> {
        let sql = adapt(sql, &self.database);
        self.client()
            .query(&sql)
            .fetch_all()
            .await
            .unwrap_or_else(|e| panic!("ClickHouse refused {sql}: {e}"))
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
