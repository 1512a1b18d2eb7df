//! What a run has done so far: counts by outcome, refusals by code, and request latency in an
//! HDR histogram; read live by the progress bar and once more for the final summary.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::traffic::Kind;

pub struct Stats {
    started: Instant,
    /// Sales handed to the senders (one per step).
    pub sales_sent: AtomicU64,
    pub orders_accepted: AtomicU64,
    pub refunds_accepted: AtomicU64,
    pub voids_accepted: AtomicU64,
    /// Retries and in-batch duplicates accepted (counted once in the stores).
    pub repeats_accepted: AtomicU64,
    /// Events refused (each once, whatever codes it got).
    pub events_rejected: AtomicU64,
    pub requests: AtomicU64,
    pub unavailable: AtomicU64,
    pub throttled: AtomicU64,
    pub transport_errors: AtomicU64,
    rejected: Mutex<BTreeMap<String, u64>>,
    /// Microseconds per HTTP request, whatever its answer.
    latency: Mutex<Histogram<u64>>,
}

/// The figures of a run, printed at the end and written as JSON with `--summary`.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct Summary {
    pub seconds: f64,
    pub sales_sent: u64,
    pub orders_accepted: u64,
    pub refunds_accepted: u64,
    pub voids_accepted: u64,
    pub repeats_accepted: u64,
    pub events_rejected: u64,
    /// Refusals by error code (an event can carry several).
    pub rejected: BTreeMap<String, u64>,
    pub requests: u64,
    pub unavailable_503: u64,
    pub throttled_429: u64,
    pub transport_errors: u64,
    pub orders_per_second: f64,
    pub requests_per_second: f64,
    pub latency_ms_p50: f64,
    pub latency_ms_p90: f64,
    pub latency_ms_p99: f64,
    pub latency_ms_max: f64,
}

impl Default for Stats {
    fn default() -> Self {
        Stats {
            started: Instant::now(),
            sales_sent: AtomicU64::new(0),
            orders_accepted: AtomicU64::new(0),
            refunds_accepted: AtomicU64::new(0),
            voids_accepted: AtomicU64::new(0),
            repeats_accepted: AtomicU64::new(0),
            events_rejected: AtomicU64::new(0),
            requests: AtomicU64::new(0),
            unavailable: AtomicU64::new(0),
            throttled: AtomicU64::new(0),
            transport_errors: AtomicU64::new(0),
            rejected: Mutex::new(BTreeMap::new()),
            // 1 µs to 10 minutes at three significant digits.
            latency: Mutex::new(
                Histogram::new_with_bounds(1, 600_000_000, 3).expect("valid histogram bounds"),
            ),
        }
    }
}

fn count(counter: &AtomicU64) -> u64 {
    counter.load(Ordering::Relaxed)
}

impl Stats {
    pub fn request(&self, took: Duration) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let micros = (took.as_micros() as u64).clamp(1, 600_000_000);
        if let Ok(mut latency) = self.latency.lock() {
            latency.saturating_record(micros);
        }
    }

    pub fn accepted(&self, kind: Kind) {
        let counter = match kind {
            Kind::Order => &self.orders_accepted,
            Kind::Refund => &self.refunds_accepted,
            Kind::Void => &self.voids_accepted,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// An event refused with these codes.
    pub fn rejected(&self, codes: &[String]) {
        self.events_rejected.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut rejected) = self.rejected.lock() {
            for code in codes {
                *rejected.entry(code.clone()).or_default() += 1;
            }
        }
    }

    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    pub fn latency_ms(&self, quantile: f64) -> f64 {
        self.latency
            .lock()
            .map(|l| l.value_at_quantile(quantile) as f64 / 1_000.0)
            .unwrap_or(0.0)
    }

    /// `range 3, total_mismatch 1`, or `none`.
    pub fn rejected_text(&self) -> String {
        codes_text(&self.rejected.lock().map(|r| r.clone()).unwrap_or_default())
    }

    /// One line of live figures.
    pub fn line(&self) -> String {
        let seconds = self.elapsed().as_secs_f64().max(0.001);
        format!(
            "{:.0} orders/s | accepted {} orders, {} refunds, {} voids | rejected: {} | 503: {} | 429: {} | p99 {:.1} ms",
            count(&self.orders_accepted) as f64 / seconds,
            count(&self.orders_accepted),
            count(&self.refunds_accepted),
            count(&self.voids_accepted),
            self.rejected_text(),
            count(&self.unavailable),
            count(&self.throttled),
            self.latency_ms(0.99),
        )
    }

    pub fn summary(&self) -> Summary {
        let seconds = self.elapsed().as_secs_f64().max(0.001);
        let max = self
            .latency
            .lock()
            .map(|l| l.max() as f64 / 1_000.0)
            .unwrap_or(0.0);
        Summary {
            seconds,
            sales_sent: count(&self.sales_sent),
            orders_accepted: count(&self.orders_accepted),
            refunds_accepted: count(&self.refunds_accepted),
            voids_accepted: count(&self.voids_accepted),
            repeats_accepted: count(&self.repeats_accepted),
            events_rejected: count(&self.events_rejected),
            rejected: self.rejected.lock().map(|r| r.clone()).unwrap_or_default(),
            requests: count(&self.requests),
            unavailable_503: count(&self.unavailable),
            throttled_429: count(&self.throttled),
            transport_errors: count(&self.transport_errors),
            orders_per_second: count(&self.orders_accepted) as f64 / seconds,
            requests_per_second: count(&self.requests) as f64 / seconds,
            latency_ms_p50: self.latency_ms(0.50),
            latency_ms_p90: self.latency_ms(0.90),
            latency_ms_p99: self.latency_ms(0.99),
            latency_ms_max: max,
        }
    }
}

/// Refusals by code as `range 3, total_mismatch 1`, or `none`.
fn codes_text(rejected: &BTreeMap<String, u64>) -> String {
    if rejected.is_empty() {
        return "none".into();
    }
    rejected
        .iter()
        .map(|(code, n)| format!("{code} {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "loadgen: {:.1} s, {} sales sent",
            self.seconds, self.sales_sent
        )?;
        writeln!(
            f,
            "  accepted: {} orders ({:.0}/s), {} refunds, {} voids; {} retries and duplicates accepted",
            self.orders_accepted,
            self.orders_per_second,
            self.refunds_accepted,
            self.voids_accepted,
            self.repeats_accepted
        )?;
        writeln!(
            f,
            "  rejected: {} events ({})",
            self.events_rejected,
            codes_text(&self.rejected)
        )?;
        writeln!(
            f,
            "  requests: {} ({:.0}/s); 503 answered {}, 429 answered {}, transport errors {}",
            self.requests,
            self.requests_per_second,
            self.unavailable_503,
            self.throttled_429,
            self.transport_errors
        )?;
        write!(
            f,
            "  latency: p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            self.latency_ms_p50, self.latency_ms_p90, self.latency_ms_p99, self.latency_ms_max
        )
    }
}
