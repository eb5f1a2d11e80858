//! The work behind each kind of task.

/// Deleting every object of a deleted video.
pub mod delete;
/// Making an upload playable in every browser.
pub mod process;
/// Telling the stream servers a video's visibility.
pub mod state;

use std::path::PathBuf;
use std::sync::Arc;

use reel_core::clock::SharedClock;
use reel_core::db::{ClaimedTask, Db, TaskKind};
use reel_core::storage::Storage;

use tokio::sync::OnceCell;

use crate::ffmpeg::{Ffmpeg, FfmpegSettings};
use crate::runner::{Execute, TaskOutcome};

/// The executor of reel's tasks: what they need, and which code runs each kind.
#[derive(Clone)]
pub struct Tasks {
    /// Videos and their tasks.
    pub(crate) db: Db,
    /// Video files.
    pub(crate) storage: Storage,
    /// How ffmpeg is run, and whether it works on this machine: found out once, on
    /// first use ([`Tasks::ffmpeg`]), which the scheduler makes in the background at
    /// start so that starting never waits for ffmpeg.
    ffmpeg: Arc<(FfmpegSettings, OnceCell<Option<Ffmpeg>>)>,
    /// Where processing keeps its working files when storage is S3 (on local disk they
    /// live beside the store, so that outputs move into place without a copy).
    pub(crate) work_dir: PathBuf,
    /// The time of tombstones.
    pub(crate) clock: SharedClock,
}

impl Tasks {
    /// An executor over `db` and `storage`, running ffmpeg as `ffmpeg` says; where
    /// ffmpeg does not work, uploads are served as they came.
    pub fn new(
        db: Db,
        storage: Storage,
        ffmpeg: FfmpegSettings,
        work_dir: PathBuf,
        clock: SharedClock,
    ) -> Self {
        Self {
            db,
            storage,
            ffmpeg: Arc::new((ffmpeg, OnceCell::new())),
            work_dir,
            clock,
        }
    }

    /// ffmpeg, when it works on this machine (checked on the first call).
    pub(crate) async fn ffmpeg(&self) -> Option<&Ffmpeg> {
        let (settings, found) = &*self.ffmpeg;
        found
            .get_or_init(|| Ffmpeg::detect(settings.clone()))
            .await
            .as_ref()
    }
}

impl Execute for Tasks {
    async fn execute(&self, task: &ClaimedTask) -> TaskOutcome {
        match task.kind {
            TaskKind::DeleteVideo => delete::run(self, task.video_id).await,
            TaskKind::ProcessVideo => process::run(self, task.video_id).await,
            TaskKind::SyncState => state::run(self, task.video_id).await,
        }
    }

    async fn gave_up(&self, task: &ClaimedTask, reason: &str) {
        if task.kind == TaskKind::ProcessVideo
            && let Err(e) = self.db.fail_processing(task.video_id, reason, None).await
        {
            tracing::error!(error = %e, "could not mark the video failed");
        }
    }
}
