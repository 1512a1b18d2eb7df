//! Builds the application: state, router and middleware, bound to a listener; and runs it until a
//! shutdown signal, then drains in-flight requests and flushes the producer.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use tokio::net::TcpListener;
use tower_http::timeout::TimeoutLayer;

use crate::configuration::IngestConfig;
use crate::metrics::Metrics;
use crate::producer::OrderProducer;
use crate::routes::{ops, orders};
use service_http::auth::{require_key, ApiKeys};
use service_http::observe::{route_of, RequestLabels};
use service_http::problem::with_retry_after;

/// Shared by every request.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<IngestConfig>,
    pub producer: OrderProducer,
    pub metrics: Arc<Metrics>,
}

pub struct Application {
    listener: TcpListener,
    state: AppState,
}

impl Application {
    /// Binds the listen address (port 0 picks a free port) and connects the producer; the topic is
    /// ensured in the background so the service is up even while Kafka is not.
    pub async fn build(config: IngestConfig) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(config.listen_addr).await?;
        let producer = OrderProducer::new(&config.kafka)?;
        tokio::spawn({
            let producer = producer.clone();
            async move { producer.ensure_topic().await }
        });
        Ok(Self {
            listener,
            state: AppState {
                config: Arc::new(config),
                producer,
                metrics: Arc::new(Metrics::default()),
            },
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)))
    }

    /// Serves until `shutdown` resolves, finishes in-flight requests, then waits for every queued
    /// delivery report.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let producer = self.state.producer.clone();
        let flush_timeout = self.state.config.kafka.produce_timeout + Duration::from_secs(1);
        axum::serve(self.listener, router(self.state))
            .with_graceful_shutdown(shutdown)
            .await?;
        tracing::info!("stopped accepting requests; flushing the producer");
        producer.flush(flush_timeout).await?;
        tracing::info!("producer flushed; bye");
        Ok(())
    }
}

pub fn router(state: AppState) -> Router {
    let keys = ApiKeys::new(&state.config.api_keys);
    let v1 = Router::new()
        .route("/v1/orders", post(orders::post_order))
        .route("/v1/orders/batch", post(orders::post_batch))
        .layer(DefaultBodyLimit::max(state.config.body_limit_bytes))
        .layer(middleware::from_fn_with_state(keys, require_key));
    Router::new()
        .merge(v1)
        .route("/health", get(ops::health))
        .route("/ready", get(ops::ready))
        .route("/metrics", get(ops::metrics))
        .route("/openapi.json", get(ops::openapi))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            state.config.request_timeout,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            observe_requests,
        ))
        .with_state(state)
}

/// Counts every request by matched route and final status, and makes sure every 503 (including
/// the request timeout's) tells the client when to retry.
async fn observe_requests(State(app): State<AppState>, request: Request, next: Next) -> Response {
    let route = route_of(&request);
    let mut response = next.run(request).await;
    if response.status() == StatusCode::SERVICE_UNAVAILABLE
        && !response.headers().contains_key(header::RETRY_AFTER)
    {
        with_retry_after(&mut response);
    }
    app.metrics
        .requests
        .get_or_create(&RequestLabels {
            route,
            status: response.status().as_u16(),
        })
        .inc();
    response
}
