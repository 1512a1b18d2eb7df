-- What the dashboard's freshness strip reads: per store that sold or refunded in the last 30
-- days, its newest event stored (a sale's or refund's created_at; a till clock running ahead
-- counts as now), how many seconds ago that was, and the newest of them all (`data_as_of`, the
-- same on every row): how current the dashboard's figures are, and which tills have gone quiet.
-- A store silent for more than 30 days drops off; the Prometheus StoreSilent alert has named it
-- long before.

-- One JOIN per SELECT and no window functions: the form every supported server takes, Debian's
-- old clickhouse-server of the client smoke test included.

CREATE VIEW IF NOT EXISTS sales.v_store_last_event AS
SELECT store_id, least(max(created_at), now()) AS last_event_at
FROM
(
    SELECT store_id, created_at FROM sales.order_facts
    WHERE created_at >= now() - INTERVAL 30 DAY
    UNION ALL
    SELECT store_id, created_at FROM sales.refund_facts
    WHERE created_at >= now() - INTERVAL 30 DAY
) AS events
GROUP BY store_id;

CREATE VIEW IF NOT EXISTS sales.v_store_freshness AS
SELECT store_id, store_name, region, last_event_at, seconds_silent, data_as_of
FROM
(
    SELECT
        e.store_id AS store_id,
        if(s.name = '', e.store_id, s.name) AS store_name,
        if(s.region = '', 'unknown', s.region) AS region,
        e.last_event_at AS last_event_at,
        toInt64(toUInt32(now())) - toInt64(toUInt32(e.last_event_at)) AS seconds_silent
    FROM sales.v_store_last_event AS e
    ANY LEFT JOIN (SELECT store_id, name, region FROM sales.stores FINAL) AS s USING (store_id)
) AS stores
CROSS JOIN (SELECT max(last_event_at) AS data_as_of FROM sales.v_store_last_event) AS newest;
