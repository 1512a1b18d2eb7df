//! Writes order facts and line facts, and at each flush recomputes every window the written
//! orders touched (`WindowRecompute`), exactly as DESIGN.md §6 says.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{DateTime, NaiveDate, Utc};
use clickhouse::{Client, Row};
use futures::future::BoxFuture;
use sales_model::{Envelope, Order};
use serde::Serialize;

use sales_stores::clickhouse::{client, within, ClickHouseConfig};

use super::windows::{recompute_queries, window_start, Touched};
use crate::metrics::Metrics;
use crate::sink::{Sink, SinkError};

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
        within(self.config.request_timeout, operation)
            .await
            .with_context(|| what.to_string())
    }

    async fn insert_facts(&self, orders: &[Envelope]) -> anyhow::Result<()> {
        let mut facts = self
            .timed(
                "opening the order_facts insert",
                self.client.insert::<OrderFact>("order_facts"),
            )
            .await?;
        let mut line_count = 0u64;
        let zone = self.config.business_zone;
        let day = |order: &Order| epoch_days(zone.day_of(order.created_at()));
        for envelope in orders {
            let order = &envelope.order;
            let fact = OrderFact {
                created_at: epoch_seconds(order.created_at()),
                day: day(order),
                order_id: order.order_id().to_string(),
                store_id: order.store_id().to_string(),
                channel: order.channel().as_str().to_string(),
                currency: order.currency().to_string(),
                currency_exponent: order.currency().exponent() as u8,
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
                ingested_at: epoch_seconds(envelope.ingested_at),
            };
            self.timed("writing order_facts", facts.write(&fact))
                .await?;
        }
        self.timed("finishing the order_facts insert", facts.end())
            .await?;

        let mut lines = self
            .timed(
                "opening the order_line_facts insert",
                self.client.insert::<LineFact>("order_line_facts"),
            )
            .await?;
        for envelope in orders {
            let order = &envelope.order;
            for (line_no, line) in order.lines().iter().enumerate() {
                let fact = LineFact {
                    created_at: epoch_seconds(order.created_at()),
                    day: day(order),
                    order_id: order.order_id().to_string(),
                    line_no: line_no as u32,
                    store_id: order.store_id().to_string(),
                    currency: order.currency().to_string(),
                    currency_exponent: order.currency().exponent() as u8,
                    sku: line.sku().to_string(),
                    name: line.name().to_string(),
                    quantity: u64::from(line.quantity()),
                    unit_price_minor: line.unit_price().minor(),
                    amount_minor: line.amount().minor(),
                };
                self.timed("writing order_line_facts", lines.write(&fact))
                    .await?;
                line_count += 1;
            }
        }
        self.timed("finishing the order_line_facts insert", lines.end())
            .await?;
        self.metrics.wrote("order_facts", orders.len() as u64);
        self.metrics.wrote("order_line_facts", line_count);
        Ok(())
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

    fn write<'a>(&'a self, orders: &'a [Envelope]) -> BoxFuture<'a, Result<(), SinkError>> {
        Box::pin(async move {
            self.insert_facts(orders).await?;
            // Only once the facts are durable do their windows become due for recomputation.
            let mut pending = self
                .pending
                .lock()
                .map_err(|_| anyhow::anyhow!("pending windows lock poisoned"))?;
            for envelope in orders {
                let order = &envelope.order;
                let start = window_start(
                    epoch_seconds(order.created_at()),
                    self.config.window_seconds,
                );
                pending.touched.add(start, order.store_id().as_str());
                pending.ingested_at.push(envelope.ingested_at);
            }
            Ok(())
        })
    }

    fn flush(&self) -> BoxFuture<'_, Result<(), SinkError>> {
        Box::pin(self.recompute())
    }
}
