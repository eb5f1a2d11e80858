//! The queue the runner draws from: an interface, so that the runner's timing can be
//! tested on a queue in memory, and its implementation on the database.

use std::future::Future;

use reel_core::db::{ClaimedTask, Db, DbError};

/// Leased tasks: claim, renew, and settle. Every method but `claim` answers false when
/// the lease was lost, that is when another scheduler took the task over.
pub trait TaskQueue: Send + Sync + 'static {
    /// Leases up to `limit` due tasks to `owner` until `lease_until_ms`.
    fn claim(
        &self,
        owner: &str,
        limit: u32,
        now_ms: i64,
        lease_until_ms: i64,
    ) -> impl Future<Output = Result<Vec<ClaimedTask>, DbError>> + Send;

    /// Extends the lease to `until_ms`.
    fn extend(
        &self,
        task: &ClaimedTask,
        until_ms: i64,
        now_ms: i64,
    ) -> impl Future<Output = Result<bool, DbError>> + Send;

    /// Marks the task done.
    fn complete(
        &self,
        task: &ClaimedTask,
        now_ms: i64,
    ) -> impl Future<Output = Result<bool, DbError>> + Send;

    /// Schedules another attempt at `due_ms`.
    fn retry(
        &self,
        task: &ClaimedTask,
        due_ms: i64,
        reason: &str,
        now_ms: i64,
    ) -> impl Future<Output = Result<bool, DbError>> + Send;

    /// Gives the task up for good.
    fn fail(
        &self,
        task: &ClaimedTask,
        reason: &str,
        now_ms: i64,
    ) -> impl Future<Output = Result<bool, DbError>> + Send;

    /// Hands back a task that did not run, without counting the attempt.
    fn release(
        &self,
        task: &ClaimedTask,
        now_ms: i64,
    ) -> impl Future<Output = Result<bool, DbError>> + Send;
}

/// The `tasks` table.
#[derive(Clone, Debug)]
pub struct DbQueue {
    db: Db,
}

impl DbQueue {
    /// A queue on `db`.
    pub fn new(db: Db) -> Self {
        Self { db }
    }
}

impl TaskQueue for DbQueue {
    async fn claim(
        &self,
        owner: &str,
        limit: u32,
        now_ms: i64,
        lease_until_ms: i64,
    ) -> Result<Vec<ClaimedTask>, DbError> {
        self.db
            .claim_tasks(owner, limit, now_ms, lease_until_ms)
            .await
    }

    async fn extend(
        &self,
        task: &ClaimedTask,
        until_ms: i64,
        now_ms: i64,
    ) -> Result<bool, DbError> {
        self.db.extend_lease(task, until_ms, now_ms).await
    }

    async fn complete(&self, task: &ClaimedTask, now_ms: i64) -> Result<bool, DbError> {
        self.db.complete_task(task, now_ms).await
    }

    async fn retry(
        &self,
        task: &ClaimedTask,
        due_ms: i64,
        reason: &str,
        now_ms: i64,
    ) -> Result<bool, DbError> {
        self.db.retry_task(task, due_ms, reason, now_ms).await
    }

    async fn fail(&self, task: &ClaimedTask, reason: &str, now_ms: i64) -> Result<bool, DbError> {
        self.db.fail_task(task, reason, now_ms).await
    }

    async fn release(&self, task: &ClaimedTask, now_ms: i64) -> Result<bool, DbError> {
        self.db.release_task(task, now_ms).await
    }
}
