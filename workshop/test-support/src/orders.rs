//! Sample orders for tests and benchmarks: the JSON a POS would post, and the envelope ingest-api
//! would produce from it. A sample starts as a valid EUR in-store order; each setter changes one
//! thing, and the total always adds up.

use chrono::{DateTime, Utc};
use sales_model::{exponent_of, format_minor, parse_order_json, Envelope, Freshness};
use serde_json::{json, Value};

/// One line: sku, name, quantity, unit price in minor units.
type Line = (String, String, i64, i64);

#[derive(Debug, Clone)]
pub struct SampleOrder {
    body: Value,
    lines: Vec<Line>,
    discount: i64,
    tax: i64,
}

impl SampleOrder {
    /// An order of `store` at `created_at`; without lines of its own it has one Latte at 3.50.
    pub fn new(order_id: &str, store: &str, created_at: DateTime<Utc>) -> SampleOrder {
        SampleOrder {
            body: json!({
                "order_id": order_id,
                "store_id": store,
                "channel": "in_store",
                "currency": "EUR",
                "created_at": created_at.to_rfc3339(),
            }),
            lines: Vec::new(),
            discount: 0,
            tax: 0,
        }
    }

    /// Sets an optional or plain field (`customer_id`, `channel`, `terminal_id`, …).
    pub fn with(mut self, field: &str, value: &str) -> SampleOrder {
        self.body[field] = json!(value);
        self
    }

    /// Sets `customer_id` when given.
    pub fn customer(self, customer: Option<&str>) -> SampleOrder {
        match customer {
            Some(customer) => self.with("customer_id", customer),
            None => self,
        }
    }

    pub fn line(
        mut self,
        sku: &str,
        name: &str,
        quantity: i64,
        unit_price_minor: i64,
    ) -> SampleOrder {
        self.lines.push((
            sku.to_string(),
            name.to_string(),
            quantity,
            unit_price_minor,
        ));
        self
    }

    pub fn discount(mut self, minor: i64) -> SampleOrder {
        self.discount = minor;
        self
    }

    pub fn tax(mut self, minor: i64) -> SampleOrder {
        self.tax = minor;
        self
    }

    fn lines(&self) -> Vec<Line> {
        if self.lines.is_empty() {
            vec![("sku-1".into(), "Latte".into(), 1, 350)]
        } else {
            self.lines.clone()
        }
    }

    /// Items (the sum of quantities) and the total in minor units.
    pub fn figures(&self) -> (i64, i64) {
        let lines = self.lines();
        let items = lines.iter().map(|l| l.2).sum();
        let subtotal: i64 = lines.iter().map(|l| l.2 * l.3).sum();
        (items, subtotal - self.discount + self.tax)
    }

    /// The POS body, amounts written at the scale of the sample's currency (`with("currency",
    /// "JPY")` makes minor units whole yen).
    pub fn json(&self) -> Value {
        let mut body = self.body.clone();
        let exponent = body["currency"].as_str().and_then(exponent_of).unwrap_or(2);
        let format_minor = |minor: i64| format_minor(minor, exponent);
        body["items"] = self
            .lines()
            .iter()
            .map(|(sku, name, quantity, price)| {
                json!({"sku": sku, "name": name, "quantity": quantity, "unit_price": format_minor(*price)})
            })
            .collect();
        if self.discount != 0 {
            body["discount"] = json!(format_minor(self.discount));
        }
        if self.tax != 0 {
            body["tax"] = json!(format_minor(self.tax));
        }
        body["total"] = json!(format_minor(self.figures().1));
        body
    }

    /// The envelope ingest-api would produce; panics if the sample is not a valid order.
    pub fn envelope(&self) -> Envelope {
        self.envelope_at(Utc::now())
    }

    /// The envelope ingest-api would have produced at `now`, for orders older than the
    /// freshness limit allows today (a replay of an old topic).
    pub fn envelope_at(&self, now: DateTime<Utc>) -> Envelope {
        let order = parse_order_json(
            self.json().to_string().as_bytes(),
            now,
            Freshness::default(),
        )
        .unwrap_or_else(|e| panic!("invalid sample order {}: {e}", self.json()));
        Envelope::new(order, now)
    }
}

/// The envelope of a EUR refund of `amount` minor units of `order_id`, made at `store` at
/// `created_at`; with a `sku`, the refund names one unit of it.
pub fn refund(
    refund_id: &str,
    order_id: &str,
    store: &str,
    created_at: DateTime<Utc>,
    amount: i64,
    sku: Option<&str>,
) -> Envelope {
    let mut body = json!({
        "refund_id": refund_id,
        "order_id": order_id,
        "store_id": store,
        "currency": "EUR",
        "created_at": created_at.to_rfc3339(),
        "amount": sales_model::format_minor(amount, 2),
    });
    if let Some(sku) = sku {
        body["items"] =
            json!([{"sku": sku, "quantity": 1, "amount": sales_model::format_minor(amount, 2)}]);
    }
    let refund = sales_model::parse_refund_json(
        body.to_string().as_bytes(),
        created_at,
        Freshness::default(),
    )
    .unwrap_or_else(|e| panic!("invalid sample refund {body}: {e}"));
    Envelope::new(refund, created_at)
}

/// The envelope of the void of `order_id`, made at `store` at `created_at`.
pub fn void(order_id: &str, store: &str, created_at: DateTime<Utc>) -> Envelope {
    let body = json!({"store_id": store, "created_at": created_at.to_rfc3339(), "reason": "rung up twice"});
    let void = sales_model::parse_void_json(
        order_id,
        body.to_string().as_bytes(),
        created_at,
        Freshness::default(),
    )
    .unwrap_or_else(|e| panic!("invalid sample void {body}: {e}"));
    Envelope::new(void, created_at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_are_valid_and_add_up() {
        let sample = SampleOrder::new("o-1", "store-001", Utc::now())
            .customer(Some("c-1"))
            .with("channel", "delivery")
            .line("sku-1", "Latte", 2, 350)
            .line("sku-2", "Bagel", 1, 225)
            .discount(25)
            .tax(100);
        assert_eq!(sample.figures(), (3, 1000));
        let envelope = sample.envelope();
        assert_eq!(envelope.sale().unwrap().total().minor(), 1000);
        assert_eq!(envelope.sale().unwrap().channel().as_str(), "delivery");
        assert_eq!(
            SampleOrder::new("o-2", "store-001", Utc::now()).figures(),
            (1, 350)
        );
    }
}
