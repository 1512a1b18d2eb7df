-- One row per order (a sale) and one per order line, written by stream-job. The sorting key starts with
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

-- One row per refund and one per refund line (DESIGN.md §3b), like the order facts: sorted by
-- time then identity, so a re-inserted refund collapses under FINAL. `created_at` and `day` are
-- the refund's own (when the money left the till), `store_id` where it left. `channel` is the
-- channel of the refund's sale as stream-job knew it when it first stored the refund ('unknown'
-- when it did not: `sale_known` = 0); Cassandra's refunds_by_id holds the same.
CREATE TABLE IF NOT EXISTS sales.refund_facts
(
    created_at DateTime,
    day Date,
    refund_id String,
    order_id String,
    store_id String,
    channel String,
    sale_known UInt8,
    currency String,
    currency_exponent UInt8,
    amount_minor Int64,
    ingested_at DateTime
)
ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMMDD(day)
ORDER BY (created_at, refund_id);

CREATE TABLE IF NOT EXISTS sales.refund_line_facts
(
    created_at DateTime,
    day Date,
    refund_id String,
    line_no UInt32,
    store_id String,
    currency String,
    currency_exponent UInt8,
    sku String,
    quantity UInt64,
    amount_minor Int64
)
ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMMDD(day)
ORDER BY (created_at, refund_id, line_no);

-- One row per voided sale: a sale whose order_id is here counts in no window. Sorted by the
-- sale's id (the recompute asks "is this sale voided?"); `day` is the business day of the void,
-- which follows its sale's, so retention drops a void with or after the sale it cancels.
CREATE TABLE IF NOT EXISTS sales.order_voids
(
    order_id String,
    voided_at DateTime,
    day Date,
    store_id String,
    reason String,
    ingested_at DateTime
)
ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMMDD(day)
ORDER BY order_id;
