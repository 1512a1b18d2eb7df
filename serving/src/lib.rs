//! serving: the read side of the pipeline.
//!
//! Answers order look-ups from Cassandra and sales summaries from ClickHouse's views, and runs the
//! scheduled jobs: reconciliation (do the two stores agree?) and retention (drop old ClickHouse
//! partitions). Everything a user can get wrong in a request is a 400 naming the parameter.

pub mod cassandra_reads;
pub mod configuration;
pub mod cql;
pub mod jobs;
pub mod metrics;
pub mod orders;
pub mod paging;
pub mod routes;
pub mod sales;
pub mod startup;
pub mod state;
