//! HTTP routes: the order endpoints and readiness, each described for the generated API
//! document.

pub mod ops;
pub mod orders;

use service_runtime::auth::BearerSecurity;

/// The document's header; the paths come from the handlers as the router is built.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "ingest-api",
        description = "Accepts point-of-sale orders and produces them to Kafka. A 2xx is sent only after Kafka acknowledged the write. Re-posting an order with the same order_id is a safe retry: downstream counts it once."
    ),
    modifiers(&BearerSecurity)
)]
pub struct ApiDoc;
