//! The operational routes every binary serves the same way: `/health` (is the process doing its
//! work), `/metrics` (Prometheus) and `/openapi.json` (the API description).
//!
//! A service builds its API as a `utoipa_axum` [`OpenApiRouter`], so each route and its
//! description come from the same handler; [`finish`] adds these routes, described the same way,
//! and serves the finished document. No route can be served without being described.

use std::sync::Arc;

use axum::http::{header, StatusCode};
use axum::routing::{get, MethodRouter};
use axum::{middleware, Router};
use utoipa::openapi::path::{HttpMethod, OperationBuilder, PathItem, Paths};
use utoipa::openapi::{ContentBuilder, ObjectBuilder, OpenApi, ResponseBuilder, Type};
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouter};

use crate::auth::BearerSecurity;
use crate::metrics::{record_requests, Exposition, RequestMetrics, CONTENT_TYPE};

/// `/ready`'s answers, for the API document of a service's readiness handler.
#[derive(utoipa::IntoResponses)]
pub enum Readiness {
    /// `ready`: every dependency answers.
    #[response(status = 200, content_type = "text/plain")]
    Ready(String),
    /// Names what does not answer.
    #[response(status = 503, content_type = "text/plain")]
    NotReady(String),
}

/// `/ready`'s answer: 200 `ready` when nothing is `down`, else 503 naming what is.
pub fn readiness(down: &[&str]) -> (StatusCode, String) {
    if down.is_empty() {
        (StatusCode::OK, "ready".to_string())
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not reachable: {}", down.join(", ")),
        )
    }
}

/// The header of a service's API document, with the bearer-key security scheme; the paths come
/// from the handlers as the router is built.
pub fn document(title: &str, description: &str) -> OpenApi {
    let mut document = utoipa::openapi::OpenApiBuilder::new()
        .info(
            utoipa::openapi::InfoBuilder::new()
                .title(title)
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(description))
                .build(),
        )
        .build();
    utoipa::Modify::modify(&BearerSecurity, &mut document);
    document
}

/// What `/health` asks: `None` while the process does its work, else what is failing.
pub type HealthProblem = Arc<dyn Fn() -> Option<String> + Send + Sync>;

/// Adds `/health` and `/metrics` to `api`, then serves the finished description at
/// `/openapi.json` (which it also describes). Returns the router and the document.
fn finish<S>(
    api: OpenApiRouter<S>,
    health: HealthProblem,
    metrics: Arc<dyn Exposition>,
) -> (Router<S>, OpenApi)
where
    S: Clone + Send + Sync + 'static,
{
    let (router, mut document) = api
        .routes(health_route(health))
        .routes(metrics_route(metrics))
        .split_for_parts();
    let description = describe(
        "/openapi.json",
        "openapi",
        "This document",
        &[("200", "OpenAPI 3.1", "application/json")],
    );
    for (path, item) in description.paths {
        document.paths.paths.insert(path, item);
    }
    let router = router.route("/openapi.json", openapi_route(&document));
    (router, document)
}

/// A service's whole router: [`finish`], every request counted and timed by `requests` (and every
/// 503 given a `Retry-After`), bound to the service's `state`.
pub fn service_router<S>(
    api: OpenApiRouter<S>,
    metrics: Arc<dyn Exposition>,
    requests: RequestMetrics,
    state: S,
) -> (Router, OpenApi)
where
    S: Clone + Send + Sync + 'static,
{
    let (router, document) = finish(api, Arc::new(|| None), metrics);
    let router = router
        .layer(middleware::from_fn_with_state(requests, record_requests))
        .with_state(state);
    (router, document)
}

/// Only the operational routes, for a binary whose sole HTTP port is its admin port.
pub fn admin_router(health: HealthProblem, metrics: Arc<dyn Exposition>) -> Router {
    finish(OpenApiRouter::new(), health, metrics).0
}

/// `/health`: 200 `ok` while there is no problem, else 503 naming it, so an orchestrator sees a
/// failing dependency without the process restarting in a loop.
fn health_route<S>(problem: HealthProblem) -> UtoipaMethodRouter<S>
where
    S: Clone + Send + Sync + 'static,
{
    let route = get(move || {
        let problem = problem.clone();
        async move {
            match problem() {
                None => (StatusCode::OK, "ok".to_string()),
                Some(problem) => (StatusCode::SERVICE_UNAVAILABLE, problem),
            }
        }
    });
    let description = describe(
        "/health",
        "health",
        "Liveness: is the process doing its work",
        &[
            ("200", "`ok`", "text/plain"),
            ("503", "What is failing", "text/plain"),
        ],
    );
    (Vec::new(), description, route)
}

/// `/metrics`: the Prometheus text exposition.
fn metrics_route<S>(metrics: Arc<dyn Exposition>) -> UtoipaMethodRouter<S>
where
    S: Clone + Send + Sync + 'static,
{
    let route = get(move || {
        let metrics = metrics.clone();
        async move { ([(header::CONTENT_TYPE, CONTENT_TYPE)], metrics.render()) }
    });
    let description = describe(
        "/metrics",
        "metrics",
        "Prometheus metrics",
        &[("200", "The text exposition format", CONTENT_TYPE)],
    );
    (Vec::new(), description, route)
}

/// `/openapi.json`: the document, serialized once.
fn openapi_route<S>(document: &OpenApi) -> MethodRouter<S>
where
    S: Clone + Send + Sync + 'static,
{
    let body: Arc<str> = document
        .to_pretty_json()
        .unwrap_or_else(|e| {
            format!("{{\"error\":\"the API description does not serialize: {e}\"}}")
        })
        .into();
    get(move || {
        let body = body.clone();
        async move {
            (
                [(header::CONTENT_TYPE, "application/json")],
                body.to_string(),
            )
        }
    })
}

/// The description of a GET route: each response is (status, description, content type), the
/// body a string (text) or an object (JSON).
fn describe(
    path: &str,
    operation_id: &str,
    summary: &str,
    responses: &[(&str, &str, &str)],
) -> Paths {
    let mut operation = OperationBuilder::new()
        .operation_id(Some(operation_id))
        .summary(Some(summary))
        .tag("operations");
    for (status, description, content_type) in responses {
        let body_type = if content_type.contains("json") {
            Type::Object
        } else {
            Type::String
        };
        let content = ContentBuilder::new()
            .schema(Some(ObjectBuilder::new().schema_type(body_type).build()))
            .build();
        operation = operation.response(
            *status,
            ResponseBuilder::new()
                .description(*description)
                .content(*content_type, content)
                .build(),
        );
    }
    Paths::builder()
        .path(path, PathItem::new(HttpMethod::Get, operation.build()))
        .build()
}
