//! The consumer loop: read a batch, dead-letter what is not a valid event, write the rest to every
//! sink, and commit only what every sink holds.
//!
//! An id is a promise about content (DESIGN.md §3): within a batch the first message of an id
//! (an order's, a refund's, a void's) wins, and across batches the version Cassandra already
//! holds; a later message with other content is a conflicting duplicate and goes to the
//! dead-letter topic, never to a store.
//!
//! Ordering of effects per batch: (1) dead letters acknowledged, (2) every sink wrote the orders,
//! then the batch's offsets become pending; (3) at the flush interval every sink flushes, then
//! (4) pending offsets are committed. A crash anywhere before (4) re-delivers the batch, and the
//! idempotent writes absorb the repeat; nothing after a failed step is ever committed.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use futures::future::{try_join_all, BoxFuture};
use rdkafka::message::OwnedMessage;
use rdkafka::Message;
use sales_model::{Channel, Envelope, EnvelopeError, Event, EventKind, EventRecord, OrderRecord};
use service_runtime::retry::{until_ok, Stopped};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::dead_letter::DeadLetters;
use crate::health::Health;
use crate::metrics::{Metrics, SinkLabel};
use crate::sink::{
    Batch, Known, Received, RefundEntry, SaleEntry, Sink, SinkError, VoidEntry, Wanted,
};
use crate::source::{Offsets, OrderSource};

/// The dead-letter code of a message that reuses a stored order id with other content.
pub const CONFLICT: &str = "conflicting_duplicate";

/// The dead letter's text for a conflicting duplicate: which fields differ from the first version.
fn conflict(first: &EventRecord, later: &EventRecord) -> String {
    let (taken, by) = match first {
        EventRecord::Sale(r) => (format!("order_id {}", r.order_id), "an order"),
        EventRecord::Refund(r) => (format!("refund_id {}", r.refund_id), "a refund"),
        EventRecord::Void(r) => (format!("the void of order_id {}", r.order_id), "a void"),
    };
    format!(
        "{taken} is already taken by {by} with other content ({} differ); the first version stays",
        first.differing_fields(later).join(", ")
    )
}

/// A message of the batch that is the first of its id, decoded.
struct Candidate<'m> {
    message: &'m OwnedMessage,
    envelope: Envelope,
    record: EventRecord,
}

/// The stored records a batch needs: its sales and the sales its refunds and voids belong to,
/// its refunds, and the refunds so far of the sales it refunds.
fn wanted(candidates: &[Candidate<'_>]) -> Wanted {
    let mut orders = HashSet::new();
    let mut refunded = HashSet::new();
    let mut wanted = Wanted::default();
    for candidate in candidates {
        let event = &candidate.envelope.event;
        let order_id = event.order_id().to_string();
        if event.kind() == EventKind::Refund {
            wanted.refunds.push(event.id().to_string());
            if refunded.insert(order_id.clone()) {
                wanted.refunded_orders.push(order_id.clone());
            }
        }
        if orders.insert(order_id.clone()) {
            wanted.orders.push(order_id);
        }
    }
    wanted
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

    /// Dead-letters the poison messages and conflicting duplicates, and writes the rest to every
    /// sink, retrying each failing step until it succeeds.
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
        // The first version of each id in partition order is the event; a later message with the
        // same id is a retry when its content is the same, and a conflicting duplicate when not.
        let mut candidates: Vec<Candidate<'_>> = Vec::new();
        let mut kept: HashMap<(EventKind, String), usize> = HashMap::new();
        let mut refused: Vec<(&OwnedMessage, &'static str, String)> = Vec::new();
        for (message, decoded) in decoded {
            match decoded {
                Ok(envelope) => {
                    let record = EventRecord::from(&envelope.event);
                    let key = (envelope.event.kind(), envelope.event.id().to_string());
                    match kept.get(&key) {
                        None => {
                            kept.insert(key, candidates.len());
                            candidates.push(Candidate {
                                message,
                                envelope,
                                record,
                            });
                        }
                        Some(&first) if candidates[first].record == record => {}
                        Some(&first) => refused.push((
                            message,
                            CONFLICT,
                            conflict(&candidates[first].record, &record),
                        )),
                    }
                }
                Err(error) => refused.push((message, error.code(), error.to_string())),
            }
        }
        // What the stores hold already: ids stored by an earlier batch (or run) keep their first
        // version, and refunds and voids learn about their sales.
        let known = self
            .known(&wanted(&candidates), stop)
            .await?
            .unwrap_or_default();
        let events = self.resolve(candidates, &known, &mut refused);
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
        if events.is_empty() {
            return Ok(());
        }
        self.on_every_sink(Step::Write, stop, |sink| sink.write(&events))
            .await
    }

    /// Turns the batch's first versions into what the sinks write, in partition order: a message
    /// whose id is stored with other content is refused as a conflicting duplicate; a sale learns
    /// whether it is voided, a void which sale it cancels, a refund its sale's channel. A sale
    /// counts as known to a refund or void when it is stored or earlier in the batch, so a replay
    /// decides the same way (a refund already stored keeps the channel it was stored with).
    fn resolve<'m>(
        &self,
        candidates: Vec<Candidate<'m>>,
        known: &Known,
        refused: &mut Vec<(&'m OwnedMessage, &'static str, String)>,
    ) -> Batch {
        let voided_in_batch: HashSet<String> = candidates
            .iter()
            .filter(|c| c.envelope.event.kind() == EventKind::Void)
            .map(|c| c.envelope.event.order_id().to_string())
            .collect();
        let refunds_in_batch: HashSet<String> = candidates
            .iter()
            .filter(|c| c.envelope.event.kind() == EventKind::Refund)
            .map(|c| c.envelope.event.id().to_string())
            .collect();
        let mut sales_so_far: HashMap<String, OrderRecord> = HashMap::new();
        let mut refunded_so_far: HashMap<String, i64> = HashMap::new();
        let mut batch = Batch::default();
        for candidate in candidates {
            let stored = match &candidate.record {
                EventRecord::Sale(r) => {
                    known.sales.get(&r.order_id).cloned().map(EventRecord::Sale)
                }
                EventRecord::Refund(r) => known
                    .refunds
                    .get(&r.refund_id)
                    .map(|s| EventRecord::Refund(s.record.clone())),
                EventRecord::Void(r) => {
                    known.voids.get(&r.order_id).cloned().map(EventRecord::Void)
                }
            };
            if let Some(first) = stored.filter(|first| *first != candidate.record) {
                let text = conflict(&first, &candidate.record);
                refused.push((candidate.message, CONFLICT, text));
                continue;
            }
            let Envelope {
                ingest_id,
                ingested_at,
                event,
            } = candidate.envelope;
            fn received<T>(event: T, ingest_id: Uuid, ingested_at: DateTime<Utc>) -> Received<T> {
                Received {
                    event,
                    ingest_id,
                    ingested_at,
                }
            }
            match (event, candidate.record) {
                (Event::Sale(order), EventRecord::Sale(record)) => {
                    let id = order.order_id().as_str();
                    let voided = known.voids.contains_key(id) || voided_in_batch.contains(id);
                    sales_so_far.insert(id.to_string(), record);
                    batch.sales.push(SaleEntry {
                        sale: received(order, ingest_id, ingested_at),
                        voided,
                    });
                }
                (Event::Refund(refund), _) => {
                    let order_id = refund.order_id().as_str();
                    let sale = sales_so_far
                        .get(order_id)
                        .or_else(|| known.sales.get(order_id));
                    let channel = match known.refunds.get(refund.refund_id().as_str()) {
                        Some(stored) => stored.channel,
                        None => sale.and_then(|s| Channel::parse(&s.channel).ok()),
                    };
                    match sale {
                        None => {
                            self.metrics.refunds_of_unknown_sales.inc();
                        }
                        Some(sale) => {
                            let stored: i64 = known
                                .refunded
                                .get(order_id)
                                .into_iter()
                                .flatten()
                                .filter(|(id, _)| !refunds_in_batch.contains(id))
                                .map(|(_, amount)| amount)
                                .sum();
                            let so_far = refunded_so_far.entry(order_id.to_string()).or_default();
                            *so_far = so_far.saturating_add(refund.amount().minor());
                            if stored.saturating_add(*so_far) > sale.total_minor {
                                self.metrics.over_refunds.inc();
                            }
                        }
                    }
                    batch.refunds.push(RefundEntry {
                        refund: received(refund, ingest_id, ingested_at),
                        channel,
                    });
                }
                (Event::Void(void), _) => {
                    let order_id = void.order_id().as_str();
                    let sale = sales_so_far
                        .get(order_id)
                        .or_else(|| known.sales.get(order_id))
                        .cloned();
                    if sale.is_none() {
                        self.metrics.voids_of_unknown_sales.inc();
                    }
                    batch.voids.push(VoidEntry {
                        void: received(void, ingest_id, ingested_at),
                        sale,
                    });
                }
                // A record is made from its own event, so the kinds always agree.
                (_, _) => {}
            }
        }
        batch
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
