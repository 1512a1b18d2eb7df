//! Posting to ingest-api the way a well-behaved POS does: a 503 is retried after its
//! `Retry-After`, a 429 backs off exponentially (never sooner than its `Retry-After`), a dropped
//! connection or another 5xx is retried with backoff too. Only an answer decides an event's fate,
//! so nothing loadgen sent is lost to a fault; a stop (`abandon`) is the only way out of the loop.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use backon::{BackoffBuilder, ExponentialBuilder};
use reqwest::StatusCode;
use serde_json::Value;
use service_runtime::{ExposeSecret, SecretString};
use tokio_util::sync::CancellationToken;

use crate::stats::Stats;

/// What became of a request.
#[derive(Debug)]
pub enum Answer {
    /// 2xx, with the parsed body (`Null` when it was not JSON).
    Accepted(Value),
    /// A 4xx other than 429: the body's error codes, or `http_<status>`.
    Rejected(Vec<String>),
    /// Given up because the run was stopped hard.
    Abandoned,
}

#[derive(Clone)]
pub struct Poster {
    client: reqwest::Client,
    base: String,
    key: SecretString,
    stats: Arc<Stats>,
    abandon: CancellationToken,
}

/// Without `Retry-After`, a 503 is retried after this long.
const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(1);

impl Poster {
    pub fn new(
        base: &str,
        key: SecretString,
        timeout: Duration,
        connections: usize,
        stats: Arc<Stats>,
        abandon: CancellationToken,
    ) -> anyhow::Result<Poster> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .pool_max_idle_per_host(connections)
            .build()?;
        Ok(Poster {
            client,
            base: base.trim_end_matches('/').to_string(),
            key,
            stats,
            abandon,
        })
    }

    fn backoff() -> impl Iterator<Item = Duration> {
        ExponentialBuilder::default()
            .with_min_delay(Duration::from_millis(100))
            .with_max_delay(Duration::from_secs(10))
            .with_jitter()
            .without_max_times()
            .build()
    }

    /// POSTs `body` to `route` until it gets an answer that decides it.
    pub async fn post(&self, route: &str, body: &(impl serde::Serialize + ?Sized)) -> Answer {
        let url = format!("{}{route}", self.base);
        let mut backoff = Self::backoff();
        loop {
            if self.abandon.is_cancelled() {
                return Answer::Abandoned;
            }
            let started = Instant::now();
            let sent = self
                .client
                .post(&url)
                .bearer_auth(self.key.expose_secret())
                .json(body)
                .send()
                .await;
            let wait = match sent {
                Ok(response) => {
                    let status = response.status();
                    let retry_after = retry_after(&response);
                    let answer = response.bytes().await;
                    self.stats.request(started.elapsed());
                    match (status, answer) {
                        (s, Ok(bytes)) if s.is_success() => {
                            return Answer::Accepted(
                                serde_json::from_slice(&bytes).unwrap_or(Value::Null),
                            )
                        }
                        (StatusCode::SERVICE_UNAVAILABLE, _) => {
                            self.stats.unavailable.fetch_add(1, Ordering::Relaxed);
                            retry_after.unwrap_or(DEFAULT_RETRY_AFTER)
                        }
                        (StatusCode::TOO_MANY_REQUESTS, _) => {
                            self.stats.throttled.fetch_add(1, Ordering::Relaxed);
                            let next = backoff.next().unwrap_or(Duration::from_secs(10));
                            next.max(retry_after.unwrap_or_default())
                        }
                        (s, Ok(bytes)) if s.is_client_error() => {
                            return Answer::Rejected(codes(s, &bytes));
                        }
                        _ => {
                            self.stats.transport_errors.fetch_add(1, Ordering::Relaxed);
                            backoff.next().unwrap_or(Duration::from_secs(10))
                        }
                    }
                }
                Err(error) => {
                    self.stats.transport_errors.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(%error, %url, "ingest-api not reachable; retrying");
                    backoff.next().unwrap_or(Duration::from_secs(10))
                }
            };
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = self.abandon.cancelled() => return Answer::Abandoned,
            }
        }
    }
}

fn retry_after(response: &reqwest::Response) -> Option<Duration> {
    response
        .headers()
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
        .map(Duration::from_secs)
}

/// The error codes of a refusal body (`{"errors": [{"code": …}]}`), else `http_<status>`.
pub fn codes(status: StatusCode, body: &[u8]) -> Vec<String> {
    let parsed: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let codes = error_codes(&parsed["errors"]);
    if codes.is_empty() {
        vec![format!("http_{}", status.as_u16())]
    } else {
        codes
    }
}

/// Codes of an `errors` array, each once.
pub fn error_codes(errors: &Value) -> Vec<String> {
    let mut codes: Vec<String> = errors
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["code"].as_str().map(String::from))
        .collect();
    codes.sort();
    codes.dedup();
    codes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_is_named_by_its_codes_or_its_status() {
        let body = br#"{"errors":[{"field":"total","code":"total_mismatch","message":"m"},{"field":"items[0].quantity","code":"range","message":"m"},{"field":"x","code":"range","message":"m"}]}"#;
        assert_eq!(
            codes(StatusCode::UNPROCESSABLE_ENTITY, body),
            ["range", "total_mismatch"]
        );
        assert_eq!(codes(StatusCode::UNAUTHORIZED, b"no"), ["http_401"]);
    }
}
