//! The consumer loop: read a batch, dead-letter what is not an order, write the rest to every
//! sink, and commit only what every sink holds.
//!
//! An id is a promise about content (DESIGN.md §3): within a batch the first message of an id
//! wins, and across batches the version Cassandra already holds; a later message with other
//! content is a conflicting duplicate and goes to the dead-letter topic, never to a store.
//!
//! Ordering of effects per batch: (1) dead letters acknowledged, (2) every sink wrote the orders,
//! then the batch's offsets become pending; (3) at the flush interval every sink flushes, then
//! (4) pending offsets are committed. A crash anywhere before (4) re-delivers the batch, and the
//! idempotent writes absorb the repeat; nothing after a failed step is ever committed.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::{try_join_all, BoxFuture};
use rdkafka::message::OwnedMessage;
use rdkafka::Message;
use sales_model::{Envelope, EnvelopeError, OrderId, OrderRecord};
use service_runtime::retry::{until_ok, Stopped};
use tokio_util::sync::CancellationToken;

use crate::dead_letter::DeadLetters;
use crate::health::Health;
use crate::metrics::{Metrics, SinkLabel};
use crate::sink::{Sink, SinkError};
use crate::source::{Offsets, OrderSource};

/// The dead-letter code of a message that reuses a stored order id with other content.
pub const CONFLICT: &str = "conflicting_duplicate";

/// The dead letter's text for a conflicting duplicate: which fields differ from the first version.
fn conflict(first: &OrderRecord, later: &OrderRecord) -> String {
    format!(
        "order_id {} is already taken by an order with other content ({} differ); the first version stays",
        first.order_id,
        first.differing_fields(later).join(", ")
    )
}

/// What the pipeline asks of every sink.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Step {
    Write,
    Flush,
}

/// How long a graceful stop may spend finishing the batch being written, flushing and
/// committing.
const FINAL_FLUSH: Duration = Duration::from_secs(15);

pub struct Pipeline {
    pub source: OrderSource,
    pub dead_letters: DeadLetters,
    pub sinks: Vec<Arc<dyn Sink>>,
    pub metrics: Arc<Metrics>,
    pub health: Health,
    pub flush_interval: Duration,
    pub max_backoff: Duration,
}

impl Pipeline {
    /// Runs until `stop` is cancelled, then flushes and commits what is already written.
    pub async fn run(self, stop: CancellationToken) {
        // Work under way when the stop comes (a batch being written, a flush) gets FINAL_FLUSH
        // to finish, so a graceful stop commits everything the stores already hold; what a store
        // still refuses by then stays uncommitted and is read again on the next start.
        let give_up = CancellationToken::new();
        let timer = tokio::spawn({
            let (stop, give_up) = (stop.clone(), give_up.clone());
            async move {
                stop.cancelled().await;
                tokio::time::sleep(FINAL_FLUSH).await;
                give_up.cancel();
            }
        });
        let mut pending = Offsets::default();
        let mut last_flush = Instant::now();
        while !stop.is_cancelled() {
            let (batch, read_error) = self.source.next_batch(self.flush_interval, &stop).await;
            // A read error shows on `/health` until a read succeeds again.
            match read_error {
                Some(error) => {
                    tracing::warn!(%error, "error reading the order topic");
                    self.health
                        .report("kafka source", Some(format!("reading the topic: {error}")));
                }
                None => self.health.report("kafka source", None),
            }
            if !batch.is_empty() {
                if self.handle(&batch, &give_up).await.is_err() {
                    break;
                }
                pending.record(&batch);
            }
            let due = last_flush.elapsed() >= self.flush_interval || batch.is_empty();
            if !pending.is_empty() && due {
                if self.flush_and_commit(&mut pending, &give_up).await.is_err() {
                    break;
                }
                last_flush = Instant::now();
            }
        }
        if !pending.is_empty() {
            match self.flush_and_commit(&mut pending, &give_up).await {
                Ok(()) => tracing::info!("final flush and commit done"),
                Err(error) => {
                    tracing::warn!(%error, "stopped without the final commit; the last batches will be re-read")
                }
            }
        }
        timer.abort();
        tracing::info!("pipeline stopped");
    }

    /// Dead-letters the poison messages and writes the orders to every sink, retrying each
    /// failing step until it succeeds.
    async fn handle(
        &self,
        batch: &[OwnedMessage],
        stop: &CancellationToken,
    ) -> Result<(), Stopped> {
        self.metrics.consumed.inc_by(batch.len() as u64);
        let decoded: Vec<_> = batch
            .iter()
            .map(|message| {
                let envelope = Envelope::from_json(message.payload().unwrap_or_default());
                (message, envelope)
            })
            .collect();
        if let Some((message, Err(newer))) = decoded
            .iter()
            .find(|(_, decoded)| matches!(decoded, Err(EnvelopeError::NewerSchema(_))))
        {
            // Not poison: a newer producer's message. Dead-lettering it would divert valid orders
            // during a rolling upgrade, so nothing of this batch is written or committed and the
            // job waits, unhealthy, until it is stopped and upgraded.
            let problem = format!(
                "{newer} (partition {}, offset {}); consumption is paused",
                message.partition(),
                message.offset()
            );
            return until_ok(
                "reading a newer schema",
                self.max_backoff,
                stop,
                |problem: &String| self.health.report("schema", Some(problem.clone())),
                || async { Err::<(), _>(problem.clone()) },
            )
            .await;
        }
        // The first version of each id in partition order is the order; a later message with the
        // same id is a retry when its content is the same, and a conflicting duplicate when not.
        // `records[i]` is where `orders[i]` came from and what it says.
        let mut orders: Vec<Envelope> = Vec::new();
        let mut records: Vec<(&OwnedMessage, OrderRecord)> = Vec::new();
        let mut kept: HashMap<OrderId, usize> = HashMap::new();
        let mut refused: Vec<(&OwnedMessage, &'static str, String)> = Vec::new();
        for (message, decoded) in decoded {
            match decoded {
                Ok(envelope) => {
                    let record = OrderRecord::from(&envelope.order);
                    match kept.get(envelope.order.order_id()) {
                        None => {
                            kept.insert(envelope.order.order_id().clone(), orders.len());
                            orders.push(envelope);
                            records.push((message, record));
                        }
                        Some(&first) if records[first].1 == record => {}
                        Some(&first) => {
                            refused.push((message, CONFLICT, conflict(&records[first].1, &record)))
                        }
                    }
                }
                Err(error) => refused.push((message, error.code(), error.to_string())),
            }
        }
        // Ids stored by an earlier batch (or an earlier run) keep their first version.
        if let Some(stored) = self.stored_versions(&orders, stop).await? {
            let mut keep = Vec::with_capacity(orders.len());
            for ((message, record), stored) in records.iter().zip(stored) {
                match stored {
                    Some(first) if first != *record => {
                        refused.push((message, CONFLICT, conflict(&first, record)));
                        keep.push(false);
                    }
                    _ => keep.push(true),
                }
            }
            let mut keep = keep.into_iter();
            orders.retain(|_| keep.next().unwrap_or(true));
        }
        for (message, code, text) in &refused {
            if *code == CONFLICT {
                self.metrics.conflicting_duplicates.inc();
            }
            until_ok(
                "dead letter",
                self.max_backoff,
                stop,
                |failure| {
                    self.health
                        .report("dead letter", Some(format!("{failure}")))
                },
                || self.dead_letters.send(message, code, text),
            )
            .await?;
            self.health.report("dead letter", None);
        }
        if orders.is_empty() {
            return Ok(());
        }
        self.on_every_sink(Step::Write, stop, |sink| sink.write(&orders))
            .await
    }

    /// The stored version of each order's id, from the first sink that keeps a record of them
    /// (Cassandra), retried until it answers; `None` when no sink keeps one.
    async fn stored_versions(
        &self,
        orders: &[Envelope],
        stop: &CancellationToken,
    ) -> Result<Option<Vec<Option<OrderRecord>>>, Stopped> {
        if orders.is_empty() {
            return Ok(None);
        }
        let started = Instant::now();
        for sink in &self.sinks {
            let what = format!("{} conflict check", sink.name());
            let versions = until_ok(
                &what,
                self.max_backoff,
                stop,
                |error: &SinkError| {
                    self.metrics
                        .sink_failures
                        .get_or_create(&SinkLabel {
                            sink: sink.name().to_string(),
                        })
                        .inc();
                    self.health.report(&what, Some(format!("{error:#}")))
                },
                || sink.stored_versions(orders),
            )
            .await?;
            self.health.report(&what, None);
            if versions.is_some() {
                self.metrics
                    .conflict_check_latency
                    .observe(started.elapsed().as_secs_f64());
                return Ok(versions);
            }
        }
        Ok(None)
    }

    /// Runs one step on every sink concurrently, each retried until it succeeds (or the job
    /// stops): while it fails, `/health` names the sink and step, and its latency is recorded
    /// once it succeeded.
    async fn on_every_sink<'a>(
        &'a self,
        step: Step,
        stop: &'a CancellationToken,
        run: impl Fn(&'a Arc<dyn Sink>) -> BoxFuture<'a, Result<(), SinkError>>,
    ) -> Result<(), Stopped> {
        let run = &run;
        try_join_all(self.sinks.iter().map(|sink| async move {
            let started = Instant::now();
            let label = SinkLabel {
                sink: sink.name().to_string(),
            };
            let what = match step {
                Step::Write => sink.name().to_string(),
                Step::Flush => format!("{} flush", sink.name()),
            };
            let result = until_ok(
                &what,
                self.max_backoff,
                stop,
                |error| {
                    if step == Step::Write {
                        self.metrics.sink_failures.get_or_create(&label).inc();
                    }
                    self.health.report(&what, Some(format!("{error:#}")));
                },
                || run(sink),
            )
            .await;
            self.health.report(&what, None);
            let latency = match step {
                Step::Write => &self.metrics.sink_latency,
                Step::Flush => &self.metrics.flush_latency,
            };
            latency
                .get_or_create(&label)
                .observe(started.elapsed().as_secs_f64());
            result
        }))
        .await?;
        Ok(())
    }

    async fn flush_and_commit(
        &self,
        pending: &mut Offsets,
        stop: &CancellationToken,
    ) -> Result<(), Stopped> {
        self.on_every_sink(Step::Flush, stop, |sink| sink.flush())
            .await?;
        match self.source.commit(pending) {
            Ok(()) => {
                self.metrics.commits.inc();
                pending.clear();
            }
            // Kept pending: the next flush commits it together with what follows.
            Err(error) => {
                tracing::warn!(%error, "offset commit failed; will retry at the next flush")
            }
        }
        Ok(())
    }
}
