-- Recomputes the store/channel/currency windows of the touched stores in one range from the
-- facts. Run by stream-job after the facts are durable; the modern-ClickHouse check runs this
-- same text. Values are bound, in order: the window size (twice), the range's start and end
-- (epoch seconds, window-aligned) and the array of store ids; `{database}` is the one name
-- filled in, a checked identifier.
INSERT INTO {database}.sales_by_window (window_start, day, store_id, channel, currency, currency_exponent, orders, items, revenue_minor, version)
SELECT
    toDateTime(intDiv(toUInt32(created_at), ?) * ?) AS window_start,
    any(day) AS day,
    store_id,
    channel,
    currency,
    any(currency_exponent) AS currency_exponent,
    count() AS orders,
    sum(item_count) AS items,
    sum(total_minor) AS revenue_minor,
    count() AS version
FROM {database}.order_facts FINAL
WHERE created_at >= toDateTime(?) AND created_at < toDateTime(?) AND has(?, store_id)
GROUP BY window_start, store_id, channel, currency
