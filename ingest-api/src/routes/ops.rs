//! Operational routes: liveness, readiness, metrics and the API description.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;

use crate::startup::AppState;

/// The process is up.
pub async fn health() -> impl IntoResponse {
    (StatusCode::OK, "ok")
}

/// Kafka answers metadata for the order topic.
pub async fn ready(State(app): State<AppState>) -> impl IntoResponse {
    if app.producer.ready().await {
        (StatusCode::OK, "ready")
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "kafka not reachable or topic missing",
        )
    }
}

pub async fn metrics(State(app): State<AppState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        app.metrics.render(),
    )
}

pub const OPENAPI: &str = include_str!("../../openapi.json");

pub async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI)
}
