//! Field checks every kind of event shares (orders, refunds and voids, in both wire forms): the
//! free-text rules, the event time, and naming the fields two versions differ in.

use std::time::Duration;

use chrono::{DateTime, Utc};
use validator::ValidationError;

use crate::errors::{Collector, FieldError};

/// How far an event's time may be from the ingest clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Freshness {
    pub max_future: Duration,
    pub max_age: Duration,
}

impl Default for Freshness {
    fn default() -> Self {
        Self {
            max_future: Duration::from_secs(5 * 60),
            max_age: Duration::from_secs(7 * 24 * 3600),
        }
    }
}

impl Freshness {
    pub(crate) fn check(
        &self,
        created_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<(), ValidationError> {
        let beyond = |code, how: &str, limit: Duration| {
            ValidationError::new(code).with_message(
                format!(
                    "is more than {} s {how} the server clock ({now})",
                    limit.as_secs()
                )
                .into(),
            )
        };
        let ahead = created_at.signed_duration_since(now);
        let behind = now.signed_duration_since(created_at);
        if ahead.to_std().is_ok_and(|d| d > self.max_future) {
            return Err(beyond("too_far_in_future", "ahead of", self.max_future));
        }
        if behind.to_std().is_ok_and(|d| d > self.max_age) {
            return Err(beyond("too_old", "older than", self.max_age));
        }
        Ok(())
    }
}

/// Longest product name, in characters.
const MAX_NAME_CHARS: usize = 200;

/// Checks a product name: 1..=200 characters, no control characters.
pub(crate) fn check_line_name(name: &str) -> Result<(), ValidationError> {
    check_text(name, 1)
}

/// Checks the reason of a refund or void: at most 200 characters, no control characters.
pub(crate) fn check_reason(reason: &str) -> Result<(), ValidationError> {
    check_text(reason, 0)
}

fn check_text(text: &str, min: usize) -> Result<(), ValidationError> {
    let len = text.chars().count();
    if len < min || len > MAX_NAME_CHARS {
        return Err(ValidationError::new("length").with_message(
            format!("must be {min} to {MAX_NAME_CHARS} characters long, got {len}").into(),
        ));
    }
    if text.chars().any(char::is_control) {
        return Err(ValidationError::new("charset")
            .with_message("must not contain control characters".into()));
    }
    Ok(())
}

/// The first instant an event time may have: ClickHouse's `DateTime` counts unsigned seconds from
/// the epoch.
fn earliest_storable() -> DateTime<Utc> {
    DateTime::UNIX_EPOCH
}

/// The last instant an event time may have: `u32::MAX` seconds after the epoch (2106-02-07).
fn latest_storable() -> DateTime<Utc> {
    DateTime::from_timestamp(i64::from(u32::MAX), 0).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// The error of an event time no store can hold as it is (one outside would be stored as 1970).
pub(crate) fn unstorable_time(at: Option<DateTime<Utc>>) -> Vec<FieldError> {
    at.filter(|at| !(earliest_storable()..=latest_storable()).contains(at))
        .map(|at| {
            FieldError::new(
                "created_at",
                "out_of_range",
                format!(
                    "must lie between {} and {}, the times the stores can hold; got {at}",
                    earliest_storable().to_rfc3339(),
                    latest_storable().to_rfc3339()
                ),
            )
        })
        .into_iter()
        .collect()
}

/// Reads an RFC 3339 event time and judges it against the ingest clock; a failure is recorded
/// under `created_at`.
pub(crate) fn event_time(
    errors: &mut Collector,
    text: &str,
    now: DateTime<Utc>,
    freshness: Freshness,
) -> Option<DateTime<Utc>> {
    errors
        .check(
            "created_at",
            DateTime::parse_from_rfc3339(text).map_err(|e| {
                ValidationError::new("timestamp").with_message(
                    format!("must be an RFC 3339 timestamp like 2026-11-22T10:15:30Z ({e})").into(),
                )
            }),
        )
        .map(|t| t.with_timezone(&Utc))
        .and_then(|t| {
            errors
                .check("created_at", freshness.check(t, now))
                .map(|()| t)
        })
}

/// The names of the fields whose values differ between two versions `$a` and `$b` of a record,
/// in the order listed; money is named as the POS sends it (`total`, not `total_minor`). The list
/// must name every field of the record: one added to the record but not here does not compile.
macro_rules! differing {
    ($a:expr, $b:expr; $record:ident { $($field:ident),+ $(,)? }) => {{
        let $record { $($field: _),+ } = $a;
        [$((stringify!($field).trim_end_matches("_minor"), $a.$field == $b.$field)),+]
            .into_iter()
            .filter(|(_, same)| !same)
            .map(|(name, _)| name)
            .collect()
    }};
}
pub(crate) use differing;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_bounded_and_printable() {
        assert!(check_line_name("Latte").is_ok());
        assert!(check_line_name(&"é".repeat(MAX_NAME_CHARS)).is_ok());
        assert_eq!(check_line_name("").unwrap_err().code, "length");
        assert_eq!(
            check_line_name(&"x".repeat(MAX_NAME_CHARS + 1))
                .unwrap_err()
                .code,
            "length"
        );
        assert_eq!(check_line_name("a\tb").unwrap_err().code, "charset");
    }
}
