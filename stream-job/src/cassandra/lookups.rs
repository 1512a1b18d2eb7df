//! The Cassandra sink's look-ups: what is already stored of the ids a batch names, read before
//! the batch is resolved and written.

use anyhow::Context;
use futures::stream::{self, StreamExt, TryStreamExt};
use sales_model::Channel;

use sales_stores::cassandra::{StoredOrder, StoredRefund as RefundRow};

use super::sink::CassandraSink;
use crate::sink::{Known, StoredRefund, Wanted};

impl CassandraSink {
    /// The `orders_by_id` row of `order_id`, if any.
    async fn stored_order(&self, order_id: &str) -> anyhow::Result<Option<StoredOrder>> {
        let result = self
            .session
            .execute_unpaged(&self.statements.stored_order, (order_id,))
            .await
            .context("reading orders_by_id")?
            .into_rows_result()
            .context("reading orders_by_id")?;
        result
            .maybe_first_row::<StoredOrder>()
            .context("reading orders_by_id")
    }

    /// The stored refund `refund_id` and the channel it was attributed to, if any.
    async fn stored_refund(&self, refund_id: &str) -> anyhow::Result<Option<StoredRefund>> {
        let result = self
            .session
            .execute_unpaged(&self.statements.stored_refund, (refund_id,))
            .await
            .context("reading refunds_by_id")?
            .into_rows_result()
            .context("reading refunds_by_id")?;
        Ok(result
            .maybe_first_row::<RefundRow>()
            .context("reading refunds_by_id")?
            .map(|row| StoredRefund {
                record: row.record(),
                channel: Channel::parse(&row.channel).ok(),
            }))
    }

    /// (refund id, amount) of every stored refund of `order_id`: one small partition.
    async fn refunds_of(&self, order_id: &str) -> anyhow::Result<Vec<(String, i64)>> {
        let result = self
            .session
            .execute_unpaged(&self.statements.refunds_of_order, (order_id,))
            .await
            .context("reading refunds_by_order")?
            .into_rows_result()
            .context("reading refunds_by_order")?;
        result
            .rows::<(String, i64)>()
            .context("reading refunds_by_order")?
            .collect::<Result<_, _>>()
            .context("reading refunds_by_order")
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
