//! HTTP routes: the order endpoints and readiness, each described for the generated API
//! document.

pub mod ops;
pub mod orders;

/// What the API document says the service is.
pub const DESCRIPTION: &str = "Accepts point-of-sale orders and produces them to Kafka. A 2xx is sent only after Kafka acknowledged the write. Re-posting an order with the same order_id is a safe retry: downstream counts it once.";
