//! The Cassandra path: the sink that writes raw orders. Connecting, the schema and the day
//! bucketing live in `sales-stores`, shared with serving.

pub mod sink;
