//! Prometheus metrics of one serving instance, in their own registry.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use service_http::observe::RequestLabels;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabel {
    pub route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct JobLabels {
    pub job: String,
    pub outcome: String,
}

pub struct Metrics {
    registry: Registry,
    pub requests: Family<RequestLabels, Counter>,
    pub latency: Family<RouteLabel, Histogram>,
    pub job_runs: Family<JobLabels, Counter>,
    pub reconciliation_mismatches: Gauge,
    pub reconciliation_last_run: Gauge,
    pub reconciliation_last_success: Gauge,
    pub partitions_dropped: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("serving");
        let requests = Family::<RequestLabels, Counter>::default();
        // 0.5 ms .. ~16 s
        let latency = Family::<RouteLabel, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.0005, 2.0, 16))
        });
        let job_runs = Family::<JobLabels, Counter>::default();
        let reconciliation_mismatches = Gauge::default();
        let reconciliation_last_run = Gauge::default();
        let reconciliation_last_success = Gauge::default();
        let partitions_dropped = Counter::default();
        registry.register(
            "http_requests",
            "HTTP requests by route and status",
            requests.clone(),
        );
        registry.register(
            "request_latency_seconds",
            "Request latency by route",
            latency.clone(),
        );
        registry.register(
            "job_runs",
            "Scheduled job runs by job and outcome",
            job_runs.clone(),
        );
        registry.register(
            "reconciliation_mismatches",
            "Groups (day, store, channel, currency) on which the stores disagreed at the last run",
            reconciliation_mismatches.clone(),
        );
        registry.register(
            "reconciliation_last_run_timestamp_seconds",
            "When reconciliation last ran",
            reconciliation_last_run.clone(),
        );
        registry.register(
            "reconciliation_last_success_timestamp_seconds",
            "When reconciliation last completed a comparison",
            reconciliation_last_success.clone(),
        );
        registry.register(
            "retention_partitions_dropped",
            "ClickHouse partitions dropped by retention",
            partitions_dropped.clone(),
        );
        Self {
            registry,
            requests,
            latency,
            job_runs,
            reconciliation_mismatches,
            reconciliation_last_run,
            reconciliation_last_success,
            partitions_dropped,
        }
    }
}

impl Metrics {
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}
