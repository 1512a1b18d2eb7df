-- Event-time tumbling windows (STREAM_JOB_WINDOW_SECONDS, default 60), recomputed from the facts
-- by stream-job after each flush. `version` is the number of distinct orders folded into the row;
-- facts only grow, so a later recomputation carries a version at least as high and a superset of
-- the orders, and ReplacingMergeTree(version) keeps the most complete row.
CREATE TABLE IF NOT EXISTS sales.sales_by_window
(
    window_start DateTime,
    store_id String,
    channel String,
    currency String,
    orders UInt64,
    items UInt64,
    revenue_minor Int64,
    version UInt64
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMMDD(window_start)
ORDER BY (window_start, store_id, channel, currency);

-- Per product: quantity sold and line revenue (before order-level discount and tax).
CREATE TABLE IF NOT EXISTS sales.product_sales_by_window
(
    window_start DateTime,
    store_id String,
    currency String,
    sku String,
    name String,
    orders UInt64,
    quantity UInt64,
    revenue_minor Int64,
    version UInt64
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMMDD(window_start)
ORDER BY (window_start, store_id, currency, sku);
