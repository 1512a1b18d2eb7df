//! Every rule of DESIGN.md §3, each boundary from both sides, through the public parse function.

use chrono::{DateTime, Duration, Utc};
use sales_model::{parse_order_json, Freshness, Order, ParseError};
use serde_json::{json, Value};

fn now() -> DateTime<Utc> {
    "2026-11-22T12:00:00Z".parse().unwrap()
}

fn valid() -> Value {
    json!({
        "order_id": "pos-17-000123",
        "store_id": "store-042",
        "terminal_id": "t-3",
        "customer_id": "c-9001",
        "channel": "in_store",
        "currency": "EUR",
        "created_at": "2026-11-22T10:15:30Z",
        "items": [{"sku": "sku-1", "name": "Latte", "quantity": 2, "unit_price": "3.50"}],
        "discount": "0.50",
        "tax": "0.00",
        "total": "6.50",
        "payment_method": "card"
    })
}

fn parse(value: &Value) -> Result<Order, ParseError> {
    parse_order_json(value.to_string().as_bytes(), now(), Freshness::default())
}

/// The `(field, code)` pairs of a rejected order, or `None` when it is accepted.
type Failures = Option<Vec<(String, String)>>;

fn failures(value: &Value) -> Failures {
    match parse(value) {
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

fn with(edit: impl FnOnce(&mut Value)) -> Value {
    let mut value = valid();
    edit(&mut value);
    value
}

/// An order whose one line has `quantity` and the matching total (so only the quantity rule can
/// fail: the total check runs whenever the amounts parse).
fn with_quantity(quantity: Value) -> Value {
    with(|v| {
        v["items"][0]["quantity"] = quantity.clone();
        if let Some(q) = quantity.as_i64().filter(|q| *q >= 0) {
            v["total"] = json!(format!("{}.00", q * 3));
            v["items"][0]["unit_price"] = json!("3");
            v["discount"] = json!("0");
        }
    })
}

fn lines(count: usize) -> Value {
    with(|v| {
        let line = json!({"sku": "s", "name": "n", "quantity": 1, "unit_price": "1.00"});
        v["items"] = Value::Array(vec![line; count]);
        v["discount"] = json!("0");
        v["total"] = json!(format!("{count}.00"));
    })
}

fn at(offset: Duration) -> Value {
    with(|v| v["created_at"] = json!((now() + offset).to_rfc3339()))
}

fn single(field: &str, code: &str) -> Failures {
    Some(vec![(field.to_string(), code.to_string())])
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
    let cases: Vec<(&str, Value, Failures)> = vec![
        (
            "order_id 1 char",
            with(|v| v["order_id"] = json!("a")),
            None,
        ),
        (
            "order_id 64 chars",
            with(|v| v["order_id"] = json!("a".repeat(64))),
            None,
        ),
        (
            "order_id empty",
            with(|v| v["order_id"] = json!("")),
            single("order_id", "length"),
        ),
        (
            "order_id 65 chars",
            with(|v| v["order_id"] = json!("a".repeat(65))),
            single("order_id", "length"),
        ),
        (
            "order_id space",
            with(|v| v["order_id"] = json!("pos 1")),
            single("order_id", "charset"),
        ),
        (
            "order_id full alphabet",
            with(|v| v["order_id"] = json!("Az09._:-")),
            None,
        ),
        (
            "store_id 32 chars",
            with(|v| v["store_id"] = json!("s".repeat(32))),
            None,
        ),
        (
            "store_id 33 chars",
            with(|v| v["store_id"] = json!("s".repeat(33))),
            single("store_id", "length"),
        ),
        (
            "store_id slash",
            with(|v| v["store_id"] = json!("a/b")),
            single("store_id", "charset"),
        ),
        (
            "terminal_id absent",
            with(|v| drop(v.as_object_mut().unwrap().remove("terminal_id"))),
            None,
        ),
        (
            "terminal_id null",
            with(|v| v["terminal_id"] = Value::Null),
            None,
        ),
        (
            "terminal_id bad",
            with(|v| v["terminal_id"] = json!("t 3")),
            single("terminal_id", "charset"),
        ),
        (
            "customer_id absent",
            with(|v| drop(v.as_object_mut().unwrap().remove("customer_id"))),
            None,
        ),
        (
            "customer_id empty",
            with(|v| v["customer_id"] = json!("")),
            single("customer_id", "length"),
        ),
        (
            "channel takeaway",
            with(|v| v["channel"] = json!("takeaway")),
            None,
        ),
        (
            "channel delivery",
            with(|v| v["channel"] = json!("delivery")),
            None,
        ),
        (
            "channel online",
            with(|v| v["channel"] = json!("online")),
            None,
        ),
        (
            "channel unknown",
            with(|v| v["channel"] = json!("drive_in")),
            single("channel", "one_of"),
        ),
        (
            "currency lower",
            with(|v| v["currency"] = json!("eur")),
            single("currency", "currency"),
        ),
        (
            "currency not iso",
            with(|v| v["currency"] = json!("EUE")),
            single("currency", "currency"),
        ),
        (
            "currency 4 letters",
            with(|v| v["currency"] = json!("EURO")),
            single("currency", "currency"),
        ),
        (
            "created_at garbage",
            with(|v| v["created_at"] = json!("yesterday")),
            single("created_at", "timestamp"),
        ),
        (
            "created_at no zone",
            with(|v| v["created_at"] = json!("2026-11-22T10:15:30")),
            single("created_at", "timestamp"),
        ),
        (
            "created_at with offset",
            with(|v| v["created_at"] = json!("2026-11-22T11:15:30+01:00")),
            None,
        ),
        ("created_at 5 min ahead", at(Duration::minutes(5)), None),
        (
            "created_at 5 min 1 s ahead",
            at(Duration::minutes(5) + Duration::seconds(1)),
            single("created_at", "too_far_in_future"),
        ),
        ("created_at 7 days old", at(-Duration::days(7)), None),
        (
            "created_at 7 days 1 s old",
            at(-Duration::days(7) - Duration::seconds(1)),
            single("created_at", "too_old"),
        ),
        ("no items", lines(0), single("items", "length")),
        ("1 item", lines(1), None),
        ("500 items", lines(500), None),
        ("501 items", lines(501), single("items", "length")),
        (
            "quantity 0",
            with_quantity(json!(0)),
            single("items[0].quantity", "range"),
        ),
        ("quantity 1", with_quantity(json!(1)), None),
        ("quantity 10000", with_quantity(json!(10000)), None),
        (
            "quantity 10001",
            with_quantity(json!(10001)),
            single("items[0].quantity", "range"),
        ),
        (
            "quantity -1",
            with_quantity(json!(-1)),
            single("items[0].quantity", "range"),
        ),
        (
            "quantity 2.5",
            with_quantity(json!(2.5)),
            single("items[0].quantity", "type"),
        ),
        (
            "quantity string",
            with_quantity(json!("2")),
            single("items[0].quantity", "type"),
        ),
        (
            "sku empty",
            with(|v| v["items"][0]["sku"] = json!("")),
            single("items[0].sku", "length"),
        ),
        (
            "sku 64",
            with(|v| v["items"][0]["sku"] = json!("k".repeat(64))),
            None,
        ),
        (
            "sku 65",
            with(|v| v["items"][0]["sku"] = json!("k".repeat(65))),
            single("items[0].sku", "length"),
        ),
        (
            "name empty",
            with(|v| v["items"][0]["name"] = json!("")),
            single("items[0].name", "length"),
        ),
        (
            "name unicode",
            with(|v| v["items"][0]["name"] = json!("Café crème")),
            None,
        ),
        (
            "price as number",
            with(|v| v["items"][0]["unit_price"] = json!(3.5)),
            None,
        ),
        (
            "price 3 decimals",
            with(|v| v["items"][0]["unit_price"] = json!("3.505")),
            single("items[0].unit_price", "money_precision"),
        ),
        (
            "yen in whole yen",
            with(|v| {
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
            with(|v| v["currency"] = json!("JPY")),
            Some(
                ["discount", "items[0].unit_price", "tax", "total"]
                    .iter()
                    .map(|f| (f.to_string(), "money_precision".to_string()))
                    .collect(),
            ),
        ),
        (
            "dinar with 3 decimals",
            with(|v| {
                v["currency"] = json!("KWD");
                v["items"][0]["unit_price"] = json!("3.505");
                v["discount"] = json!("0.010");
                v["total"] = json!("7.000");
            }),
            None,
        ),
        (
            "dinar with 4 decimals",
            with(|v| {
                v["currency"] = json!("KWD");
                v["items"][0]["unit_price"] = json!("3.5050");
            }),
            single("items[0].unit_price", "money_precision"),
        ),
        (
            "gold is not a till currency",
            with(|v| v["currency"] = json!("XAU")),
            single("currency", "currency"),
        ),
        (
            "price negative",
            with(|v| v["items"][0]["unit_price"] = json!("-3.50")),
            single("items[0].unit_price", "negative"),
        ),
        (
            "price exponent",
            with(|v| v["items"][0]["unit_price"] = json!(3.5e0)),
            None,
        ),
        (
            "price text",
            with(|v| v["items"][0]["unit_price"] = json!("three")),
            single("items[0].unit_price", "money_format"),
        ),
        (
            "price bool",
            with(|v| v["items"][0]["unit_price"] = json!(true)),
            single("items[0].unit_price", "money_format"),
        ),
        (
            "discount absent",
            with(|v| {
                v.as_object_mut().unwrap().remove("discount");
                v["total"] = json!("7.00");
            }),
            None,
        ),
        (
            "discount negative",
            with(|v| v["discount"] = json!("-0.50")),
            single("discount", "negative"),
        ),
        (
            "tax counts",
            with(|v| {
                v["tax"] = json!("1.20");
                v["total"] = json!("7.70");
            }),
            None,
        ),
        (
            "tax negative",
            with(|v| v["tax"] = json!("-1")),
            single("tax", "negative"),
        ),
        (
            "total one cent low",
            with(|v| v["total"] = json!("6.49")),
            single("total", "total_mismatch"),
        ),
        (
            "total one cent high",
            with(|v| v["total"] = json!(6.51)),
            single("total", "total_mismatch"),
        ),
        ("total as number", with(|v| v["total"] = json!(6.5)), None),
        (
            "discount beyond subtotal",
            with(|v| {
                v["discount"] = json!("8.00");
                v["total"] = json!("0");
            }),
            single("total", "total_mismatch"),
        ),
        (
            "line overflows",
            with(|v| {
                v["items"][0]["unit_price"] = json!("92233720368547758.07");
            }),
            single("items[0]", "overflow"),
        ),
        (
            "sum overflows",
            with(|v| {
                let line = json!({"sku": "s", "name": "n", "quantity": 1, "unit_price": "92233720368547758.07"});
                v["items"] = json!([line.clone(), line]);
            }),
            single("total", "overflow"),
        ),
        (
            "payment cash",
            with(|v| v["payment_method"] = json!("cash")),
            None,
        ),
        (
            "payment absent",
            with(|v| drop(v.as_object_mut().unwrap().remove("payment_method"))),
            None,
        ),
        (
            "payment unknown",
            with(|v| v["payment_method"] = json!("cheque")),
            single("payment_method", "one_of"),
        ),
        (
            "unknown top-level field",
            with(|v| v["coupon"] = json!("X")),
            single("coupon", "unknown_field"),
        ),
        (
            "unknown line field",
            with(|v| v["items"][0]["colour"] = json!("red")),
            single("items[0].colour", "unknown_field"),
        ),
        (
            "missing total",
            with(|v| drop(v.as_object_mut().unwrap().remove("total"))),
            single("total", "required"),
        ),
        (
            "missing line sku",
            with(|v| drop(v["items"][0].as_object_mut().unwrap().remove("sku"))),
            single("items[0].sku", "required"),
        ),
        ("not an object", json!([1, 2]), single("body", "type")),
        (
            "line as array",
            with(|v| v["items"][0] = json!(["sku-1", "Latte", 2, "3.50"])),
            single("items[0]", "type"),
        ),
    ];
    let mut wrong = Vec::new();
    for (name, input, expected) in cases {
        let got = failures(&input);
        if got != expected {
            wrong.push(format!("{name}: expected {expected:?}, got {got:?}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn every_failing_field_is_reported_at_once() {
    let input = with(|v| {
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
    let input = with(|v| {
        v["currency"] = json!("eu");
        v["channel"] = json!("x");
        v["total"] = json!("1.00");
    });
    assert_eq!(
        failures(&input),
        Some(vec![
            ("channel".to_string(), "one_of".to_string()),
            ("currency".to_string(), "currency".to_string()),
            ("total".to_string(), "total_mismatch".to_string()),
        ])
    );
    // An amount that does not parse leaves the total unchecked: its error is the one to fix.
    let unreadable = with(|v| {
        v["channel"] = json!("x");
        v["tax"] = json!("1.5.0");
        v["total"] = json!("1.00");
    });
    assert_eq!(
        failures(&unreadable),
        Some(vec![
            ("channel".to_string(), "one_of".to_string()),
            ("tax".to_string(), "money_format".to_string()),
        ])
    );
}

#[test]
fn a_precision_error_names_the_currency_and_its_digits() {
    let input = with(|v| {
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
    let top = with(|v| v[""] = json!(1));
    assert_eq!(failures(&top), single("body", "unknown_field"));
    let line = with(|v| v["items"][0][""] = json!(1));
    assert_eq!(failures(&line), single("items[0]", "unknown_field"));
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
    let order = parse(&with(|v| {
        v["created_at"] = json!("2026-11-22T10:15:30.123456789Z")
    }))
    .unwrap();
    assert_eq!(
        order.created_at(),
        "2026-11-22T10:15:30.123Z".parse::<DateTime<Utc>>().unwrap()
    );
}
