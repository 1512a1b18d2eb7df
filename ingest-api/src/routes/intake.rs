//! What every POST of an event shares: the body checks, parsing into an [`Event`], producing it
//! and waiting for Kafka's acknowledgement, batches of independent elements, and how a refusal is
//! logged and counted. The order, refund and void routes differ only in their parser and in the
//! id they echo.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use futures::future::join_all;
use sales_model::{Envelope, Event, FieldError, Freshness, ParseError};
use serde::Serialize;
use serde_json::error::Category;
use serde_json::value::RawValue;
use service_runtime::problem::{with_retry_after, Problem};

use crate::producer::ProduceError;
use crate::state::AppState;

/// Turns one JSON document into an event, judged against the ingest clock `now` and the
/// configured freshness.
pub type Parser<'a> =
    &'a (dyn Fn(&[u8], DateTime<Utc>, Freshness) -> Result<Event, ParseError> + Sync);

/// Where Kafka stored an accepted event.
pub struct Placed {
    pub id: String,
    pub partition: i32,
    pub offset: i64,
}

/// Checks, parses and produces one event; 202 with the answer `A` only once Kafka acknowledged
/// it.
pub async fn accept_one<A: From<Placed>>(
    app: &AppState,
    route: &str,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
    parse: Parser<'_>,
) -> Result<(StatusCode, Json<A>), Problem> {
    let accept = async {
        let body = read_json_body(headers, body)?;
        let event = parse(&body, Utc::now(), app.config.freshness()).map_err(parse_problem)?;
        let id = event.id().to_string();
        let (partition, offset) = produce(app, event)
            .await
            .map_err(|e| Problem::unavailable(e.to_string()))?;
        Ok(Placed {
            id,
            partition,
            offset,
        })
    };
    let placed = accept
        .await
        .map_err(|problem| refused(app, route, problem))?;
    Ok((StatusCode::ACCEPTED, Json(A::from(placed))))
}

/// What became of one element of a batch.
pub enum Outcome {
    Accepted { partition: i32, offset: i64 },
    Rejected { errors: Vec<FieldError> },
    Unavailable { message: String },
}

/// One batch element's result: its index, its id when it has a readable one, and the outcome.
pub struct Element {
    pub index: usize,
    pub id: Option<String>,
    pub outcome: Outcome,
}

/// Checks the body of a batch of `what` (its elements are independent: valid ones are produced
/// even when others are invalid) and produces every valid element; `id_field` names the id a
/// rejected element is matched by.
pub async fn accept_batch(
    app: &AppState,
    route: &str,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
    what: &str,
    id_field: &str,
    parse: Parser<'_>,
) -> Result<Vec<Element>, Problem> {
    let elements = read_json_body(headers, body)
        .and_then(|body| split_batch(&body, app.config.max_batch, what))
        .map_err(|problem| refused(app, route, problem))?;
    let now = Utc::now();
    let freshness = app.config.freshness();
    Ok(join_all(elements.iter().enumerate().map(|(index, raw)| async move {
        match parse(raw.get().as_bytes(), now, freshness) {
            Err(error) => {
                let problem = parse_problem(error);
                for e in &problem.errors {
                    app.metrics.reject(&e.code);
                }
                tracing::info!(route, index, codes = %problem.codes(), "batch element rejected");
                Element {
                    index,
                    id: raw_id(raw, id_field),
                    outcome: Outcome::Rejected {
                        errors: problem.errors,
                    },
                }
            }
            Ok(event) => {
                let id = event.id().to_string();
                let outcome = match produce(app, event).await {
                    Ok((partition, offset)) => Outcome::Accepted { partition, offset },
                    Err(error) => {
                        tracing::warn!(route, index, %id, %error, "batch element not acknowledged by Kafka");
                        Outcome::Unavailable {
                            message: error.to_string(),
                        }
                    }
                };
                Element {
                    index,
                    id: Some(id),
                    outcome,
                }
            }
        }
    }))
    .await)
}

/// A batch answer: 200 with every element's result, or 503 with `Retry-After` when nothing was
/// accepted because Kafka is unavailable (then the whole request is worth retrying).
pub struct BatchAnswer<T> {
    pub accepted: usize,
    pub unavailable: usize,
    pub body: T,
}

impl<T: Serialize> IntoResponse for BatchAnswer<T> {
    fn into_response(self) -> Response {
        if self.accepted == 0 && self.unavailable > 0 {
            let mut response = (StatusCode::SERVICE_UNAVAILABLE, Json(self.body)).into_response();
            with_retry_after(&mut response);
            response
        } else {
            (StatusCode::OK, Json(self.body)).into_response()
        }
    }
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
fn split_batch(body: &[u8], max: usize, what: &str) -> Result<Vec<Box<RawValue>>, Problem> {
    let elements: Vec<Box<RawValue>> = serde_json::from_slice(body).map_err(|e| {
        if e.classify() == Category::Data {
            Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "body",
                "type",
                format!("must be a JSON array of {what}"),
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
            format!("a batch holds 1 to {max} {what}, got {}", elements.len()),
        ));
    }
    Ok(elements)
}

/// The id of a rejected element, when it has a readable one, so the POS can match results.
fn raw_id(raw: &RawValue, field: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(raw.get()).ok()?;
    value.get(field)?.as_str().map(str::to_string)
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

async fn produce(app: &AppState, event: Event) -> Result<(i32, i64), ProduceError> {
    let kind = event.kind();
    let envelope = Envelope::new(event, Utc::now());
    match app.producer.send(&envelope).await {
        Ok((placement, latency)) => {
            app.metrics.accepted(kind);
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
pub fn refused(app: &AppState, route: &str, problem: Problem) -> Problem {
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
