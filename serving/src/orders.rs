//! Order look-ups from Cassandra: one order by id, a store's day, a customer's history.

use std::sync::Arc;

use anyhow::Context;
use chrono::{DateTime, NaiveDate, Utc};
use futures::TryStreamExt;
use sales_model::{exponent_of, format_minor};
use scylla::client::session::Session;
use scylla::response::{PagingState, PagingStateResponse};
use scylla::statement::prepared::PreparedStatement;
use scylla::DeserializeRow;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use sales_stores::cassandra::{customer_month, StoredOrder, ORDER_COLUMNS};

use crate::paging::{page, Cursor};

/// Money as the API shows it: decimal text at the currency's ISO 4217 scale (`6.50` EUR, `650`
/// JPY, `6.500` KWD). Stored codes are always valid; anything else shows in hundredths.
pub fn money(minor: i64, currency: &str) -> String {
    format_minor(minor, exponent_of(currency).unwrap_or(2))
}

/// The whole order, as stored in `orders_by_id`, with what happened to it since: its refunds and
/// its void.
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
    /// Whether the sale was voided: then it counts in no aggregate (its refunds still do).
    pub voided: bool,
    pub void: Option<VoidView>,
    /// Every refund of the sale, oldest first.
    pub refunds: Vec<RefundView>,
    /// The sum of the refunds.
    #[schema(example = "3.50")]
    pub refunded: String,
    /// What the sale brought in: its total (nothing when voided) minus its refunds; negative when
    /// more was given back than it took.
    #[schema(example = "3.00")]
    pub net: String,
    /// More was refunded than the sale's total (the refunds still count: money left the till).
    pub over_refunded: bool,
}

/// A sale's void.
#[derive(Debug, Serialize, ToSchema)]
pub struct VoidView {
    pub store_id: String,
    pub created_at: DateTime<Utc>,
    pub reason: Option<String>,
}

/// One refund of a sale.
#[derive(Debug, Serialize, ToSchema)]
pub struct RefundView {
    pub refund_id: String,
    /// Where the money went back.
    pub store_id: String,
    pub created_at: DateTime<Utc>,
    pub currency: String,
    pub amount: String,
    pub reason: Option<String>,
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

#[derive(DeserializeRow)]
struct RefundRow {
    refund_id: String,
    store_id: String,
    currency: String,
    created_at: DateTime<Utc>,
    amount_minor: i64,
    reason: Option<String>,
}

/// Prepared reads of the order tables.
pub struct OrderReads {
    session: Arc<Session>,
    by_id: PreparedStatement,
    refunds: PreparedStatement,
    store_day: Newest,
    customer: Newest,
    customer_months: PreparedStatement,
}

/// The reads of one partition newest first (its clustering order), from a cursor on: the first
/// rows; the rest of the cursor's millisecond; what is older than it.
struct Newest {
    first: PreparedStatement,
    ties: PreparedStatement,
    before: PreparedStatement,
}

/// Prepares `cql`; fails naming the statement the schema cannot take.
async fn prepare(session: &Session, cql: String) -> anyhow::Result<PreparedStatement> {
    session
        .prepare(cql.as_str())
        .await
        .with_context(|| format!("cannot prepare {cql}"))
}

impl Newest {
    /// Prepares the three reads of `select` (which names the partition with its last `?`s).
    async fn prepare(session: &Session, select: &str) -> anyhow::Result<Newest> {
        Ok(Newest {
            first: prepare(session, select.to_string()).await?,
            ties: prepare(session, format!("{select} AND created_at = ?")).await?,
            before: prepare(session, format!("{select} AND created_at < ?")).await?,
        })
    }
}

/// A row of a partition clustered by `(created_at DESC, order_id)`.
trait Clustered {
    fn key(&self) -> (DateTime<Utc>, &str);
}

impl Clustered for StoreDayRow {
    fn key(&self) -> (DateTime<Utc>, &str) {
        (self.created_at, &self.order_id)
    }
}

impl Clustered for CustomerRow {
    fn key(&self) -> (DateTime<Utc>, &str) {
        (self.created_at, &self.order_id)
    }
}

impl OrderReads {
    pub async fn new(session: Arc<Session>, keyspace: &str) -> anyhow::Result<Self> {
        let prepare = |cql: String| prepare(&session, cql);
        let by_id = prepare(format!(
            "SELECT {ORDER_COLUMNS} FROM {keyspace}.orders_by_id WHERE order_id = ?"
        ))
        .await?;
        let refunds = prepare(format!(
            "SELECT refund_id, store_id, currency, created_at, amount_minor, reason FROM {keyspace}.refunds_by_order WHERE order_id = ?"
        ))
        .await?;
        let store_columns =
            "order_id, created_at, customer_id, channel, currency, item_count, total_minor";
        // A page reads its rows in the table's clustering order (newest first, ties by order id)
        // from the cursor on, and stops once it has them (`first_rows`), so the first page and
        // the hundredth cost the same, on a quiet day and on a busy one, for a new customer and
        // for one with years of orders.
        let store_day = Newest::prepare(
            &session,
            &format!("SELECT {store_columns} FROM {keyspace}.orders_by_store_day WHERE store_id = ? AND day = ?"),
        )
        .await?;
        let customer_columns =
            "order_id, created_at, store_id, channel, currency, item_count, total_minor";
        let customer = Newest::prepare(
            &session,
            &format!("SELECT {customer_columns} FROM {keyspace}.orders_by_customer_month WHERE customer_id = ? AND month = ?"),
        )
        .await?;
        let customer_months = prepare(format!(
            "SELECT month FROM {keyspace}.customer_months WHERE customer_id = ?"
        ))
        .await?;
        Ok(Self {
            session,
            by_id,
            refunds,
            store_day,
            customer,
            customer_months,
        })
    }

    /// The sale `order_id` with its refunds and void; `None` while no sale of that id is stored
    /// (a refund or void may be there before it).
    pub async fn order(&self, order_id: &str) -> anyhow::Result<Option<OrderView>> {
        let result = self
            .session
            .execute_unpaged(&self.by_id, (order_id,))
            .await?
            .into_rows_result()?;
        let Some(row) = result.maybe_first_row::<StoredOrder>()? else {
            return Ok(None);
        };
        let Some(sale) = row.record() else {
            return Ok(None);
        };
        let mut refunds: Vec<RefundRow> = self.all(&self.refunds, (order_id,)).await?;
        refunds.sort_by(|a, b| (a.created_at, &a.refund_id).cmp(&(b.created_at, &b.refund_id)));
        let currency = sale.currency.as_str();
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
        let void = row.void();
        let refunded: i64 = refunds.iter().map(|r| r.amount_minor).sum();
        let kept = if void.is_some() { 0 } else { sale.total_minor };
        Ok(Some(OrderView {
            order_id: sale.order_id,
            store_id: sale.store_id,
            terminal_id: sale.terminal_id,
            customer_id: sale.customer_id,
            channel: sale.channel,
            created_at: sale.created_at,
            day: row.day.unwrap_or_default(),
            items,
            item_count: row.item_count.unwrap_or_default(),
            discount: money(sale.discount_minor, currency),
            tax: money(sale.tax_minor, currency),
            total: money(sale.total_minor, currency),
            payment_method: sale.payment_method,
            ingest_id: row.ingest_id,
            ingested_at: row.ingested_at,
            voided: void.is_some(),
            void: void.map(|v| VoidView {
                store_id: v.store_id,
                created_at: v.created_at,
                reason: v.reason,
            }),
            refunded: money(refunded, currency),
            net: money(kept.saturating_sub(refunded), currency),
            over_refunded: refunded > sale.total_minor,
            refunds: refunds
                .into_iter()
                .map(|r| RefundView {
                    refund_id: r.refund_id,
                    store_id: r.store_id,
                    created_at: r.created_at,
                    amount: money(r.amount_minor, &r.currency),
                    currency: r.currency,
                    reason: r.reason,
                })
                .collect(),
            currency: sale.currency,
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
        // One row past the page tells whether another page follows.
        let want = limit.saturating_add(1);
        let rows: Vec<StoreDayRow> = self
            .newest(
                &self.store_day,
                (store_id, day),
                |at| (store_id, day, at),
                cursor,
                want,
            )
            .await?;
        let (rows, next_page) = page(rows, Clustered::key, cursor, limit);
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

    /// A customer's orders, newest first, read month by month (`orders_by_customer_month`), so a
    /// page costs the months it spans, whatever the customer's history.
    pub async fn customer(
        &self,
        customer_id: &str,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> anyhow::Result<OrderPage> {
        // Months newest first; each month's orders are all older than the months before it, so
        // once a page and one more row are in hand the rest is unread. A later page reads its
        // cursor's month from the cursor on while the months are listed: most pages end there.
        let from = cursor.map(|c| customer_month(c.created_at()));
        let want = limit.saturating_add(1);
        let listing = self.all::<(i32,)>(&self.customer_months, (customer_id,));
        let (listed, mut rows): (_, Vec<CustomerRow>) = match (cursor, from) {
            (Some(cursor), Some(month)) => {
                let first = self.newest(
                    &self.customer,
                    (customer_id, month),
                    |at| (customer_id, month, at),
                    Some(cursor),
                    want,
                );
                futures::try_join!(listing, first)?
            }
            _ => (listing.await?, Vec::new()),
        };
        let mut months: Vec<i32> = listed.into_iter().map(|(month,)| month).collect();
        months.sort_unstable_by(|a, b| b.cmp(a));
        months.dedup();
        for month in months
            .into_iter()
            .filter(|m| from.is_none_or(|from| *m < from))
        {
            if rows.len() >= want {
                break;
            }
            let left = want - rows.len();
            rows.extend(
                self.newest::<CustomerRow, _, _>(
                    &self.customer,
                    (customer_id, month),
                    |at| (customer_id, month, at),
                    None,
                    left,
                )
                .await?,
            );
        }
        let (rows, next_page) = page(rows, Clustered::key, cursor, limit);
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

    /// At most `want` rows of one partition (`key`) in clustering order, after `cursor` when
    /// there is one (`at` names the partition and a moment): the rest of the cursor's
    /// millisecond (its orders are few; those already shown are dropped), then what is older.
    async fn newest<R, K, V>(
        &self,
        reads: &Newest,
        key: K,
        at: impl Fn(DateTime<Utc>) -> V,
        cursor: Option<&Cursor>,
        want: usize,
    ) -> anyhow::Result<Vec<R>>
    where
        R: Clustered + for<'f, 'm> scylla::deserialize::row::DeserializeRow<'f, 'm> + 'static,
        K: scylla::serialize::row::SerializeRow + Clone,
        V: scylla::serialize::row::SerializeRow + Clone,
    {
        let Some(cursor) = cursor else {
            return self.first_rows(&reads.first, key, want).await;
        };
        let moment = cursor.created_at();
        let mut rows: Vec<R> = self.all(&reads.ties, at(moment)).await?;
        rows.retain(|r| {
            let (t, id) = r.key();
            cursor.precedes(t, id)
        });
        if rows.len() < want {
            let left = want - rows.len();
            rows.extend(
                self.first_rows::<R>(&reads.before, at(moment), left)
                    .await?,
            );
        }
        Ok(rows)
    }

    /// The first `n` rows of a query in clustering order, fetched in pages of at most `n` rows so
    /// the server stops reading once they are in hand.
    async fn first_rows<R>(
        &self,
        statement: &PreparedStatement,
        values: impl scylla::serialize::row::SerializeRow + Clone,
        n: usize,
    ) -> anyhow::Result<Vec<R>>
    where
        R: for<'f, 'm> scylla::deserialize::row::DeserializeRow<'f, 'm> + 'static,
    {
        let mut statement = statement.clone();
        let mut rows = Vec::new();
        let mut paging = PagingState::start();
        while rows.len() < n {
            statement.set_page_size((n - rows.len()).min(5_000) as i32);
            let (result, next) = self
                .session
                .execute_single_page(&statement, values.clone(), paging)
                .await?;
            for row in result.into_rows_result()?.rows::<R>()? {
                rows.push(row?);
            }
            match next {
                PagingStateResponse::HasMorePages { state } => paging = state,
                PagingStateResponse::NoMorePages => break,
            }
        }
        rows.truncate(n);
        Ok(rows)
    }

    /// Every row a query selects, read page by page from the driver: only for reads that stay
    /// small whatever the history (a sale's refunds, a customer's months, one millisecond of a
    /// partition).
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
