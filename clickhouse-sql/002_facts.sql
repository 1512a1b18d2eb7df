-- One row per order and one per order line, written by stream-job. The sorting key starts with
-- time and ends with the order's identity, so a re-inserted order (a retry, a replay, a second
-- stream-job instance) collapses into one row when read with FINAL. Money is Int64 minor units of
-- the row's currency (ISO 4217: cents, whole yen, fils), `currency_exponent` its digits. `day` is
-- the business day of `created_at` in BUSINESS_TIME_ZONE, computed by stream-job; the tables are
-- partitioned by it so retention drops whole business days.
CREATE TABLE IF NOT EXISTS sales.order_facts
(
    created_at DateTime,
    day Date,
    order_id String,
    store_id String,
    channel String,
    currency String,
    currency_exponent UInt8,
    customer_id String,
    payment_method String,
    item_count UInt64,
    discount_minor Int64,
    tax_minor Int64,
    total_minor Int64,
    ingested_at DateTime
)
ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMMDD(day)
ORDER BY (created_at, order_id);

CREATE TABLE IF NOT EXISTS sales.order_line_facts
(
    created_at DateTime,
    day Date,
    order_id String,
    line_no UInt32,
    store_id String,
    currency String,
    currency_exponent UInt8,
    sku String,
    name String,
    quantity UInt64,
    unit_price_minor Int64,
    amount_minor Int64
)
ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMMDD(day)
ORDER BY (created_at, order_id, line_no);
