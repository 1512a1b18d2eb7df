//! `POST /v1/orders` and `POST /v1/orders/batch` (DESIGN.md §3).

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::Utc;
use futures::future::join_all;
use sales_model::{parse_order_json, Envelope, FieldError, Order, OrderRequest, ParseError};
use serde::Serialize;
use serde_json::error::Category;
use serde_json::value::RawValue;
use service_runtime::problem::{with_retry_after, ErrorBody, PostErrors, Problem};
use utoipa::ToSchema;

use crate::producer::ProduceError;
use crate::startup::AppState;

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

/// A batch answer: 200 with every element's result, or 503 with `Retry-After` when nothing was
/// accepted because Kafka is unavailable (then the whole request is worth retrying).
pub struct BatchAnswer(BatchReply);

impl IntoResponse for BatchAnswer {
    fn into_response(self) -> Response {
        if self.0.accepted == 0 && self.0.unavailable > 0 {
            let mut response = (StatusCode::SERVICE_UNAVAILABLE, Json(self.0)).into_response();
            with_retry_after(&mut response);
            response
        } else {
            (StatusCode::OK, Json(self.0)).into_response()
        }
    }
}

/// Submit one order. The answer comes only after Kafka acknowledged the write.
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
    let accept = async {
        let body = read_json_body(&headers, body)?;
        let order =
            parse_order_json(&body, Utc::now(), app.config.freshness).map_err(parse_problem)?;
        let order_id = order.order_id().to_string();
        let (partition, offset) = produce(&app, order)
            .await
            .map_err(|e| Problem::unavailable(e.to_string()))?;
        Ok(Accepted {
            order_id,
            status: "accepted",
            partition,
            offset,
        })
    };
    match accept.await {
        Ok(accepted) => Ok((StatusCode::ACCEPTED, Json(accepted))),
        Err(problem) => Err(refused(&app, "/v1/orders", problem)),
    }
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
) -> Result<BatchAnswer, Problem> {
    let elements = read_json_body(&headers, body)
        .and_then(|body| split_batch(&body, app.config.max_batch))
        .map_err(|problem| refused(&app, "/v1/orders/batch", problem))?;
    let now = Utc::now();
    let results = join_all(elements.iter().enumerate().map(|(index, raw)| {
        let app = app.clone();
        async move {
            match parse_order_json(raw.get().as_bytes(), now, app.config.freshness) {
                Err(error) => {
                    let problem = parse_problem(error);
                    for e in &problem.errors {
                        app.metrics.reject(&e.code);
                    }
                    tracing::info!(index, codes = %problem.codes(), "batch element rejected");
                    BatchResult::Rejected {
                        index,
                        order_id: raw_order_id(raw),
                        errors: problem.errors,
                    }
                }
                Ok(order) => {
                    let order_id = order.order_id().to_string();
                    match produce(&app, order).await {
                        Ok((partition, offset)) => BatchResult::Accepted { index, order_id, partition, offset },
                        Err(error) => {
                            tracing::warn!(index, %order_id, %error, "batch element not acknowledged by Kafka");
                            BatchResult::Unavailable { index, order_id, message: error.to_string() }
                        }
                    }
                }
            }
        }
    }))
    .await;
    let count = |f: fn(&BatchResult) -> bool| results.iter().filter(|r| f(r)).count();
    Ok(BatchAnswer(BatchReply {
        accepted: count(|r| matches!(r, BatchResult::Accepted { .. })),
        rejected: count(|r| matches!(r, BatchResult::Rejected { .. })),
        unavailable: count(|r| matches!(r, BatchResult::Unavailable { .. })),
        results,
    }))
}

/// Checks the content type and the size limit; both come before any parsing.
fn read_json_body(
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Bytes, Problem> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let media_type = content_type.split(';').next().unwrap_or("").trim();
    if !media_type.eq_ignore_ascii_case("application/json") {
        return Err(Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "content-type",
            "unsupported_media_type",
            format!("send `Content-Type: application/json`, got {content_type:?}"),
        ));
    }
    body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            Problem::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body",
                "too_large",
                "the body is larger than the configured limit",
            )
        } else {
            Problem::new(
                rejection.status(),
                "body",
                "unreadable",
                rejection.body_text(),
            )
        }
    })
}

/// The batch's elements, each kept as raw JSON so one bad element is that element's error. The
/// body is parsed once: a syntax error is a 400, valid JSON that is not an array a 422.
fn split_batch(body: &[u8], max: usize) -> Result<Vec<Box<RawValue>>, Problem> {
    let elements: Vec<Box<RawValue>> = serde_json::from_slice(body).map_err(|e| {
        if e.classify() == Category::Data {
            Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "body",
                "type",
                "must be a JSON array of orders",
            )
        } else {
            Problem::new(
                StatusCode::BAD_REQUEST,
                "body",
                "malformed_json",
                e.to_string(),
            )
        }
    })?;
    if elements.is_empty() || elements.len() > max {
        return Err(Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "body",
            "length",
            format!("a batch holds 1 to {max} orders, got {}", elements.len()),
        ));
    }
    Ok(elements)
}

/// The order id of a rejected element, when it has a readable one, so the POS can match results.
fn raw_order_id(raw: &RawValue) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(raw.get()).ok()?;
    value.get("order_id")?.as_str().map(str::to_string)
}

fn parse_problem(error: ParseError) -> Problem {
    match error {
        ParseError::Syntax(message) => {
            Problem::new(StatusCode::BAD_REQUEST, "body", "malformed_json", message)
        }
        ParseError::Invalid(errors) => Problem {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            errors: errors.errors,
        },
    }
}

async fn produce(app: &AppState, order: Order) -> Result<(i32, i64), ProduceError> {
    let envelope = Envelope::new(order, Utc::now());
    match app.producer.send(&envelope).await {
        Ok((placement, latency)) => {
            app.metrics.orders_accepted.inc();
            app.metrics.produce_latency.observe(latency.as_secs_f64());
            Ok((placement.partition, placement.offset))
        }
        Err(error) => {
            app.metrics.reject("unavailable");
            Err(error)
        }
    }
}

/// Logs one line for the refused request and counts its codes.
fn refused(app: &AppState, route: &str, problem: Problem) -> Problem {
    let status = problem.status.as_u16();
    let codes = problem.codes();
    let reason = problem
        .errors
        .first()
        .map_or("", |e| e.message.as_str())
        .to_string();
    if problem.status.is_server_error() {
        tracing::warn!(route, status, codes = %codes, reason = %reason, "request rejected");
    } else {
        tracing::info!(route, status, codes = %codes, reason = %reason, "request rejected");
        for e in &problem.errors {
            app.metrics.reject(&e.code);
        }
    }
    problem
}
