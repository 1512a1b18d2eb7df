//! Readiness: whether Kafka can take orders. `/health`, `/metrics` and `/openapi.json` are the
//! shared ones of `service_runtime::ops`.

use axum::extract::State;
use axum::http::StatusCode;

use crate::startup::AppState;

/// Kafka answers metadata for the order topic.
#[utoipa::path(
    get,
    path = "/ready",
    tag = "operations",
    responses(
        (status = 200, description = "`ready`: Kafka answers for the order topic.", body = String, content_type = "text/plain"),
        (status = 503, description = "Kafka unreachable or the topic missing.", body = String, content_type = "text/plain"),
    )
)]
pub async fn ready(State(app): State<AppState>) -> (StatusCode, &'static str) {
    if app.producer.ready().await {
        (StatusCode::OK, "ready")
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "kafka not reachable or topic missing",
        )
    }
}
