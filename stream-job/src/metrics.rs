//! Prometheus metrics of one stream-job instance, in their own registry.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use service_runtime::metrics::Exposition;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TableLabel {
    pub table: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SinkLabel {
    pub sink: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CodeLabel {
    pub code: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PartitionLabel {
    pub partition: i32,
}

pub struct Metrics {
    registry: Registry,
    pub consumed: Counter,
    pub written: Family<TableLabel, Counter>,
    pub dead_lettered: Family<CodeLabel, Counter>,
    pub conflicting_duplicates: Counter,
    pub refunds_of_unknown_sales: Counter,
    pub over_refunds: Counter,
    pub voids_of_unknown_sales: Counter,
    pub conflict_check_latency: Histogram,
    pub consumer_lag: Family<PartitionLabel, Gauge>,
    pub sink_latency: Family<SinkLabel, Histogram>,
    pub sink_failures: Family<SinkLabel, Counter>,
    pub commits: Counter,
    pub flush_latency: Family<SinkLabel, Histogram>,
    pub windows_recomputed: Counter,
    pub freshness: Histogram,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("stream_job");
        let consumed = Counter::default();
        let written = Family::<TableLabel, Counter>::default();
        let dead_lettered = Family::<CodeLabel, Counter>::default();
        let conflicting_duplicates = Counter::default();
        let refunds_of_unknown_sales = Counter::default();
        let over_refunds = Counter::default();
        let voids_of_unknown_sales = Counter::default();
        let conflict_check_latency = Histogram::new(exponential_buckets(0.001, 2.0, 16));
        let consumer_lag = Family::<PartitionLabel, Gauge>::default();
        // 1 ms .. ~33 s
        let sink_latency = Family::<SinkLabel, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.001, 2.0, 16))
        });
        let sink_failures = Family::<SinkLabel, Counter>::default();
        let commits = Counter::default();
        let flush_latency = Family::<SinkLabel, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.001, 2.0, 16))
        });
        let windows_recomputed = Counter::default();
        // 10 ms .. ~6 min in steps of 10%, so a percentile read from it is within 10%.
        let freshness = Histogram::new(exponential_buckets(0.01, 1.1, 110));
        registry.register(
            "consumed",
            "Messages read from the order topic",
            consumed.clone(),
        );
        registry.register("written", "Rows written, by table", written.clone());
        registry.register(
            "dead_lettered",
            "Messages sent to the dead-letter topic, by reason",
            dead_lettered.clone(),
        );
        registry.register(
            "conflicting_duplicates",
            "Orders, refunds and voids that reused a stored id with other content (sent to the dead-letter topic)",
            conflicting_duplicates.clone(),
        );
        registry.register(
            "refunds_of_unknown_sales",
            "Refunds whose sale the pipeline did not know when it handled them (still counted)",
            refunds_of_unknown_sales.clone(),
        );
        registry.register(
            "over_refunds",
            "Refunds that took a sale's refunds past its total (still counted)",
            over_refunds.clone(),
        );
        registry.register(
            "voids_of_unknown_sales",
            "Voids whose sale the pipeline did not know yet (the sale is stored voided when it comes)",
            voids_of_unknown_sales.clone(),
        );
        registry.register(
            "conflict_check_seconds",
            "Time to read back what Cassandra holds of a batch's ids (one read per id)",
            conflict_check_latency.clone(),
        );
        registry.register(
            "consumer_lag",
            "Messages behind the partition's end, by partition",
            consumer_lag.clone(),
        );
        registry.register(
            "sink_latency_seconds",
            "Time to write one batch to a sink, retries included",
            sink_latency.clone(),
        );
        registry.register(
            "sink_failures",
            "Failed attempts to write a batch or read back its stored versions, by sink (each is retried)",
            sink_failures.clone(),
        );
        registry.register(
            "commits",
            "Offset commits after durable batches",
            commits.clone(),
        );
        registry.register(
            "flush_latency_seconds",
            "Time to flush a sink (ClickHouse: recompute the touched windows)",
            flush_latency.clone(),
        );
        registry.register(
            "windows_recomputed",
            "Aggregate windows recomputed from the facts",
            windows_recomputed.clone(),
        );
        registry.register(
            "freshness_seconds",
            "End-to-end freshness: now minus ingested_at when a recompute covering the order completes",
            freshness.clone(),
        );
        Self {
            registry,
            consumed,
            written,
            dead_lettered,
            conflicting_duplicates,
            refunds_of_unknown_sales,
            over_refunds,
            voids_of_unknown_sales,
            conflict_check_latency,
            consumer_lag,
            sink_latency,
            sink_failures,
            commits,
            flush_latency,
            windows_recomputed,
            freshness,
        }
    }
}

impl Metrics {
    pub fn wrote(&self, table: &str, rows: u64) {
        self.written
            .get_or_create(&TableLabel {
                table: table.to_string(),
            })
            .inc_by(rows);
    }
}

impl Exposition for Metrics {
    fn registry(&self) -> &Registry {
        &self.registry
    }
}
