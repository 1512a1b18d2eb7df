use anyhow::Context;
use ingest_api::configuration::IngestConfig;
use ingest_api::startup::Application;
use service_runtime::{shutdown, telemetry};

/// mimalloc instead of glibc's malloc: a request allocates and frees many small buffers (the
/// body, its parse, the envelope, headers), and glibc's allocator took about a fifth of the
/// service's CPU in the ingest profile (workshop/bench/reports).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let settings = telemetry::start();
    let config = IngestConfig::from_settings(&settings).context("ingest-api cannot start")?;
    tracing::info!(?config, "starting ingest-api");
    let app = Application::build(config).await?;
    tracing::info!(addr = %app.local_addr(), "listening");
    app.run(shutdown::signal()).await
}
