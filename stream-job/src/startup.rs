//! Assembles the job (admin port, sinks, source, pipeline) and runs it in the background, so the
//! binary and the tests start it the same way.

use std::future::IntoFuture;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::cassandra::{self, sink::CassandraSink};
use crate::clickhouse::sink::ClickHouseSink;
use crate::configuration::StreamConfig;
use crate::dead_letter::DeadLetters;
use crate::metrics::Metrics;
use crate::pipeline::{Health, Pipeline};
use crate::retry::{until_ok, Stopped};
use crate::sink::Sink;
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

/// Connects every sink, retrying while a store is unreachable rather than exiting (which would
/// only make the orchestrator restart the job in a loop).
async fn connect_sinks(
    config: &StreamConfig,
    metrics: &Arc<Metrics>,
    health: &Health,
    stop: &CancellationToken,
) -> Result<Vec<Arc<dyn Sink>>, Stopped> {
    let cassandra = until_ok(
        "cassandra connect",
        config.max_backoff,
        stop,
        |error: &anyhow::Error| health.report("cassandra connect", Some(format!("{error:#}"))),
        || async {
            let session = Arc::new(cassandra::connect(&config.cassandra).await?);
            CassandraSink::new(
                session,
                &config.cassandra.keyspace,
                config.cassandra.concurrency,
                metrics.clone(),
            )
            .await
        },
    )
    .await?;
    health.report("cassandra connect", None);
    let clickhouse = ClickHouseSink::new(&config.clickhouse, metrics.clone());
    until_ok(
        "clickhouse check",
        config.max_backoff,
        stop,
        |error: &anyhow::Error| health.report("clickhouse check", Some(format!("{error:#}"))),
        || clickhouse.check(),
    )
    .await?;
    health.report("clickhouse check", None);
    Ok(vec![Arc::new(cassandra), Arc::new(clickhouse)])
}
