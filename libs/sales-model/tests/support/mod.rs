//! What the contract's tests share: the ingest clock they parse at, valid requests edited one
//! field at a time, and refusals read as `(field, code)` pairs.
// Each test file uses its own part of this module.
#![allow(dead_code)]

use chrono::{DateTime, Utc};
use sales_model::ParseError;
use serde_json::Value;

/// The ingest clock every request is judged against.
pub fn now() -> DateTime<Utc> {
    "2026-11-22T12:00:00Z".parse().unwrap()
}

/// The `(field, code)` pairs of a refusal, or `None` when the request is accepted.
pub type Failures = Option<Vec<(String, String)>>;

/// What a parse answered, as [`Failures`]; broken JSON is not expected here.
pub fn failures_of<T>(parsed: Result<T, ParseError>) -> Failures {
    match parsed {
        Ok(_) => None,
        Err(ParseError::Invalid(errors)) => Some(
            errors
                .errors
                .into_iter()
                .map(|e| (e.field, e.code))
                .collect(),
        ),
        Err(ParseError::Syntax(e)) => panic!("unexpected syntax error: {e}"),
    }
}

/// A refusal naming these `(field, code)` pairs.
pub fn failing(pairs: &[(&str, &str)]) -> Failures {
    Some(
        pairs
            .iter()
            .map(|(field, code)| (field.to_string(), code.to_string()))
            .collect(),
    )
}

/// A refusal naming exactly one field.
pub fn one(field: &str, code: &str) -> Failures {
    failing(&[(field, code)])
}

/// `base` changed by `edit`.
pub fn with(base: Value, edit: impl FnOnce(&mut Value)) -> Value {
    let mut value = base;
    edit(&mut value);
    value
}

/// `base` with the value at `path` (a JSON pointer such as `/items/0/sku`) replaced, or added to
/// its object.
pub fn set(base: Value, path: &str, value: impl Into<Value>) -> Value {
    with(base, |v| {
        let (parent, key) = path.rsplit_once('/').expect("a JSON pointer");
        match v.pointer_mut(parent).expect("the parent exists") {
            Value::Array(items) => items[key.parse::<usize>().expect("an index")] = value.into(),
            object => object[key] = value.into(),
        }
    })
}

/// `base` without the member at `path` (a JSON pointer such as `/items/0/sku`).
pub fn without(base: Value, path: &str) -> Value {
    with(base, |v| {
        let (parent, key) = path.rsplit_once('/').expect("a JSON pointer");
        let object = v.pointer_mut(parent).and_then(Value::as_object_mut);
        object.expect("an object").remove(key);
    })
}

/// The name a refusal gives the field at a JSON pointer: `/items/0/sku` is `items[0].sku`.
pub fn field_of(path: &str) -> String {
    path.split('/')
        .skip(1)
        .fold(String::new(), |name, part| match part.parse::<usize>() {
            Ok(i) => format!("{name}[{i}]"),
            Err(_) if name.is_empty() => part.to_string(),
            Err(_) => format!("{name}.{part}"),
        })
}

/// A time `seconds` away from [`now`] (ahead when positive), as a POS writes it.
pub fn seconds(seconds: i64) -> Value {
    Value::from((now() + chrono::Duration::seconds(seconds)).to_rfc3339())
}

/// Seconds in a day.
pub const DAY: i64 = 24 * 3600;

/// The rows of a rule table as `(name, input, failures)`. Each of `fields` is `(path, value,
/// code)`: `base()` with the field at `path` set to `value`, refused with `code` on that field
/// (`None`: accepted); `others` are rows already.
pub fn rule_cases(
    base: fn() -> Value,
    fields: Vec<(&str, Value, Option<&str>)>,
    others: Vec<(&str, Value, Failures)>,
) -> Vec<(String, Value, Failures)> {
    let fields = fields.into_iter().map(|(path, value, code)| {
        let name = format!("{path} = {value}");
        let expected = code.map(|code| vec![(field_of(path), code.to_string())]);
        (name, set(base(), path, value), expected)
    });
    let others = others
        .into_iter()
        .map(|(name, input, expected)| (name.to_string(), input, expected));
    fields.chain(others).collect()
}
