//! Bearer-key authentication for the `/v1` routes.
//!
//! Keys are compared in constant time, and neither the presented nor the configured keys are ever
//! logged: a rejected request logs only that a key was missing or wrong.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;

use secrecy::{ExposeSecret, SecretString};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::Modify;

use crate::problem::Problem;
use crate::settings::{ConfigError, Settings};

#[derive(Clone)]
pub struct ApiKeys(Arc<Vec<SecretString>>);

impl ApiKeys {
    pub fn new(keys: &[SecretString]) -> Self {
        Self(Arc::new(keys.to_vec()))
    }

    /// True when `presented` equals one of the keys; every key is compared so timing does not
    /// tell which one nearly matched.
    pub fn accepts(&self, presented: &[u8]) -> bool {
        self.0.iter().fold(false, |found, key| {
            found | bool::from(key.expose_secret().as_bytes().ct_eq(presented))
        })
    }
}

pub async fn require_key(State(keys): State<ApiKeys>, request: Request, next: Next) -> Response {
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let reason = match presented {
        Some(key) if keys.accepts(key.as_bytes()) => return next.run(request).await,
        Some(_) => "wrong API key",
        None => "missing bearer API key",
    };
    tracing::info!(method = %request.method(), path = %request.uri().path(), status = 401, reason, "request rejected");
    Problem::new(
        StatusCode::UNAUTHORIZED,
        "authorization",
        "unauthorized",
        "send `Authorization: Bearer <key>` with a configured API key",
    )
    .into_response()
}

/// The name of the security scheme in the API documents; `/v1` operations list it.
const BEARER: &str = "bearer";

/// Adds the bearer-key security scheme to an API document.
pub struct BearerSecurity;

impl Modify for BearerSecurity {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            BEARER,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "A key from the service's *_API_KEYS / *_API_KEYS_FILE.",
                    ))
                    .build(),
            ),
        );
    }
}

/// Bearer keys from `var` (comma-separated) and/or `file_var` (a file, one key per line, `#`
/// comments). At least one key of at least 16 characters is required: an endpoint open to anyone
/// is refused at start-up.
pub fn load_keys(
    s: &Settings<'_>,
    var: &str,
    file_var: &str,
) -> Result<Vec<SecretString>, ConfigError> {
    let mut keys = s.list(var, "");
    if let Some(path) = s.raw(file_var) {
        let text = std::fs::read_to_string(&path).map_err(|e| ConfigError {
            var: file_var.into(),
            value: path.clone(),
            reason: format!("cannot read the file: {e}"),
        })?;
        keys.extend(
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(str::to_string),
        );
    }
    if keys.is_empty() {
        return Err(ConfigError {
            var: var.into(),
            value: String::new(),
            reason: format!("set at least one API key (or {file_var})"),
        });
    }
    if let Some(short) = keys.iter().find(|k| k.len() < 16) {
        return Err(ConfigError {
            var: var.into(),
            value: format!("<a key of {} characters>", short.len()),
            reason: "every key must be at least 16 characters".into(),
        });
    }
    Ok(keys.into_iter().map(SecretString::from).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_configured_keys_are_accepted() {
        let keys = ApiKeys::new(&[
            SecretString::from("first-key-0123456"),
            SecretString::from("second-key-012345"),
        ]);
        assert!(keys.accepts(b"first-key-0123456"));
        assert!(keys.accepts(b"second-key-012345"));
        assert!(!keys.accepts(b"first-key-012345"));
        assert!(!keys.accepts(b""));
        assert!(!keys.accepts(b"first-key-01234567"));
    }
}
