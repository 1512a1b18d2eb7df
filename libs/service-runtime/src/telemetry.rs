//! Logging: human-readable by default, one JSON object per line with `LOG_FORMAT=json`.

use tracing_subscriber::EnvFilter;

use crate::settings::{ProcessEnv, Settings};

/// The log format's setting and its default (`text`, or `json`).
pub const LOG_FORMAT: (&str, &str) = ("LOG_FORMAT", "text");

/// The log filter's setting (read by `EnvFilter`) and its default.
pub const LOG_FILTER: (&str, &str) = ("RUST_LOG", "info");

/// What every binary does first: its settings from the process environment, and logging started
/// as [`LOG_FORMAT`] says.
pub fn start() -> Settings<'static> {
    let settings = Settings::new(&ProcessEnv);
    let (var, default) = LOG_FORMAT;
    init(&settings.string(var, default));
    settings
}

/// Installs the global subscriber, filtered by [`LOG_FILTER`].
pub fn init(format: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(LOG_FILTER.1));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    if format == "json" {
        builder.json().flatten_event(true).init();
    } else {
        builder.init();
    }
}
