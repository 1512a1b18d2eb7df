//! The Kafka side of the job: a consumer group member reading the order topic in batches, with
//! offsets committed by hand once a batch is durable everywhere.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use rdkafka::consumer::{
    BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance, StreamConsumer,
};
use rdkafka::error::{KafkaError, KafkaResult};
use rdkafka::message::OwnedMessage;
use rdkafka::{ClientContext, Message, Offset, TopicPartitionList};
use tokio_util::sync::CancellationToken;

use crate::configuration::SourceConfig;
use crate::metrics::{Metrics, PartitionLabel};

/// Logs rebalances and turns librdkafka's statistics into the consumer-lag gauge.
pub struct SourceContext {
    topic: String,
    metrics: Arc<Metrics>,
}

impl ClientContext for SourceContext {
    /// Reads only the figures it needs from librdkafka's statistics JSON: rdkafka's full
    /// `Statistics` type does not parse what librdkafka reports against Apache Kafka 4, and
    /// its parse error would leave the gauge empty.
    fn stats_raw(&self, statistics: &[u8]) {
        match consumer_lags(statistics, &self.topic) {
            Ok(lags) => {
                for (partition, lag) in lags {
                    self.metrics
                        .consumer_lag
                        .get_or_create(&PartitionLabel { partition })
                        .set(lag);
                }
            }
            Err(error) => tracing::warn!(%error, "cannot read librdkafka's statistics"),
        }
    }
}

/// (partition, consumer lag) of every partition of `topic` whose lag librdkafka knows, from its
/// statistics JSON (`topics.<topic>.partitions.<n>.consumer_lag`, -1 when unknown).
fn consumer_lags(statistics: &[u8], topic: &str) -> serde_json::Result<Vec<(i32, i64)>> {
    let statistics: serde_json::Value = serde_json::from_slice(statistics)?;
    let partitions = statistics["topics"][topic]["partitions"].as_object();
    Ok(partitions
        .into_iter()
        .flatten()
        .filter_map(|(partition, stats)| {
            let partition: i32 = partition.parse().ok().filter(|p| *p >= 0)?;
            let lag = stats["consumer_lag"].as_i64().filter(|lag| *lag >= 0)?;
            Some((partition, lag))
        })
        .collect())
}

impl ConsumerContext for SourceContext {
    fn pre_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        // Nothing to commit here: the pipeline commits at its flush interval, and only what every
        // sink holds. Whatever was read from a revoked partition and not yet committed is
        // re-delivered to the partition's next owner, and the idempotent writes absorb the repeat.
        match rebalance {
            Rebalance::Revoke(partitions) => {
                tracing::info!(partitions = partitions.count(), "partitions revoked")
            }
            Rebalance::Assign(partitions) => {
                tracing::info!(partitions = partitions.count(), "partitions assigned")
            }
            Rebalance::Error(error) => tracing::warn!(%error, "rebalance error"),
        }
    }
}

/// The next offset to read per partition: what a commit stores.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Offsets(BTreeMap<(String, i32), i64>);

impl Offsets {
    /// Records that every message of `batch` is durable.
    pub fn record(&mut self, batch: &[OwnedMessage]) {
        for message in batch {
            let next = self
                .0
                .entry((message.topic().to_string(), message.partition()))
                .or_insert(0);
            *next = (*next).max(message.offset() + 1);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn clear(&mut self) {
        self.0.clear();
    }
}

pub struct OrderSource {
    consumer: StreamConsumer<SourceContext>,
    config: SourceConfig,
}

impl OrderSource {
    pub fn new(config: &SourceConfig, metrics: Arc<Metrics>) -> Result<Self, KafkaError> {
        let context = SourceContext {
            topic: config.topic.clone(),
            metrics,
        };
        let consumer: StreamConsumer<SourceContext> = config
            .connection
            .client_config()
            .set("group.id", &config.group_id)
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            .set(
                "session.timeout.ms",
                config.session_timeout.as_millis().to_string(),
            )
            .set(
                "max.poll.interval.ms",
                config.max_poll_interval.as_millis().to_string(),
            )
            .set("statistics.interval.ms", "5000")
            .create_with_context(context)?;
        consumer.subscribe(&[&config.topic])?;
        Ok(Self {
            consumer,
            config: config.clone(),
        })
    }

    /// Waits up to `idle` for a first message, then gathers more until the batch is full or has
    /// lingered long enough. Empty when nothing arrived (so the caller can flush) or on `stop`.
    /// A read error ends the batch early and is handed back, so the caller can report it.
    pub async fn next_batch(
        &self,
        idle: Duration,
        stop: &CancellationToken,
    ) -> (Vec<OwnedMessage>, Option<KafkaError>) {
        let mut batch = Vec::new();
        let first = tokio::select! {
            received = tokio::time::timeout(idle, self.consumer.recv()) => received,
            () = stop.cancelled() => return (batch, None),
        };
        match first {
            Ok(Ok(message)) => batch.push(message.detach()),
            Ok(Err(error)) => return (batch, Some(error)),
            Err(_) => return (batch, None),
        }
        let linger = tokio::time::sleep(self.config.batch_linger);
        tokio::pin!(linger);
        while batch.len() < self.config.batch_max {
            tokio::select! {
                received = self.consumer.recv() => match received {
                    Ok(message) => batch.push(message.detach()),
                    Err(error) => return (batch, Some(error)),
                },
                () = &mut linger => break,
                () = stop.cancelled() => break,
            }
        }
        (batch, None)
    }

    /// Whether a batch came back short of full: the topic held no more for this member when the
    /// linger ended, so the job is keeping pace and flushing at once costs no throughput.
    pub fn caught_up(&self, batch: &[OwnedMessage]) -> bool {
        batch.len() < self.config.batch_max
    }

    /// Commits `offsets` for the partitions this member still owns (the rest will be re-read by
    /// their new owner, which is harmless because every write is idempotent).
    pub fn commit(&self, offsets: &Offsets) -> KafkaResult<()> {
        let owned = self.consumer.assignment()?;
        let mut list = TopicPartitionList::new();
        for ((topic, partition), next) in &offsets.0 {
            if owned.find_partition(topic, *partition).is_some() {
                list.add_partition_offset(topic, *partition, Offset::Offset(*next))?;
            }
        }
        if list.count() == 0 {
            return Ok(());
        }
        // A synchronous commit blocks this worker thread for one round trip, at most once per
        // flush interval; it tells us whether the commit really happened.
        tokio::task::block_in_place(|| self.consumer.commit(&list, CommitMode::Sync))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rdkafka::message::Timestamp;

    fn message(partition: i32, offset: i64) -> OwnedMessage {
        OwnedMessage::new(
            None,
            None,
            "Order".into(),
            Timestamp::NotAvailable,
            partition,
            offset,
            None,
        )
    }

    #[test]
    fn consumer_lag_is_read_from_librdkafkas_statistics() {
        // The shape librdkafka reports (trimmed): the internal partition -1 and an unknown lag
        // (-1) are left out.
        let statistics = br#"{"name": "c", "topics": {"Order": {"topic": "Order", "partitions": {
            "0": {"partition": 0, "consumer_lag": 12, "hi_offset": 40},
            "1": {"partition": 1, "consumer_lag": 0},
            "2": {"partition": 2, "consumer_lag": -1},
            "-1": {"partition": -1, "consumer_lag": -1}}}, "Other": {"partitions": {
            "0": {"consumer_lag": 99}}}}}"#;
        let mut lags = consumer_lags(statistics, "Order").unwrap();
        lags.sort();
        assert_eq!(lags, [(0, 12), (1, 0)]);
        assert_eq!(consumer_lags(statistics, "Missing").unwrap(), []);
        assert!(consumer_lags(b"not json", "Order").is_err());
    }

    #[test]
    fn offsets_keep_the_next_position_per_partition() {
        let mut offsets = Offsets::default();
        offsets.record(&[message(0, 5), message(1, 2), message(0, 3)]);
        offsets.record(&[message(0, 6)]);
        let expected: BTreeMap<_, _> =
            [(("Order".to_string(), 0), 7), (("Order".to_string(), 1), 3)]
                .into_iter()
                .collect();
        assert_eq!(offsets.0, expected);
    }
}
