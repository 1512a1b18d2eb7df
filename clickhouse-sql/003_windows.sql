-- Event-time tumbling windows (STREAM_JOB_WINDOW_SECONDS, default 60), recomputed from the facts
-- by stream-job after each flush. `version` is the number of distinct orders folded into the row;
-- facts only grow, so a later recomputation carries a version at least as high and a superset of
-- the orders, and ReplacingMergeTree(version) keeps the most complete row. `day` is the business
-- day of the window (windows never straddle a business midnight: stream-job refuses a window size
-- that does not divide the zone's offsets); money is in minor units of the currency, whose
-- `currency_exponent` the views use to show decimals.
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
    revenue_minor Int64,
    version UInt64
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMMDD(day)
ORDER BY (window_start, store_id, channel, currency);

-- Per product: quantity sold and line revenue (before order-level discount and tax).
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
    revenue_minor Int64,
    version UInt64
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMMDD(day)
ORDER BY (window_start, store_id, currency, sku);
