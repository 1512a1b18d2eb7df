//! The business day (DESIGN.md §6b): the date an event's `created_at` falls on in the shops' time
//! zone, `BUSINESS_TIME_ZONE`. Every store and API takes its days from [`BusinessZone::day_of`],
//! so an order a minute before local midnight and one a minute after land on different days
//! everywhere.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, Offset, TimeZone, Utc};
use chrono_tz::Tz;

/// An IANA time zone (`Europe/Berlin`, `Asia/Kolkata`, `UTC`) in which days begin and end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BusinessZone(Tz);

impl Default for BusinessZone {
    fn default() -> Self {
        BusinessZone(Tz::UTC)
    }
}

impl FromStr for BusinessZone {
    type Err = String;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        name.parse::<Tz>().map(BusinessZone).map_err(|_| {
            format!("{name:?} is not an IANA time zone name such as \"Europe/Berlin\" or \"UTC\"")
        })
    }
}

impl fmt::Display for BusinessZone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl BusinessZone {
    /// The IANA name, as ClickHouse's time functions take it.
    pub fn name(&self) -> &'static str {
        self.0.name()
    }

    /// The business day `at` falls on.
    pub fn day_of(&self, at: DateTime<Utc>) -> NaiveDate {
        at.with_timezone(&self.0).date_naive()
    }

    /// Epoch seconds (as a store returns them) as RFC 3339 text at the zone's offset:
    /// `2026-11-22T00:00:00+05:30`, or `…Z` in UTC; text that is no epoch is returned as it is.
    pub fn local_text(&self, epoch_seconds: &str) -> String {
        epoch_seconds
            .parse::<i64>()
            .ok()
            .and_then(|s| DateTime::from_timestamp(s, 0))
            .map_or_else(
                || epoch_seconds.to_string(),
                |t| {
                    t.with_timezone(&self.0)
                        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                },
            )
    }

    /// Checks that windows of `window_seconds`, aligned to multiples of their size since the
    /// epoch, never straddle a business midnight: the size must divide every offset from UTC the
    /// zone has had since 1970 (Asia/Kolkata's +05:30 takes 60 s or 30 min windows, not 1 h).
    pub fn check_window(&self, window_seconds: u32) -> Result<(), String> {
        const QUARTER_DAY: i64 = 6 * 3600;
        let last = Utc
            .with_ymd_and_hms(2106, 2, 7, 0, 0, 0)
            .single()
            .unwrap_or_default();
        let mut at = DateTime::<Utc>::UNIX_EPOCH;
        while at < last {
            let offset = self.0.offset_from_utc_datetime(&at.naive_utc()).fix();
            let seconds = offset.local_minus_utc();
            if seconds.rem_euclid(window_seconds as i32) != 0 {
                return Err(format!(
                    "windows of {window_seconds} s would straddle midnight in {}, whose offset from UTC is {offset} on {}; pick a size that divides it, e.g. 60 or 900",
                    self.name(),
                    at.date_naive()
                ));
            }
            at += chrono::Duration::seconds(QUARTER_DAY);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    fn day(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    #[test]
    fn days_begin_at_local_midnight() {
        let kolkata: BusinessZone = "Asia/Kolkata".parse().unwrap();
        // Local midnight of 22 November is 18:30 UTC on the 21st.
        assert_eq!(
            kolkata.day_of(at("2026-11-21T18:29:00Z")),
            day("2026-11-21")
        );
        assert_eq!(
            kolkata.day_of(at("2026-11-21T18:30:00Z")),
            day("2026-11-22")
        );
        let berlin: BusinessZone = "Europe/Berlin".parse().unwrap();
        // Summer time (+02:00) ends on Sunday 25 October 2026; the next midnight is at +01:00.
        assert_eq!(berlin.day_of(at("2026-10-24T21:59:00Z")), day("2026-10-24"));
        assert_eq!(berlin.day_of(at("2026-10-24T22:00:00Z")), day("2026-10-25"));
        assert_eq!(berlin.day_of(at("2026-10-25T22:59:00Z")), day("2026-10-25"));
        assert_eq!(berlin.day_of(at("2026-10-25T23:00:00Z")), day("2026-10-26"));
        assert_eq!(
            kolkata.local_text("1795285800"),
            "2026-11-22T00:00:00+05:30"
        );
        let utc = BusinessZone::default();
        assert_eq!(utc.local_text("1795341600"), "2026-11-22T10:00:00Z");
        assert_eq!(utc.local_text("x"), "x");
        assert_eq!(utc.day_of(at("2026-11-21T23:59:59Z")), day("2026-11-21"));
        assert_eq!(utc.name(), "UTC");
    }

    #[test]
    fn only_iana_names_are_zones() {
        for bad in ["", "CEST", "Europe/Berlinn", "+05:30", "utc "] {
            assert!(bad.parse::<BusinessZone>().is_err(), "{bad:?}");
        }
        assert!("UTC".parse::<BusinessZone>().is_ok());
    }

    #[test]
    fn windows_must_divide_every_offset() {
        let kolkata: BusinessZone = "Asia/Kolkata".parse().unwrap();
        assert!(kolkata.check_window(60).is_ok());
        assert!(kolkata.check_window(1800).is_ok());
        let refused = kolkata.check_window(3600).unwrap_err();
        assert!(refused.contains("+05:30"), "{refused}");
        let berlin: BusinessZone = "Europe/Berlin".parse().unwrap();
        assert!(berlin.check_window(3600).is_ok());
        assert!(berlin.check_window(7200).is_err());
        assert!(BusinessZone::default().check_window(86_400).is_ok());
    }
}
