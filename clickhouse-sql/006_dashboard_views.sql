-- What the dashboard's product charts read: the per-product windows of v_product_sales_by_window
-- with the store's name and city as well as its region, so the dashboard's store filter (by name)
-- narrows the product charts like every other chart. A new view on top of the old one rather
-- than a change to 005, so an existing database gains it on the next schema run (CREATE VIEW IF
-- NOT EXISTS never replaces).

CREATE VIEW IF NOT EXISTS sales.v_product_sales_with_store AS
SELECT
    p.*,
    if(s.name = '', p.store_id, s.name) AS store_name,
    if(s.city = '', 'unknown', s.city) AS city
FROM sales.v_product_sales_by_window AS p
ANY LEFT JOIN (SELECT store_id, name, city FROM sales.stores FINAL) AS s USING (store_id);
