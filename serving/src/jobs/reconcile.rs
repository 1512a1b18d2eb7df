//! Reconciliation: per day, store, channel and currency, do Cassandra's raw sales and refunds
//! and ClickHouse's aggregates agree on orders, items, gross, refunds and net? And which refunds
//! belong to a sale the pipeline has never seen?
//!
//! Events younger than the grace period are left out on both sides (they may still be on their
//! way through the pipeline); the cut-off is aligned to the aggregate windows so both sides count
//! exactly the same events. On the Cassandra side a voided sale counts nowhere, and a refund
//! counts on its own day, at its own store, under the channel it was attributed to.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use clickhouse::Client;
use sales_stores::cassandra::DAY_BUCKETS;
use sales_stores::clickhouse::within;
use scylla::client::session::Session;
use scylla::statement::prepared::PreparedStatement;
use serde::Serialize;
use utoipa::ToSchema;

use crate::cql::{all_rows, prepare};

/// Orders, items (of the sales not voided), gross, refunds and net in minor units.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct Figures {
    pub orders: u64,
    pub items: u64,
    pub gross_minor: i64,
    pub refunds_minor: i64,
    /// gross − refunds.
    pub net_minor: i64,
}

impl Figures {
    fn add_sale(&mut self, items: u64, total: i64) {
        self.orders += 1;
        self.items += items;
        self.gross_minor += total;
        self.net_minor += total;
    }

    fn add_refund(&mut self, amount: i64) {
        self.refunds_minor += amount;
        self.net_minor -= amount;
    }
}

/// A refund whose sale no store holds: money left the till for a sale the pipeline never saw
/// (it still counts in the refunds).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct UnknownSaleRefund {
    pub refund_id: String,
    pub order_id: String,
    pub store_id: String,
    pub day: NaiveDate,
    pub currency: String,
    pub amount_minor: i64,
}

/// The most refunds of unknown sales a report lists (all are counted).
pub const MAX_LISTED_UNKNOWN: usize = 100;

/// (day, store, channel, currency)
pub type GroupKey = (NaiveDate, String, String, String);

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Mismatch {
    pub day: NaiveDate,
    pub store_id: String,
    pub channel: String,
    pub currency: String,
    pub cassandra: Figures,
    pub clickhouse: Figures,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReconciliationReport {
    /// `ok`, `mismatch`, `failed`, or `not_run` before the first run.
    pub status: String,
    pub last_run: Option<DateTime<Utc>>,
    pub last_success: Option<DateTime<Utc>>,
    pub days: Vec<NaiveDate>,
    /// Orders created before this instant were compared.
    pub cutoff: Option<DateTime<Utc>>,
    pub compared_groups: usize,
    pub mismatches: Vec<Mismatch>,
    /// Refunds (before the cut-off, on the days compared) whose sale is not stored.
    pub unknown_sale_refunds: usize,
    /// The first of them, at most 100.
    pub unknown_sale_refund_list: Vec<UnknownSaleRefund>,
    pub error: Option<String>,
}

impl Default for ReconciliationReport {
    fn default() -> Self {
        Self {
            status: "not_run".into(),
            last_run: None,
            last_success: None,
            days: Vec::new(),
            cutoff: None,
            compared_groups: 0,
            mismatches: Vec::new(),
            unknown_sale_refunds: 0,
            unknown_sale_refund_list: Vec::new(),
            error: None,
        }
    }
}

/// The groups whose figures differ (a group missing on one side counts as zero there).
pub fn compare(
    cassandra: &BTreeMap<GroupKey, Figures>,
    clickhouse: &BTreeMap<GroupKey, Figures>,
) -> (usize, Vec<Mismatch>) {
    let keys: BTreeSet<&GroupKey> = cassandra.keys().chain(clickhouse.keys()).collect();
    let compared = keys.len();
    let mismatches = keys
        .into_iter()
        .filter_map(|key| {
            let a = cassandra.get(key).copied().unwrap_or_default();
            let b = clickhouse.get(key).copied().unwrap_or_default();
            (a != b).then(|| Mismatch {
                day: key.0,
                store_id: key.1.clone(),
                channel: key.2.clone(),
                currency: key.3.clone(),
                cassandra: a,
                clickhouse: b,
            })
        })
        .collect();
    (compared, mismatches)
}

/// A row of `orders_by_day`, in [`DAY_COLUMNS`]' order.
type DayRow = (
    String,
    String,
    String,
    i32,
    i64,
    Option<DateTime<Utc>>,
    Option<bool>,
);

/// What reconciliation reads of `orders_by_day`.
const DAY_COLUMNS: &str =
    "store_id, channel, currency, item_count, total_minor, created_at, voided";

/// A row of `refunds_by_day`, in [`REFUND_DAY_COLUMNS`]' order.
type RefundDayRow = (
    String,
    String,
    String,
    i64,
    DateTime<Utc>,
    Option<bool>,
    String,
    String,
);

/// What reconciliation reads of `refunds_by_day`.
const REFUND_DAY_COLUMNS: &str =
    "store_id, channel, currency, amount_minor, created_at, sale_known, refund_id, order_id";

/// store_id, channel, currency, orders, items, gross_minor, refunds_minor, net_minor of a day in
/// `v_sales_by_window`.
type DailyTotals = (String, String, String, u64, u64, i64, i64, i64);

/// What one run found.
pub struct Outcome {
    pub cutoff: DateTime<Utc>,
    pub compared: usize,
    pub mismatches: Vec<Mismatch>,
    pub unknown_sale_refunds: Vec<UnknownSaleRefund>,
}

pub struct Reconciler {
    session: Arc<Session>,
    by_day: PreparedStatement,
    refunds_by_day: PreparedStatement,
    sale: PreparedStatement,
    clickhouse: Client,
    /// Longest one ClickHouse query may take (Cassandra's statements have the session's own).
    timeout: Duration,
    window_seconds: u32,
}

impl Reconciler {
    pub async fn new(
        session: Arc<Session>,
        keyspace: &str,
        clickhouse: Client,
        timeout: Duration,
        window_seconds: u32,
    ) -> anyhow::Result<Self> {
        // A day's tables are read bucket by bucket: one partition at a time.
        let day_bucket = |columns: &str, table: &str| {
            prepare(
                &session,
                format!("SELECT {columns} FROM {keyspace}.{table} WHERE day = ? AND bucket = ?"),
            )
        };
        let by_day = day_bucket(DAY_COLUMNS, "orders_by_day").await?;
        let refunds_by_day = day_bucket(REFUND_DAY_COLUMNS, "refunds_by_day").await?;
        let sale = prepare(
            &session,
            format!("SELECT store_id FROM {keyspace}.orders_by_id WHERE order_id = ?"),
        )
        .await?;
        Ok(Self {
            session,
            by_day,
            refunds_by_day,
            sale,
            clickhouse,
            timeout,
            window_seconds,
        })
    }

    /// The comparison for `days`, counting events created before `cutoff` (aligned down to a
    /// window boundary), and the refunds among them whose sale is not stored.
    pub async fn run(&self, days: &[NaiveDate], cutoff: DateTime<Utc>) -> anyhow::Result<Outcome> {
        let w = i64::from(self.window_seconds);
        let cutoff =
            DateTime::from_timestamp(cutoff.timestamp() - cutoff.timestamp().rem_euclid(w), 0)
                .unwrap_or(cutoff);
        let mut cassandra: BTreeMap<GroupKey, Figures> = BTreeMap::new();
        let mut clickhouse = BTreeMap::new();
        let mut unknown = Vec::new();
        for day in days {
            for bucket in 0..DAY_BUCKETS as i32 {
                let rows: Vec<DayRow> =
                    all_rows(&self.session, &self.by_day, (*day, bucket)).await?;
                for (store, channel, currency, items, total, created_at, voided) in rows {
                    if created_at.is_some_and(|t| t >= cutoff) || voided == Some(true) {
                        continue;
                    }
                    cassandra
                        .entry((*day, store, channel, currency))
                        .or_default()
                        .add_sale(u64::try_from(items).unwrap_or(0), total);
                }
                let refunds: Vec<RefundDayRow> =
                    all_rows(&self.session, &self.refunds_by_day, (*day, bucket)).await?;
                for (
                    store,
                    channel,
                    currency,
                    amount,
                    created_at,
                    sale_known,
                    refund_id,
                    order_id,
                ) in refunds
                {
                    if created_at >= cutoff {
                        continue;
                    }
                    cassandra
                        .entry((*day, store.clone(), channel, currency.clone()))
                        .or_default()
                        .add_refund(amount);
                    // Unknown when the refund was stored; the sale may have come since.
                    if sale_known != Some(true) && !self.sale_stored(&order_id).await? {
                        unknown.push(UnknownSaleRefund {
                            refund_id,
                            order_id,
                            store_id: store,
                            day: *day,
                            currency,
                            amount_minor: amount,
                        });
                    }
                }
            }
            let query = self
                .clickhouse
                .query(
                    "SELECT store_id, channel, currency, sum(orders) AS total_orders, sum(items) AS total_items, \
                     sum(gross_minor) AS total_gross_minor, sum(refunds_minor) AS total_refunds_minor, \
                     sum(net_minor) AS total_net_minor FROM v_sales_by_window \
                     WHERE day = toDate(?) AND window_start < toDateTime(?) GROUP BY store_id, channel, currency",
                )
                .bind(day.format("%Y-%m-%d").to_string())
                .bind(cutoff.timestamp());
            let totals: Vec<DailyTotals> = within(self.timeout, query.fetch_all()).await?;
            for (store, channel, currency, orders, items, gross, refunds, net) in totals {
                clickhouse.insert(
                    (*day, store, channel, currency),
                    Figures {
                        orders,
                        items,
                        gross_minor: gross,
                        refunds_minor: refunds,
                        net_minor: net,
                    },
                );
            }
        }
        let (compared, mismatches) = compare(&cassandra, &clickhouse);
        unknown.sort_by(|a, b| (a.day, &a.refund_id).cmp(&(b.day, &b.refund_id)));
        Ok(Outcome {
            cutoff,
            compared,
            mismatches,
            unknown_sale_refunds: unknown,
        })
    }

    /// Whether `orders_by_id` holds the sale `order_id` (a row with only a void does not count).
    async fn sale_stored(&self, order_id: &str) -> anyhow::Result<bool> {
        let result = self
            .session
            .execute_unpaged(&self.sale, (order_id,))
            .await?
            .into_rows_result()?;
        Ok(result
            .maybe_first_row::<(Option<String>,)>()?
            .is_some_and(|(store,)| store.is_some()))
    }
}

/// The days a run looks at: `count` days up to and including today (the business day).
pub fn recent_days(today: NaiveDate, count: u32) -> Vec<NaiveDate> {
    (0..i64::from(count))
        .rev()
        .map(|back| today - chrono::Duration::days(back))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(day: &str, store: &str) -> GroupKey {
        (
            day.parse().unwrap(),
            store.into(),
            "in_store".into(),
            "EUR".into(),
        )
    }

    #[test]
    fn differences_and_missing_groups_are_mismatches() {
        let f = |orders, net_minor| Figures {
            orders,
            items: orders * 2,
            gross_minor: net_minor,
            refunds_minor: 0,
            net_minor,
        };
        let cassandra = BTreeMap::from([
            (key("2026-11-22", "a"), f(3, 900)),
            (key("2026-11-22", "b"), f(1, 100)),
            (key("2026-11-22", "c"), f(2, 5)),
        ]);
        let clickhouse = BTreeMap::from([
            (key("2026-11-22", "a"), f(3, 900)),
            (key("2026-11-22", "b"), f(1, 101)),
            (key("2026-11-22", "d"), f(1, 1)),
        ]);
        let (compared, mismatches) = compare(&cassandra, &clickhouse);
        assert_eq!(compared, 4);
        let named: Vec<(&str, Figures, Figures)> = mismatches
            .iter()
            .map(|m| (m.store_id.as_str(), m.cassandra, m.clickhouse))
            .collect();
        assert_eq!(
            named,
            vec![
                ("b", f(1, 100), f(1, 101)),
                ("c", f(2, 5), Figures::default()),
                ("d", Figures::default(), f(1, 1))
            ]
        );
    }

    #[test]
    fn recent_days_end_today() {
        let today: NaiveDate = "2026-11-22".parse().unwrap();
        assert_eq!(
            recent_days(today, 2),
            vec!["2026-11-21".parse::<NaiveDate>().unwrap(), today]
        );
    }
}
