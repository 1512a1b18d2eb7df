//! Prometheus exposition, and the request metrics every HTTP service records.
//!
//! Each binary keeps its metrics in a registry of its own (no global state, so every test app
//! counts only its own traffic) and exposes it through [`Exposition`]; the `/metrics` route is
//! [`crate::ops::metrics`].

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use crate::problem::with_retry_after;

/// The content type of the text exposition.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// A binary's metrics, as `/metrics` shows them.
pub trait Exposition: Send + Sync {
    fn registry(&self) -> &Registry;

    /// The Prometheus text exposition of every metric.
    fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, self.registry());
        out
    }
}

/// Labels of the `http_requests` counters: the route template a request matched (such as
/// `/v1/orders/{order_id}`, so metrics do not grow a label per order) and the final status.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub route: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabel {
    pub route: String,
}

/// Requests by route and status, and latency by route.
#[derive(Clone)]
pub struct RequestMetrics {
    pub requests: Family<RequestLabels, Counter>,
    pub latency: Family<RouteLabel, Histogram>,
}

impl RequestMetrics {
    /// Registers `http_requests` and `request_latency_seconds` in `registry`.
    pub fn register(registry: &mut Registry) -> RequestMetrics {
        let requests = Family::<RequestLabels, Counter>::default();
        // 0.5 ms .. ~16 s
        let latency = Family::<RouteLabel, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.0005, 2.0, 16))
        });
        registry.register(
            "http_requests",
            "HTTP requests by route and status",
            requests.clone(),
        );
        registry.register(
            "request_latency_seconds",
            "Request latency by route",
            latency.clone(),
        );
        RequestMetrics { requests, latency }
    }
}

/// Middleware: counts each request by matched route and final status, times it, and makes sure
/// every 503 (a request timeout's included) tells the client when to retry.
pub async fn record_requests(
    State(metrics): State<RequestMetrics>,
    request: Request,
    next: Next,
) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", |p| p.as_str())
        .to_string();
    let started = Instant::now();
    let mut response = next.run(request).await;
    if response.status() == StatusCode::SERVICE_UNAVAILABLE
        && !response.headers().contains_key(header::RETRY_AFTER)
    {
        with_retry_after(&mut response);
    }
    metrics
        .latency
        .get_or_create(&RouteLabel {
            route: route.clone(),
        })
        .observe(started.elapsed().as_secs_f64());
    metrics
        .requests
        .get_or_create(&RequestLabels {
            route,
            status: response.status().as_u16(),
        })
        .inc();
    response
}
