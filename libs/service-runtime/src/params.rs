//! Typed query parameters. Each route declares its parameters as one struct
//! (`#[derive(Deserialize, IntoParams)]`); [`Params`] extracts it, and a parameter the route does
//! not take is a 400 naming it, so a typo (`limt=10`) is never silently ignored. The same struct
//! describes the parameters in the generated API document.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::StatusCode;
use serde::de::DeserializeOwned;
use utoipa::openapi::path::ParameterIn;
use utoipa::IntoParams;

use crate::problem::Problem;

/// The query parameters of a request, as the route's struct `T`.
pub struct Params<T>(pub T);

impl<T, S> FromRequestParts<S> for Params<T>
where
    T: DeserializeOwned + IntoParams,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Problem> {
        let query = parts.uri.query().unwrap_or("");
        let allowed: Vec<String> = T::into_params(|| Some(ParameterIn::Query))
            .into_iter()
            .map(|parameter| parameter.name)
            .collect();
        let unknown = form_urlencoded::parse(query.as_bytes())
            .map(|(name, _)| name.into_owned())
            .find(|name| !allowed.contains(name));
        if let Some(unknown) = unknown {
            return Err(Problem::new(
                StatusCode::BAD_REQUEST,
                &unknown,
                "unknown_parameter",
                format!("unknown parameter; allowed: {}", allowed.join(", ")),
            ));
        }
        let deserializer =
            serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(deserializer)
            .map(Params)
            .map_err(|error| {
                let field = error.path().to_string();
                Problem::new(
                    StatusCode::BAD_REQUEST,
                    if field == "." { "query" } else { &field },
                    "invalid",
                    error.into_inner().to_string(),
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Request;
    use serde::Deserialize;

    #[derive(Debug, Deserialize, IntoParams, PartialEq)]
    struct Page {
        limit: Option<u32>,
        page: Option<String>,
    }

    async fn extract(uri: &str) -> Result<Page, Problem> {
        let (mut parts, ()) = Request::get(uri).body(()).unwrap().into_parts();
        Params::<Page>::from_request_parts(&mut parts, &())
            .await
            .map(|Params(page)| page)
    }

    #[tokio::test]
    async fn known_parameters_parse_and_unknown_ones_are_named() {
        assert_eq!(
            extract("/x?limit=5&page=abc").await.ok(),
            Some(Page {
                limit: Some(5),
                page: Some("abc".into())
            })
        );
        assert_eq!(
            extract("/x").await.ok(),
            Some(Page {
                limit: None,
                page: None
            })
        );
        let unknown = extract("/x?limit=5&sort=asc").await.err().unwrap();
        assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
        assert_eq!(
            (
                unknown.errors[0].field.as_str(),
                unknown.errors[0].code.as_str()
            ),
            ("sort", "unknown_parameter")
        );
        assert!(unknown.errors[0].message.contains("limit, page"));
        let invalid = extract("/x?limit=many").await.err().unwrap();
        assert_eq!(invalid.errors[0].field, "limit");
    }
}
