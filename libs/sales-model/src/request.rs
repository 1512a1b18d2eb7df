//! The order as a POS sends it (DESIGN.md §3), and its one-way conversion into an [`Order`].

use chrono::{DateTime, SubsecRound, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use validator::Validate;

use crate::checks::{check_line_name, event_time, unstorable_time, Freshness};
use crate::currency::MAX_EXPONENT;
use crate::errors::{Collector, EventErrors, FieldError};
use crate::money::{DecimalInput, Exact};
use crate::order::amount_errors;
use crate::{
    Amount, Channel, Currency, CustomerId, MoneyError, Order, OrderId, OrderLine, PaymentMethod,
    Sku, StoreId, TerminalId,
};

/// The JSON body of `POST /v1/orders`, exactly as received. Unknown fields are refused.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = Order)]
pub struct OrderRequest {
    /// The idempotency key: re-posting the same id is a retry, counted once downstream.
    #[schema(value_type = crate::ids::OrderId, inline)]
    pub order_id: String,
    #[schema(value_type = crate::ids::StoreId, inline)]
    pub store_id: String,
    #[serde(default)]
    #[schema(value_type = Option<crate::ids::TerminalId>, inline)]
    pub terminal_id: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<crate::ids::CustomerId>, inline)]
    pub customer_id: Option<String>,
    /// One of `in_store`, `takeaway`, `delivery`, `online`.
    #[schema(example = "in_store")]
    pub channel: String,
    /// An ISO 4217 code.
    #[schema(pattern = "^[A-Z]{3}$", example = "EUR")]
    pub currency: String,
    /// Event time (RFC 3339); at most 5 minutes ahead of and 7 days behind the server clock
    /// (configurable).
    #[schema(format = DateTime, example = "2026-11-22T10:15:30Z")]
    pub created_at: String,
    #[validate(length(min = 1, max = 500), nested)]
    #[schema(min_items = 1, max_items = 500)]
    pub items: Vec<LineRequest>,
    #[serde(default)]
    pub discount: Option<DecimalInput>,
    #[serde(default)]
    pub tax: Option<DecimalInput>,
    /// Must equal sum(quantity * unit_price) - discount + tax.
    pub total: DecimalInput,
    /// One of `cash`, `card`, `mobile`, `other`.
    #[serde(default)]
    pub payment_method: Option<String>,
}

/// One line of [`OrderRequest`].
#[derive(Debug, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = Line)]
pub struct LineRequest {
    #[schema(value_type = crate::ids::Sku, inline)]
    pub sku: String,
    #[validate(custom(function = "check_line_name"))]
    #[schema(min_length = 1, max_length = 200, example = "Latte")]
    pub name: String,
    #[validate(range(min = 1, max = 10000))]
    #[schema(minimum = 1, maximum = 10000)]
    pub quantity: i64,
    pub unit_price: DecimalInput,
}

/// Why a JSON document is not a valid order.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    /// Not JSON at all (HTTP 400).
    #[error("malformed JSON: {0}")]
    Syntax(String),
    /// JSON, but not a valid order (HTTP 422).
    #[error("invalid order: {0}")]
    Invalid(EventErrors),
}

/// Parses and validates one order; `now` is the ingest clock the event time is checked against.
pub fn parse_order_json(
    body: &[u8],
    now: DateTime<Utc>,
    freshness: Freshness,
) -> Result<Order, ParseError> {
    read_json::<OrderRequest>(body)?
        .into_order(now, freshness)
        .map_err(ParseError::Invalid)
}

/// Reads one JSON object of the wire shape `T`: broken JSON is a syntax error, a wrong field or
/// type is a field error naming its path.
pub(crate) fn read_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ParseError> {
    check_shape(body)?;
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let value: T = serde_path_to_error::deserialize(&mut deserializer).map_err(shape_error)?;
    deserializer
        .end()
        .map_err(|e| ParseError::Syntax(e.to_string()))?;
    Ok(value)
}

/// Refuses broken JSON, and objects written as arrays: serde would otherwise read a struct from a
/// positional array, which the contract does not allow.
fn check_shape(body: &[u8]) -> Result<(), ParseError> {
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| ParseError::Syntax(e.to_string()))?;
    let not_object = |field: String| {
        ParseError::Invalid(EventErrors::from_list(vec![FieldError::new(
            field,
            "type",
            "must be a JSON object",
        )]))
    };
    if !value.is_object() {
        return Err(not_object("body".to_string()));
    }
    if let Some(items) = value.get("items").and_then(|i| i.as_array()) {
        if let Some(i) = items.iter().position(|item| !item.is_object()) {
            return Err(not_object(format!("items[{i}]")));
        }
    }
    Ok(())
}

/// Classifies a serde failure: broken JSON is a syntax error; a wrong field, type or missing field
/// is a field error with the path of the offending field.
fn shape_error(error: serde_path_to_error::Error<serde_json::Error>) -> ParseError {
    let path = error.path().to_string();
    let inner = error.into_inner();
    if !inner.is_data() {
        return ParseError::Syntax(inner.to_string());
    }
    let message = inner.to_string();
    let message = message
        .split(" at line ")
        .next()
        .unwrap_or(&message)
        .to_string();
    let named = message.split('`').nth(1);
    let at = |name: &str| match path.as_str() {
        "." | "" => name.to_string(),
        parent => format!("{parent}.{name}"),
    };
    let (field, code) = if message.starts_with("unknown field") {
        // The path already ends in the unknown field's name.
        (path, "unknown_field")
    } else if message.starts_with("missing field") {
        (at(named.unwrap_or("")), "required")
    } else {
        let field = if path == "." {
            "body".to_string()
        } else {
            path
        };
        (field, "type")
    };
    // An unknown key that is itself empty (`{"": 1}`) leaves no name to report: the object that
    // holds it is named instead.
    let field = match field.trim_end_matches('.') {
        "" => "body".to_string(),
        named => named.to_string(),
    };
    ParseError::Invalid(EventErrors::from_list(vec![FieldError::new(
        field, code, message,
    )]))
}

/// The fields both wire forms share once their money and time are read; see [`Fields::build`].
pub(crate) struct Fields {
    /// The ids as sent: [`Fields::build`] types each one and names it in any failure.
    pub order_id: String,
    pub store_id: String,
    pub terminal_id: Option<String>,
    pub customer_id: Option<String>,
    /// The names from closed sets, typed by [`Fields::build`] too.
    pub channel: String,
    pub payment_method: Option<String>,
    /// The ISO 4217 code as sent; when valid, it sets the minor unit every amount is judged in.
    pub currency: String,
    /// `None` when the event time could not be read (that failure is already recorded).
    pub created_at: Option<DateTime<Utc>>,
    /// Each line's sku, name, quantity and unit price, the price read but not yet judged.
    pub lines: Vec<(String, String, i64, Result<Exact, MoneyError>)>,
    /// Read exactly, but not yet judged against the currency's minor unit.
    pub discount: Result<Exact, MoneyError>,
    pub tax: Result<Exact, MoneyError>,
    pub total: Result<Exact, MoneyError>,
}

/// [`Fields`] from either wire form of an order: the text fields as `$wire` carries them, the
/// event time, lines and money as given (each form reads those its own way).
macro_rules! order_fields {
    ($wire:expr, Fields { $($field:ident $(: $value:expr)?),+ $(,)? }) => {
        Fields {
            order_id: $wire.order_id,
            store_id: $wire.store_id,
            terminal_id: $wire.terminal_id,
            customer_id: $wire.customer_id,
            channel: $wire.channel,
            payment_method: $wire.payment_method,
            currency: $wire.currency,
            $($field $(: $value)?),+
        }
    };
}
pub(crate) use order_fields;

impl Fields {
    /// Types every field, collecting each failure, then runs the cross-field checks.
    pub(crate) fn build(self, mut errors: Collector) -> Result<Order, EventErrors> {
        let order_id = errors.check("order_id", OrderId::parse(self.order_id));
        let store_id = errors.check("store_id", StoreId::parse(self.store_id));
        let terminal_id = self
            .terminal_id
            .map(|t| errors.check("terminal_id", TerminalId::parse(t)));
        let customer_id = self
            .customer_id
            .map(|c| errors.check("customer_id", CustomerId::parse(c)));
        let channel = errors.check("channel", Channel::parse(&self.channel));
        let currency = errors.check("currency", Currency::parse(&self.currency));
        // Amounts are judged in the currency's minor unit; with no valid currency, at the finest
        // any currency has, so that the total is still checked.
        let exponent = currency.map_or(MAX_EXPONENT, |c| c.exponent());
        let in_currency = |exact: Result<Exact, MoneyError>| {
            exact.and_then(|e| e.in_minor_units(exponent, currency.map(|c| c.as_str())))
        };
        let payment_method = self
            .payment_method
            .map(|p| errors.check("payment_method", PaymentMethod::parse(&p)));
        let mut amounts = Vec::with_capacity(self.lines.len());
        let lines: Vec<_> = self
            .lines
            .into_iter()
            .enumerate()
            .map(|(i, (sku, name, quantity, unit_price))| {
                let sku = errors.check(format!("items[{i}].sku"), Sku::parse(sku));
                let unit_price =
                    errors.money(format!("items[{i}].unit_price"), in_currency(unit_price));
                // Range and name are checked by the declared rules; a failure there is already
                // recorded, so this line is simply left incomplete.
                let quantity = u32::try_from(quantity).ok();
                amounts.push(quantity.zip(unit_price));
                Some(OrderLine {
                    sku: sku?,
                    name,
                    quantity: quantity?,
                    unit_price: unit_price?,
                })
            })
            .collect();
        let discount = errors.money("discount", in_currency(self.discount));
        let tax = errors.money("tax", in_currency(self.tax));
        let total = errors.money("total", in_currency(self.total));
        errors.extend(unstorable_time(self.created_at));
        let amounts: Option<Vec<(u32, Amount)>> = amounts.into_iter().collect();
        if let (Some(amounts), Some(discount), Some(tax), Some(total)) =
            (amounts, discount, tax, total)
        {
            errors.extend(amount_errors(&amounts, discount, tax, total, exponent));
        }
        errors.into_result()?;

        let incomplete = || {
            EventErrors::from_list(vec![FieldError::new(
                "body",
                "invalid",
                "the order could not be read",
            )])
        };
        let (
            Some(order_id),
            Some(store_id),
            Some(channel),
            Some(currency),
            Some(created_at),
            Some(discount),
            Some(tax),
            Some(total),
        ) = (
            order_id,
            store_id,
            channel,
            currency,
            self.created_at,
            discount,
            tax,
            total,
        )
        else {
            return Err(incomplete());
        };
        Ok(Order {
            order_id,
            store_id,
            terminal_id: terminal_id.flatten(),
            customer_id: customer_id.flatten(),
            channel,
            currency,
            created_at: created_at.trunc_subsecs(3),
            lines: lines
                .into_iter()
                .collect::<Option<Vec<_>>>()
                .ok_or_else(incomplete)?,
            discount,
            tax,
            total,
            payment_method: payment_method.flatten(),
        })
    }
}

impl OrderRequest {
    /// Checks every rule of DESIGN.md §3 and reports all failing fields at once.
    pub fn into_order(
        self,
        now: DateTime<Utc>,
        freshness: Freshness,
    ) -> Result<Order, EventErrors> {
        let mut errors = Collector::new(self.validate());
        let created_at = event_time(&mut errors, &self.created_at, now, freshness);
        let money = |d: Option<DecimalInput>| d.map_or(Exact::new(0, 0), |d| d.parse());
        // The ids, channel, currency and payment method come over from `self` as they are.
        order_fields!(
            self,
            Fields {
                created_at,
                lines: self
                    .items
                    .into_iter()
                    .map(|l| (l.sku, l.name, l.quantity, l.unit_price.parse()))
                    .collect(),
                discount: money(self.discount),
                tax: money(self.tax),
                total: self.total.parse(),
            }
        )
        .build(errors)
    }
}
