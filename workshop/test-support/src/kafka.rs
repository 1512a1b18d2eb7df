//! Kafka for tests: the run's Apache Kafka broker (started once by `test-servers`, or any broker
//! `KAFKA_BOOTSTRAP_SERVERS` names), or, for the few tests that need produce and fetch errors a
//! real broker can't give on demand, librdkafka's mock cluster (DESIGN.md §8).

use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::OwnedMessage;
use rdkafka::mocking::MockCluster;
use rdkafka::producer::{DefaultProducerContext, FutureProducer, FutureRecord};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};

/// A Kafka cluster for one test.
pub struct TestKafka {
    bootstrap_servers: String,
    mock: Option<MockCluster<'static, DefaultProducerContext>>,
    /// Replicas of each topic a test creates, and the `min.insync.replicas` they get.
    replication: (i32, i32),
}

/// The replication the run's Kafka asks of new topics: `KAFKA_REPLICATION_FACTOR` and
/// `KAFKA_MIN_INSYNC_REPLICAS` (1 and 1 on one broker), as compose's init step reads them.
fn replication_from_endpoints() -> (i32, i32) {
    let read = |name: &str| {
        crate::servers::endpoints::var(name).map(|v| {
            v.parse::<i32>()
                .unwrap_or_else(|_| panic!("{name}={v:?} is not a number"))
        })
    };
    (
        read("KAFKA_REPLICATION_FACTOR").unwrap_or(1),
        read("KAFKA_MIN_INSYNC_REPLICAS").unwrap_or(1),
    )
}

impl TestKafka {
    /// The test run's broker: `KAFKA_BOOTSTRAP_SERVERS`, or the running `test-servers`' broker.
    pub fn start() -> TestKafka {
        TestKafka {
            bootstrap_servers: crate::servers::endpoints::required("KAFKA_BOOTSTRAP_SERVERS"),
            mock: None,
            replication: replication_from_endpoints(),
        }
    }

    /// The broker at `bootstrap_servers` (one a test started itself, to stop it).
    pub fn at(bootstrap_servers: &str) -> TestKafka {
        TestKafka {
            bootstrap_servers: bootstrap_servers.to_string(),
            mock: None,
            replication: (1, 1),
        }
    }

    /// The cluster at `bootstrap_servers`: the topics it creates get `replicas` replicas and
    /// `min.insync.replicas` of `min_insync`.
    pub fn cluster(bootstrap_servers: &str, replicas: i32, min_insync: i32) -> TestKafka {
        TestKafka {
            replication: (replicas, min_insync),
            ..TestKafka::at(bootstrap_servers)
        }
    }

    /// librdkafka's mock cluster (one broker on 127.0.0.1, living as long as the value), for a
    /// test that injects broker outages or round-trip delays. Only such tests use it; say why
    /// at the test.
    pub fn with_injected_errors() -> TestKafka {
        let mock = MockCluster::new(1).expect("start the librdkafka mock cluster");
        TestKafka {
            bootstrap_servers: mock.bootstrap_servers(),
            mock: Some(mock),
            replication: (1, 1),
        }
    }

    pub fn bootstrap_servers(&self) -> &str {
        &self.bootstrap_servers
    }

    /// The mock cluster of [`TestKafka::with_injected_errors`], for injecting its errors.
    pub fn mock(&self) -> Option<&MockCluster<'static, DefaultProducerContext>> {
        self.mock.as_ref()
    }

    fn admin(&self) -> AdminClient<DefaultClientContext> {
        ClientConfig::new()
            .set("bootstrap.servers", &self.bootstrap_servers)
            .create()
            .expect("create a Kafka admin client")
    }

    /// Creates `topic` with this cluster's replication unless it exists, as compose's init step
    /// does.
    pub async fn create_topic(&self, topic: &str, partitions: i32) {
        if let Some(mock) = &self.mock {
            mock.create_topic(topic, partitions, 1)
                .expect("create a topic on the mock cluster");
            return;
        }
        let (replicas, min_insync) = self.replication;
        let min_insync = min_insync.to_string();
        let new_topic = NewTopic::new(topic, partitions, TopicReplication::Fixed(replicas))
            .set("min.insync.replicas", &min_insync);
        let results = self
            .admin()
            .create_topics(
                [&new_topic],
                &AdminOptions::new().operation_timeout(Some(Duration::from_secs(10))),
            )
            .await
            .expect("create topics");
        for result in results {
            match result {
                Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                Err((name, code)) => panic!("cannot create topic {name}: {code}"),
            }
        }
        // The new topic's leader is known to every client once metadata shows its partitions.
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.partition_count(topic) < partitions as usize {
            assert!(Instant::now() < deadline, "topic {topic} did not appear");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Deletes `topic` (a real broker only) and waits until metadata no longer shows it.
    pub async fn delete_topic(&self, topic: &str) {
        let results = self
            .admin()
            .delete_topics(
                &[topic],
                &AdminOptions::new().operation_timeout(Some(Duration::from_secs(10))),
            )
            .await
            .expect("delete topics");
        for result in results {
            if let Err((name, code)) = result {
                panic!("cannot delete topic {name}: {code}");
            }
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.partition_count(topic) > 0 {
            assert!(Instant::now() < deadline, "topic {topic} did not go away");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Reads every partition of `topic` from the beginning until `count` messages arrived or
    /// `timeout` passed. Partitions are assigned directly, so no group rebalance delays the read.
    pub fn read_topic(&self, topic: &str, count: usize, timeout: Duration) -> Vec<OwnedMessage> {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", &self.bootstrap_servers)
            .set("group.id", crate::unique_name("test-reader"))
            .set("enable.auto.commit", "false")
            .create()
            .expect("create a test consumer");
        let mut assignment = TopicPartitionList::new();
        for partition in 0..self.partition_count(topic) {
            assignment
                .add_partition_offset(topic, partition as i32, Offset::Beginning)
                .expect("add a partition");
        }
        consumer.assign(&assignment).expect("assign partitions");
        let deadline = Instant::now() + timeout;
        let mut messages = Vec::new();
        while messages.len() < count && Instant::now() < deadline {
            if let Some(Ok(message)) = consumer.poll(Duration::from_millis(100)) {
                messages.push(message.detach());
            }
        }
        messages
    }

    /// Produces `(key, payload)` messages in order through one producer and waits for every
    /// acknowledgement.
    pub async fn produce_all(&self, topic: &str, messages: &[(String, Vec<u8>)]) {
        let producer: FutureProducer = ClientConfig::new()
            .set("bootstrap.servers", &self.bootstrap_servers)
            .set("linger.ms", "5")
            .create()
            .expect("create a test producer");
        let sends: Vec<_> = messages
            .iter()
            .map(|(key, payload)| {
                producer.send(
                    FutureRecord::to(topic).key(key).payload(payload),
                    Duration::from_secs(30),
                )
            })
            .collect();
        for send in futures::future::join_all(sends).await {
            send.expect("produce a test message");
        }
    }

    /// Produces one message and waits for the acknowledgement.
    pub async fn produce(&self, topic: &str, key: &str, payload: &[u8]) {
        let producer: FutureProducer = ClientConfig::new()
            .set("bootstrap.servers", &self.bootstrap_servers)
            .create()
            .expect("create a test producer");
        producer
            .send(
                FutureRecord::to(topic).key(key).payload(payload),
                Duration::from_secs(10),
            )
            .await
            .expect("produce a test message");
    }

    /// A consumer for reading offsets and metadata (of `group`, when given); it never subscribes.
    fn reader(&self, group: Option<&str>) -> BaseConsumer {
        let mut config = ClientConfig::new();
        config.set("bootstrap.servers", &self.bootstrap_servers);
        if let Some(group) = group {
            config.set("group.id", group);
        }
        config.create().expect("create a Kafka reader")
    }

    /// Sum over the partitions of `topic` of the offsets `group` committed (0 for a partition
    /// without a commit): the number of messages the group has declared done.
    pub fn committed_total(&self, group: &str, topic: &str) -> i64 {
        // A fresh broker answers NotCoordinator while it loads the offsets topic: ask again.
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            match self.try_committed_total(group, topic) {
                Ok(committed) => return committed,
                Err(error) if Instant::now() < deadline => {
                    eprintln!("reading {group}'s committed offsets: {error}; asking again");
                    std::thread::sleep(Duration::from_millis(200));
                }
                Err(error) => panic!("cannot read {group}'s committed offsets: {error}"),
            }
        }
    }

    /// [`TestKafka::committed_total`], asked once: an error while the cluster cannot answer.
    fn try_committed_total(&self, group: &str, topic: &str) -> Result<i64, KafkaError> {
        self.committed_over(group, topic, self.try_partition_count(topic)?)
    }

    /// What `group` committed over the first `partitions` partitions of `topic`.
    fn committed_over(
        &self,
        group: &str,
        topic: &str,
        partitions: usize,
    ) -> Result<i64, KafkaError> {
        let mut list = TopicPartitionList::new();
        for partition in 0..partitions {
            list.add_partition(topic, partition as i32);
        }
        let committed = self
            .reader(Some(group))
            .committed_offsets(list, Duration::from_secs(5))?;
        Ok(committed
            .elements()
            .iter()
            .map(|e| match e.offset() {
                Offset::Offset(n) => n,
                _ => 0,
            })
            .sum())
    }

    /// Waits until `group` has committed everything `topic` holds (lag zero); how long that took,
    /// or what was still missing after `within`.
    pub async fn wait_caught_up(
        &self,
        group: &str,
        topic: &str,
        within: Duration,
    ) -> Result<Duration, String> {
        let started = Instant::now();
        loop {
            let (committed, end) = (
                self.committed_total(group, topic),
                self.end_offsets_total(topic),
            );
            if committed >= end {
                return Ok(started.elapsed());
            }
            if started.elapsed() > within {
                return Err(format!(
                    "group {group} did not catch up within {within:?}: {committed} of {end} messages committed"
                ));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Sum over the partitions of `topic` of their high watermarks: how many messages it holds.
    pub fn end_offsets_total(&self, topic: &str) -> i64 {
        self.try_partition_count(topic)
            .and_then(|partitions| self.ends_over(topic, partitions))
            .expect("fetch watermarks")
    }

    /// The high watermarks of the first `partitions` partitions of `topic`, summed.
    fn ends_over(&self, topic: &str, partitions: usize) -> Result<i64, KafkaError> {
        let consumer = self.reader(None);
        (0..partitions)
            .map(|p| {
                Ok(consumer
                    .fetch_watermarks(topic, p as i32, Duration::from_secs(5))?
                    .1)
            })
            .sum()
    }

    /// Messages on `topic` that `group` has not committed yet (end offsets less committed ones);
    /// an error rather than a panic while the cluster cannot answer (a broker just died, say).
    pub fn try_lag(&self, group: &str, topic: &str) -> Result<i64, KafkaError> {
        let partitions = self.try_partition_count(topic)?;
        Ok(self.ends_over(topic, partitions)? - self.committed_over(group, topic, partitions)?)
    }

    /// The broker (Kafka node id) leading each partition of `topic`, in partition order.
    pub fn leaders(&self, topic: &str) -> Vec<i32> {
        let consumer = self.reader(None);
        let metadata = consumer
            .fetch_metadata(Some(topic), Duration::from_secs(5))
            .expect("fetch metadata");
        let mut partitions: Vec<(i32, i32)> = metadata
            .topics()
            .iter()
            .filter(|t| t.name() == topic)
            .flat_map(|t| t.partitions().iter().map(|p| (p.id(), p.leader())))
            .collect();
        partitions.sort();
        partitions.into_iter().map(|(_, leader)| leader).collect()
    }

    /// Partition count of `topic` as the cluster reports it (0 if the topic does not exist).
    pub fn partition_count(&self, topic: &str) -> usize {
        self.try_partition_count(topic).unwrap_or(0)
    }

    /// The partitions of `topic` (0 when the cluster does not know it); an error when the cluster
    /// does not answer, or answers with an error for the topic.
    fn try_partition_count(&self, topic: &str) -> Result<usize, KafkaError> {
        let metadata = self
            .reader(None)
            .fetch_metadata(Some(topic), Duration::from_secs(5))?;
        match metadata.topics().iter().find(|t| t.name() == topic) {
            None => Ok(0),
            Some(found) => match found.error() {
                None => Ok(found.partitions().len()),
                Some(error) => Err(KafkaError::MetadataFetch(error.into())),
            },
        }
    }
}

/// The payload of a message as UTF-8 text (empty if none).
pub fn payload_text(message: &OwnedMessage) -> String {
    String::from_utf8_lossy(message.payload().unwrap_or_default()).into_owned()
}

/// The key of a message as UTF-8 text (empty if none).
pub fn key_text(message: &OwnedMessage) -> String {
    String::from_utf8_lossy(message.key().unwrap_or_default()).into_owned()
}
