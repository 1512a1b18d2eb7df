//! Prometheus metrics of one stream-job instance, in their own registry.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
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

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StoreLabel {
    pub store_id: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LagLabels {
    partition: i32,
    /// `event`: the till's `created_at`; `ingest`: when ingest-api accepted it.
    since: &'static str,
}

/// Per partition: the event time and the ingest time of a message.
pub type PartitionTimes = BTreeMap<i32, (DateTime<Utc>, DateTime<Utc>)>;

/// The times of the newest committed messages: per partition (event time, ingest time) of the
/// last one, and per store its newest event.
#[derive(Debug, Default)]
pub struct Committed {
    pub partitions: PartitionTimes,
    pub stores: BTreeMap<String, DateTime<Utc>>,
}

impl Committed {
    /// Adds `later`, whose messages come after these in their partitions.
    pub fn merge(&mut self, later: Committed) {
        self.partitions.extend(later.partitions);
        for (store, at) in later.stores {
            let newest = self.stores.entry(store).or_insert(at);
            *newest = (*newest).max(at);
        }
    }
}

/// `lag_seconds`, computed when scraped: per partition, now minus the event time and the ingest
/// time of the last committed message while messages wait behind it (read by the job and not yet
/// committed, or counted by librdkafka's consumer lag), and 0 once the partition is caught up, so
/// an idle partition shows no lag.
#[derive(Debug)]
struct LagCollector {
    committed: Arc<Mutex<PartitionTimes>>,
    uncommitted: Arc<Mutex<BTreeSet<i32>>>,
    consumer_lag: Family<PartitionLabel, Gauge>,
}

impl Collector for LagCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let lag = Family::<LagLabels, Gauge<f64, AtomicU64>>::default();
        let now = Utc::now();
        let committed = self.committed.lock().map(|c| c.clone()).unwrap_or_default();
        let uncommitted = self
            .uncommitted
            .lock()
            .map(|u| u.clone())
            .unwrap_or_default();
        for (partition, (event, ingest)) in committed {
            let waiting = uncommitted.contains(&partition)
                || self
                    .consumer_lag
                    .get(&PartitionLabel { partition })
                    .is_some_and(|messages| messages.get() > 0);
            for (since, at) in [("event", event), ("ingest", ingest)] {
                let seconds = if waiting {
                    (now - at).num_milliseconds().max(0) as f64 / 1e3
                } else {
                    0.0
                };
                lag.get_or_create(&LagLabels { partition, since })
                    .set(seconds);
            }
        }
        let family = encoder.encode_descriptor(
            "lag_seconds",
            "Per partition: now minus the event (since=event) or ingest (since=ingest) time of the last committed message while messages wait behind it, 0 when caught up",
            None,
            lag.metric_type(),
        )?;
        lag.encode(family)
    }
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
    pub healthy: Gauge,
    pub store_last_event: Family<StoreLabel, Gauge<f64, AtomicU64>>,
    committed: Arc<Mutex<PartitionTimes>>,
    uncommitted: Arc<Mutex<BTreeSet<i32>>>,
}

impl Default for Metrics {
    fn default() -> Self {
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
        let healthy = Gauge::default();
        healthy.set(1);
        let store_last_event = Family::<StoreLabel, Gauge<f64, AtomicU64>>::default();
        let committed = Arc::default();
        let uncommitted = Arc::default();
        let mut metrics = Self {
            registry: Registry::default(),
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
            healthy,
            store_last_event,
            committed,
            uncommitted,
        };
        let mut registry = Registry::with_prefix("stream_job");
        metrics.register(&mut registry);
        metrics.registry = registry;
        metrics
    }
}

impl Metrics {
    /// Registers every metric of the job, with its help text, in `registry`.
    fn register(&self, registry: &mut Registry) {
        registry.register(
            "healthy",
            "1 while nothing fails (what /health answers 200 to), 0 while something does",
            self.healthy.clone(),
        );
        registry.register(
            "store_last_event_timestamp_seconds",
            "Per store: the event time of its newest committed sale, refund or void (Unix seconds)",
            self.store_last_event.clone(),
        );
        registry.register_collector(Box::new(LagCollector {
            committed: Arc::clone(&self.committed),
            uncommitted: Arc::clone(&self.uncommitted),
            consumer_lag: self.consumer_lag.clone(),
        }));
        registry.register(
            "consumed",
            "Messages read from the order topic",
            self.consumed.clone(),
        );
        registry.register("written", "Rows written, by table", self.written.clone());
        registry.register(
            "dead_lettered",
            "Messages sent to the dead-letter topic, by reason",
            self.dead_lettered.clone(),
        );
        registry.register(
            "conflicting_duplicates",
            "Orders, refunds and voids that reused a stored id with other content (sent to the dead-letter topic)",
            self.conflicting_duplicates.clone(),
        );
        registry.register(
            "refunds_of_unknown_sales",
            "Refunds whose sale the pipeline did not know when it handled them (still counted)",
            self.refunds_of_unknown_sales.clone(),
        );
        registry.register(
            "over_refunds",
            "Refunds that took a sale's refunds past its total (still counted)",
            self.over_refunds.clone(),
        );
        registry.register(
            "voids_of_unknown_sales",
            "Voids whose sale the pipeline did not know yet (the sale is stored voided when it comes)",
            self.voids_of_unknown_sales.clone(),
        );
        registry.register(
            "conflict_check_seconds",
            "Time to read back what Cassandra holds of a batch's ids (one read per id)",
            self.conflict_check_latency.clone(),
        );
        registry.register(
            "consumer_lag",
            "Messages behind the partition's end, by partition",
            self.consumer_lag.clone(),
        );
        registry.register(
            "sink_latency_seconds",
            "Time to write one batch to a sink, retries included",
            self.sink_latency.clone(),
        );
        registry.register(
            "sink_failures",
            "Failed attempts to write a batch or read back its stored versions, by sink (each is retried)",
            self.sink_failures.clone(),
        );
        registry.register(
            "commits",
            "Offset commits after durable batches",
            self.commits.clone(),
        );
        registry.register(
            "flush_latency_seconds",
            "Time to flush a sink (ClickHouse: recompute the touched windows)",
            self.flush_latency.clone(),
        );
        registry.register(
            "windows_recomputed",
            "Aggregate windows recomputed from the facts",
            self.windows_recomputed.clone(),
        );
        registry.register(
            "freshness_seconds",
            "End-to-end freshness: now minus ingested_at when a recompute covering the order completes",
            self.freshness.clone(),
        );
    }
}

impl Metrics {
    /// Records what a successful commit made final: the partitions' last messages (for
    /// `lag_seconds`) and the stores' newest events.
    pub fn committed(&self, committed: &Committed) {
        if let Ok(mut partitions) = self.committed.lock() {
            partitions.extend(committed.partitions.iter().map(|(p, t)| (*p, *t)));
        }
        if let Ok(mut uncommitted) = self.uncommitted.lock() {
            uncommitted.clear();
        }
        for (store, at) in &committed.stores {
            let gauge = self.store_last_event.get_or_create(&StoreLabel {
                store_id: store.clone(),
            });
            let seconds = at.timestamp_millis() as f64 / 1e3;
            if seconds > gauge.get() {
                gauge.set(seconds);
            }
        }
    }

    /// Records that messages of `partitions` were read and wait for a commit.
    pub fn reading(&self, partitions: impl IntoIterator<Item = i32>) {
        if let Ok(mut uncommitted) = self.uncommitted.lock() {
            uncommitted.extend(partitions);
        }
    }

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
