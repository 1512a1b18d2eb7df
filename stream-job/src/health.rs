//! What is currently failing in the job, by component (a sink's writes, its flush, connecting to a
//! store), so `/health` can name it. Each step reports its problem when it starts failing and
//! clears it when it recovers.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// What is currently failing, by component; empty when the job is healthy.
#[derive(Clone, Default)]
pub struct Health(Arc<Mutex<BTreeMap<String, String>>>);

impl Health {
    pub fn report(&self, component: &str, problem: Option<String>) {
        if let Ok(mut map) = self.0.lock() {
            match problem {
                Some(problem) => map.insert(component.to_string(), problem),
                None => map.remove(component),
            };
        }
    }

    /// A one-line description of every failing component, if any.
    pub fn problem(&self) -> Option<String> {
        let map = self.0.lock().ok()?;
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
