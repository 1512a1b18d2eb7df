//! `POST /v1/refunds` and `POST /v1/refunds/batch` (DESIGN.md §3b): the same auth, status codes,
//! acknowledgement rule and per-element batch results as orders. Each is produced keyed by the
//! sale's `order_id`, so a sale and its refunds are read in the order they were accepted.

use sales_model::{parse_refund_json, Event, RefundRequest};

super::replies::event_replies!(
    RefundAccepted,
    RefundBatchResult,
    RefundBatchReply,
    RefundBatch,
    refund_id,
    RefundRequest,
    "Refund"
);

super::endpoints::event_endpoints! {
    tag: "refunds",
    parse: |body, now, freshness| parse_refund_json(body, now, freshness).map(Event::Refund),

    /// Submit one refund: money given back for a sale. The answer comes only after Kafka
    /// acknowledged the write. It counts even when the sale is unknown or already refunded in full
    /// (money left the till); both cases are reported downstream.
    fn post_refund() at "/v1/refunds",
        taking RefundRequest, answering RefundAccepted, "Kafka acknowledged the refund.";

    /// Submit 1 to 1000 refunds; valid ones are produced even when others are invalid.
    fn post_refund_batch at "/v1/refunds/batch",
        taking RefundBatch of "refunds" by "refund_id", answering RefundBatchReply;
}
