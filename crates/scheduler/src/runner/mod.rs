//! The runner, in the first design's shape (docs/architecture.md, "The task queue"): a
//! timer wakes a dispatcher, which claims a batch of due tasks and sends them through a
//! bounded channel to a fixed pool of executors, which run them under a renewed lease,
//! settle them in the queue and report back.
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
use reel_core::db::{ClaimedTask, TaskKind};
use tokio::sync::{Mutex, Notify, mpsc};
use tokio::task::JoinSet;
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

use crate::queue::TaskQueue;
use worker::Worker;

/// The executors: each runs one task at a time under a renewed lease and settles it.
mod worker;

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
pub enum TaskOutcome {
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
    fn execute(&self, task: &ClaimedTask) -> impl Future<Output = TaskOutcome> + Send;

    /// Told when a task stays failed after its last attempt ran out (not when the
    /// executor itself answered [`TaskOutcome::Fail`]), so that it can record why.
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
