//! Logging: human-readable by default, one JSON object per line with `LOG_FORMAT=json`.

use tracing_subscriber::EnvFilter;

use crate::settings::{ProcessEnv, Settings};

/// What every binary does first: its settings from the process environment, and logging started
/// as `LOG_FORMAT` (`text` or `json`) says.
pub fn start() -> Settings<'static> {
    let settings = Settings::new(&ProcessEnv);
    init(&settings.string("LOG_FORMAT", "text"));
    settings
}

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
