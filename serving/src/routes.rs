//! The HTTP routes. Each route's parameters are one typed struct; every bad parameter is a 400
//! naming it, an unknown one too, and a store that cannot answer is a 503 with `Retry-After`.
//! Each handler is described for the generated API document.

use std::future::Future;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, NaiveDate, Utc};
use sales_model::{Currency, CustomerId, OrderId, StoreId};
use serde::{Deserialize, Serialize};
use service_runtime::ops::{readiness, Readiness};
use service_runtime::params::Params;
use service_runtime::problem::{ErrorBody, Problem, ReadErrors};
use utoipa::{IntoParams, ToSchema};

use crate::jobs::reconcile::ReconciliationReport;
use crate::orders::{OrderPage, OrderView};
use crate::paging::Cursor;
use crate::sales::{GroupBy, ProductRow, Range, SummaryRow};
use crate::state::AppState;

/// What the API document says the service is.
pub const DESCRIPTION: &str = "Reads over both stores: orders from Cassandra, sales figures from ClickHouse's views, and the latest reconciliation of the two. Money is decimal text at its currency's ISO 4217 scale (JPY 0 fraction digits, EUR 2, KWD 3); currencies are never added together.";

fn bad(field: &str, code: &str, message: impl Into<String>) -> Problem {
    Problem::new(StatusCode::BAD_REQUEST, field, code, message)
}

/// A store failed to answer: logged with the cause, 503 to the client.
fn unavailable(error: anyhow::Error) -> Problem {
    tracing::warn!(error = format!("{error:#}"), "store query failed");
    Problem::unavailable("a data store did not answer; retry shortly")
}

/// The answer of a store read: its result as JSON, or a 503 when the store failed.
async fn answer<T>(read: impl Future<Output = anyhow::Result<T>>) -> Result<Json<T>, Problem> {
    read.await.map(Json).map_err(unavailable)
}

/// `limit`: 1 to `SERVING_MAX_PAGE`, default `SERVING_DEFAULT_PAGE`.
fn limit(text: Option<&str>, app: &AppState) -> Result<usize, Problem> {
    let max = app.config.max_page;
    match text {
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

/// A page request: its size (`limit`) and where it starts (`page`, the previous page's token).
fn page_request(
    limit_text: Option<&str>,
    token: Option<&str>,
    app: &AppState,
) -> Result<(usize, Option<Cursor>), Problem> {
    let limit = limit(limit_text, app)?;
    let cursor = token
        .map(|token| Cursor::decode(token).map_err(|e| bad("page", "token", e.to_string())))
        .transpose()?;
    Ok((limit, cursor))
}

fn time(text: Option<&str>, name: &str) -> Result<DateTime<Utc>, Problem> {
    let text = text.ok_or_else(|| {
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

fn currency(text: Option<&str>) -> Result<Option<String>, Problem> {
    text.map(|c| {
        Currency::parse(c)
            .map(|c| c.to_string())
            .map_err(|e| bad("currency", "currency", e.to_string()))
    })
    .transpose()
}

fn range(from: Option<&str>, to: Option<&str>, app: &AppState) -> Result<Range, Problem> {
    Range::new(time(from, "from")?, time(to, "to")?, app.config.max_span())
        .map_err(|message| bad("to", "range", message))
}

/// The parameters of a store's day. Values are checked by the handler, so each bad one gets
/// its own code and message.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StoreDayParams {
    /// The business day (BUSINESS_TIME_ZONE), such as 2026-11-22.
    #[param(required = true, format = Date, value_type = String)]
    date: Option<String>,
    /// Page size, 1 to SERVING_MAX_PAGE (default SERVING_DEFAULT_PAGE).
    #[param(value_type = Option<u32>, minimum = 1)]
    limit: Option<String>,
    /// The `next_page` token of the previous page.
    page: Option<String>,
}

/// The parameters of a customer's history.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Page size, 1 to SERVING_MAX_PAGE (default SERVING_DEFAULT_PAGE).
    #[param(value_type = Option<u32>, minimum = 1)]
    limit: Option<String>,
    /// The `next_page` token of the previous page.
    page: Option<String>,
}

/// The parameters of a sales summary.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SummaryParams {
    /// Windows starting at or after this RFC 3339 time.
    #[param(required = true, format = DateTime, value_type = String)]
    from: Option<String>,
    /// Windows starting before this RFC 3339 time; at most SERVING_MAX_SPAN_DAYS after `from`.
    #[param(required = true, format = DateTime, value_type = String)]
    to: Option<String>,
    /// One of store, channel, region, minute, hour, day (default day).
    group_by: Option<String>,
    /// Only this ISO 4217 currency.
    currency: Option<String>,
}

/// The parameters of the top products.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TopProductsParams {
    /// Windows starting at or after this RFC 3339 time.
    #[param(required = true, format = DateTime, value_type = String)]
    from: Option<String>,
    /// Windows starting before this RFC 3339 time.
    #[param(required = true, format = DateTime, value_type = String)]
    to: Option<String>,
    /// How many products, 1 to SERVING_MAX_PAGE (default SERVING_DEFAULT_PAGE).
    #[param(value_type = Option<u32>, minimum = 1)]
    limit: Option<String>,
    /// Only this ISO 4217 currency.
    currency: Option<String>,
}

/// Orders, items and revenue per group and currency.
#[derive(Serialize, ToSchema)]
pub struct SummaryReply {
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    group_by: String,
    /// Minute and hour keys are RFC 3339 at the business zone's offset; day keys are business
    /// days such as 2026-11-22.
    rows: Vec<SummaryRow>,
}

/// The best-selling products by revenue.
#[derive(Serialize, ToSchema)]
pub struct TopProductsReply {
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    rows: Vec<ProductRow>,
}

/// One order, lines included.
#[utoipa::path(
    get,
    path = "/v1/orders/{order_id}",
    tag = "orders",
    params(("order_id" = String, Path, description = "The order's id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The order.", body = OrderView),
        (status = 404, description = "No such order.", body = ErrorBody),
        ReadErrors,
    )
)]
pub async fn order(
    State(app): State<AppState>,
    Path(order_id): Path<String>,
) -> Result<Json<OrderView>, Problem> {
    let id = OrderId::parse(order_id).map_err(|e| bad("order_id", &e.code, e.to_string()))?;
    match app
        .orders()?
        .order(id.as_str())
        .await
        .map_err(unavailable)?
    {
        Some(order) => Ok(Json(order)),
        None => Err(Problem::new(
            StatusCode::NOT_FOUND,
            "order_id",
            "not_found",
            format!("no order {id}"),
        )),
    }
}

/// A store's orders of one business day (BUSINESS_TIME_ZONE), newest first.
#[utoipa::path(
    get,
    path = "/v1/stores/{store_id}/orders",
    tag = "orders",
    params(("store_id" = String, Path, description = "The store's id"), StoreDayParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page.", body = OrderPage),
        ReadErrors,
    )
)]
pub async fn store_orders(
    State(app): State<AppState>,
    Path(store_id): Path<String>,
    Params(params): Params<StoreDayParams>,
) -> Result<Json<OrderPage>, Problem> {
    let store = StoreId::parse(store_id).map_err(|e| bad("store_id", &e.code, e.to_string()))?;
    let date = params.date.ok_or_else(|| {
        bad(
            "date",
            "required",
            "a business day such as 2026-11-22 is required",
        )
    })?;
    let day = NaiveDate::parse_from_str(&date, "%Y-%m-%d")
        .map_err(|_| bad("date", "date", "must be a day such as 2026-11-22"))?;
    let (limit, cursor) = page_request(params.limit.as_deref(), params.page.as_deref(), &app)?;
    answer(
        app.orders()?
            .store_day(store.as_str(), day, cursor.as_ref(), limit),
    )
    .await
}

/// A customer's orders, newest first.
#[utoipa::path(
    get,
    path = "/v1/customers/{customer_id}/orders",
    tag = "orders",
    params(("customer_id" = String, Path, description = "The customer's id"), PageParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page.", body = OrderPage),
        ReadErrors,
    )
)]
pub async fn customer_orders(
    State(app): State<AppState>,
    Path(customer_id): Path<String>,
    Params(params): Params<PageParams>,
) -> Result<Json<OrderPage>, Problem> {
    let customer =
        CustomerId::parse(customer_id).map_err(|e| bad("customer_id", &e.code, e.to_string()))?;
    let (limit, cursor) = page_request(params.limit.as_deref(), params.page.as_deref(), &app)?;
    answer(
        app.orders()?
            .customer(customer.as_str(), cursor.as_ref(), limit),
    )
    .await
}

/// Orders, items and revenue per group and currency (currencies are never added together).
#[utoipa::path(
    get,
    path = "/v1/sales/summary",
    tag = "sales",
    params(SummaryParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "One row per group and currency.", body = SummaryReply),
        ReadErrors,
    )
)]
pub async fn summary(
    State(app): State<AppState>,
    Params(params): Params<SummaryParams>,
) -> Result<Json<SummaryReply>, Problem> {
    let range = range(params.from.as_deref(), params.to.as_deref(), &app)?;
    let name = params.group_by.unwrap_or_else(|| "day".to_string());
    let group_by = GroupBy::parse(&name).ok_or_else(|| {
        bad(
            "group_by",
            "one_of",
            format!("must be one of: {}", GroupBy::NAMES),
        )
    })?;
    let currency = currency(params.currency.as_deref())?;
    let rows = app
        .sales
        .summary(range, group_by, currency.as_deref())
        .await
        .map_err(unavailable)?;
    Ok(Json(SummaryReply {
        from: range.from,
        to: range.to,
        group_by: name,
        rows,
    }))
}

/// The best-selling products by net revenue (line amounts less refunds naming the product), per
/// currency.
#[utoipa::path(
    get,
    path = "/v1/sales/top-products",
    tag = "sales",
    params(TopProductsParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Products, best first.", body = TopProductsReply),
        ReadErrors,
    )
)]
pub async fn top_products(
    State(app): State<AppState>,
    Params(params): Params<TopProductsParams>,
) -> Result<Json<TopProductsReply>, Problem> {
    let range = range(params.from.as_deref(), params.to.as_deref(), &app)?;
    let limit = limit(params.limit.as_deref(), &app)?;
    let currency = currency(params.currency.as_deref())?;
    let rows = app
        .sales
        .top_products(range, limit, currency.as_deref())
        .await
        .map_err(unavailable)?;
    Ok(Json(TopProductsReply {
        from: range.from,
        to: range.to,
        rows,
    }))
}

/// The latest reconciliation of Cassandra against ClickHouse.
#[utoipa::path(
    get,
    path = "/v1/reconciliation",
    tag = "operations",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The latest report (`not_run` before the first run).", body = ReconciliationReport),
        (status = 401, description = "Missing or wrong bearer key.", body = ErrorBody),
    )
)]
pub async fn reconciliation(State(app): State<AppState>) -> Json<ReconciliationReport> {
    Json(app.jobs.last_reconciliation())
}

/// Both stores answer.
#[utoipa::path(get, path = "/ready", tag = "operations", responses(Readiness))]
pub async fn ready(State(app): State<AppState>) -> (StatusCode, String) {
    let cassandra = async {
        match app.cassandra.get() {
            Some(reads) => reads.orders.ping().await,
            None => Err(anyhow::anyhow!("not connected yet")),
        }
    };
    let (cassandra, clickhouse) = tokio::join!(cassandra, app.sales.ping());
    let down: Vec<&str> = [
        cassandra.is_err().then_some("cassandra"),
        clickhouse.is_err().then_some("clickhouse"),
    ]
    .into_iter()
    .flatten()
    .collect();
    readiness(&down)
}
