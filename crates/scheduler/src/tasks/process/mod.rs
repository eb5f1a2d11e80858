//! Making an upload playable in every browser, in named stages: **fetch** the original
//! into a working directory, **plan** what to make from its probe, make the **first**
//! rendition (a faststart remux, or a quick encode) and **publish** it, marking the video
//! ready; then **transcode** the ladder and poster and **publish** them, marking it
//! processed. On local disk the original is read where it lies (linked, not copied) and
//! the outputs are made beside the store and moved into place; on S3 the original is
//! downloaded and the outputs uploaded.

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

/// Probes the upload of `video` and makes it playable everywhere: first `playable.mp4`
/// (H.264/AAC, `faststart`; remuxed when the codecs fit, quickly transcoded otherwise),
/// after which the video is ready; then an HLS ladder with a master playlist, a JPEG
/// poster and, when the first MP4 was a quick one, the MP4 at full quality, after which
/// it is processed. A file ffmpeg cannot read marks it failed with the reason (a video
/// that plays already stays ready, with the reason). Without ffmpeg the upload is
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
    let Some(Admitted {
        ffmpeg,
        original,
        playable,
    }) = admit(tasks, video).await?
    else {
        return Ok(());
    };
    let _slot = ffmpeg.job_slot().await;
    let started = Instant::now();
    let work = stages::fetch(tasks, video, &original).await?;
    let dir = work.path();
    let planned = stages::plan(ffmpeg, dir, &original.etag).await?;
    let etag = original.etag.as_str();
    let mut duration_ms = planned.probe.duration_ms;
    if !playable {
        duration_ms = stages::first(tasks, ffmpeg, video, dir, &planned, etag).await?;
        stages::publish(&tasks.storage, video, &original, dir).await?;
        if !record(tasks, video, &original, &planned.probe, duration_ms, false).await? {
            return Ok(());
        }
        tracing::info!(
            elapsed_ms = started.elapsed().as_millis() as u64,
            "the upload is ready to watch; making the rest"
        );
    }
    stages::transcode(tasks, ffmpeg, video, dir, &planned, duration_ms, etag).await?;
    stages::publish(&tasks.storage, video, &original, dir).await?;
    if record(tasks, video, &original, &planned.probe, duration_ms, true).await? {
        tracing::info!(
            elapsed_ms = started.elapsed().as_millis() as u64,
            "the upload is processed"
        );
    }
    Ok(())
}

/// An upload admitted for processing.
struct Admitted<'a> {
    ffmpeg: &'a Ffmpeg,
    /// The stored upload.
    original: ObjectInfo,
    /// Whether the video plays already (its first rendition is stored): only the rest
    /// is to be made, and the video stays ready meanwhile.
    playable: bool,
}

/// Decides whether the upload of `video` is to be processed now, and marks it
/// processing unless it plays already: `None` when there is nothing to do (no video, in
/// which case its files are removed; no upload; an upload handled already; or no
/// ffmpeg, in which case the upload is marked ready as it came).
async fn admit(tasks: &Tasks, video: VideoId) -> Result<Option<Admitted<'_>>, Failure> {
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
    let found = tasks.ffmpeg().await;
    let this_upload = state.source_etag.as_deref() == Some(original.etag.as_str());
    let handled = match state.status {
        VideoStatus::Failed => true,
        VideoStatus::Ready => state.processed || state.failure.is_some() || found.is_none(),
        VideoStatus::AwaitingUpload | VideoStatus::Uploaded | VideoStatus::Processing => false,
    };
    if handled && this_upload {
        tracing::info!("this upload was handled already");
        return Ok(None);
    }
    let size = i64::try_from(original.size).unwrap_or(i64::MAX);
    let Some(ffmpeg) = found else {
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
    // A ready video of this upload keeps playing while it is processed: one served as
    // it came (processed by nobody yet) until its first rendition replaces that, one
    // whose first rendition is stored (a progress says so) until the rest is made.
    let ready = state.status == VideoStatus::Ready && this_upload;
    if !ready && !tasks.db.start_processing(video, size).await? {
        return Ok(None);
    }
    Ok(Some(Admitted {
        ffmpeg,
        original,
        playable: ready && state.progress.is_some(),
    }))
}

/// Records what was learnt of the upload and marks the video ready, and `processed`
/// or not; false when the video was deleted meanwhile, in which case what was published
/// is removed.
async fn record(
    tasks: &Tasks,
    video: VideoId,
    original: &ObjectInfo,
    probe: &Probe,
    duration_ms: Option<i64>,
    processed: bool,
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
    let marked = if processed {
        tasks
            .db
            .finish_processing(video, &facts, true, &original.etag)
            .await?
    } else {
        tasks
            .db
            .mark_playable(video, &facts, &original.etag)
            .await?
    };
    if marked {
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
