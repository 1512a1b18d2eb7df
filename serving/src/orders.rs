//! Order look-ups from Cassandra: one order by id, a store's day, a customer's history.

use std::sync::Arc;

use anyhow::Context;
use chrono::{DateTime, NaiveDate, Utc};
use futures::TryStreamExt;
use sales_model::{exponent_of, format_minor};
use scylla::client::session::Session;
use scylla::statement::prepared::PreparedStatement;
use scylla::DeserializeRow;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use sales_stores::cassandra::{StoredOrder, ORDER_COLUMNS};

use crate::paging::{page, Cursor};

/// Money as the API shows it: decimal text at the currency's ISO 4217 scale (`6.50` EUR, `650`
/// JPY, `6.500` KWD). Stored codes are always valid; anything else shows in hundredths.
pub fn money(minor: i64, currency: &str) -> String {
    format_minor(minor, exponent_of(currency).unwrap_or(2))
}

/// The whole order, as stored in `orders_by_id`.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Order)]
pub struct OrderView {
    pub order_id: String,
    pub store_id: String,
    pub terminal_id: Option<String>,
    pub customer_id: Option<String>,
    pub channel: String,
    pub currency: String,
    pub created_at: DateTime<Utc>,
    pub day: NaiveDate,
    pub items: Vec<LineView>,
    pub item_count: i32,
    pub discount: String,
    pub tax: String,
    pub total: String,
    pub payment_method: Option<String>,
    pub ingest_id: Option<Uuid>,
    pub ingested_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Line)]
pub struct LineView {
    pub sku: String,
    pub name: String,
    pub quantity: i32,
    pub unit_price: String,
    pub amount: String,
}

/// One order in a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrderSummary {
    pub order_id: String,
    pub created_at: DateTime<Utc>,
    pub store_id: String,
    pub customer_id: Option<String>,
    pub channel: String,
    pub currency: String,
    pub item_count: i32,
    pub total: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrderPage {
    pub orders: Vec<OrderSummary>,
    /// Pass as `page` to get the next, older page; absent on the last page.
    pub next_page: Option<String>,
}

#[derive(DeserializeRow)]
struct StoreDayRow {
    order_id: String,
    created_at: DateTime<Utc>,
    customer_id: Option<String>,
    channel: String,
    currency: String,
    item_count: i32,
    total_minor: i64,
}

#[derive(DeserializeRow)]
struct CustomerRow {
    order_id: String,
    created_at: DateTime<Utc>,
    store_id: String,
    channel: String,
    currency: String,
    item_count: i32,
    total_minor: i64,
}

/// Prepared reads of the order tables.
pub struct OrderReads {
    session: Arc<Session>,
    by_id: PreparedStatement,
    store_day: PreparedStatement,
    customer: PreparedStatement,
}

impl OrderReads {
    pub async fn new(session: Arc<Session>, keyspace: &str) -> anyhow::Result<Self> {
        let prepare = |cql: String| {
            let session = session.clone();
            async move {
                session
                    .prepare(cql.as_str())
                    .await
                    .with_context(|| format!("cannot prepare {cql}"))
            }
        };
        let by_id = prepare(format!(
            "SELECT {ORDER_COLUMNS} FROM {keyspace}.orders_by_id WHERE order_id = ?"
        ))
        .await?;
        let store_columns =
            "order_id, created_at, customer_id, channel, currency, item_count, total_minor";
        let store_day = prepare(format!("SELECT {store_columns} FROM {keyspace}.orders_by_store_day WHERE store_id = ? AND day = ?")).await?;
        let customer_columns =
            "order_id, created_at, store_id, channel, currency, item_count, total_minor";
        let customer = prepare(format!(
            "SELECT {customer_columns} FROM {keyspace}.orders_by_customer WHERE customer_id = ?"
        ))
        .await?;
        Ok(Self {
            session,
            by_id,
            store_day,
            customer,
        })
    }

    pub async fn order(&self, order_id: &str) -> anyhow::Result<Option<OrderView>> {
        let result = self
            .session
            .execute_unpaged(&self.by_id, (order_id,))
            .await?
            .into_rows_result()?;
        let Some(row) = result.maybe_first_row::<StoredOrder>()? else {
            return Ok(None);
        };
        let currency = row.currency.as_str();
        let items = row
            .lines()
            .into_iter()
            .map(|(sku, name, quantity, price)| LineView {
                sku,
                name,
                quantity,
                unit_price: money(price, currency),
                amount: money(price.saturating_mul(i64::from(quantity)), currency),
            })
            .collect();
        Ok(Some(OrderView {
            order_id: row.order_id,
            store_id: row.store_id,
            terminal_id: row.terminal_id,
            customer_id: row.customer_id,
            channel: row.channel,
            created_at: row.created_at,
            day: row.day,
            items,
            item_count: row.item_count,
            discount: money(row.discount_minor, &row.currency),
            tax: money(row.tax_minor, &row.currency),
            total: money(row.total_minor, &row.currency),
            currency: row.currency,
            payment_method: row.payment_method,
            ingest_id: row.ingest_id,
            ingested_at: row.ingested_at,
        }))
    }

    /// A store's orders of one business day (`BUSINESS_TIME_ZONE`), newest first.
    pub async fn store_day(
        &self,
        store_id: &str,
        day: NaiveDate,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> anyhow::Result<OrderPage> {
        let rows: Vec<StoreDayRow> = self.all(&self.store_day, (store_id, day)).await?;
        let (rows, next_page) = page(rows, |r| (r.created_at, r.order_id.as_str()), cursor, limit);
        let orders = rows
            .into_iter()
            .map(|r| OrderSummary {
                order_id: r.order_id,
                created_at: r.created_at,
                store_id: store_id.to_string(),
                customer_id: r.customer_id,
                channel: r.channel,
                total: money(r.total_minor, &r.currency),
                currency: r.currency,
                item_count: r.item_count,
            })
            .collect();
        Ok(OrderPage { orders, next_page })
    }

    /// A customer's orders, newest first.
    pub async fn customer(
        &self,
        customer_id: &str,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> anyhow::Result<OrderPage> {
        let rows: Vec<CustomerRow> = self.all(&self.customer, (customer_id,)).await?;
        let (rows, next_page) = page(rows, |r| (r.created_at, r.order_id.as_str()), cursor, limit);
        let orders = rows
            .into_iter()
            .map(|r| OrderSummary {
                order_id: r.order_id,
                created_at: r.created_at,
                store_id: r.store_id,
                customer_id: Some(customer_id.to_string()),
                channel: r.channel,
                total: money(r.total_minor, &r.currency),
                currency: r.currency,
                item_count: r.item_count,
            })
            .collect();
        Ok(OrderPage { orders, next_page })
    }

    /// Every row of one partition, read page by page from the driver. Partitions here are one
    /// store's day or one customer's history, so reading one whole is cheap, and ordering and
    /// paging in the service keeps pages right whatever order the server returns rows in.
    async fn all<R>(
        &self,
        statement: &PreparedStatement,
        values: impl scylla::serialize::row::SerializeRow,
    ) -> anyhow::Result<Vec<R>>
    where
        R: for<'f, 'm> scylla::deserialize::row::DeserializeRow<'f, 'm> + 'static,
    {
        Ok(self
            .session
            .execute_iter(statement.clone(), values)
            .await?
            .rows_stream::<R>()?
            .try_collect()
            .await?)
    }

    /// Cheap query proving the keyspace answers (readiness).
    pub async fn ping(&self) -> anyhow::Result<()> {
        self.session
            .execute_unpaged(&self.by_id, ("readiness-probe",))
            .await?;
        Ok(())
    }
}
