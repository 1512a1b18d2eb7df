//! Currency codes and their minor units, from ISO 4217 as published in the `iso_currency` crate:
//! a typo (`EUE`) is refused instead of opening a new revenue bucket, and every amount is counted
//! in its own currency's minor unit (EUR cents, whole yen, Kuwaiti fils).

use std::fmt;

use serde::Serialize;
use validator::ValidationError;

/// The most fraction digits any accepted currency has (KWD, BHD, OMR, …); views hold money at
/// this scale so that every currency's amounts are exact.
pub const MAX_EXPONENT: u32 = 3;

/// A currency a till can take money in: an ISO 4217 code with a minor unit, neither a fund code
/// (CLF, UYW, …) nor a special one (XAU, XXX, XTS, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Currency(iso_currency::Currency);

impl Currency {
    pub fn parse(code: &str) -> Result<Self, ValidationError> {
        let shaped = code.len() == 3 && code.bytes().all(|b| b.is_ascii_uppercase());
        if !shaped {
            return Err(ValidationError::new("currency").with_message(
                "must be a 3-letter upper-case ISO 4217 code such as \"EUR\"".into(),
            ));
        }
        iso_currency::Currency::from_code(code)
            .filter(|c| !c.is_fund() && !c.is_special())
            .filter(|c| c.exponent().is_some_and(|e| u32::from(e) <= MAX_EXPONENT))
            .map(Currency)
            .ok_or_else(|| {
                ValidationError::new("currency").with_message(
                    format!("{code:?} is not an ISO 4217 currency a till can take").into(),
                )
            })
    }

    pub fn as_str(&self) -> &'static str {
        self.0.code()
    }

    /// Digits after the decimal point of this currency's amounts: its minor unit is 10^-exponent.
    pub fn exponent(&self) -> u32 {
        self.0.exponent().map_or(0, u32::from)
    }
}

/// The exponent of a stored currency code, for code that reads money back from a store; `None`
/// for a code no order could carry.
pub fn exponent_of(code: &str) -> Option<u32> {
    Currency::parse(code).ok().map(|c| c.exponent())
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Currency {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_iso_codes_and_refuses_the_rest() {
        for ok in ["EUR", "USD", "JPY", "GBP", "AED", "ZWG", "KWD", "BHD"] {
            assert!(Currency::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "eur", "EU", "EURO", "EUE", "", "E1R", "ÉUR", "XAU", "XXX", "XTS", "CLF", "UYW",
        ] {
            assert_eq!(Currency::parse(bad).unwrap_err().code, "currency", "{bad}");
        }
    }

    #[test]
    fn exponents_follow_iso_4217() {
        for (code, exponent) in [("EUR", 2), ("USD", 2), ("JPY", 0), ("KRW", 0), ("KWD", 3)] {
            assert_eq!(exponent_of(code), Some(exponent), "{code}");
        }
        assert_eq!(exponent_of("XAU"), None);
    }
}
