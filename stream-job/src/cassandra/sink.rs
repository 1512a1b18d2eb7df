//! The Cassandra sink: the session, its prepared [`Statements`], and the [`Sink`] it is to the
//! pipeline. Its rows are in `rows`, its writes in `writes`, its look-ups in `lookups`.

use std::sync::Arc;

use anyhow::Context;
use futures::future::BoxFuture;
use futures::stream::{self, StreamExt, TryStreamExt};
use sales_model::BusinessZone;
use scylla::client::session::Session;

use sales_stores::cassandra::{connect, CassandraConfig};

use super::statements::Statements;
use crate::metrics::Metrics;
use crate::sink::{Batch, KnownResult, Sink, SinkError, Wanted};

pub struct CassandraSink {
    pub(super) session: Arc<Session>,
    pub(super) statements: Statements,
    pub(super) concurrency: usize,
    /// Where `created_at` becomes the `day` of `orders_by_store_day` and `orders_by_day`.
    pub(super) business_zone: BusinessZone,
    pub(super) metrics: Arc<Metrics>,
}

impl CassandraSink {
    /// Connects to the cluster and prepares the statements; fails if the schema is missing.
    pub async fn connect(config: &CassandraConfig, metrics: Arc<Metrics>) -> anyhow::Result<Self> {
        let session = Arc::new(connect(config).await?);
        let statements = Statements::prepare(&session, &config.keyspace).await?;
        Ok(CassandraSink {
            session,
            statements,
            concurrency: config.concurrency,
            business_zone: config.business_zone,
            metrics,
        })
    }
}

impl Sink for CassandraSink {
    fn name(&self) -> &'static str {
        "cassandra"
    }

    fn check(&self) -> BoxFuture<'_, Result<(), SinkError>> {
        // Preparing a statement again is a round trip that proves the cluster answers and the
        // table is still there, without reading any data.
        Box::pin(async move {
            let cql = self.statements.by_id.get_statement();
            self.session
                .prepare(cql)
                .await
                .with_context(|| format!("cannot prepare {cql}"))?;
            Ok(())
        })
    }

    fn known<'a>(&'a self, wanted: &'a Wanted) -> BoxFuture<'a, KnownResult> {
        Box::pin(async move { Ok(Some(self.read_known(wanted).await?)) })
    }

    fn write<'a>(&'a self, batch: &'a Batch) -> BoxFuture<'a, Result<(), SinkError>> {
        // Refunds and voids are stored before the batch's sales: a sale is never stored while a
        // refund or void ahead of it in the batch is not. A replay after a crash between the two
        // then finds such a refund stored with the attribution it was given (its sale unknown),
        // instead of deriving it anew from the sale (DESIGN.md §3, ARCHITECTURE.md).
        Box::pin(async move {
            let first: Vec<BoxFuture<'_, anyhow::Result<()>>> = batch
                .refunds
                .iter()
                .map(|entry| Box::pin(self.write_refund(entry)) as BoxFuture<'_, _>)
                .chain(
                    batch
                        .voids
                        .iter()
                        .map(|entry| Box::pin(self.write_void(entry)) as BoxFuture<'_, _>),
                )
                .collect();
            stream::iter(first)
                .buffer_unordered(self.concurrency)
                .try_collect::<()>()
                .await?;
            let sales: Vec<BoxFuture<'_, anyhow::Result<()>>> = batch
                .sales
                .iter()
                .map(|entry| Box::pin(self.write_sale(entry)) as BoxFuture<'_, _>)
                .collect();
            stream::iter(sales)
                .buffer_unordered(self.concurrency)
                .try_collect::<()>()
                .await
        })
    }
}
