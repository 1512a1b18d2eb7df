//! ingest-api: the front door of the pipeline.
//!
//! POS systems POST orders; each one is parsed into a valid [`sales_model::Order`] and produced to
//! Kafka with the order id as key. A 2xx is only ever sent after Kafka acknowledged the write
//! (acks=all, idempotent producer), so an accepted order cannot be lost by this service.

pub mod configuration;
pub mod metrics;
pub mod producer;
pub mod routes;
pub mod startup;
pub mod state;
