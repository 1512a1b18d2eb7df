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
    ($(#[$doc:meta])* $name:ident, $max:expr) => {
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
    };
}

identifier!(
    /// The POS's identifier of an order; the idempotency key and the Kafka message key.
    OrderId, 64
);
identifier!(
    /// The POS's identifier of a refund; its idempotency key.
    RefundId, 64
);
identifier!(
    /// A shop.
    StoreId, 32
);
identifier!(
    /// A till within a shop.
    TerminalId, 64
);
identifier!(
    /// A loyalty/customer account.
    CustomerId, 64
);
identifier!(
    /// A stock-keeping unit (product code).
    Sku, 64
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

    #[test]
    fn length_counts_characters_not_bytes() {
        // 32 multi-byte characters are too many for a store id only because of the alphabet.
        let err = StoreId::parse("é".repeat(32)).unwrap_err();
        assert_eq!(err.code, "charset");
        assert_eq!(StoreId::parse("s".repeat(33)).unwrap_err().code, "length");
    }
}
