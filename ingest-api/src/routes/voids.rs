//! `POST /v1/orders/{order_id}/void` (DESIGN.md §3b): the same auth, status codes and
//! acknowledgement rule as orders, produced keyed by the sale's `order_id`, so the void is read
//! after its sale and refunds accepted before it.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use sales_model::{parse_void_json, Event};
use service_runtime::problem::{ErrorBody, PostErrors, Problem};

use super::intake::accept_one;
use super::orders::Accepted;
use crate::state::AppState;

/// Void a sale that should never have counted (a mistaken ring-up): afterwards it is in no
/// aggregate at all. Re-posting a void is a retry; refunds of the sale still count.
#[utoipa::path(
    post,
    path = "/v1/orders/{order_id}/void",
    tag = "orders",
    params(("order_id" = inline(sales_model::OrderId), Path, description = "The sale to void")),
    request_body = sales_model::VoidRequest,
    security(("bearer" = [])),
    responses(
        (status = 202, description = "Kafka acknowledged the void.", body = Accepted),
        PostErrors,
        (status = 503, description = "Kafka did not acknowledge the write; nothing was accepted. Retry after the given seconds.", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait before retrying"))),
    )
)]
pub async fn post_void(
    State(app): State<AppState>,
    Path(order_id): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Accepted>), Problem> {
    let freshness = app.config.freshness;
    let parse =
        |body: &[u8], now| parse_void_json(&order_id, body, now, freshness).map(Event::Void);
    let placed = accept_one(&app, "/v1/orders/{order_id}/void", &headers, body, &parse).await?;
    Ok((StatusCode::ACCEPTED, Json(Accepted::from(placed))))
}
