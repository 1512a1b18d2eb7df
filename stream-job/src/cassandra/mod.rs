//! The Cassandra path: the sink that writes raw orders (`sink`), split as a sink is: the rows it
//! writes (`rows`), its prepared statements (`statements`), its writes and its look-ups. Connecting, the schema and the day
//! bucketing live in `sales-stores`, shared with serving.

mod lookups;
mod rows;
pub mod sink;
mod statements;
mod writes;
