//! Builds the application: state, router and middleware, bound to a listener; and runs it until a
//! shutdown signal, then drains in-flight requests and flushes the producer.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::Router;
use service_runtime::auth::behind_keys;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower_http::timeout::TimeoutLayer;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::configuration::IngestConfig;
use crate::metrics::Metrics;
use crate::producer::EventProducer;
use crate::routes::{ops, orders, refunds, voids, DESCRIPTION};
use crate::state::AppState;

pub struct Application {
    listener: TcpListener,
    state: AppState,
    /// Cancelled at shutdown, so the background topic set-up stops retrying.
    stop: CancellationToken,
}

impl Application {
    /// Binds the listen address (port 0 picks a free port) and connects the producer; the topic is
    /// ensured in the background so the service is up even while Kafka is not.
    pub async fn build(config: IngestConfig) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(config.listen_addr).await?;
        let producer = EventProducer::new(&config.kafka)?;
        let stop = CancellationToken::new();
        tokio::spawn({
            let producer = producer.clone();
            let stop = stop.clone();
            async move { producer.ensure_topic(&stop).await }
        });
        Ok(Self {
            listener,
            stop,
            state: AppState {
                config: Arc::new(config),
                producer,
                metrics: Arc::new(Metrics::default()),
            },
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        service_runtime::local_addr(&self.listener)
    }

    /// Serves until `shutdown` resolves, finishes in-flight requests, then waits for every queued
    /// delivery report.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let producer = self.state.producer.clone();
        let flush_timeout = self.state.config.kafka.produce_timeout + Duration::from_secs(1);
        axum::serve(self.listener, router(self.state).0)
            .with_graceful_shutdown(shutdown)
            .await?;
        self.stop.cancel();
        tracing::info!("stopped accepting requests; flushing the producer");
        producer.flush(flush_timeout).await?;
        tracing::info!("producer flushed; bye");
        Ok(())
    }
}

/// The service's routes and their API document, built from the same handlers.
pub fn router(state: AppState) -> (Router, utoipa::openapi::OpenApi) {
    let orders = OpenApiRouter::new()
        // Sales, one or a batch, and their voids.
        .routes(routes!(orders::post_order))
        .routes(routes!(orders::post_batch))
        .routes(routes!(voids::post_void))
        // Refunds, one or a batch.
        .routes(routes!(refunds::post_refund))
        .routes(routes!(refunds::post_refund_batch))
        .layer(DefaultBodyLimit::max(state.config.body_limit_bytes));
    let config = &state.config;
    let v1 = behind_keys(orders, &config.auth.keys, config.auth.rate_limit_per_key);
    // The timeout sits inside the request metrics, so a timed-out request is counted as the
    // 503 (with Retry-After) its client sees.
    let api =
        OpenApiRouter::with_openapi(service_runtime::ops::document("ingest-api", DESCRIPTION))
            .merge(v1)
            .routes(routes!(ops::ready))
            .layer(TimeoutLayer::with_status_code(
                StatusCode::SERVICE_UNAVAILABLE,
                state.config.request_timeout,
            ));
    service_runtime::ops::service_router(
        api,
        state.metrics.clone(),
        state.metrics.requests.clone(),
        state,
    )
}
