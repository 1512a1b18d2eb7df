-- Recomputes the per-product windows of {stores} between {from} and {to} (epoch seconds,
-- window-aligned) from the line facts; `version` counts the distinct orders with that product.
INSERT INTO sales.product_sales_by_window (window_start, store_id, currency, sku, name, orders, quantity, revenue_minor, version)
SELECT
    toDateTime(intDiv(toUInt32(created_at), {window}) * {window}) AS window_start,
    store_id,
    currency,
    sku,
    any(name) AS name,
    uniqExact(order_id) AS orders,
    sum(quantity) AS quantity,
    sum(amount_minor) AS revenue_minor,
    uniqExact(order_id) AS version
FROM sales.order_line_facts FINAL
WHERE created_at >= toDateTime({from}) AND created_at < toDateTime({to}) AND store_id IN ({stores})
GROUP BY window_start, store_id, currency, sku
