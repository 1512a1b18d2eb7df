//! Writes order facts and line facts, refund facts and line facts, and voids; at each flush it
//! recomputes every window the written events touched (`recompute_queries`), exactly as DESIGN.md
//! §6 says. A sale's window is touched by the sale and by its void (when the sale is known), a
//! refund's window — its own time, its own store — by the refund.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use clickhouse::Client;
use futures::future::BoxFuture;

use sales_stores::clickhouse::{client, within, ClickHouseConfig};

use super::facts::{by_days, epoch_seconds, DayPartitioned, Facts};
use super::windows::{recompute_queries, window_start, Touched};
use crate::metrics::Metrics;
use crate::sink::{Batch, Sink, SinkError};

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
        let facts = Facts::of(batch, self.config.business_zone);
        self.insert("order_facts", facts.orders).await?;
        self.insert("order_line_facts", facts.lines).await?;
        self.insert("refund_facts", facts.refunds).await?;
        self.insert("refund_line_facts", facts.refund_lines).await?;
        self.insert("order_voids", facts.voids).await
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
            let sales = batch.sales.iter().map(|entry| {
                let order = &entry.sale.event;
                (
                    order.created_at(),
                    order.store_id().as_str(),
                    entry.sale.ingested_at,
                )
            });
            let refunds = batch.refunds.iter().map(|entry| {
                let refund = &entry.refund.event;
                (
                    refund.created_at(),
                    refund.store_id().as_str(),
                    entry.refund.ingested_at,
                )
            });
            // A void of a sale not known yet touches nothing: the sale, when it comes, is
            // recomputed as voided.
            let voids = batch.voids.iter().filter_map(|entry| {
                let sale = entry.sale.as_ref()?;
                Some((
                    sale.created_at,
                    sale.store_id.as_str(),
                    entry.void.ingested_at,
                ))
            });
            for (at, store_id, ingested_at) in sales.chain(refunds).chain(voids) {
                pending
                    .touched
                    .add(window_start(epoch_seconds(at), window), store_id);
                pending.ingested_at.push(ingested_at);
            }
            Ok(())
        })
    }

    fn flush(&self) -> BoxFuture<'_, Result<(), SinkError>> {
        Box::pin(self.recompute())
    }
}
