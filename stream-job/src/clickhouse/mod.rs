//! The ClickHouse path: order facts, and the windowed aggregates recomputed from them
//! (DESIGN.md §6). The client and its settings live in `sales-stores`, shared with serving.

pub mod facts;
pub mod sink;
pub mod windows;
