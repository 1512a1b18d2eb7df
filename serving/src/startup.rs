//! Builds serving: store clients, the routes, the scheduled jobs; and runs it until a shutdown
//! signal.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use sales_stores::{cassandra, clickhouse};
use service_http::auth::{require_key, ApiKeys};
use service_http::observe::{route_of, RequestLabels};
use tokio::net::TcpListener;

use crate::configuration::ServingConfig;
use crate::jobs::reconcile::Reconciler;
use crate::jobs::Jobs;
use crate::metrics::{Metrics, RouteLabel};
use crate::orders::OrderReads;
use crate::routes;
use crate::sales::SalesReads;

#[derive(Clone)]
pub struct AppState {
    pub config: Arc<ServingConfig>,
    pub orders: Arc<OrderReads>,
    pub sales: Arc<SalesReads>,
    pub jobs: Arc<Jobs>,
    pub metrics: Arc<Metrics>,
}

pub struct Application {
    listener: TcpListener,
    state: AppState,
}

impl Application {
    /// Binds the listen address and connects to Cassandra, retrying with backoff while the
    /// cluster or the keyspace is not there yet (rather than exiting into a restart loop).
    pub async fn build(config: ServingConfig) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(config.listen_addr).await?;
        let metrics = Arc::new(Metrics::default());
        let client = clickhouse::client(&config.clickhouse);
        let mut backoff = Duration::from_millis(200);
        let (orders, reconciler) = loop {
            match connect_reads(&config, &client).await {
                Ok(reads) => break reads,
                Err(error) => {
                    tracing::warn!(
                        error = format!("{error:#}"),
                        retry_in_ms = backoff.as_millis() as u64,
                        "Cassandra not ready"
                    );
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(10));
                }
            }
        };
        let jobs = Jobs::new(
            reconciler,
            client.clone(),
            config.clickhouse.database.clone(),
            config.jobs.clone(),
            metrics.clone(),
        );
        let state = AppState {
            orders: Arc::new(orders),
            sales: Arc::new(SalesReads::new(client, config.clickhouse.request_timeout)),
            jobs: Arc::new(jobs),
            metrics,
            config: Arc::new(config),
        };
        Ok(Self { listener, state })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)))
    }

    /// The jobs, to run one at once (tests, operators).
    pub fn jobs(&self) -> Arc<Jobs> {
        self.state.jobs.clone()
    }

    /// Serves, with the jobs on their schedules, until `shutdown` resolves.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let mut scheduler = self.state.jobs.clone().schedule().await?;
        axum::serve(self.listener, router(self.state))
            .with_graceful_shutdown(shutdown)
            .await?;
        scheduler.shutdown().await?;
        Ok(())
    }
}

/// The Cassandra session with every statement serving prepares.
async fn connect_reads(
    config: &ServingConfig,
    client: &::clickhouse::Client,
) -> anyhow::Result<(OrderReads, Reconciler)> {
    let session = Arc::new(cassandra::connect(&config.cassandra).await?);
    let reconciler = Reconciler::new(
        session.clone(),
        &config.cassandra.keyspace,
        client.clone(),
        config.clickhouse.window_seconds,
    )
    .await?;
    Ok((
        OrderReads::new(session, &config.cassandra.keyspace).await?,
        reconciler,
    ))
}

pub fn router(state: AppState) -> Router {
    let keys = ApiKeys::new(&state.config.api_keys);
    let v1 = Router::new()
        .route("/v1/orders/{order_id}", get(routes::order))
        .route("/v1/stores/{store_id}/orders", get(routes::store_orders))
        .route(
            "/v1/customers/{customer_id}/orders",
            get(routes::customer_orders),
        )
        .route("/v1/sales/summary", get(routes::summary))
        .route("/v1/sales/top-products", get(routes::top_products))
        .route("/v1/reconciliation", get(routes::reconciliation))
        .layer(middleware::from_fn_with_state(keys, require_key));
    Router::new()
        .merge(v1)
        .route("/health", get(routes::health))
        .route("/ready", get(routes::ready))
        .route("/metrics", get(routes::metrics))
        .route("/openapi.json", get(routes::openapi))
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .with_state(state)
}

/// Counts each request by route and status and times it.
async fn observe(State(app): State<AppState>, request: Request, next: Next) -> Response {
    let route = route_of(&request);
    let started = Instant::now();
    let response = next.run(request).await;
    app.metrics
        .latency
        .get_or_create(&RouteLabel {
            route: route.clone(),
        })
        .observe(started.elapsed().as_secs_f64());
    app.metrics
        .requests
        .get_or_create(&RequestLabels {
            route,
            status: response.status().as_u16(),
        })
        .inc();
    response
}
