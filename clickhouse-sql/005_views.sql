-- What Superset and the serving API read: versions collapsed (FINAL), money as Decimal, the store
-- dimension joined in (stores missing from the seed show as 'unknown').

CREATE VIEW IF NOT EXISTS sales.v_sales_by_window AS
SELECT
    w.window_start AS window_start,
    toDate(w.window_start) AS day,
    w.store_id AS store_id,
    if(s.name = '', w.store_id, s.name) AS store_name,
    if(s.city = '', 'unknown', s.city) AS city,
    if(s.region = '', 'unknown', s.region) AS region,
    w.channel AS channel,
    w.currency AS currency,
    w.orders AS orders,
    w.items AS items,
    w.revenue_minor AS revenue_minor,
    toDecimal64(w.revenue_minor, 2) / 100 AS revenue
FROM (SELECT * FROM sales.sales_by_window FINAL) AS w
ANY LEFT JOIN (SELECT store_id, name, city, region FROM sales.stores FINAL) AS s USING (store_id);

CREATE VIEW IF NOT EXISTS sales.v_product_sales_by_window AS
SELECT
    p.window_start AS window_start,
    toDate(p.window_start) AS day,
    p.store_id AS store_id,
    if(s.region = '', 'unknown', s.region) AS region,
    p.currency AS currency,
    p.sku AS sku,
    p.name AS name,
    p.orders AS orders,
    p.quantity AS quantity,
    p.revenue_minor AS revenue_minor,
    toDecimal64(p.revenue_minor, 2) / 100 AS revenue
FROM (SELECT * FROM sales.product_sales_by_window FINAL) AS p
ANY LEFT JOIN (SELECT store_id, region FROM sales.stores FINAL) AS s USING (store_id);

-- Daily totals per store, channel and currency: the windows (and partitions) summed. This is
-- what reconciliation compares with Cassandra.
CREATE VIEW IF NOT EXISTS sales.v_sales_daily AS
SELECT
    day,
    store_id,
    channel,
    currency,
    day_orders AS orders,
    day_items AS items,
    day_revenue_minor AS revenue_minor,
    toDecimal64(day_revenue_minor, 2) / 100 AS revenue
FROM
(
    SELECT
        toDate(window_start) AS day,
        store_id,
        channel,
        currency,
        sum(orders) AS day_orders,
        sum(items) AS day_items,
        sum(revenue_minor) AS day_revenue_minor
    FROM sales.sales_by_window FINAL
    GROUP BY day, store_id, channel, currency
);
