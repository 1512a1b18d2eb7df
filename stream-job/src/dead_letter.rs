//! The dead-letter topic: where messages that are not valid orders go, with the reason attached.
//!
//! A dead letter is produced and acknowledged before the poison message's offset is committed, so
//! a bad message is never silently skipped, and it never stops the job. The topic is asked for
//! before each send: brokers run with automatic topic creation off, so a missing (or deleted)
//! dead-letter topic is named at once (on `/health`, by the pipeline's retries) instead of
//! leaving the send to time out.

use std::sync::Arc;
use std::time::Duration;

use rdkafka::error::KafkaError;
use rdkafka::message::{Header, OwnedHeaders, OwnedMessage};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::Message;

use crate::configuration::SourceConfig;
use crate::metrics::{CodeLabel, Metrics};

/// Header names on a dead letter.
pub const ERROR_CODE: &str = "dlq.error.code";
pub const ERROR_MESSAGE: &str = "dlq.error.message";
pub const SOURCE_TOPIC: &str = "dlq.source.topic";
pub const SOURCE_PARTITION: &str = "dlq.source.partition";
pub const SOURCE_OFFSET: &str = "dlq.source.offset";

/// Why a dead letter was not sent.
#[derive(Debug, thiserror::Error)]
pub enum DeadLetterError {
    #[error("the dead-letter topic {0} does not exist (create it, or set KAFKA_DLQ_TOPIC)")]
    MissingTopic(String),
    #[error("cannot send to the dead-letter topic {topic}: {error}")]
    Kafka { topic: String, error: KafkaError },
}

#[derive(Clone)]
pub struct DeadLetters {
    producer: FutureProducer,
    topic: String,
    metrics: Arc<Metrics>,
}

impl DeadLetters {
    pub fn new(config: &SourceConfig, metrics: Arc<Metrics>) -> Result<Self, KafkaError> {
        let producer = config
            .connection
            .client_config()
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("message.timeout.ms", "10000")
            // Asking for the topic must never create it.
            .set("allow.auto.create.topics", "false")
            .create()?;
        Ok(Self {
            producer,
            topic: config.dlq_topic.clone(),
            metrics,
        })
    }

    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// Whether the cluster has the dead-letter topic: `Ok(false)` when it answers without it
    /// within `timeout`.
    pub async fn topic_exists(&self, timeout: Duration) -> Result<bool, DeadLetterError> {
        let producer = self.producer.clone();
        let topic = self.topic.clone();
        let answer = tokio::task::spawn_blocking(move || {
            producer
                .client()
                .fetch_metadata(Some(&topic), timeout)
                .map(|metadata| {
                    metadata.topics().iter().any(|t| {
                        t.name() == topic && t.error().is_none() && !t.partitions().is_empty()
                    })
                })
        })
        .await
        .unwrap_or(Err(KafkaError::Canceled));
        answer.map_err(|error| self.failed(error))
    }

    fn failed(&self, error: KafkaError) -> DeadLetterError {
        DeadLetterError::Kafka {
            topic: self.topic.clone(),
            error,
        }
    }

    /// Produces the original key and payload with headers naming the error (`code`, and `text`
    /// for people) and the source position; returns once Kafka acknowledged it.
    pub async fn send(
        &self,
        message: &OwnedMessage,
        code: &str,
        text: &str,
    ) -> Result<(), DeadLetterError> {
        if !self.topic_exists(Duration::from_secs(5)).await? {
            return Err(DeadLetterError::MissingTopic(self.topic.clone()));
        }
        let partition = message.partition().to_string();
        let offset = message.offset().to_string();
        let headers = [
            (ERROR_CODE, code),
            (ERROR_MESSAGE, text),
            (SOURCE_TOPIC, message.topic()),
            (SOURCE_PARTITION, partition.as_str()),
            (SOURCE_OFFSET, offset.as_str()),
        ]
        .into_iter()
        .fold(OwnedHeaders::new(), |headers, (key, value)| {
            headers.insert(Header {
                key,
                value: Some(value),
            })
        });
        let mut record = FutureRecord::<[u8], [u8]>::to(&self.topic).headers(headers);
        if let Some(key) = message.key() {
            record = record.key(key);
        }
        if let Some(payload) = message.payload() {
            record = record.payload(payload);
        }
        self.producer
            .send(record, Duration::from_secs(10))
            .await
            .map_err(|(error, _)| self.failed(error))?;
        self.metrics
            .dead_lettered
            .get_or_create(&CodeLabel {
                code: code.to_string(),
            })
            .inc();
        tracing::warn!(
            code,
            reason = text,
            partition = message.partition(),
            offset = message.offset(),
            "message sent to the dead-letter topic"
        );
        Ok(())
    }
}
