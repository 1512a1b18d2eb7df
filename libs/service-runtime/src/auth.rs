//! Bearer-key authentication for the `/v1` routes, with a request rate limit per key.
//!
//! Keys are compared in constant time, and neither the presented nor the configured keys are ever
//! logged: a rejected request logs only that a key was missing or wrong. Each key may make a
//! configured number of requests per second (with a burst of one second's worth); past that it
//! gets 429 with `Retry-After`, so one misbehaving till cannot starve the others.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use secrecy::{ExposeSecret, SecretString};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::Modify;
use utoipa_axum::router::OpenApiRouter;

use crate::problem::Problem;
use crate::settings::ConfigError;

#[derive(Clone)]
struct ApiKeys {
    keys: Arc<Vec<SecretString>>,
    /// Requests per key, by the key's position in `keys`.
    limits: Arc<DefaultKeyedRateLimiter<usize>>,
}

impl ApiKeys {
    /// The keys, each allowed `per_second` requests a second.
    fn new(keys: &[SecretString], per_second: NonZeroU32) -> Self {
        Self {
            keys: Arc::new(keys.to_vec()),
            limits: Arc::new(RateLimiter::keyed(Quota::per_second(per_second))),
        }
    }

    /// Which key `presented` is, if any; every key is compared so timing does not tell which
    /// one nearly matched.
    fn find(&self, presented: &[u8]) -> Option<usize> {
        self.keys.iter().enumerate().fold(None, |found, (i, key)| {
            let equal = bool::from(key.expose_secret().as_bytes().ct_eq(presented));
            if equal {
                Some(i)
            } else {
                found
            }
        })
    }

    /// `None` while the key is within its rate, else how long it must wait.
    fn wait(&self, key: usize) -> Option<Duration> {
        self.limits
            .check_key(&key)
            .err()
            .map(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }
}

/// `routes` behind bearer-key authentication, each key held to `per_key` requests a second.
pub fn behind_keys<S>(
    routes: OpenApiRouter<S>,
    keys: &[SecretString],
    per_key: NonZeroU32,
) -> OpenApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
{
    routes.layer(middleware::from_fn_with_state(
        ApiKeys::new(keys, per_key),
        require_key,
    ))
}

async fn require_key(State(keys): State<ApiKeys>, request: Request, next: Next) -> Response {
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let reason = match presented.map(|key| keys.find(key.as_bytes())) {
        Some(Some(key)) => match keys.wait(key) {
            None => return next.run(request).await,
            Some(wait) => return rate_limited(&request, wait),
        },
        Some(None) => "wrong API key",
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

/// 429 with `Retry-After` (whole seconds, at least 1) for a key past its rate.
fn rate_limited(request: &Request, wait: Duration) -> Response {
    tracing::info!(method = %request.method(), path = %request.uri().path(), status = 429, "request over the key's rate limit");
    let mut response = Problem::new(
        StatusCode::TOO_MANY_REQUESTS,
        "authorization",
        "rate_limited",
        "this key made more requests than its rate limit allows; retry after the given seconds",
    )
    .into_response();
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(seconds.max(1)));
    response
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

/// `bearer_keys!(Name: "X_API_KEYS", "X_API_KEYS_FILE", "X_RATE_LIMIT_PER_KEY" = 5000)`: a
/// service's bearer keys as a group of settings (see [`crate::settings`]), under its own
/// variables: the keys (comma-separated), a file of more, and the requests a second each key may
/// make (the default after `=`). `load` reads the file and refuses a service open to
/// anyone ([`load_keys`]).
#[macro_export]
macro_rules! bearer_keys {
    (
        $(#[$doc:meta])*
        $name:ident: $keys:tt, $file:tt, $rate:tt = $default:expr
    ) => {
        $(#[$doc])*
        #[derive(Clone, Debug, ::serde::Deserialize, ::serde::Serialize)]
        #[serde(default)]
        pub struct $name {
            /// The keys, with the file's once `load` read it. Never logged nor serialised.
            #[serde(rename = $keys, skip_serializing)]
            pub keys: Vec<$crate::SecretString>,
            /// A file of keys, one a line (`#` comments).
            #[serde(rename = $file)]
            pub file: Option<String>,
            /// Requests a second each key may make; past that, 429 with `Retry-After`.
            #[serde(rename = $rate)]
            pub rate_limit_per_key: ::std::num::NonZeroU32,
        }

        impl Default for $name {
            fn default() -> Self {
                $name {
                    keys: Vec::new(),
                    file: None,
                    rate_limit_per_key: ::std::num::NonZeroU32::new($default)
                        .unwrap_or(::std::num::NonZeroU32::MIN),
                }
            }
        }

        impl $name {
            /// Adds the file's keys to the variable's; at least one key, of at least 16
            /// characters, is required.
            pub fn load(&mut self) -> Result<(), $crate::settings::ConfigError> {
                let keys = std::mem::take(&mut self.keys);
                self.keys = $crate::auth::load_keys(keys, self.file.as_deref(), ($keys, $file))?;
                Ok(())
            }
        }
    };
}

/// Bearer keys: `keys`, read from `var` (comma-separated), and those in the file at `file`, read
/// from `file_var` (one key per line, `#` comments). At least one key of at least 16 characters
/// is required: an endpoint open to anyone is refused at start-up.
pub fn load_keys(
    mut keys: Vec<SecretString>,
    file: Option<&str>,
    (var, file_var): (&str, &str),
) -> Result<Vec<SecretString>, ConfigError> {
    if let Some(path) = file {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            var: file_var.into(),
            value: path.to_string(),
            reason: format!("cannot read the file: {e}"),
        })?;
        keys.extend(
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(SecretString::from),
        );
    }
    if keys.is_empty() {
        return Err(ConfigError {
            var: var.into(),
            value: String::new(),
            reason: format!("set at least one API key (or {file_var})"),
        });
    }
    if let Some(short) = keys.iter().find(|k| k.expose_secret().len() < 16) {
        return Err(ConfigError {
            var: var.into(),
            value: format!("<a key of {} characters>", short.expose_secret().len()),
            reason: "every key must be at least 16 characters".into(),
        });
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn two_keys(per_second: u32) -> ApiKeys {
        ApiKeys::new(
            &[
                SecretString::from("first-key-0123456"),
                SecretString::from("second-key-012345"),
            ],
            NonZeroU32::new(per_second).unwrap(),
        )
    }

    #[test]
    fn only_configured_keys_are_accepted() {
        let keys = two_keys(100);
        assert_eq!(keys.find(b"first-key-0123456"), Some(0));
        assert_eq!(keys.find(b"second-key-012345"), Some(1));
        assert_eq!(keys.find(b"first-key-012345"), None);
        assert_eq!(keys.find(b""), None);
        assert_eq!(keys.find(b"first-key-01234567"), None);
    }

    #[test]
    fn each_key_has_its_own_rate() {
        let keys = two_keys(3);
        for _ in 0..3 {
            assert_eq!(keys.wait(0), None, "within the burst");
        }
        let wait = keys.wait(0).expect("the fourth request in a second waits");
        assert!(wait <= Duration::from_secs(1), "{wait:?}");
        assert_eq!(keys.wait(1), None, "the other key is not affected");
    }
}
