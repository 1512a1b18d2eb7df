//! Readiness: whether Kafka can take orders. `/health`, `/metrics` and `/openapi.json` are the
//! shared ones of `service_runtime::ops`.

use axum::extract::State;
use axum::http::StatusCode;
use service_runtime::ops::{readiness, Readiness};

use crate::state::AppState;

/// Kafka answers metadata for the order topic.
#[utoipa::path(get, path = "/ready", tag = "operations", responses(Readiness))]
pub async fn ready(State(app): State<AppState>) -> (StatusCode, String) {
    if app.producer.ready().await {
        readiness(&[])
    } else {
        readiness(&["kafka (or the order topic is missing)"])
    }
}
