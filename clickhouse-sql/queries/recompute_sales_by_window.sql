-- Recomputes the store/channel/currency windows of the touched stores in one range from the
-- facts: the range's sales (a voided one adds nothing but its two events to `version`) and its
-- refunds, grouped together. Run by stream-job after the facts are durable; the modern-ClickHouse
-- check runs this same text. Values are bound, in order, for the sales and then again for the
-- refunds: the window size (twice), the range's start and end (epoch seconds, window-aligned) and
-- the array of store ids; `{database}` is the one name filled in, a checked identifier. Constants
-- in the two branches are `materialize`d: older servers (Debian's 18.16) refuse a UNION ALL whose
-- column is constant in one branch and not in the other.
INSERT INTO {database}.sales_by_window (window_start, day, store_id, channel, currency, currency_exponent, orders, items, gross_minor, refunds_minor, net_minor, version)
SELECT
    window_start,
    any(event_day) AS day,
    store_id,
    channel,
    currency,
    any(exponent) AS currency_exponent,
    sum(counted) AS orders,
    sum(counted_items) AS items,
    sum(gross) AS gross_minor,
    sum(refunded) AS refunds_minor,
    sum(gross) - sum(refunded) AS net_minor,
    sum(events) AS version
FROM
(
    SELECT
        toDateTime(intDiv(toUInt32(created_at), ?) * ?) AS window_start,
        day AS event_day,
        store_id,
        channel,
        currency,
        currency_exponent AS exponent,
        toUInt64(1 - voided) AS counted,
        toUInt64(if(voided = 1, 0, item_count)) AS counted_items,
        toInt64(if(voided = 1, 0, total_minor)) AS gross,
        materialize(toInt64(0)) AS refunded,
        toUInt64(1 + voided) AS events
    FROM
    (
        SELECT
            created_at, day, store_id, channel, currency, currency_exponent, item_count, total_minor,
            toUInt8(order_id IN (SELECT order_id FROM {database}.order_voids)) AS voided
        FROM {database}.order_facts FINAL
        WHERE created_at >= toDateTime(?) AND created_at < toDateTime(?) AND has(?, store_id)
    )
    UNION ALL
    SELECT
        toDateTime(intDiv(toUInt32(created_at), ?) * ?) AS window_start,
        day AS event_day,
        store_id,
        channel,
        currency,
        currency_exponent AS exponent,
        materialize(toUInt64(0)) AS counted,
        materialize(toUInt64(0)) AS counted_items,
        materialize(toInt64(0)) AS gross,
        toInt64(amount_minor) AS refunded,
        materialize(toUInt64(1)) AS events
    FROM {database}.refund_facts FINAL
    WHERE created_at >= toDateTime(?) AND created_at < toDateTime(?) AND has(?, store_id)
)
GROUP BY window_start, store_id, channel, currency
