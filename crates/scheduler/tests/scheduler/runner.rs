//! The runner's timing, on a queue in memory under tokio's paused clock: ticks, the
//! wake-up, backoff, lease renewal and takeover, and shutdown, all in virtual time.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reel_core::clock::{Clock, SharedClock};
use reel_core::db::{ClaimedTask, TaskState};
use reel_scheduler::queue::TaskQueue;
use reel_scheduler::runner::{Execute, RetryPolicy, Runner, RunnerSettings, TaskOutcome};
use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::mem_queue::MemQueue;

/// Wall time that follows tokio's (paused) clock.
struct TokioClock {
    /// When the test started.
    start: Instant,
}

impl Clock for TokioClock {
    fn now_ms(&self) -> i64 {
        1_700_000_000_000 + self.start.elapsed().as_millis() as i64
    }
}

/// An executor that takes `work` (or a per-task time) and answers what `decide` says
/// for each attempt, recording when each run started.
struct Script {
    /// When the test started.
    start: Instant,
    /// How long a run takes.
    work: Duration,
    /// Tasks whose runs take longer.
    slow: Mutex<HashMap<Uuid, Duration>>,
    /// The outcome of each attempt.
    decide: Box<dyn Fn(u32) -> TaskOutcome + Send + Sync>,
    /// Each run's task and start.
    runs: Mutex<Vec<(Uuid, Duration)>>,
    /// Runs dropped before they finished.
    stopped: AtomicUsize,
    /// What the runner gave up on, and why.
    gave_up: Mutex<Vec<(Uuid, String)>>,
}

impl Script {
    fn new(work: Duration, decide: impl Fn(u32) -> TaskOutcome + Send + Sync + 'static) -> Self {
        Self {
            start: Instant::now(),
            work,
            slow: Mutex::default(),
            decide: Box::new(decide),
            runs: Mutex::default(),
            stopped: AtomicUsize::new(0),
            gave_up: Mutex::default(),
        }
    }

    /// When each run of `id` started, in whole seconds since the test began.
    fn run_seconds(&self, id: Uuid) -> Vec<u64> {
        self.runs
            .lock()
            .unwrap()
            .iter()
            .filter(|(t, _)| *t == id)
            .map(|(_, at)| at.as_secs())
            .collect()
    }

    fn run_count(&self) -> usize {
        self.runs.lock().unwrap().len()
    }
}

/// Counts a run whose future was dropped before it finished.
struct StopGuard<'a>(&'a AtomicUsize, bool);

impl Drop for StopGuard<'_> {
    fn drop(&mut self) {
        if !self.1 {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
}

impl Execute for Script {
    async fn execute(&self, task: &ClaimedTask) -> TaskOutcome {
        self.runs
            .lock()
            .unwrap()
            .push((task.id, self.start.elapsed()));
        let work = self
            .slow
            .lock()
            .unwrap()
            .get(&task.id)
            .copied()
            .unwrap_or(self.work);
        let mut guard = StopGuard(&self.stopped, false);
        tokio::time::sleep(work).await;
        guard.1 = true;
        (self.decide)(task.attempts)
    }

    async fn gave_up(&self, task: &ClaimedTask, reason: &str) {
        self.gave_up
            .lock()
            .unwrap()
            .push((task.id, reason.to_owned()));
    }
}

fn settings() -> RunnerSettings {
    RunnerSettings {
        owner: "test".into(),
        concurrency: 2,
        batch_size: 8,
        tick: Duration::from_secs(1),
        lease: Duration::from_secs(30),
        shutdown_grace: Duration::from_secs(5),
        retry: RetryPolicy {
            max_attempts: 5,
            first_backoff: Duration::from_secs(10),
            max_backoff: Duration::from_secs(60),
        },
    }
}

/// A running runner.
struct Running {
    /// Stops it.
    stop: CancellationToken,
    /// Its task.
    handle: tokio::task::JoinHandle<()>,
    /// Wakes its dispatcher.
    wake: Arc<Notify>,
}

fn start(
    queue: &Arc<MemQueue>,
    script: &Arc<Script>,
    settings: RunnerSettings,
    clock: &SharedClock,
) -> Running {
    let wake = Arc::new(Notify::new());
    let runner = Runner::new(
        queue.clone(),
        script.clone(),
        settings,
        clock.clone(),
        wake.clone(),
    );
    let stop = CancellationToken::new();
    let handle = tokio::spawn(runner.run(stop.clone().cancelled_owned()));
    Running { stop, handle, wake }
}

impl Running {
    async fn stop(self) {
        self.stop.cancel();
        self.handle.await.unwrap();
    }
}

fn clock() -> SharedClock {
    Arc::new(TokioClock {
        start: Instant::now(),
    })
}

#[tokio::test(start_paused = true)]
async fn retries_back_off_exponentially_then_the_task_stays_failed() {
    let clock = clock();
    let queue = Arc::new(MemQueue::default());
    let script = Arc::new(Script::new(Duration::ZERO, |_| {
        TaskOutcome::Retry("storage down".into())
    }));
    let id = queue.add(clock.now_ms());
    let mut s = settings();
    s.retry = RetryPolicy {
        max_attempts: 4,
        first_backoff: Duration::from_secs(10),
        max_backoff: Duration::from_secs(25),
    };
    let runner = start(&queue, &script, s, &clock);
    tokio::time::sleep(Duration::from_secs(300)).await;
    runner.stop().await;

    // 10 s, 20 s, then the 25 s cap; the dispatcher ticks every second.
    assert_eq!(script.run_seconds(id), [0, 10, 30, 55]);
    let task = queue.get(id);
    assert_eq!(task.state, TaskState::Failed);
    assert_eq!(task.attempts, 4);
    assert_eq!(
        task.last_error.as_deref(),
        Some("gave up after 4 attempts: storage down")
    );
    assert_eq!(script.gave_up.lock().unwrap().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn the_dispatcher_sleeps_until_its_tick_or_a_wake_up() {
    let clock = clock();
    let queue = Arc::new(MemQueue::default());
    let script = Arc::new(Script::new(Duration::ZERO, |_| TaskOutcome::Done));
    let runner = start(&queue, &script, settings(), &clock);
    tokio::time::sleep(Duration::from_millis(10_500)).await;
    // One claim at start and one per second: no busy loop.
    assert_eq!(queue.claims.load(Ordering::SeqCst), 11);

    let id = queue.add(clock.now_ms());
    runner.wake.notify_one();
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert_eq!(
        script.run_seconds(id),
        [10],
        "an enqueue does not wait for the tick"
    );
    runner.stop().await;
    assert_eq!(queue.get(id).state, TaskState::Done);
}

#[tokio::test(start_paused = true)]
async fn a_backlog_drains_without_waiting_for_ticks() {
    let clock = clock();
    let queue = Arc::new(MemQueue::default());
    let script = Arc::new(Script::new(Duration::from_secs(1), |_| TaskOutcome::Done));
    let ids: Vec<Uuid> = (0..10).map(|_| queue.add(clock.now_ms())).collect();
    let mut s = settings();
    s.tick = Duration::from_secs(3600);
    s.concurrency = 2;
    let runner = start(&queue, &script, s, &clock);
    tokio::time::sleep(Duration::from_millis(5_500)).await;
    assert!(
        ids.iter().all(|&id| queue.get(id).state == TaskState::Done),
        "ten one-second tasks on two executors take five seconds"
    );
    assert!(queue.claims.load(Ordering::SeqCst) <= 11);
    runner.stop().await;
}

#[tokio::test(start_paused = true)]
async fn leases_are_renewed_so_a_long_task_runs_once() {
    let clock = clock();
    let queue = Arc::new(MemQueue::default());
    let script = Arc::new(Script::new(Duration::from_secs(10), |_| TaskOutcome::Done));
    let id = queue.add(clock.now_ms());
    let mut s = settings();
    s.lease = Duration::from_secs(3);
    s.tick = Duration::from_millis(500);
    let a = start(&queue, &script, s.clone(), &clock);
    let b = start(&queue, &script, s, &clock);
    tokio::time::sleep(Duration::from_secs(15)).await;
    a.stop().await;
    b.stop().await;
    assert_eq!(script.run_count(), 1, "never taken over while renewed");
    assert!(queue.extensions.load(Ordering::SeqCst) >= 3);
    assert_eq!(queue.get(id).state, TaskState::Done);
}

#[tokio::test(start_paused = true)]
async fn a_dead_schedulers_task_is_taken_over_when_its_lease_expires() {
    let clock = clock();
    let queue = Arc::new(MemQueue::default());
    let script = Arc::new(Script::new(Duration::ZERO, |_| TaskOutcome::Done));
    let id = queue.add(clock.now_ms());
    // Another scheduler claims it for 5 s and dies.
    let now = clock.now_ms();
    assert_eq!(
        queue
            .claim("dead", 1, now, now + 5_000)
            .await
            .unwrap()
            .len(),
        1
    );
    let runner = start(&queue, &script, settings(), &clock);
    tokio::time::sleep(Duration::from_millis(4_500)).await;
    assert_eq!(script.run_count(), 0, "the lease still holds");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(script.run_seconds(id), [5]);
    let task = queue.get(id);
    assert_eq!(task.state, TaskState::Done);
    assert_eq!(task.attempts, 2);
    runner.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_task_claimed_past_its_last_attempt_fails_without_running() {
    let clock = clock();
    let queue = Arc::new(MemQueue::default());
    let script = Arc::new(Script::new(Duration::ZERO, |_| TaskOutcome::Done));
    let id = queue.add(clock.now_ms());
    let now = clock.now_ms();
    // Its last allowed attempt was claimed by a scheduler that died.
    for _ in 0..2 {
        let t = queue.claim("dead", 1, now, now).await.unwrap();
        assert_eq!(t.len(), 1);
    }
    let mut s = settings();
    s.retry.max_attempts = 2;
    let runner = start(&queue, &script, s, &clock);
    tokio::time::sleep(Duration::from_secs(2)).await;
    runner.stop().await;
    assert_eq!(script.run_count(), 0);
    let task = queue.get(id);
    assert_eq!(task.state, TaskState::Failed);
    assert!(
        task.last_error
            .as_deref()
            .unwrap()
            .contains("ended without a report"),
        "{task:?}"
    );
    assert_eq!(script.gave_up.lock().unwrap().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_permanent_failure_is_not_retried() {
    let clock = clock();
    let queue = Arc::new(MemQueue::default());
    let script = Arc::new(Script::new(Duration::ZERO, |_| {
        TaskOutcome::Fail("not a video".into())
    }));
    let id = queue.add(clock.now_ms());
    let runner = start(&queue, &script, settings(), &clock);
    tokio::time::sleep(Duration::from_secs(100)).await;
    runner.stop().await;
    assert_eq!(script.run_count(), 1);
    let task = queue.get(id);
    assert_eq!(task.state, TaskState::Failed);
    assert_eq!(task.last_error.as_deref(), Some("not a video"));
    assert!(
        script.gave_up.lock().unwrap().is_empty(),
        "the executor recorded its own failure"
    );
}

#[tokio::test(start_paused = true)]
async fn losing_the_lease_stops_the_work() {
    let clock = clock();
    let queue = Arc::new(MemQueue::default());
    let script = Arc::new(Script::new(Duration::from_secs(10), |_| TaskOutcome::Done));
    let id = queue.add(clock.now_ms());
    queue.refuse_extensions.store(true, Ordering::SeqCst);
    let mut s = settings();
    s.lease = Duration::from_secs(3);
    let runner = start(&queue, &script, s, &clock);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(script.stopped.load(Ordering::SeqCst), 1);
    assert_eq!(
        queue.get(id).state,
        TaskState::Running,
        "left to whoever holds it now"
    );
    runner.stop().await;
}

#[tokio::test(start_paused = true)]
async fn shutdown_finishes_short_tasks_and_hands_back_long_ones() {
    let clock = clock();
    let queue = Arc::new(MemQueue::default());
    let script = Arc::new(Script::new(Duration::from_secs(1), |_| TaskOutcome::Done));
    let short = queue.add(clock.now_ms());
    let long = queue.add(clock.now_ms());
    script
        .slow
        .lock()
        .unwrap()
        .insert(long, Duration::from_secs(100));
    let runner = start(&queue, &script, settings(), &clock);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let asked = Instant::now();
    runner.stop().await;
    assert_eq!(
        asked.elapsed(),
        Duration::from_secs(5),
        "the grace period, not the long task"
    );
    assert_eq!(queue.get(short).state, TaskState::Done);
    let handed_back = queue.get(long);
    assert_eq!(handed_back.state, TaskState::Pending);
    assert_eq!(handed_back.attempts, 0, "a stopped run does not count");
    assert_eq!(script.stopped.load(Ordering::SeqCst), 1);
}
