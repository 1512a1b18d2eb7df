//! What every request handler shares. Kept apart from `startup`, which builds it, so the routes
//! depend on the state and `startup` on the routes, never the other way round.

use std::sync::Arc;

use service_runtime::problem::Problem;

use crate::cassandra_reads::Connected;
use crate::configuration::ServingConfig;
use crate::jobs::Jobs;
use crate::metrics::Metrics;
use crate::orders::OrderReads;
use crate::sales::SalesReads;

#[derive(Clone)]
pub struct AppState {
    pub config: Arc<ServingConfig>,
    pub cassandra: Connected,
    pub sales: Arc<SalesReads>,
    pub jobs: Arc<Jobs>,
    pub metrics: Arc<Metrics>,
}

impl AppState {
    /// Order reads, or a 503 with `Retry-After` while Cassandra is not reached yet.
    pub fn orders(&self) -> Result<&OrderReads, Problem> {
        self.cassandra
            .get()
            .map(|reads| &reads.orders)
            .ok_or_else(|| Problem::unavailable("Cassandra is not reachable yet; retry shortly"))
    }
}
