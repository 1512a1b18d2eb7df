//! Field helpers for settings structs (`#[serde(with = …)]`, `#[serde(deserialize_with = …)]`):
//! bounds, durations, and values parsed from text. Their errors become the variable's
//! [`ConfigError`](super::ConfigError).

use std::fmt::Display;
use std::str::FromStr;
use std::time::Duration;

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serializer};

/// A whole number in `MIN..=MAX`, read as a `u64` (so never negative):
/// `#[serde(deserialize_with = "between::<1, 10_000, _, _>")]` on a field of any integer type
/// that holds the range.
pub fn between<'de, const MIN: u64, const MAX: u64, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: TryFrom<u64>,
{
    let value = within(u64::deserialize(deserializer)?, MIN, MAX).map_err(D::Error::custom)?;
    T::try_from(value).map_err(|_| D::Error::custom(out_of(MIN, MAX)))
}

/// `value` when it lies in `min..=max`, else what it must be.
pub(crate) fn within(value: u64, min: u64, max: u64) -> Result<u64, String> {
    if (min..=max).contains(&value) {
        Ok(value)
    } else {
        Err(out_of(min, max))
    }
}

fn out_of(min: u64, max: u64) -> String {
    format!("must be between {min} and {max}")
}

/// A [`Duration`] given in whole milliseconds, at least 1: `#[serde(with = "millis")]`.
pub mod millis {
    use super::*;

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        between::<1, { u64::MAX / 1000 }, D, u64>(deserializer).map(Duration::from_millis)
    }

    pub fn serialize<S: Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u64(duration.as_millis() as u64)
    }
}

/// A value read with `FromStr` and shown with `Display`: `#[serde(with = "text")]`.
pub mod text {
    use super::*;

    pub fn deserialize<'de, D, T>(deserializer: D) -> Result<T, D::Error>
    where
        D: Deserializer<'de>,
        T: FromStr,
        T::Err: Display,
    {
        let text = String::deserialize(deserializer)?;
        text.trim().parse().map_err(D::Error::custom)
    }

    pub fn serialize<S: Serializer, T: Display>(
        value: &T,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.collect_str(value)
    }
}
