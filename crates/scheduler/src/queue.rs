//! The queue the runner draws from: an interface, so that the runner's timing can be
//! tested on a queue in memory, and its implementation on the database.

use std::future::Future;

use reel_core::db::{ClaimedTask, Db, DbError, TaskKind};

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

/// Deletion records turned into tasks per claim round, at most.
const ADOPT_PER_ROUND: u32 = 256;

/// The `tasks` table. Each claim first turns the deletion records the API wrote
/// (`video_del_rec`) into deletion tasks, as the first design's dispatcher read them.
#[derive(Clone, Debug)]
pub struct DbQueue {
    db: Db,
}

impl DbQueue {
    /// A queue on `db`.
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    /// Queues a deletion task for every deletion record that has none.
    async fn adopt_deletion_records(&self, now_ms: i64) -> Result<(), DbError> {
        for video in self.db.unqueued_deletions(ADOPT_PER_ROUND).await? {
            self.db
                .enqueue_task(TaskKind::DeleteVideo, video, now_ms)
                .await?;
        }
        Ok(())
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
        if let Err(e) = self.adopt_deletion_records(now_ms).await {
            // Claiming what is already queued does not depend on it; the next round retries.
            tracing::warn!(error = %e, "could not queue the pending deletion records");
        }
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
