//! The batch operator: from a batch's decoded messages and what the record store already holds,
//! to what the sinks write and what is refused. Pure: it reads nothing and writes nothing, so each
//! rule of DESIGN.md §3 is a unit test below.
//!
//! Two steps, with the pipeline's look-up between them:
//! 1. [`versions`] keeps each distinct content of an id once, in partition order (a repeat of the
//!    same content is a retry), and refuses what is not a valid event; [`wanted`] names the
//!    stored records the batch needs.
//! 2. [`resolve`] picks the first version of each id (the stored one, else the first in the
//!    batch), refuses every other content as a conflicting duplicate, and attributes refunds and
//!    voids to their sales.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use sales_model::{Channel, Envelope, EnvelopeError, Event, EventKind, EventRecord, OrderRecord};
use uuid::Uuid;

use crate::sink::{Batch, Known, Received, RefundEntry, SaleEntry, VoidEntry, Wanted};

/// Why a message goes to the dead-letter topic instead of the stores.
#[derive(Debug)]
pub enum Refusal {
    /// Not a valid event envelope, or an event that fails validation.
    Invalid(EnvelopeError),
    /// Its id is taken by a first version with other content.
    Conflict {
        first: Box<EventRecord>,
        later: Box<EventRecord>,
    },
}

impl Refusal {
    /// The dead letter's reason code.
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::Invalid(error) => error.code(),
            Refusal::Conflict { .. } => CONFLICT,
        }
    }

    /// The dead letter's text: what is wrong, or which fields differ from the first version.
    pub fn text(&self) -> String {
        match self {
            Refusal::Invalid(error) => error.to_string(),
            Refusal::Conflict { first, later } => {
                let (taken, by) = match first.as_ref() {
                    EventRecord::Sale(r) => (format!("order_id {}", r.order_id), "an order"),
                    EventRecord::Refund(r) => (format!("refund_id {}", r.refund_id), "a refund"),
                    EventRecord::Void(r) => {
                        (format!("the void of order_id {}", r.order_id), "a void")
                    }
                };
                format!(
                    "{taken} is already taken by {by} with other content ({} differ); the first version stays",
                    first.differing_fields(later.as_ref()).join(", ")
                )
            }
        }
    }
}

/// The dead-letter code of a message that reuses an id with other content.
pub const CONFLICT: &str = "conflicting_duplicate";

/// One distinct version of an id in the batch: the first message with that content, decoded.
/// `M` is how the caller finds the message again (a reference to it, in the pipeline).
#[derive(Debug)]
pub struct Candidate<M> {
    pub message: M,
    pub envelope: Envelope,
    pub record: EventRecord,
}

/// The batch's distinct versions in partition order, and its messages that are no event at all.
/// A message with the content of an earlier one of its id is a retry and is dropped here; which
/// version of an id wins is decided by [`resolve`], once the stored version is known.
pub fn versions<M>(
    decoded: impl IntoIterator<Item = (M, Result<Envelope, EnvelopeError>)>,
) -> (Vec<Candidate<M>>, Vec<(M, Refusal)>) {
    let mut candidates: Vec<Candidate<M>> = Vec::new();
    let mut by_id: HashMap<(EventKind, String), Vec<usize>> = HashMap::new();
    let mut refused = Vec::new();
    for (message, decoded) in decoded {
        match decoded {
            Ok(envelope) => {
                let record = EventRecord::from(&envelope.event);
                let seen = by_id
                    .entry((envelope.event.kind(), envelope.event.id().to_string()))
                    .or_default();
                if seen.iter().all(|&n| candidates[n].record != record) {
                    seen.push(candidates.len());
                    candidates.push(Candidate {
                        message,
                        envelope,
                        record,
                    });
                }
            }
            Err(error) => refused.push((message, Refusal::Invalid(error))),
        }
    }
    (candidates, refused)
}

/// The stored records a batch needs: its sales and the sales its refunds and voids belong to,
/// its refunds, and the refunds so far of the sales it refunds.
pub fn wanted<M>(candidates: &[Candidate<M>]) -> Wanted {
    let mut orders = HashSet::new();
    let mut refunds = HashSet::new();
    let mut refunded = HashSet::new();
    let mut wanted = Wanted::default();
    for candidate in candidates {
        let event = &candidate.envelope.event;
        let order_id = event.order_id().to_string();
        if event.kind() == EventKind::Refund {
            if refunds.insert(event.id().to_string()) {
                wanted.refunds.push(event.id().to_string());
            }
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

/// What a batch comes to: the events to write, the refused messages, and how many refunds and
/// voids named a sale that is not known, and how many refunds took a sale past its total.
#[derive(Debug)]
pub struct Resolution<M> {
    pub batch: Batch,
    pub refused: Vec<(M, Refusal)>,
    pub refunds_of_unknown_sales: u64,
    pub voids_of_unknown_sales: u64,
    pub over_refunds: u64,
}

/// Turns the batch's versions into what the sinks write, in partition order. The first version
/// of an id is the stored one, else the first in the batch; a version with other content is
/// refused as a conflicting duplicate, and one with the same content (a retry) is written again,
/// which the sinks absorb. A sale learns whether it is voided, a void which sale it cancels, a
/// refund its sale's channel. A sale counts as known to a refund or void when it is stored or
/// earlier in the batch, so a replay decides the same way, provided a refund or void is stored
/// no later than a sale after it (a refund already stored keeps the channel it was stored with).
pub fn resolve<M>(candidates: Vec<Candidate<M>>, known: &Known) -> Resolution<M> {
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
    let mut first_in_batch: HashMap<(EventKind, String), EventRecord> = HashMap::new();
    let mut sales_so_far: HashMap<String, OrderRecord> = HashMap::new();
    let mut refunded_so_far: HashMap<String, i64> = HashMap::new();
    let mut resolution = Resolution {
        batch: Batch::default(),
        refused: Vec::new(),
        refunds_of_unknown_sales: 0,
        voids_of_unknown_sales: 0,
        over_refunds: 0,
    };
    for candidate in candidates {
        let key = (
            candidate.envelope.event.kind(),
            candidate.envelope.event.id().to_string(),
        );
        let stored = stored_version(known, &candidate.record);
        match stored.as_ref().or_else(|| first_in_batch.get(&key)) {
            Some(first) if *first != candidate.record => {
                let refusal = Refusal::Conflict {
                    first: Box::new(first.clone()),
                    later: Box::new(candidate.record),
                };
                resolution.refused.push((candidate.message, refusal));
                continue;
            }
            Some(_) => {}
            None => {
                first_in_batch.insert(key, candidate.record.clone());
            }
        }
        let Envelope {
            ingest_id,
            ingested_at,
            event,
        } = candidate.envelope;
        match (event, candidate.record) {
            (Event::Sale(order), EventRecord::Sale(record)) => {
                let id = order.order_id().as_str();
                let voided = known.voids.contains_key(id) || voided_in_batch.contains(id);
                sales_so_far.insert(id.to_string(), record);
                resolution.batch.sales.push(SaleEntry {
                    sale: received(order, ingest_id, ingested_at),
                    voided,
                });
            }
            (Event::Refund(refund), _) => {
                let order_id = refund.order_id().as_str();
                let sale = known_sale(&sales_so_far, known, order_id);
                let channel = match known.refunds.get(refund.refund_id().as_str()) {
                    Some(stored) => stored.channel,
                    None => sale.and_then(|s| Channel::parse(&s.channel).ok()),
                };
                match sale {
                    None => resolution.refunds_of_unknown_sales += 1,
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
                            resolution.over_refunds += 1;
                        }
                    }
                }
                resolution.batch.refunds.push(RefundEntry {
                    refund: received(refund, ingest_id, ingested_at),
                    channel,
                });
            }
            (Event::Void(void), _) => {
                let order_id = void.order_id().as_str();
                let sale = known_sale(&sales_so_far, known, order_id).cloned();
                if sale.is_none() {
                    resolution.voids_of_unknown_sales += 1;
                }
                resolution.batch.voids.push(VoidEntry {
                    void: received(void, ingest_id, ingested_at),
                    sale,
                });
            }
            // A record is made from its own event, so the kinds always agree.
            (_, _) => {}
        }
    }
    resolution
}

/// The sale `order_id` as a refund or void sees it: earlier in the batch, else stored.
fn known_sale<'a>(
    earlier: &'a HashMap<String, OrderRecord>,
    known: &'a Known,
    order_id: &str,
) -> Option<&'a OrderRecord> {
    earlier.get(order_id).or_else(|| known.sales.get(order_id))
}

/// The stored first version of the id `record` belongs to, if the record store holds one.
fn stored_version(known: &Known, record: &EventRecord) -> Option<EventRecord> {
    match record {
        EventRecord::Sale(r) => known.sales.get(&r.order_id).cloned().map(EventRecord::Sale),
        EventRecord::Refund(r) => known
            .refunds
            .get(&r.refund_id)
            .map(|s| EventRecord::Refund(s.record.clone())),
        EventRecord::Void(r) => known.voids.get(&r.order_id).cloned().map(EventRecord::Void),
    }
}

fn received<T>(event: T, ingest_id: Uuid, ingested_at: DateTime<Utc>) -> Received<T> {
    Received {
        event,
        ingest_id,
        ingested_at,
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, TimeZone, Utc};
    use sales_model::{Channel, Envelope, EnvelopeError, EventRecord};
    use test_support::orders::{refund, void, SampleOrder};

    use super::*;
    use crate::sink::{Known, StoredRefund};

    fn at(minute: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 1, 10, minute, 0).unwrap()
    }

    fn sale(order_id: &str, channel: &str, latte: i64) -> Envelope {
        SampleOrder::new(order_id, "store-001", at(0))
            .with("channel", channel)
            .line("sku-1", "Latte", latte, 350)
            .envelope_at(at(1))
    }

    fn record(envelope: &Envelope) -> EventRecord {
        EventRecord::from(&envelope.event)
    }

    /// Known holding the sales, voids and refunds given (their records as the store has them).
    fn stored(envelopes: &[&Envelope], refund_channels: &[Option<Channel>]) -> Known {
        let mut known = Known::default();
        let mut channels = refund_channels.iter();
        for envelope in envelopes {
            match record(envelope) {
                EventRecord::Sale(r) => {
                    known.sales.insert(r.order_id.clone(), r);
                }
                EventRecord::Void(r) => {
                    known.voids.insert(r.order_id.clone(), r);
                }
                EventRecord::Refund(r) => {
                    known
                        .refunded
                        .entry(r.order_id.clone())
                        .or_default()
                        .push((r.refund_id.clone(), r.amount_minor));
                    let channel = *channels.next().expect("a channel per stored refund");
                    known
                        .refunds
                        .insert(r.refund_id.clone(), StoredRefund { record: r, channel });
                }
            }
        }
        known
    }

    /// Resolves a batch of envelopes (messages numbered by position) against `known`.
    fn run(batch: &[&Envelope], known: &Known) -> Resolution<usize> {
        let (candidates, refused) = versions(
            batch
                .iter()
                .enumerate()
                .map(|(n, e)| (n, Ok::<_, EnvelopeError>((*e).clone()))),
        );
        assert!(refused.is_empty());
        resolve(candidates, known)
    }

    fn refused(resolution: &Resolution<usize>) -> Vec<(usize, &'static str)> {
        resolution
            .refused
            .iter()
            .map(|(n, refusal)| (*n, refusal.code()))
            .collect()
    }

    fn sale_ids(resolution: &Resolution<usize>) -> Vec<(String, i64)> {
        resolution
            .batch
            .sales
            .iter()
            .map(|s| {
                let r = EventRecord::from(&sales_model::Event::Sale(s.sale.event.clone()));
                match r {
                    EventRecord::Sale(r) => (r.order_id, r.total_minor),
                    _ => unreachable!(),
                }
            })
            .collect()
    }

    #[test]
    fn a_message_that_is_no_event_is_refused_with_its_reason() {
        let a = sale("A", "in_store", 1);
        let (candidates, refused) =
            versions([(0, Envelope::from_json(b"not json")), (1, Ok(a.clone()))]);
        assert_eq!(candidates.len(), 1);
        assert_eq!(candidates[0].message, 1);
        assert_eq!(refused.len(), 1);
        assert_eq!(refused[0].0, 0);
        assert_eq!(refused[0].1.code(), "malformed");
    }

    #[test]
    fn a_retry_in_the_batch_is_written_once() {
        let a = sale("A", "in_store", 1);
        let resolution = run(&[&a, &a, &a], &Known::default());
        assert_eq!(sale_ids(&resolution), [("A".to_string(), 350)]);
        assert!(resolution.refused.is_empty());
    }

    #[test]
    fn other_content_under_an_id_of_the_batch_is_a_conflicting_duplicate() {
        let (a1, a2) = (sale("A", "in_store", 1), sale("A", "in_store", 2));
        let resolution = run(&[&a1, &a2, &a1], &Known::default());
        assert_eq!(sale_ids(&resolution), [("A".to_string(), 350)]);
        assert_eq!(refused(&resolution), [(1, CONFLICT)]);
        let text = resolution.refused[0].1.text();
        assert!(
            text.contains("order_id A is already taken by an order"),
            "{text}"
        );
        assert!(text.contains("items"), "{text}");
    }

    #[test]
    fn a_retry_of_the_stored_version_after_a_conflicting_one_is_accepted() {
        // Issue 24.5: A stored; then, in one batch, another body under A and A's first body again.
        let (a1, a2) = (sale("A", "in_store", 1), sale("A", "in_store", 2));
        let resolution = run(&[&a2, &a1], &stored(&[&a1], &[]));
        assert_eq!(refused(&resolution), [(0, CONFLICT)]);
        assert_eq!(sale_ids(&resolution), [("A".to_string(), 350)]);
    }

    #[test]
    fn without_a_stored_version_the_first_in_the_batch_wins() {
        let (a1, a2) = (sale("A", "in_store", 1), sale("A", "in_store", 2));
        let resolution = run(&[&a2, &a1], &Known::default());
        assert_eq!(refused(&resolution), [(1, CONFLICT)]);
        assert_eq!(sale_ids(&resolution), [("A".to_string(), 700)]);
    }

    #[test]
    fn the_stored_version_is_written_again_and_other_content_refused() {
        let (a1, a2) = (sale("A", "in_store", 1), sale("A", "in_store", 2));
        let known = stored(&[&a1], &[]);
        assert!(run(&[&a1], &known).refused.is_empty());
        assert_eq!(refused(&run(&[&a2], &known)), [(0, CONFLICT)]);
        assert!(run(&[&a2], &known).batch.is_empty());
    }

    #[test]
    fn a_refund_takes_the_channel_of_a_sale_stored_or_earlier_in_the_batch() {
        let a = sale("A", "delivery", 1);
        let r = refund("R", "A", "store-001", at(5), 100, None);
        let earlier = run(&[&a, &r], &Known::default());
        assert_eq!(earlier.batch.refunds[0].channel, Some(Channel::Delivery));
        let stored_sale = run(&[&r], &stored(&[&a], &[]));
        assert_eq!(
            stored_sale.batch.refunds[0].channel,
            Some(Channel::Delivery)
        );
        assert_eq!(earlier.refunds_of_unknown_sales, 0);
    }

    #[test]
    fn a_refund_before_its_sale_is_unattributed() {
        let a = sale("A", "delivery", 1);
        let r = refund("R", "A", "store-001", at(5), 100, None);
        let resolution = run(&[&r, &a], &Known::default());
        assert_eq!(resolution.batch.refunds[0].channel, None);
        assert_eq!(resolution.refunds_of_unknown_sales, 1);
        assert_eq!(resolution.batch.sales.len(), 1);
    }

    #[test]
    fn a_stored_refund_keeps_the_attribution_it_was_stored_with() {
        // Stored unattributed; its sale is known now, and the replay must not move it.
        let a = sale("A", "delivery", 1);
        let r = refund("R", "A", "store-001", at(5), 100, None);
        let resolution = run(&[&r, &a], &stored(&[&a, &r], &[None]));
        assert_eq!(resolution.batch.refunds[0].channel, None);
        let resolution = run(&[&r], &stored(&[&a, &r], &[Some(Channel::Online)]));
        assert_eq!(resolution.batch.refunds[0].channel, Some(Channel::Online));
    }

    #[test]
    fn refunds_past_the_sale_total_are_counted_once_each() {
        let a = sale("A", "in_store", 2); // 7.00
        let r1 = refund("R1", "A", "store-001", at(5), 400, None);
        let r2 = refund("R2", "A", "store-001", at(6), 200, None);
        let r3 = refund("R3", "A", "store-001", at(7), 200, None);
        // R1 stored; R1 again (a replay) must not count twice: 4.00 + 2.00 fits, + 2.00 does not.
        let resolution = run(&[&r1, &r2, &r3], &stored(&[&a, &r1], &[None]));
        assert_eq!(resolution.over_refunds, 1);
        assert_eq!(resolution.batch.refunds.len(), 3);
    }

    #[test]
    fn a_void_marks_its_sale_and_learns_it_when_the_sale_came_first() {
        let a = sale("A", "in_store", 1);
        let v = void("A", "store-001", at(5));
        let after = run(&[&a, &v], &Known::default());
        assert!(after.batch.sales[0].voided);
        assert_eq!(
            after.batch.voids[0].sale.as_ref().map(|s| s.total_minor),
            Some(350)
        );
        let before = run(&[&v, &a], &Known::default());
        assert!(before.batch.sales[0].voided);
        assert!(before.batch.voids[0].sale.is_none());
        assert_eq!(before.voids_of_unknown_sales, 1);
        let void_stored = run(&[&a], &stored(&[&v], &[]));
        assert!(void_stored.batch.sales[0].voided);
        let unvoided = run(&[&a], &Known::default());
        assert!(!unvoided.batch.sales[0].voided);
    }

    #[test]
    fn wanted_names_each_id_once() {
        let a = sale("A", "in_store", 1);
        let r = refund("R", "A", "store-001", at(5), 100, None);
        let r_other = refund("R", "A", "store-001", at(5), 200, None);
        let v = void("B", "store-001", at(5));
        let (candidates, _) = versions(
            [&a, &r, &r_other, &v]
                .into_iter()
                .enumerate()
                .map(|(n, e)| (n, Ok::<_, EnvelopeError>(e.clone()))),
        );
        let wanted = wanted(&candidates);
        assert_eq!(wanted.orders, ["A", "B"]);
        assert_eq!(wanted.refunds, ["R"]);
        assert_eq!(wanted.refunded_orders, ["A"]);
    }
}
