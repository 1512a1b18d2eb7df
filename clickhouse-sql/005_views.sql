-- What Superset and the serving API read: versions collapsed (FINAL), the store dimension joined
-- in (stores missing from the seed show as 'unknown'). `day` is the business day
-- (BUSINESS_TIME_ZONE). Money as Decimal(18, 3), exact for every currency (the most digits any has
-- is 3); `currency_exponent` says how many of them the currency uses (EUR 2, JPY 0, KWD 3).
-- `gross` is what the sales that are not voided took, `refunds` what went back, `net` = gross -
-- refunds; `revenue` (and `revenue_minor`) is net, for readers written before refunds existed.

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
    w.gross_minor AS gross_minor,
    w.refunds_minor AS refunds_minor,
    w.net_minor AS net_minor,
    w.net_minor AS revenue_minor,
    toDecimal64(w.gross_minor, 3) / intExp10(w.currency_exponent) AS gross,
    toDecimal64(w.refunds_minor, 3) / intExp10(w.currency_exponent) AS refunds,
    toDecimal64(w.net_minor, 3) / intExp10(w.currency_exponent) AS net,
    toDecimal64(w.net_minor, 3) / intExp10(w.currency_exponent) AS revenue
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
    p.refunded_quantity AS refunded_quantity,
    p.gross_minor AS gross_minor,
    p.refunds_minor AS refunds_minor,
    p.net_minor AS net_minor,
    p.net_minor AS revenue_minor,
    toDecimal64(p.gross_minor, 3) / intExp10(p.currency_exponent) AS gross,
    toDecimal64(p.refunds_minor, 3) / intExp10(p.currency_exponent) AS refunds,
    toDecimal64(p.net_minor, 3) / intExp10(p.currency_exponent) AS net,
    toDecimal64(p.net_minor, 3) / intExp10(p.currency_exponent) AS revenue
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
    day_gross_minor AS gross_minor,
    day_refunds_minor AS refunds_minor,
    day_net_minor AS net_minor,
    day_net_minor AS revenue_minor,
    toDecimal64(day_gross_minor, 3) / intExp10(exponent) AS gross,
    toDecimal64(day_refunds_minor, 3) / intExp10(exponent) AS refunds,
    toDecimal64(day_net_minor, 3) / intExp10(exponent) AS net,
    toDecimal64(day_net_minor, 3) / intExp10(exponent) AS revenue
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
        sum(gross_minor) AS day_gross_minor,
        sum(refunds_minor) AS day_refunds_minor,
        sum(net_minor) AS day_net_minor
    FROM sales.sales_by_window FINAL
    GROUP BY day, store_id, channel, currency
);
