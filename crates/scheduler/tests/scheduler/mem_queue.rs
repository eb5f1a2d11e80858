//! The task queue's semantics in memory, with counters, for the runner's tests.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use reel_core::db::{ClaimedTask, DbError, TaskKind, TaskState};
use reel_core::ids::VideoId;
use reel_scheduler::queue::TaskQueue;
use uuid::Uuid;

/// A task in [`MemQueue`].
#[derive(Debug, Clone)]
pub struct MemTask {
    /// Its id.
    pub id: Uuid,
    /// Where it is in its life.
    pub state: TaskState,
    /// Claims so far.
    pub attempts: u32,
    /// When it may next be claimed.
    pub due_at: i64,
    /// The current lease.
    pub token: Option<Uuid>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
}

/// The queue's semantics in memory, with counters.
#[derive(Default)]
pub struct MemQueue {
    /// The tasks.
    pub tasks: Mutex<Vec<MemTask>>,
    /// Claim rounds so far.
    pub claims: AtomicUsize,
    /// Lease renewals so far.
    pub extensions: AtomicUsize,
    /// Answers every renewal with "lease lost".
    pub refuse_extensions: AtomicBool,
}

impl MemQueue {
    pub fn add(&self, due_at: i64) -> Uuid {
        let id = Uuid::new_v4();
        self.tasks.lock().unwrap().push(MemTask {
            id,
            state: TaskState::Pending,
            attempts: 0,
            due_at,
            token: None,
            last_error: None,
        });
        id
    }

    pub fn get(&self, id: Uuid) -> MemTask {
        self.tasks
            .lock()
            .unwrap()
            .iter()
            .find(|t| t.id == id)
            .cloned()
            .unwrap()
    }

    /// Applies `change` if `task` holds the current lease.
    fn settle(&self, task: &ClaimedTask, change: impl FnOnce(&mut MemTask)) -> bool {
        let mut tasks = self.tasks.lock().unwrap();
        match tasks
            .iter_mut()
            .find(|t| t.id == task.id && t.token == Some(task.lease_token))
        {
            Some(t) => {
                change(t);
                true
            }
            None => false,
        }
    }
}

impl TaskQueue for MemQueue {
    async fn claim(
        &self,
        _owner: &str,
        limit: u32,
        now_ms: i64,
        lease_until_ms: i64,
    ) -> Result<Vec<ClaimedTask>, DbError> {
        self.claims.fetch_add(1, Ordering::SeqCst);
        let mut tasks = self.tasks.lock().unwrap();
        tasks.sort_by_key(|t| t.due_at);
        let token = Uuid::new_v4();
        Ok(tasks
            .iter_mut()
            .filter(|t| matches!(t.state, TaskState::Pending | TaskState::Running))
            .filter(|t| t.due_at <= now_ms)
            .take(limit as usize)
            .map(|t| {
                t.state = TaskState::Running;
                t.attempts += 1;
                t.due_at = lease_until_ms;
                t.token = Some(token);
                ClaimedTask {
                    id: t.id,
                    kind: TaskKind::DeleteVideo,
                    video_id: VideoId::random(),
                    attempts: t.attempts,
                    last_error: t.last_error.clone(),
                    lease_token: token,
                    lease_until: lease_until_ms,
                }
            })
            .collect())
    }

    async fn extend(&self, task: &ClaimedTask, until_ms: i64, _now: i64) -> Result<bool, DbError> {
        self.extensions.fetch_add(1, Ordering::SeqCst);
        if self.refuse_extensions.load(Ordering::SeqCst) {
            return Ok(false);
        }
        Ok(self.settle(task, |t| t.due_at = until_ms))
    }

    async fn complete(&self, task: &ClaimedTask, _now: i64) -> Result<bool, DbError> {
        Ok(self.settle(task, |t| {
            t.state = TaskState::Done;
            t.token = None;
        }))
    }

    async fn retry(
        &self,
        task: &ClaimedTask,
        due_ms: i64,
        reason: &str,
        _now: i64,
    ) -> Result<bool, DbError> {
        Ok(self.settle(task, |t| {
            t.state = TaskState::Pending;
            t.due_at = due_ms;
            t.last_error = Some(reason.to_owned());
            t.token = None;
        }))
    }

    async fn fail(&self, task: &ClaimedTask, reason: &str, _now: i64) -> Result<bool, DbError> {
        Ok(self.settle(task, |t| {
            t.state = TaskState::Failed;
            t.last_error = Some(reason.to_owned());
            t.token = None;
        }))
    }

    async fn release(&self, task: &ClaimedTask, now: i64) -> Result<bool, DbError> {
        Ok(self.settle(task, |t| {
            t.state = TaskState::Pending;
            t.attempts -= 1;
            t.due_at = now;
            t.token = None;
        }))
    }
}
