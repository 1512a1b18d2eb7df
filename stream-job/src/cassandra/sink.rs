//! Writes each sale to every table of `cql/002_orders.cql`, each refund to every table of
//! `cql/003_refunds.cql`, and each void onto its sale's rows, with prepared, idempotent upserts;
//! and reads back what is stored of a batch's ids for the pipeline (`Sink::known`).

use std::sync::Arc;

use anyhow::Context;
use chrono::{DateTime, NaiveDate, Utc};
use futures::future::{try_join_all, BoxFuture};
use futures::stream::{self, StreamExt, TryStreamExt};
use sales_model::{BusinessZone, Channel};
use scylla::client::session::Session;
use scylla::statement::prepared::PreparedStatement;
use scylla::value::MaybeUnset;
use scylla::SerializeRow;
use uuid::Uuid;

use sales_stores::cassandra::{
    connect, customer_month, day_bucket, refund_bucket, CassandraConfig, StoredOrder,
    StoredRefund as RefundRow, ORDER_COLUMNS, REFUND_COLUMNS,
};

use crate::metrics::Metrics;
use crate::sink::{
    Batch, Known, KnownResult, RefundEntry, SaleEntry, Sink, SinkError, StoredRefund, VoidEntry,
    Wanted,
};

/// What `refunds_by_id.channel` says when the refund's sale was not known.
const UNKNOWN_CHANNEL: &str = "unknown";

pub struct CassandraSink {
    session: Arc<Session>,
    by_id: PreparedStatement,
    by_store_day: PreparedStatement,
    by_customer: PreparedStatement,
    by_day: PreparedStatement,
    void_by_id: PreparedStatement,
    voided_by_store_day: PreparedStatement,
    voided_by_customer: PreparedStatement,
    customer_months: PreparedStatement,
    voided_by_day: PreparedStatement,
    refund_by_id: PreparedStatement,
    refund_by_order: PreparedStatement,
    refund_by_store_day: PreparedStatement,
    refund_by_day: PreparedStatement,
    /// Reads an order's row (sale and void) back, to tell a retry from a conflicting duplicate.
    stored: PreparedStatement,
    stored_refund: PreparedStatement,
    refunds_of_order: PreparedStatement,
    concurrency: usize,
    /// Where `created_at` becomes the `day` of `orders_by_store_day` and `orders_by_day`.
    business_zone: BusinessZone,
    metrics: Arc<Metrics>,
}

#[derive(SerializeRow)]
struct OrderRow<'a> {
    order_id: &'a str,
    store_id: &'a str,
    terminal_id: MaybeUnset<&'a str>,
    customer_id: MaybeUnset<&'a str>,
    channel: &'a str,
    currency: &'a str,
    created_at: DateTime<Utc>,
    day: NaiveDate,
    line_skus: Vec<&'a str>,
    line_names: Vec<&'a str>,
    line_quantities: Vec<i32>,
    line_unit_prices_minor: Vec<i64>,
    item_count: i32,
    discount_minor: i64,
    tax_minor: i64,
    total_minor: i64,
    payment_method: MaybeUnset<&'a str>,
    ingest_id: Uuid,
    ingested_at: DateTime<Utc>,
}

#[derive(SerializeRow)]
struct StoreDayRow<'a> {
    store_id: &'a str,
    day: NaiveDate,
    created_at: DateTime<Utc>,
    order_id: &'a str,
    channel: &'a str,
    currency: &'a str,
    item_count: i32,
    total_minor: i64,
    customer_id: MaybeUnset<&'a str>,
    payment_method: MaybeUnset<&'a str>,
    voided: bool,
}

#[derive(SerializeRow)]
struct CustomerRow<'a> {
    customer_id: &'a str,
    month: i32,
    created_at: DateTime<Utc>,
    order_id: &'a str,
    store_id: &'a str,
    channel: &'a str,
    currency: &'a str,
    item_count: i32,
    total_minor: i64,
    voided: bool,
}

#[derive(SerializeRow)]
struct DayRow<'a> {
    day: NaiveDate,
    bucket: i32,
    store_id: &'a str,
    order_id: &'a str,
    created_at: DateTime<Utc>,
    channel: &'a str,
    currency: &'a str,
    item_count: i32,
    total_minor: i64,
    voided: bool,
}

#[derive(SerializeRow)]
struct VoidRow<'a> {
    order_id: &'a str,
    void_store_id: &'a str,
    void_created_at: DateTime<Utc>,
    void_reason: MaybeUnset<&'a str>,
    void_ingest_id: Uuid,
    void_ingested_at: DateTime<Utc>,
}

#[derive(SerializeRow)]
struct RefundByIdRow<'a> {
    refund_id: &'a str,
    order_id: &'a str,
    store_id: &'a str,
    channel: &'a str,
    sale_known: bool,
    currency: &'a str,
    created_at: DateTime<Utc>,
    day: NaiveDate,
    line_skus: Vec<&'a str>,
    line_quantities: Vec<i32>,
    line_amounts_minor: Vec<i64>,
    amount_minor: i64,
    reason: MaybeUnset<&'a str>,
    ingest_id: Uuid,
    ingested_at: DateTime<Utc>,
}

#[derive(SerializeRow)]
struct RefundByOrderRow<'a> {
    order_id: &'a str,
    refund_id: &'a str,
    store_id: &'a str,
    currency: &'a str,
    created_at: DateTime<Utc>,
    amount_minor: i64,
    reason: MaybeUnset<&'a str>,
}

#[derive(SerializeRow)]
struct RefundByStoreDayRow<'a> {
    store_id: &'a str,
    day: NaiveDate,
    created_at: DateTime<Utc>,
    refund_id: &'a str,
    order_id: &'a str,
    channel: &'a str,
    currency: &'a str,
    amount_minor: i64,
    reason: MaybeUnset<&'a str>,
}

#[derive(SerializeRow)]
struct RefundByDayRow<'a> {
    day: NaiveDate,
    bucket: i32,
    store_id: &'a str,
    refund_id: &'a str,
    order_id: &'a str,
    created_at: DateTime<Utc>,
    channel: &'a str,
    sale_known: bool,
    currency: &'a str,
    amount_minor: i64,
}

/// A missing optional value is left unset rather than written as null (no tombstone).
fn unset(value: Option<&str>) -> MaybeUnset<&str> {
    value.map_or(MaybeUnset::Unset, MaybeUnset::Set)
}

fn insert(keyspace: &str, table: &str, columns: &[&str]) -> String {
    let markers = vec!["?"; columns.len()].join(", ");
    format!(
        "INSERT INTO {keyspace}.{table} ({}) VALUES ({markers})",
        columns.join(", ")
    )
}

impl CassandraSink {
    /// Connects to the cluster and prepares the statements; fails if the schema is missing.
    pub async fn connect(config: &CassandraConfig, metrics: Arc<Metrics>) -> anyhow::Result<Self> {
        let session = Arc::new(connect(config).await?);
        CassandraSink::new(session, config, metrics).await
    }

    /// Prepares the statements on `session`; fails if the schema is missing.
    async fn new(
        session: Arc<Session>,
        config: &CassandraConfig,
        metrics: Arc<Metrics>,
    ) -> anyhow::Result<Self> {
        let keyspace = config.keyspace.as_str();
        let prepare = |table: &str, columns: &[&str]| {
            let session = session.clone();
            let cql = insert(keyspace, table, columns);
            async move {
                let mut statement = session
                    .prepare(cql.as_str())
                    .await
                    .with_context(|| format!("cannot prepare {cql}"))?;
                // Plain upserts: safe for the driver to retry or speculate.
                statement.set_is_idempotent(true);
                anyhow::Ok(statement)
            }
        };
        let by_id = prepare(
            "orders_by_id",
            &[
                "order_id",
                "store_id",
                "terminal_id",
                "customer_id",
                "channel",
                "currency",
                "created_at",
                "day",
                "line_skus",
                "line_names",
                "line_quantities",
                "line_unit_prices_minor",
                "item_count",
                "discount_minor",
                "tax_minor",
                "total_minor",
                "payment_method",
                "ingest_id",
                "ingested_at",
            ],
        )
        .await?;
        let stored_cql =
            format!("SELECT {ORDER_COLUMNS} FROM {keyspace}.orders_by_id WHERE order_id = ?");
        let stored = session
            .prepare(stored_cql.as_str())
            .await
            .with_context(|| format!("cannot prepare {stored_cql}"))?;
        let by_store_day = prepare(
            "orders_by_store_day",
            &[
                "store_id",
                "day",
                "created_at",
                "order_id",
                "channel",
                "currency",
                "item_count",
                "total_minor",
                "customer_id",
                "payment_method",
                "voided",
            ],
        )
        .await?;
        let by_customer = prepare(
            "orders_by_customer_month",
            &[
                "customer_id",
                "month",
                "created_at",
                "order_id",
                "store_id",
                "channel",
                "currency",
                "item_count",
                "total_minor",
                "voided",
            ],
        )
        .await?;
        let by_day = prepare(
            "orders_by_day",
            &[
                "day",
                "bucket",
                "store_id",
                "order_id",
                "created_at",
                "channel",
                "currency",
                "item_count",
                "total_minor",
                "voided",
            ],
        )
        .await?;
        let void_by_id = prepare(
            "orders_by_id",
            &[
                "order_id",
                "void_store_id",
                "void_created_at",
                "void_reason",
                "void_ingest_id",
                "void_ingested_at",
            ],
        )
        .await?;
        let voided_by_store_day = prepare(
            "orders_by_store_day",
            &["store_id", "day", "created_at", "order_id", "voided"],
        )
        .await?;
        let voided_by_customer = prepare(
            "orders_by_customer_month",
            &["customer_id", "month", "created_at", "order_id", "voided"],
        )
        .await?;
        let customer_months = prepare("customer_months", &["customer_id", "month"]).await?;
        let voided_by_day = prepare(
            "orders_by_day",
            &["day", "bucket", "store_id", "order_id", "voided"],
        )
        .await?;
        let refund_by_id = prepare(
            "refunds_by_id",
            &REFUND_COLUMNS
                .split(", ")
                .map(str::trim)
                .collect::<Vec<_>>(),
        )
        .await?;
        let refund_by_order = prepare(
            "refunds_by_order",
            &[
                "order_id",
                "refund_id",
                "store_id",
                "currency",
                "created_at",
                "amount_minor",
                "reason",
            ],
        )
        .await?;
        let refund_by_store_day = prepare(
            "refunds_by_store_day",
            &[
                "store_id",
                "day",
                "created_at",
                "refund_id",
                "order_id",
                "channel",
                "currency",
                "amount_minor",
                "reason",
            ],
        )
        .await?;
        let refund_by_day = prepare(
            "refunds_by_day",
            &[
                "day",
                "bucket",
                "store_id",
                "refund_id",
                "order_id",
                "created_at",
                "channel",
                "sale_known",
                "currency",
                "amount_minor",
            ],
        )
        .await?;
        let read = |cql: String| {
            let session = session.clone();
            async move {
                session
                    .prepare(cql.as_str())
                    .await
                    .with_context(|| format!("cannot prepare {cql}"))
            }
        };
        let stored_refund = read(format!(
            "SELECT {REFUND_COLUMNS} FROM {keyspace}.refunds_by_id WHERE refund_id = ?"
        ))
        .await?;
        let refunds_of_order = read(format!(
            "SELECT refund_id, amount_minor FROM {keyspace}.refunds_by_order WHERE order_id = ?"
        ))
        .await?;
        Ok(Self {
            session,
            by_id,
            by_store_day,
            by_customer,
            by_day,
            void_by_id,
            voided_by_store_day,
            voided_by_customer,
            customer_months,
            voided_by_day,
            refund_by_id,
            refund_by_order,
            refund_by_store_day,
            refund_by_day,
            stored,
            stored_refund,
            refunds_of_order,
            concurrency: config.concurrency,
            business_zone: config.business_zone,
            metrics,
        })
    }

    async fn write_sale(&self, entry: &SaleEntry) -> anyhow::Result<()> {
        let envelope = &entry.sale;
        let voided = entry.voided;
        let order = &envelope.event;
        let created_at = order.created_at();
        let day = self.business_zone.day_of(created_at);
        let item_count = i32::try_from(order.item_count()).context("item count out of range")?;
        let total_minor = order.total().minor();
        let order_id = order.order_id().as_str();
        let store_id = order.store_id().as_str();
        let channel = order.channel().as_str();
        let currency = order.currency().as_str();
        let customer_id = order.customer_id().map(|c| c.as_str());
        let payment_method = order.payment_method().map(|p| p.as_str());
        let lines = order.lines();
        let row = OrderRow {
            order_id,
            store_id,
            terminal_id: unset(order.terminal_id().map(|t| t.as_str())),
            customer_id: unset(customer_id),
            channel,
            currency,
            created_at,
            day,
            line_skus: lines.iter().map(|l| l.sku().as_str()).collect(),
            line_names: lines.iter().map(|l| l.name()).collect(),
            line_quantities: lines.iter().map(|l| l.quantity() as i32).collect(),
            line_unit_prices_minor: lines.iter().map(|l| l.unit_price().minor()).collect(),
            item_count,
            discount_minor: order.discount().minor(),
            tax_minor: order.tax().minor(),
            total_minor,
            payment_method: unset(payment_method),
            ingest_id: envelope.ingest_id,
            ingested_at: envelope.ingested_at,
        };
        let store_day = StoreDayRow {
            store_id,
            day,
            created_at,
            order_id,
            channel,
            currency,
            item_count,
            total_minor,
            customer_id: unset(customer_id),
            payment_method: unset(payment_method),
            voided,
        };
        let by_day = DayRow {
            day,
            bucket: day_bucket(order_id),
            store_id,
            order_id,
            created_at,
            channel,
            currency,
            item_count,
            total_minor,
            voided,
        };
        let mut writes: Vec<BoxFuture<'_, anyhow::Result<()>>> = vec![
            Box::pin(self.execute(&self.by_id, row, "orders_by_id")),
            Box::pin(self.execute(&self.by_store_day, store_day, "orders_by_store_day")),
            Box::pin(self.execute(&self.by_day, by_day, "orders_by_day")),
        ];
        if let Some(customer_id) = customer_id {
            let month = customer_month(created_at);
            let row = CustomerRow {
                customer_id,
                month,
                created_at,
                order_id,
                store_id,
                channel,
                currency,
                item_count,
                total_minor,
                voided,
            };
            writes.push(Box::pin(self.execute(
                &self.by_customer,
                row,
                "orders_by_customer_month",
            )));
            writes.push(Box::pin(self.execute(
                &self.customer_months,
                (customer_id, month),
                "customer_months",
            )));
        }
        try_join_all(writes).await?;
        Ok(())
    }

    /// Keeps the void on its sale's `orders_by_id` row and, when the sale is known, marks the
    /// sale's rows in the other tables voided.
    async fn write_void(&self, entry: &VoidEntry) -> anyhow::Result<()> {
        let void = &entry.void.event;
        let order_id = void.order_id().as_str();
        let row = VoidRow {
            order_id,
            void_store_id: void.store_id().as_str(),
            void_created_at: void.created_at(),
            void_reason: unset(void.reason()),
            void_ingest_id: entry.void.ingest_id,
            void_ingested_at: entry.void.ingested_at,
        };
        let mut writes: Vec<BoxFuture<'_, anyhow::Result<()>>> = vec![Box::pin(self.execute(
            &self.void_by_id,
            row,
            "orders_by_id",
        ))];
        if let Some(sale) = &entry.sale {
            let day = self.business_zone.day_of(sale.created_at);
            let store_id = sale.store_id.as_str();
            writes.push(Box::pin(self.execute(
                &self.voided_by_store_day,
                (store_id, day, sale.created_at, order_id, true),
                "orders_by_store_day",
            )));
            writes.push(Box::pin(self.execute(
                &self.voided_by_day,
                (day, day_bucket(order_id), store_id, order_id, true),
                "orders_by_day",
            )));
            if let Some(customer_id) = &sale.customer_id {
                writes.push(Box::pin(self.execute(
                    &self.voided_by_customer,
                    (
                        customer_id.as_str(),
                        customer_month(sale.created_at),
                        sale.created_at,
                        order_id,
                        true,
                    ),
                    "orders_by_customer_month",
                )));
            }
        }
        try_join_all(writes).await?;
        Ok(())
    }

    async fn write_refund(&self, entry: &RefundEntry) -> anyhow::Result<()> {
        let refund = &entry.refund.event;
        let created_at = refund.created_at();
        let day = self.business_zone.day_of(created_at);
        let refund_id = refund.refund_id().as_str();
        let order_id = refund.order_id().as_str();
        let store_id = refund.store_id().as_str();
        let currency = refund.currency().as_str();
        let channel = entry.channel.map_or(UNKNOWN_CHANNEL, Channel::as_str);
        let amount_minor = refund.amount().minor();
        let reason = refund.reason();
        let lines = refund.lines();
        let by_id = RefundByIdRow {
            refund_id,
            order_id,
            store_id,
            channel,
            sale_known: entry.channel.is_some(),
            currency,
            created_at,
            day,
            line_skus: lines.iter().map(|l| l.sku().as_str()).collect(),
            line_quantities: lines.iter().map(|l| l.quantity() as i32).collect(),
            line_amounts_minor: lines.iter().map(|l| l.amount().minor()).collect(),
            amount_minor,
            reason: unset(reason),
            ingest_id: entry.refund.ingest_id,
            ingested_at: entry.refund.ingested_at,
        };
        let by_order = RefundByOrderRow {
            order_id,
            refund_id,
            store_id,
            currency,
            created_at,
            amount_minor,
            reason: unset(reason),
        };
        let by_store_day = RefundByStoreDayRow {
            store_id,
            day,
            created_at,
            refund_id,
            order_id,
            channel,
            currency,
            amount_minor,
            reason: unset(reason),
        };
        let by_day = RefundByDayRow {
            day,
            bucket: refund_bucket(refund_id),
            store_id,
            refund_id,
            order_id,
            created_at,
            channel,
            sale_known: entry.channel.is_some(),
            currency,
            amount_minor,
        };
        try_join_all([
            Box::pin(self.execute(&self.refund_by_id, by_id, "refunds_by_id"))
                as BoxFuture<'_, anyhow::Result<()>>,
            Box::pin(self.execute(&self.refund_by_order, by_order, "refunds_by_order")),
            Box::pin(self.execute(
                &self.refund_by_store_day,
                by_store_day,
                "refunds_by_store_day",
            )),
            Box::pin(self.execute(&self.refund_by_day, by_day, "refunds_by_day")),
        ])
        .await?;
        Ok(())
    }

    /// The `orders_by_id` row of `order_id`, if any.
    async fn stored_order(&self, order_id: &str) -> anyhow::Result<Option<StoredOrder>> {
        let result = self
            .session
            .execute_unpaged(&self.stored, (order_id,))
            .await
            .context("reading orders_by_id")?
            .into_rows_result()
            .context("reading orders_by_id")?;
        result
            .maybe_first_row::<StoredOrder>()
            .context("reading orders_by_id")
    }

    /// The stored refund `refund_id` and the channel it was attributed to, if any.
    async fn stored_refund(&self, refund_id: &str) -> anyhow::Result<Option<StoredRefund>> {
        let result = self
            .session
            .execute_unpaged(&self.stored_refund, (refund_id,))
            .await
            .context("reading refunds_by_id")?
            .into_rows_result()
            .context("reading refunds_by_id")?;
        Ok(result
            .maybe_first_row::<RefundRow>()
            .context("reading refunds_by_id")?
            .map(|row| StoredRefund {
                record: row.record(),
                channel: Channel::parse(&row.channel).ok(),
            }))
    }

    /// (refund id, amount) of every stored refund of `order_id`: one small partition.
    async fn refunds_of(&self, order_id: &str) -> anyhow::Result<Vec<(String, i64)>> {
        let result = self
            .session
            .execute_unpaged(&self.refunds_of_order, (order_id,))
            .await
            .context("reading refunds_by_order")?
            .into_rows_result()
            .context("reading refunds_by_order")?;
        result
            .rows::<(String, i64)>()
            .context("reading refunds_by_order")?
            .collect::<Result<_, _>>()
            .context("reading refunds_by_order")
    }

    async fn read_known(&self, wanted: &Wanted) -> anyhow::Result<Known> {
        // The reads are made before they are streamed, and `buffered` keeps the answers in the
        // order of the ids.
        let orders: Vec<_> = wanted
            .orders
            .iter()
            .map(|id| self.stored_order(id))
            .collect();
        let refunds: Vec<_> = wanted
            .refunds
            .iter()
            .map(|id| self.stored_refund(id))
            .collect();
        let refunded: Vec<_> = wanted
            .refunded_orders
            .iter()
            .map(|id| self.refunds_of(id))
            .collect();
        let orders = stream::iter(orders)
            .buffered(self.concurrency)
            .try_collect::<Vec<_>>();
        let refunds = stream::iter(refunds)
            .buffered(self.concurrency)
            .try_collect::<Vec<_>>();
        let refunded = stream::iter(refunded)
            .buffered(self.concurrency)
            .try_collect::<Vec<_>>();
        let (orders, refunds, refunded) = futures::try_join!(orders, refunds, refunded)?;
        let mut known = Known::default();
        for row in orders.into_iter().flatten() {
            if let Some(void) = row.void() {
                known.voids.insert(row.order_id.clone(), void);
            }
            if let Some(sale) = row.record() {
                known.sales.insert(row.order_id.clone(), sale);
            }
        }
        for (id, refund) in wanted.refunds.iter().zip(refunds) {
            if let Some(refund) = refund {
                known.refunds.insert(id.clone(), refund);
            }
        }
        for (id, refunds) in wanted.refunded_orders.iter().zip(refunded) {
            known.refunded.insert(id.clone(), refunds);
        }
        Ok(known)
    }

    async fn execute(
        &self,
        statement: &PreparedStatement,
        row: impl scylla::serialize::row::SerializeRow,
        table: &str,
    ) -> anyhow::Result<()> {
        self.session
            .execute_unpaged(statement, row)
            .await
            .with_context(|| format!("writing {table}"))?;
        self.metrics.wrote(table, 1);
        Ok(())
    }
}

impl Sink for CassandraSink {
    fn name(&self) -> &'static str {
        "cassandra"
    }

    fn check(&self) -> BoxFuture<'_, Result<(), SinkError>> {
        // Preparing a statement again is a round trip that proves the cluster answers and the
        // table is still there, without reading any data.
        Box::pin(async move {
            let cql = self.by_id.get_statement();
            self.session
                .prepare(cql)
                .await
                .with_context(|| format!("cannot prepare {cql}"))?;
            Ok(())
        })
    }

    fn known<'a>(&'a self, wanted: &'a Wanted) -> BoxFuture<'a, KnownResult> {
        Box::pin(async move { Ok(Some(self.read_known(wanted).await?)) })
    }

    fn write<'a>(&'a self, batch: &'a Batch) -> BoxFuture<'a, Result<(), SinkError>> {
        // Refunds and voids are stored before the batch's sales: a sale is never stored while a
        // refund or void ahead of it in the batch is not. A replay after a crash between the two
        // then finds such a refund stored with the attribution it was given (its sale unknown),
        // instead of deriving it anew from the sale (DESIGN.md §3, ARCHITECTURE.md).
        Box::pin(async move {
            let first: Vec<BoxFuture<'_, anyhow::Result<()>>> = batch
                .refunds
                .iter()
                .map(|entry| Box::pin(self.write_refund(entry)) as BoxFuture<'_, _>)
                .chain(
                    batch
                        .voids
                        .iter()
                        .map(|entry| Box::pin(self.write_void(entry)) as BoxFuture<'_, _>),
                )
                .collect();
            stream::iter(first)
                .buffer_unordered(self.concurrency)
                .try_collect::<()>()
                .await?;
            let sales: Vec<BoxFuture<'_, anyhow::Result<()>>> = batch
                .sales
                .iter()
                .map(|entry| Box::pin(self.write_sale(entry)) as BoxFuture<'_, _>)
                .collect();
            stream::iter(sales)
                .buffer_unordered(self.concurrency)
                .try_collect::<()>()
                .await
        })
    }
}
