use anyhow::Context;
use ingest_api::configuration::IngestConfig;
use ingest_api::startup::Application;
use service_runtime::{shutdown, telemetry};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let settings = telemetry::start();
    let config = IngestConfig::from_settings(&settings).context("ingest-api cannot start")?;
    tracing::info!(?config, "starting ingest-api");
    let app = Application::build(config).await?;
    tracing::info!(addr = %app.local_addr(), "listening");
    app.run(shutdown::signal()).await
}
