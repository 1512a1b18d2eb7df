//! The Kafka message value (DESIGN.md §4): a versioned envelope around one event — a sale, a
//! refund or a void.
//!
//! Version 2 (written now) names the kind of event it carries (`"kind": "order"` with an `order`,
//! `"refund"` with a `refund`, `"void"` with a `void`) and counts money in the minor unit of the
//! event's own currency (ISO 4217: whole yen, fils for KWD). Version 1 (written before) carried
//! sales only, in hundredths of every currency; it is still read as a sale, converted exactly (a
//! version-1 yen amount with a fraction of a yen cannot be, and is an invalid order).
//!
//! The consumer never trusts the topic: [`Envelope::from_json`] re-checks every rule the event
//! stands for (except event-time freshness, which is judged once, at ingest), so a message written
//! by a buggy or foreign producer becomes a dead letter, not a bad row.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;
use validator::Validate;

use crate::checks::{check_line_name, differing};
use crate::currency::exponent_of;
use crate::errors::{Collector, EventErrors};
use crate::money::Exact;
use crate::request::{order_fields, Fields};
use crate::{MoneyError, Order, OrderId, Refund, RefundRecord, StoreId, Void, VoidRecord};

/// The envelope layout this code writes; it reads this one and every earlier one.
pub const SCHEMA_VERSION: u32 = 2;

/// The first layout: sales only, money in hundredths whatever the currency.
const FIRST_VERSION: u32 = 1;

/// What an envelope carries (version 2 on).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// A sale: `"order"` on the wire, as envelopes have always said.
    #[serde(rename = "order")]
    Sale,
    Refund,
    Void,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Sale => "order",
            EventKind::Refund => "refund",
            EventKind::Void => "void",
        }
    }
}

/// What a till reports: a sale, money given back for one, or a sale cancelled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Sale(Order),
    Refund(Refund),
    Void(Void),
}

impl From<Order> for Event {
    fn from(order: Order) -> Self {
        Event::Sale(order)
    }
}

impl From<Refund> for Event {
    fn from(refund: Refund) -> Self {
        Event::Refund(refund)
    }
}

impl From<Void> for Event {
    fn from(void: Void) -> Self {
        Event::Void(void)
    }
}

impl Event {
    pub fn kind(&self) -> EventKind {
        match self {
            Event::Sale(_) => EventKind::Sale,
            Event::Refund(_) => EventKind::Refund,
            Event::Void(_) => EventKind::Void,
        }
    }

    /// The sale's order id: the Kafka key, so a sale, its refunds and its void share a partition
    /// and are read in the order they were accepted.
    pub fn order_id(&self) -> &OrderId {
        match self {
            Event::Sale(order) => order.order_id(),
            Event::Refund(refund) => refund.order_id(),
            Event::Void(void) => void.order_id(),
        }
    }

    /// The store the event happened at.
    pub fn store_id(&self) -> &StoreId {
        match self {
            Event::Sale(order) => order.store_id(),
            Event::Refund(refund) => refund.store_id(),
            Event::Void(void) => void.store_id(),
        }
    }

    /// When the till recorded the event.
    pub fn created_at(&self) -> DateTime<Utc> {
        match self {
            Event::Sale(order) => order.created_at(),
            Event::Refund(refund) => refund.created_at(),
            Event::Void(void) => void.created_at(),
        }
    }

    /// The id that makes a repeat a retry: `order_id` for a sale and for its void, `refund_id`
    /// for a refund.
    pub fn id(&self) -> &str {
        match self {
            Event::Refund(refund) => refund.refund_id().as_str(),
            other => other.order_id().as_str(),
        }
    }
}

/// An event's content as the wire carries it; two versions of one id are compared with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventRecord {
    Sale(OrderRecord),
    Refund(RefundRecord),
    Void(VoidRecord),
}

impl From<&Event> for EventRecord {
    fn from(event: &Event) -> Self {
        match event {
            Event::Sale(order) => EventRecord::Sale(order.into()),
            Event::Refund(refund) => EventRecord::Refund(refund.into()),
            Event::Void(void) => EventRecord::Void(void.into()),
        }
    }
}

impl EventRecord {
    /// The names of the fields that differ between two versions of one event (every field when
    /// they are not even the same kind).
    pub fn differing_fields(&self, other: &EventRecord) -> Vec<&'static str> {
        match (self, other) {
            (EventRecord::Sale(a), EventRecord::Sale(b)) => a.differing_fields(b),
            (EventRecord::Refund(a), EventRecord::Refund(b)) => a.differing_fields(b),
            (EventRecord::Void(a), EventRecord::Void(b)) => a.differing_fields(b),
            _ => vec!["kind"],
        }
    }
}

/// One event as it travels through Kafka.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// Unique per ingest attempt (a POS retry gets a new one); for tracing, never for identity.
    pub ingest_id: Uuid,
    pub ingested_at: DateTime<Utc>,
    pub event: Event,
}

/// The normalized order as JSON: money in minor units of its currency, enums and ids as strings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct OrderRecord {
    /// The POS's id for the sale: its idempotency key, and the Kafka key.
    pub order_id: String,
    /// The store the sale happened at.
    pub store_id: String,
    /// The till, when the POS names it.
    pub terminal_id: Option<String>,
    /// The customer, when the POS names one.
    pub customer_id: Option<String>,
    /// How the order was placed: `in_store`, `takeaway`, `delivery` or `online`.
    pub channel: String,
    /// The ISO 4217 code; its exponent is the minor unit of every amount in the record.
    pub currency: String,
    /// When the till recorded the sale (event time): it picks the order's windows and, in the
    /// business time zone, its business day.
    pub created_at: DateTime<Utc>,
    /// The lines, 1 to 500.
    #[validate(length(min = 1, max = 500), nested)]
    pub items: Vec<LineRecord>,
    /// In minor units of `currency`, like every amount here (hundredths of any currency in
    /// envelope version 1); 0 when the POS gave none.
    pub discount_minor: i64,
    /// 0 when the POS gave none.
    pub tax_minor: i64,
    /// `sum(quantity × unit_price) − discount + tax`.
    pub total_minor: i64,
    /// `cash`, `card`, `mobile` or `other`, when the POS says.
    pub payment_method: Option<String>,
}

/// One line of [`OrderRecord`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct LineRecord {
    pub sku: String,
    /// The product's name as the till printed it, 1 to 200 characters.
    #[validate(custom(function = "check_line_name"))]
    pub name: String,
    /// 1 to 10000.
    #[validate(range(min = 1, max = 10000))]
    pub quantity: i64,
    /// The price of one, in minor units of the order's currency.
    pub unit_price_minor: i64,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct EnvelopeWire {
    schema_version: u32,
    /// Absent in version 1, whose messages are all sales.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    kind: Option<EventKind>,
    ingest_id: Uuid,
    ingested_at: DateTime<Utc>,
    /// Exactly one of these three, the one `kind` names (`order` in version 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    order: Option<OrderRecord>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    refund: Option<RefundRecord>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    void: Option<VoidRecord>,
}

/// Only the version, read first so a future layout is named as such rather than as garbage.
#[derive(Deserialize)]
struct VersionProbe {
    schema_version: u32,
}

/// Why a Kafka message is not a usable order; [`EnvelopeError::code`] is the DLQ reason.
#[derive(Debug, thiserror::Error)]
pub enum EnvelopeError {
    #[error("message is not an event envelope: {0}")]
    Malformed(String),
    #[error("schema_version {0} is not supported (this build reads {FIRST_VERSION} to {SCHEMA_VERSION})")]
    UnsupportedSchema(u32),
    /// Written by a newer producer: not poison, but a message this build cannot read yet. The
    /// consumer must wait for an upgrade rather than divert it (a rolling upgrade would
    /// otherwise dead-letter valid orders).
    #[error("schema_version {0} is newer than this build reads ({SCHEMA_VERSION}); upgrade the consumer")]
    NewerSchema(u32),
    #[error("order fails validation: {0}")]
    InvalidOrder(EventErrors),
    #[error("refund fails validation: {0}")]
    InvalidRefund(EventErrors),
    #[error("void fails validation: {0}")]
    InvalidVoid(EventErrors),
}

impl EnvelopeError {
    pub fn code(&self) -> &'static str {
        match self {
            EnvelopeError::Malformed(_) => "malformed",
            EnvelopeError::UnsupportedSchema(_) => "unsupported_schema_version",
            EnvelopeError::NewerSchema(_) => "newer_schema_version",
            EnvelopeError::InvalidOrder(_) => "invalid_order",
            EnvelopeError::InvalidRefund(_) => "invalid_refund",
            EnvelopeError::InvalidVoid(_) => "invalid_void",
        }
    }
}

impl From<&Order> for OrderRecord {
    fn from(order: &Order) -> Self {
        OrderRecord {
            order_id: order.order_id().to_string(),
            store_id: order.store_id().to_string(),
            terminal_id: order.terminal_id().map(ToString::to_string),
            customer_id: order.customer_id().map(ToString::to_string),
            channel: order.channel().as_str().to_string(),
            currency: order.currency().to_string(),
            created_at: order.created_at(),
            items: order
                .lines()
                .iter()
                .map(|l| LineRecord {
                    sku: l.sku().to_string(),
                    name: l.name().to_string(),
                    quantity: i64::from(l.quantity()),
                    unit_price_minor: l.unit_price().minor(),
                })
                .collect(),
            discount_minor: order.discount().minor(),
            tax_minor: order.tax().minor(),
            total_minor: order.total().minor(),
            payment_method: order.payment_method().map(|p| p.as_str().to_string()),
        }
    }
}

impl OrderRecord {
    /// The names of the fields whose values differ between two versions of an order.
    pub fn differing_fields(&self, other: &OrderRecord) -> Vec<&'static str> {
        differing!(self, other; OrderRecord {
            order_id, store_id, terminal_id, customer_id, channel, currency, created_at, items,
            discount_minor, tax_minor, total_minor, payment_method,
        })
    }

    /// Re-checks every structural rule and builds the domain order from a record whose money is
    /// in the minor unit of its currency (envelope version 2 on).
    pub fn into_order(self) -> Result<Order, EventErrors> {
        // A record with an unknown currency fails on the currency; its amounts are read as whole.
        let exponent = exponent_of(&self.currency).unwrap_or(0);
        self.into_order_recorded(|minor| Exact::new(minor, exponent))
    }

    /// The same for a version-1 record, whose money is in hundredths of every currency.
    fn into_order_from_hundredths(self) -> Result<Order, EventErrors> {
        self.into_order_recorded(|minor| Exact::new(minor, 2).map(Exact::trimmed))
    }

    fn into_order_recorded(
        self,
        recorded: impl Fn(i64) -> Result<Exact, MoneyError>,
    ) -> Result<Order, EventErrors> {
        let errors = Collector::new(self.validate());
        // The ids, channel, currency and payment method come over from `self` as they are.
        order_fields!(
            self,
            Fields {
                created_at: Some(self.created_at),
                lines: self
                    .items
                    .into_iter()
                    .map(|l| (l.sku, l.name, l.quantity, recorded(l.unit_price_minor)))
                    .collect(),
                discount: recorded(self.discount_minor),
                tax: recorded(self.tax_minor),
                total: recorded(self.total_minor),
            }
        )
        .build(errors)
    }
}

impl Envelope {
    /// A new ingest attempt of `event`, accepted at `ingested_at`.
    pub fn new(event: impl Into<Event>, ingested_at: DateTime<Utc>) -> Self {
        Envelope {
            ingest_id: Uuid::new_v4(),
            ingested_at,
            event: event.into(),
        }
    }

    /// The sale it carries, if it carries one.
    pub fn sale(&self) -> Option<&Order> {
        match &self.event {
            Event::Sale(order) => Some(order),
            _ => None,
        }
    }

    pub fn to_json(&self) -> Vec<u8> {
        let mut wire = EnvelopeWire {
            schema_version: SCHEMA_VERSION,
            kind: Some(self.event.kind()),
            ingest_id: self.ingest_id,
            ingested_at: self.ingested_at,
            order: None,
            refund: None,
            void: None,
        };
        match &self.event {
            Event::Sale(order) => wire.order = Some(order.into()),
            Event::Refund(refund) => wire.refund = Some(refund.into()),
            Event::Void(void) => wire.void = Some(void.into()),
        }
        // Serializing plain strings, integers and timestamps into memory cannot fail.
        serde_json::to_vec(&wire).unwrap_or_default()
    }

    pub fn from_json(bytes: &[u8]) -> Result<Envelope, EnvelopeError> {
        let probe: VersionProbe =
            serde_json::from_slice(bytes).map_err(|e| EnvelopeError::Malformed(e.to_string()))?;
        if probe.schema_version > SCHEMA_VERSION {
            return Err(EnvelopeError::NewerSchema(probe.schema_version));
        }
        if probe.schema_version < FIRST_VERSION {
            return Err(EnvelopeError::UnsupportedSchema(probe.schema_version));
        }
        let wire: EnvelopeWire =
            serde_json::from_slice(bytes).map_err(|e| EnvelopeError::Malformed(e.to_string()))?;
        let event = match (
            wire.schema_version,
            wire.kind,
            wire.order,
            wire.refund,
            wire.void,
        ) {
            (FIRST_VERSION, None, Some(order), None, None) => order
                .into_order_from_hundredths()
                .map(Event::Sale)
                .map_err(EnvelopeError::InvalidOrder)?,
            (SCHEMA_VERSION, Some(EventKind::Sale), Some(order), None, None) => order
                .into_order()
                .map(Event::Sale)
                .map_err(EnvelopeError::InvalidOrder)?,
            (SCHEMA_VERSION, Some(EventKind::Refund), None, Some(refund), None) => refund
                .into_refund()
                .map(Event::Refund)
                .map_err(EnvelopeError::InvalidRefund)?,
            (SCHEMA_VERSION, Some(EventKind::Void), None, None, Some(void)) => void
                .into_void()
                .map(Event::Void)
                .map_err(EnvelopeError::InvalidVoid)?,
            (FIRST_VERSION, ..) => {
                return Err(EnvelopeError::Malformed(
                    "schema_version 1 carries an \"order\" and no \"kind\"".to_string(),
                ))
            }
            (version, kind, ..) => {
                let kind = kind.map_or("none", EventKind::as_str);
                return Err(EnvelopeError::Malformed(format!(
                    "schema_version {version} names its \"kind\" (order, refund or void) and carries exactly that field; got kind {kind}"
                )));
            }
        };
        Ok(Envelope {
            ingest_id: wire.ingest_id,
            ingested_at: wire.ingested_at,
            event,
        })
    }
}
