//! Error answers. Every non-2xx body has one shape, the 422 one of DESIGN.md §3:
//! `{"errors":[{"field":…,"code":…,"message":…}]}`.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use sales_model::FieldError;
use serde::Serialize;
use utoipa::ToSchema;

/// Seconds a client should wait before retrying after a 503.
pub const RETRY_AFTER_SECS: u64 = 5;

/// An error answer: the status and every failing field. Handlers return it as their `Err`.
pub struct Problem {
    pub status: StatusCode,
    pub errors: Vec<FieldError>,
}

/// The body of every error answer.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    pub errors: Vec<FieldError>,
}

impl Problem {
    pub fn new(status: StatusCode, field: &str, code: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            errors: vec![FieldError::new(field, code, message)],
        }
    }

    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "body",
            "unavailable",
            message,
        )
    }

    /// The codes, comma-separated, for the log line of a rejected request.
    pub fn codes(&self) -> String {
        self.errors
            .iter()
            .map(|e| e.code.as_str())
            .collect::<Vec<_>>()
            .join(",")
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            errors: self.errors,
        };
        let mut response = (self.status, Json(body)).into_response();
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            with_retry_after(&mut response);
        }
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

pub fn with_retry_after(response: &mut Response) {
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
}
