-- What Superset and the serving API read: versions collapsed (FINAL), the store dimension joined
-- in (stores missing from the seed show as 'unknown'). `day` is the business day
-- (BUSINESS_TIME_ZONE). Money as Decimal(18, 3), exact for every currency (the most digits any has
-- is 3); `currency_exponent` says how many of them the currency uses (EUR 2, JPY 0, KWD 3).

CREATE VIEW IF NOT EXISTS sales.v_sales_by_window AS
SELECT
    w.window_start AS window_start,
    w.day AS day,
    w.store_id AS store_id,
    if(s.name = '', w.store_id, s.name) AS store_name,
    if(s.city = '', 'unknown', s.city) AS city,
    if(s.region = '', 'unknown', s.region) AS region,
    w.channel AS channel,
    w.currency AS currency,
    w.currency_exponent AS currency_exponent,
    w.orders AS orders,
    w.items AS items,
    w.revenue_minor AS revenue_minor,
    toDecimal64(w.revenue_minor, 3) / intExp10(w.currency_exponent) AS revenue
FROM (SELECT * FROM sales.sales_by_window FINAL) AS w
ANY LEFT JOIN (SELECT store_id, name, city, region FROM sales.stores FINAL) AS s USING (store_id);

CREATE VIEW IF NOT EXISTS sales.v_product_sales_by_window AS
SELECT
    p.window_start AS window_start,
    p.day AS day,
    p.store_id AS store_id,
    if(s.region = '', 'unknown', s.region) AS region,
    p.currency AS currency,
    p.currency_exponent AS currency_exponent,
    p.sku AS sku,
    p.name AS name,
    p.orders AS orders,
    p.quantity AS quantity,
    p.revenue_minor AS revenue_minor,
    toDecimal64(p.revenue_minor, 3) / intExp10(p.currency_exponent) AS revenue
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
    exponent AS currency_exponent,
    day_orders AS orders,
    day_items AS items,
    day_revenue_minor AS revenue_minor,
    toDecimal64(day_revenue_minor, 3) / intExp10(exponent) AS revenue
FROM
(
    SELECT
        day,
        store_id,
        channel,
        currency,
        any(currency_exponent) AS exponent,
        sum(orders) AS day_orders,
        sum(items) AS day_items,
        sum(revenue_minor) AS day_revenue_minor
    FROM sales.sales_by_window FINAL
    GROUP BY day, store_id, channel, currency
);
