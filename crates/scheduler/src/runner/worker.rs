//! One executor of the runner: takes tasks from the channel until it closes, runs each
//! under a lease it renews, settles it in the queue and reports back.

use std::sync::Arc;
use std::time::Duration;

use reel_core::clock::SharedClock;
use reel_core::db::{ClaimedTask, DbError};
use tokio::sync::{Mutex, mpsc};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::{Execute, Report, RunnerSettings, Settled, TaskOutcome, duration_ms};
use crate::queue::TaskQueue;

/// How supervising a run ended.
enum Run {
    /// The executor answered.
    Finished(TaskOutcome),
    /// The lease was lost or could not be renewed in time: the work was stopped.
    LeaseLost,
    /// Shutdown's grace ran out: the work was stopped.
    Aborted,
}

/// One executor: takes tasks from the channel until it closes.
pub(super) struct Worker<Q, E> {
    /// The queue, to renew and settle.
    pub(super) queue: Arc<Q>,
    /// The work.
    pub(super) executor: Arc<E>,
    /// Lease and retry settings.
    pub(super) settings: Arc<RunnerSettings>,
    /// The time of schedules and leases.
    pub(super) clock: SharedClock,
    /// Set at shutdown: tasks not started yet are handed back.
    pub(super) stopping: CancellationToken,
    /// Set when shutdown's grace runs out: running tasks are stopped and handed back.
    pub(super) abort: CancellationToken,
}

impl<Q: TaskQueue, E: Execute> Worker<Q, E> {
    pub(super) async fn serve(
        self,
        work: Arc<Mutex<mpsc::Receiver<ClaimedTask>>>,
        reports: mpsc::Sender<Report>,
    ) {
        loop {
            let next = work.lock().await.recv().await;
            let Some(task) = next else {
                break;
            };
            let settled = if self.stopping.is_cancelled() {
                self.release(&task).await
            } else {
                let span = tracing::info_span!(
                    "task",
                    task = %task.id,
                    kind = %task.kind,
                    video = %task.video_id,
                    attempt = task.attempts,
                );
                self.run_task(&task).instrument(span).await
            };
            let report = Report {
                kind: task.kind,
                settled,
            };
            if reports.send(report).await.is_err() {
                break;
            }
        }
    }

    async fn run_task(&self, task: &ClaimedTask) -> Settled {
        let retry = self.settings.retry;
        tracing::info!(owner = %self.settings.owner, "task started");
        let started = Instant::now();
        let settled = if task.attempts > retry.max_attempts {
            // Claimed once more than allowed: the last attempt's scheduler stopped
            // without reporting (it crashed or was killed), which counts as a failure.
            let reason = format!(
                "gave up after {} attempts; the last one ended without a report (its scheduler stopped){}",
                retry.max_attempts,
                task.last_error
                    .as_deref()
                    .map(|e| format!("; before that: {e}"))
                    .unwrap_or_default()
            );
            self.give_up(task, reason).await
        } else {
            match self.supervise(task).await {
                Run::Finished(TaskOutcome::Done) => {
                    let now = self.clock.now_ms();
                    self.record(self.queue.complete(task, now).await, Settled::Done)
                }
                Run::Finished(TaskOutcome::Retry(reason))
                    if task.attempts >= retry.max_attempts =>
                {
                    let reason = format!("gave up after {} attempts: {reason}", task.attempts);
                    self.give_up(task, reason).await
                }
                Run::Finished(TaskOutcome::Retry(reason)) => {
                    let now = self.clock.now_ms();
                    let due = now + duration_ms(retry.backoff(task.attempts));
                    tracing::warn!(error = %reason, retry_in_ms = due - now, "task failed; will retry");
                    let written = self.queue.retry(task, due, &reason, now).await;
                    self.record(written, Settled::Retrying(due))
                }
                Run::Finished(TaskOutcome::Fail(reason)) => {
                    let now = self.clock.now_ms();
                    let written = self.queue.fail(task, &reason, now).await;
                    self.record(written, Settled::Failed(reason))
                }
                Run::LeaseLost => Settled::LeaseLost,
                Run::Aborted => self.release(task).await,
            }
        };
        let elapsed_ms = started.elapsed().as_millis() as u64;
        match &settled {
            Settled::Failed(reason) => {
                tracing::warn!(outcome = settled.label(), elapsed_ms, error = %reason, "task finished");
            }
            _ => tracing::info!(outcome = settled.label(), elapsed_ms, "task finished"),
        }
        settled
    }

    /// Runs the executor while renewing the lease every third of it. The work stops
    /// when the lease is lost, and also when renewals fail for so long that the lease
    /// might expire: past that point another scheduler may start the same task, and a
    /// task must never run twice at once.
    async fn supervise(&self, task: &ClaimedTask) -> Run {
        let lease_ms = duration_ms(self.settings.lease);
        let period = (self.settings.lease / 3).max(Duration::from_millis(1));
        let mut renewals = tokio::time::interval_at(Instant::now() + period, period);
        let mut held_until = task.lease_until;
        let mut work = std::pin::pin!(self.executor.execute(task));
        loop {
            tokio::select! {
                biased;
                () = self.abort.cancelled() => return Run::Aborted,
                outcome = &mut work => return Run::Finished(outcome),
                _ = renewals.tick() => {
                    let now = self.clock.now_ms();
                    match self.queue.extend(task, now + lease_ms, now).await {
                        Ok(true) => held_until = now + lease_ms,
                        Ok(false) => {
                            tracing::warn!("lease lost: another scheduler took the task over; stopping it here");
                            return Run::LeaseLost;
                        }
                        Err(e) if now + duration_ms(period) >= held_until => {
                            tracing::warn!(error = %e, "cannot renew the lease before it expires; stopping the task so that it never runs twice at once");
                            return Run::LeaseLost;
                        }
                        Err(e) => tracing::warn!(error = %e, "could not renew the lease; trying again"),
                    }
                }
            }
        }
    }

    async fn give_up(&self, task: &ClaimedTask, reason: String) -> Settled {
        let now = self.clock.now_ms();
        let written = self.queue.fail(task, &reason, now).await;
        let settled = self.record(written, Settled::Failed(reason.clone()));
        if matches!(settled, Settled::Failed(_)) {
            self.executor.gave_up(task, &reason).await;
        }
        settled
    }

    async fn release(&self, task: &ClaimedTask) -> Settled {
        let written = self.queue.release(task, self.clock.now_ms()).await;
        self.record(written, Settled::Released)
    }

    /// What a settling write means: done as intended, lease lost, or not recorded.
    fn record(&self, written: Result<bool, DbError>, intended: Settled) -> Settled {
        match written {
            Ok(true) => intended,
            Ok(false) => {
                tracing::warn!(
                    "lease lost before the outcome was recorded; the new holder decides"
                );
                Settled::LeaseLost
            }
            Err(e) => {
                tracing::error!(error = %e, "could not record the outcome; the task will run again when its lease expires");
                Settled::Unrecorded
            }
        }
    }
}
