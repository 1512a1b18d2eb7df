//! `POST /v1/orders` and `POST /v1/orders/batch` (DESIGN.md §3).

use sales_model::{parse_order_json, Event, OrderRequest};

super::replies::event_replies!(
    Accepted,
    BatchResult,
    BatchReply,
    OrderBatch,
    order_id,
    OrderRequest,
    "Order"
);

super::endpoints::event_endpoints! {
    tag: "orders",
    parse: |body, now, freshness| parse_order_json(body, now, freshness).map(Event::Sale),

    /// Submit one order. The answer comes only after Kafka acknowledged the write.
    ///
    /// Re-posting an order with the same `order_id` and content is a safe retry, counted once, for as
    /// long as its `created_at` is accepted: up to `INGEST_MAX_AGE_SECS` (a week by default) behind
    /// the server clock; past that it is refused 422 `too_old`. The same `order_id` with other content
    /// is accepted here and later diverted to the dead-letter topic as a conflicting duplicate.
    fn post_order() at "/v1/orders",
        taking OrderRequest, answering Accepted, "Kafka acknowledged the order.";

    /// Submit 1 to 1000 orders; valid ones are produced even when others are invalid.
    fn post_batch at "/v1/orders/batch",
        taking OrderBatch of "orders" by "order_id", answering BatchReply;
}
