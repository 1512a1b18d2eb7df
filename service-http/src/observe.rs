//! What both services record about each request: the route it matched (the template, such as
//! `/v1/orders/{order_id}`, so metrics do not grow a label per order) and the final status.

use axum::extract::{MatchedPath, Request};
use prometheus_client::encoding::EncodeLabelSet;

/// Labels of the `http_requests` counters.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub route: String,
    pub status: u16,
}

/// The route template a request matched, or `unmatched`.
pub fn route_of(request: &Request) -> String {
    request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", |p| p.as_str())
        .to_string()
}
