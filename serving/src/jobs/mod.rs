//! The scheduled jobs (tokio-cron-scheduler): reconciliation and retention.
//!
//! Each job runs in its own slot, so a slow run makes the next tick skip instead of overlapping;
//! a failed run is logged, counted and reported, and simply tried again at the next tick.

pub mod reconcile;
pub mod retention;
pub mod schedule;

use std::sync::{Arc, RwLock};
use std::time::Duration;

use chrono::Utc;
use clickhouse::Client;
use sales_model::BusinessZone;
use tokio_cron_scheduler::{Job, JobScheduler};

use crate::cassandra_reads::Connected;
use crate::configuration::{JobsConfig, ServingConfig};
use crate::metrics::{JobLabels, Metrics};
use reconcile::{recent_days, ReconciliationReport};
use retention::RetentionReport;
use schedule::JobSlot;

pub struct Jobs {
    cassandra: Connected,
    clickhouse: Client,
    /// Longest one ClickHouse request of a job may take.
    timeout: Duration,
    database: String,
    /// Where "today" is, for the days reconciliation compares and retention keeps.
    business_zone: BusinessZone,
    config: JobsConfig,
    metrics: Arc<Metrics>,
    reconcile_slot: JobSlot,
    retention_slot: JobSlot,
    report: RwLock<ReconciliationReport>,
}

impl Jobs {
    /// The jobs over both stores, on `config`'s schedules.
    pub fn new(
        cassandra: Connected,
        clickhouse: Client,
        config: &ServingConfig,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            cassandra,
            clickhouse,
            timeout: config.clickhouse.request_timeout,
            database: config.clickhouse.database.clone(),
            business_zone: config.clickhouse.business_zone,
            config: config.jobs.clone(),
            metrics,
            reconcile_slot: JobSlot::default(),
            retention_slot: JobSlot::default(),
            report: RwLock::new(ReconciliationReport::default()),
        }
    }

    fn outcome(&self, job: &str, outcome: &str) {
        self.metrics
            .job_runs
            .get_or_create(&JobLabels {
                job: job.into(),
                outcome: outcome.into(),
            })
            .inc();
    }

    /// The latest reconciliation, as `GET /v1/reconciliation` shows it.
    pub fn last_reconciliation(&self) -> ReconciliationReport {
        self.report.read().map(|r| r.clone()).unwrap_or_default()
    }

    /// Runs a reconciliation now; `None` if one is already running.
    pub async fn reconcile_now(&self) -> Option<ReconciliationReport> {
        let Some(_slot) = self.reconcile_slot.try_claim() else {
            self.outcome("reconciliation", "skipped_overlap");
            tracing::warn!("reconciliation still running; this tick is skipped");
            return None;
        };
        let now = Utc::now();
        let days = recent_days(self.business_zone.day_of(now), self.config.reconcile_days);
        let grace = chrono::Duration::from_std(self.config.reconcile_grace()).unwrap_or_default();
        let previous = self.last_reconciliation();
        let mut report = ReconciliationReport {
            last_run: Some(now),
            last_success: previous.last_success,
            days: days.clone(),
            ..Default::default()
        };
        let outcome = match self.cassandra.get() {
            Some(reads) => reads.reconciler.run(&days, now - grace).await,
            None => Err(anyhow::anyhow!("Cassandra is not reachable yet")),
        };
        match outcome {
            Ok(reconcile::Outcome {
                cutoff,
                compared,
                mismatches,
                unknown_sale_refunds,
            }) => {
                report.cutoff = Some(cutoff);
                report.compared_groups = compared;
                report.last_success = Some(now);
                report.status = if mismatches.is_empty() {
                    "ok"
                } else {
                    "mismatch"
                }
                .into();
                for m in &mismatches {
                    tracing::error!(
                        alert = "reconciliation_mismatch",
                        day = %m.day,
                        store_id = %m.store_id,
                        channel = %m.channel,
                        currency = %m.currency,
                        cassandra_orders = m.cassandra.orders,
                        clickhouse_orders = m.clickhouse.orders,
                        cassandra_items = m.cassandra.items,
                        clickhouse_items = m.clickhouse.items,
                        cassandra_gross_minor = m.cassandra.gross_minor,
                        clickhouse_gross_minor = m.clickhouse.gross_minor,
                        cassandra_refunds_minor = m.cassandra.refunds_minor,
                        clickhouse_refunds_minor = m.clickhouse.refunds_minor,
                        "Cassandra and ClickHouse disagree"
                    );
                }
                if !unknown_sale_refunds.is_empty() {
                    tracing::warn!(
                        refunds = unknown_sale_refunds.len(),
                        first = %unknown_sale_refunds[0].refund_id,
                        "refunds of sales the pipeline never saw (counted in refunds all the same)"
                    );
                }
                tracing::info!(compared, mismatches = mismatches.len(), unknown_sale_refunds = unknown_sale_refunds.len(), %cutoff, "reconciliation finished");
                self.metrics
                    .unknown_sale_refunds
                    .set(unknown_sale_refunds.len() as i64);
                report.unknown_sale_refunds = unknown_sale_refunds.len();
                report.unknown_sale_refund_list = unknown_sale_refunds
                    .into_iter()
                    .take(reconcile::MAX_LISTED_UNKNOWN)
                    .collect();
                self.metrics
                    .reconciliation_mismatches
                    .set(mismatches.len() as i64);
                self.metrics
                    .reconciliation_last_success
                    .set(now.timestamp());
                self.outcome("reconciliation", &report.status);
                report.mismatches = mismatches;
            }
            Err(error) => {
                tracing::error!(%error, "reconciliation failed; retried at the next tick");
                report.status = "failed".into();
                report.error = Some(format!("{error:#}"));
                self.outcome("reconciliation", "failed");
            }
        }
        self.metrics.reconciliation_last_run.set(now.timestamp());
        if let Ok(mut slot) = self.report.write() {
            *slot = report.clone();
        }
        Some(report)
    }

    /// Runs retention now; `None` if it is already running or failed (the failure is logged).
    pub async fn retention_now(&self) -> Option<RetentionReport> {
        let Some(_slot) = self.retention_slot.try_claim() else {
            self.outcome("retention", "skipped_overlap");
            tracing::warn!("retention still running; this tick is skipped");
            return None;
        };
        match retention::run(
            &self.clickhouse,
            &self.database,
            self.business_zone.day_of(Utc::now()),
            self.config.retention_days,
            self.timeout,
        )
        .await
        {
            Ok(report) => {
                tracing::info!(dropped = report.dropped.len(), cutoff = %report.cutoff, "retention finished");
                self.metrics
                    .partitions_dropped
                    .inc_by(report.dropped.len() as u64);
                self.outcome("retention", "ok");
                Some(report)
            }
            Err(error) => {
                tracing::error!(
                    error = format!("{error:#}"),
                    "retention failed; retried at the next tick"
                );
                self.outcome("retention", "failed");
                None
            }
        }
    }

    /// Starts the scheduler with both jobs on their configured schedules.
    pub async fn schedule(self: Arc<Self>) -> anyhow::Result<JobScheduler> {
        let scheduler = JobScheduler::new().await?;
        for (schedule, job) in [
            (&self.config.reconcile_schedule, ScheduledJob::Reconcile),
            (&self.config.retention_schedule, ScheduledJob::Retention),
        ] {
            let jobs = self.clone();
            scheduler
                .add(Job::new_async(schedule.as_str(), move |_, _| {
                    let jobs = jobs.clone();
                    Box::pin(async move {
                        // Each run logs and counts its own outcome.
                        match job {
                            ScheduledJob::Reconcile => {
                                jobs.reconcile_now().await;
                            }
                            ScheduledJob::Retention => {
                                jobs.retention_now().await;
                            }
                        }
                    })
                })?)
                .await?;
        }
        scheduler.start().await?;
        Ok(scheduler)
    }
}

/// The jobs serving runs on a schedule.
#[derive(Clone, Copy)]
enum ScheduledJob {
    Reconcile,
    Retention,
}
