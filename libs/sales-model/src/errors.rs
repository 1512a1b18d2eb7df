//! Field-level errors: what a POS gets back in a 422 and what a DLQ header names.
//!
//! Each error carries the JSON path of the field (`items[0].quantity`), a stable machine-readable
//! `code` clients can switch on, and a human-readable message.

use std::borrow::Cow;
use std::fmt;

use serde::Serialize;
use validator::{ValidationError, ValidationErrors, ValidationErrorsKind};

/// One failing field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct FieldError {
    /// The JSON path of the field, or `body`, a header or a parameter name.
    #[schema(example = "items[0].quantity")]
    pub field: String,
    /// A stable code clients can switch on (`range`, `total_mismatch`, `unavailable`, …).
    #[schema(example = "range")]
    pub code: String,
    pub message: String,
}

impl FieldError {
    pub fn new(
        field: impl Into<String>,
        code: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            field: field.into(),
            code: code.into(),
            message: message.into(),
        }
    }
}

/// Every failing field of one event (an order, a refund or a void), in a stable order (sorted by field path, then code).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
pub struct EventErrors {
    pub errors: Vec<FieldError>,
}

impl EventErrors {
    pub(crate) fn from_list(mut errors: Vec<FieldError>) -> Self {
        errors.sort_by(|a, b| (&a.field, &a.code).cmp(&(&b.field, &b.code)));
        Self { errors }
    }

    /// Converts the nested error tree of the `validator` crate into flat, path-named errors.
    pub(crate) fn flatten(errors: &ValidationErrors) -> Vec<FieldError> {
        let mut out = Vec::new();
        flatten_into(errors, "", &mut out);
        out
    }

    /// The codes of all errors, deduplicated, comma-separated (for logs, metrics and DLQ headers).
    pub fn codes(&self) -> String {
        let mut codes: Vec<&str> = self.errors.iter().map(|e| e.code.as_str()).collect();
        codes.sort_unstable();
        codes.dedup();
        codes.join(",")
    }
}

impl fmt::Display for EventErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .errors
            .iter()
            .map(|e| format!("{}: {} ({})", e.field, e.message, e.code))
            .collect();
        f.write_str(&parts.join("; "))
    }
}

fn join(prefix: &str, field: &str) -> String {
    match (prefix.is_empty(), field) {
        // Struct-level (schema) checks report under `__all__`; they name their own field in a
        // parameter instead, handled in `describe`.
        (_, "__all__") => prefix.to_string(),
        (true, _) => field.to_string(),
        (false, _) => format!("{prefix}.{field}"),
    }
}

fn flatten_into(errors: &ValidationErrors, prefix: &str, out: &mut Vec<FieldError>) {
    for (field, kind) in errors.errors() {
        let path = join(prefix, field);
        match kind {
            ValidationErrorsKind::Field(list) => {
                for error in list {
                    out.push(describe(&path, error));
                }
            }
            ValidationErrorsKind::Struct(inner) => flatten_into(inner, &path, out),
            ValidationErrorsKind::List(items) => {
                for (index, inner) in items {
                    flatten_into(inner, &format!("{path}[{index}]"), out);
                }
            }
        }
    }
}

/// Builds the user-facing error for one `validator` error; built-in validators carry no message,
/// so one is written from their parameters.
fn describe(path: &str, error: &ValidationError) -> FieldError {
    let param = |name: &str| error.params.get(name).map(|v| v.to_string());
    let field = match param("field") {
        Some(named) => join(path, named.trim_matches('"')),
        None => path.to_string(),
    };
    let message: Cow<'_, str> = match (&error.message, error.code.as_ref()) {
        (Some(message), _) => message.clone(),
        (None, "length") => match (param("min"), param("max")) {
            (Some(min), Some(max)) => {
                format!("must have between {min} and {max} elements or characters").into()
            }
            _ => "has the wrong length".into(),
        },
        (None, "range") => match (param("min"), param("max")) {
            (Some(min), Some(max)) => format!("must be between {min} and {max}").into(),
            _ => "is out of range".into(),
        },
        (None, code) => format!("failed the {code} check").into(),
    };
    FieldError::new(field, error.code.to_string(), message)
}

/// Gathers every failing field while typed values are built, so one pass reports them all.
pub(crate) struct Collector {
    errors: Vec<FieldError>,
}

impl Collector {
    /// Starts from what the declarative `validator` rules found.
    pub(crate) fn new(declared: Result<(), ValidationErrors>) -> Self {
        let errors = match declared {
            Ok(()) => Vec::new(),
            Err(errors) => EventErrors::flatten(&errors),
        };
        Self { errors }
    }

    /// Keeps the value, or records why it was refused under `field`.
    pub(crate) fn check<T>(
        &mut self,
        field: impl Into<String>,
        result: Result<T, ValidationError>,
    ) -> Option<T> {
        result
            .map_err(|e| self.errors.push(describe(&field.into(), &e)))
            .ok()
    }

    pub(crate) fn money(
        &mut self,
        field: impl Into<String>,
        result: Result<crate::Amount, crate::MoneyError>,
    ) -> Option<crate::Amount> {
        result
            .map_err(|e| {
                self.errors
                    .push(FieldError::new(field, e.code(), e.to_string()))
            })
            .ok()
    }

    /// Records errors found by a check that spans fields.
    pub(crate) fn extend(&mut self, errors: Vec<FieldError>) {
        self.errors.extend(errors);
    }

    pub(crate) fn into_result(self) -> Result<(), EventErrors> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(EventErrors::from_list(self.errors))
        }
    }
}
