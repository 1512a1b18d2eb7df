//! stream-job: the consumer of the `Order` topic.
//!
//! Reads batches of order envelopes, sends what cannot be decoded to the dead-letter topic, writes
//! the rest to every sink, and only then commits the batch's offsets. Delivery is at-least-once;
//! every sink write is idempotent (keyed by `order_id`), so each order is stored exactly once.
//!
//! The data's trip through this crate: `source` (Kafka) → `pipeline` (decode, dead-letter, fan
//! out, flush, commit; `resolve` decides what a batch writes) → `cassandra` (raw orders) and
//! `clickhouse` (facts and windowed aggregates). `admin` serves health and metrics; `health`
//! gathers what is failing; `replay` reads the dead-letter topic back.

pub mod admin;
pub mod cassandra;
pub mod clickhouse;
pub mod configuration;
pub mod dead_letter;
pub mod health;
pub mod metrics;
pub mod pipeline;
pub mod replay;
pub mod resolve;
pub mod sink;
pub mod source;
pub mod startup;
