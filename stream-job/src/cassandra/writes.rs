//! The Cassandra sink's writes: a sale to its four tables, a void onto its sale's rows, a refund
//! to its four tables, each row an idempotent upsert.

use anyhow::Context;
use futures::future::{try_join_all, BoxFuture};
use sales_model::Channel;
use scylla::statement::prepared::PreparedStatement;

use sales_stores::cassandra::{customer_month, day_bucket, refund_bucket};

use super::rows::{
    unset, CustomerMonthRow, CustomerRow, DayRow, OrderRow, RefundByDayRow, RefundByIdRow,
    RefundByOrderRow, RefundByStoreDayRow, Row, StoreDayRow, VoidRow, VoidedCustomerRow,
    VoidedDayRow, VoidedStoreDayRow,
};
use super::sink::CassandraSink;
use crate::sink::{RefundEntry, SaleEntry, VoidEntry};

/// What `refunds_by_id.channel` says when the refund's sale was not known.
const UNKNOWN_CHANNEL: &str = "unknown";

impl CassandraSink {
    pub(super) async fn write_sale(&self, entry: &SaleEntry) -> anyhow::Result<()> {
        let envelope = &entry.sale;
        let voided = entry.voided;
        let order = &envelope.event;
        let created_at = order.created_at();
        let day = self.business_zone.day_of(created_at);
        let item_count = i32::try_from(order.item_count()).context("item count out of range")?;
        let total_minor = order.total().minor();
        let order_id = order.order_id().as_str();
        let store_id = order.store_id().as_str();
        let channel = order.channel().as_str();
        let currency = order.currency().as_str();
        let customer_id = order.customer_id().map(|c| c.as_str());
        let payment_method = order.payment_method().map(|p| p.as_str());
        let lines = order.lines();
        let row = OrderRow {
            order_id,
            store_id,
            terminal_id: unset(order.terminal_id().map(|t| t.as_str())),
            customer_id: unset(customer_id),
            channel,
            currency,
            created_at,
            day,
            line_skus: lines.iter().map(|l| l.sku().as_str()).collect(),
            line_names: lines.iter().map(|l| l.name()).collect(),
            line_quantities: lines.iter().map(|l| l.quantity() as i32).collect(),
            line_unit_prices_minor: lines.iter().map(|l| l.unit_price().minor()).collect(),
            item_count,
            discount_minor: order.discount().minor(),
            tax_minor: order.tax().minor(),
            total_minor,
            payment_method: unset(payment_method),
            ingest_id: envelope.ingest_id,
            ingested_at: envelope.ingested_at,
        };
        let store_day = StoreDayRow {
            store_id,
            day,
            created_at,
            order_id,
            channel,
            currency,
            item_count,
            total_minor,
            customer_id: unset(customer_id),
            payment_method: unset(payment_method),
            voided,
        };
        let by_day = DayRow {
            day,
            bucket: day_bucket(order_id),
            store_id,
            order_id,
            created_at,
            channel,
            currency,
            item_count,
            total_minor,
            voided,
        };
        let mut writes: Vec<BoxFuture<'_, anyhow::Result<()>>> = vec![
            Box::pin(self.execute(&self.statements.by_id, row)),
            Box::pin(self.execute(&self.statements.by_store_day, store_day)),
            Box::pin(self.execute(&self.statements.by_day, by_day)),
        ];
        if let Some(customer_id) = customer_id {
            let month = customer_month(created_at);
            let row = CustomerRow {
                customer_id,
                month,
                created_at,
                order_id,
                store_id,
                channel,
                currency,
                item_count,
                total_minor,
                voided,
            };
            writes.push(Box::pin(self.execute(&self.statements.by_customer, row)));
            writes.push(Box::pin(self.execute(
                &self.statements.customer_months,
                CustomerMonthRow { customer_id, month },
            )));
        }
        try_join_all(writes).await?;
        Ok(())
    }

    /// Keeps the void on its sale's `orders_by_id` row and, when the sale is known, marks the
    /// sale's rows in the other tables voided.
    pub(super) async fn write_void(&self, entry: &VoidEntry) -> anyhow::Result<()> {
        let void = &entry.void.event;
        let order_id = void.order_id().as_str();
        let row = VoidRow {
            order_id,
            void_store_id: void.store_id().as_str(),
            void_created_at: void.created_at(),
            void_reason: unset(void.reason()),
            void_ingest_id: entry.void.ingest_id,
            void_ingested_at: entry.void.ingested_at,
        };
        let mut writes: Vec<BoxFuture<'_, anyhow::Result<()>>> =
            vec![Box::pin(self.execute(&self.statements.void_by_id, row))];
        if let Some(sale) = &entry.sale {
            let day = self.business_zone.day_of(sale.created_at);
            let store_id = sale.store_id.as_str();
            writes.push(Box::pin(self.execute(
                &self.statements.voided_by_store_day,
                VoidedStoreDayRow {
                    store_id,
                    day,
                    created_at: sale.created_at,
                    order_id,
                    voided: true,
                },
            )));
            writes.push(Box::pin(self.execute(
                &self.statements.voided_by_day,
                VoidedDayRow {
                    day,
                    bucket: day_bucket(order_id),
                    store_id,
                    order_id,
                    voided: true,
                },
            )));
            if let Some(customer_id) = &sale.customer_id {
                writes.push(Box::pin(self.execute(
                    &self.statements.voided_by_customer,
                    VoidedCustomerRow {
                        customer_id: customer_id.as_str(),
                        month: customer_month(sale.created_at),
                        created_at: sale.created_at,
                        order_id,
                        voided: true,
                    },
                )));
            }
        }
        try_join_all(writes).await?;
        Ok(())
    }

    pub(super) async fn write_refund(&self, entry: &RefundEntry) -> anyhow::Result<()> {
        let refund = &entry.refund.event;
        let created_at = refund.created_at();
        let day = self.business_zone.day_of(created_at);
        let refund_id = refund.refund_id().as_str();
        let order_id = refund.order_id().as_str();
        let store_id = refund.store_id().as_str();
        let currency = refund.currency().as_str();
        let channel = entry.channel.map_or(UNKNOWN_CHANNEL, Channel::as_str);
        let amount_minor = refund.amount().minor();
        let reason = refund.reason();
        let lines = refund.lines();
        let by_id = RefundByIdRow {
            refund_id,
            order_id,
            store_id,
            channel,
            sale_known: entry.channel.is_some(),
            currency,
            created_at,
            day,
            line_skus: lines.iter().map(|l| l.sku().as_str()).collect(),
            line_quantities: lines.iter().map(|l| l.quantity() as i32).collect(),
            line_amounts_minor: lines.iter().map(|l| l.amount().minor()).collect(),
            amount_minor,
            reason: unset(reason),
            ingest_id: entry.refund.ingest_id,
            ingested_at: entry.refund.ingested_at,
        };
        let by_order = RefundByOrderRow {
            order_id,
            refund_id,
            store_id,
            currency,
            created_at,
            amount_minor,
            reason: unset(reason),
        };
        let by_store_day = RefundByStoreDayRow {
            store_id,
            day,
            created_at,
            refund_id,
            order_id,
            channel,
            currency,
            amount_minor,
            reason: unset(reason),
        };
        let by_day = RefundByDayRow {
            day,
            bucket: refund_bucket(refund_id),
            store_id,
            refund_id,
            order_id,
            created_at,
            channel,
            sale_known: entry.channel.is_some(),
            currency,
            amount_minor,
        };
        try_join_all([
            Box::pin(self.execute(&self.statements.refund_by_id, by_id))
                as BoxFuture<'_, anyhow::Result<()>>,
            Box::pin(self.execute(&self.statements.refund_by_order, by_order)),
            Box::pin(self.execute(&self.statements.refund_by_store_day, by_store_day)),
            Box::pin(self.execute(&self.statements.refund_by_day, by_day)),
        ])
        .await?;
        Ok(())
    }

    /// Writes one row with its upsert; counted per table.
    async fn execute<R: Row>(&self, statement: &PreparedStatement, row: R) -> anyhow::Result<()> {
        self.session
            .execute_unpaged(statement, row)
            .await
            .with_context(|| format!("writing {}", R::TABLE))?;
        self.metrics.wrote(R::TABLE, 1);
        Ok(())
    }
}
