//! Every rule of DESIGN.md §3b for refunds and voids, each boundary from both sides, through the
//! public parse functions and the Kafka envelope.

use chrono::{DateTime, Duration, Utc};
use sales_model::{
    parse_refund_json, parse_void_json, Envelope, EnvelopeError, Event, Freshness, ParseError,
};
use serde_json::{json, Value};

fn now() -> DateTime<Utc> {
    "2026-11-22T12:00:00Z".parse().unwrap()
}

fn refund() -> Value {
    json!({
        "refund_id": "pos-17-r-000045",
        "order_id": "pos-17-000123",
        "store_id": "store-042",
        "currency": "EUR",
        "created_at": "2026-11-22T12:01:00Z",
        "items": [{"sku": "sku-1", "quantity": 1, "amount": "3.50"}],
        "amount": "3.50",
        "reason": "damaged"
    })
}

fn void() -> Value {
    json!({"store_id": "store-042", "created_at": "2026-11-22T11:58:00Z", "reason": "rung up twice"})
}

fn with(base: Value, edit: impl FnOnce(&mut Value)) -> Value {
    let mut value = base;
    edit(&mut value);
    value
}

/// The `(field, code)` pairs of a rejection, or `None` when accepted.
type Failures = Option<Vec<(String, String)>>;

fn failures_of<T>(parsed: Result<T, ParseError>) -> Failures {
    match parsed {
        Ok(_) => None,
        Err(ParseError::Invalid(errors)) => Some(
            errors
                .errors
                .into_iter()
                .map(|e| (e.field, e.code))
                .collect(),
        ),
        Err(ParseError::Syntax(e)) => panic!("unexpected syntax error: {e}"),
    }
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

fn one(field: &str, code: &str) -> Failures {
    Some(vec![(field.to_string(), code.to_string())])
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
    let cases: Vec<(&str, Value, Failures)> = vec![
        (
            "refund_id 64 chars",
            with(refund(), |v| v["refund_id"] = json!("r".repeat(64))),
            None,
        ),
        (
            "refund_id 65 chars",
            with(refund(), |v| v["refund_id"] = json!("r".repeat(65))),
            one("refund_id", "length"),
        ),
        (
            "refund_id empty",
            with(refund(), |v| v["refund_id"] = json!("")),
            one("refund_id", "length"),
        ),
        (
            "refund_id alphabet",
            with(refund(), |v| v["refund_id"] = json!("r 1")),
            one("refund_id", "charset"),
        ),
        (
            "order_id alphabet",
            with(refund(), |v| v["order_id"] = json!("o/1")),
            one("order_id", "charset"),
        ),
        (
            "store_id 32 chars",
            with(refund(), |v| v["store_id"] = json!("s".repeat(32))),
            None,
        ),
        (
            "store_id 33 chars",
            with(refund(), |v| v["store_id"] = json!("s".repeat(33))),
            one("store_id", "length"),
        ),
        (
            "unknown currency",
            with(refund(), |v| v["currency"] = json!("EUX")),
            one("currency", "currency"),
        ),
        (
            "amount 0.01",
            with(refund(), |v| {
                v["amount"] = json!("0.01");
                v["items"][0]["amount"] = json!("0.01");
            }),
            None,
        ),
        (
            "amount 0",
            with(refund(), |v| {
                v["amount"] = json!("0");
                v["items"][0]["amount"] = json!("0");
            }),
            one("amount", "range"),
        ),
        (
            "amount negative",
            with(refund(), |v| {
                v["amount"] = json!("-1.00");
                v.as_object_mut().unwrap().remove("items");
            }),
            one("amount", "negative"),
        ),
        (
            "amount three digits in EUR",
            with(refund(), |v| {
                v["amount"] = json!("3.500");
                v["items"][0]["amount"] = json!("3.500");
            }),
            Some(vec![
                ("amount".into(), "money_precision".into()),
                ("items[0].amount".into(), "money_precision".into()),
            ]),
        ),
        (
            "amount not a number",
            with(refund(), |v| v["amount"] = json!("3,50")),
            one("amount", "money_format"),
        ),
        (
            "amount differs from the items",
            with(refund(), |v| v["amount"] = json!("3.49")),
            one("amount", "amount_mismatch"),
        ),
        (
            "items sum to the amount",
            with(refund(), |v| {
                v["items"] = json!([{"sku": "a", "quantity": 1, "amount": "1.25"}, {"sku": "b", "quantity": 2, "amount": "2.25"}]);
            }),
            None,
        ),
        (
            "items empty",
            with(refund(), |v| v["items"] = json!([])),
            one("items", "length"),
        ),
        (
            "items 500",
            with(refund(), |v| {
                v["items"] = Value::Array(vec![
                    json!({"sku": "s", "quantity": 1, "amount": "0.01"});
                    500
                ]);
                v["amount"] = json!("5.00");
            }),
            None,
        ),
        (
            "items 501",
            with(refund(), |v| {
                v["items"] = Value::Array(vec![
                    json!({"sku": "s", "quantity": 1, "amount": "0.01"});
                    501
                ]);
                v["amount"] = json!("5.01");
            }),
            one("items", "length"),
        ),
        (
            "quantity 0",
            with(refund(), |v| v["items"][0]["quantity"] = json!(0)),
            one("items[0].quantity", "range"),
        ),
        (
            "quantity 10000",
            with(refund(), |v| v["items"][0]["quantity"] = json!(10000)),
            None,
        ),
        (
            "quantity 10001",
            with(refund(), |v| v["items"][0]["quantity"] = json!(10001)),
            one("items[0].quantity", "range"),
        ),
        (
            "item sku alphabet",
            with(refund(), |v| v["items"][0]["sku"] = json!("a b")),
            one("items[0].sku", "charset"),
        ),
        (
            "item amount 0",
            with(refund(), |v| {
                v["items"] = json!([{"sku": "a", "quantity": 1, "amount": "0"}, {"sku": "b", "quantity": 1, "amount": "3.50"}]);
            }),
            None,
        ),
        (
            "reason 200 chars",
            with(refund(), |v| v["reason"] = json!("é".repeat(200))),
            None,
        ),
        (
            "reason 201 chars",
            with(refund(), |v| v["reason"] = json!("é".repeat(201))),
            one("reason", "length"),
        ),
        (
            "reason control character",
            with(refund(), |v| v["reason"] = json!("a\nb")),
            one("reason", "charset"),
        ),
        (
            "created_at 5 min ahead",
            with(refund(), |v| {
                v["created_at"] = json!((now() + Duration::minutes(5)).to_rfc3339())
            }),
            None,
        ),
        (
            "created_at 6 min ahead",
            with(refund(), |v| {
                v["created_at"] = json!((now() + Duration::minutes(6)).to_rfc3339())
            }),
            one("created_at", "too_far_in_future"),
        ),
        (
            "created_at 7 days old",
            with(refund(), |v| {
                v["created_at"] = json!((now() - Duration::days(7)).to_rfc3339())
            }),
            None,
        ),
        (
            "created_at 8 days old",
            with(refund(), |v| {
                v["created_at"] = json!((now() - Duration::days(8)).to_rfc3339())
            }),
            one("created_at", "too_old"),
        ),
        (
            "created_at not a time",
            with(refund(), |v| v["created_at"] = json!("yesterday")),
            one("created_at", "timestamp"),
        ),
        (
            "unknown field",
            with(refund(), |v| v["channel"] = json!("in_store")),
            one("channel", "unknown_field"),
        ),
        (
            "missing amount",
            with(refund(), |v| {
                drop(v.as_object_mut().unwrap().remove("amount"))
            }),
            one("amount", "required"),
        ),
        (
            "items not objects",
            with(refund(), |v| v["items"] = json!([1])),
            one("items[0]", "type"),
        ),
    ];
    for (name, value, expected) in cases {
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
    let (long, too_long) = ("o".repeat(64), "o".repeat(65));
    let cases: Vec<(&str, &str, Value, Failures)> = vec![
        ("valid", "pos-17-000123", void(), None),
        (
            "no reason",
            "pos-17-000123",
            with(void(), |v| {
                drop(v.as_object_mut().unwrap().remove("reason"))
            }),
            None,
        ),
        ("order id 64", &long, void(), None),
        ("order id 65", &too_long, void(), one("order_id", "length")),
        (
            "order id alphabet",
            "o 1",
            void(),
            one("order_id", "charset"),
        ),
        (
            "store missing",
            "o-1",
            with(void(), |v| {
                drop(v.as_object_mut().unwrap().remove("store_id"))
            }),
            one("store_id", "required"),
        ),
        (
            "store 33",
            "o-1",
            with(void(), |v| v["store_id"] = json!("s".repeat(33))),
            one("store_id", "length"),
        ),
        (
            "reason 201",
            "o-1",
            with(void(), |v| v["reason"] = json!("x".repeat(201))),
            one("reason", "length"),
        ),
        (
            "created_at 8 days old",
            "o-1",
            with(void(), |v| {
                v["created_at"] = json!((now() - Duration::days(8)).to_rfc3339())
            }),
            one("created_at", "too_old"),
        ),
        (
            "unknown field",
            "o-1",
            with(void(), |v| v["order_id"] = json!("o-1")),
            one("order_id", "unknown_field"),
        ),
    ];
    for (name, order_id, value, expected) in cases {
        assert_eq!(void_failures(order_id, &value), expected, "{name}");
    }
    let parsed = parse_void_json(
        "pos-17-000123",
        void().to_string().as_bytes(),
        now(),
        Freshness::default(),
    )
    .unwrap();
    assert_eq!(parsed.order_id().as_str(), "pos-17-000123");
    assert_eq!(parsed.reason(), Some("rung up twice"));
}

fn envelopes() -> (Envelope, Envelope) {
    let refund =
        parse_refund_json(refund().to_string().as_bytes(), now(), Freshness::default()).unwrap();
    let void = parse_void_json(
        "pos-17-000123",
        void().to_string().as_bytes(),
        now(),
        Freshness::default(),
    )
    .unwrap();
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
