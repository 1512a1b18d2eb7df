//! Supervising what a binary spawns: every essential task (a pipeline, an admin server) runs in
//! one set, and a task that ends before it is told to stop — it returned, or it panicked — is
//! reported with its name instead of dying silently while the process looks alive. The binary
//! then exits non-zero, so its orchestrator restarts it.

use std::collections::HashMap;
use std::future::Future;

use tokio::task::{Id, JoinError, JoinSet};

/// An essential task ended on its own.
#[derive(Debug, thiserror::Error)]
#[error("the {task} task {how}")]
pub struct TaskEnded {
    pub task: &'static str,
    /// `returned`, or `panicked: <message>`.
    pub how: String,
}

/// The essential tasks of one process.
#[derive(Default)]
pub struct Supervisor {
    tasks: JoinSet<()>,
    names: HashMap<Id, &'static str>,
}

impl Supervisor {
    pub fn spawn(&mut self, name: &'static str, task: impl Future<Output = ()> + Send + 'static) {
        let handle = self.tasks.spawn(task);
        self.names.insert(handle.id(), name);
    }

    /// Waits for `shutdown`, or for an essential task to end first, which is an error naming it.
    pub async fn until(&mut self, shutdown: impl Future<Output = ()>) -> Result<(), TaskEnded> {
        tokio::select! {
            () = shutdown => Ok(()),
            ended = self.tasks.join_next_with_id() => match ended {
                Some(outcome) => Err(self.ended(outcome)),
                // Nothing was spawned: there is nothing to supervise but the shutdown.
                None => Ok(()),
            },
        }
    }

    /// Waits for every task to finish (after they were told to stop); the first that panicked
    /// is the error.
    pub async fn join_all(mut self) -> Result<(), TaskEnded> {
        let mut first_panic = None;
        while let Some(outcome) = self.tasks.join_next_with_id().await {
            if outcome.is_err() && first_panic.is_none() {
                first_panic = Some(self.ended(outcome));
            }
        }
        first_panic.map_or(Ok(()), Err)
    }

    /// Stops every task at once.
    pub fn abort_all(&mut self) {
        self.tasks.abort_all();
    }

    fn ended(&mut self, outcome: Result<(Id, ()), JoinError>) -> TaskEnded {
        let (id, how) = match outcome {
            Ok((id, ())) => (id, "returned".to_string()),
            Err(error) => {
                let id = error.id();
                let how = if error.is_panic() {
                    let panic = error.into_panic();
                    let message = panic
                        .downcast_ref::<&str>()
                        .map(|s| (*s).to_string())
                        .or_else(|| panic.downcast_ref::<String>().cloned())
                        .unwrap_or_else(|| "a non-text panic".to_string());
                    format!("panicked: {message}")
                } else {
                    "was cancelled".to_string()
                };
                (id, how)
            }
        };
        TaskEnded {
            task: self.names.remove(&id).unwrap_or("unnamed"),
            how,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_task_that_panics_or_returns_early_is_named() {
        let mut tasks = Supervisor::default();
        tasks.spawn("steady", std::future::pending());
        tasks.spawn("fragile", async { panic!("lost the connection") });
        let ended = tasks.until(std::future::pending()).await.unwrap_err();
        assert_eq!(ended.task, "fragile");
        assert_eq!(ended.how, "panicked: lost the connection");

        let mut tasks = Supervisor::default();
        tasks.spawn("steady", std::future::pending());
        tasks.spawn("quitter", async {});
        let ended = tasks.until(std::future::pending()).await.unwrap_err();
        assert_eq!((ended.task, ended.how.as_str()), ("quitter", "returned"));
    }

    #[tokio::test]
    async fn a_shutdown_first_is_clean_and_join_all_reports_a_panic() {
        let mut tasks = Supervisor::default();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tasks.spawn("worker", async move {
            let _ = rx.await;
        });
        assert!(tasks.until(async {}).await.is_ok());
        drop(tx);
        assert!(tasks.join_all().await.is_ok());

        let mut tasks = Supervisor::default();
        tasks.spawn("worker", async { panic!("bad state") });
        let ended = tasks.join_all().await.unwrap_err();
        assert_eq!(ended.to_string(), "the worker task panicked: bad state");
    }
}
