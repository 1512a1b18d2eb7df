//! Every rule of DESIGN.md §3, each boundary from both sides, through the public parse function.

mod support;

use chrono::{DateTime, Utc};
use sales_model::{parse_order_json, Freshness, Order, ParseError};
use serde_json::{json, Value};
use support::{
    failing, failures_of, now, one, rule_cases, seconds, set, with, without, Failures, DAY,
};

/// DESIGN.md §3's example order.
fn valid() -> Value {
    json!({
        "order_id": "pos-17-000123", "store_id": "store-042", "terminal_id": "t-3", "customer_id": "c-9001",
        "channel": "in_store", "currency": "EUR", "created_at": "2026-11-22T10:15:30Z",
        "items": [{"sku": "sku-1", "name": "Latte", "quantity": 2, "unit_price": "3.50"}],
        "discount": "0.50", "tax": "0.00", "total": "6.50", "payment_method": "card"
    })
}

fn parse(value: &Value) -> Result<Order, ParseError> {
    parse_order_json(value.to_string().as_bytes(), now(), Freshness::default())
}

fn failures(value: &Value) -> Failures {
    failures_of(parse(value))
}

/// The example order with `edit` applied.
fn edited(edit: impl FnOnce(&mut Value)) -> Value {
    with(valid(), edit)
}

/// An order whose one line has `quantity` and the matching total (so only the quantity rule can
/// fail: the total check runs whenever the amounts parse).
fn with_quantity(quantity: Value) -> Value {
    edited(|v| {
        v["items"][0]["quantity"] = quantity.clone();
        if let Some(q) = quantity.as_i64().filter(|q| *q >= 0) {
            v["total"] = json!(format!("{}.00", q * 3));
            v["items"][0]["unit_price"] = json!("3");
            v["discount"] = json!("0");
        }
    })
}

fn lines(count: usize) -> Value {
    edited(|v| {
        let line = json!({"sku": "s", "name": "n", "quantity": 1, "unit_price": "1.00"});
        v["items"] = Value::Array(vec![line; count]);
        v["discount"] = json!("0");
        v["total"] = json!(format!("{count}.00"));
    })
}

#[test]
fn the_example_order_is_accepted_in_minor_units() {
    let order = parse(&valid()).unwrap();
    assert_eq!(order.order_id().as_str(), "pos-17-000123");
    assert_eq!(order.total().minor(), 650);
    assert_eq!(order.discount().minor(), 50);
    assert_eq!(order.lines()[0].unit_price().minor(), 350);
    assert_eq!(order.lines()[0].amount().minor(), 700);
    assert_eq!(order.item_count(), 2);
    assert_eq!(
        order.created_at(),
        "2026-11-22T10:15:30Z".parse::<DateTime<Utc>>().unwrap()
    );
}

#[test]
fn each_rule_is_enforced_at_its_boundaries() {
    // One field of the example set to a value, and the code that field is refused with.
    let price = "/items/0/unit_price";
    let fields = vec![
        ("/order_id", json!("a"), None),
        ("/order_id", json!("a".repeat(64)), None),
        ("/order_id", json!(""), Some("length")),
        ("/order_id", json!("a".repeat(65)), Some("length")),
        ("/order_id", json!("pos 1"), Some("charset")),
        ("/order_id", json!("Az09._:-"), None),
        ("/store_id", json!("s".repeat(32)), None),
        ("/store_id", json!("s".repeat(33)), Some("length")),
        ("/store_id", json!("a/b"), Some("charset")),
        ("/terminal_id", Value::Null, None),
        ("/terminal_id", json!("t 3"), Some("charset")),
        ("/customer_id", json!(""), Some("length")),
        ("/channel", json!("takeaway"), None),
        ("/channel", json!("delivery"), None),
        ("/channel", json!("online"), None),
        ("/channel", json!("drive_in"), Some("one_of")),
        ("/currency", json!("eur"), Some("currency")),
        ("/currency", json!("EUE"), Some("currency")),
        ("/currency", json!("EURO"), Some("currency")),
        // Gold is not a till currency.
        ("/currency", json!("XAU"), Some("currency")),
        ("/created_at", json!("yesterday"), Some("timestamp")),
        (
            "/created_at",
            json!("2026-11-22T10:15:30"),
            Some("timestamp"),
        ),
        ("/created_at", json!("2026-11-22T11:15:30+01:00"), None),
        ("/created_at", seconds(5 * 60), None),
        (
            "/created_at",
            seconds(5 * 60 + 1),
            Some("too_far_in_future"),
        ),
        ("/created_at", seconds(-7 * DAY), None),
        ("/created_at", seconds(-7 * DAY - 1), Some("too_old")),
        ("/items/0/sku", json!(""), Some("length")),
        ("/items/0/sku", json!("k".repeat(64)), None),
        ("/items/0/sku", json!("k".repeat(65)), Some("length")),
        ("/items/0/name", json!(""), Some("length")),
        ("/items/0/name", json!("Café crème"), None),
        (price, json!(3.5), None),
        (price, json!("3.505"), Some("money_precision")),
        (price, json!("-3.50"), Some("negative")),
        (price, json!(3.5e0), None),
        (price, json!("three"), Some("money_format")),
        (price, json!(true), Some("money_format")),
        ("/discount", json!("-0.50"), Some("negative")),
        ("/tax", json!("-1"), Some("negative")),
        ("/total", json!("6.49"), Some("total_mismatch")),
        ("/total", json!(6.51), Some("total_mismatch")),
        ("/total", json!(6.5), None),
        ("/payment_method", json!("cash"), None),
        ("/payment_method", json!("cheque"), Some("one_of")),
        ("/coupon", json!("X"), Some("unknown_field")),
        ("/items/0/colour", json!("red"), Some("unknown_field")),
        (
            "/items/0",
            json!(["sku-1", "Latte", 2, "3.50"]),
            Some("type"),
        ),
    ];
    let cases: Vec<(&str, Value, Failures)> = vec![
        ("terminal_id absent", without(valid(), "/terminal_id"), None),
        ("customer_id absent", without(valid(), "/customer_id"), None),
        ("no items", lines(0), one("items", "length")),
        ("1 item", lines(1), None),
        ("500 items", lines(500), None),
        ("501 items", lines(501), one("items", "length")),
        (
            "quantity 0",
            with_quantity(json!(0)),
            one("items[0].quantity", "range"),
        ),
        ("quantity 1", with_quantity(json!(1)), None),
        ("quantity 10000", with_quantity(json!(10000)), None),
        (
            "quantity 10001",
            with_quantity(json!(10001)),
            one("items[0].quantity", "range"),
        ),
        (
            "quantity -1",
            with_quantity(json!(-1)),
            one("items[0].quantity", "range"),
        ),
        (
            "quantity 2.5",
            with_quantity(json!(2.5)),
            one("items[0].quantity", "type"),
        ),
        (
            "quantity string",
            with_quantity(json!("2")),
            one("items[0].quantity", "type"),
        ),
        (
            "yen in whole yen",
            edited(|v| {
                v["currency"] = json!("JPY");
                v["items"][0]["unit_price"] = json!("350");
                v["discount"] = json!(50);
                v["tax"] = json!("0");
                v["total"] = json!("650");
            }),
            None,
        ),
        (
            "yen with decimals, even zeros",
            set(valid(), "/currency", "JPY"),
            failing(&[
                ("discount", "money_precision"),
                ("items[0].unit_price", "money_precision"),
                ("tax", "money_precision"),
                ("total", "money_precision"),
            ]),
        ),
        (
            "dinar with 3 decimals",
            edited(|v| {
                v["currency"] = json!("KWD");
                v["items"][0]["unit_price"] = json!("3.505");
                v["discount"] = json!("0.010");
                v["total"] = json!("7.000");
            }),
            None,
        ),
        (
            "dinar with 4 decimals",
            set(set(valid(), "/currency", "KWD"), price, "3.5050"),
            one("items[0].unit_price", "money_precision"),
        ),
        (
            "discount absent",
            set(without(valid(), "/discount"), "/total", "7.00"),
            None,
        ),
        (
            "tax counts",
            set(set(valid(), "/tax", "1.20"), "/total", "7.70"),
            None,
        ),
        (
            "discount beyond subtotal",
            set(set(valid(), "/discount", "8.00"), "/total", "0"),
            one("total", "total_mismatch"),
        ),
        (
            "line overflows",
            set(valid(), price, "92233720368547758.07"),
            one("items[0]", "overflow"),
        ),
        (
            "sum overflows",
            edited(|v| {
                let line = json!({"sku": "s", "name": "n", "quantity": 1, "unit_price": "92233720368547758.07"});
                v["items"] = json!([line.clone(), line]);
            }),
            one("total", "overflow"),
        ),
        ("payment absent", without(valid(), "/payment_method"), None),
        (
            "missing total",
            without(valid(), "/total"),
            one("total", "required"),
        ),
        (
            "missing line sku",
            without(valid(), "/items/0/sku"),
            one("items[0].sku", "required"),
        ),
        ("not an object", json!([1, 2]), one("body", "type")),
    ];
    let mut wrong = Vec::new();
    for (name, input, expected) in rule_cases(valid, fields, cases) {
        let got = failures(&input);
        if got != expected {
            wrong.push(format!("{name}: expected {expected:?}, got {got:?}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn every_failing_field_is_reported_at_once() {
    let input = edited(|v| {
        v["order_id"] = json!("");
        v["currency"] = json!("eur");
        v["items"][0]["quantity"] = json!(0);
        v["items"][0]["sku"] = json!("a b");
        v["tax"] = json!("1.2345");
    });
    let fields: Vec<String> = failures(&input)
        .unwrap()
        .into_iter()
        .map(|(f, _)| f)
        .collect();
    assert_eq!(
        fields,
        vec![
            "currency",
            "items[0].quantity",
            "items[0].sku",
            "order_id",
            "tax"
        ]
    );
}

#[test]
fn the_total_check_is_reported_with_the_other_failing_fields() {
    // DESIGN.md §3: the total check is included whenever the amounts themselves parse.
    let input = edited(|v| {
        v["currency"] = json!("eu");
        v["channel"] = json!("x");
        v["total"] = json!("1.00");
    });
    let expected = [
        ("channel", "one_of"),
        ("currency", "currency"),
        ("total", "total_mismatch"),
    ];
    assert_eq!(failures(&input), failing(&expected));
    // An amount that does not parse leaves the total unchecked: its error is the one to fix.
    let unreadable = edited(|v| {
        v["channel"] = json!("x");
        v["tax"] = json!("1.5.0");
        v["total"] = json!("1.00");
    });
    let expected = [("channel", "one_of"), ("tax", "money_format")];
    assert_eq!(failures(&unreadable), failing(&expected));
}

#[test]
fn a_precision_error_names_the_currency_and_its_digits() {
    let input = edited(|v| {
        v["currency"] = json!("JPY");
        v["items"][0]["unit_price"] = json!("350.5");
        v["discount"] = json!("0");
        v["tax"] = json!("0");
        v["total"] = json!("701");
    });
    let Err(ParseError::Invalid(errors)) = parse(&input) else {
        panic!("expected a 422")
    };
    assert_eq!(errors.errors.len(), 1, "{errors:?}");
    assert_eq!(errors.errors[0].field, "items[0].unit_price");
    assert_eq!(
        errors.errors[0].message,
        "JPY amounts have no digits after the decimal point"
    );
}

#[test]
fn an_empty_unknown_key_names_the_object_holding_it() {
    // Found by the fuzzer: `{"": …}` used to be reported under an empty field name.
    let top = set(valid(), "/", 1);
    assert_eq!(failures(&top), one("body", "unknown_field"));
    let line = set(valid(), "/items/0/", 1);
    assert_eq!(failures(&line), one("items[0]", "unknown_field"));
}

#[test]
fn broken_json_is_a_syntax_error() {
    for body in ["{", "", "{\"order_id\": }", "not json", "{} trailing"] {
        let result = parse_order_json(body.as_bytes(), now(), Freshness::default());
        assert!(
            matches!(result, Err(ParseError::Syntax(_))),
            "{body:?}: {result:?}"
        );
    }
}

#[test]
fn event_time_keeps_milliseconds_only() {
    let order = parse(&edited(|v| {
        v["created_at"] = json!("2026-11-22T10:15:30.123456789Z")
    }))
    .unwrap();
    assert_eq!(
        order.created_at(),
        "2026-11-22T10:15:30.123Z".parse::<DateTime<Utc>>().unwrap()
    );
}
