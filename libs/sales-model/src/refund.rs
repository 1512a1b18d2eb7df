//! The rest of a sale's life (DESIGN.md §3b): a refund gives money back for a sale, a void cancels
//! a sale that should never have counted.
//!
//! Both are built valid only, like [`Order`](crate::Order): from what a POS sent
//! ([`RefundRequest`], [`VoidRequest`]) or from a Kafka record ([`RefundRecord`], [`VoidRecord`]),
//! through one builder each that checks every rule and reports every failing field with the same
//! codes as orders.

use chrono::{DateTime, SubsecRound, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use validator::Validate;

use crate::checks::{check_reason, differing, event_time, unstorable_time};
use crate::currency::{exponent_of, MAX_EXPONENT};
use crate::errors::{Collector, EventErrors, FieldError};
use crate::money::{DecimalInput, Exact};
use crate::request::read_json;
use crate::{
    format_minor, Amount, Currency, Freshness, MoneyError, OrderId, ParseError, RefundId, Sku,
    StoreId,
};

/// What came back with a refund: a product, how many, and the money given back for them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundLine {
    sku: Sku,
    quantity: u32,
    amount: Amount,
}

impl RefundLine {
    pub fn sku(&self) -> &Sku {
        &self.sku
    }
    pub fn quantity(&self) -> u32 {
        self.quantity
    }
    pub fn amount(&self) -> Amount {
        self.amount
    }
}

/// Money given back for a sale. The amount is positive and, when the lines are given, their sum.
/// Whether the sale is known, or already refunded in full, is not the refund's concern: money
/// left the till either way (the stream job reports both cases).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refund {
    refund_id: RefundId,
    order_id: OrderId,
    store_id: StoreId,
    currency: Currency,
    created_at: DateTime<Utc>,
    lines: Vec<RefundLine>,
    amount: Amount,
    reason: Option<String>,
}

impl Refund {
    pub fn refund_id(&self) -> &RefundId {
        &self.refund_id
    }
    /// The sale it refunds.
    pub fn order_id(&self) -> &OrderId {
        &self.order_id
    }
    /// Where the money went back (may differ from the sale's store).
    pub fn store_id(&self) -> &StoreId {
        &self.store_id
    }
    pub fn currency(&self) -> &Currency {
        &self.currency
    }
    /// When the money went back, truncated to whole milliseconds.
    pub fn created_at(&self) -> DateTime<Utc> {
        self.created_at
    }
    pub fn lines(&self) -> &[RefundLine] {
        &self.lines
    }
    pub fn amount(&self) -> Amount {
        self.amount
    }
    pub fn reason(&self) -> Option<&str> {
        self.reason.as_deref()
    }
}

/// A sale cancelled outright: afterwards it is in no aggregate at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Void {
    order_id: OrderId,
    store_id: StoreId,
    created_at: DateTime<Utc>,
    reason: Option<String>,
}

impl Void {
    /// The sale it cancels.
    pub fn order_id(&self) -> &OrderId {
        &self.order_id
    }
    pub fn store_id(&self) -> &StoreId {
        &self.store_id
    }
    pub fn created_at(&self) -> DateTime<Utc> {
        self.created_at
    }
    pub fn reason(&self) -> Option<&str> {
        self.reason.as_deref()
    }
}

/// The JSON body of `POST /v1/refunds`, exactly as received. Unknown fields are refused.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = Refund)]
pub struct RefundRequest {
    /// The idempotency key: re-posting the same id is a retry, counted once downstream.
    #[schema(value_type = crate::ids::RefundId, inline)]
    pub refund_id: String,
    /// The sale it refunds.
    #[schema(value_type = crate::ids::OrderId, inline)]
    pub order_id: String,
    /// Where the money went back (may differ from the sale's store).
    #[schema(value_type = crate::ids::StoreId, inline)]
    pub store_id: String,
    /// The sale's currency (ISO 4217).
    #[schema(pattern = "^[A-Z]{3}$", example = "EUR")]
    pub currency: String,
    /// When the money went back (RFC 3339); the same freshness rules as orders.
    #[schema(format = DateTime, example = "2026-11-22T12:01:00Z")]
    pub created_at: String,
    /// What came back, when the till knows.
    #[serde(default)]
    #[validate(length(min = 1, max = 500), nested)]
    #[schema(min_items = 1, max_items = 500)]
    pub items: Option<Vec<RefundLineRequest>>,
    /// Greater than 0; equals the sum of `items[].amount` when items are given.
    pub amount: DecimalInput,
    #[serde(default)]
    #[validate(custom(function = "check_reason"))]
    #[schema(max_length = 200, example = "damaged")]
    pub reason: Option<String>,
}

/// One line of [`RefundRequest`].
#[derive(Debug, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = RefundLine)]
pub struct RefundLineRequest {
    #[schema(value_type = crate::ids::Sku, inline)]
    pub sku: String,
    #[validate(range(min = 1, max = 10000))]
    #[schema(minimum = 1, maximum = 10000)]
    pub quantity: i64,
    /// The money given back for these items.
    pub amount: DecimalInput,
}

/// The JSON body of `POST /v1/orders/{order_id}/void`. Unknown fields are refused.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = Void)]
pub struct VoidRequest {
    #[schema(value_type = crate::ids::StoreId, inline)]
    pub store_id: String,
    /// When the sale was voided (RFC 3339); the same freshness rules as orders.
    #[schema(format = DateTime, example = "2026-11-22T10:16:02Z")]
    pub created_at: String,
    #[serde(default)]
    #[validate(custom(function = "check_reason"))]
    #[schema(max_length = 200, example = "rung up twice")]
    pub reason: Option<String>,
}

/// The refund as it travels through Kafka: money in minor units of its currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct RefundRecord {
    pub refund_id: String,
    pub order_id: String,
    pub store_id: String,
    pub currency: String,
    pub created_at: DateTime<Utc>,
    #[validate(length(max = 500), nested)]
    pub items: Vec<RefundLineRecord>,
    pub amount_minor: i64,
    #[validate(custom(function = "check_reason"))]
    pub reason: Option<String>,
}

/// One line of [`RefundRecord`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct RefundLineRecord {
    pub sku: String,
    #[validate(range(min = 1, max = 10000))]
    pub quantity: i64,
    pub amount_minor: i64,
}

/// The void as it travels through Kafka.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct VoidRecord {
    pub order_id: String,
    pub store_id: String,
    pub created_at: DateTime<Utc>,
    #[validate(custom(function = "check_reason"))]
    pub reason: Option<String>,
}

/// Parses and validates one refund; `now` is the ingest clock its time is checked against.
pub fn parse_refund_json(
    body: &[u8],
    now: DateTime<Utc>,
    freshness: Freshness,
) -> Result<Refund, ParseError> {
    read_json::<RefundRequest>(body)?
        .into_refund(now, freshness)
        .map_err(ParseError::Invalid)
}

/// Parses and validates the void of `order_id` (from the URL path).
pub fn parse_void_json(
    order_id: &str,
    body: &[u8],
    now: DateTime<Utc>,
    freshness: Freshness,
) -> Result<Void, ParseError> {
    read_json::<VoidRequest>(body)?
        .into_void(order_id, now, freshness)
        .map_err(ParseError::Invalid)
}

impl RefundRequest {
    /// Checks every rule of DESIGN.md §3b and reports all failing fields at once.
    pub fn into_refund(
        self,
        now: DateTime<Utc>,
        freshness: Freshness,
    ) -> Result<Refund, EventErrors> {
        let mut errors = Collector::new(self.validate());
        let created_at = event_time(&mut errors, &self.created_at, now, freshness);
        RefundFields {
            refund_id: self.refund_id,
            order_id: self.order_id,
            store_id: self.store_id,
            currency: self.currency,
            created_at,
            lines: self.items.map(|items| {
                items
                    .into_iter()
                    .map(|l| (l.sku, l.quantity, l.amount.parse()))
                    .collect()
            }),
            amount: self.amount.parse(),
            reason: self.reason,
        }
        .build(errors)
    }
}

impl VoidRequest {
    pub fn into_void(
        self,
        order_id: &str,
        now: DateTime<Utc>,
        freshness: Freshness,
    ) -> Result<Void, EventErrors> {
        let mut errors = Collector::new(self.validate());
        let created_at = event_time(&mut errors, &self.created_at, now, freshness);
        build_void(
            errors,
            order_id.to_string(),
            self.store_id,
            created_at,
            self.reason,
        )
    }
}

impl RefundRecord {
    /// Re-checks every rule (but freshness) and builds the refund.
    pub fn into_refund(self) -> Result<Refund, EventErrors> {
        let exponent = exponent_of(&self.currency).unwrap_or(0);
        let recorded = |minor: i64| Exact::new(minor, exponent);
        let errors = Collector::new(self.validate());
        RefundFields {
            lines: (!self.items.is_empty()).then(|| {
                self.items
                    .into_iter()
                    .map(|l| (l.sku, l.quantity, recorded(l.amount_minor)))
                    .collect()
            }),
            amount: recorded(self.amount_minor),
            refund_id: self.refund_id,
            order_id: self.order_id,
            store_id: self.store_id,
            currency: self.currency,
            created_at: Some(self.created_at),
            reason: self.reason,
        }
        .build(errors)
    }

    /// The names of the fields whose values differ between two versions of a refund.
    pub fn differing_fields(&self, other: &RefundRecord) -> Vec<&'static str> {
        differing!(self, other; RefundRecord {
            refund_id, order_id, store_id, currency, created_at, items, amount_minor, reason,
        })
    }
}

impl VoidRecord {
    pub fn into_void(self) -> Result<Void, EventErrors> {
        let errors = Collector::new(self.validate());
        build_void(
            errors,
            self.order_id,
            self.store_id,
            Some(self.created_at),
            self.reason,
        )
    }

    /// The names of the fields whose values differ between two versions of a void.
    pub fn differing_fields(&self, other: &VoidRecord) -> Vec<&'static str> {
        differing!(self, other; VoidRecord { order_id, store_id, created_at, reason })
    }
}

impl From<&Refund> for RefundRecord {
    fn from(refund: &Refund) -> Self {
        RefundRecord {
            refund_id: refund.refund_id.to_string(),
            order_id: refund.order_id.to_string(),
            store_id: refund.store_id.to_string(),
            currency: refund.currency.to_string(),
            created_at: refund.created_at,
            items: refund
                .lines
                .iter()
                .map(|l| RefundLineRecord {
                    sku: l.sku.to_string(),
                    quantity: i64::from(l.quantity),
                    amount_minor: l.amount.minor(),
                })
                .collect(),
            amount_minor: refund.amount.minor(),
            reason: refund.reason.clone(),
        }
    }
}

impl From<&Void> for VoidRecord {
    fn from(void: &Void) -> Self {
        VoidRecord {
            order_id: void.order_id.to_string(),
            store_id: void.store_id.to_string(),
            created_at: void.created_at,
            reason: void.reason.clone(),
        }
    }
}

/// A refund line as read: sku, quantity, amount.
type LineRead = (String, i64, Result<Exact, MoneyError>);

/// The fields both wire forms of a refund share once their money and time are read.
struct RefundFields {
    refund_id: String,
    order_id: String,
    store_id: String,
    currency: String,
    created_at: Option<DateTime<Utc>>,
    /// `None` when the refund says nothing of what came back.
    lines: Option<Vec<LineRead>>,
    amount: Result<Exact, MoneyError>,
    reason: Option<String>,
}

impl RefundFields {
    fn build(self, mut errors: Collector) -> Result<Refund, EventErrors> {
        let refund_id = errors.check("refund_id", RefundId::parse(self.refund_id));
        let order_id = errors.check("order_id", OrderId::parse(self.order_id));
        let store_id = errors.check("store_id", StoreId::parse(self.store_id));
        let currency = errors.check("currency", Currency::parse(&self.currency));
        let exponent = currency.map_or(MAX_EXPONENT, |c| c.exponent());
        let in_currency = |exact: Result<Exact, MoneyError>| {
            exact.and_then(|e| e.in_minor_units(exponent, currency.map(|c| c.as_str())))
        };
        // An empty list is already refused by its length rule; its sum says nothing more.
        let given_lines = self.lines.as_ref().is_some_and(|l| !l.is_empty());
        let lines: Vec<Option<RefundLine>> = self
            .lines
            .unwrap_or_default()
            .into_iter()
            .enumerate()
            .map(|(i, (sku, quantity, amount))| {
                let sku = errors.check(format!("items[{i}].sku"), Sku::parse(sku));
                let amount = errors.money(format!("items[{i}].amount"), in_currency(amount));
                // The range is a declared rule, already recorded when it fails.
                let quantity = u32::try_from(quantity).ok();
                Some(RefundLine {
                    sku: sku?,
                    quantity: quantity?,
                    amount: amount?,
                })
            })
            .collect();
        let amount = errors.money("amount", in_currency(self.amount));
        if amount == Some(Amount::ZERO) {
            errors.extend(vec![FieldError::new(
                "amount",
                "range",
                "must be greater than 0",
            )]);
        }
        let lines: Option<Vec<RefundLine>> = lines.into_iter().collect();
        if let (true, Some(lines), Some(amount)) = (given_lines, &lines, amount) {
            let sum = lines
                .iter()
                .try_fold(Amount::ZERO, |sum, line| sum.checked_add(line.amount));
            match sum {
                None => errors.extend(vec![FieldError::new(
                    "amount",
                    "overflow",
                    "the items' amounts add up to more than can be stored",
                )]),
                Some(sum) if sum != amount => errors.extend(vec![FieldError::new(
                    "amount",
                    "amount_mismatch",
                    format!(
                        "must equal the sum of items[].amount = {}, got {}",
                        format_minor(sum.minor(), exponent),
                        format_minor(amount.minor(), exponent)
                    ),
                )]),
                Some(_) => {}
            }
        }
        errors.extend(unstorable_time(self.created_at));
        errors.into_result()?;
        let (
            Some(refund_id),
            Some(order_id),
            Some(store_id),
            Some(currency),
            Some(created_at),
            Some(lines),
            Some(amount),
        ) = (
            refund_id,
            order_id,
            store_id,
            currency,
            self.created_at,
            lines,
            amount,
        )
        else {
            return Err(unreadable("refund"));
        };
        Ok(Refund {
            refund_id,
            order_id,
            store_id,
            currency,
            created_at: created_at.trunc_subsecs(3),
            lines,
            amount,
            reason: self.reason,
        })
    }
}

fn build_void(
    mut errors: Collector,
    order_id: String,
    store_id: String,
    created_at: Option<DateTime<Utc>>,
    reason: Option<String>,
) -> Result<Void, EventErrors> {
    let order_id = errors.check("order_id", OrderId::parse(order_id));
    let store_id = errors.check("store_id", StoreId::parse(store_id));
    errors.extend(unstorable_time(created_at));
    errors.into_result()?;
    let (Some(order_id), Some(store_id), Some(created_at)) = (order_id, store_id, created_at)
    else {
        return Err(unreadable("void"));
    };
    Ok(Void {
        order_id,
        store_id,
        created_at: created_at.trunc_subsecs(3),
        reason,
    })
}

/// A value missing after every check passed: cannot happen, but is an error rather than a panic.
fn unreadable(what: &str) -> EventErrors {
    EventErrors::from_list(vec![FieldError::new(
        "body",
        "invalid",
        format!("the {what} could not be read"),
    )])
}
