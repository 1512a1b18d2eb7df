//! `POST /v1/orders` and `POST /v1/orders/batch` (DESIGN.md §3).

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use sales_model::{parse_order_json, Event, FieldError, OrderRequest};
use serde::Serialize;
use service_runtime::problem::{ErrorBody, PostErrors, Problem};
use utoipa::ToSchema;

use super::intake::{accept_batch, accept_one, BatchAnswer, Element, Outcome};
use crate::state::AppState;

/// The answer for an accepted order.
#[derive(Debug, Serialize, ToSchema)]
pub struct Accepted {
    pub order_id: String,
    /// Always `accepted`.
    #[schema(example = "accepted")]
    pub status: &'static str,
    pub partition: i32,
    pub offset: i64,
}

/// One element of a batch answer, in input order.
#[derive(Debug, Serialize, ToSchema)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum BatchResult {
    /// Kafka acknowledged the order.
    Accepted {
        index: usize,
        order_id: String,
        partition: i32,
        offset: i64,
    },
    /// The order is invalid; resending it unchanged will fail again.
    Rejected {
        index: usize,
        order_id: Option<String>,
        errors: Vec<FieldError>,
    },
    /// Valid, but Kafka did not acknowledge it: retry this element.
    Unavailable {
        index: usize,
        order_id: String,
        message: String,
    },
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BatchReply {
    pub accepted: usize,
    pub rejected: usize,
    pub unavailable: usize,
    pub results: Vec<BatchResult>,
}

/// The batch body as the API document describes it: 1 to 1000 orders (the most
/// `INGEST_MAX_BATCH` allows).
pub struct OrderBatch;

impl utoipa::PartialSchema for OrderBatch {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::schema::ArrayBuilder::new()
            .items(utoipa::openapi::Ref::from_schema_name("Order"))
            .min_items(Some(1))
            .max_items(Some(1000))
            .into()
    }
}

impl ToSchema for OrderBatch {
    fn schemas(
        schemas: &mut Vec<(
            String,
            utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
        )>,
    ) {
        schemas.push((
            "Order".to_string(),
            <OrderRequest as utoipa::PartialSchema>::schema(),
        ));
        <OrderRequest as ToSchema>::schemas(schemas);
    }
}

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
    Ok((
        StatusCode::ACCEPTED,
        Json(Accepted {
            order_id: placed.id,
            status: "accepted",
            partition: placed.partition,
            offset: placed.offset,
        }),
    ))
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
    let results: Vec<BatchResult> = elements.into_iter().map(BatchResult::from).collect();
    let count = |f: fn(&BatchResult) -> bool| results.iter().filter(|r| f(r)).count();
    let reply = BatchReply {
        accepted: count(|r| matches!(r, BatchResult::Accepted { .. })),
        rejected: count(|r| matches!(r, BatchResult::Rejected { .. })),
        unavailable: count(|r| matches!(r, BatchResult::Unavailable { .. })),
        results,
    };
    Ok(BatchAnswer {
        accepted: reply.accepted,
        unavailable: reply.unavailable,
        body: reply,
    })
}

impl From<Element> for BatchResult {
    fn from(element: Element) -> Self {
        let Element { index, id, outcome } = element;
        match outcome {
            Outcome::Accepted { partition, offset } => BatchResult::Accepted {
                index,
                order_id: id.unwrap_or_default(),
                partition,
                offset,
            },
            Outcome::Rejected { errors } => BatchResult::Rejected {
                index,
                order_id: id,
                errors,
            },
            Outcome::Unavailable { message } => BatchResult::Unavailable {
                index,
                order_id: id.unwrap_or_default(),
                message,
            },
        }
    }
}
