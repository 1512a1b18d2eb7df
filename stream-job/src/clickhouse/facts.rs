//! The fact rows stream-job writes to ClickHouse, built from a batch: sales and their lines,
//! refunds and their lines, voids, each with the business day it is partitioned by.

use chrono::{DateTime, NaiveDate, Utc};
use clickhouse::Row;
use sales_model::{BusinessZone, Channel, Currency};
use serde::Serialize;

use crate::sink::Batch;

/// The `channel` of a refund whose sale was not known.
const UNKNOWN_CHANNEL: &str = "unknown";

#[derive(Row, Serialize)]
pub struct OrderFact {
    pub created_at: u32,
    pub day: u16,
    pub order_id: String,
    pub store_id: String,
    pub channel: String,
    pub currency: String,
    pub currency_exponent: u8,
    pub customer_id: String,
    pub payment_method: String,
    pub item_count: u64,
    pub discount_minor: i64,
    pub tax_minor: i64,
    pub total_minor: i64,
    pub ingested_at: u32,
}

#[derive(Row, Serialize)]
pub struct LineFact {
    pub created_at: u32,
    pub day: u16,
    pub order_id: String,
    pub line_no: u32,
    pub store_id: String,
    pub currency: String,
    pub currency_exponent: u8,
    pub sku: String,
    pub name: String,
    pub quantity: u64,
    pub unit_price_minor: i64,
    pub amount_minor: i64,
}

#[derive(Row, Serialize)]
pub struct RefundFact {
    pub created_at: u32,
    pub day: u16,
    pub refund_id: String,
    pub order_id: String,
    pub store_id: String,
    pub channel: String,
    pub sale_known: u8,
    pub currency: String,
    pub currency_exponent: u8,
    pub amount_minor: i64,
    pub ingested_at: u32,
}

#[derive(Row, Serialize)]
pub struct RefundLineFact {
    pub created_at: u32,
    pub day: u16,
    pub refund_id: String,
    pub line_no: u32,
    pub store_id: String,
    pub currency: String,
    pub currency_exponent: u8,
    pub sku: String,
    pub quantity: u64,
    pub amount_minor: i64,
}

#[derive(Row, Serialize)]
pub struct VoidFact {
    pub order_id: String,
    pub voided_at: u32,
    pub day: u16,
    pub store_id: String,
    pub reason: String,
    pub ingested_at: u32,
}

/// Event time as ClickHouse `DateTime` (whole seconds since the epoch, UTC).
pub fn epoch_seconds(t: DateTime<Utc>) -> u32 {
    u32::try_from(t.timestamp()).unwrap_or(0)
}

/// A day as ClickHouse `Date` (days since 1970-01-01). Orders' times are checked to lie within
/// what `DateTime` holds, whose days all fit.
pub fn epoch_days(day: NaiveDate) -> u16 {
    u16::try_from((day - NaiveDate::default()).num_days()).unwrap_or(0)
}

fn exponent(currency: &Currency) -> u8 {
    currency.exponent() as u8
}

/// Every fact row of a batch, each kind bound for its own table.
#[derive(Default)]
pub struct Facts {
    /// One row per sale.
    pub orders: Vec<OrderFact>,
    /// One row per line of a sale.
    pub lines: Vec<LineFact>,
    /// One row per refund, with the channel its sale was attributed to.
    pub refunds: Vec<RefundFact>,
    /// One row per line of a refund.
    pub refund_lines: Vec<RefundLineFact>,
    /// One row per void.
    pub voids: Vec<VoidFact>,
}

impl Facts {
    /// The facts of `batch`, each dated by its business day in `zone`.
    pub fn of(batch: &Batch, zone: BusinessZone) -> Facts {
        let day = |at: DateTime<Utc>| epoch_days(zone.day_of(at));
        let mut facts = Facts::default();
        for entry in &batch.sales {
            let order = &entry.sale.event;
            let (created_at, day) = (epoch_seconds(order.created_at()), day(order.created_at()));
            facts.orders.push(OrderFact {
                created_at,
                day,
                order_id: order.order_id().to_string(),
                store_id: order.store_id().to_string(),
                channel: order.channel().as_str().to_string(),
                currency: order.currency().to_string(),
                currency_exponent: exponent(order.currency()),
                customer_id: order
                    .customer_id()
                    .map(ToString::to_string)
                    .unwrap_or_default(),
                payment_method: order
                    .payment_method()
                    .map(|p| p.as_str().to_string())
                    .unwrap_or_default(),
                item_count: order.item_count(),
                discount_minor: order.discount().minor(),
                tax_minor: order.tax().minor(),
                total_minor: order.total().minor(),
                ingested_at: epoch_seconds(entry.sale.ingested_at),
            });
            let lines = order.lines().iter().enumerate();
            facts.lines.extend(lines.map(|(line_no, line)| LineFact {
                created_at,
                day,
                order_id: order.order_id().to_string(),
                line_no: line_no as u32,
                store_id: order.store_id().to_string(),
                currency: order.currency().to_string(),
                currency_exponent: exponent(order.currency()),
                sku: line.sku().to_string(),
                name: line.name().to_string(),
                quantity: u64::from(line.quantity()),
                unit_price_minor: line.unit_price().minor(),
                amount_minor: line.amount().minor(),
            }));
        }
        for entry in &batch.refunds {
            let refund = &entry.refund.event;
            let (created_at, day) = (epoch_seconds(refund.created_at()), day(refund.created_at()));
            facts.refunds.push(RefundFact {
                created_at,
                day,
                refund_id: refund.refund_id().to_string(),
                order_id: refund.order_id().to_string(),
                store_id: refund.store_id().to_string(),
                channel: entry
                    .channel
                    .map_or(UNKNOWN_CHANNEL, Channel::as_str)
                    .to_string(),
                sale_known: u8::from(entry.channel.is_some()),
                currency: refund.currency().to_string(),
                currency_exponent: exponent(refund.currency()),
                amount_minor: refund.amount().minor(),
                ingested_at: epoch_seconds(entry.refund.ingested_at),
            });
            let lines = refund.lines().iter().enumerate();
            facts
                .refund_lines
                .extend(lines.map(|(line_no, line)| RefundLineFact {
                    created_at,
                    day,
                    refund_id: refund.refund_id().to_string(),
                    line_no: line_no as u32,
                    store_id: refund.store_id().to_string(),
                    currency: refund.currency().to_string(),
                    currency_exponent: exponent(refund.currency()),
                    sku: line.sku().to_string(),
                    quantity: u64::from(line.quantity()),
                    amount_minor: line.amount().minor(),
                }));
        }
        facts.voids = batch
            .voids
            .iter()
            .map(|entry| {
                let void = &entry.void.event;
                VoidFact {
                    order_id: void.order_id().to_string(),
                    voided_at: epoch_seconds(void.created_at()),
                    day: day(void.created_at()),
                    store_id: void.store_id().to_string(),
                    reason: void.reason().unwrap_or_default().to_string(),
                    ingested_at: epoch_seconds(entry.void.ingested_at),
                }
            })
            .collect();
        facts
    }
}

/// The most business days (partitions) one insert spans: ClickHouse refuses an insert block over
/// more than `max_partitions_per_insert_block` partitions (100 unless changed), which a replay of
/// old history would otherwise reach.
const MAX_DAYS_PER_INSERT: usize = 100;

/// A fact row, partitioned by its business day.
pub trait DayPartitioned {
    fn day(&self) -> u16;
}

macro_rules! day_partitioned {
    ($($row:ty),*) => {$(
        impl DayPartitioned for $row {
            fn day(&self) -> u16 {
                self.day
            }
        }
    )*};
}
day_partitioned!(OrderFact, LineFact, RefundFact, RefundLineFact, VoidFact);

/// `rows` in groups that each span at most [`MAX_DAYS_PER_INSERT`] days, in day order (a batch of
/// recent events is one group).
pub fn by_days<T: DayPartitioned>(rows: Vec<T>) -> Vec<Vec<T>> {
    let mut days: std::collections::BTreeMap<u16, Vec<T>> = std::collections::BTreeMap::new();
    for row in rows {
        days.entry(row.day()).or_default().push(row);
    }
    let mut groups: Vec<Vec<T>> = Vec::new();
    for (n, (_, rows)) in days.into_iter().enumerate() {
        if n % MAX_DAYS_PER_INSERT == 0 {
            groups.push(Vec::new());
        }
        if let Some(group) = groups.last_mut() {
            group.extend(rows);
        }
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fact(u16);

    impl DayPartitioned for Fact {
        fn day(&self) -> u16 {
            self.0
        }
    }

    #[test]
    fn an_insert_spans_at_most_a_hundred_days() {
        let days = |groups: &[Vec<Fact>]| -> Vec<Vec<u16>> {
            groups
                .iter()
                .map(|g| g.iter().map(|f| f.0).collect())
                .collect()
        };
        // Recent events: one insert, whatever their order.
        let recent = by_days(vec![Fact(9), Fact(8), Fact(9)]);
        assert_eq!(days(&recent), [vec![8, 9, 9]]);
        // 250 days, two rows each: 100 + 100 + 50 days, every row once.
        let history = by_days((0..500).map(|n| Fact(n % 250)).collect());
        assert_eq!(
            history.iter().map(Vec::len).collect::<Vec<_>>(),
            [200, 200, 100]
        );
        let all: Vec<u16> = days(&history).concat();
        assert_eq!(all.len(), 500);
        assert!(all.windows(2).all(|w| w[0] <= w[1]));
        assert!(by_days(Vec::<Fact>::new()).is_empty());
    }
}
