use std::fmt;

use sqlx::Row;
use sqlx::any::AnyRow;
use uuid::Uuid;

use crate::db::DbError;
use crate::db::users::parse_id;
use crate::ids::VideoId;

/// What a task does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TaskKind {
    /// Probe an upload and make it playable everywhere (MP4, HLS ladder, poster).
    ProcessVideo,
    /// Remove every object of a deleted video; queued by the deletion itself.
    DeleteVideo,
    /// Write the video's state marker (its visibility) for the stream servers; queued
    /// with each change of visibility.
    SyncState,
}

impl TaskKind {
    /// The name stored in the database and shown to operators.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ProcessVideo => "process",
            Self::DeleteVideo => "delete",
            Self::SyncState => "state",
        }
    }

    /// Reads a stored kind.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "process" => Some(Self::ProcessVideo),
            "delete" => Some(Self::DeleteVideo),
            "state" => Some(Self::SyncState),
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
    pub(super) fn from_row(row: &AnyRow) -> Result<Self, DbError> {
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
pub(super) fn claimed_from_row(
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_and_states_round_trip() {
        for k in [
            TaskKind::ProcessVideo,
            TaskKind::DeleteVideo,
            TaskKind::SyncState,
        ] {
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
}
