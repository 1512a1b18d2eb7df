//! `POST /v1/refunds` and `POST /v1/refunds/batch` (DESIGN.md §3b): the same auth, status codes,
//! acknowledgement rule and per-element batch results as orders. Each is produced keyed by the
//! sale's `order_id`, so a sale and its refunds are read in the order they were accepted.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use sales_model::{parse_refund_json, Event, FieldError, RefundRequest};
use serde::Serialize;
use service_runtime::problem::{ErrorBody, PostErrors, Problem};
use utoipa::ToSchema;

use super::intake::{accept_batch, accept_one, BatchAnswer, Element, Outcome};
use crate::state::AppState;

/// The answer for an accepted refund.
#[derive(Debug, Serialize, ToSchema)]
pub struct RefundAccepted {
    pub refund_id: String,
    /// Always `accepted`.
    #[schema(example = "accepted")]
    pub status: &'static str,
    pub partition: i32,
    pub offset: i64,
}

/// One element of a refund batch answer, in input order.
#[derive(Debug, Serialize, ToSchema)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum RefundBatchResult {
    /// Kafka acknowledged the refund.
    Accepted {
        index: usize,
        refund_id: String,
        partition: i32,
        offset: i64,
    },
    /// The refund is invalid; resending it unchanged will fail again.
    Rejected {
        index: usize,
        refund_id: Option<String>,
        errors: Vec<FieldError>,
    },
    /// Valid, but Kafka did not acknowledge it: retry this element.
    Unavailable {
        index: usize,
        refund_id: String,
        message: String,
    },
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RefundBatchReply {
    pub accepted: usize,
    pub rejected: usize,
    pub unavailable: usize,
    pub results: Vec<RefundBatchResult>,
}

/// The refund batch body as the API document describes it: 1 to 1000 refunds.
pub struct RefundBatch;

impl utoipa::PartialSchema for RefundBatch {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::schema::ArrayBuilder::new()
            .items(utoipa::openapi::Ref::from_schema_name("Refund"))
            .min_items(Some(1))
            .max_items(Some(1000))
            .into()
    }
}

impl ToSchema for RefundBatch {
    fn schemas(
        schemas: &mut Vec<(
            String,
            utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
        )>,
    ) {
        schemas.push((
            "Refund".to_string(),
            <RefundRequest as utoipa::PartialSchema>::schema(),
        ));
        <RefundRequest as ToSchema>::schemas(schemas);
    }
}

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
    Ok((
        StatusCode::ACCEPTED,
        Json(RefundAccepted {
            refund_id: placed.id,
            status: "accepted",
            partition: placed.partition,
            offset: placed.offset,
        }),
    ))
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
    let results: Vec<RefundBatchResult> =
        elements.into_iter().map(RefundBatchResult::from).collect();
    let count = |f: fn(&RefundBatchResult) -> bool| results.iter().filter(|r| f(r)).count();
    let reply = RefundBatchReply {
        accepted: count(|r| matches!(r, RefundBatchResult::Accepted { .. })),
        rejected: count(|r| matches!(r, RefundBatchResult::Rejected { .. })),
        unavailable: count(|r| matches!(r, RefundBatchResult::Unavailable { .. })),
        results,
    };
    Ok(BatchAnswer {
        accepted: reply.accepted,
        unavailable: reply.unavailable,
        body: reply,
    })
}

impl From<Element> for RefundBatchResult {
    fn from(element: Element) -> Self {
        let Element { index, id, outcome } = element;
        match outcome {
            Outcome::Accepted { partition, offset } => RefundBatchResult::Accepted {
                index,
                refund_id: id.unwrap_or_default(),
                partition,
                offset,
            },
            Outcome::Rejected { errors } => RefundBatchResult::Rejected {
                index,
                refund_id: id,
                errors,
            },
            Outcome::Unavailable { message } => RefundBatchResult::Unavailable {
                index,
                refund_id: id.unwrap_or_default(),
                message,
            },
        }
    }
}
