//! The order as the rest of the pipeline sees it: every field typed and already valid.

use chrono::{DateTime, Utc};
use serde::Serialize;
use validator::ValidationError;

use crate::errors::FieldError;
use crate::money::format_minor;
use crate::{Amount, Currency, CustomerId, OrderId, Sku, StoreId, TerminalId};

macro_rules! closed_set {
    ($(#[$doc:meta])* $name:ident, $what:literal, { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            pub fn parse(value: &str) -> Result<Self, ValidationError> {
                match value {
                    $($text => Ok($name::$variant),)+
                    other => Err(ValidationError::new("one_of").with_message(
                        format!(
                            "{other:?} is not a known {}; expected one of: {}",
                            $what,
                            [$($text),+].join(", ")
                        )
                        .into(),
                    )),
                }
            }
        }
    };
}

closed_set!(
    /// How the order was placed.
    Channel, "channel", {
        InStore => "in_store",
        Takeaway => "takeaway",
        Delivery => "delivery",
        Online => "online",
    }
);

closed_set!(
    /// How the order was paid.
    PaymentMethod, "payment method", {
        Cash => "cash",
        Card => "card",
        Mobile => "mobile",
        Other => "other",
    }
);

/// One line of an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OrderLine {
    pub(crate) sku: Sku,
    pub(crate) name: String,
    pub(crate) quantity: u32,
    pub(crate) unit_price: Amount,
}

impl OrderLine {
    pub fn sku(&self) -> &Sku {
        &self.sku
    }
    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn quantity(&self) -> u32 {
        self.quantity
    }
    pub fn unit_price(&self) -> Amount {
        self.unit_price
    }
    /// `quantity × unit_price`; cannot overflow, because the order was only built when it did not.
    pub fn amount(&self) -> Amount {
        Amount(
            self.unit_price
                .minor()
                .saturating_mul(i64::from(self.quantity)),
        )
    }
}

/// A valid order. Built only by [`crate::OrderRequest`] (from a POS) or [`crate::OrderRecord`]
/// (from Kafka), both through `Fields::build`, which checks every rule first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order {
    pub(crate) order_id: OrderId,
    pub(crate) store_id: StoreId,
    pub(crate) terminal_id: Option<TerminalId>,
    pub(crate) customer_id: Option<CustomerId>,
    pub(crate) channel: Channel,
    pub(crate) currency: Currency,
    pub(crate) created_at: DateTime<Utc>,
    pub(crate) lines: Vec<OrderLine>,
    pub(crate) discount: Amount,
    pub(crate) tax: Amount,
    pub(crate) total: Amount,
    pub(crate) payment_method: Option<PaymentMethod>,
}

/// What spans fields, checked whenever every amount could be read (so a 422 reports it together
/// with every other failing field): no line amount or sum overflows, and
/// `total == sum(quantity × unit_price) − discount + tax`. Lines are (quantity, unit price).
pub(crate) fn amount_errors(
    lines: &[(u32, Amount)],
    discount: Amount,
    tax: Amount,
    total: Amount,
    exponent: u32,
) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let mut subtotal = Some(Amount::ZERO);
    for (i, (quantity, unit_price)) in lines.iter().enumerate() {
        match unit_price.checked_mul(i64::from(*quantity)) {
            Some(amount) => subtotal = subtotal.and_then(|s| s.checked_add(amount)),
            None => {
                subtotal = None;
                errors.push(FieldError::new(
                    format!("items[{i}]"),
                    "overflow",
                    "quantity × unit_price is too large",
                ));
            }
        }
    }
    let expected = subtotal.and_then(|s| {
        s.minor()
            .checked_sub(discount.minor())?
            .checked_add(tax.minor())
    });
    match expected {
        None if errors.is_empty() => {
            errors.push(FieldError::new(
                "total",
                "overflow",
                "the order's amounts add up to more than can be stored",
            ));
        }
        None => {}
        Some(expected) if expected != total.minor() => {
            errors.push(FieldError::new(
                "total",
                "total_mismatch",
                format!(
                    "must equal sum(quantity × unit_price) − discount + tax = {}, got {}",
                    format_minor(expected, exponent),
                    format_minor(total.minor(), exponent)
                ),
            ));
        }
        Some(_) => {}
    }
    errors
}

impl Order {
    pub fn order_id(&self) -> &OrderId {
        &self.order_id
    }
    pub fn store_id(&self) -> &StoreId {
        &self.store_id
    }
    pub fn terminal_id(&self) -> Option<&TerminalId> {
        self.terminal_id.as_ref()
    }
    pub fn customer_id(&self) -> Option<&CustomerId> {
        self.customer_id.as_ref()
    }
    pub fn channel(&self) -> Channel {
        self.channel
    }
    pub fn currency(&self) -> &Currency {
        &self.currency
    }
    /// Event time, truncated to whole milliseconds (the precision every store keeps).
    pub fn created_at(&self) -> DateTime<Utc> {
        self.created_at
    }
    pub fn lines(&self) -> &[OrderLine] {
        &self.lines
    }
    pub fn discount(&self) -> Amount {
        self.discount
    }
    pub fn tax(&self) -> Amount {
        self.tax
    }
    pub fn total(&self) -> Amount {
        self.total
    }
    pub fn payment_method(&self) -> Option<PaymentMethod> {
        self.payment_method
    }
    /// Number of items: the sum of the lines' quantities.
    pub fn item_count(&self) -> u64 {
        self.lines.iter().map(|l| u64::from(l.quantity)).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closed_sets_round_trip_and_refuse_unknown_values() {
        for channel in Channel::ALL {
            assert_eq!(Channel::parse(channel.as_str()).unwrap(), *channel);
        }
        for method in PaymentMethod::ALL {
            assert_eq!(PaymentMethod::parse(method.as_str()).unwrap(), *method);
        }
        assert_eq!(Channel::parse("InStore").unwrap_err().code, "one_of");
        assert_eq!(PaymentMethod::parse("cheque").unwrap_err().code, "one_of");
    }
}
