//! Prometheus metrics of one serving instance, in their own registry.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use service_runtime::metrics::Exposition;
use service_runtime::metrics::RequestMetrics;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct JobLabels {
    pub job: String,
    pub outcome: String,
}

pub struct Metrics {
    registry: Registry,
    pub requests: RequestMetrics,
    pub job_runs: Family<JobLabels, Counter>,
    pub reconciliation_mismatches: Gauge,
    pub unknown_sale_refunds: Gauge,
    pub reconciliation_last_run: Gauge,
    pub reconciliation_last_success: Gauge,
    pub partitions_dropped: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("serving");
        let requests = RequestMetrics::register(&mut registry);
        let job_runs = Family::<JobLabels, Counter>::default();
        let reconciliation_mismatches = Gauge::default();
        let unknown_sale_refunds = Gauge::default();
        let reconciliation_last_run = Gauge::default();
        let reconciliation_last_success = Gauge::default();
        let partitions_dropped = Counter::default();
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
            "reconciliation_unknown_sale_refunds",
            "Refunds on the compared days whose sale is not stored, at the last run",
            unknown_sale_refunds.clone(),
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
            job_runs,
            reconciliation_mismatches,
            unknown_sale_refunds,
            reconciliation_last_run,
            reconciliation_last_success,
            partitions_dropped,
        }
    }
}

impl Exposition for Metrics {
    fn registry(&self) -> &Registry {
        &self.registry
    }
}
