//! What every request handler shares. Kept apart from `startup`, which builds it, so the routes
//! depend on the state and `startup` on the routes, never the other way round.

use std::sync::Arc;

use crate::configuration::IngestConfig;
use crate::metrics::Metrics;
use crate::producer::EventProducer;

/// Shared by every request.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<IngestConfig>,
    pub producer: EventProducer,
    pub metrics: Arc<Metrics>,
}
