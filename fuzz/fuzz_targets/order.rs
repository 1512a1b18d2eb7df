//! Any bytes as a POS body and as a Kafka message: parsing never panics; a refused order names
//! every failing field with a code; an accepted one survives the envelope round trip unchanged.
#![no_main]

use chrono::{DateTime, Utc};
use libfuzzer_sys::fuzz_target;
use sales_model::{parse_order_json, Envelope, Freshness, ParseError};

fuzz_target!(|data: &[u8]| {
    let now = DateTime::<Utc>::from_timestamp(1_795_341_600, 0).expect("a fixed clock");
    match parse_order_json(data, now, Freshness::default()) {
        Ok(order) => {
            let envelope = Envelope::new(order, now);
            let back = Envelope::from_json(&envelope.to_json()).expect("an accepted order reads back");
            assert_eq!(back.order, envelope.order);
        }
        Err(ParseError::Invalid(errors)) => {
            assert!(!errors.errors.is_empty(), "a 422 without a field");
            for error in &errors.errors {
                assert!(!error.field.is_empty() && !error.code.is_empty(), "{error:?}");
            }
        }
        Err(ParseError::Syntax(message)) => assert!(!message.is_empty()),
    }
    // The consumer's side: a message from the topic decodes or is named, never a panic.
    if let Err(error) = Envelope::from_json(data) {
        assert!(!error.code().is_empty());
    }
});
