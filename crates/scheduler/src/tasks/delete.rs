use reel_core::ids::VideoId;
use reel_core::storage::keys;

use super::Tasks;
use crate::runner::TaskOutcome;

/// Removes every object of `video` (original, playable MP4, renditions, segments,
/// poster, staged uploads). Objects already gone count as deleted, so running it again,
/// or after a crash midway, is harmless; the task's success is the record that they
/// are gone.
pub async fn run(tasks: &Tasks, video: VideoId) -> TaskOutcome {
    match tasks
        .storage
        .delete_prefix(&keys::video_prefix(video))
        .await
    {
        Ok(objects) => {
            tracing::info!(objects, "video files deleted");
            TaskOutcome::Done
        }
        Err(e) => TaskOutcome::Retry(format!("deleting the video's files: {e}")),
    }
}
