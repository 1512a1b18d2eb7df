-- What the dashboard's per-minute charts read: the last hour of v_sales_by_window, one row per
-- minute up to the current one for every store, channel and currency that sold or refunded in the
-- last day. A minute without activity is there with zeros, so a line never runs straight across
-- quiet minutes as if money had moved in them, and the time axis ends at the current minute, so
-- a quiet stretch looks quiet rather than current. Each zero row carries its store, region,
-- channel and currency, so the dashboard's filters keep the zeros of what they select.
-- A store, channel and currency silent for a whole day has no rows here.

-- One JOIN per SELECT, joined by USING: the form every supported server takes, Debian's old
-- clickhouse-server of the client smoke test included.

CREATE VIEW IF NOT EXISTS sales.v_sales_per_minute AS
SELECT
    minute AS window_start,
    store_id,
    store_name,
    city,
    region,
    channel,
    currency,
    currency_exponent,
    orders,
    items,
    gross,
    refunds,
    net,
    net AS revenue
FROM
(
    SELECT minute, store_id, store_name, city, region, channel, currency, currency_exponent
    FROM (SELECT toStartOfMinute(now()) - 60 * number AS minute FROM system.numbers LIMIT 61) AS minutes
    CROSS JOIN
    (
        SELECT DISTINCT store_id, store_name, city, region, channel, currency, currency_exponent
        FROM sales.v_sales_by_window
        WHERE window_start >= now() - INTERVAL 1 DAY AND window_start <= now()
    ) AS active
) AS grid
ANY LEFT JOIN
(
    SELECT
        toStartOfMinute(window_start) AS minute,
        store_id,
        channel,
        currency,
        sum(orders) AS orders,
        sum(items) AS items,
        sum(gross) AS gross,
        sum(refunds) AS refunds,
        sum(net) AS net
    FROM sales.v_sales_by_window
    WHERE window_start >= toStartOfMinute(now()) - 3600 AND window_start <= now()
    GROUP BY minute, store_id, channel, currency
) AS activity USING (minute, store_id, channel, currency);
