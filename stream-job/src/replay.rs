//! The dead-letter topic read back: `stream-job dead-letters list | show | replay`.
//!
//! A letter is the refused message's key and bytes with headers naming why (`dead_letter.rs`).
//! Replaying re-publishes chosen letters to the order topic, unchanged, where the pipeline treats
//! them like any message: a letter that is valid now is stored once (a second replay is a retry,
//! and the exactly-once rule absorbs it), and one that would be refused again is named here and
//! not sent. Whether it would be refused is decided the way the pipeline decides it
//! (`resolve.rs`), against what Cassandra holds.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Utc};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Header, Headers, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Message, Offset, TopicPartitionList};
use sales_model::{Envelope, EventRecord};

use crate::cassandra::sink::CassandraSink;
use crate::configuration::StreamConfig;
use crate::dead_letter::ERROR_CODE;
use crate::metrics::Metrics;
use crate::resolve::{self, Refusal};
use crate::sink::Sink;

/// Header a replayed message carries: the dead letter it came from (`partition:offset`).
pub const REPLAYED_FROM: &str = "dlq.replayed.from";

/// One message of the dead-letter topic.
#[derive(Debug, Clone)]
pub struct Letter {
    pub partition: i32,
    pub offset: i64,
    /// When the letter was written (its Kafka timestamp).
    pub at: DateTime<Utc>,
    pub key: Option<Vec<u8>>,
    pub payload: Vec<u8>,
    /// Every header, in order (the reason code, its text, the source position).
    pub headers: Vec<(String, String)>,
}

impl Letter {
    fn header(&self, name: &str) -> &str {
        self.headers
            .iter()
            .find(|(key, _)| key == name)
            .map_or("", |(_, value)| value.as_str())
    }

    /// The reason code (`malformed`, `conflicting_duplicate`, …).
    pub fn code(&self) -> &str {
        self.header(ERROR_CODE)
    }

    /// `partition:offset` in the dead-letter topic.
    pub fn position(&self) -> String {
        format!("{}:{}", self.partition, self.offset)
    }
}

/// Which letters a command takes: every condition given must hold.
#[derive(Debug, Default, Clone)]
pub struct Selection {
    pub reason: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    /// `(partition, offset)` of the letters wanted; empty for any.
    pub positions: Vec<(i32, i64)>,
}

impl Selection {
    pub fn takes(&self, letter: &Letter) -> bool {
        self.reason.as_deref().is_none_or(|r| r == letter.code())
            && self.since.is_none_or(|since| letter.at >= since)
            && self.until.is_none_or(|until| letter.at < until)
            && (self.positions.is_empty()
                || self.positions.contains(&(letter.partition, letter.offset)))
    }
}

/// `partition:offset`, as `show` and `--offsets` take it.
pub fn parse_position(text: &str) -> anyhow::Result<(i32, i64)> {
    let (partition, offset) = text
        .split_once(':')
        .with_context(|| format!("{text:?} is not PARTITION:OFFSET"))?;
    Ok((
        partition
            .parse()
            .with_context(|| format!("{text:?}: the partition is not a number"))?,
        offset
            .parse()
            .with_context(|| format!("{text:?}: the offset is not a number"))?,
    ))
}

/// Every letter of the dead-letter topic, oldest first per partition, read from its start to its
/// end as of now, without joining a consumer group (nothing is committed).
pub fn read_letters(config: &StreamConfig) -> anyhow::Result<Vec<Letter>> {
    let topic = &config.kafka.dlq_topic;
    let consumer: BaseConsumer = config
        .kafka
        .connection
        .client_config()
        .set("group.id", "stream-job-dead-letters")
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "false")
        .create()
        .context("cannot create a Kafka consumer")?;
    let timeout = Duration::from_secs(10);
    let metadata = consumer
        .fetch_metadata(Some(topic), timeout)
        .with_context(|| format!("cannot read the metadata of {topic}"))?;
    let partitions: Vec<i32> = metadata
        .topics()
        .iter()
        .filter(|t| t.name() == topic && t.error().is_none())
        .flat_map(|t| t.partitions().iter().map(|p| p.id()))
        .collect();
    anyhow::ensure!(
        !partitions.is_empty(),
        "the dead-letter topic {topic} does not exist"
    );
    let mut ends = BTreeMap::new();
    let mut assignment = TopicPartitionList::new();
    for partition in partitions {
        let (low, high) = consumer
            .fetch_watermarks(topic, partition, timeout)
            .with_context(|| format!("cannot read the offsets of {topic}/{partition}"))?;
        if high > low {
            ends.insert(partition, high);
            assignment.add_partition_offset(topic, partition, Offset::Offset(low))?;
        }
    }
    let mut letters = Vec::new();
    if ends.is_empty() {
        return Ok(letters);
    }
    consumer.assign(&assignment)?;
    let mut left: BTreeMap<i32, i64> = ends.clone();
    while !left.is_empty() {
        let message = consumer
            .poll(timeout)
            .with_context(|| format!("{topic} stopped answering while being read"))?
            .with_context(|| format!("cannot read {topic}"))?;
        let partition = message.partition();
        if message.offset() + 1 >= ends[&partition] {
            left.remove(&partition);
        }
        let headers = message
            .headers()
            .map(|headers| {
                headers
                    .iter()
                    .map(|h| {
                        let value = h.value.map(String::from_utf8_lossy).unwrap_or_default();
                        (h.key.to_string(), value.into_owned())
                    })
                    .collect()
            })
            .unwrap_or_default();
        letters.push(Letter {
            partition,
            offset: message.offset(),
            at: message
                .timestamp()
                .to_millis()
                .and_then(DateTime::from_timestamp_millis)
                .unwrap_or_default(),
            key: message.key().map(<[u8]>::to_vec),
            payload: message.payload().unwrap_or_default().to_vec(),
            headers,
        });
    }
    letters.sort_by_key(|l| (l.partition, l.offset));
    Ok(letters)
}

/// Letters counted by reason and by the hour they were written (UTC).
pub fn summary(letters: &[Letter]) -> String {
    let mut by_reason: BTreeMap<&str, usize> = BTreeMap::new();
    let mut by_hour: BTreeMap<(String, &str), usize> = BTreeMap::new();
    for letter in letters {
        *by_reason.entry(letter.code()).or_default() += 1;
        let hour = letter.at.format("%Y-%m-%d %H:00").to_string();
        *by_hour.entry((hour, letter.code())).or_default() += 1;
    }
    let plural = if letters.len() == 1 { "" } else { "s" };
    let mut out = format!("{} dead letter{plural}\n\nby reason:\n", letters.len());
    for (reason, count) in &by_reason {
        let _ = writeln!(out, "  {reason:<28} {count}");
    }
    out.push_str("\nby hour written (UTC) and reason:\n");
    for ((hour, reason), count) in &by_hour {
        let _ = writeln!(out, "  {hour}  {reason:<28} {count}");
    }
    if !letters.is_empty() {
        out.push_str("\nletters (partition:offset, written, reason):\n");
        for letter in letters {
            let _ = writeln!(
                out,
                "  {:<10} {}  {}",
                letter.position(),
                letter.at.format("%Y-%m-%dT%H:%M:%SZ"),
                letter.code()
            );
        }
    }
    out
}

/// One letter in full: where it is, every header, its key and its original bytes (as text when
/// they are UTF-8, else in hex).
pub fn describe(letter: &Letter) -> String {
    let bytes = |b: &[u8]| match std::str::from_utf8(b) {
        Ok(text) => text.to_string(),
        Err(_) => b.iter().map(|byte| format!("{byte:02x}")).collect(),
    };
    let mut out = format!(
        "dead letter {} written {}\n",
        letter.position(),
        letter.at.to_rfc3339()
    );
    for (key, value) in &letter.headers {
        let _ = writeln!(out, "{key}: {value}");
    }
    let _ = writeln!(
        out,
        "key: {}",
        letter.key.as_deref().map_or(String::new(), bytes)
    );
    let _ = writeln!(out, "payload ({} bytes):", letter.payload.len());
    out.push_str(&bytes(&letter.payload));
    out.push('\n');
    out
}

/// What replaying a letter would do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Valid now, and the first version of its id (or the same content): it would be stored.
    Send,
    /// Refused again, with the reason the pipeline would give.
    RefusedAgain { code: String, reason: String },
}

/// The verdict on each letter, decided as the pipeline decides a batch: the letters' distinct
/// versions checked against what Cassandra holds.
pub async fn verdicts(config: &StreamConfig, letters: &[Letter]) -> anyhow::Result<Vec<Verdict>> {
    let decoded: Vec<(usize, _)> = letters
        .iter()
        .enumerate()
        .map(|(n, letter)| (n, Envelope::from_json(&letter.payload)))
        .collect();
    let records: Vec<Option<EventRecord>> = decoded
        .iter()
        .map(|(_, envelope)| envelope.as_ref().ok().map(|e| EventRecord::from(&e.event)))
        .collect();
    let (candidates, invalid) = resolve::versions(decoded);
    let mut verdicts: Vec<Verdict> = letters.iter().map(|_| Verdict::Send).collect();
    let mut refuse = |n: usize, refusal: &Refusal| {
        verdicts[n] = Verdict::RefusedAgain {
            code: refusal.code().to_string(),
            reason: refusal.text(),
        };
    };
    for (n, refusal) in &invalid {
        refuse(*n, refusal);
    }
    if !candidates.is_empty() {
        let cassandra = CassandraSink::connect(&config.cassandra, Arc::new(Metrics::default()))
            .await
            .context("cannot reach Cassandra to check the letters against what it holds")?;
        let known = cassandra
            .known(&resolve::wanted(&candidates))
            .await
            .context("cannot read what Cassandra holds of the letters' ids")?
            .unwrap_or_default();
        let kept: Vec<usize> = candidates.iter().map(|c| c.message).collect();
        let resolution = resolve::resolve(candidates, &known);
        for (n, refusal) in &resolution.refused {
            refuse(*n, refusal);
        }
        // A letter repeating the content of an earlier one shares its verdict (a retry of a
        // stored version is sent and absorbed; a repeat of a refused one is refused again).
        for n in (0..letters.len()).filter(|n| !kept.contains(n)) {
            let Some(content) = &records[n] else { continue };
            if let Some(&first) = kept.iter().find(|&&m| records[m].as_ref() == Some(content)) {
                verdicts[n] = verdicts[first].clone();
            }
        }
    }
    Ok(verdicts)
}

/// Re-publishes `letters` to the order topic (key and bytes unchanged, a header naming the
/// letter) and returns once Kafka acknowledged every one.
pub async fn republish(config: &StreamConfig, letters: &[&Letter]) -> anyhow::Result<()> {
    let producer: FutureProducer = config
        .kafka
        .connection
        .client_config()
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("allow.auto.create.topics", "false")
        .create()
        .context("cannot create a Kafka producer")?;
    for letter in letters {
        let position = letter.position();
        let headers = OwnedHeaders::new().insert(Header {
            key: REPLAYED_FROM,
            value: Some(position.as_str()),
        });
        let mut record = FutureRecord::<[u8], [u8]>::to(&config.kafka.topic)
            .payload(&letter.payload)
            .headers(headers);
        if let Some(key) = &letter.key {
            record = record.key(key);
        }
        producer
            .send(record, Duration::from_secs(30))
            .await
            .map_err(|(error, _)| error)
            .with_context(|| {
                format!(
                    "cannot publish dead letter {position} to {}",
                    config.kafka.topic
                )
            })?;
    }
    Ok(())
}

/// The letters `selection` takes, each with its verdict, as a report; sends those that would be
/// stored unless `dry_run`. Returns the report and how many were (or would be) sent.
pub async fn replay(
    config: &StreamConfig,
    selection: &Selection,
    dry_run: bool,
) -> anyhow::Result<(String, usize)> {
    let letters: Vec<Letter> = read_letters(config)?
        .into_iter()
        .filter(|l| selection.takes(l))
        .collect();
    let verdicts = verdicts(config, &letters).await?;
    let mut out = String::new();
    let mut sending = Vec::new();
    for (letter, verdict) in letters.iter().zip(&verdicts) {
        match verdict {
            Verdict::Send => {
                sending.push(letter);
                let _ = writeln!(
                    out,
                    "{} {:<10} ({}) to {}",
                    if dry_run { "would send" } else { "sending" },
                    letter.position(),
                    letter.code(),
                    config.kafka.topic
                );
            }
            Verdict::RefusedAgain { code, reason } => {
                let _ = writeln!(
                    out,
                    "not sent   {:<10} ({}): would be refused again as {code}: {reason}",
                    letter.position(),
                    letter.code()
                );
            }
        }
    }
    if !dry_run {
        republish(config, &sending).await?;
    }
    let _ = writeln!(
        out,
        "{} of {} selected letters {}; {} would be refused again",
        sending.len(),
        letters.len(),
        if dry_run { "would be sent" } else { "sent" },
        letters.len() - sending.len()
    );
    Ok((out, sending.len()))
}
