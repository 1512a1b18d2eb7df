//! What a destination of orders must offer the pipeline.
//!
//! A sink owns its client, batching and health. `write` must be idempotent: the pipeline delivers
//! at least once and retries a failed batch whole. `flush` makes everything written so far final
//! (for example, recomputing aggregates); offsets are committed only after every sink flushed.
//! `check` says whether the store answers and holds what the sink writes to; the job waits for it
//! before consuming, so a missing schema is reported on `/health` instead of failing every batch.
//! A sink that is the record of every order's first version (Cassandra) also answers
//! `stored_versions`, which the pipeline uses to divert conflicting duplicates (DESIGN.md §3).

use std::sync::Arc;

use futures::future::BoxFuture;
use sales_model::{Envelope, OrderRecord};

/// A failed write; the pipeline retries it.
pub type SinkError = anyhow::Error;

/// See [`Sink::stored_versions`].
pub type StoredVersions = Result<Option<Vec<Option<OrderRecord>>>, SinkError>;

pub trait Sink: Send + Sync {
    /// Short name for logs, metric labels and `/health`.
    fn name(&self) -> &'static str;

    /// Succeeds when the store answers and the sink's tables are there.
    fn check(&self) -> BoxFuture<'_, Result<(), SinkError>>;

    /// Stores every order of the batch, or fails as a whole (a retry rewrites it).
    fn write<'a>(&'a self, orders: &'a [Envelope]) -> BoxFuture<'a, Result<(), SinkError>>;

    /// What this sink holds of each order's id, in the order given: the stored version, or `None`
    /// for an id it has not seen. `Ok(None)` from a sink that keeps no such record.
    fn stored_versions<'a>(&'a self, _orders: &'a [Envelope]) -> BoxFuture<'a, StoredVersions> {
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
