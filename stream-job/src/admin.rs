//! The admin port: `/health` (what is failing, if anything), `/metrics` and `/openapi.json`,
//! the shared operational routes of `service_runtime::ops`.

use std::sync::Arc;

use axum::Router;

use crate::health::Health;
use crate::metrics::Metrics;

pub fn router(metrics: Arc<Metrics>, health: Health) -> Router {
    service_runtime::ops::admin_router(Arc::new(move || health.problem()), metrics)
}
