//! Reconciliation: per day, store, channel and currency, do Cassandra's raw orders and
//! ClickHouse's aggregates agree on orders, items and revenue?
//!
//! Orders younger than the grace period are left out on both sides (they may still be on their
//! way through the pipeline); the cut-off is aligned to the aggregate windows so both sides count
//! exactly the same orders.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use clickhouse::{Client, Row};
use futures::TryStreamExt;
use sales_stores::cassandra::DAY_BUCKETS;
use sales_stores::clickhouse::within;
use scylla::client::session::Session;
use scylla::statement::prepared::PreparedStatement;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Orders, items, revenue (minor units).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct Figures {
    pub orders: u64,
    pub items: u64,
    pub revenue_minor: i64,
}

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

/// store_id, channel, currency, item_count, total_minor, created_at of `orders_by_day`.
type DayRow = (String, String, String, i32, i64, Option<DateTime<Utc>>);

#[derive(Row, Deserialize)]
struct DailyRecord {
    store_id: String,
    channel: String,
    currency: String,
    total_orders: u64,
    total_items: u64,
    total_revenue_minor: i64,
}

pub struct Reconciler {
    session: Arc<Session>,
    by_day: PreparedStatement,
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
        let by_day = session
            .prepare(format!(
                "SELECT store_id, channel, currency, item_count, total_minor, created_at FROM {keyspace}.orders_by_day WHERE day = ? AND bucket = ?"
            ))
            .await?;
        Ok(Self {
            session,
            by_day,
            clickhouse,
            timeout,
            window_seconds,
        })
    }

    /// The comparison for `days`, counting orders created before `cutoff` (aligned down to a
    /// window boundary).
    pub async fn run(
        &self,
        days: &[NaiveDate],
        cutoff: DateTime<Utc>,
    ) -> anyhow::Result<(DateTime<Utc>, usize, Vec<Mismatch>)> {
        let w = i64::from(self.window_seconds);
        let cutoff =
            DateTime::from_timestamp(cutoff.timestamp() - cutoff.timestamp().rem_euclid(w), 0)
                .unwrap_or(cutoff);
        let mut cassandra = BTreeMap::new();
        let mut clickhouse = BTreeMap::new();
        for day in days {
            for bucket in 0..DAY_BUCKETS as i32 {
                let rows: Vec<DayRow> = self
                    .session
                    .execute_iter(self.by_day.clone(), (*day, bucket))
                    .await?
                    .rows_stream()?
                    .try_collect()
                    .await?;
                for (store, channel, currency, items, total, created_at) in rows {
                    if created_at.is_some_and(|t| t >= cutoff) {
                        continue;
                    }
                    let entry: &mut Figures = cassandra
                        .entry((*day, store, channel, currency))
                        .or_default();
                    entry.orders += 1;
                    entry.items += u64::try_from(items).unwrap_or(0);
                    entry.revenue_minor += total;
                }
            }
            let query = self
                .clickhouse
                .query(
                    "SELECT store_id, channel, currency, sum(orders) AS total_orders, sum(items) AS total_items, \
                     sum(revenue_minor) AS total_revenue_minor FROM v_sales_by_window \
                     WHERE day = toDate(?) AND window_start < toDateTime(?) GROUP BY store_id, channel, currency",
                )
                .bind(day.format("%Y-%m-%d").to_string())
                .bind(cutoff.timestamp());
            let records: Vec<DailyRecord> = within(self.timeout, query.fetch_all()).await?;
            for r in records {
                clickhouse.insert(
                    (*day, r.store_id, r.channel, r.currency),
                    Figures {
                        orders: r.total_orders,
                        items: r.total_items,
                        revenue_minor: r.total_revenue_minor,
                    },
                );
            }
        }
        let (compared, mismatches) = compare(&cassandra, &clickhouse);
        Ok((cutoff, compared, mismatches))
    }
}

/// The days a run looks at: `count` days up to and including today (UTC).
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
        let f = |orders, revenue_minor| Figures {
            orders,
            items: orders * 2,
            revenue_minor,
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
