//! Properties of order parsing over generated input: it never panics, every refusal names its
//! fields with stable codes, and every order a POS could validly send is accepted and survives
//! the Kafka envelope unchanged.

use chrono::{DateTime, Duration, Utc};
use proptest::prelude::*;
use sales_model::{parse_order_json, Envelope, Freshness, ParseError};
use serde_json::{json, Value};

fn now() -> DateTime<Utc> {
    "2026-11-22T12:00:00Z".parse().unwrap()
}

/// Every refusal is either broken JSON or a non-empty list of named fields with codes.
fn check_refusal(result: &Result<sales_model::Order, ParseError>) {
    match result {
        Ok(_) | Err(ParseError::Syntax(_)) => {}
        Err(ParseError::Invalid(errors)) => {
            assert!(!errors.errors.is_empty(), "a refusal without fields");
            for error in &errors.errors {
                assert!(!error.field.is_empty(), "{error:?}");
                assert!(!error.code.is_empty(), "{error:?}");
                assert!(!error.message.is_empty(), "{error:?}");
            }
        }
    }
}

/// Any JSON value: scalars, and arrays and objects of them, a few levels deep.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        ".{0,12}".prop_map(Value::from),
        "[0-9]{1,25}(\\.[0-9]{0,6})?".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::hash_map("[a-z_]{1,10}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn valid() -> Value {
    json!({
        "order_id": "pos-17-000123", "store_id": "store-042", "channel": "in_store", "currency": "EUR",
        "created_at": "2026-11-22T10:15:30Z",
        "items": [{"sku": "sku-1", "name": "Latte", "quantity": 2, "unit_price": "3.50"}],
        "discount": "0.50", "total": "6.50"
    })
}

/// The order's top-level fields.
const FIELDS: &str = "order_id store_id terminal_id customer_id channel currency created_at items discount tax total payment_method";

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        check_refusal(&parse_order_json(&bytes, now(), Freshness::default()));
    }

    #[test]
    fn arbitrary_json_never_panics(value in any_json()) {
        let body = value.to_string();
        check_refusal(&parse_order_json(body.as_bytes(), now(), Freshness::default()));
    }

    #[test]
    fn one_field_replaced_by_anything_is_accepted_or_named(field in 0..12usize, replacement in any_json()) {
        let field = FIELDS.split(' ').nth(field).unwrap();
        let mut order = valid();
        order[field] = replacement;
        let result = parse_order_json(order.to_string().as_bytes(), now(), Freshness::default());
        check_refusal(&result);
        if let Err(ParseError::Invalid(errors)) = &result {
            prop_assert!(
                errors.errors.iter().any(|e| e.field.starts_with(field) || e.field == "total" || e.field == "body"),
                "{} replaced, but the errors name {:?}", field, errors.errors
            );
        }
    }

    #[test]
    fn every_consistent_order_is_accepted_and_survives_the_envelope(
        lines in prop::collection::vec((1i64..=10_000, 0i64..1_000_000), 1..20),
        discount_share in 0u32..=100,
        tax in 0i64..100_000,
        minutes_ago in 0i64..(7 * 24 * 60 - 1),
    ) {
        let subtotal: i64 = lines.iter().map(|(q, p)| q * p).sum();
        let discount = subtotal * i64::from(discount_share) / 100;
        let cents = |minor: i64| format!("{}.{:02}", minor / 100, minor % 100);
        let items: Vec<Value> = lines
            .iter()
            .enumerate()
            .map(|(i, (q, p))| json!({"sku": format!("sku-{i}"), "name": "Item", "quantity": q, "unit_price": cents(*p)}))
            .collect();
        let body = json!({
            "order_id": "prop-1", "store_id": "store-1", "channel": "online", "currency": "USD",
            "created_at": (now() - Duration::minutes(minutes_ago)).to_rfc3339(),
            "items": items,
            "discount": cents(discount), "tax": cents(tax),
            "total": cents(subtotal - discount + tax)
        });
        let order = parse_order_json(body.to_string().as_bytes(), now(), Freshness::default())
            .map_err(|e| TestCaseError::fail(format!("refused {body}: {e}")))?;
        prop_assert_eq!(order.total().minor(), subtotal - discount + tax);
        let envelope = Envelope::new(order, now());
        prop_assert_eq!(Envelope::from_json(&envelope.to_json()).unwrap(), envelope);
    }
}
