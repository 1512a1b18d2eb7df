//! What is currently failing in the job, by component (a sink's writes, its flush, connecting to a
//! store), so `/health` can name it. Each step reports its problem when it starts failing and
//! clears it when it recovers.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use prometheus_client::metrics::gauge::Gauge;

/// What is currently failing, by component; empty when the job is healthy. The `healthy` gauge
/// follows it (1 when empty), so Prometheus sees what `/health` answers.
#[derive(Clone, Default)]
pub struct Health {
    problems: Arc<Mutex<BTreeMap<String, String>>>,
    healthy: Gauge,
}

impl Health {
    /// Health that keeps `healthy` (stream-job's `healthy` metric) in step.
    pub fn with_gauge(healthy: Gauge) -> Health {
        healthy.set(1);
        Health {
            problems: Arc::default(),
            healthy,
        }
    }

    pub fn report(&self, component: &str, problem: Option<String>) {
        if let Ok(mut map) = self.problems.lock() {
            match problem {
                Some(problem) => map.insert(component.to_string(), problem),
                None => map.remove(component),
            };
            self.healthy.set(i64::from(map.is_empty()));
        }
    }

    /// A one-line description of every failing component, if any.
    pub fn problem(&self) -> Option<String> {
        let map = self.problems.lock().ok()?;
        if map.is_empty() {
            return None;
        }
        Some(
            map.iter()
                .map(|(k, v)| format!("{k}: {v}"))
                .collect::<Vec<_>>()
                .join("; "),
        )
    }
}
