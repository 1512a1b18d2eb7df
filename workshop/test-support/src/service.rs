//! A service run as a child process, as compose runs it: started with its settings and a
//! log file, stopped with SIGTERM (a deploy) or SIGKILL (a crash), and started again on the same
//! address.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{bail, Context};
use tokio::process::{Child, Command};

pub struct Service {
    name: &'static str,
    binary: PathBuf,
    args: Vec<String>,
    env: Vec<(String, String)>,
    log: PathBuf,
    /// Answers 200 once the service is up.
    health_url: String,
    child: Option<Child>,
    pub starts: usize,
}

/// A free `127.0.0.1:port`, for a service that keeps its address over restarts.
pub fn free_local_addr() -> anyhow::Result<String> {
    Ok(format!(
        "127.0.0.1:{}",
        crate::servers::free_port("127.0.0.1")?
    ))
}

/// The binary `name` built beside this one (same profile).
pub fn sibling(name: &str) -> anyhow::Result<PathBuf> {
    let here = std::env::current_exe()?;
    let path = here.with_file_name(name);
    if !path.exists() {
        bail!(
            "{} is missing: build it first (cargo build -p {name}, with --release for a release suite)",
            path.display()
        );
    }
    Ok(path)
}

impl Service {
    pub fn new(
        name: &'static str,
        args: &[&str],
        env: Vec<(String, String)>,
        logs: &Path,
        health_url: String,
    ) -> anyhow::Result<Service> {
        Ok(Service::at(
            name,
            sibling(name)?,
            args,
            env,
            logs,
            health_url,
        ))
    }

    /// Like [`Service::new`] for a program elsewhere (a script, say).
    pub fn at(
        name: &'static str,
        binary: PathBuf,
        args: &[&str],
        env: Vec<(String, String)>,
        logs: &Path,
        health_url: String,
    ) -> Service {
        Service {
            name,
            binary,
            args: args.iter().map(|a| a.to_string()).collect(),
            env,
            log: logs.join(format!("{name}.log")),
            health_url,
            child: None,
            starts: 0,
        }
    }

    /// Starts it and waits until its health check answers.
    pub async fn start(&mut self) -> anyhow::Result<()> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .with_context(|| format!("cannot write {}", self.log.display()))?;
        let child = Command::new(&self.binary)
            .args(&self.args)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .env("LOG_FORMAT", "json")
            .stdout(Stdio::from(log.try_clone()?))
            .stderr(Stdio::from(log))
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot start {}", self.binary.display()))?;
        self.child = Some(child);
        self.starts += 1;
        crate::wait_until_ok(&self.health_url, Duration::from_secs(60))
            .await
            .map_err(|e| {
                anyhow::anyhow!(
                    "{} did not come up: {e} (see {})",
                    self.name,
                    self.log.display()
                )
            })
    }

    fn pid(&self) -> anyhow::Result<u32> {
        self.child
            .as_ref()
            .and_then(Child::id)
            .with_context(|| format!("{} is not running", self.name))
    }

    /// A crash: SIGKILL, no chance to finish anything.
    pub async fn kill(&mut self) -> anyhow::Result<()> {
        if let Some(mut child) = self.child.take() {
            child.kill().await?;
        }
        Ok(())
    }

    /// A deploy: SIGTERM, then the exit it chose; fails if it takes longer than `within`.
    pub async fn terminate(
        &mut self,
        within: Duration,
    ) -> anyhow::Result<std::process::ExitStatus> {
        let pid = self.pid()?;
        let sent = Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .await?;
        if !sent.success() {
            bail!("could not send SIGTERM to {} ({pid})", self.name);
        }
        let mut child = self.child.take().context("no child")?;
        match tokio::time::timeout(within, child.wait()).await {
            Ok(status) => Ok(status?),
            Err(_) => {
                child.kill().await?;
                bail!("{} did not stop within {within:?} of SIGTERM", self.name)
            }
        }
    }
}

impl Service {
    /// The running process's id, to read its memory from `/proc`.
    pub fn id(&self) -> Option<u32> {
        self.child.as_ref().and_then(Child::id)
    }
}

/// Peak resident memory (`VmHWM`) of process `pid` in MiB, from `/proc` (Linux).
pub fn peak_rss_mib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kib: f64 = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(kib / 1024.0)
}
