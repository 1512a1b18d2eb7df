//! What a destination of sales, refunds and voids must offer the pipeline.
//!
//! A sink owns its client, batching and health. `write` must be idempotent: the pipeline delivers
//! at least once and retries a failed batch whole. `flush` makes everything written so far final
//! (for example, recomputing aggregates); offsets are committed only after every sink flushed.
//! `check` says whether the store answers and holds what the sink writes to; the job waits for it
//! before consuming, so a missing schema is reported on `/health` instead of failing every batch.
//! A sink that is the record of every event's first version (Cassandra) also answers `known`:
//! the pipeline uses it to divert conflicting duplicates (DESIGN.md §3), to attribute a refund to
//! its sale's channel, to tell a void which sale it cancels, and to spot over-refunds. Without
//! such a sink (a benchmark of one sink alone) every refund's sale counts as unknown.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use sales_model::{Channel, Order, OrderRecord, Refund, RefundRecord, Void, VoidRecord};
use uuid::Uuid;

/// A failed write; the pipeline retries it.
pub type SinkError = anyhow::Error;

/// One accepted event with its ingest attempt.
#[derive(Debug, Clone)]
pub struct Received<T> {
    pub event: T,
    pub ingest_id: Uuid,
    pub ingested_at: DateTime<Utc>,
}

/// A sale to store; `voided` when its void is stored or in the same batch.
#[derive(Debug, Clone)]
pub struct SaleEntry {
    pub sale: Received<Order>,
    pub voided: bool,
}

/// A refund to store, attributed to its sale's channel when the sale was known (stored, or earlier
/// in partition order) the first time the refund was handled, `None` when it was not. A refund
/// read again keeps the attribution it was first stored with, so every store agrees.
#[derive(Debug, Clone)]
pub struct RefundEntry {
    pub refund: Received<Refund>,
    pub channel: Option<Channel>,
}

/// A void to store, with the sale it cancels when that is known (its rows are marked voided and
/// its window recomputed); when the sale comes later, the sale is stored voided instead.
#[derive(Debug, Clone)]
pub struct VoidEntry {
    pub void: Received<Void>,
    pub sale: Option<OrderRecord>,
}

/// What the sinks write for one batch: the first version of every event in it.
#[derive(Debug, Default)]
pub struct Batch {
    pub sales: Vec<SaleEntry>,
    pub refunds: Vec<RefundEntry>,
    pub voids: Vec<VoidEntry>,
}

impl Batch {
    pub fn is_empty(&self) -> bool {
        self.sales.is_empty() && self.refunds.is_empty() && self.voids.is_empty()
    }
}

/// Which stored records the pipeline needs for a batch.
#[derive(Debug, Default)]
pub struct Wanted {
    /// Order ids whose sale and void are wanted (the batch's sales, and the sales its refunds and
    /// voids belong to).
    pub orders: Vec<String>,
    /// Refund ids whose stored refund is wanted.
    pub refunds: Vec<String>,
    /// Order ids whose refunds so far are wanted (for over-refunds).
    pub refunded_orders: Vec<String>,
}

/// A stored refund and the channel it was first attributed to (`None`: its sale was unknown).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRefund {
    pub record: RefundRecord,
    pub channel: Option<Channel>,
}

/// What a sink holds of the wanted ids; an id it has not seen is absent.
#[derive(Debug, Default)]
pub struct Known {
    pub sales: HashMap<String, OrderRecord>,
    pub voids: HashMap<String, VoidRecord>,
    pub refunds: HashMap<String, StoredRefund>,
    /// Per order id: (refund id, amount in minor units) of every stored refund.
    pub refunded: HashMap<String, Vec<(String, i64)>>,
}

/// See [`Sink::known`].
pub type KnownResult = Result<Option<Known>, SinkError>;

pub trait Sink: Send + Sync {
    /// Short name for logs, metric labels and `/health`.
    fn name(&self) -> &'static str;

    /// Succeeds when the store answers and the sink's tables are there.
    fn check(&self) -> BoxFuture<'_, Result<(), SinkError>>;

    /// Stores every event of the batch, or fails as a whole (a retry rewrites it).
    fn write<'a>(&'a self, batch: &'a Batch) -> BoxFuture<'a, Result<(), SinkError>>;

    /// What this sink holds of the wanted ids: stored sales, voids and refunds, and the refunds so
    /// far of some sales. `Ok(None)` from a sink that keeps no such record.
    fn known<'a>(&'a self, _wanted: &'a Wanted) -> BoxFuture<'a, KnownResult> {
        Box::pin(async { Ok(None) })
    }

    /// Makes what was written durable and visible; most sinks have nothing to do.
    fn flush(&self) -> BoxFuture<'_, Result<(), SinkError>> {
        Box::pin(async { Ok(()) })
    }
}

/// A connection attempt: resolves to a sink or to why it could not be reached.
pub type Connecting = BoxFuture<'static, Result<Arc<dyn Sink>, SinkError>>;

/// How the job reaches one sink: called again, with backoff, until it yields a sink whose
/// check passes.
pub struct Connector {
    pub name: &'static str,
    pub connect: Box<dyn Fn() -> Connecting + Send + Sync>,
}
