//! The admin port: `/health` and `/metrics`.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

use crate::metrics::Metrics;
use crate::pipeline::Health;

#[derive(Clone)]
struct AdminState {
    metrics: Arc<Metrics>,
    health: Health,
}

pub fn router(metrics: Arc<Metrics>, health: Health) -> Router {
    Router::new()
        .route("/health", get(health_route))
        .route("/metrics", get(metrics_route))
        .with_state(AdminState { metrics, health })
}

/// 200 while the job makes progress; 503 (with the reason) while a write keeps failing, so an
/// orchestrator sees the outage without the job restarting in a loop.
async fn health_route(State(state): State<AdminState>) -> impl IntoResponse {
    match state.health.problem() {
        None => (StatusCode::OK, "ok".to_string()),
        Some(problem) => (StatusCode::SERVICE_UNAVAILABLE, problem),
    }
}

async fn metrics_route(State(state): State<AdminState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.render(),
    )
}
