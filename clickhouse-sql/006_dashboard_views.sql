-- What the dashboard's product charts read: the per-product windows of v_product_sales_by_window
-- with the store's name and city as well as its region, so the dashboard's store filter (by name)
-- narrows the product charts like every other chart. A new view rather than a change to 005, so
-- an existing database gains it on the next schema run (CREATE VIEW IF NOT EXISTS never replaces).

CREATE VIEW IF NOT EXISTS sales.v_product_sales_with_store AS
SELECT
    p.window_start AS window_start,
    toDate(p.window_start) AS day,
    p.store_id AS store_id,
    if(s.name = '', p.store_id, s.name) AS store_name,
    if(s.city = '', 'unknown', s.city) AS city,
    if(s.region = '', 'unknown', s.region) AS region,
    p.currency AS currency,
    p.sku AS sku,
    p.name AS name,
    p.orders AS orders,
    p.quantity AS quantity,
    p.revenue_minor AS revenue_minor,
    toDecimal64(p.revenue_minor, 2) / 100 AS revenue
FROM (SELECT * FROM sales.product_sales_by_window FINAL) AS p
ANY LEFT JOIN (SELECT store_id, name, city, region FROM sales.stores FINAL) AS s USING (store_id);
