//! The scheduler's durable task queue.
//!
//! A task is stored before it is acknowledged and runs at least once. Claims are leases:
//! claiming sets `state = 'running'`, a fresh `lease_token` and `due_at` to the lease's
//! expiry, so a task whose scheduler died becomes due again when its lease runs out and
//! any scheduler takes it over. Every later write names the lease token, so a scheduler
//! that lost its lease can no longer change the task.
//!
//! It is the one queue of deferred work: deleting a video queues the task that removes
//! its files in the same transaction ([`Db::delete_video`]).
//!
//! What differs per backend lives in [`Db::claim_tasks`] (how rows are locked) and
//! [`insert_or_ignore!`] (how a duplicate insert is ignored).

/// What a task is, as stored and as read back.
mod record;

use sqlx::{AnyConnection, AssertSqlSafe, Connection, Executor};
use uuid::Uuid;

use super::{Db, DbError, DbKind};
use crate::ids::VideoId;
use record::claimed_from_row;
pub use record::{ClaimedTask, TaskKind, TaskRecord, TaskState};

/// The columns of [`TaskRecord`].
macro_rules! task_select {
    () => {
        "SELECT id, kind, video_id, state, attempts, due_at, lease_owner, last_error, \
         create_time, update_time FROM tasks "
    };
}

/// A task is claimable when it is pending and due, or running with an expired lease;
/// the oldest due first.
macro_rules! claimable {
    () => {
        "FROM tasks WHERE state IN ('pending', 'running') AND due_at <= ? \
         ORDER BY due_at LIMIT ?"
    };
}

/// `INSERT … ` that silently skips a row whose unique key exists: `INSERT IGNORE` on
/// MySQL, `ON CONFLICT DO NOTHING` on SQLite and PostgreSQL.
macro_rules! insert_or_ignore {
    ($backend:expr, $rest:literal) => {
        match $backend {
            DbKind::MySql => concat!("INSERT IGNORE INTO ", $rest),
            DbKind::Sqlite | DbKind::Postgres => {
                concat!("INSERT INTO ", $rest, " ON CONFLICT DO NOTHING")
            }
        }
    };
}

impl Db {
    /// Makes sure `kind` runs for `video` from `now_ms` on, and returns the task.
    /// Idempotent: a pending task is only brought forward, a running one is left alone,
    /// and a finished (done or failed) one is armed again with a fresh attempt count.
    pub async fn enqueue_task(
        &self,
        kind: TaskKind,
        video: VideoId,
        now_ms: i64,
    ) -> Result<TaskRecord, DbError> {
        let mut conn = self.pool().acquire().await?;
        enqueue(&mut conn, self.backend(), kind, video, now_ms).await?;
        drop(conn);
        self.task(kind, video).await
    }

    /// The task of `kind` for `video`.
    pub async fn task(&self, kind: TaskKind, video: VideoId) -> Result<TaskRecord, DbError> {
        let row = sqlx::query(self.sql(concat!(task_select!(), "WHERE kind = ? AND video_id = ?")))
            .bind(kind.as_str())
            .bind(video.to_string())
            .fetch_one(self.pool())
            .await?;
        TaskRecord::from_row(&row)
    }

    /// The most recently changed tasks, all of them or those in `state`.
    pub async fn tasks(
        &self,
        state: Option<TaskState>,
        limit: u32,
    ) -> Result<Vec<TaskRecord>, DbError> {
        let limit = i64::from(limit);
        let rows = match state {
            Some(state) => {
                sqlx::query(self.sql(concat!(
                    task_select!(),
                    "WHERE state = ? ORDER BY update_time DESC, id DESC LIMIT ?"
                )))
                .bind(state.as_str())
                .bind(limit)
                .fetch_all(self.pool())
                .await?
            }
            None => {
                sqlx::query(self.sql(concat!(
                    task_select!(),
                    "ORDER BY update_time DESC, id DESC LIMIT ?"
                )))
                .bind(limit)
                .fetch_all(self.pool())
                .await?
            }
        };
        rows.iter().map(TaskRecord::from_row).collect()
    }

    /// Leases up to `limit` due tasks to `owner` until `lease_until_ms`, oldest due
    /// first. Tasks locked by a concurrent claim are skipped, never waited for nor
    /// claimed twice: PostgreSQL and MariaDB lock rows with `FOR UPDATE SKIP LOCKED`;
    /// SQLite has one writer at a time, so its single `UPDATE` is atomic.
    pub async fn claim_tasks(
        &self,
        owner: &str,
        limit: u32,
        now_ms: i64,
        lease_until_ms: i64,
    ) -> Result<Vec<ClaimedTask>, DbError> {
        let token = Uuid::new_v4();
        let limit = i64::from(limit);
        match self.backend() {
            DbKind::Sqlite | DbKind::Postgres => {
                let query = match self.backend() {
                    DbKind::Postgres => concat!(
                        "UPDATE tasks SET state = 'running', lease_token = ?, lease_owner = ?, \
                         due_at = ?, attempts = attempts + 1, update_time = ? WHERE id IN (SELECT id ",
                        claimable!(),
                        " FOR UPDATE SKIP LOCKED) RETURNING id, kind, video_id, attempts, last_error"
                    ),
                    _ => concat!(
                        "UPDATE tasks SET state = 'running', lease_token = ?, lease_owner = ?, \
                         due_at = ?, attempts = attempts + 1, update_time = ? WHERE id IN (SELECT id ",
                        claimable!(),
                        ") RETURNING id, kind, video_id, attempts, last_error"
                    ),
                };
                let rows = sqlx::query(self.sql(query))
                    .bind(token.to_string())
                    .bind(owner)
                    .bind(lease_until_ms)
                    .bind(now_ms)
                    .bind(now_ms)
                    .bind(limit)
                    .fetch_all(self.pool())
                    .await?;
                rows.iter()
                    .map(|r| claimed_from_row(r, token, lease_until_ms, false))
                    .collect()
            }
            DbKind::MySql => {
                // MariaDB has no `UPDATE … RETURNING` and cannot update a table it selects
                // from in a subquery: lock the rows, then update them, in one transaction.
                // READ COMMITTED keeps InnoDB from locking the gaps between index entries,
                // which would make concurrent enqueues wait for the claim.
                let mut conn = self.pool().acquire().await?;
                (&mut *conn)
                    .execute("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
                    .await?;
                let mut tx = conn.begin().await?;
                let rows = sqlx::query(concat!(
                    "SELECT id, kind, video_id, attempts, last_error ",
                    claimable!(),
                    " FOR UPDATE SKIP LOCKED"
                ))
                .bind(now_ms)
                .bind(limit)
                .fetch_all(&mut *tx)
                .await?;
                let claimed = rows
                    .iter()
                    .map(|r| claimed_from_row(r, token, lease_until_ms, true))
                    .collect::<Result<Vec<_>, _>>()?;
                for task in &claimed {
                    sqlx::query(
                        "UPDATE tasks SET state = 'running', lease_token = ?, lease_owner = ?, \
                         due_at = ?, attempts = attempts + 1, update_time = ? WHERE id = ?",
                    )
                    .bind(token.to_string())
                    .bind(owner)
                    .bind(lease_until_ms)
                    .bind(now_ms)
                    .bind(task.id.to_string())
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
                Ok(claimed)
            }
        }
    }

    /// Extends a lease to `until_ms`; false when the lease was lost (taken over).
    pub async fn extend_lease(
        &self,
        task: &ClaimedTask,
        until_ms: i64,
        now_ms: i64,
    ) -> Result<bool, DbError> {
        let n = sqlx::query(self.sql(
            "UPDATE tasks SET due_at = ?, update_time = ? \
             WHERE id = ? AND lease_token = ? AND state = 'running'",
        ))
        .bind(until_ms)
        .bind(now_ms)
        .bind(task.id.to_string())
        .bind(task.lease_token.to_string())
        .execute(self.pool())
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    /// Marks a leased task done; false when the lease was lost.
    pub async fn complete_task(&self, task: &ClaimedTask, now_ms: i64) -> Result<bool, DbError> {
        self.end_lease(task, TaskState::Done, None, now_ms, now_ms)
            .await
    }

    /// Puts a leased task back to wait until `due_ms`, keeping why it failed; false when
    /// the lease was lost.
    pub async fn retry_task(
        &self,
        task: &ClaimedTask,
        due_ms: i64,
        reason: &str,
        now_ms: i64,
    ) -> Result<bool, DbError> {
        self.end_lease(task, TaskState::Pending, Some(reason), due_ms, now_ms)
            .await
    }

    /// Gives a leased task up for good with `reason`; false when the lease was lost.
    pub async fn fail_task(
        &self,
        task: &ClaimedTask,
        reason: &str,
        now_ms: i64,
    ) -> Result<bool, DbError> {
        self.end_lease(task, TaskState::Failed, Some(reason), now_ms, now_ms)
            .await
    }

    /// Drops a task's lease, leaving it in `state` with `last_error`, due at `due_ms`;
    /// false when the lease was lost.
    async fn end_lease(
        &self,
        task: &ClaimedTask,
        state: TaskState,
        last_error: Option<&str>,
        due_ms: i64,
        now_ms: i64,
    ) -> Result<bool, DbError> {
        let n = sqlx::query(self.sql(
            "UPDATE tasks SET state = ?, lease_token = NULL, last_error = ?, \
             due_at = ?, update_time = ? WHERE id = ? AND lease_token = ?",
        ))
        .bind(state.as_str())
        .bind(last_error)
        .bind(due_ms)
        .bind(now_ms)
        .bind(task.id.to_string())
        .bind(task.lease_token.to_string())
        .execute(self.pool())
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    /// Hands a leased task that did not run back to the queue, due now and without
    /// counting the attempt (a scheduler shutting down); false when the lease was lost.
    pub async fn release_task(&self, task: &ClaimedTask, now_ms: i64) -> Result<bool, DbError> {
        let n = sqlx::query(self.sql(
            "UPDATE tasks SET state = 'pending', lease_token = NULL, \
             attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END, \
             due_at = ?, update_time = ? WHERE id = ? AND lease_token = ?",
        ))
        .bind(now_ms)
        .bind(now_ms)
        .bind(task.id.to_string())
        .bind(task.lease_token.to_string())
        .execute(self.pool())
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    /// Removes tasks that finished successfully before `before_ms`; returns how many.
    pub async fn prune_done_tasks(&self, before_ms: i64) -> Result<u64, DbError> {
        let n = sqlx::query(self.sql("DELETE FROM tasks WHERE state = 'done' AND update_time < ?"))
            .bind(before_ms)
            .execute(self.pool())
            .await?
            .rows_affected();
        Ok(n)
    }
}

/// [`Db::enqueue_task`] on `conn`, which may be a transaction's: the task is then queued
/// if and only if the rest of the transaction commits.
pub(super) async fn enqueue(
    conn: &mut AnyConnection,
    backend: DbKind,
    kind: TaskKind,
    video: VideoId,
    now_ms: i64,
) -> Result<(), DbError> {
    let video_text = video.to_string();
    let inserted = sqlx::query(AssertSqlSafe(backend.sql(insert_or_ignore!(
        backend,
        "tasks (id, kind, video_id, state, attempts, due_at, create_time, update_time) \
         VALUES (?, ?, ?, 'pending', 0, ?, ?, ?)"
    ))))
    .bind(Uuid::new_v4().to_string())
    .bind(kind.as_str())
    .bind(&video_text)
    .bind(now_ms)
    .bind(now_ms)
    .bind(now_ms)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if inserted == 0 {
        // MySQL assigns left to right and later expressions see earlier assignments,
        // so `state` is assigned last, after everything that reads the old one.
        sqlx::query(AssertSqlSafe(backend.sql(
            "UPDATE tasks SET \
             attempts = CASE WHEN state = 'pending' THEN attempts ELSE 0 END, \
             last_error = CASE WHEN state = 'pending' THEN last_error ELSE NULL END, \
             due_at = ?, update_time = ?, state = 'pending' \
             WHERE kind = ? AND video_id = ? AND state <> 'running' \
             AND NOT (state = 'pending' AND due_at <= ?)",
        )))
        .bind(now_ms)
        .bind(now_ms)
        .bind(kind.as_str())
        .bind(&video_text)
        .bind(now_ms)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicate_inserts_are_ignored_in_each_dialect() {
        let mysql = insert_or_ignore!(DbKind::MySql, "t (a) VALUES (?)");
        assert_eq!(mysql, "INSERT IGNORE INTO t (a) VALUES (?)");
        let pg = insert_or_ignore!(DbKind::Postgres, "t (a) VALUES (?)");
        assert_eq!(pg, "INSERT INTO t (a) VALUES (?) ON CONFLICT DO NOTHING");
    }
}
