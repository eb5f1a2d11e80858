//! What the quotas and the owner's edits need of videos: the bytes of originals a user
//! keeps, the landing of an upload, and changes of title, description and visibility.

use sqlx::Row;

use super::{Db, DbError, DbKind, TaskKind};
use crate::domain::{VideoStatus, Visibility};
use crate::ids::{UserId, VideoId};

/// The bytes of originals of one user's videos.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BytesUsed {
    /// All of them.
    pub total: i64,
    /// Those uploaded since the time asked about.
    pub since: i64,
}

/// An owner's change to a video; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct VideoEdit {
    /// A new title.
    pub name: Option<String>,
    /// A new description.
    pub description: Option<String>,
    /// A new visibility.
    pub visibility: Option<Visibility>,
}

/// The sums of one user's originals: all of them, and those uploaded since a time.
/// PostgreSQL and MariaDB sum `BIGINT`s into decimals, which the `Any` driver does not
/// read, hence the casts.
fn usage_query(backend: DbKind) -> &'static str {
    match backend {
        DbKind::Sqlite => {
            "SELECT COALESCE(SUM(size), 0) AS total, \
             COALESCE(SUM(CASE WHEN uploaded_at >= ? THEN size ELSE 0 END), 0) AS recent \
             FROM video_info WHERE author_id = ?"
        }
        DbKind::Postgres => {
            "SELECT CAST(COALESCE(SUM(size), 0) AS BIGINT) AS total, \
             CAST(COALESCE(SUM(CASE WHEN uploaded_at >= ? THEN size ELSE 0 END), 0) AS BIGINT) \
             AS recent FROM video_info WHERE author_id = ?"
        }
        DbKind::MySql => {
            "SELECT CAST(COALESCE(SUM(size), 0) AS SIGNED) AS total, \
             CAST(COALESCE(SUM(CASE WHEN uploaded_at >= ? THEN size ELSE 0 END), 0) AS SIGNED) \
             AS recent FROM video_info WHERE author_id = ?"
        }
    }
}

impl Db {
    /// The bytes of originals `user` keeps: in all, and uploaded since `since_ms`. A
    /// deleted video's bytes no longer count.
    pub async fn bytes_used(&self, user: UserId, since_ms: i64) -> Result<BytesUsed, DbError> {
        let row = sqlx::query(self.sql(usage_query(self.backend())))
            .bind(since_ms)
            .bind(user.to_string())
            .fetch_one(self.pool())
            .await?;
        Ok(BytesUsed {
            total: row.try_get("total")?,
            since: row.try_get("recent")?,
        })
    }

    /// Records that an original of `size` bytes landed for `video` at `now_ms`: it
    /// counts towards its owner's quota from now on, and a video that awaited its upload
    /// is `uploaded` until processing starts. False when the video does not exist.
    pub async fn record_upload(
        &self,
        video: VideoId,
        size: i64,
        now_ms: i64,
    ) -> Result<bool, DbError> {
        let n = sqlx::query(self.sql(
            "UPDATE video_info SET size = ?, uploaded_at = ?, \
             status = CASE WHEN status = ? THEN ? ELSE status END WHERE id = ?",
        ))
        .bind(size)
        .bind(now_ms)
        .bind(VideoStatus::AwaitingUpload.as_str())
        .bind(VideoStatus::Uploaded.as_str())
        .bind(video.to_string())
        .execute(self.pool())
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    /// Applies an owner's edit. A change of visibility queues, in the same transaction,
    /// the task that tells the stream servers. Not found when the video does not exist.
    pub async fn edit_video(
        &self,
        video: VideoId,
        edit: &VideoEdit,
        now_ms: i64,
    ) -> Result<(), DbError> {
        let id = video.to_string();
        let mut tx = self.pool().begin().await?;
        let row = sqlx::query(self.sql("SELECT visibility FROM video_info WHERE id = ?"))
            .bind(&id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(DbError::NotFound)?;
        let before: String = row.try_get("visibility")?;
        sqlx::query(self.sql(
            "UPDATE video_info SET name = COALESCE(?, name), \
             description = COALESCE(?, description), visibility = COALESCE(?, visibility) \
             WHERE id = ?",
        ))
        .bind(edit.name.as_deref())
        .bind(edit.description.as_deref())
        .bind(edit.visibility.map(Visibility::as_str))
        .bind(&id)
        .execute(&mut *tx)
        .await?;
        if edit.visibility.is_some_and(|v| v.as_str() != before) {
            super::tasks::enqueue(&mut tx, self.backend(), TaskKind::SyncState, video, now_ms)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The visibility the stream servers enforce for `video`: its own, but private
    /// while a moderator hides it or its owner is banned; `None` when it does not exist.
    pub async fn served_visibility(&self, video: VideoId) -> Result<Option<Visibility>, DbError> {
        let row = sqlx::query(self.sql(
            "SELECT v.visibility, v.hidden, u.banned FROM video_info v \
             JOIN users u ON u.id = v.author_id WHERE v.id = ?",
        ))
        .bind(video.to_string())
        .fetch_optional(self.pool())
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        if row.try_get::<i64, _>("hidden")? != 0 || row.try_get::<i64, _>("banned")? != 0 {
            return Ok(Some(Visibility::Private));
        }
        let text: String = row.try_get("visibility")?;
        Visibility::parse(&text)
            .map(Some)
            .ok_or_else(|| DbError::Corrupt(format!("bad visibility {text:?}")))
    }
}
