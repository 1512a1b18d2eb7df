//! Sales figures from ClickHouse's views: summaries grouped one way, and the top products.

use std::time::Duration;

use chrono::{DateTime, Utc};
use clickhouse::{Client, Row};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use sales_model::BusinessZone;
use sales_stores::clickhouse::within;

use crate::orders::money;

/// How a summary groups its rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupBy {
    Store,
    Channel,
    Region,
    Minute,
    Hour,
    Day,
}

impl GroupBy {
    pub const NAMES: &'static str = "store, channel, region, minute, hour, day";

    pub fn parse(value: &str) -> Option<GroupBy> {
        Some(match value {
            "store" => GroupBy::Store,
            "channel" => GroupBy::Channel,
            "region" => GroupBy::Region,
            "minute" => GroupBy::Minute,
            "hour" => GroupBy::Hour,
            "day" => GroupBy::Day,
            _ => return None,
        })
    }

    /// The grouping key as a ClickHouse expression over `v_sales_by_window`. Minute and hour keys
    /// are epoch seconds, turned into RFC 3339 here; the hour is the business zone's, bound as the
    /// one value of the expression (see [`GroupBy::binds_zone`]). A day is the view's business
    /// day, `2026-11-22`.
    fn expression(self) -> &'static str {
        match self {
            GroupBy::Store => "store_id",
            GroupBy::Channel => "channel",
            GroupBy::Region => "region",
            GroupBy::Minute => "toString(toUInt32(toStartOfMinute(window_start)))",
            GroupBy::Hour => "toString(toUInt32(toStartOfHour(window_start, ?)))",
            GroupBy::Day => "toString(day)",
        }
    }

    fn binds_zone(self) -> bool {
        self == GroupBy::Hour
    }

    fn is_instant(self) -> bool {
        matches!(self, GroupBy::Minute | GroupBy::Hour)
    }
}

/// A validated time range: windows whose start lies in `[from, to)`.
#[derive(Debug, Clone, Copy)]
pub struct Range {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

impl Range {
    /// Checks `from < to` and the span limit; the error is the message for a 400.
    pub fn new(
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        max_span: Duration,
    ) -> Result<Range, String> {
        if from >= to {
            return Err("`from` must be before `to`".into());
        }
        let span = (to - from).to_std().unwrap_or(Duration::MAX);
        if span > max_span {
            return Err(format!(
                "the range may span at most {} days",
                max_span.as_secs() / 86_400
            ));
        }
        Ok(Range { from, to })
    }

    fn bounds(&self) -> (u32, u32) {
        let clamp = |t: DateTime<Utc>| u32::try_from(t.timestamp().max(0)).unwrap_or(u32::MAX);
        (clamp(self.from), clamp(self.to))
    }
}

/// The condition every sales read shares: windows starting in the range, of one currency or of
/// all (an empty currency). Its values are bound by [`in_range`].
const IN_RANGE: &str =
    "window_start >= toDateTime(?) AND window_start < toDateTime(?) AND (? = '' OR currency = ?)";

/// Binds [`IN_RANGE`]'s values, in its order.
fn in_range(
    query: clickhouse::query::Query,
    range: Range,
    currency: Option<&str>,
) -> clickhouse::query::Query {
    let (from, to) = range.bounds();
    let currency = currency.unwrap_or("");
    query.bind(from).bind(to).bind(currency).bind(currency)
}

/// What a row's sales took and what went back, in its currency's units. Sales that were voided
/// count nowhere; refunds count where and when the money went back.
#[derive(Debug, Serialize, ToSchema)]
pub struct Takings {
    /// What was sold: a group's sale totals, or a product's line amounts (before the order's
    /// discount and tax).
    #[schema(example = "120.50")]
    pub gross: String,
    /// What went back.
    #[schema(example = "7.00")]
    pub refunds: String,
    /// gross − refunds.
    #[schema(example = "113.50")]
    pub net: String,
    /// The net amount, as before refunds existed.
    #[schema(example = "113.50")]
    pub revenue: String,
}

impl Takings {
    /// Sums of `v_sales_by_window` or `v_product_sales_by_window` in minor units of `currency`.
    fn of(gross_minor: i64, refunds_minor: i64, net_minor: i64, currency: &str) -> Takings {
        Takings {
            gross: money(gross_minor, currency),
            refunds: money(refunds_minor, currency),
            net: money(net_minor, currency),
            revenue: money(net_minor, currency),
        }
    }
}

/// One group's figures in one currency.
#[derive(Debug, Serialize, ToSchema)]
pub struct SummaryRow {
    pub key: String,
    pub currency: String,
    /// Sales (not voided).
    pub orders: u64,
    pub items: u64,
    #[serde(flatten)]
    pub takings: Takings,
}

/// One product's figures in one currency (line amounts, before order-level discount and tax).
#[derive(Debug, Serialize, ToSchema)]
pub struct ProductRow {
    pub sku: String,
    pub name: String,
    pub currency: String,
    pub quantity: u64,
    /// Units refunded.
    pub refunded_quantity: u64,
    /// Sales with the product.
    pub orders: u64,
    #[serde(flatten)]
    pub takings: Takings,
}

/// A summary's group as ClickHouse sums it; money in minor units of `currency`.
#[derive(Row, Deserialize)]
struct SummaryRecord {
    key: String,
    currency: String,
    total_orders: u64,
    total_items: u64,
    total_gross_minor: i64,
    total_refunds_minor: i64,
    total_net_minor: i64,
}

/// A product as ClickHouse sums it; money in minor units of `currency`.
#[derive(Row, Deserialize)]
struct ProductRecord {
    sku: String,
    product_name: String,
    currency: String,
    total_quantity: u64,
    total_refunded_quantity: u64,
    total_orders: u64,
    total_gross_minor: i64,
    total_refunds_minor: i64,
    total_net_minor: i64,
}

/// `takings()` for records whose sums ClickHouse names `total_gross_minor`, `total_refunds_minor`
/// and `total_net_minor`, in minor units of `currency`.
macro_rules! summed_takings {
    ($($record:ty),+) => {$(
        impl $record {
            fn takings(&self) -> Takings {
                Takings::of(
                    self.total_gross_minor,
                    self.total_refunds_minor,
                    self.total_net_minor,
                    &self.currency,
                )
            }
        }
    )+};
}

summed_takings!(SummaryRecord, ProductRecord);

impl SummaryRecord {
    /// The row served; an instant's key is shown in `local`'s zone.
    fn into_row(self, local: Option<&BusinessZone>) -> SummaryRow {
        SummaryRow {
            takings: self.takings(),
            key: match local {
                Some(zone) => zone.local_text(&self.key),
                None => self.key,
            },
            orders: self.total_orders,
            items: self.total_items,
            currency: self.currency,
        }
    }
}

impl From<ProductRecord> for ProductRow {
    fn from(r: ProductRecord) -> ProductRow {
        ProductRow {
            takings: r.takings(),
            sku: r.sku,
            name: r.product_name,
            quantity: r.total_quantity,
            refunded_quantity: r.total_refunded_quantity,
            orders: r.total_orders,
            currency: r.currency,
        }
    }
}

pub struct SalesReads {
    client: Client,
    timeout: Duration,
    /// Where hours and days of a summary begin.
    zone: BusinessZone,
}

impl SalesReads {
    pub fn new(client: Client, timeout: Duration, zone: BusinessZone) -> Self {
        Self {
            client,
            timeout,
            zone,
        }
    }

    async fn timed<T>(
        &self,
        query: impl std::future::Future<Output = clickhouse::error::Result<T>>,
    ) -> anyhow::Result<T> {
        within(self.timeout, query).await
    }

    /// Orders, items, gross, refunds and net per group and currency (currencies are never added
    /// together).
    pub async fn summary(
        &self,
        range: Range,
        group_by: GroupBy,
        currency: Option<&str>,
    ) -> anyhow::Result<Vec<SummaryRow>> {
        let sql = format!(
            "SELECT {} AS key, currency, sum(orders) AS total_orders, sum(items) AS total_items, sum(gross_minor) AS total_gross_minor, \
             sum(refunds_minor) AS total_refunds_minor, sum(net_minor) AS total_net_minor \
             FROM v_sales_by_window WHERE {IN_RANGE} GROUP BY key, currency ORDER BY key, currency",
            group_by.expression(),
        );
        let mut query = self.client.query(&sql);
        if group_by.binds_zone() {
            query = query.bind(self.zone.name());
        }
        let query = in_range(query, range, currency);
        let records: Vec<SummaryRecord> = self.timed(query.fetch_all()).await?;
        let local = group_by.is_instant().then_some(&self.zone);
        Ok(records.into_iter().map(|r| r.into_row(local)).collect())
    }

    /// The best-selling products by net revenue.
    pub async fn top_products(
        &self,
        range: Range,
        limit: usize,
        currency: Option<&str>,
    ) -> anyhow::Result<Vec<ProductRow>> {
        let sql = format!(
            "SELECT sku, anyIf(name, name != '') AS product_name, currency, sum(quantity) AS total_quantity, \
             sum(refunded_quantity) AS total_refunded_quantity, sum(orders) AS total_orders, sum(gross_minor) AS total_gross_minor, \
             sum(refunds_minor) AS total_refunds_minor, sum(net_minor) AS total_net_minor FROM v_product_sales_by_window \
             WHERE {IN_RANGE} GROUP BY sku, currency ORDER BY total_net_minor DESC, sku LIMIT ?"
        );
        let query = in_range(self.client.query(&sql), range, currency);
        let records: Vec<ProductRecord> = self.timed(query.bind(limit as u64).fetch_all()).await?;
        Ok(records.into_iter().map(ProductRow::from).collect())
    }

    pub async fn ping(&self) -> anyhow::Result<()> {
        self.timed(self.client.query("SELECT 1").execute()).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn ranges_are_checked() {
        let day = Duration::from_secs(86_400);
        assert!(Range::new(t("2026-11-22T00:00:00Z"), t("2026-11-23T00:00:00Z"), day).is_ok());
        assert!(
            Range::new(t("2026-11-22T00:00:00Z"), t("2026-11-23T00:00:01Z"), day)
                .unwrap_err()
                .contains("1 days")
        );
        assert!(
            Range::new(t("2026-11-22T00:00:00Z"), t("2026-11-22T00:00:00Z"), day)
                .unwrap_err()
                .contains("before")
        );
    }

    #[test]
    fn group_by_names_parse() {
        for name in GroupBy::NAMES.split(", ") {
            assert!(GroupBy::parse(name).is_some(), "{name}");
        }
        assert_eq!(GroupBy::parse("week"), None);
    }
}
