//! Every statement the Cassandra sink runs, prepared once at start-up: an upsert per written row
//! shape ([`Row`]: its table and columns) and the three reads of what is already stored.

use std::sync::Arc;

use anyhow::Context;
use scylla::client::session::Session;
use scylla::statement::prepared::PreparedStatement;

use sales_stores::cassandra::{StoredOrder, StoredRefund};

use super::rows::{
    CustomerMonthRow, CustomerRow, DayRow, OrderRow, RefundByDayRow, RefundByIdRow,
    RefundByOrderRow, RefundByStoreDayRow, Row, StoreDayRow, VoidRow, VoidedCustomerRow,
    VoidedDayRow, VoidedStoreDayRow,
};

pub struct Statements {
    pub by_id: PreparedStatement,
    pub by_store_day: PreparedStatement,
    pub by_customer: PreparedStatement,
    pub customer_months: PreparedStatement,
    pub by_day: PreparedStatement,
    pub void_by_id: PreparedStatement,
    pub voided_by_store_day: PreparedStatement,
    pub voided_by_customer: PreparedStatement,
    pub voided_by_day: PreparedStatement,
    pub refund_by_id: PreparedStatement,
    pub refund_by_order: PreparedStatement,
    pub refund_by_store_day: PreparedStatement,
    pub refund_by_day: PreparedStatement,
    /// Reads an order's row (sale and void) back, to tell a retry from a conflicting duplicate.
    pub stored_order: PreparedStatement,
    pub stored_refund: PreparedStatement,
    pub refunds_of_order: PreparedStatement,
}

/// `INSERT INTO keyspace.table (columns) VALUES (?, …)` for the row shape `R`.
fn upsert<R: Row>(keyspace: &str) -> String {
    let markers = vec!["?"; R::COLUMNS.len()].join(", ");
    format!(
        "INSERT INTO {keyspace}.{} ({}) VALUES ({markers})",
        R::TABLE,
        R::COLUMNS.join(", ")
    )
}

async fn prepare(session: &Session, cql: String) -> anyhow::Result<PreparedStatement> {
    session
        .prepare(cql.as_str())
        .await
        .with_context(|| format!("cannot prepare {cql}"))
}

/// An upsert: plain, so safe for the driver to retry or speculate.
async fn prepare_upsert<R: Row>(
    session: &Session,
    keyspace: &str,
) -> anyhow::Result<PreparedStatement> {
    let mut statement = prepare(session, upsert::<R>(keyspace)).await?;
    statement.set_is_idempotent(true);
    Ok(statement)
}

impl Statements {
    /// Prepares every statement on `session`; fails naming the first the schema cannot take.
    pub async fn prepare(session: &Arc<Session>, keyspace: &str) -> anyhow::Result<Statements> {
        let s = session.as_ref();
        Ok(Statements {
            // A sale's four tables, and the months its customer bought in.
            by_id: prepare_upsert::<OrderRow>(s, keyspace).await?,
            by_store_day: prepare_upsert::<StoreDayRow>(s, keyspace).await?,
            by_customer: prepare_upsert::<CustomerRow>(s, keyspace).await?,
            customer_months: prepare_upsert::<CustomerMonthRow>(s, keyspace).await?,
            by_day: prepare_upsert::<DayRow>(s, keyspace).await?,
            // A void, on its sale's rows.
            void_by_id: prepare_upsert::<VoidRow>(s, keyspace).await?,
            voided_by_store_day: prepare_upsert::<VoidedStoreDayRow>(s, keyspace).await?,
            voided_by_customer: prepare_upsert::<VoidedCustomerRow>(s, keyspace).await?,
            voided_by_day: prepare_upsert::<VoidedDayRow>(s, keyspace).await?,
            // A refund's four tables.
            refund_by_id: prepare_upsert::<RefundByIdRow>(s, keyspace).await?,
            refund_by_order: prepare_upsert::<RefundByOrderRow>(s, keyspace).await?,
            refund_by_store_day: prepare_upsert::<RefundByStoreDayRow>(s, keyspace).await?,
            refund_by_day: prepare_upsert::<RefundByDayRow>(s, keyspace).await?,
            // The look-ups of a batch's ids.
            stored_order: prepare(s, StoredOrder::select(keyspace)).await?,
            stored_refund: prepare(s, StoredRefund::select(keyspace)).await?,
            refunds_of_order: prepare(
                s,
                format!(
                    "SELECT refund_id, amount_minor FROM {keyspace}.refunds_by_order WHERE order_id = ?"
                ),
            )
            .await?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_upsert_binds_every_column_of_its_row() {
        assert_eq!(
            upsert::<VoidedDayRow>("sales"),
            "INSERT INTO sales.orders_by_day (day, bucket, store_id, order_id, voided) VALUES (?, ?, ?, ?, ?)"
        );
    }
}
