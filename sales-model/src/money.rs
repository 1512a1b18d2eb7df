//! Money: integer minor units (hundredths of the currency unit), never floating point.
//!
//! POS systems send decimals as JSON strings (`"3.50"`) or numbers (`3.5`); both are read from
//! their exact text, so `0.1 + 0.2` problems cannot arise anywhere in the pipeline.

use std::fmt;

use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// Digits after the decimal point that minor units represent.
pub const FRACTION_DIGITS: u32 = 2;
const SCALE: i64 = 10i64.pow(FRACTION_DIGITS);

/// An amount of money in minor units (cents). The currency lives on the order.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Amount(pub(crate) i64);

/// Why a decimal was refused; each maps to the stable error code of [`MoneyError::code`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("must be a decimal number like \"3.50\" (string or JSON number)")]
    Format,
    #[error("must have at most {FRACTION_DIGITS} digits after the decimal point")]
    Precision,
    #[error("must not be negative")]
    Negative,
    #[error("is too large")]
    Overflow,
}

impl MoneyError {
    pub fn code(&self) -> &'static str {
        match self {
            MoneyError::Format => "money_format",
            MoneyError::Precision => "money_precision",
            MoneyError::Negative => "negative",
            MoneyError::Overflow => "overflow",
        }
    }
}

impl Amount {
    pub const ZERO: Amount = Amount(0);

    /// An amount from minor units; `None` when negative (no amount in an order is negative).
    pub fn from_minor(minor: i64) -> Result<Self, MoneyError> {
        if minor < 0 {
            return Err(MoneyError::Negative);
        }
        Ok(Amount(minor))
    }

    pub fn minor(self) -> i64 {
        self.0
    }

    /// Parses plain decimal text: optional `-`, digits, optionally `.` and 1–2 digits.
    /// Negative values parse (so the error can say "negative" rather than "format") and are then
    /// refused.
    pub fn parse_decimal(text: &str) -> Result<Self, MoneyError> {
        let (negative, unsigned) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let (whole, fraction) = match unsigned.split_once('.') {
            Some((whole, fraction)) => (whole, fraction),
            None => (unsigned, ""),
        };
        let digits_only = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty() || !digits_only(whole) || !digits_only(fraction) {
            return Err(MoneyError::Format);
        }
        if unsigned.contains('.') && fraction.is_empty() {
            return Err(MoneyError::Format);
        }
        if fraction.len() > FRACTION_DIGITS as usize {
            return Err(MoneyError::Precision);
        }
        let whole: i64 = whole.parse().map_err(|_| MoneyError::Overflow)?;
        let mut fraction_minor: i64 = 0;
        for (i, digit) in fraction.bytes().enumerate() {
            fraction_minor += i64::from(digit - b'0') * 10i64.pow(FRACTION_DIGITS - 1 - i as u32);
        }
        let minor = whole
            .checked_mul(SCALE)
            .and_then(|w| w.checked_add(fraction_minor))
            .ok_or(MoneyError::Overflow)?;
        if negative && minor != 0 {
            return Err(MoneyError::Negative);
        }
        Ok(Amount(minor))
    }

    pub fn checked_add(self, other: Amount) -> Option<Amount> {
        self.0.checked_add(other.0).map(Amount)
    }

    pub fn checked_mul(self, factor: i64) -> Option<Amount> {
        self.0.checked_mul(factor).map(Amount)
    }
}

impl fmt::Display for Amount {
    /// Decimal text with exactly two fraction digits, e.g. `6.50`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_minor(self.0))
    }
}

/// Minor units as decimal text with two fraction digits; negative values get a `-`.
pub fn format_minor(minor: i64) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    let abs = minor.unsigned_abs();
    let scale = SCALE as u64;
    format!("{sign}{}.{:02}", abs / scale, abs % scale)
}

/// A decimal exactly as the client sent it: the text of a JSON number, or the content of a JSON
/// string. Kept raw so that a malformed amount is a field error (`items[0].unit_price`), not a
/// failure of the whole document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecimalInput(String);

/// The API document's `Decimal`: what a client may send for an amount.
impl utoipa::PartialSchema for DecimalInput {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Type};
        OneOfBuilder::new()
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .pattern(Some(r"^[0-9]+(\.[0-9]{1,2})?$")),
            )
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::Number)
                    .minimum(Some(0.0)),
            )
            .description(Some(
                "Money: a decimal string or JSON number, not negative, with at most 2 fraction digits.",
            ))
            .examples(["3.50"])
            .into()
    }
}

impl utoipa::ToSchema for DecimalInput {
    fn name() -> std::borrow::Cow<'static, str> {
        "Decimal".into()
    }
}

impl DecimalInput {
    pub fn parse(&self) -> Result<Amount, MoneyError> {
        Amount::parse_decimal(&self.0)
    }
}

impl Serialize for DecimalInput {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for DecimalInput {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = Box::<RawValue>::deserialize(deserializer)?;
        let text = raw.get();
        if text.starts_with('"') {
            let content: String = serde_json::from_str(text).map_err(de::Error::custom)?;
            Ok(DecimalInput(content))
        } else {
            // A JSON number's exact text; anything else (true, {}, []) fails the decimal check.
            Ok(DecimalInput(text.to_string()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_decimals_exactly() {
        let cases: &[(&str, Result<i64, MoneyError>)] = &[
            ("0", Ok(0)),
            ("0.00", Ok(0)),
            ("-0", Ok(0)),
            ("3", Ok(300)),
            ("3.5", Ok(350)),
            ("3.50", Ok(350)),
            ("3.05", Ok(305)),
            ("0.01", Ok(1)),
            ("0.1", Ok(10)),
            ("1234567.89", Ok(123456789)),
            ("92233720368547758.07", Ok(i64::MAX)),
            ("92233720368547758.08", Err(MoneyError::Overflow)),
            ("99999999999999999999999", Err(MoneyError::Overflow)),
            ("3.505", Err(MoneyError::Precision)),
            ("3.500", Err(MoneyError::Precision)),
            ("-0.01", Err(MoneyError::Negative)),
            ("-3", Err(MoneyError::Negative)),
            ("", Err(MoneyError::Format)),
            ("3.", Err(MoneyError::Format)),
            (".5", Err(MoneyError::Format)),
            ("+3", Err(MoneyError::Format)),
            ("3,50", Err(MoneyError::Format)),
            ("1e2", Err(MoneyError::Format)),
            ("3.5e0", Err(MoneyError::Format)),
            (" 3", Err(MoneyError::Format)),
            ("true", Err(MoneyError::Format)),
            ("NaN", Err(MoneyError::Format)),
        ];
        for (text, expected) in cases {
            let got = Amount::parse_decimal(text).map(Amount::minor);
            assert_eq!(&got, expected, "{text:?}");
        }
    }

    #[test]
    fn json_strings_and_numbers_read_the_same() {
        for (json, minor) in [("\"3.50\"", 350), ("3.50", 350), ("3.5", 350), ("7", 700)] {
            let input: DecimalInput = serde_json::from_str(json).unwrap();
            assert_eq!(input.parse(), Ok(Amount(minor)), "{json}");
        }
        // A float that has no exact binary form still reads exactly.
        let input: DecimalInput = serde_json::from_str("0.29").unwrap();
        assert_eq!(input.parse(), Ok(Amount(29)));
        let input: DecimalInput = serde_json::from_str("{}").unwrap();
        assert_eq!(input.parse(), Err(MoneyError::Format));
    }

    #[test]
    fn displays_two_fraction_digits() {
        assert_eq!(Amount(0).to_string(), "0.00");
        assert_eq!(Amount(5).to_string(), "0.05");
        assert_eq!(Amount(650).to_string(), "6.50");
        assert_eq!(Amount(123456789).to_string(), "1234567.89");
    }

    #[test]
    fn minor_units_must_not_be_negative() {
        assert_eq!(Amount::from_minor(-1), Err(MoneyError::Negative));
        assert_eq!(Amount::from_minor(0), Ok(Amount::ZERO));
    }
}
