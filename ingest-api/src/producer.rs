//! The Kafka side of ingest: topic set-up, producing one order, readiness, and the final flush.
//!
//! The producer is idempotent with `acks=all`, so a librdkafka-internal retry never duplicates a
//! message, and a delivery report means every in-sync replica holds the order. Only then does the
//! caller answer 2xx.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::util::Timeout;
use sales_model::{Envelope, SCHEMA_VERSION};
use service_runtime::retry::until_ok;
use tokio_util::sync::CancellationToken;

use crate::configuration::KafkaConfig;

/// Longest pause between attempts to find or create the topic at start-up.
const MAX_TOPIC_BACKOFF: Duration = Duration::from_secs(10);

/// Where Kafka stored an accepted order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placement {
    pub partition: i32,
    pub offset: i64,
}

/// Why an order was not acknowledged; every variant means "not accepted, retry later".
#[derive(Debug, thiserror::Error)]
pub enum ProduceError {
    #[error("the producer queue is full")]
    QueueFull,
    #[error("Kafka did not acknowledge the order: {0}")]
    Delivery(KafkaError),
    #[error("the producer shut down before the delivery report")]
    Cancelled,
    #[error("Kafka did not acknowledge the order within {0:?}")]
    Timeout(Duration),
}

#[derive(Clone)]
pub struct EventProducer {
    producer: FutureProducer,
    config: Arc<KafkaConfig>,
    topic_ready: Arc<AtomicBool>,
}

impl EventProducer {
    pub fn new(config: &KafkaConfig) -> Result<Self, KafkaError> {
        let producer: FutureProducer = config
            .connection
            .client_config()
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("compression.type", config.compression.as_str())
            .set("linger.ms", "2")
            .set(
                "message.timeout.ms",
                config.produce_timeout.as_millis().to_string(),
            )
            .set(
                "queue.buffering.max.messages",
                config.queue_max_messages.to_string(),
            )
            .create()?;
        Ok(Self {
            producer,
            config: Arc::new(config.clone()),
            topic_ready: Arc::new(AtomicBool::new(false)),
        })
    }

    /// Produces one envelope keyed by its sale's order id and waits for Kafka's acknowledgement.
    pub async fn send(&self, envelope: &Envelope) -> Result<(Placement, Duration), ProduceError> {
        let payload = envelope.to_json();
        let ingest_id = envelope.ingest_id.to_string();
        let version = SCHEMA_VERSION.to_string();
        let headers = OwnedHeaders::new()
            .insert(Header {
                key: "content-type",
                value: Some("application/json"),
            })
            .insert(Header {
                key: "schema_version",
                value: Some(version.as_str()),
            })
            .insert(Header {
                key: "kind",
                value: Some(envelope.event.kind().as_str()),
            })
            .insert(Header {
                key: "ingest_id",
                value: Some(ingest_id.as_str()),
            });
        let record = FutureRecord::to(&self.config.topic)
            .key(envelope.event.order_id().as_str())
            .payload(&payload)
            .headers(headers);
        let started = Instant::now();
        let delivery = match self.producer.send_result(record) {
            Ok(delivery) => delivery,
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                return Err(ProduceError::QueueFull)
            }
            Err((error, _)) => return Err(ProduceError::Delivery(error)),
        };
        // librdkafka's own message timeout is not always honoured promptly while no broker is
        // reachable; the client is promised an answer within the produce timeout regardless.
        let Ok(report) = tokio::time::timeout(self.config.produce_timeout, delivery).await else {
            return Err(ProduceError::Timeout(self.config.produce_timeout));
        };
        match report {
            Ok(Ok(delivered)) => Ok((
                Placement {
                    partition: delivered.partition,
                    offset: delivered.offset,
                },
                started.elapsed(),
            )),
            Ok(Err((error, _))) => Err(ProduceError::Delivery(error)),
            Err(_) => Err(ProduceError::Cancelled),
        }
    }

    /// Makes sure the topic exists, retrying with backoff until it does, so the service can start
    /// before Kafka. It asks Kafka to create the topic with the configured partitions; where that
    /// is refused or unsupported (a broker without CreateTopics, or an ACL), an existing topic is
    /// accepted as it is.
    pub async fn ensure_topic(&self, stop: &CancellationToken) {
        let found = until_ok(
            "ensuring the order topic",
            MAX_TOPIC_BACKOFF,
            stop,
            |_: &KafkaError| {},
            || async {
                match self.create_topic().await {
                    Ok(()) => Ok(None),
                    Err(create_error) => match self.existing_partitions().await {
                        Some(partitions) => Ok(Some((partitions, create_error))),
                        None => Err(create_error),
                    },
                }
            },
        )
        .await;
        match found {
            Ok(found) => {
                if let Some((partitions, error)) = found {
                    tracing::warn!(topic = %self.config.topic, partitions, %error, "could not create the topic; using it as it exists");
                }
                self.topic_ready.store(true, Ordering::Release);
                tracing::info!(topic = %self.config.topic, "topic ready");
            }
            Err(stopped) => tracing::info!(%stopped, "gave up on the topic at shutdown"),
        }
    }

    async fn create_topic(&self) -> Result<(), KafkaError> {
        let admin: AdminClient<DefaultClientContext> =
            self.config.connection.client_config().create()?;
        let min_insync = self.config.min_insync_replicas.to_string();
        let topic = NewTopic::new(
            &self.config.topic,
            self.config.partitions,
            TopicReplication::Fixed(self.config.replication_factor),
        )
        .set("min.insync.replicas", &min_insync);
        let options = AdminOptions::new()
            .operation_timeout(Some(self.config.admin_timeout))
            .request_timeout(Some(self.config.admin_timeout));
        let results = admin.create_topics([&topic], &options).await?;
        for result in results {
            match result {
                Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                Err((_, code)) => return Err(KafkaError::AdminOp(code)),
            }
        }
        Ok(())
    }

    /// Partition count of the topic, asked with auto-creation off so that asking cannot create it
    /// with the broker's defaults.
    async fn existing_partitions(&self) -> Option<usize> {
        let config = self.config.clone();
        tokio::task::spawn_blocking(move || {
            let client: BaseConsumer = config
                .connection
                .client_config()
                .set("allow.auto.create.topics", "false")
                .create()
                .ok()?;
            let metadata = client
                .fetch_metadata(Some(&config.topic), Timeout::After(config.admin_timeout))
                .ok()?;
            let topic = metadata
                .topics()
                .iter()
                .find(|t| t.name() == config.topic && t.error().is_none())?;
            Some(topic.partitions().len()).filter(|n| *n > 0)
        })
        .await
        .ok()
        .flatten()
    }

    /// Ready when the topic has been ensured and the cluster answers a metadata request for it.
    pub async fn ready(&self) -> bool {
        if !self.topic_ready.load(Ordering::Acquire) {
            return false;
        }
        let producer = self.producer.clone();
        let topic = self.config.topic.clone();
        tokio::task::spawn_blocking(move || {
            producer
                .client()
                .fetch_metadata(Some(&topic), Timeout::After(Duration::from_secs(2)))
                .map(|m| {
                    m.topics().iter().any(|t| {
                        t.name() == topic && t.error().is_none() && !t.partitions().is_empty()
                    })
                })
                .unwrap_or(false)
        })
        .await
        .unwrap_or(false)
    }

    /// Waits for every queued order's delivery report (at shutdown).
    pub async fn flush(&self, timeout: Duration) -> Result<(), KafkaError> {
        let producer = self.producer.clone();
        tokio::task::spawn_blocking(move || producer.flush(Timeout::After(timeout)))
            .await
            .unwrap_or(Err(KafkaError::Canceled))
    }
}
