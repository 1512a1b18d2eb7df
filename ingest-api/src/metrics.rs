//! Prometheus metrics of one ingest-api instance, in their own registry (no global state, so
//! every test app counts only its own traffic).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use service_runtime::metrics::{Exposition, RequestMetrics};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RejectLabels {
    pub code: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabels {
    /// `order`, `refund` or `void`.
    pub kind: &'static str,
}

pub struct Metrics {
    registry: Registry,
    pub requests: RequestMetrics,
    pub orders_accepted: Counter,
    pub events_accepted: Family<KindLabels, Counter>,
    pub orders_rejected: Family<RejectLabels, Counter>,
    pub produce_latency: Histogram,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("ingest");
        let requests = RequestMetrics::register(&mut registry);
        let orders_accepted = Counter::default();
        let events_accepted = Family::<KindLabels, Counter>::default();
        let orders_rejected = Family::<RejectLabels, Counter>::default();
        // 1 ms .. ~16 s
        let produce_latency = Histogram::new(exponential_buckets(0.001, 2.0, 15));
        registry.register(
            "orders_accepted",
            "Orders acknowledged by Kafka",
            orders_accepted.clone(),
        );
        registry.register(
            "events_accepted",
            "Events (orders, refunds, voids) acknowledged by Kafka, by kind",
            events_accepted.clone(),
        );
        registry.register(
            "orders_rejected",
            "Orders, refunds and voids refused, by error code",
            orders_rejected.clone(),
        );
        registry.register(
            "produce_latency_seconds",
            "Time from produce to Kafka's delivery report",
            produce_latency.clone(),
        );
        Self {
            registry,
            requests,
            orders_accepted,
            events_accepted,
            orders_rejected,
            produce_latency,
        }
    }
}

impl Metrics {
    /// Counts one event Kafka acknowledged (sales also in `orders_accepted`, as before).
    pub fn accepted(&self, kind: sales_model::EventKind) {
        if kind == sales_model::EventKind::Sale {
            self.orders_accepted.inc();
        }
        self.events_accepted
            .get_or_create(&KindLabels {
                kind: kind.as_str(),
            })
            .inc();
    }

    pub fn reject(&self, code: &str) {
        self.orders_rejected
            .get_or_create(&RejectLabels {
                code: code.to_string(),
            })
            .inc();
    }
}

impl Exposition for Metrics {
    fn registry(&self) -> &Registry {
        &self.registry
    }
}
