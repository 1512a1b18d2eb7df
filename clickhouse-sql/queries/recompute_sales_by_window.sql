-- Recomputes the store/channel/currency windows of {stores} between {from} and {to} (epoch
-- seconds, window-aligned) from the facts. Run by stream-job after the facts are durable; the
-- modern-ClickHouse check runs this same text.
INSERT INTO sales.sales_by_window (window_start, store_id, channel, currency, orders, items, revenue_minor, version)
SELECT
    toDateTime(intDiv(toUInt32(created_at), {window}) * {window}) AS window_start,
    store_id,
    channel,
    currency,
    count() AS orders,
    sum(item_count) AS items,
    sum(total_minor) AS revenue_minor,
    count() AS version
FROM sales.order_facts FINAL
WHERE created_at >= toDateTime({from}) AND created_at < toDateTime({to}) AND store_id IN ({stores})
GROUP BY window_start, store_id, channel, currency
