//! Every rule of DESIGN.md §3b for refunds and voids, each boundary from both sides, through the
//! public parse functions and the Kafka envelope.

mod support;

use sales_model::{
    parse_refund_json, parse_void_json, Envelope, EnvelopeError, Event, Freshness, Void,
};
use serde_json::{json, Value};
use support::{
    failing, failures_of, now, one, rule_cases, seconds, set, with, without, Failures, DAY,
};

fn refund() -> Value {
    json!({
        "refund_id": "pos-17-r-000045", "order_id": "pos-17-000123", "store_id": "store-042",
        "currency": "EUR", "created_at": "2026-11-22T12:01:00Z",
        "items": [{"sku": "sku-1", "quantity": 1, "amount": "3.50"}],
        "amount": "3.50", "reason": "damaged"
    })
}

fn void() -> Value {
    json!({"store_id": "store-042", "created_at": "2026-11-22T11:58:00Z", "reason": "rung up twice"})
}

fn refund_failures(value: &Value) -> Failures {
    failures_of(parse_refund_json(
        value.to_string().as_bytes(),
        now(),
        Freshness::default(),
    ))
}

fn void_failures(order_id: &str, value: &Value) -> Failures {
    failures_of(parse_void_json(
        order_id,
        value.to_string().as_bytes(),
        now(),
        Freshness::default(),
    ))
}

#[test]
fn a_valid_refund_parses_into_minor_units() {
    let parsed =
        parse_refund_json(refund().to_string().as_bytes(), now(), Freshness::default()).unwrap();
    assert_eq!(parsed.refund_id().as_str(), "pos-17-r-000045");
    assert_eq!(parsed.order_id().as_str(), "pos-17-000123");
    assert_eq!(parsed.amount().minor(), 350);
    assert_eq!(parsed.lines().len(), 1);
    assert_eq!(parsed.lines()[0].amount().minor(), 350);
    assert_eq!(parsed.reason(), Some("damaged"));
    // Items and reason are optional.
    let bare = with(refund(), |v| {
        let object = v.as_object_mut().unwrap();
        object.remove("items");
        object.remove("reason");
    });
    let parsed =
        parse_refund_json(bare.to_string().as_bytes(), now(), Freshness::default()).unwrap();
    assert!(parsed.lines().is_empty());
    assert_eq!(parsed.reason(), None);
}

#[test]
fn every_refund_rule_at_both_sides_of_its_boundary() {
    let fields = vec![
        ("/refund_id", json!("r".repeat(64)), None),
        ("/refund_id", json!("r".repeat(65)), Some("length")),
        ("/refund_id", json!(""), Some("length")),
        ("/refund_id", json!("r 1"), Some("charset")),
        ("/order_id", json!("o/1"), Some("charset")),
        ("/store_id", json!("s".repeat(32)), None),
        ("/store_id", json!("s".repeat(33)), Some("length")),
        ("/currency", json!("EUX"), Some("currency")),
        ("/amount", json!("3,50"), Some("money_format")),
        // The items add up to 3.50.
        ("/amount", json!("3.49"), Some("amount_mismatch")),
        ("/items", json!([]), Some("length")),
        ("/items/0/quantity", json!(0), Some("range")),
        ("/items/0/quantity", json!(10000), None),
        ("/items/0/quantity", json!(10001), Some("range")),
        ("/items/0/sku", json!("a b"), Some("charset")),
        ("/reason", json!("é".repeat(200)), None),
        ("/reason", json!("é".repeat(201)), Some("length")),
        ("/reason", json!("a\nb"), Some("charset")),
        ("/created_at", seconds(5 * 60), None),
        ("/created_at", seconds(6 * 60), Some("too_far_in_future")),
        ("/created_at", seconds(-7 * DAY), None),
        ("/created_at", seconds(-8 * DAY), Some("too_old")),
        ("/created_at", json!("yesterday"), Some("timestamp")),
        ("/channel", json!("in_store"), Some("unknown_field")),
    ];
    let amounts = |amount: &str, item: &str| {
        with(refund(), |v| {
            v["amount"] = json!(amount);
            v["items"][0]["amount"] = json!(item);
        })
    };
    let lines = |count: usize, amount: &str| {
        with(refund(), |v| {
            let line = json!({"sku": "s", "quantity": 1, "amount": "0.01"});
            v["items"] = Value::Array(vec![line; count]);
            v["amount"] = json!(amount);
        })
    };
    let cases: Vec<(&str, Value, Failures)> = vec![
        ("amount 0.01", amounts("0.01", "0.01"), None),
        ("amount 0", amounts("0", "0"), one("amount", "range")),
        (
            "amount negative",
            without(set(refund(), "/amount", "-1.00"), "/items"),
            one("amount", "negative"),
        ),
        (
            "amount three digits in EUR",
            amounts("3.500", "3.500"),
            failing(&[
                ("amount", "money_precision"),
                ("items[0].amount", "money_precision"),
            ]),
        ),
        (
            "items sum to the amount",
            set(
                refund(),
                "/items",
                json!([{"sku": "a", "quantity": 1, "amount": "1.25"}, {"sku": "b", "quantity": 2, "amount": "2.25"}]),
            ),
            None,
        ),
        ("items 500", lines(500, "5.00"), None),
        ("items 501", lines(501, "5.01"), one("items", "length")),
        (
            "item amount 0",
            set(
                refund(),
                "/items",
                json!([{"sku": "a", "quantity": 1, "amount": "0"}, {"sku": "b", "quantity": 1, "amount": "3.50"}]),
            ),
            None,
        ),
        (
            "missing amount",
            without(refund(), "/amount"),
            one("amount", "required"),
        ),
        (
            "items not objects",
            set(refund(), "/items", json!([1])),
            one("items[0]", "type"),
        ),
    ];
    for (name, value, expected) in rule_cases(refund, fields, cases) {
        assert_eq!(refund_failures(&value), expected, "{name}");
    }
}

#[test]
fn a_refund_reports_every_failing_field_at_once() {
    let value = with(refund(), |v| {
        v["refund_id"] = json!("");
        v["currency"] = json!("eur");
        v["items"][0]["quantity"] = json!(0);
        v["amount"] = json!("9.99");
    });
    assert_eq!(
        refund_failures(&value),
        Some(vec![
            ("amount".into(), "amount_mismatch".into()),
            ("currency".into(), "currency".into()),
            ("items[0].quantity".into(), "range".into()),
            ("refund_id".into(), "length".into()),
        ])
    );
}

#[test]
fn refund_amounts_follow_their_currency() {
    let yen = |amount: &str| {
        with(refund(), |v| {
            v["currency"] = json!("JPY");
            v["amount"] = json!(amount);
            v.as_object_mut().unwrap().remove("items");
        })
    };
    assert_eq!(refund_failures(&yen("350")), None);
    assert_eq!(
        refund_failures(&yen("350.5")),
        one("amount", "money_precision")
    );
    let kwd = with(refund(), |v| {
        v["currency"] = json!("KWD");
        v["amount"] = json!("1.234");
        v["items"][0]["amount"] = json!("1.234");
    });
    let parsed =
        parse_refund_json(kwd.to_string().as_bytes(), now(), Freshness::default()).unwrap();
    assert_eq!(parsed.amount().minor(), 1234);
}

#[test]
fn every_void_rule_at_both_sides_of_its_boundary() {
    // The order id comes from the URL path.
    let order_ids = [
        ("pos-17-000123".to_string(), None),
        ("o".repeat(64), None),
        ("o".repeat(65), one("order_id", "length")),
        ("o 1".to_string(), one("order_id", "charset")),
    ];
    for (order_id, expected) in order_ids {
        assert_eq!(void_failures(&order_id, &void()), expected, "{order_id}");
    }
    let fields = vec![
        ("/store_id", json!("s".repeat(33)), Some("length")),
        ("/reason", json!("x".repeat(201)), Some("length")),
        ("/created_at", seconds(-8 * DAY), Some("too_old")),
        ("/order_id", json!("o-1"), Some("unknown_field")),
    ];
    let cases = vec![
        ("no reason", without(void(), "/reason"), None),
        (
            "store missing",
            without(void(), "/store_id"),
            one("store_id", "required"),
        ),
    ];
    for (name, value, expected) in rule_cases(void, fields, cases) {
        assert_eq!(void_failures("o-1", &value), expected, "{name}");
    }
    let parsed = parsed_void();
    assert_eq!(parsed.order_id().as_str(), "pos-17-000123");
    assert_eq!(parsed.reason(), Some("rung up twice"));
}

/// The example void, of sale `pos-17-000123`.
fn parsed_void() -> Void {
    let body = void().to_string();
    parse_void_json(
        "pos-17-000123",
        body.as_bytes(),
        now(),
        Freshness::default(),
    )
    .unwrap()
}

fn envelopes() -> (Envelope, Envelope) {
    let refund =
        parse_refund_json(refund().to_string().as_bytes(), now(), Freshness::default()).unwrap();
    let void = parsed_void();
    (Envelope::new(refund, now()), Envelope::new(void, now()))
}

#[test]
fn refunds_and_voids_travel_in_version_2_envelopes_that_name_their_kind() {
    let (refund, void) = envelopes();
    let value: Value = serde_json::from_slice(&refund.to_json()).unwrap();
    assert_eq!(value["schema_version"], 2);
    assert_eq!(value["kind"], "refund");
    assert_eq!(value["refund"]["amount_minor"], 350);
    assert_eq!(value["refund"]["items"][0]["amount_minor"], 350);
    assert!(value.get("order").is_none());
    let value: Value = serde_json::from_slice(&void.to_json()).unwrap();
    assert_eq!(value["kind"], "void");
    assert_eq!(value["void"]["order_id"], "pos-17-000123");
    for envelope in [refund, void] {
        let back = Envelope::from_json(&envelope.to_json()).unwrap();
        assert_eq!(back, envelope);
        // Keyed by the sale's id, so a sale, its refunds and its void share a partition.
        assert_eq!(back.event.order_id().as_str(), "pos-17-000123");
    }
}

#[test]
fn the_consumer_refuses_refunds_and_voids_that_break_a_rule_or_the_layout() {
    let (refund, void) = envelopes();
    let refund: Value = serde_json::from_slice(&refund.to_json()).unwrap();
    let void: Value = serde_json::from_slice(&void.to_json()).unwrap();
    let code = |value: Value| {
        Envelope::from_json(&serde_json::to_vec(&value).unwrap())
            .map(|e| e.event.kind())
            .map_err(|e| e.code())
    };
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "zero amount",
            with(refund.clone(), |v| {
                v["refund"]["amount_minor"] = json!(0);
                v["refund"]["items"][0]["amount_minor"] = json!(0);
            }),
            "invalid_refund",
        ),
        (
            "items disagree",
            with(refund.clone(), |v| v["refund"]["amount_minor"] = json!(351)),
            "invalid_refund",
        ),
        (
            "negative",
            with(refund.clone(), |v| {
                v["refund"]["amount_minor"] = json!(-1);
                v["refund"]["items"] = json!([]);
            }),
            "invalid_refund",
        ),
        (
            "time out of range",
            with(refund.clone(), |v| {
                v["refund"]["created_at"] = json!("1969-12-31T23:59:59Z")
            }),
            "invalid_refund",
        ),
        (
            "void id",
            with(void.clone(), |v| v["void"]["order_id"] = json!("a b")),
            "invalid_void",
        ),
        (
            "kind says void, carries a refund",
            with(refund.clone(), |v| v["kind"] = json!("void")),
            "malformed",
        ),
        (
            "two events",
            with(refund.clone(), |v| v["void"] = void["void"].clone()),
            "malformed",
        ),
        (
            "no kind",
            with(refund.clone(), |v| {
                drop(v.as_object_mut().unwrap().remove("kind"))
            }),
            "malformed",
        ),
        (
            "version 1 refund",
            with(refund.clone(), |v| {
                v["schema_version"] = json!(1);
                v.as_object_mut().unwrap().remove("kind");
            }),
            "malformed",
        ),
        (
            "unknown kind",
            with(refund.clone(), |v| v["kind"] = json!("exchange")),
            "malformed",
        ),
    ];
    for (name, value, expected) in cases {
        assert_eq!(code(value), Err(expected), "{name}");
    }
    assert!(matches!(
        Envelope::from_json(&serde_json::to_vec(&void).unwrap()),
        Ok(Envelope {
            event: Event::Void(_),
            ..
        })
    ));
    assert!(matches!(
        Envelope::from_json(br#"{"schema_version": 3, "kind": "exchange"}"#),
        Err(EnvelopeError::NewerSchema(3))
    ));
}
