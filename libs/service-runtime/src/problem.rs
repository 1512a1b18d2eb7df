//! Error answers. Every non-2xx body has one shape, the 422 one of DESIGN.md §3:
//! `{"errors":[{"field":…,"code":…,"message":…}]}`.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use sales_model::FieldError;
use serde::Serialize;
use utoipa::{IntoResponses, ToSchema};

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

/// The error answers of an authenticated read, for the API document.
#[derive(IntoResponses)]
pub enum ReadErrors {
    /// A bad or unknown parameter, named.
    #[response(status = 400)]
    BadParameter(ErrorBody),
    /// Missing or wrong bearer key.
    #[response(status = 401)]
    Unauthorized(ErrorBody),
    /// The key made more requests than its rate limit allows; retry after the given seconds.
    #[response(status = 429, headers(("Retry-After" = u64, description = "Seconds to wait before retrying")))]
    RateLimited(ErrorBody),
    /// A data store did not answer; retry after the given seconds.
    #[response(status = 503, headers(("Retry-After" = u64, description = "Seconds to wait before retrying")))]
    Unavailable(ErrorBody),
}

/// The refusals of an authenticated JSON POST, for the API document.
#[derive(IntoResponses)]
pub enum PostErrors {
    /// Malformed JSON.
    #[response(status = 400)]
    Malformed(ErrorBody),
    /// Missing or wrong bearer key.
    #[response(status = 401)]
    Unauthorized(ErrorBody),
    /// The key made more requests than its rate limit allows; retry after the given seconds.
    #[response(status = 429, headers(("Retry-After" = u64, description = "Seconds to wait before retrying")))]
    RateLimited(ErrorBody),
    /// The body is over the configured limit.
    #[response(status = 413)]
    TooLarge(ErrorBody),
    /// The Content-Type is not application/json.
    #[response(status = 415)]
    UnsupportedMediaType(ErrorBody),
    /// Every failing field.
    #[response(status = 422)]
    Unprocessable(ErrorBody),
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
