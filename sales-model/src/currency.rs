//! Currency codes: ISO 4217, so a typo (`EUE`) is refused instead of opening a new revenue bucket.

use std::fmt;

use serde::Serialize;
use validator::ValidationError;

/// Active ISO 4217 alphabetic codes.
const ISO_4217: &[&str] = &[
    "AED", "AFN", "ALL", "AMD", "ANG", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT",
    "BGN", "BHD", "BIF", "BMD", "BND", "BOB", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD", "CAD",
    "CDF", "CHF", "CLP", "CNY", "COP", "CRC", "CUP", "CVE", "CZK", "DJF", "DKK", "DOP", "DZD",
    "EGP", "ERN", "ETB", "EUR", "FJD", "FKP", "GBP", "GEL", "GHS", "GIP", "GMD", "GNF", "GTQ",
    "GYD", "HKD", "HNL", "HTG", "HUF", "IDR", "ILS", "INR", "IQD", "IRR", "ISK", "JMD", "JOD",
    "JPY", "KES", "KGS", "KHR", "KMF", "KPW", "KRW", "KWD", "KYD", "KZT", "LAK", "LBP", "LKR",
    "LRD", "LSL", "LYD", "MAD", "MDL", "MGA", "MKD", "MMK", "MNT", "MOP", "MRU", "MUR", "MVR",
    "MWK", "MXN", "MYR", "MZN", "NAD", "NGN", "NIO", "NOK", "NPR", "NZD", "OMR", "PAB", "PEN",
    "PGK", "PHP", "PKR", "PLN", "PYG", "QAR", "RON", "RSD", "RUB", "RWF", "SAR", "SBD", "SCR",
    "SDG", "SEK", "SGD", "SHP", "SLE", "SOS", "SRD", "SSP", "STN", "SVC", "SYP", "SZL", "THB",
    "TJS", "TMT", "TND", "TOP", "TRY", "TTD", "TWD", "TZS", "UAH", "UGX", "USD", "UYU", "UZS",
    "VES", "VND", "VUV", "WST", "XAF", "XCD", "XCG", "XOF", "XPF", "YER", "ZAR", "ZMW", "ZWG",
];

/// A valid ISO 4217 currency code.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Currency(String);

impl Currency {
    pub fn parse(code: &str) -> Result<Self, ValidationError> {
        check_currency(code)?;
        Ok(Currency(code.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

pub(crate) fn check_currency(code: &str) -> Result<(), ValidationError> {
    let shaped = code.len() == 3 && code.bytes().all(|b| b.is_ascii_uppercase());
    if !shaped {
        return Err(ValidationError::new("currency")
            .with_message("must be a 3-letter upper-case ISO 4217 code such as \"EUR\"".into()));
    }
    if ISO_4217.binary_search(&code).is_err() {
        return Err(ValidationError::new("currency")
            .with_message(format!("{code:?} is not an ISO 4217 currency code").into()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_code_list_is_sorted_for_binary_search() {
        assert!(ISO_4217.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn accepts_iso_codes_and_refuses_the_rest() {
        for ok in ["EUR", "USD", "JPY", "GBP", "AED", "ZWG"] {
            assert!(Currency::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["eur", "EU", "EURO", "EUE", "", "E1R", "ÉUR"] {
            assert_eq!(Currency::parse(bad).unwrap_err().code, "currency", "{bad}");
        }
    }
}
