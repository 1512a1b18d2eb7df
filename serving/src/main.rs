use anyhow::Context;
use service_runtime::{shutdown, telemetry};
use serving::configuration::ServingConfig;
use serving::startup::Application;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let settings = telemetry::start();
    let config = ServingConfig::from_settings(&settings).context("serving cannot start")?;
    tracing::info!(?config, "starting serving");
    let app = Application::build(config)
        .await
        .context("serving cannot reach its stores")?;
    tracing::info!(addr = %app.local_addr(), "listening");
    app.run(shutdown::signal()).await
}
