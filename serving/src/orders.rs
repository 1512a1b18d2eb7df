//! Order look-ups from Cassandra: one order by id, a store's day, a customer's history.

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use sales_model::{exponent_of, format_minor};
use scylla::client::session::Session;
use scylla::response::{PagingState, PagingStateResponse};
use scylla::statement::prepared::PreparedStatement;
use scylla::DeserializeRow;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use sales_stores::cassandra::{customer_month, StoredOrder};

use crate::cql::{all_rows, prepare};
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
    /// The till's id of the sale, its idempotency key.
    #[schema(example = "pos-17-000123")]
    pub order_id: String,
    /// The store that made the sale.
    #[schema(example = "store-042")]
    pub store_id: String,
    /// The till that rang it up, when the POS said.
    #[schema(example = "t-3")]
    pub terminal_id: Option<String>,
    /// The customer, when the POS named one.
    #[schema(example = "c-9001")]
    pub customer_id: Option<String>,
    /// One of in_store, takeaway, delivery, online.
    #[schema(example = "in_store")]
    pub channel: String,
    /// The ISO 4217 currency of every amount of the order.
    #[schema(example = "EUR")]
    pub currency: String,
    /// When the sale was made (the event time the POS sent).
    #[schema(example = "2026-11-22T10:15:30Z")]
    pub created_at: DateTime<Utc>,
    /// The business day of `created_at` in BUSINESS_TIME_ZONE.
    #[schema(example = "2026-11-22")]
    pub day: NaiveDate,
    /// The lines, in the order the POS sent them.
    pub items: Vec<LineView>,
    /// How many items: the sum of the lines' quantities.
    #[schema(example = 2)]
    pub item_count: i32,
    /// Taken off the lines' sum, in the currency's units.
    #[schema(example = "0.50")]
    pub discount: String,
    /// Added to the lines' sum, in the currency's units.
    #[schema(example = "0.00")]
    pub tax: String,
    /// What the sale took: the lines' sum − discount + tax, in the currency's units.
    #[schema(example = "6.50")]
    pub total: String,
    /// One of cash, card, mobile, other, when the POS said.
    #[schema(example = "card")]
    pub payment_method: Option<String>,
    /// The ingest attempt that carried the stored version (for tracing, never for identity).
    pub ingest_id: Option<Uuid>,
    /// When ingest-api accepted that attempt.
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
    /// The store that voided the sale.
    pub store_id: String,
    /// When the void was made.
    pub created_at: DateTime<Utc>,
    /// Why, when the POS said.
    pub reason: Option<String>,
}

/// One refund of a sale.
#[derive(Debug, Serialize, ToSchema)]
pub struct RefundView {
    /// The till's id of the refund, its idempotency key.
    #[schema(example = "pos-17-r-000045")]
    pub refund_id: String,
    /// Where the money went back.
    #[schema(example = "store-042")]
    pub store_id: String,
    /// When the money went back: the refund counts in that window and business day.
    pub created_at: DateTime<Utc>,
    /// The sale's currency.
    #[schema(example = "EUR")]
    pub currency: String,
    /// What went back, in the currency's units.
    #[schema(example = "3.50")]
    pub amount: String,
    /// Why, when the POS said.
    #[schema(example = "damaged")]
    pub reason: Option<String>,
}

/// One line of a sale.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Line)]
pub struct LineView {
    /// The product's stock-keeping unit.
    #[schema(example = "sku-1")]
    pub sku: String,
    /// The product's name as the till showed it.
    #[schema(example = "Latte")]
    pub name: String,
    /// How many units, 1 to 10000.
    #[schema(example = 2)]
    pub quantity: i32,
    /// One unit's price, in the currency's units.
    #[schema(example = "3.50")]
    pub unit_price: String,
    /// quantity × unit_price, in the currency's units.
    #[schema(example = "7.00")]
    pub amount: String,
}

/// One order in a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrderSummary {
    #[schema(example = "pos-17-000123")]
    pub order_id: String,
    pub created_at: DateTime<Utc>,
    #[schema(example = "store-042")]
    pub store_id: String,
    pub customer_id: Option<String>,
    #[schema(example = "in_store")]
    pub channel: String,
    #[schema(example = "EUR")]
    pub currency: String,
    pub item_count: i32,
    #[schema(example = "6.50")]
    pub total: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrderPage {
    pub orders: Vec<OrderSummary>,
    /// Pass as `page` to get the next, older page; absent on the last page.
    pub next_page: Option<String>,
}

impl OrderPage {
    /// The page of `rows` after `cursor`, at most `limit` long.
    fn of(rows: Vec<ListedRow>, cursor: Option<&Cursor>, limit: usize) -> OrderPage {
        let (rows, next_page) = page(rows, ListedRow::key, cursor, limit);
        OrderPage {
            orders: rows.into_iter().map(OrderSummary::from).collect(),
            next_page,
        }
    }
}

/// An order as the list tables (`orders_by_store_day`, `orders_by_customer_month`) both hold it,
/// partition key included; read in [`LISTED_COLUMNS`].
#[derive(DeserializeRow)]
struct ListedRow {
    order_id: String,
    created_at: DateTime<Utc>,
    store_id: String,
    customer_id: Option<String>,
    channel: String,
    currency: String,
    item_count: i32,
    total_minor: i64,
}

/// The columns of a [`ListedRow`], in its order.
const LISTED_COLUMNS: &str =
    "order_id, created_at, store_id, customer_id, channel, currency, item_count, total_minor";

impl ListedRow {
    /// Its clustering key in both tables: `(created_at DESC, order_id)`.
    fn key(&self) -> (DateTime<Utc>, &str) {
        (self.created_at, &self.order_id)
    }
}

impl From<ListedRow> for OrderSummary {
    fn from(r: ListedRow) -> Self {
        OrderSummary {
            total: money(r.total_minor, &r.currency),
            order_id: r.order_id,
            created_at: r.created_at,
            store_id: r.store_id,
            customer_id: r.customer_id,
            channel: r.channel,
            currency: r.currency,
            item_count: r.item_count,
        }
    }
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

impl Newest {
    /// Prepares the three reads of the listed orders of `table` whose partition `partition`
    /// names with `?`s.
    async fn prepare(
        session: &Session,
        keyspace: &str,
        table: &str,
        partition: &str,
    ) -> anyhow::Result<Newest> {
        let select = format!("SELECT {LISTED_COLUMNS} FROM {keyspace}.{table} WHERE {partition}");
        Ok(Newest {
            first: prepare(session, select.clone()).await?,
            ties: prepare(session, format!("{select} AND created_at = ?")).await?,
            before: prepare(session, format!("{select} AND created_at < ?")).await?,
        })
    }
}

impl OrderReads {
    pub async fn new(session: Arc<Session>, keyspace: &str) -> anyhow::Result<Self> {
        let prepare = |cql: String| prepare(&session, cql);
        let by_id = prepare(StoredOrder::select(keyspace)).await?;
        let refunds = prepare(format!(
            "SELECT refund_id, store_id, currency, created_at, amount_minor, reason FROM {keyspace}.refunds_by_order WHERE order_id = ?"
        ))
        .await?;
        // A page reads its rows in the table's clustering order (newest first, ties by order id)
        // from the cursor on, and stops once it has them (`first_rows`), so the first page and
        // the hundredth cost the same, on a quiet day and on a busy one, for a new customer and
        // for one with years of orders.
        let newest = |table, partition| Newest::prepare(&session, keyspace, table, partition);
        let store_day = newest("orders_by_store_day", "store_id = ? AND day = ?").await?;
        let customer = newest("orders_by_customer_month", "customer_id = ? AND month = ?").await?;
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
        let mut refunds: Vec<RefundRow> =
            all_rows(&self.session, &self.refunds, (order_id,)).await?;
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
        let rows = self
            .newest(
                &self.store_day,
                (store_id, day),
                |at| (store_id, day, at),
                cursor,
                want,
            )
            .await?;
        Ok(OrderPage::of(rows, cursor, limit))
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
        let listing = all_rows::<(i32,)>(&self.session, &self.customer_months, (customer_id,));
        let (listed, mut rows) = match (cursor, from) {
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
                self.newest(
                    &self.customer,
                    (customer_id, month),
                    |at| (customer_id, month, at),
                    None,
                    left,
                )
                .await?,
            );
        }
        Ok(OrderPage::of(rows, cursor, limit))
    }

    /// At most `want` rows of one partition (`key`) in clustering order, after `cursor` when
    /// there is one (`at` names the partition and a moment): the rest of the cursor's
    /// millisecond (its orders are few; those already shown are dropped), then what is older,
    /// both read at once.
    async fn newest<K, V>(
        &self,
        reads: &Newest,
        key: K,
        at: impl Fn(DateTime<Utc>) -> V,
        cursor: Option<&Cursor>,
        want: usize,
    ) -> anyhow::Result<Vec<ListedRow>>
    where
        K: scylla::serialize::row::SerializeRow + Clone,
        V: scylla::serialize::row::SerializeRow + Clone,
    {
        let Some(cursor) = cursor else {
            return self.first_rows(&reads.first, key, want).await;
        };
        // Both reads are known from the cursor, so they go out together: a page costs one round
        // trip to Cassandra, not two. The older rows are read as if no tie were left; the few
        // extra are cut off.
        let moment = cursor.created_at();
        let (mut rows, older) = futures::try_join!(
            all_rows::<ListedRow>(&self.session, &reads.ties, at(moment)),
            self.first_rows(&reads.before, at(moment), want),
        )?;
        rows.retain(|r| {
            let (t, id) = r.key();
            cursor.precedes(t, id)
        });
        rows.extend(older);
        rows.truncate(want);
        Ok(rows)
    }

    /// The first `n` rows of a query in clustering order, fetched in pages of at most `n` rows so
    /// the server stops reading once they are in hand.
    async fn first_rows(
        &self,
        statement: &PreparedStatement,
        values: impl scylla::serialize::row::SerializeRow + Clone,
        n: usize,
    ) -> anyhow::Result<Vec<ListedRow>> {
        let mut statement = statement.clone();
        let mut rows = Vec::new();
        let mut paging = PagingState::start();
        while rows.len() < n {
            statement.set_page_size((n - rows.len()).min(5_000) as i32);
            let (result, next) = self
                .session
                .execute_single_page(&statement, values.clone(), paging)
                .await?;
            for row in result.into_rows_result()?.rows::<ListedRow>()? {
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

    /// Cheap query proving the keyspace answers (readiness).
    pub async fn ping(&self) -> anyhow::Result<()> {
        self.session
            .execute_unpaged(&self.by_id, ("readiness-probe",))
            .await?;
        Ok(())
    }
}
