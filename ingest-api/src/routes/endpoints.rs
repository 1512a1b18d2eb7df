//! The handlers of the event routes, each with its API description. Every POST of an event has
//! the same extractors, security, refusals and 503, and every batch POST the same 200; only the
//! paths, the tag, the request and answer schemas, the words of the answer and the parser differ
//! between kinds, so [`event_endpoints!`] writes a kind's handlers from those.

/// Defines the handler of a kind's single endpoint, and of its batch endpoint when one is named:
///
/// ```text
/// event_endpoints! {
///     tag: "orders",
///     parse: |body, now, freshness| …,
///     /// docs…
///     fn post_order() at "/v1/orders", taking OrderRequest, answering Accepted, "Kafka acknowledged the order.";
///     /// docs…
///     fn post_batch at "/v1/orders/batch", taking OrderBatch of "orders" by "order_id", answering BatchReply;
/// }
/// ```
///
/// `post_order` answers 202 with `Accepted` once Kafka acknowledged the event `parse` made of
/// the body; extractors in its parentheses (a `Path`, described by `with (…)` after the path)
/// come before the body, and `parse` may use what they bind. `post_batch` produces every element
/// `parse` accepts and answers each element's result; a rejected one is matched by the id field
/// the batch names (`order_id`, `refund_id`).
macro_rules! event_endpoints {
    (
        tag: $tag:literal,
        parse: $parse:expr,
        $(#[$doc:meta])*
        fn $name:ident($($extractor:ident($bound:ident): $arg_type:ty),*) at $path:literal,
            $(with $params:tt,)?
            taking $request:ident, answering $answer:ident, $acknowledged:literal;
        $(
            $(#[$batch_doc:meta])*
            fn $batch:ident at $batch_path:literal,
                taking $elements:ident of $what:literal by $id:literal, answering $reply:ident;
        )?
    ) => {
        $(#[$doc])*
        #[utoipa::path(
            post,
            path = $path,
            tag = $tag,
            $(params $params,)?
            request_body = $request,
            security(("bearer" = [])),
            responses(
                (status = 202, description = $acknowledged, body = $answer),
                service_runtime::problem::PostErrors,
                (status = 503, description = "Kafka did not acknowledge the write; nothing was accepted. Retry after the given seconds.", body = service_runtime::problem::ErrorBody,
                    headers(("Retry-After" = u64, description = "Seconds to wait before retrying"))),
            )
        )]
        pub async fn $name(
            axum::extract::State(app): axum::extract::State<$crate::state::AppState>,
            $($extractor($bound): $arg_type,)*
            headers: axum::http::HeaderMap,
            body: Result<axum::body::Bytes, axum::extract::rejection::BytesRejection>,
        ) -> Result<(axum::http::StatusCode, axum::Json<$answer>), service_runtime::problem::Problem>
        {
            $crate::routes::intake::accept_one(&app, $path, &headers, body, &$parse).await
        }

        $(
            $(#[$batch_doc])*
            #[utoipa::path(
                post,
                path = $batch_path,
                tag = $tag,
                request_body(content = $elements, description = concat!("1 to INGEST_MAX_BATCH (default 1000) ", $what)),
                security(("bearer" = [])),
                responses(
                    (status = 200, description = "One result per input element, in input order.", body = $reply),
                    service_runtime::problem::PostErrors,
                    (status = 503, description = "No element was accepted because Kafka is unavailable; the body lists every element's result.", body = $reply,
                        headers(("Retry-After" = u64, description = "Seconds to wait before retrying"))),
                )
            )]
            pub async fn $batch(
                axum::extract::State(app): axum::extract::State<$crate::state::AppState>,
                headers: axum::http::HeaderMap,
                body: Result<axum::body::Bytes, axum::extract::rejection::BytesRejection>,
            ) -> Result<$crate::routes::intake::BatchAnswer<$reply>, service_runtime::problem::Problem>
            {
                let elements = $crate::routes::intake::accept_batch(
                    &app, $batch_path, &headers, body, $what, $id, &$parse,
                )
                .await?;
                Ok($reply::answer(elements))
            }
        )?
    };
}

pub(crate) use event_endpoints;
