//! Builds serving: store clients, the routes, the scheduled jobs; and runs it until a shutdown
//! signal.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::middleware;
use axum::Router;
use sales_stores::{cassandra, clickhouse};
use service_runtime::auth::{require_key, ApiKeys};
use service_runtime::retry::until_ok;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::configuration::ServingConfig;
use crate::jobs::reconcile::Reconciler;
use crate::jobs::Jobs;
use crate::metrics::Metrics;
use crate::orders::OrderReads;
use crate::routes::{self, DESCRIPTION};
use crate::sales::SalesReads;

/// Longest pause between attempts to reach Cassandra at start-up.
const MAX_CONNECT_BACKOFF: Duration = Duration::from_secs(10);

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
        // Nothing cancels the wait: serving has nothing to serve without Cassandra.
        let (orders, reconciler) = until_ok(
            "connecting to Cassandra",
            MAX_CONNECT_BACKOFF,
            &CancellationToken::new(),
            |_: &anyhow::Error| {},
            || connect_reads(&config, &client),
        )
        .await?;
        let jobs = Jobs::new(
            reconciler,
            client.clone(),
            config.clickhouse.request_timeout,
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
        service_runtime::local_addr(&self.listener)
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
        axum::serve(self.listener, router(self.state).0)
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
        config.clickhouse.request_timeout,
        config.clickhouse.window_seconds,
    )
    .await?;
    Ok((
        OrderReads::new(session, &config.cassandra.keyspace).await?,
        reconciler,
    ))
}

/// The service's routes and their API document, built from the same handlers.
pub fn router(state: AppState) -> (Router, utoipa::openapi::OpenApi) {
    let keys = ApiKeys::new(&state.config.api_keys);
    let v1 = OpenApiRouter::new()
        .routes(routes!(routes::order))
        .routes(routes!(routes::store_orders))
        .routes(routes!(routes::customer_orders))
        .routes(routes!(routes::summary))
        .routes(routes!(routes::top_products))
        .routes(routes!(routes::reconciliation))
        .layer(middleware::from_fn_with_state(keys, require_key));
    let api = OpenApiRouter::with_openapi(service_runtime::ops::document("serving", DESCRIPTION))
        .merge(v1)
        .routes(routes!(routes::ready));
    service_runtime::ops::service_router(
        api,
        state.metrics.clone(),
        state.metrics.requests.clone(),
        state,
    )
}
