//! The HTTP routes. Parameters are parsed here; every bad one is a 400 naming it, and a store that
//! cannot answer is a 503 with `Retry-After`.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, NaiveDate, Utc};
use sales_model::{Currency, CustomerId, OrderId, StoreId};
use serde_json::json;
use service_http::problem::Problem;

use crate::paging::Cursor;
use crate::sales::{GroupBy, Range};
use crate::startup::AppState;

type Params = Query<HashMap<String, String>>;

fn bad(field: &str, code: &str, message: impl Into<String>) -> Problem {
    Problem::new(StatusCode::BAD_REQUEST, field, code, message)
}

/// A store failed to answer: logged with the cause, 503 to the client.
fn unavailable(error: anyhow::Error) -> Problem {
    tracing::warn!(error = format!("{error:#}"), "store query failed");
    Problem::unavailable("a data store did not answer; retry shortly")
}

fn only(params: &HashMap<String, String>, allowed: &[&str]) -> Result<(), Problem> {
    match params.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(unknown) => Err(bad(
            unknown,
            "unknown_parameter",
            format!("unknown parameter; allowed: {}", allowed.join(", ")),
        )),
        None => Ok(()),
    }
}

fn limit(params: &HashMap<String, String>, app: &AppState) -> Result<usize, Problem> {
    let max = app.config.max_page;
    match params.get("limit") {
        None => Ok(app.config.default_page),
        Some(text) => text
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| {
                bad(
                    "limit",
                    "range",
                    format!("must be a whole number from 1 to {max}"),
                )
            }),
    }
}

fn cursor(params: &HashMap<String, String>) -> Result<Option<Cursor>, Problem> {
    params
        .get("page")
        .map(|token| Cursor::decode(token).map_err(|e| bad("page", "token", e.to_string())))
        .transpose()
}

fn time(params: &HashMap<String, String>, name: &str) -> Result<DateTime<Utc>, Problem> {
    let text = params.get(name).ok_or_else(|| {
        bad(
            name,
            "required",
            "an RFC 3339 time such as 2026-11-22T10:00:00Z is required",
        )
    })?;
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| {
            bad(
                name,
                "timestamp",
                format!("must be an RFC 3339 time such as 2026-11-22T10:00:00Z ({e})"),
            )
        })
}

fn currency(params: &HashMap<String, String>) -> Result<Option<String>, Problem> {
    params
        .get("currency")
        .map(|c| {
            Currency::parse(c)
                .map(|c| c.to_string())
                .map_err(|e| bad("currency", "currency", e.to_string()))
        })
        .transpose()
}

fn range(params: &HashMap<String, String>, app: &AppState) -> Result<Range, Problem> {
    Range::new(
        time(params, "from")?,
        time(params, "to")?,
        app.config.max_span,
    )
    .map_err(|message| bad("to", "range", message))
}

fn answer<T: serde::Serialize>(result: Result<T, Problem>) -> Response {
    match result {
        Ok(body) => Json(body).into_response(),
        Err(problem) => problem.into_response(),
    }
}

pub async fn order(State(app): State<AppState>, Path(order_id): Path<String>) -> Response {
    let outcome = async {
        let id = OrderId::parse(order_id).map_err(|e| bad("order_id", &e.code, e.to_string()))?;
        match app.orders.order(id.as_str()).await.map_err(unavailable)? {
            Some(order) => Ok(order),
            None => Err(Problem::new(
                StatusCode::NOT_FOUND,
                "order_id",
                "not_found",
                format!("no order {id}"),
            )),
        }
    }
    .await;
    answer(outcome)
}

pub async fn store_orders(
    State(app): State<AppState>,
    Path(store_id): Path<String>,
    Query(params): Params,
) -> Response {
    let outcome = async {
        only(&params, &["date", "limit", "page"])?;
        let store =
            StoreId::parse(store_id).map_err(|e| bad("store_id", &e.code, e.to_string()))?;
        let date = params.get("date").ok_or_else(|| {
            bad(
                "date",
                "required",
                "a UTC day such as 2026-11-22 is required",
            )
        })?;
        let day = NaiveDate::parse_from_str(date, "%Y-%m-%d")
            .map_err(|_| bad("date", "date", "must be a day such as 2026-11-22"))?;
        let limit = limit(&params, &app)?;
        let cursor = cursor(&params)?;
        app.orders
            .store_day(store.as_str(), day, cursor.as_ref(), limit)
            .await
            .map_err(unavailable)
    }
    .await;
    answer(outcome)
}

pub async fn customer_orders(
    State(app): State<AppState>,
    Path(customer_id): Path<String>,
    Query(params): Params,
) -> Response {
    let outcome = async {
        only(&params, &["limit", "page"])?;
        let customer = CustomerId::parse(customer_id)
            .map_err(|e| bad("customer_id", &e.code, e.to_string()))?;
        let limit = limit(&params, &app)?;
        let cursor = cursor(&params)?;
        app.orders
            .customer(customer.as_str(), cursor.as_ref(), limit)
            .await
            .map_err(unavailable)
    }
    .await;
    answer(outcome)
}

pub async fn summary(State(app): State<AppState>, Query(params): Params) -> Response {
    let outcome = async {
        only(&params, &["from", "to", "group_by", "currency"])?;
        let range = range(&params, &app)?;
        let name = params.get("group_by").map_or("day", String::as_str);
        let group_by = GroupBy::parse(name).ok_or_else(|| {
            bad(
                "group_by",
                "one_of",
                format!("must be one of: {}", GroupBy::NAMES),
            )
        })?;
        let currency = currency(&params)?;
        let rows = app
            .sales
            .summary(range, group_by, currency.as_deref())
            .await
            .map_err(unavailable)?;
        Ok(json!({"from": range.from, "to": range.to, "group_by": name, "rows": rows}))
    }
    .await;
    answer(outcome)
}

pub async fn top_products(State(app): State<AppState>, Query(params): Params) -> Response {
    let outcome = async {
        only(&params, &["from", "to", "limit", "currency"])?;
        let range = range(&params, &app)?;
        let limit = limit(&params, &app)?;
        let currency = currency(&params)?;
        let rows = app
            .sales
            .top_products(range, limit, currency.as_deref())
            .await
            .map_err(unavailable)?;
        Ok(json!({"from": range.from, "to": range.to, "rows": rows}))
    }
    .await;
    answer(outcome)
}

pub async fn reconciliation(State(app): State<AppState>) -> Response {
    Json(app.jobs.last_reconciliation()).into_response()
}

pub async fn health() -> impl IntoResponse {
    (StatusCode::OK, "ok")
}

/// Both stores answer.
pub async fn ready(State(app): State<AppState>) -> impl IntoResponse {
    let (cassandra, clickhouse) = tokio::join!(app.orders.ping(), app.sales.ping());
    match (cassandra, clickhouse) {
        (Ok(()), Ok(())) => (StatusCode::OK, "ready".to_string()),
        (c, h) => {
            let down: Vec<&str> = [
                c.is_err().then_some("cassandra"),
                h.is_err().then_some("clickhouse"),
            ]
            .into_iter()
            .flatten()
            .collect();
            (
                StatusCode::SERVICE_UNAVAILABLE,
                format!("not reachable: {}", down.join(", ")),
            )
        }
    }
}

pub async fn metrics(State(app): State<AppState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        app.metrics.render(),
    )
}

pub const OPENAPI: &str = include_str!("../openapi.json");

pub async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openapi_describes_every_route() {
        let spec: serde_json::Value = serde_json::from_str(OPENAPI).unwrap();
        for path in [
            "/v1/orders/{order_id}",
            "/v1/stores/{store_id}/orders",
            "/v1/customers/{customer_id}/orders",
            "/v1/sales/summary",
            "/v1/sales/top-products",
            "/v1/reconciliation",
            "/health",
            "/ready",
            "/metrics",
            "/openapi.json",
        ] {
            assert!(spec["paths"][path]["get"].is_object(), "{path}");
        }
    }
}
