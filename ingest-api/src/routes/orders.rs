//! `POST /v1/orders` and `POST /v1/orders/batch` (DESIGN.md §3).

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use sales_model::{parse_order_json, Event, OrderRequest};
use service_runtime::problem::{ErrorBody, PostErrors, Problem};

use super::intake::{accept_batch, accept_one, BatchAnswer};
use crate::state::AppState;

super::replies::event_replies!(
    Accepted,
    BatchResult,
    BatchReply,
    OrderBatch,
    order_id,
    OrderRequest,
    "Order"
);

/// Submit one order. The answer comes only after Kafka acknowledged the write.
///
/// Re-posting an order with the same `order_id` and content is a safe retry, counted once, for as
/// long as its `created_at` is accepted: up to `INGEST_MAX_AGE_SECS` (a week by default) behind
/// the server clock; past that it is refused 422 `too_old`. The same `order_id` with other content
/// is accepted here and later diverted to the dead-letter topic as a conflicting duplicate.
#[utoipa::path(
    post,
    path = "/v1/orders",
    tag = "orders",
    request_body = OrderRequest,
    security(("bearer" = [])),
    responses(
        (status = 202, description = "Kafka acknowledged the order.", body = Accepted),
        PostErrors,
        (status = 503, description = "Kafka did not acknowledge the write; nothing was accepted. Retry after the given seconds.", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait before retrying"))),
    )
)]
pub async fn post_order(
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Accepted>), Problem> {
    let freshness = app.config.freshness;
    let parse = move |body: &[u8], now| parse_order_json(body, now, freshness).map(Event::Sale);
    let placed = accept_one(&app, "/v1/orders", &headers, body, &parse).await?;
    Ok((StatusCode::ACCEPTED, Json(Accepted::from(placed))))
}

/// Submit 1 to 1000 orders; valid ones are produced even when others are invalid.
#[utoipa::path(
    post,
    path = "/v1/orders/batch",
    tag = "orders",
    request_body(content = OrderBatch, description = "1 to INGEST_MAX_BATCH (default 1000) orders"),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "One result per input element, in input order.", body = BatchReply),
        PostErrors,
        (status = 503, description = "No element was accepted because Kafka is unavailable; the body lists every element's result.", body = BatchReply,
            headers(("Retry-After" = u64, description = "Seconds to wait before retrying"))),
    )
)]
pub async fn post_batch(
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<BatchAnswer<BatchReply>, Problem> {
    let freshness = app.config.freshness;
    let parse = move |body: &[u8], now| parse_order_json(body, now, freshness).map(Event::Sale);
    let elements = accept_batch(
        &app,
        "/v1/orders/batch",
        &headers,
        body,
        "orders",
        "order_id",
        &parse,
    )
    .await?;
    Ok(BatchReply::answer(elements))
}
