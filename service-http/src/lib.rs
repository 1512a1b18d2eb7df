//! HTTP pieces ingest-api and serving share, so both answer the same way: bearer-key
//! authentication with keys from configuration, and one error body shape
//! (`{"errors":[{"field","code","message"}]}`).

pub mod auth;
pub mod observe;
pub mod problem;
