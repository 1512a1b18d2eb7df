//! The Cassandra path: applying `cql/`, and the sink that writes raw orders. Connecting and the
//! day bucketing live in `sales-stores`, shared with serving.

pub mod schema;
pub mod sink;

pub use sales_stores::cassandra::{connect, day_bucket, CassandraConfig, DAY_BUCKETS};
