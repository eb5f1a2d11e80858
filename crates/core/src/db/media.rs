//! What the scheduler writes about a video while it makes the upload playable: status,
//! progress, the probed media facts, and which uploaded bytes they describe.

use std::collections::HashSet;
use std::sync::LazyLock;

use sqlx::Row;

use super::users::parse_id;
use super::{Db, DbError};
use crate::domain::VideoStatus;
use crate::ids::VideoId;

/// Ids checked by one query of [`Db::existing_videos`].
const EXISTING_BATCH: usize = 100;

/// What processing needs to know about a video before it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaState {
    /// Where the video is in its life.
    pub status: VideoStatus,
    /// Whether the playable MP4, HLS ladder and poster were made (false when the
    /// upload is served as it came, for want of ffmpeg).
    pub processed: bool,
    /// The entity tag of the upload that `status` describes, once one was handled.
    pub source_etag: Option<String>,
    /// Progress in percent: of making the upload playable while `processing`, of the
    /// rest (the ladder) while `ready` and not yet `processed`.
    pub progress: Option<i64>,
    /// Why processing failed, if it did (a `ready` video keeps playing when only the
    /// ladder failed).
    pub failure: Option<String>,
}

/// The facts processing learned about a video.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MediaFacts {
    /// Size of the uploaded file in bytes.
    pub size: i64,
    /// Length in milliseconds.
    pub duration_ms: Option<i64>,
    /// Displayed frame width in pixels.
    pub width: Option<i64>,
    /// Displayed frame height in pixels.
    pub height: Option<i64>,
    /// The upload's video codec (ffprobe's name, such as `h264` or `vp9`).
    pub video_codec: Option<String>,
    /// The upload's audio codec (ffprobe's name, such as `aac` or `opus`).
    pub audio_codec: Option<String>,
}

/// The condition that video `v` has no processing task pending or running.
macro_rules! no_processing_queued {
    () => {
        "AND NOT EXISTS (SELECT 1 FROM tasks t WHERE t.kind = 'process' \
         AND t.video_id = v.id AND t.state IN ('pending', 'running')) "
    };
}

/// The condition that a video plays already while the rest of its processing runs:
/// ready, not processed, with a progress.
macro_rules! playable_unprocessed {
    () => {
        "(status = 'ready' AND processed = 0 AND progress IS NOT NULL)"
    };
}

impl Db {
    /// The processing state of a video; `None` when it does not exist (any more).
    pub async fn media_state(&self, id: VideoId) -> Result<Option<MediaState>, DbError> {
        let row = sqlx::query(self.sql(
            "SELECT status, processed, source_etag, progress, failure FROM video_info \
                 WHERE id = ?",
        ))
        .bind(id.to_string())
        .fetch_optional(self.pool())
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let status: String = row.try_get("status")?;
        let processed: i64 = row.try_get("processed")?;
        Ok(Some(MediaState {
            status: VideoStatus::parse(&status)
                .ok_or_else(|| DbError::Corrupt(format!("bad status {status:?}")))?,
            processed: processed != 0,
            source_etag: row.try_get("source_etag")?,
            progress: row.try_get("progress")?,
            failure: row.try_get("failure")?,
        }))
    }

    /// Whether the video exists.
    pub async fn video_exists(&self, id: VideoId) -> Result<bool, DbError> {
        Ok(self.media_state(id).await?.is_some())
    }

    /// Which of `ids` are videos that exist, in one query per hundred of them.
    pub async fn existing_videos(&self, ids: &[VideoId]) -> Result<HashSet<VideoId>, DbError> {
        // One statement text for every batch, so that it is prepared once: a short
        // batch repeats its first id in the spare places.
        static QUERY: LazyLock<String> = LazyLock::new(|| {
            let marks = vec!["?"; EXISTING_BATCH].join(", ");
            format!("SELECT id FROM video_info WHERE id IN ({marks})")
        });
        let mut found = HashSet::new();
        for batch in ids.chunks(EXISTING_BATCH) {
            let mut query = sqlx::query(self.sql(QUERY.as_str()));
            for i in 0..EXISTING_BATCH {
                query = query.bind(batch.get(i).unwrap_or(&batch[0]).to_string());
            }
            for row in query.fetch_all(self.pool()).await? {
                found.insert(parse_id(row.try_get::<String, _>("id")?)?);
            }
        }
        Ok(found)
    }

    /// Marks a video as being processed, at 0 %; false when it does not exist.
    pub async fn start_processing(&self, id: VideoId, size: i64) -> Result<bool, DbError> {
        let n = sqlx::query(self.sql(
            "UPDATE video_info SET status = ?, progress = 0, failure = NULL, size = ? \
             WHERE id = ?",
        ))
        .bind(VideoStatus::Processing.as_str())
        .bind(size)
        .bind(id.to_string())
        .execute(self.pool())
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    /// Records processing progress in percent, while the video is being processed, or
    /// while the rest is made of a video that plays already.
    pub async fn set_progress(&self, id: VideoId, percent: i64) -> Result<(), DbError> {
        sqlx::query(self.sql(concat!(
            "UPDATE video_info SET progress = ? WHERE id = ? AND (status = ? OR ",
            playable_unprocessed!(),
            ")"
        )))
        .bind(percent)
        .bind(id.to_string())
        .bind(VideoStatus::Processing.as_str())
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Marks a video ready with what was learned of the upload whose tag is
    /// `source_etag`; false when the video does not exist (any more).
    pub async fn finish_processing(
        &self,
        id: VideoId,
        facts: &MediaFacts,
        processed: bool,
        source_etag: &str,
    ) -> Result<bool, DbError> {
        self.mark_ready(id, facts, processed, None, source_etag)
            .await
    }

    /// Marks a video ready as soon as its first browser-ready rendition is stored, with
    /// what was learned of the upload whose tag is `source_etag`: not yet `processed`,
    /// its progress now that of the rest of the processing. False when the video does
    /// not exist (any more).
    pub async fn mark_playable(
        &self,
        id: VideoId,
        facts: &MediaFacts,
        source_etag: &str,
    ) -> Result<bool, DbError> {
        self.mark_ready(id, facts, false, Some(0), source_etag)
            .await
    }

    async fn mark_ready(
        &self,
        id: VideoId,
        facts: &MediaFacts,
        processed: bool,
        progress: Option<i64>,
        source_etag: &str,
    ) -> Result<bool, DbError> {
        let n = sqlx::query(self.sql(
            "UPDATE video_info SET status = ?, progress = ?, failure = NULL, size = ?, \
             duration_ms = ?, width = ?, height = ?, video_codec = ?, audio_codec = ?, \
             processed = ?, source_etag = ? WHERE id = ?",
        ))
        .bind(VideoStatus::Ready.as_str())
        .bind(progress)
        .bind(facts.size)
        .bind(facts.duration_ms)
        .bind(facts.width)
        .bind(facts.height)
        .bind(facts.video_codec.as_deref())
        .bind(facts.audio_codec.as_deref())
        .bind(i64::from(processed))
        .bind(source_etag)
        .bind(id.to_string())
        .execute(self.pool())
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    /// Marks a video failed with a reason people can read; `source_etag` names the
    /// upload that failed, when known. A video that plays already (only the rest of
    /// its processing failed) stays ready, unprocessed, with the reason. False when
    /// the video does not exist.
    pub async fn fail_processing(
        &self,
        id: VideoId,
        reason: &str,
        source_etag: Option<&str>,
    ) -> Result<bool, DbError> {
        let n = sqlx::query(self.sql(concat!(
            "UPDATE video_info SET status = CASE WHEN ",
            playable_unprocessed!(),
            " THEN status ELSE ? END, progress = NULL, failure = ?, \
             source_etag = COALESCE(?, source_etag) WHERE id = ?"
        )))
        .bind(VideoStatus::Failed.as_str())
        .bind(reason)
        .bind(source_etag)
        .bind(id.to_string())
        .execute(self.pool())
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    /// Videos created since `since_ms` that still await their upload (or whose upload
    /// landed) and have no processing task pending or running, newest first: the ones
    /// whose upload notice may have been lost.
    pub async fn uploads_to_check(
        &self,
        since_ms: i64,
        limit: u32,
    ) -> Result<Vec<VideoId>, DbError> {
        let rows = sqlx::query(self.sql(concat!(
            "SELECT v.id FROM video_info v WHERE v.status IN (?, ?) AND v.create_time >= ? ",
            no_processing_queued!(),
            "ORDER BY v.create_time DESC, v.id DESC LIMIT ?"
        )))
        .bind(VideoStatus::AwaitingUpload.as_str())
        .bind(VideoStatus::Uploaded.as_str())
        .bind(since_ms)
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(|r| parse_id(r.try_get("id")?)).collect()
    }

    /// Ready videos served as they were uploaded (no ffmpeg then) with no processing
    /// task pending or running.
    pub async fn unprocessed_ready_videos(&self, limit: u32) -> Result<Vec<VideoId>, DbError> {
        let rows = sqlx::query(self.sql(concat!(
            "SELECT v.id FROM video_info v WHERE v.status = ? AND v.processed = 0 \
             AND v.failure IS NULL ",
            no_processing_queued!(),
            "ORDER BY v.create_time, v.id LIMIT ?"
        )))
        .bind(VideoStatus::Ready.as_str())
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(|r| parse_id(r.try_get("id")?)).collect()
    }
}
