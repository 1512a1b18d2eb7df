//! One JVM server as a child process: its output in a log file, stopped by PID when dropped (and
//! when the launcher itself dies), and killed, paused or resumed on request.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use futures::future::BoxFuture;

/// The JDK 17 `java` (Cassandra 5.0 runs on 11 and 17 only): `JAVA17_HOME`, else Debian's
/// `/usr/lib/jvm/java-17-*`, else `java` on the PATH.
pub fn java17() -> PathBuf {
    if let Some(home) = std::env::var_os("JAVA17_HOME") {
        return Path::new(&home).join("bin/java");
    }
    std::fs::read_dir("/usr/lib/jvm")
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| {
            path.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("java-17"))
        })
        .map(|path| path.join("bin/java"))
        .find(|java| java.exists())
        .unwrap_or_else(|| PathBuf::from("java"))
}

/// How a server shows it is ready: a line in this start's log, then an answer in its own protocol.
pub struct Readiness {
    /// What errors call the server ("Kafka at 127.0.0.1:9092").
    what: String,
    line: &'static str,
    answers: Box<dyn Fn() -> BoxFuture<'static, bool> + Send + Sync>,
}

impl Readiness {
    /// Ready once `line` is logged and `answers(address)` says yes; `what` is the kind of server.
    pub fn new<F, Fut>(what: &str, address: String, line: &'static str, answers: F) -> Readiness
    where
        F: Fn(String) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = bool> + Send + 'static,
    {
        Readiness {
            what: format!("{what} at {address}"),
            line,
            answers: Box::new(move || Box::pin(answers(address.clone()))),
        }
    }
}

pub struct JavaProcess {
    name: String,
    ready: Readiness,
    command: Vec<String>,
    log: PathBuf,
    /// Where this start's output begins in the log.
    since: usize,
    child: Option<Child>,
}

impl JavaProcess {
    /// Starts `java args…` with its output appended to `log`.
    pub fn spawn(
        name: &str,
        args: Vec<String>,
        log: &Path,
        ready: Readiness,
    ) -> anyhow::Result<JavaProcess> {
        let mut process = JavaProcess {
            name: name.to_string(),
            ready,
            command: args,
            log: log.to_path_buf(),
            since: 0,
            child: None,
        };
        process.start()?;
        Ok(process)
    }

    /// Starts the same command again (after [`JavaProcess::kill`]).
    pub fn start(&mut self) -> anyhow::Result<()> {
        if let Some(parent) = self.log.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)?;
        self.since = log.metadata()?.len() as usize;
        let mut command = Command::new(java17());
        command
            .args(&self.command)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        // SAFETY: prctl is async-signal-safe; it only asks the kernel to SIGKILL the server when
        // the process that started it dies, so no JVM outlives a crashed launcher.
        unsafe {
            command.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let child = command
            .spawn()
            .with_context(|| format!("cannot start {} (java17: {:?})", self.name, java17()))?;
        self.child = Some(child);
        Ok(())
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// SIGKILL, then the same command again (on the server's data, ports and log).
    pub fn restart(&mut self) -> anyhow::Result<()> {
        self.kill();
        self.start()
    }

    pub fn log(&self) -> &Path {
        &self.log
    }

    /// The last `lines` lines of the server's log.
    pub fn log_tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// Whether this start's output has `line` in it (a server's readiness line, say).
    pub fn logged(&self, line: &str) -> bool {
        std::fs::read(&self.log).is_ok_and(|bytes| {
            String::from_utf8_lossy(bytes.get(self.since..).unwrap_or_default()).contains(line)
        })
    }

    /// An error when the process has exited, with the end of its log.
    pub fn check_alive(&mut self) -> anyhow::Result<()> {
        if let Some(child) = self.child.as_mut() {
            if let Some(status) = child.try_wait()? {
                self.child = None;
                bail!(
                    "{} exited ({status}); the end of {}:\n{}",
                    self.name,
                    self.log.display(),
                    self.log_tail(60)
                );
            }
        }
        Ok(())
    }

    /// Waits until this start's log has the readiness line and the server answers; how long that
    /// took, or an error naming the server with the end of its log.
    pub async fn wait_ready(&mut self, within: Duration) -> anyhow::Result<Duration> {
        let started = Instant::now();
        loop {
            self.check_alive()?;
            if self.logged(self.ready.line) && (self.ready.answers)().await {
                return Ok(started.elapsed());
            }
            if started.elapsed() > within {
                bail!(
                    "{} did not answer within {within:?}; the end of {}:\n{}",
                    self.ready.what,
                    self.log.display(),
                    self.log_tail(60)
                );
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// SIGKILL, `down` without the server, then the same command again; how long the server took
    /// to answer once started.
    pub async fn crash_for(
        &mut self,
        down: Duration,
        within: Duration,
    ) -> anyhow::Result<Duration> {
        self.kill();
        tokio::time::sleep(down).await;
        self.start()?;
        self.wait_ready(within).await
    }

    /// SIGSTOP for `hang` (the sockets stay open, nothing answers), then SIGCONT.
    pub async fn hang_for(&self, hang: Duration) -> anyhow::Result<()> {
        self.pause()?;
        tokio::time::sleep(hang).await;
        self.resume()
    }

    fn signal(&self, signal: i32) -> anyhow::Result<()> {
        let pid = self.pid().context("not running")?;
        // SAFETY: kill(2) on the PID of a child this value owns and has not reaped.
        if unsafe { libc::kill(pid as i32, signal) } != 0 {
            bail!(
                "cannot signal {} (pid {pid}): {}",
                self.name,
                std::io::Error::last_os_error()
            );
        }
        Ok(())
    }

    /// SIGKILL, as a crash: nothing is flushed; waits until the process is gone.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM, as an orderly stop; SIGKILL after `grace`.
    pub fn terminate(&mut self, grace: Duration) {
        if self.signal(libc::SIGTERM).is_err() {
            self.kill();
            return;
        }
        let deadline = Instant::now() + grace;
        while let Some(child) = self.child.as_mut() {
            if !matches!(child.try_wait(), Ok(None)) || Instant::now() > deadline {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        self.kill();
    }

    /// SIGSTOP: the process hangs, its sockets stay open.
    pub fn pause(&self) -> anyhow::Result<()> {
        self.signal(libc::SIGSTOP)
    }

    /// SIGCONT after [`JavaProcess::pause`].
    pub fn resume(&self) -> anyhow::Result<()> {
        self.signal(libc::SIGCONT)
    }
}

impl Drop for JavaProcess {
    fn drop(&mut self) {
        let _ = self.resume();
        self.terminate(Duration::from_secs(10));
    }
}
