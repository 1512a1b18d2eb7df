-- Recomputes the per-product windows of the touched stores in one range from the line facts;
-- `version` counts the distinct orders with that product. Bound values and `{database}` as in
-- recompute_sales_by_window.sql.
INSERT INTO {database}.product_sales_by_window (window_start, day, store_id, currency, currency_exponent, sku, name, orders, quantity, revenue_minor, version)
SELECT
    toDateTime(intDiv(toUInt32(created_at), ?) * ?) AS window_start,
    any(day) AS day,
    store_id,
    currency,
    any(currency_exponent) AS currency_exponent,
    sku,
    any(name) AS name,
    uniqExact(order_id) AS orders,
    sum(quantity) AS quantity,
    sum(amount_minor) AS revenue_minor,
    uniqExact(order_id) AS version
FROM {database}.order_line_facts FINAL
WHERE created_at >= toDateTime(?) AND created_at < toDateTime(?) AND has(?, store_id)
GROUP BY window_start, store_id, currency, sku
