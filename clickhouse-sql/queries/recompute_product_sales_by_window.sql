-- Recomputes the per-product windows of the touched stores in one range from the line facts of
-- the sales (voided ones add nothing but their events) and of the refunds. `version` counts the
-- distinct sales with the product, the voids among them, and the refunds naming it. Bound values
-- and `{database}` as in recompute_sales_by_window.sql: sales first, then refunds.
INSERT INTO {database}.product_sales_by_window (window_start, day, store_id, currency, currency_exponent, sku, name, orders, quantity, gross_minor, refunded_quantity, refunds_minor, net_minor, version)
SELECT
    window_start,
    any(event_day) AS day,
    store_id,
    currency,
    any(exponent) AS currency_exponent,
    sku,
    anyIf(line_name, line_name != '') AS name,
    uniqExactIf(order_id, voided = 0 AND order_id != '') AS orders,
    sum(sold) AS quantity,
    sum(gross) AS gross_minor,
    sum(returned) AS refunded_quantity,
    sum(refunded) AS refunds_minor,
    sum(gross) - sum(refunded) AS net_minor,
    uniqExactIf(order_id, order_id != '') + uniqExactIf(order_id, voided = 1) + uniqExactIf(refund_id, refund_id != '') AS version
FROM
(
    SELECT
        toDateTime(intDiv(toUInt32(created_at), ?) * ?) AS window_start,
        day AS event_day,
        store_id,
        currency,
        currency_exponent AS exponent,
        sku,
        name AS line_name,
        order_id,
        materialize('') AS refund_id,
        voided,
        toUInt64(if(voided = 1, 0, quantity)) AS sold,
        toInt64(if(voided = 1, 0, amount_minor)) AS gross,
        materialize(toUInt64(0)) AS returned,
        materialize(toInt64(0)) AS refunded
    FROM
    (
        SELECT
            created_at, day, store_id, currency, currency_exponent, sku, name, order_id, quantity, amount_minor,
            toUInt8(order_id IN (SELECT order_id FROM {database}.order_voids)) AS voided
        FROM {database}.order_line_facts FINAL
        WHERE created_at >= toDateTime(?) AND created_at < toDateTime(?) AND has(?, store_id)
    )
    UNION ALL
    SELECT
        toDateTime(intDiv(toUInt32(created_at), ?) * ?) AS window_start,
        day AS event_day,
        store_id,
        currency,
        currency_exponent AS exponent,
        sku,
        materialize('') AS line_name,
        materialize('') AS order_id,
        refund_id,
        materialize(toUInt8(0)) AS voided,
        materialize(toUInt64(0)) AS sold,
        materialize(toInt64(0)) AS gross,
        toUInt64(quantity) AS returned,
        toInt64(amount_minor) AS refunded
    FROM {database}.refund_line_facts FINAL
    WHERE created_at >= toDateTime(?) AND created_at < toDateTime(?) AND has(?, store_id)
)
GROUP BY window_start, store_id, currency, sku
