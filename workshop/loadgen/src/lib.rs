//! loadgen: realistic, reproducible POS traffic for ingest-api, and the check that what it got
//! accepted reached both stores exactly once. The demo, the benchmarks and the fault suite all
//! drive the pipeline through it.
//!
//! - `catalog`: stores (the ClickHouse seed), SKUs and prices, currencies;
//! - `traffic`: step `n` of a seed — a sale, its retries and duplicates, and the refunds and
//!   voids of earlier sales that fall due;
//! - `client`: posting with `Retry-After` and backoff;
//! - `run`: rate, concurrency, batches, stop and progress;
//! - `record`: the accepted-events file and the journal a run resumes from;
//! - `stats`: counts and latency;
//! - `check`: the record against Cassandra and ClickHouse.

pub mod catalog;
pub mod check;
pub mod client;
pub mod record;
pub mod run;
pub mod stats;
pub mod traffic;
