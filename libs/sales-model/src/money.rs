//! Money: integer minor units of the order's currency (ISO 4217: EUR cents, whole yen, Kuwaiti
//! fils), never floating point.
//!
//! POS systems send decimals as JSON strings (`"3.50"`) or numbers (`3.5`); both are read from
//! their exact text into an [`Exact`], which becomes an [`Amount`] once the currency is known, so
//! `0.1 + 0.2` problems cannot arise anywhere in the pipeline.

use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::currency::MAX_EXPONENT;

/// The most fraction digits a decimal may be written with before it is refused outright.
const MAX_WRITTEN_DIGITS: u32 = 9;

/// An amount of money in minor units of its currency. The currency lives on the order.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Amount(pub(crate) i64);

/// A non-negative decimal exactly as written: `units` × 10^-`scale`, where `scale` is the number
/// of fraction digits given. Not yet money: that takes a currency ([`Exact::in_minor_units`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exact {
    units: i64,
    scale: u32,
}

/// Why a decimal was refused; each maps to the stable error code of [`MoneyError::code`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("must be a decimal number like \"3.50\" (string or JSON number)")]
    Format,
    #[error("{}", precision_message(*.currency, *.allowed))]
    Precision {
        /// The currency whose minor unit the amount is finer than, when the order names a valid one.
        currency: Option<&'static str>,
        allowed: u32,
    },
    #[error("must not be negative")]
    Negative,
    #[error("is too large")]
    Overflow,
}

fn precision_message(currency: Option<&str>, allowed: u32) -> String {
    match (currency, allowed) {
        (Some(code), 0) => format!("{code} amounts have no digits after the decimal point"),
        (Some(code), n) => {
            format!("{code} amounts have at most {n} digits after the decimal point")
        }
        (None, n) => format!("must have at most {n} digits after the decimal point"),
    }
}

impl MoneyError {
    pub fn code(&self) -> &'static str {
        match self {
            MoneyError::Format => "money_format",
            MoneyError::Precision { .. } => "money_precision",
            MoneyError::Negative => "negative",
            MoneyError::Overflow => "overflow",
        }
    }
}

impl Amount {
    pub const ZERO: Amount = Amount(0);

    /// An amount from minor units; refused when negative (no amount in an order is negative).
    pub fn from_minor(minor: i64) -> Result<Self, MoneyError> {
        if minor < 0 {
            return Err(MoneyError::Negative);
        }
        Ok(Amount(minor))
    }

    pub fn minor(self) -> i64 {
        self.0
    }

    pub fn checked_add(self, other: Amount) -> Option<Amount> {
        self.0.checked_add(other.0).map(Amount)
    }

    pub fn checked_mul(self, factor: i64) -> Option<Amount> {
        self.0.checked_mul(factor).map(Amount)
    }
}

impl Exact {
    /// `units` × 10^-`scale`, e.g. minor units read back from a message; refused when negative.
    pub fn new(units: i64, scale: u32) -> Result<Self, MoneyError> {
        if units < 0 {
            return Err(MoneyError::Negative);
        }
        Ok(Exact { units, scale })
    }

    /// Plain decimal text: optional `-`, digits, optionally `.` and at least one digit. Negative
    /// values parse (so the error can say "negative" rather than "format") and are then refused.
    pub fn parse(text: &str) -> Result<Self, MoneyError> {
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
        let scale = fraction.len() as u32;
        if scale > MAX_WRITTEN_DIGITS {
            return Err(MoneyError::Precision {
                currency: None,
                allowed: MAX_EXPONENT,
            });
        }
        let units = format!("{whole}{fraction}")
            .parse::<u64>()
            .ok()
            .and_then(|u| i64::try_from(u).ok())
            .ok_or(MoneyError::Overflow)?;
        if negative && units != 0 {
            return Err(MoneyError::Negative);
        }
        Ok(Exact { units, scale })
    }

    /// The same value written with no trailing fraction zeros (`150.00` → `150`), as a reader of
    /// amounts recorded at a finer scale than their currency's needs.
    pub fn trimmed(self) -> Self {
        let mut exact = self;
        while exact.scale > 0 && exact.units % 10 == 0 {
            exact.units /= 10;
            exact.scale -= 1;
        }
        exact
    }

    /// In minor units of a currency with `exponent` fraction digits (named `currency` in the
    /// error); written with more digits than that is [`MoneyError::Precision`].
    pub fn in_minor_units(
        self,
        exponent: u32,
        currency: Option<&'static str>,
    ) -> Result<Amount, MoneyError> {
        if self.scale > exponent {
            return Err(MoneyError::Precision {
                currency,
                allowed: exponent,
            });
        }
        10i64
            .checked_pow(exponent - self.scale)
            .and_then(|factor| self.units.checked_mul(factor))
            .map(Amount)
            .ok_or(MoneyError::Overflow)
    }
}

/// Minor units of a currency with `exponent` fraction digits as decimal text at that scale:
/// `650` EUR (2) is `6.50`, `650` JPY (0) is `650`, `6500` KWD (3) is `6.500`. Negative values get
/// a `-`.
pub fn format_minor(minor: i64, exponent: u32) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    let abs = minor.unsigned_abs();
    if exponent == 0 {
        return format!("{sign}{abs}");
    }
    let scale = 10u64.pow(exponent);
    format!(
        "{sign}{}.{:0width$}",
        abs / scale,
        abs % scale,
        width = exponent as usize
    )
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
                    .pattern(Some(r"^[0-9]+(\.[0-9]{1,3})?$")),
            )
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::Number)
                    .minimum(Some(0.0)),
            )
            .description(Some(
                "Money: a decimal string or JSON number, not negative, with at most as many fraction digits as the order's currency has in ISO 4217 (EUR 2, JPY 0, KWD 3).",
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
    pub fn parse(&self) -> Result<Exact, MoneyError> {
        Exact::parse(&self.0)
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

    fn cents(text: &str) -> Result<i64, MoneyError> {
        Exact::parse(text)?
            .in_minor_units(2, Some("EUR"))
            .map(Amount::minor)
    }

    #[test]
    fn parses_decimals_exactly() {
        let eur = Err(MoneyError::Precision {
            currency: Some("EUR"),
            allowed: 2,
        });
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
            ("92233720368547759", Err(MoneyError::Overflow)),
            ("99999999999999999999999", Err(MoneyError::Overflow)),
            ("3.505", eur.clone()),
            ("3.500", eur),
            (
                "3.1234567891",
                Err(MoneyError::Precision {
                    currency: None,
                    allowed: 3,
                }),
            ),
            ("-0.01", Err(MoneyError::Negative)),
            ("-3", Err(MoneyError::Negative)),
        ];
        for (text, expected) in cases {
            assert_eq!(&cents(text), expected, "{text:?}");
        }
        let not_decimals = [
            "", "3.", ".5", "+3", "3,50", "1e2", "3.5e0", " 3", "true", "NaN",
        ];
        for text in not_decimals {
            assert_eq!(cents(text), Err(MoneyError::Format), "{text:?}");
        }
    }

    #[test]
    fn minor_units_follow_the_currency_exponent() {
        let yen = |t: &str| Exact::parse(t).unwrap().in_minor_units(0, Some("JPY"));
        let fils = |t: &str| Exact::parse(t).unwrap().in_minor_units(3, Some("KWD"));
        assert_eq!(yen("1500"), Ok(Amount(1500)));
        assert_eq!(
            yen("1500.0").unwrap_err().to_string(),
            "JPY amounts have no digits after the decimal point"
        );
        assert_eq!(fils("1.234"), Ok(Amount(1234)));
        assert_eq!(fils("1.2"), Ok(Amount(1200)));
        assert_eq!(fils("1"), Ok(Amount(1000)));
        assert_eq!(
            fils("1.2345").unwrap_err().to_string(),
            "KWD amounts have at most 3 digits after the decimal point"
        );
        // Hundredths recorded for yen convert when they are whole yen, and only then.
        let recorded = |minor| Exact::new(minor, 2).unwrap().trimmed();
        assert_eq!(recorded(150_000).in_minor_units(0, None), Ok(Amount(1500)));
        assert_eq!(recorded(150).in_minor_units(3, None), Ok(Amount(1500)));
        assert!(recorded(150_050).in_minor_units(0, None).is_err());
        assert_eq!(Exact::new(-1, 2), Err(MoneyError::Negative));
    }

    #[test]
    fn json_strings_and_numbers_read_the_same() {
        for (json, minor) in [("\"3.50\"", 350), ("3.50", 350), ("3.5", 350), ("7", 700)] {
            let input: DecimalInput = serde_json::from_str(json).unwrap();
            let parsed = input.parse().and_then(|e| e.in_minor_units(2, None));
            assert_eq!(parsed, Ok(Amount(minor)), "{json}");
        }
        // A float that has no exact binary form still reads exactly.
        let input: DecimalInput = serde_json::from_str("0.29").unwrap();
        assert_eq!(
            input.parse(),
            Ok(Exact {
                units: 29,
                scale: 2
            })
        );
        let input: DecimalInput = serde_json::from_str("{}").unwrap();
        assert_eq!(input.parse(), Err(MoneyError::Format));
    }

    #[test]
    fn formats_at_the_currency_scale() {
        assert_eq!(format_minor(0, 2), "0.00");
        assert_eq!(format_minor(5, 2), "0.05");
        assert_eq!(format_minor(650, 2), "6.50");
        assert_eq!(format_minor(-650, 2), "-6.50");
        assert_eq!(format_minor(123456789, 2), "1234567.89");
        assert_eq!(format_minor(1500, 0), "1500");
        assert_eq!(format_minor(1234, 3), "1.234");
        assert_eq!(format_minor(5, 3), "0.005");
    }
}
