//! The current ClickHouse engine for tests (DESIGN.md §8): chdb, the engine in-process, behind
//! our ClickHouse-HTTP front `workshop/test-support/chdb_front.py`.
//!
//! Starting the engine costs a second or two, so one front serves every test of a process, each
//! test in a database of its own. The front is never stopped explicitly: a static never drops, so
//! instead the front watches its stdin and exits when the pipe closes, which happens whenever
//! this process ends, however it ends.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{mpsc, OnceLock};
use std::time::Duration;

/// How long the engine may take to load before the harness gives up.
const START_TIMEOUT: Duration = Duration::from_secs(120);

/// The running front: the child and the pipe whose closing stops it.
struct Front {
    url: String,
    _child: Child,
    _stdin: ChildStdin,
}

static FRONT: OnceLock<Result<Front, String>> = OnceLock::new();

/// The front's base URL, starting it on first use. Panics with what to install when the engine
/// cannot start, since no ClickHouse test can run without it.
pub fn url() -> String {
    match FRONT.get_or_init(start) {
        Ok(front) => front.url.clone(),
        Err(message) => panic!("{message}"),
    }
}

fn workspace_root() -> PathBuf {
    // This crate lives in workshop/test-support.
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

/// The Python that has chdb: `CHDB_PYTHON`, else the venv `scripts/test` creates.
fn python() -> Result<PathBuf, String> {
    let python = std::env::var_os("CHDB_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target/chdb-venv/bin/python"));
    if python.exists() {
        Ok(python)
    } else {
        Err(format!(
            "the current ClickHouse engine needs {}: run ./scripts/test once (it creates the \
             venv), or `python3 -m venv target/chdb-venv && target/chdb-venv/bin/pip install -r \
             workshop/test-support/requirements-chdb.txt`, or set CHDB_PYTHON",
            python.display()
        ))
    }
}

fn start() -> Result<Front, String> {
    let script = workspace_root().join("workshop/test-support/chdb_front.py");
    let mut child = Command::new(python()?)
        .arg(&script)
        .args(["--host", "127.0.0.1", "--port", "0"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", script.display()))?;
    let stdin = child.stdin.take().ok_or("the front's stdin is not piped")?;
    let stdout = child
        .stdout
        .take()
        .ok_or("the front's stdout is not piped")?;
    // The first line is the URL, printed once the engine answers; read it on a thread so a
    // front that hangs while loading is reported instead of blocking forever.
    let (line_tx, line_rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let read = BufReader::new(stdout).read_line(&mut line).map(|_| line);
        let _ = line_tx.send(read);
    });
    let url = match line_rx.recv_timeout(START_TIMEOUT) {
        Ok(Ok(line)) if line.starts_with("http://") => line.trim().to_string(),
        Ok(Ok(line)) => {
            let _ = child.kill();
            return Err(format!(
                "chdb_front.py exited before it was ready (first line: {line:?}); its error is above"
            ));
        }
        Ok(Err(e)) => return Err(format!("reading chdb_front.py's address: {e}")),
        Err(_) => {
            let _ = child.kill();
            return Err(format!(
                "chdb_front.py did not start within {START_TIMEOUT:?}"
            ));
        }
    };
    Ok(Front {
        url,
        _child: child,
        _stdin: stdin,
    })
}
