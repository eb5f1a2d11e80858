//! The storage sweep: stored files are compared with the database, so that nothing is
//! kept for a video that does not exist, and tombstones go once no upload token of
//! their video can be valid any more.
//!
//! A pass lists the folders under `videos/` (one entry per video, a request per
//! thousand on S3), asks the database which of them are videos in batches, and looks
//! into the others only:
//! - a tombstone past `keep_tombstones_for` goes with the folder;
//! - a younger tombstone stays, and whatever was stored beside it since (an upload that
//!   raced the deletion) goes;
//! - files without a tombstone, none changed for `orphan_grace`, are a video's that does
//!   not exist (its deletion task lost, or a database restored from an older backup):
//!   they are deleted as a deleted video's are, tombstone first.
//!
//! Every scheduler may sweep: each step is one that the deletion task itself takes, and
//! taking it twice is harmless.

use reel_core::clock::{millis, unix_ms};
use reel_core::ids::VideoId;
use reel_core::storage::{StorageError, keys};

use crate::SchedulerState;
use crate::error::SchedulerError;

/// What one pass removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Swept {
    /// Videos that do not exist whose files were deleted.
    pub orphans: usize,
    /// Objects stored beside a tombstone, deleted.
    pub leftovers: u64,
    /// Tombstones past their time, removed.
    pub tombstones: usize,
}

/// One pass over every video folder in storage.
pub async fn pass(scheduler: &SchedulerState) -> Result<Swept, SchedulerError> {
    let folders = scheduler
        .storage()
        .list_folders(keys::VIDEOS_PREFIX)
        .await?;
    let ids: Vec<VideoId> = folders
        .iter()
        .filter_map(|name| VideoId::parse(name).ok())
        .collect();
    let existing = scheduler.db().existing_videos(&ids).await?;
    let mut swept = Swept::default();
    for video in ids.into_iter().filter(|v| !existing.contains(v)) {
        examine(scheduler, video, &mut swept).await?;
    }
    Ok(swept)
}

/// Sweeps the folder of `video`, which does not exist.
async fn examine(
    scheduler: &SchedulerState,
    video: VideoId,
    swept: &mut Swept,
) -> Result<(), SchedulerError> {
    let storage = scheduler.storage();
    let config = scheduler.config();
    let now = scheduler.now_ms();
    let prefix = keys::video_prefix(video);
    let deleted_at = match storage.video_state(video).await {
        Ok(state) => state.and_then(|s| s.deleted_at_ms),
        // An unreadable marker is no tombstone; it is replaced by one below.
        Err(StorageError::Corrupt(_)) => None,
        Err(e) => return Err(e.into()),
    };
    if let Some(deleted_at) = deleted_at {
        if now.saturating_sub(deleted_at) >= millis(config.keep_tombstones_for) {
            storage.delete_prefix(&prefix).await?;
            tracing::info!(%video, "a deleted video's tombstone expired");
            swept.tombstones += 1;
        } else {
            let stray = storage
                .delete_prefix_except(&prefix, &keys::video_state(video))
                .await?;
            if stray > 0 {
                tracing::warn!(%video, objects = stray, "files stored after the video's deletion removed");
            }
            swept.leftovers += stray;
        }
        return Ok(());
    }
    let newest = storage
        .list_prefix(&prefix)
        .await?
        .iter()
        .map(|o| unix_ms(o.last_modified))
        .max();
    if newest.is_some_and(|t| now.saturating_sub(t) >= millis(config.orphan_grace)) {
        let objects = storage.delete_video_files(video, now).await?;
        tracing::warn!(%video, objects, "files of a video that does not exist removed");
        swept.orphans += 1;
    }
    Ok(())
}
