//! A run: a dispatcher hands steps (one sale each, or `batch` of them) to `concurrency` senders
//! at the target rate, journaling every event before it leaves; the senders post them, record
//! what was accepted and count the rest. It stops at `count` steps, after `duration`, or when
//! asked to (then in-flight requests still finish, so the record stays true); an abandon gives up
//! on requests in flight (the journal lets a resume send them again).

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use chrono::{Timelike, Utc};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::Value;
use service_runtime::SecretString;
use tokio::sync::{mpsc, Mutex};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::client::{error_codes, Answer, Poster};
use crate::record::Record;
use crate::stats::{Stats, Summary};
use crate::traffic::{Event, Kind, Step, Traffic};

/// How the rate moves over the day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Curve {
    /// The target rate all the time (benchmarks, fault runs).
    Flat,
    /// The target rate at the busiest hours of the business day, less at night.
    Day,
}

/// Share of the peak rate in each hour of the business day (a café: breakfast, lunch, after work).
const DAY: [f64; 24] = [
    0.05, 0.03, 0.02, 0.02, 0.03, 0.08, 0.25, 0.6, 1.0, 0.8, 0.65, 0.75, 0.95, 0.85, 0.6, 0.55,
    0.65, 0.8, 0.75, 0.55, 0.4, 0.25, 0.15, 0.08,
];

#[derive(Debug, Clone)]
pub struct RunConfig {
    /// ingest-api's address, `http://host:port`.
    pub base_url: String,
    /// The bearer key it posts with.
    pub key: SecretString,
    /// Orders per second; 0 sends as fast as the senders go.
    pub rate: f64,
    /// Stop after this many steps (counted over resumed runs too).
    pub count: Option<u64>,
    pub duration: Option<Duration>,
    pub concurrency: usize,
    /// 1 posts each order on its own; more posts batches of this size.
    pub batch: usize,
    pub curve: Curve,
    pub record: Option<PathBuf>,
    pub resume: bool,
    pub seed: u64,
    pub request_timeout: Duration,
    /// Draw a progress bar (on a terminal) or log a line every ten seconds (elsewhere).
    pub progress: bool,
}

enum Job {
    Steps(Vec<Step>),
    /// Events journaled by an earlier run and never acknowledged.
    Unsent(Vec<Event>),
}

struct Sender {
    poster: Poster,
    record: Option<Arc<Record>>,
    stats: Arc<Stats>,
}

/// Runs `traffic` as `config` says until done, `stop` or `abandon`; the figures.
pub async fn run(
    traffic: Arc<Traffic>,
    config: RunConfig,
    stop: CancellationToken,
    abandon: CancellationToken,
) -> anyhow::Result<Summary> {
    let stats = Arc::new(Stats::default());
    let (record, resume) = match &config.record {
        Some(path) => {
            let (record, resume) = Record::open(path, config.seed, config.resume)?;
            (Some(Arc::new(record)), resume)
        }
        None => Default::default(),
    };
    if !resume.unsent.is_empty() || resume.next_seq > 0 {
        tracing::info!(
            next_step = resume.next_seq,
            resent = resume.unsent.len(),
            "resuming: sending unacknowledged events again, then going on"
        );
    }
    let sender = Arc::new(Sender {
        poster: Poster::new(
            &config.base_url,
            config.key.clone(),
            config.request_timeout,
            config.concurrency,
            stats.clone(),
            abandon.clone(),
        )?,
        record: record.clone(),
        stats: stats.clone(),
    });
    let (jobs, queue) = mpsc::channel::<Job>(config.concurrency.max(1));
    let queue = Arc::new(Mutex::new(queue));
    let senders: Vec<_> = (0..config.concurrency.max(1))
        .map(|_| {
            let (sender, queue) = (sender.clone(), queue.clone());
            tokio::spawn(async move {
                loop {
                    let job = queue.lock().await.recv().await;
                    match job {
                        Some(job) => sender.handle(job).await?,
                        None => return anyhow::Ok(()),
                    }
                }
            })
        })
        .collect();
    let progress = config
        .progress
        .then(|| spawn_progress(stats.clone(), config.count));

    let dispatched = dispatch(
        &traffic,
        &config,
        resume,
        record.as_deref(),
        &stats,
        &jobs,
        &stop,
    )
    .await;
    drop(jobs);
    for sender in senders {
        sender.await??;
    }
    if let Some((bar, task)) = progress {
        task.abort();
        bar.finish_and_clear();
    }
    dispatched?;
    Ok(stats.summary())
}

async fn dispatch(
    traffic: &Traffic,
    config: &RunConfig,
    resume: crate::record::Resume,
    record: Option<&Record>,
    stats: &Stats,
    jobs: &mpsc::Sender<Job>,
    stop: &CancellationToken,
) -> anyhow::Result<()> {
    if !resume.unsent.is_empty() && jobs.send(Job::Unsent(resume.unsent)).await.is_err() {
        return Ok(());
    }
    let started = Instant::now();
    let mut due = started;
    let mut seq = resume.next_seq;
    let batch = config.batch.max(1) as u64;
    loop {
        let left = config
            .count
            .map_or(batch, |count| count.saturating_sub(seq).min(batch));
        let timed_out = config.duration.is_some_and(|d| started.elapsed() >= d);
        if left == 0 || timed_out || stop.is_cancelled() {
            return Ok(());
        }
        if config.rate > 0.0 {
            let share = match config.curve {
                Curve::Flat => 1.0,
                Curve::Day => {
                    let zone: chrono_tz::Tz =
                        traffic.zone().name().parse().unwrap_or(chrono_tz::UTC);
                    DAY[Utc::now().with_timezone(&zone).hour() as usize]
                }
            };
            due += Duration::from_secs_f64(left as f64 / (config.rate * share));
            tokio::select! {
                () = tokio::time::sleep_until(due) => {}
                () = stop.cancelled() => return Ok(()),
            }
        }
        let now = Utc::now();
        let steps: Vec<Step> = (seq..seq + left).map(|n| traffic.step(n, now)).collect();
        seq += left;
        if let Some(record) = record {
            for step in &steps {
                record.journal(&step.sale)?;
                for follow_up in &step.follow_ups {
                    record.journal(follow_up)?;
                }
            }
        }
        stats.sales_sent.fetch_add(left, Ordering::Relaxed);
        if jobs.send(Job::Steps(steps)).await.is_err() {
            // The senders are gone: one of them failed, and `run` reports why.
            return Ok(());
        }
    }
}

impl Sender {
    async fn handle(&self, job: Job) -> anyhow::Result<()> {
        match job {
            Job::Unsent(events) => {
                for event in &events {
                    self.one(event).await?;
                }
            }
            Job::Steps(steps) if steps.len() == 1 => {
                let step = &steps[0];
                if self.one(&step.sale).await? && step.retry {
                    self.repeat(&step.sale).await;
                }
                for follow_up in &step.follow_ups {
                    self.one(follow_up).await?;
                }
            }
            Job::Steps(steps) => {
                let sales: Vec<&Event> = steps.iter().map(|s| &s.sale).collect();
                let duplicates: Vec<&Event> = steps
                    .iter()
                    .filter(|s| s.duplicate)
                    .map(|s| &s.sale)
                    .collect();
                self.batch("/v1/orders/batch", &sales, &duplicates).await?;
                let retries: Vec<&Event> =
                    steps.iter().filter(|s| s.retry).map(|s| &s.sale).collect();
                if !retries.is_empty() {
                    self.batch("/v1/orders/batch", &[], &retries).await?;
                }
                let follow_ups = steps.iter().flat_map(|s| &s.follow_ups);
                let refunds: Vec<&Event> = follow_ups
                    .clone()
                    .filter(|e| e.fact.kind == Kind::Refund)
                    .collect();
                if !refunds.is_empty() {
                    self.batch("/v1/refunds/batch", &refunds, &[]).await?;
                }
                for void in follow_ups.filter(|e| e.fact.kind == Kind::Void) {
                    self.one(void).await?;
                }
            }
        }
        Ok(())
    }

    fn accepted(&self, event: &Event) -> anyhow::Result<()> {
        self.stats.accepted(event.fact.kind);
        match &self.record {
            Some(record) => record.accepted(&event.fact),
            None => Ok(()),
        }
    }

    fn rejected(&self, codes: &[String]) {
        self.stats.rejected(codes);
    }

    /// Posts one event; whether it was accepted.
    async fn one(&self, event: &Event) -> anyhow::Result<bool> {
        match self.poster.post(&event.route, &event.body).await {
            Answer::Accepted(_) => {
                self.accepted(event)?;
                Ok(true)
            }
            Answer::Rejected(codes) => {
                self.rejected(&codes);
                Ok(false)
            }
            Answer::Abandoned => Ok(false),
        }
    }

    /// Sends an accepted event again, as a POS does when an answer got lost.
    async fn repeat(&self, event: &Event) {
        if let Answer::Accepted(_) = self.poster.post(&event.route, &event.body).await {
            self.stats.repeats_accepted.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Posts `events` (recorded when accepted) followed by `repeats` (copies of events sent
    /// before or in this batch, only counted) as one batch; elements Kafka did not acknowledge
    /// are posted again until each is decided.
    async fn batch(
        &self,
        route: &str,
        events: &[&Event],
        repeats: &[&Event],
    ) -> anyhow::Result<()> {
        let mut events: Vec<&Event> = events.to_vec();
        let mut repeats: Vec<&Event> = repeats.to_vec();
        while !events.is_empty() || !repeats.is_empty() {
            let bodies: Vec<&Value> = events.iter().chain(&repeats).map(|e| &e.body).collect();
            let reply = match self.poster.post(route, &bodies).await {
                Answer::Accepted(reply) => reply,
                Answer::Rejected(codes) => {
                    tracing::warn!(?codes, elements = bodies.len(), "a whole batch was refused");
                    self.rejected(&codes);
                    return Ok(());
                }
                Answer::Abandoned => return Ok(()),
            };
            let mut again = Vec::new();
            let mut repeats_again = Vec::new();
            for result in reply["results"].as_array().into_iter().flatten() {
                let Some(index) = result["index"].as_u64().map(|i| i as usize) else {
                    continue;
                };
                let (event, primary) = match events.get(index) {
                    Some(event) => (*event, true),
                    None => match repeats.get(index - events.len()) {
                        Some(event) => (*event, false),
                        None => continue,
                    },
                };
                match (result["status"].as_str(), primary) {
                    (Some("accepted"), true) => self.accepted(event)?,
                    (Some("accepted"), false) => {
                        self.stats.repeats_accepted.fetch_add(1, Ordering::Relaxed);
                    }
                    (Some("rejected"), _) => self.rejected(&error_codes(&result["errors"])),
                    (_, true) => again.push(event),
                    (_, false) => repeats_again.push(event),
                }
            }
            events = again;
            repeats = repeats_again;
        }
        Ok(())
    }
}

fn spawn_progress(
    stats: Arc<Stats>,
    count: Option<u64>,
) -> (ProgressBar, tokio::task::JoinHandle<()>) {
    let terminal = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let bar = match count {
        Some(count) => ProgressBar::new(count),
        None => ProgressBar::new_spinner(),
    };
    bar.set_draw_target(if terminal {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    });
    let template = if count.is_some() {
        "{elapsed_precise} [{bar:30}] {pos}/{len} sales {msg}"
    } else {
        "{elapsed_precise} {spinner} {pos} sales {msg}"
    };
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style.progress_chars("=> "));
    }
    let shown = bar.clone();
    let task = tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        let mut last_log = Instant::now();
        loop {
            tick.tick().await;
            shown.set_position(stats.sales_sent.load(Ordering::Relaxed));
            let line = stats.line();
            if terminal {
                shown.set_message(line);
            } else if last_log.elapsed() >= Duration::from_secs(10) {
                tracing::info!(progress = %line, "loadgen");
                last_log = Instant::now();
            }
        }
    });
    (bar, task)
}
