//! Writes order facts and line facts, refund facts and line facts, and voids; at each flush it
//! recomputes every window the written events touched (`recompute_queries`), exactly as DESIGN.md
//! §6 says. A sale's window is touched by the sale and by its void (when the sale is known), a
//! refund's window — its own time, its own store — by the refund.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDate, Utc};
use clickhouse::{Client, Row};
use futures::future::BoxFuture;
use sales_model::{Channel, Currency};
use serde::Serialize;

use sales_stores::clickhouse::{client, within, ClickHouseConfig};

use super::windows::{recompute_queries, window_start, Touched};
use crate::metrics::Metrics;
use crate::sink::{Batch, Sink, SinkError};

#[derive(Row, Serialize)]
struct OrderFact {
    created_at: u32,
    day: u16,
    order_id: String,
    store_id: String,
    channel: String,
    currency: String,
    currency_exponent: u8,
    customer_id: String,
    payment_method: String,
    item_count: u64,
    discount_minor: i64,
    tax_minor: i64,
    total_minor: i64,
    ingested_at: u32,
}

#[derive(Row, Serialize)]
struct LineFact {
    created_at: u32,
    day: u16,
    order_id: String,
    line_no: u32,
    store_id: String,
    currency: String,
    currency_exponent: u8,
    sku: String,
    name: String,
    quantity: u64,
    unit_price_minor: i64,
    amount_minor: i64,
}

#[derive(Row, Serialize)]
struct RefundFact {
    created_at: u32,
    day: u16,
    refund_id: String,
    order_id: String,
    store_id: String,
    channel: String,
    sale_known: u8,
    currency: String,
    currency_exponent: u8,
    amount_minor: i64,
    ingested_at: u32,
}

#[derive(Row, Serialize)]
struct RefundLineFact {
    created_at: u32,
    day: u16,
    refund_id: String,
    line_no: u32,
    store_id: String,
    currency: String,
    currency_exponent: u8,
    sku: String,
    quantity: u64,
    amount_minor: i64,
}

#[derive(Row, Serialize)]
struct VoidFact {
    order_id: String,
    voided_at: u32,
    day: u16,
    store_id: String,
    reason: String,
    ingested_at: u32,
}

/// The `channel` of a refund whose sale was not known.
const UNKNOWN_CHANNEL: &str = "unknown";

/// What the next flush must recompute, and when its orders were ingested (for freshness).
#[derive(Default)]
struct Pending {
    touched: Touched,
    ingested_at: Vec<DateTime<Utc>>,
}

pub struct ClickHouseSink {
    client: Client,
    config: ClickHouseConfig,
    pending: Mutex<Pending>,
    metrics: Arc<Metrics>,
}

/// Event time as ClickHouse `DateTime` (whole seconds since the epoch, UTC).
fn epoch_seconds(t: DateTime<Utc>) -> u32 {
    u32::try_from(t.timestamp()).unwrap_or(0)
}

/// The most business days (partitions) one insert spans: ClickHouse refuses an insert block over
/// more than `max_partitions_per_insert_block` partitions (100 unless changed), which a replay of
/// old history would otherwise reach.
const MAX_DAYS_PER_INSERT: usize = 100;

/// A fact row, partitioned by its business day.
trait DayPartitioned {
    fn day(&self) -> u16;
}

macro_rules! day_partitioned {
    ($($row:ty),*) => {$(
        impl DayPartitioned for $row {
            fn day(&self) -> u16 {
                self.day
            }
        }
    )*};
}
day_partitioned!(OrderFact, LineFact, RefundFact, RefundLineFact, VoidFact);

/// `rows` in groups that each span at most [`MAX_DAYS_PER_INSERT`] days, in day order (a batch of
/// recent events is one group).
fn by_days<T: DayPartitioned>(rows: Vec<T>) -> Vec<Vec<T>> {
    let mut days: std::collections::BTreeMap<u16, Vec<T>> = std::collections::BTreeMap::new();
    for row in rows {
        days.entry(row.day()).or_default().push(row);
    }
    let mut groups: Vec<Vec<T>> = Vec::new();
    for (n, (_, rows)) in days.into_iter().enumerate() {
        if n % MAX_DAYS_PER_INSERT == 0 {
            groups.push(Vec::new());
        }
        if let Some(group) = groups.last_mut() {
            group.extend(rows);
        }
    }
    groups
}

/// A day as ClickHouse `Date` (days since 1970-01-01). Orders' times are checked to lie within
/// what `DateTime` holds, whose days all fit.
fn epoch_days(day: NaiveDate) -> u16 {
    u16::try_from((day - NaiveDate::default()).num_days()).unwrap_or(0)
}

impl ClickHouseSink {
    pub fn new(config: &ClickHouseConfig, metrics: Arc<Metrics>) -> Self {
        Self {
            client: client(config),
            config: config.clone(),
            pending: Mutex::new(Pending::default()),
            metrics,
        }
    }

    /// Checks that the facts table answers (the schema is applied and the server reachable).
    async fn check_facts(&self) -> anyhow::Result<()> {
        self.timed(
            "checking order_facts",
            self.client
                .query("SELECT count() FROM order_facts WHERE 0")
                .execute(),
        )
        .await
    }

    /// One ClickHouse request, bounded by the request timeout, its failure saying `what` it was.
    async fn timed<T>(
        &self,
        what: &str,
        operation: impl std::future::Future<Output = clickhouse::error::Result<T>>,
    ) -> anyhow::Result<T> {
        // The cause goes into the message itself, so the retry log and `/health` show it.
        within(self.config.request_timeout, operation)
            .await
            .map_err(|error| anyhow::anyhow!("{what}: {error}"))
    }

    /// Inserts `rows` into `table`: one request per [`MAX_DAYS_PER_INSERT`] business days
    /// (nothing when there are none).
    async fn insert<T>(&self, table: &'static str, rows: Vec<T>) -> anyhow::Result<()>
    where
        T: clickhouse::RowOwned + clickhouse::RowWrite + DayPartitioned,
    {
        for group in by_days(rows) {
            self.insert_block(table, group).await?;
        }
        Ok(())
    }

    /// Inserts `rows` into `table` in one request.
    async fn insert_block<T: clickhouse::RowOwned + clickhouse::RowWrite>(
        &self,
        table: &'static str,
        rows: Vec<T>,
    ) -> anyhow::Result<()> {
        let mut insert = self
            .timed(
                &format!("opening the {table} insert"),
                self.client.insert::<T>(table),
            )
            .await?;
        let mut count = 0u64;
        for row in rows {
            self.timed(&format!("writing {table}"), insert.write(&row))
                .await?;
            count += 1;
        }
        self.timed(&format!("finishing the {table} insert"), insert.end())
            .await?;
        self.metrics.wrote(table, count);
        Ok(())
    }

    async fn insert_facts(&self, batch: &Batch) -> anyhow::Result<()> {
        let zone = self.config.business_zone;
        let day = |at: DateTime<Utc>| epoch_days(zone.day_of(at));
        let exponent = |currency: &Currency| currency.exponent() as u8;
        let sales = || {
            batch
                .sales
                .iter()
                .map(|entry| (&entry.sale, &entry.sale.event))
        };
        self.insert(
            "order_facts",
            sales()
                .map(|(received, order)| OrderFact {
                    created_at: epoch_seconds(order.created_at()),
                    day: day(order.created_at()),
                    order_id: order.order_id().to_string(),
                    store_id: order.store_id().to_string(),
                    channel: order.channel().as_str().to_string(),
                    currency: order.currency().to_string(),
                    currency_exponent: exponent(order.currency()),
                    customer_id: order
                        .customer_id()
                        .map(ToString::to_string)
                        .unwrap_or_default(),
                    payment_method: order
                        .payment_method()
                        .map(|p| p.as_str().to_string())
                        .unwrap_or_default(),
                    item_count: order.item_count(),
                    discount_minor: order.discount().minor(),
                    tax_minor: order.tax().minor(),
                    total_minor: order.total().minor(),
                    ingested_at: epoch_seconds(received.ingested_at),
                })
                .collect(),
        )
        .await?;
        self.insert(
            "order_line_facts",
            sales()
                .flat_map(|(_, order)| {
                    order
                        .lines()
                        .iter()
                        .enumerate()
                        .map(move |(line_no, line)| LineFact {
                            created_at: epoch_seconds(order.created_at()),
                            day: day(order.created_at()),
                            order_id: order.order_id().to_string(),
                            line_no: line_no as u32,
                            store_id: order.store_id().to_string(),
                            currency: order.currency().to_string(),
                            currency_exponent: exponent(order.currency()),
                            sku: line.sku().to_string(),
                            name: line.name().to_string(),
                            quantity: u64::from(line.quantity()),
                            unit_price_minor: line.unit_price().minor(),
                            amount_minor: line.amount().minor(),
                        })
                })
                .collect(),
        )
        .await?;
        self.insert(
            "refund_facts",
            batch
                .refunds
                .iter()
                .map(|entry| {
                    let refund = &entry.refund.event;
                    RefundFact {
                        created_at: epoch_seconds(refund.created_at()),
                        day: day(refund.created_at()),
                        refund_id: refund.refund_id().to_string(),
                        order_id: refund.order_id().to_string(),
                        store_id: refund.store_id().to_string(),
                        channel: entry
                            .channel
                            .map_or(UNKNOWN_CHANNEL, Channel::as_str)
                            .to_string(),
                        sale_known: u8::from(entry.channel.is_some()),
                        currency: refund.currency().to_string(),
                        currency_exponent: exponent(refund.currency()),
                        amount_minor: refund.amount().minor(),
                        ingested_at: epoch_seconds(entry.refund.ingested_at),
                    }
                })
                .collect(),
        )
        .await?;
        self.insert(
            "refund_line_facts",
            batch
                .refunds
                .iter()
                .flat_map(|entry| {
                    let refund = &entry.refund.event;
                    refund
                        .lines()
                        .iter()
                        .enumerate()
                        .map(move |(line_no, line)| RefundLineFact {
                            created_at: epoch_seconds(refund.created_at()),
                            day: day(refund.created_at()),
                            refund_id: refund.refund_id().to_string(),
                            line_no: line_no as u32,
                            store_id: refund.store_id().to_string(),
                            currency: refund.currency().to_string(),
                            currency_exponent: exponent(refund.currency()),
                            sku: line.sku().to_string(),
                            quantity: u64::from(line.quantity()),
                            amount_minor: line.amount().minor(),
                        })
                })
                .collect(),
        )
        .await?;
        self.insert(
            "order_voids",
            batch
                .voids
                .iter()
                .map(|entry| {
                    let void = &entry.void.event;
                    VoidFact {
                        order_id: void.order_id().to_string(),
                        voided_at: epoch_seconds(void.created_at()),
                        day: day(void.created_at()),
                        store_id: void.store_id().to_string(),
                        reason: void.reason().unwrap_or_default().to_string(),
                        ingested_at: epoch_seconds(entry.void.ingested_at),
                    }
                })
                .collect(),
        )
        .await
    }

    /// Recomputes every touched window range from the facts. On failure nothing is forgotten:
    /// the same windows (and any touched meanwhile) are recomputed at the next attempt.
    async fn recompute(&self) -> anyhow::Result<()> {
        let (touched, ingested_at) = {
            let mut pending = self
                .pending
                .lock()
                .map_err(|_| anyhow::anyhow!("pending windows lock poisoned"))?;
            (
                std::mem::take(&mut pending.touched),
                std::mem::take(&mut pending.ingested_at),
            )
        };
        if touched.is_empty() {
            return Ok(());
        }
        let started = Instant::now();
        let outcome = async {
            for range in touched.ranges(self.config.window_seconds) {
                for query in recompute_queries(
                    &self.client,
                    &range,
                    self.config.window_seconds,
                    &self.config.database,
                ) {
                    self.timed("recomputing windows", query.execute()).await?;
                }
                self.metrics.windows_recomputed.inc_by(range.windows as u64);
            }
            anyhow::Ok(())
        }
        .await;
        match outcome {
            Ok(()) => {
                let now = Utc::now();
                for at in ingested_at {
                    let age = now
                        .signed_duration_since(at)
                        .to_std()
                        .unwrap_or(Duration::ZERO);
                    self.metrics.freshness.observe(age.as_secs_f64());
                }
                tracing::debug!(
                    elapsed_ms = started.elapsed().as_millis() as u64,
                    "windows recomputed"
                );
                Ok(())
            }
            Err(error) => {
                if let Ok(mut pending) = self.pending.lock() {
                    pending.touched.merge(touched);
                    pending.ingested_at.extend(ingested_at);
                }
                Err(error)
            }
        }
    }
}

impl Sink for ClickHouseSink {
    fn name(&self) -> &'static str {
        "clickhouse"
    }

    fn check(&self) -> BoxFuture<'_, Result<(), SinkError>> {
        Box::pin(self.check_facts())
    }

    fn write<'a>(&'a self, batch: &'a Batch) -> BoxFuture<'a, Result<(), SinkError>> {
        Box::pin(async move {
            self.insert_facts(batch).await?;
            // Only once the facts are durable do their windows become due for recomputation.
            let window = self.config.window_seconds;
            let mut pending = self
                .pending
                .lock()
                .map_err(|_| anyhow::anyhow!("pending windows lock poisoned"))?;
            let mut touch = |at: DateTime<Utc>, store_id: &str, ingested_at| {
                pending
                    .touched
                    .add(window_start(epoch_seconds(at), window), store_id);
                pending.ingested_at.push(ingested_at);
            };
            for entry in &batch.sales {
                let order = &entry.sale.event;
                touch(
                    order.created_at(),
                    order.store_id().as_str(),
                    entry.sale.ingested_at,
                );
            }
            for entry in &batch.refunds {
                let refund = &entry.refund.event;
                touch(
                    refund.created_at(),
                    refund.store_id().as_str(),
                    entry.refund.ingested_at,
                );
            }
            // A void of a sale not known yet touches nothing: the sale, when it comes, is
            // recomputed as voided.
            for entry in &batch.voids {
                if let Some(sale) = &entry.sale {
                    touch(
                        sale.created_at,
                        sale.store_id.as_str(),
                        entry.void.ingested_at,
                    );
                }
            }
            Ok(())
        })
    }

    fn flush(&self) -> BoxFuture<'_, Result<(), SinkError>> {
        Box::pin(self.recompute())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fact(u16);

    impl DayPartitioned for Fact {
        fn day(&self) -> u16 {
            self.0
        }
    }

    #[test]
    fn an_insert_spans_at_most_a_hundred_days() {
        let days = |groups: &[Vec<Fact>]| -> Vec<Vec<u16>> {
            groups
                .iter()
                .map(|g| g.iter().map(|f| f.0).collect())
                .collect()
        };
        // Recent events: one insert, whatever their order.
        let recent = by_days(vec![Fact(9), Fact(8), Fact(9)]);
        assert_eq!(days(&recent), [vec![8, 9, 9]]);
        // 250 days, two rows each: 100 + 100 + 50 days, every row once.
        let history = by_days((0..500).map(|n| Fact(n % 250)).collect());
        assert_eq!(
            history.iter().map(Vec::len).collect::<Vec<_>>(),
            [200, 200, 100]
        );
        let all: Vec<u16> = days(&history).concat();
        assert_eq!(all.len(), 500);
        assert!(all.windows(2).all(|w| w[0] <= w[1]));
        assert!(by_days(Vec::<Fact>::new()).is_empty());
    }
}
