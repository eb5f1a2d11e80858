use reel_core::ids::VideoId;

use super::Tasks;
use crate::runner::TaskOutcome;

/// Removes every object of `video` (original, playable MP4, renditions, segments,
/// poster, staged uploads) but its tombstone, written first: from then on no stream
/// server takes or serves its bytes for longer than its marker cache's TTL, although
/// upload tokens for it may still be valid (the storage sweep removes the tombstone when
/// they have expired). Objects already gone count as deleted, so running it again, or
/// after a crash midway, is harmless; the task's success is the record that they are
/// gone.
pub async fn run(tasks: &Tasks, video: VideoId) -> TaskOutcome {
    match tasks
        .storage
        .delete_video_files(video, tasks.clock.now_ms())
        .await
    {
        Ok(objects) => {
            tracing::info!(objects, "video files deleted");
            TaskOutcome::Done
        }
        Err(e) => TaskOutcome::Retry(format!("deleting the video's files: {e}")),
    }
}
