//! `POST /v1/refunds` and `POST /v1/refunds/batch` (DESIGN.md §3b): the same auth, status codes,
//! acknowledgement rule and per-element batch results as orders. Each is produced keyed by the
//! sale's `order_id`, so a sale and its refunds are read in the order they were accepted.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use sales_model::{parse_refund_json, Event, RefundRequest};
use service_runtime::problem::{ErrorBody, PostErrors, Problem};

use super::intake::{accept_batch, accept_one, BatchAnswer};
use crate::state::AppState;

super::replies::event_replies!(
    RefundAccepted,
    RefundBatchResult,
    RefundBatchReply,
    RefundBatch,
    refund_id,
    RefundRequest,
    "Refund"
);

/// Submit one refund: money given back for a sale. The answer comes only after Kafka
/// acknowledged the write. It counts even when the sale is unknown or already refunded in full
/// (money left the till); both cases are reported downstream.
#[utoipa::path(
    post,
    path = "/v1/refunds",
    tag = "refunds",
    request_body = RefundRequest,
    security(("bearer" = [])),
    responses(
        (status = 202, description = "Kafka acknowledged the refund.", body = RefundAccepted),
        PostErrors,
        (status = 503, description = "Kafka did not acknowledge the write; nothing was accepted. Retry after the given seconds.", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait before retrying"))),
    )
)]
pub async fn post_refund(
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<RefundAccepted>), Problem> {
    let freshness = app.config.freshness;
    let parse = move |body: &[u8], now| parse_refund_json(body, now, freshness).map(Event::Refund);
    let placed = accept_one(&app, "/v1/refunds", &headers, body, &parse).await?;
    Ok((StatusCode::ACCEPTED, Json(RefundAccepted::from(placed))))
}

/// Submit 1 to 1000 refunds; valid ones are produced even when others are invalid.
#[utoipa::path(
    post,
    path = "/v1/refunds/batch",
    tag = "refunds",
    request_body(content = RefundBatch, description = "1 to INGEST_MAX_BATCH (default 1000) refunds"),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "One result per input element, in input order.", body = RefundBatchReply),
        PostErrors,
        (status = 503, description = "No element was accepted because Kafka is unavailable; the body lists every element's result.", body = RefundBatchReply,
            headers(("Retry-After" = u64, description = "Seconds to wait before retrying"))),
    )
)]
pub async fn post_refund_batch(
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<BatchAnswer<RefundBatchReply>, Problem> {
    let freshness = app.config.freshness;
    let parse = move |body: &[u8], now| parse_refund_json(body, now, freshness).map(Event::Refund);
    let elements = accept_batch(
        &app,
        "/v1/refunds/batch",
        &headers,
        body,
        "refunds",
        "refund_id",
        &parse,
    )
    .await?;
    Ok(RefundBatchReply::answer(elements))
}
