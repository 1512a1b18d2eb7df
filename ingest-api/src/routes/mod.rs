//! HTTP routes: the order, refund and void endpoints and readiness, each described for the generated API
//! document.

mod endpoints;
pub mod intake;
pub mod ops;
pub mod orders;
pub mod refunds;
mod replies;
pub mod voids;

/// What the API document says the service is.
pub const DESCRIPTION: &str = "Accepts point-of-sale orders, refunds and voids and produces them to Kafka. A 2xx is sent only after Kafka acknowledged the write. Re-posting an order (same order_id), a refund (same refund_id) or a void is a safe retry: downstream counts it once.";
