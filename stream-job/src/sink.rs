//! What a destination of orders must offer the pipeline.
//!
//! A sink owns its client, batching and health. `write` must be idempotent: the pipeline delivers
//! at least once and retries a failed batch whole. `flush` makes everything written so far final
//! (for example, recomputing aggregates); offsets are committed only after every sink flushed.

use futures::future::BoxFuture;
use sales_model::Envelope;

/// A failed write; the pipeline retries it.
pub type SinkError = anyhow::Error;

pub trait Sink: Send + Sync {
    /// Short name for logs and metric labels.
    fn name(&self) -> &'static str;

    /// Stores every order of the batch, or fails as a whole (a retry rewrites it).
    fn write<'a>(&'a self, orders: &'a [Envelope]) -> BoxFuture<'a, Result<(), SinkError>>;

    /// Makes what was written durable and visible; most sinks have nothing to do.
    fn flush(&self) -> BoxFuture<'_, Result<(), SinkError>> {
        Box::pin(async { Ok(()) })
    }
}
