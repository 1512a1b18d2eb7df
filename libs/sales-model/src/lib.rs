//! The sales contract every service shares (DESIGN.md §3–§4): orders, refunds and voids.
//!
//! Code past the ingest boundary only ever sees an [`Order`], which can only be built from input
//! that passed every rule: identifiers are well-formed, money is integer minor units of the order's currency, and the
//! total adds up. The wire shapes ([`OrderRequest`] from a POS, [`Envelope`] on Kafka) are the
//! only ways in, and both report every failing field with a stable code.

mod business_day;
mod checks;
mod currency;
mod envelope;
mod errors;
mod ids;
mod money;
mod order;
mod refund;
mod request;

pub use business_day::BusinessZone;
pub use checks::Freshness;
pub use currency::{exponent_of, Currency, MAX_EXPONENT};
pub use envelope::{
    Envelope, EnvelopeError, Event, EventKind, EventRecord, LineRecord, OrderRecord, SCHEMA_VERSION,
};
pub use errors::{EventErrors, FieldError};
pub use ids::{CustomerId, OrderId, RefundId, Sku, StoreId, TerminalId};
pub use money::{format_minor, Amount, Exact, MoneyError};
pub use order::{Channel, Order, OrderLine, PaymentMethod};
pub use refund::{
    parse_refund_json, parse_void_json, Refund, RefundLine, RefundLineRecord, RefundLineRequest,
    RefundRecord, RefundRequest, Void, VoidRecord, VoidRequest,
};
pub use request::{parse_order_json, OrderRequest, ParseError};
