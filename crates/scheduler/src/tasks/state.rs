use reel_core::db::DbError;
use reel_core::ids::VideoId;
use reel_core::storage::StorageError;
use reel_core::storage::video_state::VideoState;

use super::Tasks;
use crate::runner::TaskOutcome;

/// Rewrites a changed visibility at most this many times in one run before leaving the
/// rest to a retry.
const MAX_ROUNDS: usize = 4;

/// Writes the state marker of `video` with the visibility the database holds now
/// (private while the video is hidden or its owner banned), so that every stream server
/// enforces it within its marker cache's TTL. The visibility
/// is read when the task runs, not when it was queued, so the last change wins however
/// the tasks of several changes interleave; it is read again after writing, and written
/// again if it changed meanwhile. A deleted video's tombstone is never replaced: a video
/// that no longer exists gets nothing, and one deleted while its marker was written gets
/// its tombstone back at once.
pub async fn run(tasks: &Tasks, video: VideoId) -> TaskOutcome {
    match sync(tasks, video).await {
        Ok(()) => TaskOutcome::Done,
        Err(e) => TaskOutcome::Retry(format!("writing the video's state: {e}")),
    }
}

#[derive(Debug, thiserror::Error)]
enum SyncError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("its visibility kept changing")]
    Unsettled,
}

async fn sync(tasks: &Tasks, video: VideoId) -> Result<(), SyncError> {
    let Some(mut wanted) = tasks.db.served_visibility(video).await? else {
        return Ok(());
    };
    for _ in 0..MAX_ROUNDS {
        if tasks
            .storage
            .video_state(video)
            .await?
            .is_some_and(|s| s.is_deleted())
        {
            return Ok(());
        }
        tasks
            .storage
            .set_video_state(video, &VideoState::live(wanted))
            .await?;
        match tasks.db.served_visibility(video).await? {
            None => {
                tasks
                    .storage
                    .delete_video_files(video, tasks.clock.now_ms())
                    .await?;
                return Ok(());
            }
            Some(now) if now == wanted => {
                tracing::info!(visibility = wanted.as_str(), "video state written");
                return Ok(());
            }
            Some(now) => wanted = now,
        }
    }
    Err(SyncError::Unsettled)
}
