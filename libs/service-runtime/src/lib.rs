//! What every binary of the pipeline runs on, written once: typed settings and secrets from the
//! environment, telemetry, the shutdown signal, supervision of essential tasks, retries with
//! backoff, Prometheus exposition with the request metrics, the operational routes (`/health`,
//! `/metrics`, `/openapi.json`), typed query parameters, bearer-key authentication with per-key
//! rate limits, and the one error body every service answers with.
//!
//! The domain (orders, money, the envelope) is `sales-model`'s; nothing here knows about it
//! beyond the shape of a field error.

pub mod auth;
pub mod documented;
pub mod metrics;
pub mod ops;
pub mod params;
pub mod problem;
pub mod retry;
pub mod settings;
pub mod shutdown;
pub mod supervisor;
pub mod telemetry;

pub use secrecy::{ExposeSecret, SecretString};

/// The address a listener is bound to (port 0 asks the OS for a free one, so tests need it).
pub fn local_addr(listener: &tokio::net::TcpListener) -> std::net::SocketAddr {
    listener
        .local_addr()
        .unwrap_or_else(|_| std::net::SocketAddr::from(([0, 0, 0, 0], 0)))
}
