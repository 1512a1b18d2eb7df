//! Which windows a batch touched, and the SQL that recomputes them.
//!
//! Touched windows are merged into contiguous ranges, so a burst of orders over an hour costs one
//! `INSERT … SELECT` per aggregate table, not sixty; each range carries the stores seen in it, and
//! only their rows are recomputed. A range never crosses a UTC day (a daily partition) and holds
//! at most [`MAX_WINDOWS_PER_RANGE`] windows, so a replay of many days becomes many bounded
//! statements, each of which finishes within the request timeout, instead of one that never does
//! and is retried forever.

use std::collections::{BTreeMap, BTreeSet};

use clickhouse::query::Query;
use clickhouse::Client;

const SALES_TEMPLATE: &str =
    include_str!("../../../clickhouse-sql/queries/recompute_sales_by_window.sql");
const PRODUCTS_TEMPLATE: &str =
    include_str!("../../../clickhouse-sql/queries/recompute_product_sales_by_window.sql");

/// The most windows one recompute statement covers (a day of one-minute windows).
pub const MAX_WINDOWS_PER_RANGE: usize = 1_440;

const DAY_SECONDS: u32 = 86_400;

/// Start of the `window`-second window holding `epoch_seconds`.
pub fn window_start(epoch_seconds: u32, window: u32) -> u32 {
    epoch_seconds - epoch_seconds % window
}

/// Windows (by start) and the stores that have new facts in them.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Touched(BTreeMap<u32, BTreeSet<String>>);

/// A run of adjacent windows, `[from, to)` in epoch seconds, and the stores to recompute there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowRange {
    pub from: u32,
    pub to: u32,
    pub stores: BTreeSet<String>,
    pub windows: usize,
}

impl Touched {
    pub fn add(&mut self, window_start: u32, store_id: &str) {
        self.0
            .entry(window_start)
            .or_default()
            .insert(store_id.to_string());
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn merge(&mut self, other: Touched) {
        for (window, stores) in other.0 {
            self.0.entry(window).or_default().extend(stores);
        }
    }

    /// Adjacent windows merged into ranges, each within one UTC day and at most
    /// [`MAX_WINDOWS_PER_RANGE`] windows long.
    pub fn ranges(&self, window: u32) -> Vec<WindowRange> {
        let mut ranges: Vec<WindowRange> = Vec::new();
        for (&start, stores) in &self.0 {
            let same_day = |last: &WindowRange| last.from / DAY_SECONDS == start / DAY_SECONDS;
            match ranges.last_mut() {
                Some(last)
                    if last.to == start
                        && same_day(last)
                        && last.windows < MAX_WINDOWS_PER_RANGE =>
                {
                    last.to = start + window;
                    last.stores.extend(stores.iter().cloned());
                    last.windows += 1;
                }
                _ => ranges.push(WindowRange {
                    from: start,
                    to: start + window,
                    stores: stores.clone(),
                    windows: 1,
                }),
            }
        }
        ranges
    }
}

/// The two recompute statements (store/channel/currency, then products) for one range, in
/// `database`, from the templates in `clickhouse-sql/queries/`. Every value is bound by the
/// client, in the templates' order (once for the sales, once for the refunds); the database (a
/// checked identifier) is the one name filled in.
pub fn recompute_queries(
    client: &Client,
    range: &WindowRange,
    window: u32,
    database: &str,
) -> [Query; 2] {
    let stores: Vec<&str> = range.stores.iter().map(String::as_str).collect();
    [SALES_TEMPLATE, PRODUCTS_TEMPLATE].map(|template| {
        let sql = template
            .lines()
            .filter(|line| !line.trim_start().starts_with("--"))
            .collect::<Vec<_>>()
            .join("\n")
            .replace("{database}", database);
        let bind_range = |query: Query| {
            query
                .bind(window)
                .bind(window)
                .bind(range.from)
                .bind(range.to)
                .bind(&stores)
        };
        bind_range(bind_range(client.query(&sql)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_start_on_multiples_of_their_size() {
        assert_eq!(window_start(1_795_341_659, 60), 1_795_341_600);
        assert_eq!(window_start(1_795_341_600, 60), 1_795_341_600);
        assert_eq!(window_start(1_795_341_601, 10), 1_795_341_600);
    }

    #[test]
    fn adjacent_windows_merge_and_gaps_split() {
        let mut touched = Touched::default();
        touched.add(600, "a");
        touched.add(660, "b");
        touched.add(720, "a");
        touched.add(1200, "c");
        let ranges = touched.ranges(60);
        assert_eq!(ranges.len(), 2);
        assert_eq!(
            (ranges[0].from, ranges[0].to, ranges[0].windows),
            (600, 780, 3)
        );
        assert_eq!(ranges[0].stores.iter().collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!((ranges[1].from, ranges[1].to), (1200, 1260));
    }

    #[test]
    fn a_replay_of_several_days_becomes_bounded_ranges_within_days() {
        let day = 1_795_305_600; // 2026-11-22T00:00:00Z
        let mut touched = Touched::default();
        // Every minute of three days and a half, as a replay would touch them.
        for minute in 0..(3 * 1_440 + 720) {
            touched.add(day - 3 * 86_400 + minute * 60, "store-1");
        }
        let ranges = touched.ranges(60);
        assert_eq!(ranges.len(), 4);
        for range in &ranges {
            assert_eq!(
                range.from / 86_400,
                (range.to - 1) / 86_400,
                "{range:?} crosses a day"
            );
            assert!(range.windows <= MAX_WINDOWS_PER_RANGE);
        }
        assert_eq!(
            ranges.iter().map(|r| r.windows).sum::<usize>(),
            3 * 1_440 + 720
        );
        // Ten-second windows: a day holds 8,640, so each day splits at the window cap.
        let mut fine = Touched::default();
        for second in (0..86_400).step_by(10) {
            fine.add(day + second, "store-1");
        }
        let ranges = fine.ranges(10);
        assert_eq!(ranges.len(), 6);
        assert!(ranges.iter().all(|r| r.windows == MAX_WINDOWS_PER_RANGE));
    }

    #[test]
    fn statements_bind_every_value_and_name_only_the_database() {
        let mut touched = Touched::default();
        // A store id that contains the default database's name must stay as it is.
        touched.add(600, "eu-sales.1");
        touched.add(600, "o'brien");
        let [sales, products] =
            recompute_queries(&Client::default(), &touched.ranges(60)[0], 60, "prod")
                .map(|query| query.sql_display().to_string());
        assert!(
            sales.starts_with("INSERT INTO prod.sales_by_window"),
            "{sales}"
        );
        assert!(sales.contains("FROM prod.order_facts FINAL"), "{sales}");
        assert!(
            sales.contains(
                "created_at >= toDateTime(600) AND created_at < toDateTime(660) AND has(['eu-sales.1','o\\'brien'], store_id)"
            ),
            "{sales}"
        );
        assert!(
            sales.contains("intDiv(toUInt32(created_at), 60) * 60"),
            "{sales}"
        );
        assert!(
            products.starts_with("INSERT INTO prod.product_sales_by_window"),
            "{products}"
        );
        for statement in [&sales, &products] {
            assert!(!statement.contains('{'), "{statement}");
            assert!(!statement.contains('?'), "{statement}");
            assert!(!statement.contains("--"), "{statement}");
        }
    }
}
