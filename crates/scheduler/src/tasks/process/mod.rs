//! Making an upload playable in every browser, in named stages: **fetch** the original
//! into a working directory, **plan** what to make from its probe, **transcode** it with
//! ffmpeg, **publish** what was made. On local disk the original is read where it lies
//! (linked, not copied) and the outputs are made beside the store and moved into place;
//! on S3 the original is downloaded and the outputs uploaded.

/// The stages.
mod stages;

use reel_core::db::{DbError, MediaFacts};
use reel_core::domain::VideoStatus;
use reel_core::ids::VideoId;
use reel_core::storage::{ObjectInfo, StorageError, keys};
use tokio::time::Instant;

use super::Tasks;
use crate::ffmpeg::probe::Probe;
use crate::ffmpeg::{Ffmpeg, MediaError};
use crate::runner::TaskOutcome;

/// Why processing stopped.
#[derive(Debug)]
enum Failure {
    /// Something that may pass (storage, database, a killed ffmpeg): retry.
    Transient(String),
    /// The upload cannot be made playable; `reason` is for its owner.
    Unusable {
        reason: String,
        /// The entity tag of the upload that failed.
        etag: String,
    },
}

impl Failure {
    /// What an ffmpeg failure on the upload tagged `etag` means for the task.
    fn of_media(e: MediaError, etag: &str) -> Self {
        match e {
            MediaError::Unusable(reason) => Self::Unusable {
                reason,
                etag: etag.to_owned(),
            },
            MediaError::Interrupted(reason) => Self::Transient(reason),
        }
    }
}

impl From<DbError> for Failure {
    fn from(e: DbError) -> Self {
        Self::Transient(format!("database: {e}"))
    }
}

impl From<StorageError> for Failure {
    fn from(e: StorageError) -> Self {
        Self::Transient(format!("storage: {e}"))
    }
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Self {
        Self::Transient(format!("working files: {e}"))
    }
}

/// Probes the upload of `video` and makes it playable everywhere: `playable.mp4`
/// (H.264/AAC, `faststart`; remuxed when the codecs fit, transcoded otherwise), an HLS
/// ladder with a master playlist, and a JPEG poster, then marks the video ready. A file
/// ffmpeg cannot read marks it failed with the reason. Without ffmpeg the upload is
/// marked ready as it came, unprocessed.
pub async fn run(tasks: &Tasks, video: VideoId) -> TaskOutcome {
    match process(tasks, video).await {
        Ok(()) => TaskOutcome::Done,
        Err(Failure::Transient(reason)) => TaskOutcome::Retry(reason),
        Err(Failure::Unusable { reason, etag }) => {
            tracing::warn!(%reason, "the upload cannot be made playable");
            match tasks
                .db
                .fail_processing(video, &reason, Some(etag.as_str()))
                .await
            {
                Ok(_) => TaskOutcome::Fail(reason),
                Err(e) => TaskOutcome::Retry(format!("recording the failure: {e}")),
            }
        }
    }
}

async fn process(tasks: &Tasks, video: VideoId) -> Result<(), Failure> {
    let Some((ffmpeg, original)) = admit(tasks, video).await? else {
        return Ok(());
    };
    let _slot = ffmpeg.job_slot().await;
    let started = Instant::now();
    let work = stages::fetch(tasks, video, &original).await?;
    let dir = work.path();
    let planned = stages::plan(ffmpeg, dir, &original.etag).await?;
    let duration_ms =
        stages::transcode(tasks, ffmpeg, video, dir, &planned, &original.etag).await?;
    stages::publish(&tasks.storage, video, &original, dir).await?;
    if record(tasks, video, &original, &planned.probe, duration_ms).await? {
        tracing::info!(
            elapsed_ms = started.elapsed().as_millis() as u64,
            "the upload is ready"
        );
    }
    Ok(())
}

/// Decides whether the upload of `video` is to be processed now, and marks it
/// processing: `None` when there is nothing to do (no video, in which case its files are
/// removed; no upload; an upload handled already; or no ffmpeg, in which case the upload
/// is marked ready as it came).
async fn admit(tasks: &Tasks, video: VideoId) -> Result<Option<(&Ffmpeg, ObjectInfo)>, Failure> {
    let Some(state) = tasks.db.media_state(video).await? else {
        // Deleted (or never was): what is stored of it belongs to nobody.
        let objects = tasks
            .storage
            .delete_video_files(video, tasks.clock.now_ms())
            .await?;
        tracing::info!(objects, "the video does not exist; its files are gone");
        return Ok(None);
    };
    let Some(original) = tasks.storage.head(&keys::original(video)).await? else {
        // Its upload notice will queue it again.
        tracing::info!("nothing uploaded yet; nothing to process");
        return Ok(None);
    };
    let handled = match state.status {
        VideoStatus::Failed => true,
        VideoStatus::Ready => state.processed || tasks.ffmpeg.is_none(),
        VideoStatus::AwaitingUpload | VideoStatus::Uploaded | VideoStatus::Processing => false,
    };
    if handled && state.source_etag.as_deref() == Some(original.etag.as_str()) {
        tracing::info!("this upload was handled already");
        return Ok(None);
    }
    let size = i64::try_from(original.size).unwrap_or(i64::MAX);
    let Some(ffmpeg) = &tasks.ffmpeg else {
        let facts = MediaFacts {
            size,
            ..MediaFacts::default()
        };
        tasks
            .db
            .finish_processing(video, &facts, false, &original.etag)
            .await?;
        tracing::warn!("no ffmpeg: the upload is served as it came, unprocessed");
        return Ok(None);
    };
    if original.size == 0 {
        let empty = MediaError::Unusable("the upload is empty".into());
        return Err(Failure::of_media(empty, &original.etag));
    }
    if !tasks.db.start_processing(video, size).await? {
        return Ok(None);
    }
    Ok(Some((ffmpeg, original)))
}

/// Records what was learnt of the upload and marks the video ready; false when the
/// video was deleted meanwhile, in which case what was published is removed.
async fn record(
    tasks: &Tasks,
    video: VideoId,
    original: &ObjectInfo,
    probe: &Probe,
    duration_ms: Option<i64>,
) -> Result<bool, Failure> {
    let display = probe.video.as_ref().map(|v| v.display_size());
    let facts = MediaFacts {
        size: i64::try_from(original.size).unwrap_or(i64::MAX),
        duration_ms,
        width: display.map(|d| i64::from(d.0)),
        height: display.map(|d| i64::from(d.1)),
        video_codec: probe.video.as_ref().map(|v| v.codec.clone()),
        audio_codec: probe.audio.as_ref().map(|a| a.codec.clone()),
    };
    if tasks
        .db
        .finish_processing(video, &facts, true, &original.etag)
        .await?
    {
        return Ok(true);
    }
    // Deleted while it was processed: what was just stored belongs to nobody.
    tasks
        .storage
        .delete_video_files(video, tasks.clock.now_ms())
        .await?;
    tracing::info!("the video was deleted while it was processed; its files are gone");
    Ok(false)
}
