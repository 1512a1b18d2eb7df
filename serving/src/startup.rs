//! Builds serving: store clients, the routes, the scheduled jobs; and runs it until a shutdown
//! signal.

use axum::Router;
use sales_stores::clickhouse;
use service_runtime::auth::behind_keys;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::cassandra_reads::Connected;
use crate::configuration::ServingConfig;
use crate::jobs::Jobs;
use crate::metrics::Metrics;
use crate::routes::{self, DESCRIPTION};
use crate::sales::SalesReads;
use crate::state::AppState;

pub struct Application {
    listener: TcpListener,
    state: AppState,
    /// Cancelled at shutdown, so the background connect stops retrying.
    stop: CancellationToken,
}

impl Application {
    /// Binds the listen address; Cassandra is connected in the background (with retries), so the
    /// service answers from the start and says what it still waits for.
    pub async fn build(config: ServingConfig) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(config.listen_addr).await?;
        let metrics = Arc::new(Metrics::default());
        let client = clickhouse::client(&config.clickhouse);
        let config = Arc::new(config);
        let cassandra = Connected::default();
        let stop = CancellationToken::new();
        cassandra.connect_in_background(config.clone(), client.clone(), stop.clone());
        let jobs = Jobs::new(cassandra.clone(), client.clone(), &config, metrics.clone());
        let state = AppState {
            cassandra,
            sales: Arc::new(SalesReads::new(
                client,
                config.clickhouse.request_timeout,
                config.clickhouse.business_zone,
            )),
            jobs: Arc::new(jobs),
            metrics,
            config,
        };
        Ok(Self {
            listener,
            state,
            stop,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        service_runtime::local_addr(&self.listener)
    }

    /// The jobs, to run one at once (tests, operators).
    pub fn jobs(&self) -> Arc<Jobs> {
        self.state.jobs.clone()
    }

    /// Whether Cassandra has been reached (tests wait for it).
    pub fn cassandra(&self) -> Connected {
        self.state.cassandra.clone()
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
        self.stop.cancel();
        scheduler.shutdown().await?;
        Ok(())
    }
}

/// The service's routes and their API document, built from the same handlers.
pub fn router(state: AppState) -> (Router, utoipa::openapi::OpenApi) {
    let reads = [
        // Cassandra's: an order, a store's day, a customer's orders.
        routes!(routes::order),
        routes!(routes::store_orders),
        routes!(routes::customer_orders),
        // ClickHouse's: the sales figures.
        routes!(routes::summary),
        routes!(routes::top_products),
        // Both: the last reconciliation of the two.
        routes!(routes::reconciliation),
    ]
    .into_iter()
    .fold(OpenApiRouter::new(), OpenApiRouter::routes);
    let keys = (
        &state.config.auth.keys,
        state.config.auth.rate_limit_per_key,
    );
    let api = OpenApiRouter::with_openapi(service_runtime::ops::document("serving", DESCRIPTION))
        .merge(behind_keys(reads, keys.0, keys.1))
        .routes(routes!(routes::ready));
    service_runtime::ops::service_router(
        api,
        state.metrics.clone(),
        state.metrics.requests.clone(),
        state,
    )
}
