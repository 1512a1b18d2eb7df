//! Retrying with capped exponential backoff, one policy for every wait on a store or a broker:
//! 100 ms, 200 ms, … up to a cap, for as long as it takes, until the work succeeds or the caller
//! is told to stop. The schedule is `backon`'s; what this adds is the stop token, one log line
//! per failure and a hook (`on_failure`) for health and metrics.
//!
//! In stream-job this is the back-pressure: while a write is being retried nothing new is
//! consumed and nothing is committed, so an outage delays orders but never loses or skips one.

use std::fmt::Display;
use std::future::Future;
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use tokio_util::sync::CancellationToken;

/// The first pause after a failure; it doubles up to the caller's cap.
const FIRST_BACKOFF: Duration = Duration::from_millis(100);

/// The caller was asked to stop while the work was still failing.
#[derive(Debug, thiserror::Error)]
#[error("stopped while retrying {0}")]
pub struct Stopped(pub String);

/// Runs `attempt` until it returns `Ok`, pausing with capped exponential backoff between tries and
/// calling `on_failure` with each error. Gives up only when `stop` is cancelled.
pub async fn until_ok<T, E, F, Fut>(
    what: &str,
    max_backoff: Duration,
    stop: &CancellationToken,
    mut on_failure: impl FnMut(&E),
    attempt: F,
) -> Result<T, Stopped>
where
    E: Display,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let policy = ExponentialBuilder::new()
        .with_min_delay(FIRST_BACKOFF.min(max_backoff))
        .with_max_delay(max_backoff)
        .without_max_times();
    let mut failures: u64 = 0;
    let retrying = attempt
        .retry(policy)
        .sleep(tokio::time::sleep)
        .notify(|error: &E, pause: Duration| {
            failures += 1;
            on_failure(error);
            tracing::warn!(what, %error, failures, retry_in_ms = pause.as_millis() as u64, "failed; retrying");
        });
    let outcome = tokio::select! {
        outcome = retrying => outcome,
        () = stop.cancelled() => return Err(Stopped(what.to_string())),
    };
    match outcome {
        Ok(value) => {
            if failures > 0 {
                tracing::info!(what, failures, "recovered");
            }
            Ok(value)
        }
        // The policy sets no limit on tries, so the retry only ends in success or a stop.
        Err(_) => Err(Stopped(what.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn retries_until_the_work_succeeds() {
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
    async fn pauses_double_up_to_the_cap() {
        let stop = CancellationToken::new();
        let started = tokio::time::Instant::now();
        let mut calls = 0;
        let result: Result<(), Stopped> = until_ok(
            "test",
            Duration::from_millis(300),
            &stop,
            |_: &String| {},
            || {
                calls += 1;
                let n = calls;
                async move {
                    if n < 5 {
                        Err("down".to_string())
                    } else {
                        Ok(())
                    }
                }
            },
        )
        .await;
        assert!(result.is_ok());
        // 100 + 200 + 300 + 300 ms of pauses before the fifth try (the paused clock may add a
        // millisecond per sleep).
        let waited = started.elapsed();
        assert!(
            (Duration::from_millis(900)..Duration::from_millis(910)).contains(&waited),
            "{waited:?}"
        );
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
