//! Logging: human-readable by default, one JSON object per line with `LOG_FORMAT=json`.

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber; `RUST_LOG` filters (default `info`).
pub fn init(format: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    if format == "json" {
        builder.json().flatten_event(true).init();
    } else {
        builder.init();
    }
}
