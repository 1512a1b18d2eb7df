//! Writes each order to every table of `cql/002_orders.cql` with prepared, idempotent upserts.

use std::sync::Arc;

use anyhow::Context;
use chrono::{DateTime, NaiveDate, Utc};
use futures::future::{try_join_all, BoxFuture};
use futures::stream::{self, StreamExt, TryStreamExt};
use sales_model::{BusinessZone, Envelope, OrderRecord};
use scylla::client::session::Session;
use scylla::statement::prepared::PreparedStatement;
use scylla::value::MaybeUnset;
use scylla::SerializeRow;
use uuid::Uuid;

use sales_stores::cassandra::{connect, day_bucket, CassandraConfig, StoredOrder, ORDER_COLUMNS};

use crate::metrics::Metrics;
use crate::sink::{Sink, SinkError, StoredVersions};

pub struct CassandraSink {
    session: Arc<Session>,
    by_id: PreparedStatement,
    by_store_day: PreparedStatement,
    by_customer: PreparedStatement,
    by_day: PreparedStatement,
    /// Reads an order's stored version back, to tell a retry from a conflicting duplicate.
    stored: PreparedStatement,
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
}

#[derive(SerializeRow)]
struct CustomerRow<'a> {
    customer_id: &'a str,
    created_at: DateTime<Utc>,
    order_id: &'a str,
    store_id: &'a str,
    channel: &'a str,
    currency: &'a str,
    item_count: i32,
    total_minor: i64,
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
            ],
        )
        .await?;
        let by_customer = prepare(
            "orders_by_customer",
            &[
                "customer_id",
                "created_at",
                "order_id",
                "store_id",
                "channel",
                "currency",
                "item_count",
                "total_minor",
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
            ],
        )
        .await?;
        Ok(Self {
            session,
            by_id,
            by_store_day,
            by_customer,
            by_day,
            stored,
            concurrency: config.concurrency,
            business_zone: config.business_zone,
            metrics,
        })
    }

    async fn write_order(&self, envelope: &Envelope) -> anyhow::Result<()> {
        let order = &envelope.order;
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
        };
        let mut writes: Vec<BoxFuture<'_, anyhow::Result<()>>> = vec![
            Box::pin(self.execute(&self.by_id, row, "orders_by_id")),
            Box::pin(self.execute(&self.by_store_day, store_day, "orders_by_store_day")),
            Box::pin(self.execute(&self.by_day, by_day, "orders_by_day")),
        ];
        if let Some(customer_id) = customer_id {
            let row = CustomerRow {
                customer_id,
                created_at,
                order_id,
                store_id,
                channel,
                currency,
                item_count,
                total_minor,
            };
            writes.push(Box::pin(self.execute(
                &self.by_customer,
                row,
                "orders_by_customer",
            )));
        }
        try_join_all(writes).await?;
        Ok(())
    }

    /// The stored version of `order_id`, if any.
    async fn stored_version(&self, order_id: &str) -> anyhow::Result<Option<OrderRecord>> {
        let result = self
            .session
            .execute_unpaged(&self.stored, (order_id,))
            .await
            .context("reading orders_by_id")?
            .into_rows_result()
            .context("reading orders_by_id")?;
        Ok(result
            .maybe_first_row::<StoredOrder>()
            .context("reading orders_by_id")?
            .map(|stored| stored.record()))
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

    fn stored_versions<'a>(&'a self, orders: &'a [Envelope]) -> BoxFuture<'a, StoredVersions> {
        let reads: Vec<_> = orders
            .iter()
            .map(|e| self.stored_version(e.order.order_id().as_str()))
            .collect();
        Box::pin(async move {
            // `buffered` keeps the answers in the orders' order.
            let versions = stream::iter(reads)
                .buffered(self.concurrency)
                .try_collect::<Vec<_>>()
                .await?;
            Ok(Some(versions))
        })
    }

    fn write<'a>(&'a self, orders: &'a [Envelope]) -> BoxFuture<'a, Result<(), SinkError>> {
        let writes = stream::iter(orders.iter().map(|order| self.write_order(order)));
        Box::pin(
            writes
                .buffer_unordered(self.concurrency)
                .try_collect::<()>(),
        )
    }
}
