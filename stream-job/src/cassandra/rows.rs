//! The rows stream-job writes, one definition per table shape: [`row!`] makes each a
//! `SerializeRow` struct and gives it its table and column list ([`Row`]), so the `INSERT` a
//! statement prepares and the values bound to it come from the same field list.

use chrono::{DateTime, NaiveDate, Utc};
use scylla::value::MaybeUnset;
use scylla::SerializeRow;
use uuid::Uuid;

/// A row of one table: where it goes and its columns, in the order its fields are bound.
pub trait Row: scylla::serialize::row::SerializeRow {
    const TABLE: &'static str;
    const COLUMNS: &'static [&'static str];
}

/// `row!(Name => "table" { field: Type, … })`: the struct, and its [`Row`] impl.
macro_rules! row {
    ($(#[$doc:meta])* $name:ident => $table:literal { $($field:ident: $ty:ty),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(SerializeRow)]
        pub struct $name<'a> {
            $(pub $field: $ty),+
        }

        impl Row for $name<'_> {
            const TABLE: &'static str = $table;
            const COLUMNS: &'static [&'static str] = &[$(stringify!($field)),+];
        }
    };
}

row!(
    /// The whole sale, by id.
    OrderRow => "orders_by_id" {
        order_id: &'a str,
        store_id: &'a str,
        terminal_id: MaybeUnset<&'a str>,
        customer_id: MaybeUnset<&'a str>,
        channel: &'a str,
        currency: &'a str,
        created_at: DateTime<Utc>,
        day: NaiveDate,
        line_skus: Vec<&'a str>,
        line_names: Vec<&'a str>,
        line_quantities: Vec<i32>,
        line_unit_prices_minor: Vec<i64>,
        item_count: i32,
        discount_minor: i64,
        tax_minor: i64,
        total_minor: i64,
        payment_method: MaybeUnset<&'a str>,
        ingest_id: Uuid,
        ingested_at: DateTime<Utc>,
    }
);

row!(
    /// A store's sales of a business day.
    StoreDayRow => "orders_by_store_day" {
        store_id: &'a str,
        day: NaiveDate,
        created_at: DateTime<Utc>,
        order_id: &'a str,
        channel: &'a str,
        currency: &'a str,
        item_count: i32,
        total_minor: i64,
        customer_id: MaybeUnset<&'a str>,
        payment_method: MaybeUnset<&'a str>,
        voided: bool,
    }
);

row!(
    /// A customer's sales of a month.
    CustomerRow => "orders_by_customer_month" {
        customer_id: &'a str,
        month: i32,
        created_at: DateTime<Utc>,
        order_id: &'a str,
        store_id: &'a str,
        channel: &'a str,
        currency: &'a str,
        item_count: i32,
        total_minor: i64,
        voided: bool,
    }
);

row!(
    /// A month a customer bought in.
    CustomerMonthRow => "customer_months" {
        customer_id: &'a str,
        month: i32,
    }
);

row!(
    /// Every sale of a business day, in buckets.
    DayRow => "orders_by_day" {
        day: NaiveDate,
        bucket: i32,
        store_id: &'a str,
        order_id: &'a str,
        created_at: DateTime<Utc>,
        channel: &'a str,
        currency: &'a str,
        item_count: i32,
        total_minor: i64,
        voided: bool,
    }
);

row!(
    /// A void, kept on its sale's row.
    VoidRow => "orders_by_id" {
        order_id: &'a str,
        void_store_id: &'a str,
        void_created_at: DateTime<Utc>,
        void_reason: MaybeUnset<&'a str>,
        void_ingest_id: Uuid,
        void_ingested_at: DateTime<Utc>,
    }
);

row!(
    /// A known sale marked voided in its store's day.
    VoidedStoreDayRow => "orders_by_store_day" {
        store_id: &'a str,
        day: NaiveDate,
        created_at: DateTime<Utc>,
        order_id: &'a str,
        voided: bool,
    }
);

row!(
    /// A known sale marked voided in its customer's month.
    VoidedCustomerRow => "orders_by_customer_month" {
        customer_id: &'a str,
        month: i32,
        created_at: DateTime<Utc>,
        order_id: &'a str,
        voided: bool,
    }
);

row!(
    /// A known sale marked voided in its business day.
    VoidedDayRow => "orders_by_day" {
        day: NaiveDate,
        bucket: i32,
        store_id: &'a str,
        order_id: &'a str,
        voided: bool,
    }
);

row!(
    /// The whole refund, by id, with the channel it was attributed to.
    RefundByIdRow => "refunds_by_id" {
        refund_id: &'a str,
        order_id: &'a str,
        store_id: &'a str,
        channel: &'a str,
        sale_known: bool,
        currency: &'a str,
        created_at: DateTime<Utc>,
        day: NaiveDate,
        line_skus: Vec<&'a str>,
        line_quantities: Vec<i32>,
        line_amounts_minor: Vec<i64>,
        amount_minor: i64,
        reason: MaybeUnset<&'a str>,
        ingest_id: Uuid,
        ingested_at: DateTime<Utc>,
    }
);

row!(
    /// A sale's refunds.
    RefundByOrderRow => "refunds_by_order" {
        order_id: &'a str,
        refund_id: &'a str,
        store_id: &'a str,
        currency: &'a str,
        created_at: DateTime<Utc>,
        amount_minor: i64,
        reason: MaybeUnset<&'a str>,
    }
);

row!(
    /// A store's refunds of a business day.
    RefundByStoreDayRow => "refunds_by_store_day" {
        store_id: &'a str,
        day: NaiveDate,
        created_at: DateTime<Utc>,
        refund_id: &'a str,
        order_id: &'a str,
        channel: &'a str,
        currency: &'a str,
        amount_minor: i64,
        reason: MaybeUnset<&'a str>,
    }
);

row!(
    /// Every refund of a business day, in buckets.
    RefundByDayRow => "refunds_by_day" {
        day: NaiveDate,
        bucket: i32,
        store_id: &'a str,
        refund_id: &'a str,
        order_id: &'a str,
        created_at: DateTime<Utc>,
        channel: &'a str,
        sale_known: bool,
        currency: &'a str,
        amount_minor: i64,
    }
);

/// A missing optional value is left unset rather than written as null (no tombstone).
pub fn unset(value: Option<&str>) -> MaybeUnset<&str> {
    value.map_or(MaybeUnset::Unset, MaybeUnset::Set)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_names_its_columns_in_field_order() {
        assert_eq!(VoidedDayRow::TABLE, "orders_by_day");
        assert_eq!(
            VoidedDayRow::COLUMNS,
            &["day", "bucket", "store_id", "order_id", "voided"]
        );
        assert_eq!(OrderRow::COLUMNS.len(), 19);
        assert_eq!(OrderRow::COLUMNS.last(), Some(&"ingested_at"));
    }

    /// What stream-job writes and what it (and serving) read back are one table: the reader's
    /// column lists hold exactly the written columns.
    #[test]
    fn the_readers_columns_are_the_written_ones() {
        use sales_stores::cassandra::{StoredOrder, StoredRefund};
        let read = |columns: &[&str]| {
            let mut set: Vec<String> = columns.iter().map(|c| c.to_string()).collect();
            set.sort();
            set
        };
        let written = |columns: &[&[&str]]| {
            let mut set: Vec<String> = columns.concat().iter().map(|c| c.to_string()).collect();
            set.sort();
            set.dedup();
            set
        };
        assert_eq!(
            read(StoredRefund::COLUMNS),
            written(&[RefundByIdRow::COLUMNS])
        );
        // A void's ingest id is written for the record, not read back.
        let mut sale_and_void = written(&[OrderRow::COLUMNS, VoidRow::COLUMNS]);
        sale_and_void.retain(|c| c != "void_ingest_id");
        assert_eq!(read(StoredOrder::COLUMNS), sale_and_void);
    }
}
