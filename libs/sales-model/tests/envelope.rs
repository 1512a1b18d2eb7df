//! The Kafka envelope of DESIGN.md §4: layout, round trip, and what the consumer refuses.

use chrono::{DateTime, Utc};
use sales_model::{parse_order_json, Envelope, EnvelopeError, Freshness, OrderRecord};
use serde_json::{json, Value};

fn sample() -> Envelope {
    let body = json!({
        "order_id": "pos-17-000123", "store_id": "store-042", "channel": "delivery", "currency": "EUR",
        "created_at": "2026-11-22T10:15:30Z",
        "items": [{"sku": "sku-1", "name": "Latte", "quantity": 2, "unit_price": "3.50"},
                  {"sku": "sku-2", "name": "Bagel", "quantity": 1, "unit_price": 2}],
        "tax": "1.10", "total": "10.10"
    });
    let now: DateTime<Utc> = "2026-11-22T10:16:00Z".parse().unwrap();
    let order = parse_order_json(body.to_string().as_bytes(), now, Freshness::default()).unwrap();
    Envelope::new(order, now)
}

#[test]
fn the_envelope_carries_the_normalized_order_in_minor_units() {
    let envelope = sample();
    let value: Value = serde_json::from_slice(&envelope.to_json()).unwrap();
    assert_eq!(value["schema_version"], 2);
    assert_eq!(value["kind"], "order");
    assert_eq!(value["ingest_id"], envelope.ingest_id.to_string());
    assert_eq!(value["ingested_at"], "2026-11-22T10:16:00Z");
    let order = &value["order"];
    assert_eq!(order["order_id"], "pos-17-000123");
    assert_eq!(order["channel"], "delivery");
    assert_eq!(order["items"][0]["unit_price_minor"], 350);
    assert_eq!(order["items"][1]["unit_price_minor"], 200);
    assert_eq!(order["discount_minor"], 0);
    assert_eq!(order["tax_minor"], 110);
    assert_eq!(order["total_minor"], 1010);
    assert_eq!(order["terminal_id"], Value::Null);
}

#[test]
fn an_envelope_reads_back_identically() {
    let envelope = sample();
    let back = Envelope::from_json(&envelope.to_json()).unwrap();
    assert_eq!(back, envelope);
}

#[test]
fn the_consumer_refuses_what_is_not_a_valid_order() {
    let good: Value = serde_json::from_slice(&sample().to_json()).unwrap();
    let edit = |f: &dyn Fn(&mut Value)| {
        let mut v = good.clone();
        f(&mut v);
        serde_json::to_vec(&v).unwrap()
    };
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("not json", b"{oops".to_vec(), "malformed"),
        (
            "no version",
            edit(&|v| drop(v.as_object_mut().unwrap().remove("schema_version"))),
            "malformed",
        ),
        (
            "future version",
            edit(&|v| v["schema_version"] = json!(3)),
            "newer_schema_version",
        ),
        (
            "version 0",
            edit(&|v| v["schema_version"] = json!(0)),
            "unsupported_schema_version",
        ),
        (
            "version 2 without a kind",
            edit(&|v| drop(v.as_object_mut().unwrap().remove("kind"))),
            "malformed",
        ),
        (
            "unknown kind",
            edit(&|v| v["kind"] = json!("giftcard")),
            "malformed",
        ),
        (
            "version 1 with a kind",
            edit(&|v| v["schema_version"] = json!(1)),
            "malformed",
        ),
        (
            "yen with a fraction written as version 1",
            version_1(&good, "JPY", 150_050),
            "invalid_order",
        ),
        (
            "missing order",
            edit(&|v| drop(v.as_object_mut().unwrap().remove("order"))),
            "malformed",
        ),
        (
            "total mismatch",
            edit(&|v| v["order"]["total_minor"] = json!(1011)),
            "invalid_order",
        ),
        (
            "negative price",
            edit(&|v| v["order"]["items"][0]["unit_price_minor"] = json!(-1)),
            "invalid_order",
        ),
        (
            "bad store id",
            edit(&|v| v["order"]["store_id"] = json!("a b")),
            "invalid_order",
        ),
        (
            "zero quantity",
            edit(&|v| v["order"]["items"][0]["quantity"] = json!(0)),
            "invalid_order",
        ),
        (
            "unknown channel",
            edit(&|v| v["order"]["channel"] = json!("fax")),
            "invalid_order",
        ),
        (
            "before 1970",
            edit(&|v| v["order"]["created_at"] = json!("1969-12-31T23:59:59Z")),
            "invalid_order",
        ),
        (
            "after 2106-02-07T06:28:15Z",
            edit(&|v| v["order"]["created_at"] = json!("2106-02-07T06:28:16Z")),
            "invalid_order",
        ),
    ];
    for (name, bytes, code) in cases {
        let err = Envelope::from_json(&bytes).unwrap_err();
        assert_eq!(err.code(), code, "{name}: {err}");
    }
    let err = Envelope::from_json(&edit(&|v| v["order"]["total_minor"] = json!(1))).unwrap_err();
    let EnvelopeError::InvalidOrder(errors) = err else {
        panic!("expected an invalid order")
    };
    assert_eq!(errors.errors[0].field, "total");
    // An event time the stores cannot hold is named, not stored as 1970.
    let err = Envelope::from_json(&edit(&|v| {
        v["order"]["created_at"] = json!("1960-01-01T00:00:00Z")
    }))
    .unwrap_err();
    let EnvelopeError::InvalidOrder(errors) = err else {
        panic!("expected an invalid order")
    };
    assert_eq!(
        (
            errors.errors[0].field.as_str(),
            errors.errors[0].code.as_str()
        ),
        ("created_at", "out_of_range")
    );
    // The edges themselves are storable.
    for edge in ["1970-01-01T00:00:00Z", "2106-02-07T06:28:15Z"] {
        assert!(
            Envelope::from_json(&edit(&|v| v["order"]["created_at"] = json!(edge))).is_ok(),
            "{edge}"
        );
    }
}

#[test]
fn an_old_order_is_still_read_back_from_kafka() {
    // Freshness is judged at ingest; a replay weeks later must still decode.
    let mut value: Value = serde_json::from_slice(&sample().to_json()).unwrap();
    value["order"]["created_at"] = json!("2020-01-01T00:00:00Z");
    let envelope = Envelope::from_json(&serde_json::to_vec(&value).unwrap()).unwrap();
    assert_eq!(
        envelope.sale().unwrap().created_at().to_rfc3339(),
        "2020-01-01T00:00:00+00:00"
    );
}

/// `good` as a version-1 message (hundredths of every currency, no kind) in `currency`, with one
/// line whose unit price and total are `hundredths`.
fn version_1(good: &Value, currency: &str, hundredths: i64) -> Vec<u8> {
    let mut v = good.clone();
    v["schema_version"] = json!(1);
    v.as_object_mut().unwrap().remove("kind");
    let order = &mut v["order"];
    order["currency"] = json!(currency);
    order["items"] =
        json!([{"sku": "sku-1", "name": "Latte", "quantity": 1, "unit_price_minor": hundredths}]);
    order["tax_minor"] = json!(0);
    order["total_minor"] = json!(hundredths);
    serde_json::to_vec(&v).unwrap()
}

#[test]
fn version_1_messages_are_read_as_sales_in_their_currency_minor_units() {
    let good: Value = serde_json::from_slice(&sample().to_json()).unwrap();
    // Version 1 counted hundredths whatever the currency; version 2 counts the currency's own
    // minor unit: cents for EUR, whole yen for JPY, fils (thousandths) for KWD.
    for (currency, hundredths, minor) in [
        ("EUR", 650, 650),
        ("JPY", 150_000, 1500),
        ("KWD", 1234, 12_340),
    ] {
        let envelope = Envelope::from_json(&version_1(&good, currency, hundredths)).unwrap();
        assert_eq!(envelope.sale().unwrap().currency().as_str(), currency);
        assert_eq!(
            envelope.sale().unwrap().total().minor(),
            minor,
            "{currency}"
        );
        assert_eq!(
            envelope.sale().unwrap().lines()[0].unit_price().minor(),
            minor,
            "{currency}"
        );
        // Written again, it is a version-2 message with the same order.
        let again = Envelope::from_json(&envelope.to_json()).unwrap();
        assert_eq!(again.sale(), envelope.sale());
    }
}

#[test]
fn two_versions_of_an_order_name_the_fields_they_differ_in() {
    let first = OrderRecord::from(sample().sale().unwrap());
    let mut later = first.clone();
    later.total_minor += 1;
    later.payment_method = Some("cash".to_string());
    assert_eq!(first.differing_fields(&later), ["total", "payment_method"]);
    assert!(first.differing_fields(&first).is_empty());
}
