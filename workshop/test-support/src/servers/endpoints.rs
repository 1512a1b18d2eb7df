//! The settings a test run exports once its servers answer, and how a test finds them again:
//! from the process environment (the test command, or a `docker compose up`), else from the file
//! a running `test-servers` wrote.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Names and values, in the order they were added.
#[derive(Clone, Debug, Default)]
pub struct Endpoints {
    pub vars: Vec<(String, String)>,
}

impl Endpoints {
    pub fn set(&mut self, name: &str, value: impl Into<String>) {
        self.vars.retain(|(n, _)| n != name);
        self.vars.push((name.to_string(), value.into()));
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// `export NAME='value'` lines, for a shell to `source`.
    pub fn to_shell(&self) -> String {
        self.vars
            .iter()
            .map(|(n, v)| format!("export {n}='{}'\n", v.replace('\'', r"'\''")))
            .collect()
    }

    /// Reads what [`Endpoints::to_shell`] wrote.
    pub fn parse(text: &str) -> Endpoints {
        let mut endpoints = Endpoints::default();
        for line in text.lines() {
            let line = line.trim().trim_start_matches("export ");
            if let Some((name, value)) = line.split_once('=') {
                let value = value.trim_matches('\'').replace(r"'\''", "'");
                endpoints.set(name.trim(), value);
            }
        }
        endpoints
    }
}

/// Where a running `test-servers` writes its endpoints by default (removed when it stops).
pub fn default_file() -> PathBuf {
    super::target_dir().join("test-servers/run/endpoints.env")
}

fn from_file(path: &Path) -> Option<Endpoints> {
    let endpoints = Endpoints::parse(&std::fs::read_to_string(path).ok()?);
    // A file left by a launcher that died names servers that are gone.
    let pid = endpoints.get("TEST_SERVERS_PID")?;
    Path::new("/proc").join(pid).exists().then_some(endpoints)
}

/// `name` from the environment, else from a running `test-servers`' file.
pub fn var(name: &str) -> Option<String> {
    static FILE: OnceLock<Option<Endpoints>> = OnceLock::new();
    match std::env::var(name) {
        Ok(value) if !value.trim().is_empty() => Some(value),
        _ => FILE
            .get_or_init(|| from_file(&default_file()))
            .as_ref()?
            .get(name)
            .map(str::to_string),
    }
}

/// Like [`var`], but a missing setting stops the test with what to do about it.
pub fn required(name: &str) -> String {
    var(name).unwrap_or_else(|| {
        panic!(
            "{name} is not set and no test servers are running: run ./scripts/test, or start \
             the servers with `cargo run -p test-support --bin test-servers` in another terminal \
             (or point {name} at a running service)"
        )
    })
}
