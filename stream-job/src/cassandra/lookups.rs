//! The Cassandra sink's look-ups: what is already stored of the ids a batch names, read before
//! the batch is resolved and written.

use anyhow::Context;
use futures::stream::{self, StreamExt, TryStreamExt};
use sales_model::Channel;
use scylla::deserialize::row::DeserializeRow;
use scylla::statement::prepared::PreparedStatement;

use sales_stores::cassandra::{StoredOrder, StoredRefund as RefundRow};

use super::sink::CassandraSink;
use crate::sink::{Known, StoredRefund, Wanted};

impl CassandraSink {
    /// Every row `statement` reads for one id, named by `table` in errors.
    async fn rows_of<R>(
        &self,
        statement: &PreparedStatement,
        id: &str,
        table: &str,
    ) -> anyhow::Result<Vec<R>>
    where
        R: for<'frame, 'metadata> DeserializeRow<'frame, 'metadata>,
    {
        let read = async {
            self.session
                .execute_unpaged(statement, (id,))
                .await?
                .into_rows_result()?
                .rows::<R>()?
                .collect::<Result<Vec<R>, _>>()
                .map_err(anyhow::Error::from)
        };
        read.await.with_context(|| format!("reading {table}"))
    }

    /// The `orders_by_id` row of `order_id`, if any.
    async fn stored_order(&self, order_id: &str) -> anyhow::Result<Option<StoredOrder>> {
        let rows = self
            .rows_of(&self.statements.stored_order, order_id, "orders_by_id")
            .await?;
        Ok(rows.into_iter().next())
    }

    /// The stored refund `refund_id` and the channel it was attributed to, if any.
    async fn stored_refund(&self, refund_id: &str) -> anyhow::Result<Option<StoredRefund>> {
        let rows = self
            .rows_of::<RefundRow>(&self.statements.stored_refund, refund_id, "refunds_by_id")
            .await?;
        Ok(rows.into_iter().next().map(|row| StoredRefund {
            record: row.record(),
            channel: Channel::parse(&row.channel).ok(),
        }))
    }

    /// (refund id, amount) of every stored refund of `order_id`: one small partition.
    async fn refunds_of(&self, order_id: &str) -> anyhow::Result<Vec<(String, i64)>> {
        self.rows_of(
            &self.statements.refunds_of_order,
            order_id,
            "refunds_by_order",
        )
        .await
    }

    /// What is already stored of the ids a batch names: sales, voids, refunds and each refunded
    /// sale's refunds (the read before write of `resolve`).
    pub(super) async fn read_known(&self, wanted: &Wanted) -> anyhow::Result<Known> {
        // The reads are made before they are streamed, and `buffered` keeps the answers in the
        // order of the ids.
        let orders: Vec<_> = wanted
            .orders
            .iter()
            .map(|id| self.stored_order(id))
            .collect();
        let refunds: Vec<_> = wanted
            .refunds
            .iter()
            .map(|id| self.stored_refund(id))
            .collect();
        let refunded: Vec<_> = wanted
            .refunded_orders
            .iter()
            .map(|id| self.refunds_of(id))
            .collect();
        let orders = stream::iter(orders)
            .buffered(self.concurrency)
            .try_collect::<Vec<_>>();
        let refunds = stream::iter(refunds)
            .buffered(self.concurrency)
            .try_collect::<Vec<_>>();
        let refunded = stream::iter(refunded)
            .buffered(self.concurrency)
            .try_collect::<Vec<_>>();
        let (orders, refunds, refunded) = futures::try_join!(orders, refunds, refunded)?;
        let mut known = Known::default();
        for row in orders.into_iter().flatten() {
            if let Some(void) = row.void() {
                known.voids.insert(row.order_id.clone(), void);
            }
            if let Some(sale) = row.record() {
                known.sales.insert(row.order_id.clone(), sale);
            }
        }
        for (id, refund) in wanted.refunds.iter().zip(refunds) {
            if let Some(refund) = refund {
                known.refunds.insert(id.clone(), refund);
            }
        }
        for (id, refunds) in wanted.refunded_orders.iter().zip(refunded) {
            known.refunded.insert(id.clone(), refunds);
        }
        Ok(known)
    }
}
