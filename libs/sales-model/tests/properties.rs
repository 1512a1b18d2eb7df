//! Properties of event parsing over generated input: it never panics, every refusal names its
//! fields with stable codes, and every order or refund a POS could validly send is accepted and
//! survives the Kafka envelope unchanged.

mod support;

use std::fmt::Debug;

use chrono::Duration;
use proptest::prelude::*;
use sales_model::{
    parse_order_json, parse_refund_json, parse_void_json, Envelope, Freshness, ParseError,
};
use serde_json::{json, Value};
use support::now;

/// Every refusal is either broken JSON or a non-empty list of named fields with codes.
fn check_refusal<T: Debug>(result: &Result<T, ParseError>) {
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

/// Any JSON value, a few levels deep, with decimal-looking strings (negative ones too) among the
/// leaves.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        ".{0,12}".prop_map(Value::from),
        "-?[0-9]{1,25}(\\.[0-9]{0,6})?".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::hash_map("[a-z_]{1,10}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// `base`, a valid event, with `field` replaced by `replacement` is accepted, or refused naming
/// that field, the body, or `sum_check` (the cross-field check a replaced part can upset).
fn check_replaced<T: Debug>(
    parse: impl Fn(&[u8]) -> Result<T, ParseError>,
    mut base: Value,
    field: &str,
    replacement: Value,
    sum_check: &str,
) -> Result<(), TestCaseError> {
    base[field] = replacement;
    let result = parse(base.to_string().as_bytes());
    check_refusal(&result);
    if let Err(ParseError::Invalid(errors)) = &result {
        let named = |e: &&sales_model::FieldError| {
            e.field.starts_with(field) || e.field == sum_check || e.field == "body"
        };
        prop_assert!(
            errors.errors.iter().any(|e| named(&e)),
            "{} replaced, but the errors name {:?}",
            field,
            errors.errors
        );
    }
    Ok(())
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

fn valid_refund() -> Value {
    json!({
        "refund_id": "r-1", "order_id": "o-1", "store_id": "store-042", "currency": "EUR",
        "created_at": "2026-11-22T11:15:30Z",
        "items": [{"sku": "sku-1", "quantity": 1, "amount": "3.50"}],
        "amount": "3.50", "reason": "damaged"
    })
}

/// The refund's top-level fields.
const REFUND_FIELDS: &str = "refund_id order_id store_id currency created_at items amount reason";

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
        let parse = |body: &[u8]| parse_order_json(body, now(), Freshness::default());
        check_replaced(parse, valid(), FIELDS.split(' ').nth(field).unwrap(), replacement, "total")?;
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


    #[test]
    fn arbitrary_bytes_never_panic_as_refunds_or_voids(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        check_refusal(&parse_refund_json(&bytes, now(), Freshness::default()));
        check_refusal(&parse_void_json("o-1", &bytes, now(), Freshness::default()));
    }

    #[test]
    fn arbitrary_json_and_path_ids_never_panic(value in any_json(), order_id in ".{0,80}") {
        let body = value.to_string();
        check_refusal(&parse_refund_json(body.as_bytes(), now(), Freshness::default()));
        check_refusal(&parse_void_json(&order_id, body.as_bytes(), now(), Freshness::default()));
    }

    #[test]
    fn one_refund_field_replaced_by_anything_is_accepted_or_named(field in 0..8usize, replacement in any_json()) {
        let parse = |body: &[u8]| parse_refund_json(body, now(), Freshness::default());
        let field = REFUND_FIELDS.split(' ').nth(field).unwrap();
        // The amount check names `amount` when the items change what they add up to.
        check_replaced(parse, valid_refund(), field, replacement, "amount")?;
    }

    #[test]
    fn every_consistent_refund_is_accepted_and_survives_the_envelope(
        lines in prop::collection::vec((1i64..=10_000, 0i64..1_000_000), 0..20),
        extra in 1i64..1_000_000,
        minutes_ago in 0i64..(7 * 24 * 60 - 1),
    ) {
        let cents = |minor: i64| format!("{}.{:02}", minor / 100, minor % 100);
        // Without lines any positive amount; with lines exactly their sum (when positive).
        let amount = if lines.is_empty() { extra } else { lines.iter().map(|(_, a)| a).sum::<i64>() };
        prop_assume!(amount > 0);
        let mut body = json!({
            "refund_id": "prop-r", "order_id": "prop-1", "store_id": "store-1", "currency": "USD",
            "created_at": (now() - Duration::minutes(minutes_ago)).to_rfc3339(),
            "amount": cents(amount)
        });
        if !lines.is_empty() {
            body["items"] = lines
                .iter()
                .enumerate()
                .map(|(i, (q, a))| json!({"sku": format!("sku-{i}"), "quantity": q, "amount": cents(*a)}))
                .collect();
        }
        let refund = parse_refund_json(body.to_string().as_bytes(), now(), Freshness::default())
            .map_err(|e| TestCaseError::fail(format!("refused {body}: {e}")))?;
        prop_assert_eq!(refund.amount().minor(), amount);
        let envelope = Envelope::new(refund, now());
        prop_assert_eq!(Envelope::from_json(&envelope.to_json()).unwrap(), envelope);
    }
}
