//! Running one of the project's binaries as a user would, to read what it prints.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::Duration;

/// Starts `binary` with `env` added to the environment, lets it run for `run_for`, stops it, and
/// returns everything it printed (stdout, then stderr).
pub fn output_of(binary: &str, args: &[&str], env: &[(&str, &str)], run_for: Duration) -> String {
    let mut child = Command::new(binary)
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {binary}: {e}"));
    std::thread::sleep(run_for);
    let _ = child.kill();
    let _ = child.wait();
    let mut output = String::new();
    for stream in [
        child.stdout.take().map(|s| Box::new(s) as Box<dyn Read>),
        child.stderr.take().map(|s| Box::new(s) as Box<dyn Read>),
    ]
    .into_iter()
    .flatten()
    {
        let mut stream = stream;
        let _ = stream.read_to_string(&mut output);
    }
    output
}
