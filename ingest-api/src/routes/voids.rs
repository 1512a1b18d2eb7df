//! `POST /v1/orders/{order_id}/void` (DESIGN.md §3b): the same auth, status codes and
//! acknowledgement rule as orders, produced keyed by the sale's `order_id`, so the void is read
//! after its sale and refunds accepted before it.

use axum::extract::Path;
use sales_model::{parse_void_json, Event, OrderId, VoidRequest};

use super::orders::Accepted;

super::endpoints::event_endpoints! {
    tag: "orders",
    parse: |body, now, freshness| parse_void_json(&order_id, body, now, freshness).map(Event::Void),

    /// Void a sale that should never have counted (a mistaken ring-up): afterwards it is in no
    /// aggregate at all. Re-posting a void is a retry; refunds of the sale still count.
    fn post_void(Path(order_id): Path<String>) at "/v1/orders/{order_id}/void",
        with (("order_id" = inline(OrderId), Path, description = "The sale to void")),
        taking VoidRequest, answering Accepted, "Kafka acknowledged the void.";
}
