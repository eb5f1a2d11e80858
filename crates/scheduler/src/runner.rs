//! The runner, in the seed's shape: a timer wakes a dispatcher, which claims a batch of
//! due tasks and sends them through a bounded channel to a fixed pool of executors,
//! which run them under a renewed lease, settle them in the queue and report back.
//!
//! The dispatcher is one loop, so two claim rounds never overlap. It claims only as many
//! tasks as there are idle executors, so no lease ages in the channel; it claims again
//! at once when a report frees an executor while the last round was full (a backlog),
//! and otherwise sleeps until the next tick or an enqueue wakes it: no busy loop.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};
use reel_core::clock::SharedClock;
use reel_core::db::{ClaimedTask, DbError, TaskKind};
use tokio::sync::{Mutex, Notify, mpsc};
use tokio::task::JoinSet;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::queue::TaskQueue;

/// When failed attempts are retried, and how often.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Runs of a task before it stays failed.
    pub max_attempts: u32,
    /// The wait after the first failure; it doubles after each further one.
    pub first_backoff: Duration,
    /// The longest wait.
    pub max_backoff: Duration,
}

impl RetryPolicy {
    /// The wait after failed attempt number `attempt` (counting from 1).
    pub fn backoff(&self, attempt: u32) -> Duration {
        // Past 31 doublings any wait is at its cap; stopping there bounds the walk.
        let doublings = attempt.saturating_sub(1).min(31) as usize;
        ExponentialBuilder::new()
            .with_min_delay(self.first_backoff)
            .with_max_delay(self.max_backoff)
            .without_max_times()
            .build()
            .nth(doublings)
            .unwrap_or(self.max_backoff)
    }
}

/// How the runner works.
#[derive(Debug, Clone)]
pub struct RunnerSettings {
    /// This scheduler's name in its leases.
    pub owner: String,
    /// Executors, hence tasks running at once.
    pub concurrency: usize,
    /// The most tasks claimed in one round.
    pub batch_size: u32,
    /// How often the dispatcher looks for due tasks when nothing wakes it sooner.
    pub tick: Duration,
    /// How long a claim lasts; it is renewed every third of it while the task runs.
    pub lease: Duration,
    /// How long running tasks may take to finish at shutdown before they are stopped.
    pub shutdown_grace: Duration,
    /// Retries.
    pub retry: RetryPolicy,
}

/// How one run of a task ended, as the executor sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Finished; nothing more to do.
    Done,
    /// Failed in a way that may pass (storage or database trouble): try again later.
    Retry(String),
    /// Failed for good (a file ffmpeg cannot read): retrying would fail the same way.
    Fail(String),
}

/// The work behind each kind of task.
pub trait Execute: Send + Sync + 'static {
    /// Runs one task. Dropping the future stops it (the lease was lost, or shutdown).
    fn execute(&self, task: &ClaimedTask) -> impl Future<Output = Outcome> + Send;

    /// Told when a task stays failed after its last attempt ran out (not when the
    /// executor itself answered [`Outcome::Fail`]), so that it can record why.
    fn gave_up(&self, task: &ClaimedTask, reason: &str) -> impl Future<Output = ()> + Send;
}

/// Where a task stands after one run, as recorded in the queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settled {
    /// Marked done.
    Done,
    /// Scheduled for another attempt at this time (Unix ms).
    Retrying(i64),
    /// Marked failed with this reason.
    Failed(String),
    /// Handed back unrun (shutdown).
    Released,
    /// Another scheduler holds the task now; nothing was recorded.
    LeaseLost,
    /// The queue could not be written; the lease will expire and the task run again.
    Unrecorded,
}

impl Settled {
    /// A short label for logs and metrics.
    pub fn label(&self) -> &'static str {
        match self {
            Self::Done => "done",
            Self::Retrying(_) => "retrying",
            Self::Failed(_) => "failed",
            Self::Released => "released",
            Self::LeaseLost => "lease_lost",
            Self::Unrecorded => "unrecorded",
        }
    }
}

/// What an executor tells the dispatcher after each task: the control signal that frees
/// a slot and, with a backlog, triggers the next claim.
#[derive(Debug)]
struct Report {
    /// The task's kind, for metrics.
    kind: TaskKind,
    /// How it ended.
    settled: Settled,
}

/// The timer, dispatcher and executors over one queue.
pub struct Runner<Q, E> {
    /// Where tasks come from and are settled.
    queue: Arc<Q>,
    /// What runs them.
    executor: Arc<E>,
    /// How.
    settings: Arc<RunnerSettings>,
    /// The time of schedules and leases.
    clock: SharedClock,
    /// Wakes the dispatcher before its next tick (a task was just queued).
    wake: Arc<Notify>,
}

impl<Q: TaskQueue, E: Execute> Runner<Q, E> {
    /// A runner; `wake` lets enqueuers wake its dispatcher.
    pub fn new(
        queue: Arc<Q>,
        executor: Arc<E>,
        settings: RunnerSettings,
        clock: SharedClock,
        wake: Arc<Notify>,
    ) -> Self {
        Self {
            queue,
            executor,
            settings: Arc::new(settings),
            clock,
            wake,
        }
    }

    /// Runs until `shutdown` resolves; then stops claiming, lets running tasks finish
    /// within the grace period, stops and releases the rest, and returns.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send) {
        let concurrency = self.settings.concurrency.max(1);
        let (work_tx, work_rx) = mpsc::channel::<ClaimedTask>(concurrency);
        let work_rx = Arc::new(Mutex::new(work_rx));
        // Never more reports than tasks in flight, so executors never wait to report.
        let (report_tx, mut report_rx) = mpsc::channel::<Report>(concurrency);
        let stopping = CancellationToken::new();
        let abort = CancellationToken::new();
        let mut executors = JoinSet::new();
        for _ in 0..concurrency {
            let worker = Worker {
                queue: self.queue.clone(),
                executor: self.executor.clone(),
                settings: self.settings.clone(),
                clock: self.clock.clone(),
                stopping: stopping.clone(),
                abort: abort.clone(),
            };
            executors.spawn(worker.serve(work_rx.clone(), report_tx.clone()));
        }
        drop(report_tx);

        let lease_ms = duration_ms(self.settings.lease);
        let mut ticks = tokio::time::interval(self.settings.tick);
        ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut in_flight = 0usize;
        let mut backlog = false;
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            tokio::select! {
                biased;
                () = &mut shutdown => break,
                Some(report) = report_rx.recv() => {
                    in_flight -= 1;
                    tally(&report);
                    if !backlog {
                        continue;
                    }
                }
                _ = ticks.tick() => {}
                () = self.wake.notified() => {}
            }
            let idle = concurrency - in_flight;
            if idle == 0 {
                continue;
            }
            let limit = self
                .settings
                .batch_size
                .min(u32::try_from(idle).unwrap_or(u32::MAX))
                .max(1);
            let now = self.clock.now_ms();
            match self
                .queue
                .claim(&self.settings.owner, limit, now, now + lease_ms)
                .await
            {
                Ok(tasks) => {
                    backlog = tasks.len() == limit as usize;
                    for task in tasks {
                        in_flight += 1;
                        // Room is certain: no more tasks are claimed than executors idle.
                        if work_tx.send(task).await.is_err() {
                            tracing::error!("the executors are gone; stopping the dispatcher");
                            break;
                        }
                    }
                }
                Err(e) => {
                    backlog = false;
                    tracing::warn!(error = %e, "could not claim tasks; trying again at the next tick");
                }
            }
        }

        tracing::info!(in_flight, "scheduler stopping: no more claims");
        stopping.cancel();
        drop(work_tx);
        let mut grace = std::pin::pin!(tokio::time::sleep(self.settings.shutdown_grace));
        loop {
            tokio::select! {
                joined = executors.join_next() => match joined {
                    None => break,
                    Some(Err(e)) => tracing::error!(error = %e, "an executor panicked"),
                    Some(Ok(())) => {}
                },
                Some(report) = report_rx.recv() => tally(&report),
                () = &mut grace, if !abort.is_cancelled() => {
                    tracing::info!("stopping the tasks still running and handing them back");
                    abort.cancel();
                }
            }
        }
        while let Ok(report) = report_rx.try_recv() {
            tally(&report);
        }
    }
}

/// Logs and counts a report.
fn tally(report: &Report) {
    tracing::debug!(kind = %report.kind, outcome = report.settled.label(), "task reported");
    metrics::counter!(
        "scheduler_tasks_total",
        "kind" => report.kind.as_str(),
        "outcome" => report.settled.label()
    )
    .increment(1);
}

fn duration_ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// How supervising a run ended.
enum Run {
    /// The executor answered.
    Finished(Outcome),
    /// The lease was lost or could not be renewed in time: the work was stopped.
    LeaseLost,
    /// Shutdown's grace ran out: the work was stopped.
    Aborted,
}

/// One executor: takes tasks from the channel until it closes.
struct Worker<Q, E> {
    /// The queue, to renew and settle.
    queue: Arc<Q>,
    /// The work.
    executor: Arc<E>,
    /// Lease and retry settings.
    settings: Arc<RunnerSettings>,
    /// The time of schedules and leases.
    clock: SharedClock,
    /// Set at shutdown: tasks not started yet are handed back.
    stopping: CancellationToken,
    /// Set when shutdown's grace runs out: running tasks are stopped and handed back.
    abort: CancellationToken,
}

impl<Q: TaskQueue, E: Execute> Worker<Q, E> {
    async fn serve(
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
                Run::Finished(Outcome::Done) => {
                    let now = self.clock.now_ms();
                    self.record(self.queue.complete(task, now).await, Settled::Done)
                }
                Run::Finished(Outcome::Retry(reason)) if task.attempts >= retry.max_attempts => {
                    let reason = format!("gave up after {} attempts: {reason}", task.attempts);
                    self.give_up(task, reason).await
                }
                Run::Finished(Outcome::Retry(reason)) => {
                    let now = self.clock.now_ms();
                    let due = now + duration_ms(retry.backoff(task.attempts));
                    tracing::warn!(error = %reason, retry_in_ms = due - now, "task failed; will retry");
                    let written = self.queue.retry(task, due, &reason, now).await;
                    self.record(written, Settled::Retrying(due))
                }
                Run::Finished(Outcome::Fail(reason)) => {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let policy = RetryPolicy {
            max_attempts: 10,
            first_backoff: Duration::from_secs(5),
            max_backoff: Duration::from_secs(60),
        };
        let waits: Vec<u64> = (1..=6).map(|a| policy.backoff(a).as_secs()).collect();
        assert_eq!(waits, [5, 10, 20, 40, 60, 60]);
        assert_eq!(policy.backoff(u32::MAX), Duration::from_secs(60));
    }
}
