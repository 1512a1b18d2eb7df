//! Assembles the job (admin port, sinks, source, pipeline) and runs it in the background, so the
//! binary and the tests start it the same way.

use std::future::IntoFuture;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use service_runtime::retry::{until_ok, Stopped};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::cassandra::sink::CassandraSink;
use crate::clickhouse::sink::ClickHouseSink;
use crate::configuration::StreamConfig;
use crate::dead_letter::DeadLetters;
use crate::health::Health;
use crate::metrics::Metrics;
use crate::pipeline::Pipeline;
use crate::sink::{Connector, Sink};
use crate::source::OrderSource;

/// A running job.
pub struct StreamJob {
    admin_addr: SocketAddr,
    stop: CancellationToken,
    pipeline: JoinHandle<()>,
    admin: JoinHandle<()>,
}

impl StreamJob {
    /// Binds the admin port and starts the job; connecting to the stores is retried in the
    /// background (the admin `/health` says what is still missing).
    pub async fn start(config: StreamConfig) -> anyhow::Result<StreamJob> {
        let metrics = Arc::new(Metrics::default());
        let health = Health::default();
        let stop = CancellationToken::new();
        let listener = tokio::net::TcpListener::bind(config.admin_addr)
            .await
            .with_context(|| format!("cannot bind the admin port {}", config.admin_addr))?;
        let admin_addr = listener.local_addr()?;
        let admin = tokio::spawn({
            let router = crate::admin::router(metrics.clone(), health.clone());
            async move {
                if let Err(error) = axum::serve(listener, router).into_future().await {
                    tracing::error!(%error, "admin server stopped");
                }
            }
        });
        let source = OrderSource::new(&config.kafka, metrics.clone())?;
        let dead_letters = DeadLetters::new(&config.kafka, metrics.clone())?;
        let pipeline = tokio::spawn({
            let stop = stop.clone();
            async move {
                let sinks = match connect_sinks(&config, &metrics, &health, &stop).await {
                    Ok(sinks) => sinks,
                    Err(Stopped(_)) => return,
                };
                let pipeline = Pipeline {
                    source,
                    dead_letters,
                    sinks,
                    metrics,
                    health,
                    flush_interval: config.flush_interval,
                    max_backoff: config.max_backoff,
                };
                pipeline.run(stop).await;
            }
        });
        Ok(StreamJob {
            admin_addr,
            stop,
            pipeline,
            admin,
        })
    }

    pub fn admin_addr(&self) -> SocketAddr {
        self.admin_addr
    }

    /// Graceful stop: the current batch is finished or abandoned uncommitted, what is written is
    /// flushed and committed, then the job exits.
    pub async fn shutdown(self) {
        self.stop.cancel();
        let _ = self.pipeline.await;
        self.admin.abort();
    }

    /// Stops at once, as a crash would: nothing is flushed or committed.
    pub fn kill(self) {
        self.pipeline.abort();
        self.admin.abort();
    }
}

/// The sinks every order goes to.
fn connectors(config: &StreamConfig, metrics: &Arc<Metrics>) -> Vec<Connector> {
    let cassandra = (config.cassandra.clone(), metrics.clone());
    let clickhouse = (config.clickhouse.clone(), metrics.clone());
    vec![
        Connector {
            name: "cassandra",
            connect: Box::new(move || {
                let (config, metrics) = cassandra.clone();
                Box::pin(async move {
                    let sink: Arc<dyn Sink> =
                        Arc::new(CassandraSink::connect(&config, metrics).await?);
                    Ok(sink)
                })
            }),
        },
        Connector {
            name: "clickhouse",
            connect: Box::new(move || {
                let (config, metrics) = clickhouse.clone();
                Box::pin(async move {
                    let sink: Arc<dyn Sink> = Arc::new(ClickHouseSink::new(&config, metrics));
                    Ok(sink)
                })
            }),
        },
    ]
}

/// Connects every sink and waits for its check, retrying while a store is unreachable rather
/// than exiting (which would only make the orchestrator restart the job in a loop); `/health`
/// names the sink still missing.
async fn connect_sinks(
    config: &StreamConfig,
    metrics: &Arc<Metrics>,
    health: &Health,
    stop: &CancellationToken,
) -> Result<Vec<Arc<dyn Sink>>, Stopped> {
    let mut sinks = Vec::new();
    for connector in connectors(config, metrics) {
        let what = format!("{} connect", connector.name);
        let sink = until_ok(
            &what,
            config.max_backoff,
            stop,
            |error: &anyhow::Error| health.report(&what, Some(format!("{error:#}"))),
            || async {
                let sink = (connector.connect)().await?;
                sink.check().await?;
                anyhow::Ok(sink)
            },
        )
        .await?;
        health.report(&what, None);
        sinks.push(sink);
    }
    Ok(sinks)
}
