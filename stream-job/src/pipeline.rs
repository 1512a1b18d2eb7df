//! The consumer loop: read a batch, dead-letter what is not a valid event, write the rest to every
//! sink, and commit only what every sink holds.
//!
//! An id is a promise about content (DESIGN.md §3): the version Cassandra already holds wins,
//! else the batch's first message of the id (an order's, a refund's, a void's); a message with
//! other content is a conflicting duplicate and goes to the dead-letter topic, never to a store.
//! `resolve` decides this, without I/O.
//!
//! Ordering of effects per batch: (1) dead letters acknowledged, (2) every sink wrote the orders,
//! then the batch's offsets become pending; (3) after a batch that was not full (the job is
//! keeping pace), or at the flush interval while it is behind, every sink flushes, then
//! (4) pending offsets are committed. A crash anywhere before (4) re-delivers the batch, and the
//! idempotent writes absorb the repeat; nothing after a failed step is ever committed.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::{try_join_all, BoxFuture};
use rdkafka::message::OwnedMessage;
use rdkafka::Message;
use sales_model::{Envelope, EnvelopeError};
use service_runtime::retry::{until_ok, Stopped};
use tokio_util::sync::CancellationToken;

use crate::dead_letter::DeadLetters;
use crate::health::Health;
use crate::metrics::{Committed, Metrics, SinkLabel};
use crate::resolve::{self, Refusal};
use crate::sink::{Known, Sink, SinkError, Wanted};
use crate::source::{Offsets, OrderSource};

/// Per partition, the event and ingest time of the batch's last valid message (a batch holds each
/// partition's messages in offset order), and per store its newest event.
fn newest_times(decoded: &[(&OwnedMessage, Result<Envelope, EnvelopeError>)]) -> Committed {
    let mut times = Committed::default();
    for (message, decoded) in decoded {
        let Ok(envelope) = decoded else { continue };
        let created_at = envelope.event.created_at();
        times
            .partitions
            .insert(message.partition(), (created_at, envelope.ingested_at));
        let store = times
            .stores
            .entry(envelope.event.store_id().to_string())
            .or_insert(created_at);
        *store = (*store).max(created_at);
    }
    times
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
        let mut progress = Committed::default();
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
                self.metrics.reading(batch.iter().map(|m| m.partition()));
                match self.handle(&batch, &give_up).await {
                    Ok(times) => progress.merge(times),
                    Err(_) => break,
                }
                pending.record(&batch);
            }
            // Caught up (a short batch), the job flushes after every batch, so a quiet or
            // steady stream is visible within a linger and a flush; behind (full batches), it
            // flushes once per interval, so catching up spends its time writing.
            let due = self.source.caught_up(&batch) || last_flush.elapsed() >= self.flush_interval;
            if !pending.is_empty() && due {
                if self
                    .flush_and_commit(&mut pending, &mut progress, &give_up)
                    .await
                    .is_err()
                {
                    break;
                }
                last_flush = Instant::now();
            }
        }
        if !pending.is_empty() {
            match self
                .flush_and_commit(&mut pending, &mut progress, &give_up)
                .await
            {
                Ok(()) => tracing::info!("final flush and commit done"),
                Err(error) => {
                    tracing::warn!(%error, "stopped without the final commit; the last batches will be re-read")
                }
            }
        }
        timer.abort();
        tracing::info!("pipeline stopped");
    }

    /// Dead-letters the poison messages and conflicting duplicates, and writes the rest to every
    /// sink, retrying each failing step until it succeeds. Returns the times of the batch's
    /// newest events, which become the job's progress once the batch is committed.
    async fn handle(
        &self,
        batch: &[OwnedMessage],
        stop: &CancellationToken,
    ) -> Result<Committed, Stopped> {
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
            until_ok(
                "reading a newer schema",
                self.max_backoff,
                stop,
                |problem: &String| self.health.report("schema", Some(problem.clone())),
                || async { Err::<(), _>(problem.clone()) },
            )
            .await?;
            return Ok(Committed::default());
        }
        let times = newest_times(&decoded);
        // Each distinct content of an id once; which one is the event is decided against the
        // stored first version, which the record store is asked for.
        let (candidates, mut refused) = resolve::versions(decoded);
        let known = self
            .known(&resolve::wanted(&candidates), stop)
            .await?
            .unwrap_or_default();
        let resolution = resolve::resolve(candidates, &known);
        refused.extend(resolution.refused);
        self.metrics
            .refunds_of_unknown_sales
            .inc_by(resolution.refunds_of_unknown_sales);
        self.metrics
            .voids_of_unknown_sales
            .inc_by(resolution.voids_of_unknown_sales);
        self.metrics.over_refunds.inc_by(resolution.over_refunds);
        let events = resolution.batch;
        for (message, refusal) in &refused {
            if matches!(refusal, Refusal::Conflict { .. }) {
                self.metrics.conflicting_duplicates.inc();
            }
            let (code, text) = (refusal.code(), refusal.text());
            until_ok(
                "dead letter",
                self.max_backoff,
                stop,
                |failure| {
                    self.health
                        .report("dead letter", Some(format!("{failure}")))
                },
                || self.dead_letters.send(message, code, &text),
            )
            .await?;
            self.health.report("dead letter", None);
        }
        if !events.is_empty() {
            self.on_every_sink(Step::Write, stop, |sink| sink.write(&events))
                .await?;
        }
        Ok(times)
    }

    /// What the first sink that keeps a record of every event (Cassandra) holds of the batch's
    /// ids, retried until it answers; `None` when no sink keeps one.
    async fn known(
        &self,
        wanted: &Wanted,
        stop: &CancellationToken,
    ) -> Result<Option<Known>, Stopped> {
        if wanted.orders.is_empty() && wanted.refunds.is_empty() {
            return Ok(None);
        }
        let started = Instant::now();
        for sink in &self.sinks {
            let what = format!("{} conflict check", sink.name());
            let known = until_ok(
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
                || sink.known(wanted),
            )
            .await?;
            self.health.report(&what, None);
            if known.is_some() {
                self.metrics
                    .conflict_check_latency
                    .observe(started.elapsed().as_secs_f64());
                return Ok(known);
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
        progress: &mut Committed,
        stop: &CancellationToken,
    ) -> Result<(), Stopped> {
        self.on_every_sink(Step::Flush, stop, |sink| sink.flush())
            .await?;
        match self.source.commit(pending) {
            Ok(()) => {
                self.metrics.commits.inc();
                self.metrics.committed(&std::mem::take(progress));
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
