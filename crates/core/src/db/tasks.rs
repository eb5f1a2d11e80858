//! The scheduler's durable task queue.
//!
//! A task is stored before it is acknowledged and runs at least once. Claims are leases:
//! claiming sets `state = 'running'`, a fresh `lease_token` and `due_at` to the lease's
//! expiry, so a task whose scheduler died becomes due again when its lease runs out and
//! any scheduler takes it over. Every later write names the lease token, so a scheduler
//! that lost its lease can no longer change the task.
//!
//! What differs per backend lives in [`Db::claim_tasks`] (how rows are locked) and
//! [`insert_or_ignore!`] (how a duplicate insert is ignored).

use std::fmt;

use sqlx::any::AnyRow;
use sqlx::{Connection, Executor, Row};
use uuid::Uuid;

use super::users::parse_id;
use super::{Db, DbError, DbKind};
use crate::ids::VideoId;

/// What a task does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TaskKind {
    /// Probe an upload and make it playable everywhere (MP4, HLS ladder, poster).
    ProcessVideo,
    /// Remove every object of a deleted video, then its deletion record.
    DeleteVideo,
}

impl TaskKind {
    /// The name stored in the database and shown to operators.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ProcessVideo => "process",
            Self::DeleteVideo => "delete",
        }
    }

    /// Reads a stored kind.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "process" => Some(Self::ProcessVideo),
            "delete" => Some(Self::DeleteVideo),
            _ => None,
        }
    }
}

impl fmt::Display for TaskKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a task is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TaskState {
    /// Waiting until `due_at`.
    Pending,
    /// Leased by a scheduler until `due_at`.
    Running,
    /// Finished successfully.
    Done,
    /// Gave up; `last_error` says why.
    Failed,
}

impl TaskState {
    /// The name stored in the database and shown to operators.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Running => "running",
            Self::Done => "done",
            Self::Failed => "failed",
        }
    }

    /// Reads a stored or requested state.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(Self::Pending),
            "running" => Some(Self::Running),
            "done" => Some(Self::Done),
            "failed" => Some(Self::Failed),
            _ => None,
        }
    }
}

impl fmt::Display for TaskState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A stored task, as operators see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskRecord {
    /// The task's id.
    pub id: Uuid,
    /// What it does.
    pub kind: TaskKind,
    /// The video it is about.
    pub video_id: VideoId,
    /// Where it is in its life.
    pub state: TaskState,
    /// How many times it was claimed (its current run included).
    pub attempts: u32,
    /// When it may next be claimed (Unix ms): its schedule, or its lease's expiry.
    pub due_at: i64,
    /// The scheduler that holds or last held its lease.
    pub lease_owner: Option<String>,
    /// Why the last attempt failed, if it did.
    pub last_error: Option<String>,
    /// When it was first queued (Unix ms).
    pub create_time: i64,
    /// When it last changed (Unix ms).
    pub update_time: i64,
}

/// A task this scheduler holds a lease on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedTask {
    /// The task's id.
    pub id: Uuid,
    /// What it does.
    pub kind: TaskKind,
    /// The video it is about.
    pub video_id: VideoId,
    /// How many times it was claimed, this claim included.
    pub attempts: u32,
    /// Why the previous attempt failed, if it did.
    pub last_error: Option<String>,
    /// Proves the lease: writes that do not name it change nothing.
    pub lease_token: Uuid,
    /// When the lease expires unless renewed (Unix ms).
    pub lease_until: i64,
}

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

fn parse_uuid(s: String) -> Result<Uuid, DbError> {
    Uuid::try_parse(&s).map_err(|_| DbError::Corrupt(format!("bad task id {s:?}")))
}

fn parse_kind(s: String) -> Result<TaskKind, DbError> {
    TaskKind::parse(&s).ok_or_else(|| DbError::Corrupt(format!("bad task kind {s:?}")))
}

fn count(n: i64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

impl TaskRecord {
    fn from_row(row: &AnyRow) -> Result<Self, DbError> {
        let state: String = row.try_get("state")?;
        Ok(Self {
            id: parse_uuid(row.try_get("id")?)?,
            kind: parse_kind(row.try_get("kind")?)?,
            video_id: parse_id(row.try_get("video_id")?)?,
            state: TaskState::parse(&state)
                .ok_or_else(|| DbError::Corrupt(format!("bad task state {state:?}")))?,
            attempts: count(row.try_get("attempts")?),
            due_at: row.try_get("due_at")?,
            lease_owner: row.try_get("lease_owner")?,
            last_error: row.try_get("last_error")?,
            create_time: row.try_get("create_time")?,
            update_time: row.try_get("update_time")?,
        })
    }
}

/// Reads a claimable row; `attempts_before` is true when the row was read before the
/// claim counted this attempt (MySQL), false when it was read after (`RETURNING`).
fn claimed_from_row(
    row: &AnyRow,
    lease_token: Uuid,
    lease_until: i64,
    attempts_before: bool,
) -> Result<ClaimedTask, DbError> {
    let attempts: i64 = row.try_get("attempts")?;
    Ok(ClaimedTask {
        id: parse_uuid(row.try_get("id")?)?,
        kind: parse_kind(row.try_get("kind")?)?,
        video_id: parse_id(row.try_get("video_id")?)?,
        attempts: count(attempts + i64::from(attempts_before)),
        last_error: row.try_get("last_error")?,
        lease_token,
        lease_until,
    })
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
        let video_text = video.to_string();
        let inserted = sqlx::query(self.sql(insert_or_ignore!(
            self.backend(),
            "tasks (id, kind, video_id, state, attempts, due_at, create_time, update_time) \
             VALUES (?, ?, ?, 'pending', 0, ?, ?, ?)"
        )))
        .bind(Uuid::new_v4().to_string())
        .bind(kind.as_str())
        .bind(&video_text)
        .bind(now_ms)
        .bind(now_ms)
        .bind(now_ms)
        .execute(self.pool())
        .await?
        .rows_affected();
        if inserted == 0 {
            // MySQL assigns left to right and later expressions see earlier assignments,
            // so `state` is assigned last, after everything that reads the old one.
            sqlx::query(self.sql(
                "UPDATE tasks SET \
                 attempts = CASE WHEN state = 'pending' THEN attempts ELSE 0 END, \
                 last_error = CASE WHEN state = 'pending' THEN last_error ELSE NULL END, \
                 due_at = ?, update_time = ?, state = 'pending' \
                 WHERE kind = ? AND video_id = ? AND state <> 'running' \
                 AND NOT (state = 'pending' AND due_at <= ?)",
            ))
            .bind(now_ms)
            .bind(now_ms)
            .bind(kind.as_str())
            .bind(&video_text)
            .bind(now_ms)
            .execute(self.pool())
            .await?;
        }
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

    /// Records that the files of `video` must go (`video_del_rec`, see docs/architecture.md);
    /// recording it twice is harmless.
    pub async fn add_deletion_record(&self, video: VideoId, now_ms: i64) -> Result<(), DbError> {
        sqlx::query(self.sql(insert_or_ignore!(
            self.backend(),
            "video_del_rec (video_id, create_time) VALUES (?, ?)"
        )))
        .bind(video.to_string())
        .bind(now_ms)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Forgets the deletion record of `video` once its files are gone.
    pub async fn remove_deletion_record(&self, video: VideoId) -> Result<(), DbError> {
        sqlx::query(self.sql("DELETE FROM video_del_rec WHERE video_id = ?"))
            .bind(video.to_string())
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Deletion records that have no deletion task yet, oldest first.
    pub async fn unqueued_deletions(&self, limit: u32) -> Result<Vec<VideoId>, DbError> {
        let rows = sqlx::query(self.sql(
            "SELECT d.video_id FROM video_del_rec d WHERE NOT EXISTS \
             (SELECT 1 FROM tasks t WHERE t.kind = 'delete' AND t.video_id = d.video_id) \
             ORDER BY d.create_time, d.video_id LIMIT ?",
        ))
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| parse_id(r.try_get("video_id")?))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_and_states_round_trip() {
        for k in [TaskKind::ProcessVideo, TaskKind::DeleteVideo] {
            assert_eq!(TaskKind::parse(k.as_str()), Some(k));
        }
        for s in [
            TaskState::Pending,
            TaskState::Running,
            TaskState::Done,
            TaskState::Failed,
        ] {
            assert_eq!(TaskState::parse(s.as_str()), Some(s));
        }
        assert_eq!(TaskState::parse("lost"), None);
    }

    #[test]
    fn duplicate_inserts_are_ignored_in_each_dialect() {
        let mysql = insert_or_ignore!(DbKind::MySql, "t (a) VALUES (?)");
        assert_eq!(mysql, "INSERT IGNORE INTO t (a) VALUES (?)");
        let pg = insert_or_ignore!(DbKind::Postgres, "t (a) VALUES (?)");
        assert_eq!(pg, "INSERT INTO t (a) VALUES (?) ON CONFLICT DO NOTHING");
    }
}
