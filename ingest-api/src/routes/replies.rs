//! The answers of an event route, one shape for every kind that has a single and a batch
//! endpoint: the 202 body, each batch element's result, the batch reply with its counts, and the
//! batch body as the API document describes it. Only the id field's name and the schema names
//! differ between orders and refunds, so [`event_replies!`] writes both from one definition.

/// `event_replies!(Accepted, BatchResult, BatchReply, Batch, order_id, Request, "Order")` defines
/// those four types for events named by `order_id`, whose request schema is `Request`, shown in
/// the API document as `"Order"`.
macro_rules! event_replies {
    ($accepted:ident, $result:ident, $reply:ident, $batch:ident, $id:ident, $request:ty, $schema:literal) => {
        /// The answer for an accepted event.
        #[derive(Debug, serde::Serialize, utoipa::ToSchema)]
        pub struct $accepted {
            pub $id: String,
            /// Always `accepted`.
            #[schema(example = "accepted")]
            pub status: &'static str,
            pub partition: i32,
            pub offset: i64,
        }

        impl From<$crate::routes::intake::Placed> for $accepted {
            fn from(placed: $crate::routes::intake::Placed) -> Self {
                $accepted {
                    $id: placed.id,
                    status: "accepted",
                    partition: placed.partition,
                    offset: placed.offset,
                }
            }
        }

        /// One element of a batch answer, in input order.
        #[derive(Debug, serde::Serialize, utoipa::ToSchema)]
        #[serde(tag = "status", rename_all = "snake_case")]
        pub enum $result {
            /// Kafka acknowledged the element.
            Accepted {
                index: usize,
                $id: String,
                partition: i32,
                offset: i64,
            },
            /// The element is invalid; resending it unchanged will fail again.
            Rejected {
                index: usize,
                $id: Option<String>,
                errors: Vec<sales_model::FieldError>,
            },
            /// Valid, but Kafka did not acknowledge it: retry this element.
            Unavailable {
                index: usize,
                $id: String,
                message: String,
            },
        }

        impl From<$crate::routes::intake::Element> for $result {
            fn from(element: $crate::routes::intake::Element) -> Self {
                use $crate::routes::intake::Outcome;
                let $crate::routes::intake::Element { index, id, outcome } = element;
                match outcome {
                    Outcome::Accepted { partition, offset } => $result::Accepted {
                        index,
                        $id: id.unwrap_or_default(),
                        partition,
                        offset,
                    },
                    Outcome::Rejected { errors } => $result::Rejected {
                        index,
                        $id: id,
                        errors,
                    },
                    Outcome::Unavailable { message } => $result::Unavailable {
                        index,
                        $id: id.unwrap_or_default(),
                        message,
                    },
                }
            }
        }

        #[derive(Debug, serde::Serialize, utoipa::ToSchema)]
        pub struct $reply {
            pub accepted: usize,
            pub rejected: usize,
            pub unavailable: usize,
            pub results: Vec<$result>,
        }

        impl $reply {
            /// Every element's result, counted; 503 when Kafka took none and some were valid.
            pub fn answer(
                elements: Vec<$crate::routes::intake::Element>,
            ) -> $crate::routes::intake::BatchAnswer<$reply> {
                let results: Vec<$result> = elements.into_iter().map($result::from).collect();
                let count = |f: fn(&$result) -> bool| results.iter().filter(|r| f(r)).count();
                let reply = $reply {
                    accepted: count(|r| matches!(r, $result::Accepted { .. })),
                    rejected: count(|r| matches!(r, $result::Rejected { .. })),
                    unavailable: count(|r| matches!(r, $result::Unavailable { .. })),
                    results,
                };
                $crate::routes::intake::BatchAnswer {
                    accepted: reply.accepted,
                    unavailable: reply.unavailable,
                    body: reply,
                }
            }
        }

        /// The batch body as the API document describes it: 1 to 1000 elements (the most
        /// `INGEST_MAX_BATCH` allows).
        pub struct $batch;

        impl utoipa::PartialSchema for $batch {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::schema::ArrayBuilder::new()
                    .items(utoipa::openapi::Ref::from_schema_name($schema))
                    .min_items(Some(1))
                    .max_items(Some(1000))
                    .into()
            }
        }

        impl utoipa::ToSchema for $batch {
            fn schemas(
                schemas: &mut Vec<(
                    String,
                    utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
                )>,
            ) {
                schemas.push((
                    $schema.to_string(),
                    <$request as utoipa::PartialSchema>::schema(),
                ));
                <$request as utoipa::ToSchema>::schemas(schemas);
            }
        }
    };
}

pub(crate) use event_replies;
