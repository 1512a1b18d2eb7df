//! Cassandra, which serving reads orders from and may start before: the session and every
//! statement serving prepares, connected in the background with retries. Until it is there the
//! service still answers — `/health` at once, `/ready` with 503 naming Cassandra, reads with 503
//! and `Retry-After` — instead of holding its port open and answering nothing.

use std::sync::Arc;
use std::time::Duration;

use sales_stores::cassandra;
use service_runtime::retry::until_ok;
use tokio::sync::OnceCell;
use tokio_util::sync::CancellationToken;

use crate::configuration::ServingConfig;
use crate::jobs::reconcile::Reconciler;
use crate::orders::OrderReads;

/// Longest pause between attempts to reach Cassandra.
const MAX_CONNECT_BACKOFF: Duration = Duration::from_secs(10);

/// What serving reads from Cassandra.
pub struct CassandraReads {
    pub orders: OrderReads,
    pub reconciler: Reconciler,
}

/// Cassandra's reads once connected; empty until then.
#[derive(Clone, Default)]
pub struct Connected(Arc<OnceCell<CassandraReads>>);

impl Connected {
    /// The reads, or `None` while Cassandra has not been reached yet.
    pub fn get(&self) -> Option<&CassandraReads> {
        self.0.get()
    }

    /// Waits up to `timeout` for Cassandra to be reached; false if it was not (for tools and
    /// tests that need reads at once).
    pub async fn reached_within(&self, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        while self.get().is_none() {
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        true
    }

    /// Connects in the background, retrying with backoff until Cassandra and the keyspace are
    /// there or `stop` is cancelled.
    pub fn connect_in_background(
        &self,
        config: Arc<ServingConfig>,
        clickhouse: ::clickhouse::Client,
        stop: CancellationToken,
    ) {
        let cell = self.0.clone();
        tokio::spawn(async move {
            let connected = until_ok(
                "connecting to Cassandra",
                MAX_CONNECT_BACKOFF,
                &stop,
                |_: &anyhow::Error| {},
                || connect(&config, &clickhouse),
            )
            .await;
            match connected {
                Ok(reads) => {
                    let _ = cell.set(reads);
                    tracing::info!("Cassandra connected");
                }
                Err(stopped) => tracing::info!(%stopped, "stopped before Cassandra was reached"),
            }
        });
    }
}

/// The session with every statement serving prepares.
async fn connect(
    config: &ServingConfig,
    clickhouse: &::clickhouse::Client,
) -> anyhow::Result<CassandraReads> {
    let session = Arc::new(cassandra::connect(&config.cassandra).await?);
    let reconciler = Reconciler::new(
        session.clone(),
        &config.cassandra.keyspace,
        clickhouse.clone(),
        config.clickhouse.request_timeout,
        config.clickhouse.window_seconds,
    )
    .await?;
    Ok(CassandraReads {
        orders: OrderReads::new(session, &config.cassandra.keyspace).await?,
        reconciler,
    })
}
