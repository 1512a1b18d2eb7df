//! Properties of refund and void parsing over generated input: it never panics, every refusal
//! names its fields with stable codes, and every refund a till could validly send is accepted and
//! survives the Kafka envelope unchanged.

use chrono::{DateTime, Duration, Utc};
use proptest::prelude::*;
use sales_model::{parse_refund_json, parse_void_json, Envelope, Freshness, ParseError};
use serde_json::{json, Value};

fn now() -> DateTime<Utc> {
    "2026-11-22T12:00:00Z".parse().unwrap()
}

/// Every refusal is either broken JSON or a non-empty list of named fields with codes.
fn named<T>(result: &Result<T, ParseError>) -> bool {
    match result {
        Ok(_) | Err(ParseError::Syntax(_)) => true,
        Err(ParseError::Invalid(errors)) => {
            !errors.errors.is_empty()
                && errors
                    .errors
                    .iter()
                    .all(|e| !e.field.is_empty() && !e.code.is_empty() && !e.message.is_empty())
        }
    }
}

/// Any JSON value, a few levels deep, with decimal-looking strings among the leaves.
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

fn valid_refund() -> Value {
    json!({
        "refund_id": "r-1", "order_id": "o-1", "store_id": "store-042", "currency": "EUR",
        "created_at": "2026-11-22T11:15:30Z",
        "items": [{"sku": "sku-1", "quantity": 1, "amount": "3.50"}],
        "amount": "3.50", "reason": "damaged"
    })
}

const REFUND_FIELDS: &str = "refund_id order_id store_id currency created_at items amount reason";

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        prop_assert!(named(&parse_refund_json(&bytes, now(), Freshness::default())));
        prop_assert!(named(&parse_void_json("o-1", &bytes, now(), Freshness::default())));
    }

    #[test]
    fn arbitrary_json_and_path_ids_never_panic(value in any_json(), order_id in ".{0,80}") {
        let body = value.to_string();
        prop_assert!(named(&parse_refund_json(body.as_bytes(), now(), Freshness::default())));
        prop_assert!(named(&parse_void_json(&order_id, body.as_bytes(), now(), Freshness::default())));
    }

    #[test]
    fn one_refund_field_replaced_by_anything_is_accepted_or_named(field in 0..8usize, replacement in any_json()) {
        let field = REFUND_FIELDS.split(' ').nth(field).unwrap();
        let mut refund = valid_refund();
        refund[field] = replacement;
        let result = parse_refund_json(refund.to_string().as_bytes(), now(), Freshness::default());
        prop_assert!(named(&result));
        if let Err(ParseError::Invalid(errors)) = &result {
            // The amount check names `amount` when the items change what they add up to.
            prop_assert!(
                errors.errors.iter().any(|e| e.field.starts_with(field) || e.field == "amount" || e.field == "body"),
                "{} replaced, but the errors name {:?}", field, errors.errors
            );
        }
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
