//! Retention: drops ClickHouse's daily partitions older than the configured number of days from
//! the facts and aggregate tables. Partitions are business days (`BUSINESS_TIME_ZONE`), so a day
//! goes whole or not at all; today's and every younger partition are never touched.

use std::time::Duration;

use chrono::NaiveDate;
use clickhouse::{Client, Row};
use sales_stores::clickhouse::within;
use serde::{Deserialize, Serialize};

/// The partitioned tables retention prunes. Voids are partitioned by the void's own day, which
/// follows its sale's, so a void goes with or after the sale it cancels.
pub const TABLES: [&str; 7] = [
    "order_facts",
    "order_line_facts",
    "refund_facts",
    "refund_line_facts",
    "order_voids",
    "sales_by_window",
    "product_sales_by_window",
];

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct RetentionReport {
    /// Partitions of days before this date were dropped.
    pub cutoff: NaiveDate,
    /// (table, partition) dropped.
    pub dropped: Vec<(String, String)>,
}

#[derive(Row, Deserialize)]
struct PartRecord {
    table: String,
    partition: String,
}

/// The first day that is kept.
pub fn cutoff(today: NaiveDate, retention_days: u32) -> NaiveDate {
    today - chrono::Duration::days(i64::from(retention_days.max(1)))
}

/// A partition id of `toYYYYMMDD` as a date; anything else is never dropped.
fn partition_day(partition: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(partition.trim_matches('\''), "%Y%m%d").ok()
}

/// Drops the partitions older than the retention, each ClickHouse request bounded by `timeout`.
pub async fn run(
    client: &Client,
    database: &str,
    today: NaiveDate,
    retention_days: u32,
    timeout: Duration,
) -> anyhow::Result<RetentionReport> {
    let cutoff = cutoff(today, retention_days);
    let query = client
        .query("SELECT DISTINCT table, partition FROM system.parts WHERE database = ? AND active AND has(?, table) ORDER BY table, partition")
        .bind(database)
        .bind(TABLES.to_vec());
    let parts: Vec<PartRecord> = within(timeout, query.fetch_all()).await?;
    let mut dropped = Vec::new();
    for part in parts {
        let Some(day) = partition_day(&part.partition) else {
            continue;
        };
        if day >= cutoff {
            continue;
        }
        // The id is a plain yyyymmdd number here, checked by partition_day.
        let id = day.format("%Y%m%d");
        let drop = client.query(&format!(
            "ALTER TABLE {database}.{} DROP PARTITION {id}",
            part.table
        ));
        within(timeout, drop.execute()).await?;
        tracing::info!(table = %part.table, partition = %id, "retention dropped a partition");
        dropped.push((part.table, id.to_string()));
    }
    Ok(RetentionReport { cutoff, dropped })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_days_before_the_cutoff_go() {
        let today: NaiveDate = "2026-11-22".parse().unwrap();
        assert_eq!(
            cutoff(today, 90),
            "2026-08-24".parse::<NaiveDate>().unwrap()
        );
        assert_eq!(
            cutoff(today, 0),
            "2026-11-21".parse::<NaiveDate>().unwrap(),
            "today is always kept"
        );
        assert_eq!(partition_day("20261122"), Some(today));
        assert_eq!(partition_day("'20261122'"), Some(today));
        assert_eq!(partition_day("tuple()"), None);
    }
}
