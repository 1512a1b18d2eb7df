//! Cron schedules and the rule that a job never overlaps itself.

use std::sync::atomic::{AtomicBool, Ordering};

use tokio_cron_scheduler::Job;

/// Checks a cron expression with the scheduler's own parser (six fields, seconds first:
/// `0 */5 * * * *` is every five minutes); the error says what is wrong.
pub fn check_schedule(expression: &str) -> Result<(), String> {
    Job::new_async(expression, |_, _| Box::pin(async {}))
        .map(|_| ())
        .map_err(|e| {
            format!(
                "not a cron schedule (sec min hour day month weekday), e.g. \"0 */5 * * * *\": {e}"
            )
        })
}

/// At most one run of a job at a time: a tick that finds the previous run still going is skipped
/// (and counted), not queued.
#[derive(Debug, Default)]
pub struct JobSlot {
    running: AtomicBool,
}

/// Holds the slot while a run is going; releases it when dropped, even if the run panicked.
#[derive(Debug)]
pub struct SlotGuard<'a>(&'a JobSlot);

impl JobSlot {
    pub fn try_claim(&self) -> Option<SlotGuard<'_>> {
        self.running
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .ok()
            .map(|_| SlotGuard(self))
    }
}

impl Drop for SlotGuard<'_> {
    fn drop(&mut self) {
        self.0.running.store(false, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules_are_parsed_by_the_scheduler() {
        for ok in [
            "0 */5 * * * *",
            "0 30 3 * * *",
            "*/10 * * * * *",
            "0 0 0 * * Sun",
        ] {
            assert!(check_schedule(ok).is_ok(), "{ok}");
        }
        for bad in ["", "every day", "0 61 * * * *", "* * *", "0 0 25 * * *"] {
            assert!(check_schedule(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_job_never_overlaps_itself() {
        let slot = JobSlot::default();
        let first = slot.try_claim();
        assert!(first.is_some());
        assert!(
            slot.try_claim().is_none(),
            "a second run while the first is going"
        );
        drop(first);
        assert!(
            slot.try_claim().is_some(),
            "the slot is free once the run ended"
        );
    }

    #[test]
    fn the_slot_is_released_when_a_run_panics() {
        let slot = JobSlot::default();
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _guard = slot.try_claim();
            panic!("the job failed");
        }));
        assert!(outcome.is_err());
        assert!(slot.try_claim().is_some());
    }
}
