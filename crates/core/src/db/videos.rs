use sqlx::Row;
use sqlx::any::AnyRow;

use super::users::parse_id;
use super::{Db, DbError, Page, PageCursor, TaskKind};
use crate::domain::{VideoStatus, Visibility};
use crate::ids::{UserId, VideoId};

/// A stored video with its author's name.
#[derive(Debug, Clone, PartialEq)]
pub struct VideoRecord {
    /// The video's id.
    pub id: VideoId,
    /// The owner's id.
    pub author_id: UserId,
    /// The owner's login name.
    pub author: String,
    /// The title.
    pub name: String,
    /// Creation time as shown to people.
    pub display_ctime: String,
    /// Creation time in Unix milliseconds (the sort key).
    pub create_time: i64,
    /// Where the video is in its life.
    pub status: VideoStatus,
    /// Size of the stored file in bytes, once uploaded.
    pub size: Option<i64>,
    /// Length in milliseconds, once probed.
    pub duration_ms: Option<i64>,
    /// Frame width in pixels, once probed.
    pub width: Option<i64>,
    /// Frame height in pixels, once probed.
    pub height: Option<i64>,
    /// Processing progress in percent, while processing.
    pub progress: Option<i64>,
    /// Why processing failed, when it did.
    pub failure: Option<String>,
    /// The video stream's codec, once probed.
    pub video_codec: Option<String>,
    /// The audio stream's codec, once probed.
    pub audio_codec: Option<String>,
    /// Whether processing made the playable renditions (false: served as uploaded).
    pub processed: bool,
    /// Hidden by a moderator: shown to its owner (with a notice) and the staff alone.
    pub hidden: bool,
    /// Whether its owner is banned: then it is shown to the staff alone.
    pub author_banned: bool,
    /// Who may watch it.
    pub visibility: Visibility,
    /// The description (empty when none).
    pub description: String,
}

/// Which of a user's videos a listing shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VideoFilter {
    /// Every one, in every status: the owner's own list.
    Owner,
    /// The ready ones of any visibility, hidden or not, whether the owner is banned or
    /// not: for the staff.
    Staff,
    /// The ready public ones that are neither hidden nor of a banned owner: for everyone
    /// else.
    Public,
}

/// What creating a video needs.
#[derive(Debug, Clone)]
pub struct NewVideo {
    /// The new video's id.
    pub id: VideoId,
    /// The owner.
    pub author_id: UserId,
    /// The title.
    pub name: String,
    /// Creation time in Unix milliseconds.
    pub create_time: i64,
    /// Who may watch it.
    pub visibility: Visibility,
    /// The description (empty when none).
    pub description: String,
}

macro_rules! video_select {
    () => {
        "SELECT v.id, v.author_id, u.login_name, v.name, v.display_ctime, v.create_time, \
         v.status, v.size, v.duration_ms, v.width, v.height, v.progress, v.failure, \
         v.video_codec, v.audio_codec, v.processed, v.hidden, u.banned, v.visibility, \
         v.description \
         FROM video_info v JOIN users u ON u.id = v.author_id "
    };
}

impl VideoRecord {
    fn from_row(row: &AnyRow) -> Result<Self, DbError> {
        let status: String = row.try_get("status")?;
        let visibility: String = row.try_get("visibility")?;
        Ok(Self {
            id: parse_id(row.try_get("id")?)?,
            author_id: parse_id(row.try_get("author_id")?)?,
            author: row.try_get("login_name")?,
            name: row.try_get("name")?,
            display_ctime: row.try_get("display_ctime")?,
            create_time: row.try_get("create_time")?,
            status: VideoStatus::parse(&status)
                .ok_or_else(|| DbError::Corrupt(format!("bad status {status:?}")))?,
            size: row.try_get("size")?,
            duration_ms: row.try_get("duration_ms")?,
            width: row.try_get("width")?,
            height: row.try_get("height")?,
            progress: row.try_get("progress")?,
            failure: row.try_get("failure")?,
            video_codec: row.try_get("video_codec")?,
            audio_codec: row.try_get("audio_codec")?,
            processed: row.try_get::<i64, _>("processed")? != 0,
            hidden: row.try_get::<i64, _>("hidden")? != 0,
            author_banned: row.try_get::<i64, _>("banned")? != 0,
            visibility: Visibility::parse(&visibility)
                .ok_or_else(|| DbError::Corrupt(format!("bad visibility {visibility:?}")))?,
            description: row
                .try_get::<Option<String>, _>("description")?
                .unwrap_or_default(),
        })
    }

    /// The keyset position of this video in a listing.
    pub fn cursor(&self) -> PageCursor {
        PageCursor {
            time_ms: self.create_time,
            id: self.id.to_string(),
        }
    }
}

/// The time as people read it, in the first design's layout ("Jan 02 2006, 15:04:05", UTC).
fn display_time(ms: i64) -> String {
    let format = time::macros::format_description!(
        "[month repr:short] [day] [year], [hour]:[minute]:[second]"
    );
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(format).ok())
        .unwrap_or_default()
}

fn rows_to_page(rows: Vec<AnyRow>, limit: u32) -> Result<Page<VideoRecord>, DbError> {
    let videos = rows
        .iter()
        .map(VideoRecord::from_row)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Page::from_rows(videos, limit, VideoRecord::cursor))
}

impl Db {
    /// Stores a new video awaiting its upload. A video that is not public gets, in the
    /// same transaction, the task that tells the stream servers so.
    pub async fn create_video(&self, new: &NewVideo) -> Result<(), DbError> {
        let mut tx = self.pool().begin().await?;
        sqlx::query(self.sql(
            "INSERT INTO video_info (id, author_id, name, display_ctime, create_time, status, \
             visibility, description) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        ))
        .bind(new.id.to_string())
        .bind(new.author_id.to_string())
        .bind(&new.name)
        .bind(display_time(new.create_time))
        .bind(new.create_time)
        .bind(VideoStatus::AwaitingUpload.as_str())
        .bind(new.visibility.as_str())
        .bind(&new.description)
        .execute(&mut *tx)
        .await?;
        if !new.visibility.is_public() {
            super::tasks::enqueue(
                &mut tx,
                self.backend(),
                TaskKind::SyncState,
                new.id,
                new.create_time,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// One video by id.
    pub async fn video(&self, id: VideoId) -> Result<VideoRecord, DbError> {
        let row = sqlx::query(self.sql(concat!(video_select!(), "WHERE v.id = ?")))
            .bind(id.to_string())
            .fetch_one(self.pool())
            .await?;
        VideoRecord::from_row(&row)
    }

    /// A user's videos, newest first, as `filter` lets the reader see them.
    pub async fn videos_by_author(
        &self,
        author: UserId,
        filter: VideoFilter,
        after: &PageCursor,
        limit: u32,
    ) -> Result<Page<VideoRecord>, DbError> {
        let query = match filter {
            VideoFilter::Owner => concat!(
                video_select!(),
                "WHERE v.author_id = ? AND (v.create_time, v.id) < (?, ?) \
                 ORDER BY v.create_time DESC, v.id DESC LIMIT ?"
            ),
            VideoFilter::Staff => concat!(
                video_select!(),
                "WHERE v.author_id = ? AND v.status = 'ready' AND (v.create_time, v.id) < (?, ?) \
                 ORDER BY v.create_time DESC, v.id DESC LIMIT ?"
            ),
            VideoFilter::Public => concat!(
                video_select!(),
                "WHERE v.author_id = ? AND v.status = 'ready' AND v.visibility = 'public' \
                 AND v.hidden = 0 AND u.banned = 0 AND (v.create_time, v.id) < (?, ?) \
                 ORDER BY v.create_time DESC, v.id DESC LIMIT ?"
            ),
        };
        let rows = sqlx::query(self.sql(query))
            .bind(author.to_string())
            .bind(after.time_ms)
            .bind(&after.id)
            .bind(i64::from(limit) + 1)
            .fetch_all(self.pool())
            .await?;
        rows_to_page(rows, limit)
    }

    /// Everyone's ready public videos, newest first (the home page).
    pub async fn recent_ready_videos(
        &self,
        after: &PageCursor,
        limit: u32,
    ) -> Result<Page<VideoRecord>, DbError> {
        let rows = sqlx::query(self.sql(concat!(
            video_select!(),
            "WHERE v.status = 'ready' AND v.visibility = 'public' AND v.hidden = 0 \
             AND u.banned = 0 AND (v.create_time, v.id) < (?, ?) \
             ORDER BY v.create_time DESC, v.id DESC LIMIT ?"
        )))
        .bind(after.time_ms)
        .bind(&after.id)
        .bind(i64::from(limit) + 1)
        .fetch_all(self.pool())
        .await?;
        rows_to_page(rows, limit)
    }

    /// Removes a video and its comments from every listing and, in the same transaction,
    /// queues the task that removes its files, so nothing is lost if the scheduler is
    /// down.
    pub async fn delete_video(&self, video: VideoId, now_ms: i64) -> Result<(), DbError> {
        let id = video.to_string();
        let mut tx = self.pool().begin().await?;
        sqlx::query(self.sql("DELETE FROM comments WHERE video_id = ?"))
            .bind(&id)
            .execute(&mut *tx)
            .await?;
        let deleted = sqlx::query(self.sql("DELETE FROM video_info WHERE id = ?"))
            .bind(&id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if deleted == 0 {
            return Err(DbError::NotFound);
        }
        super::reports::resolve_deleted(&mut tx, self.backend(), video, now_ms).await?;
        super::tasks::enqueue(
            &mut tx,
            self.backend(),
            TaskKind::DeleteVideo,
            video,
            now_ms,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Ids of videos whose files await removal (their deletion task has not succeeded
    /// yet), oldest first.
    pub async fn pending_deletions(&self, limit: u32) -> Result<Vec<VideoId>, DbError> {
        let rows = sqlx::query(self.sql(
            "SELECT video_id FROM tasks WHERE kind = 'delete' AND state <> 'done' \
             ORDER BY create_time, video_id LIMIT ?",
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
    #[test]
    fn display_time_uses_the_first_design_layout() {
        assert_eq!(super::display_time(0), "Jan 01 1970, 00:00:00");
        assert_eq!(
            super::display_time(1_764_118_793_000),
            "Nov 26 2025, 00:59:53"
        );
    }
}
