//! Any bytes as a POS body (an order, a refund, a void) and as a Kafka message: parsing never
//! panics; a refusal names every failing field with a code; an accepted event survives the
//! envelope round trip unchanged.
#![no_main]

use chrono::{DateTime, Utc};
use libfuzzer_sys::fuzz_target;
use sales_model::{
    parse_order_json, parse_refund_json, parse_void_json, Envelope, Event, Freshness, ParseError,
};

/// An accepted event reads back as itself; a refusal is a syntax error or names its fields.
fn check(parsed: Result<Event, ParseError>, now: DateTime<Utc>) {
    match parsed {
        Ok(event) => {
            let envelope = Envelope::new(event, now);
            let back =
                Envelope::from_json(&envelope.to_json()).expect("an accepted event reads back");
            assert_eq!(back.event, envelope.event);
        }
        Err(ParseError::Invalid(errors)) => {
            assert!(!errors.errors.is_empty(), "a 422 without a field");
            for error in &errors.errors {
                assert!(!error.field.is_empty() && !error.code.is_empty(), "{error:?}");
            }
        }
        Err(ParseError::Syntax(message)) => assert!(!message.is_empty()),
    }
}

fuzz_target!(|data: &[u8]| {
    let now = DateTime::<Utc>::from_timestamp(1_795_341_600, 0).expect("a fixed clock");
    let freshness = Freshness::default();
    check(parse_order_json(data, now, freshness).map(Event::Sale), now);
    check(parse_refund_json(data, now, freshness).map(Event::Refund), now);
    check(parse_void_json("pos-17-000123", data, now, freshness).map(Event::Void), now);
    // The consumer's side: a message from the topic decodes or is named, never a panic.
    if let Err(error) = Envelope::from_json(data) {
        assert!(!error.code().is_empty());
    }
});
