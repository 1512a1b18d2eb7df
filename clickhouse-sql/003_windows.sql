-- Event-time tumbling windows (STREAM_JOB_WINDOW_SECONDS, default 60), recomputed from the facts
-- by stream-job after each flush. A row holds the window's sales that are not voided (`orders`,
-- `items`, `gross_minor`), the refunds made in it at that store (`refunds_minor`, attributed to
-- the sale's channel) and `net_minor` = gross - refunds. `version` counts the distinct events the
-- row was computed from: its sales, the voids among them, and its refunds. Sales, voids and
-- refunds are only ever added, so a later recomputation sees a superset of the events and carries
-- a version at least as high, and an equal version means the same events and the same figures;
-- ReplacingMergeTree(version) therefore keeps the newest row even when a void lowers `orders`
-- (ARCHITECTURE.md, "Exactly once").
-- `day` is the business day of the window (windows never straddle a business midnight:
-- stream-job refuses a window size that does not divide the zone's offsets); money is in minor
-- units of the currency, whose `currency_exponent` the views use to show decimals.
CREATE TABLE IF NOT EXISTS sales.sales_by_window
(
    window_start DateTime,
    day Date,
    store_id String,
    channel String,
    currency String,
    currency_exponent UInt8,
    orders UInt64,
    items UInt64,
    gross_minor Int64,
    refunds_minor Int64,
    net_minor Int64,
    version UInt64
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMMDD(day)
ORDER BY (window_start, store_id, channel, currency);

-- Per product: quantity sold and line revenue (before order-level discount and tax) of the sales
-- that are not voided, and the refunds whose lines name the product; `version` as above.
CREATE TABLE IF NOT EXISTS sales.product_sales_by_window
(
    window_start DateTime,
    day Date,
    store_id String,
    currency String,
    currency_exponent UInt8,
    sku String,
    name String,
    orders UInt64,
    quantity UInt64,
    gross_minor Int64,
    refunded_quantity UInt64,
    refunds_minor Int64,
    net_minor Int64,
    version UInt64
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMMDD(day)
ORDER BY (window_start, store_id, currency, sku);
