//! Identifiers: `order_id`, `store_id`, terminal, customer and SKU.
//!
//! All share one alphabet (`[A-Za-z0-9._:-]`) so they are safe as Kafka keys, Cassandra partition
//! keys and ClickHouse strings without escaping; each has its own maximum length.

use std::fmt;

use serde::Serialize;
use validator::ValidationError;

fn in_alphabet(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '-')
}

/// The alphabet as the API description states it (held to `in_alphabet` by a test).
pub const ID_PATTERN: &str = r"^[A-Za-z0-9._:-]+$";

/// An identifier's schema in the API description: a string of 1 to `max` characters of the
/// alphabet.
fn id_schema(max: usize, example: &str) -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    use utoipa::openapi::schema::{ObjectBuilder, Type};
    ObjectBuilder::new()
        .schema_type(Type::String)
        .min_length(Some(1))
        .max_length(Some(max))
        .pattern(Some(ID_PATTERN))
        .examples([example])
        .into()
}

/// Checks length (in characters, `1..=max`) and alphabet; the error codes are `length` and
/// `charset`.
fn check_identifier(value: &str, max: usize) -> Result<(), ValidationError> {
    let len = value.chars().count();
    if len == 0 || len > max {
        return Err(ValidationError::new("length")
            .with_message(format!("must be 1 to {max} characters long, got {len}").into()));
    }
    if let Some(bad) = value.chars().find(|c| !in_alphabet(*c)) {
        return Err(ValidationError::new("charset").with_message(
            format!("may only contain A-Z, a-z, 0-9, '.', '_', ':' and '-'; found {bad:?}").into(),
        ));
    }
    Ok(())
}

macro_rules! identifier {
    ($(#[$doc:meta])* $name:ident, $max:expr, $example:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub const MAX_LEN: usize = $max;

            /// Builds the identifier if `value` follows the rules.
            pub fn parse(value: impl Into<String>) -> Result<Self, ValidationError> {
                let value = value.into();
                check_identifier(&value, Self::MAX_LEN)?;
                Ok(Self(value))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        /// The API description's schema of this identifier; request fields that hold one
        /// (as text, so a bad one is a field error) name it with `value_type`.
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                id_schema(Self::MAX_LEN, $example)
            }
        }

        impl utoipa::ToSchema for $name {}
    };
}

identifier!(
    /// The POS's identifier of an order; the idempotency key and the Kafka message key.
    OrderId, 64, "pos-17-000123"
);
identifier!(
    /// The POS's identifier of a refund; its idempotency key.
    RefundId, 64, "pos-17-r-000045"
);
identifier!(
    /// A shop.
    StoreId, 32, "store-042"
);
identifier!(
    /// A till within a shop.
    TerminalId, 64, "till-3"
);
identifier!(
    /// A loyalty/customer account.
    CustomerId, 64, "c-9001"
);
identifier!(
    /// A stock-keeping unit (product code).
    Sku, 64, "sku-1"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_are_checked_on_both_sides() {
        let cases: &[(usize, usize, Option<&str>)] = &[
            (0, 64, Some("length")),
            (1, 64, None),
            (64, 64, None),
            (65, 64, Some("length")),
            (32, 32, None),
            (33, 32, Some("length")),
        ];
        for (len, max, expected) in cases {
            let value = "a".repeat(*len);
            let got = check_identifier(&value, *max)
                .err()
                .map(|e| e.code.to_string());
            assert_eq!(got.as_deref(), *expected, "len {len} max {max}");
        }
    }

    #[test]
    fn alphabet_is_enforced() {
        for ok in ["pos-17-000123", "A.b_c:d-9"] {
            assert!(OrderId::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["pos 17", "pos/17", "é", "a;b", "a\n"] {
            let err = OrderId::parse(bad).unwrap_err();
            assert_eq!(err.code, "charset", "{bad}");
        }
    }

    /// The pattern the API description gives clients accepts exactly the characters the
    /// service does.
    #[test]
    fn the_described_pattern_is_the_checked_alphabet() {
        let pattern = regex::Regex::new(ID_PATTERN).expect("a valid pattern");
        for c in (0u32..0x3000).filter_map(char::from_u32) {
            assert_eq!(
                pattern.is_match(&c.to_string()),
                in_alphabet(c),
                "{c:?} (U+{:04X})",
                c as u32
            );
        }
    }

    /// Every id field of every request states the id's own schema in the API description: the
    /// alphabet's pattern and the type's maximum length.
    #[test]
    fn request_schemas_take_the_id_rules_from_the_id_types() {
        use utoipa::PartialSchema;
        let schemas = [
            serde_json::to_value(crate::request::OrderRequest::schema()),
            serde_json::to_value(crate::request::LineRequest::schema()),
            serde_json::to_value(crate::refund::RefundRequest::schema()),
            serde_json::to_value(crate::refund::RefundLineRequest::schema()),
            serde_json::to_value(crate::refund::VoidRequest::schema()),
        ];
        let max = |field: &str| match field {
            "store_id" => StoreId::MAX_LEN,
            _ => OrderId::MAX_LEN,
        };
        let mut checked = 0;
        for schema in schemas {
            let schema = schema.expect("a schema serialises");
            let properties = schema["properties"].as_object().expect("properties");
            for (field, property) in properties {
                if !(field.ends_with("_id") || field == "sku") {
                    continue;
                }
                // An optional id is `oneOf` null and the id's schema.
                let id = property["oneOf"]
                    .as_array()
                    .and_then(|choices| choices.iter().find(|c| c.get("pattern").is_some()))
                    .unwrap_or(property);
                assert_eq!(id["pattern"], ID_PATTERN, "{field}: {property}");
                assert_eq!(id["maxLength"], max(field), "{field}: {property}");
                assert_eq!(id["minLength"], 1, "{field}: {property}");
                checked += 1;
            }
        }
        // order: order, store, terminal, customer; line: sku; refund: refund, order, store;
        // refund line: sku; void: store.
        assert_eq!(checked, 10);
    }

    #[test]
    fn length_counts_characters_not_bytes() {
        // 32 multi-byte characters are too many for a store id only because of the alphabet.
        let err = StoreId::parse("é".repeat(32)).unwrap_err();
        assert_eq!(err.code, "charset");
        assert_eq!(StoreId::parse("s".repeat(33)).unwrap_err().code, "length");
    }
}
