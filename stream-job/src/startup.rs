//! Assembles the job (admin port, sinks, source, pipeline) and runs it in the background, so the
//! binary and the tests start it the same way.

use std::future::{Future, IntoFuture};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use service_runtime::retry::{until_ok, Stopped};
use service_runtime::supervisor::{Supervisor, TaskEnded};
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

/// A running job: the pipeline and the admin server, supervised.
pub struct StreamJob {
    admin_addr: SocketAddr,
    stop: CancellationToken,
    tasks: Supervisor,
}

impl StreamJob {
    /// Binds the admin port and starts the job; connecting to the stores is retried in the
    /// background (the admin `/health` says what is still missing).
    pub async fn start(config: StreamConfig) -> anyhow::Result<StreamJob> {
        let metrics = Arc::new(Metrics::default());
        let health = Health::with_gauge(metrics.healthy.clone());
        let stop = CancellationToken::new();
        let listener = tokio::net::TcpListener::bind(config.admin_addr)
            .await
            .with_context(|| format!("cannot bind the admin port {}", config.admin_addr))?;
        let admin_addr = listener.local_addr()?;
        let mut tasks = Supervisor::default();
        tasks.spawn("admin server", {
            let router = crate::admin::router(metrics.clone(), health.clone());
            let stop = stop.clone();
            async move {
                let served = axum::serve(listener, router)
                    .with_graceful_shutdown(stop.cancelled_owned())
                    .into_future()
                    .await;
                if let Err(error) = served {
                    tracing::error!(%error, "admin server stopped");
                }
            }
        });
        let source = OrderSource::new(&config.kafka, metrics.clone())?;
        let dead_letters = DeadLetters::new(&config.kafka, metrics.clone())?;
        // A cluster that answers without the dead-letter topic is a deployment mistake to name
        // now; a cluster that does not answer yet is waited for like the stores.
        if let Ok(false) = dead_letters.topic_exists(Duration::from_secs(2)).await {
            anyhow::bail!(
                "the dead-letter topic {} does not exist: create it (compose's kafka-init does) \
                 or set KAFKA_DLQ_TOPIC to one that does",
                dead_letters.topic()
            );
        }
        tasks.spawn("pipeline", {
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
            tasks,
        })
    }

    /// Runs until `shutdown` (then stops gracefully), or until an essential task ends on its own
    /// — the pipeline returned or panicked, the admin server died — which is an error, so the
    /// process exits non-zero and its orchestrator restarts it.
    pub async fn run_until(mut self, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
        match self.tasks.until(shutdown).await {
            Ok(()) => Ok(self.shutdown().await?),
            Err(ended) => {
                tracing::error!(%ended, "an essential task ended; stopping");
                self.kill();
                Err(ended.into())
            }
        }
    }

    pub fn admin_addr(&self) -> SocketAddr {
        self.admin_addr
    }

    /// Graceful stop: the batch being written is finished (or, if a store still refuses after
    /// the final-flush time, left uncommitted), what is written is flushed and committed, then
    /// the job exits. A task that panicked meanwhile is the error.
    pub async fn shutdown(self) -> Result<(), TaskEnded> {
        self.stop.cancel();
        self.tasks.join_all().await
    }

    /// Stops at once, as a crash would: nothing is flushed or committed.
    pub fn kill(mut self) {
        self.tasks.abort_all();
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
