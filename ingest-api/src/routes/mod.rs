//! HTTP routes: the order endpoints and the operational ones.

pub mod ops;
pub mod orders;
