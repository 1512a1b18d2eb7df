//! Retrying a failing write with capped exponential backoff until it succeeds or the job stops.
//!
//! This is the job's back-pressure: while a write is being retried, nothing new is consumed and
//! nothing is committed, so an outage delays orders but never loses or skips one.

use std::fmt::Display;
use std::future::Future;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

/// The job was asked to stop while a write was still failing.
#[derive(Debug, thiserror::Error)]
#[error("stopped while retrying {0}")]
pub struct Stopped(pub String);

/// Runs `attempt` until it returns `Ok`, sleeping 100 ms, 200 ms, … up to `max_backoff` between
/// tries, calling `on_failure` with each error. Gives up only when `stop` is cancelled.
pub async fn until_ok<T, E, F, Fut>(
    what: &str,
    max_backoff: Duration,
    stop: &CancellationToken,
    mut on_failure: impl FnMut(&E),
    mut attempt: F,
) -> Result<T, Stopped>
where
    E: Display,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let mut backoff = Duration::from_millis(100).min(max_backoff);
    let mut failures: u64 = 0;
    loop {
        let outcome = tokio::select! {
            outcome = attempt() => outcome,
            () = stop.cancelled() => return Err(Stopped(what.to_string())),
        };
        match outcome {
            Ok(value) => {
                if failures > 0 {
                    tracing::info!(what, failures, "recovered");
                }
                return Ok(value);
            }
            Err(error) => {
                failures += 1;
                on_failure(&error);
                tracing::warn!(what, %error, failures, retry_in_ms = backoff.as_millis() as u64, "write failed; retrying");
                tokio::select! {
                    () = tokio::time::sleep(backoff) => {},
                    () = stop.cancelled() => return Err(Stopped(what.to_string())),
                }
                backoff = (backoff * 2).min(max_backoff);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn retries_until_the_write_succeeds() {
        let stop = CancellationToken::new();
        let mut calls = 0;
        let mut seen = 0;
        let result: Result<u32, Stopped> = until_ok(
            "test",
            Duration::from_secs(1),
            &stop,
            |_: &String| seen += 1,
            || {
                calls += 1;
                let n = calls;
                async move {
                    if n < 4 {
                        Err(format!("fail {n}"))
                    } else {
                        Ok(n)
                    }
                }
            },
        )
        .await;
        assert_eq!(result.unwrap(), 4);
        assert_eq!(seen, 3);
    }

    #[tokio::test(start_paused = true)]
    async fn stops_when_cancelled() {
        let stop = CancellationToken::new();
        stop.cancel();
        let result: Result<(), Stopped> = until_ok(
            "test",
            Duration::from_secs(1),
            &stop,
            |_: &String| {},
            || async { Err("down".to_string()) },
        )
        .await;
        assert!(result.is_err());
    }
}
