use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use futures::TryStreamExt;
use reel_core::db::{Db, DbError, MediaFacts};
use reel_core::domain::VideoStatus;
use reel_core::ids::VideoId;
use reel_core::storage::{PutError, Storage, StorageError, keys};
use tokio::io::AsyncWriteExt;
use tokio::sync::watch;
use tokio::time::Instant;

use super::Tasks;
use crate::ffmpeg::hls::{self, Variant};
use crate::ffmpeg::plan::{Plan, files};
use crate::ffmpeg::{Ffmpeg, MediaError};
use crate::runner::Outcome;

/// Objects up to this size are stored in one request; larger ones are streamed.
const SMALL_OBJECT: u64 = 8 * 1024 * 1024;
/// Progress is written at most this often.
const PROGRESS_EVERY: Duration = Duration::from_secs(1);

/// Why processing stopped.
#[derive(Debug)]
enum Failure {
    /// Something that may pass (storage, database, a killed ffmpeg): retry.
    Transient(String),
    /// The upload cannot be made playable; `reason` is for its owner.
    Unusable {
        /// Why, in words for people.
        reason: String,
        /// The entity tag of the upload that failed.
        etag: String,
    },
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
pub async fn run(tasks: &Tasks, video: VideoId) -> Outcome {
    match process(tasks, video).await {
        Ok(()) => Outcome::Done,
        Err(Failure::Transient(reason)) => Outcome::Retry(reason),
        Err(Failure::Unusable { reason, etag }) => {
            tracing::warn!(%reason, "the upload cannot be made playable");
            match tasks
                .db
                .fail_processing(video, &reason, Some(etag.as_str()))
                .await
            {
                Ok(_) => Outcome::Fail(reason),
                Err(e) => Outcome::Retry(format!("recording the failure: {e}")),
            }
        }
    }
}

async fn process(tasks: &Tasks, video: VideoId) -> Result<(), Failure> {
    let Some(state) = tasks.db.media_state(video).await? else {
        tracing::info!("the video was deleted; nothing to process");
        return Ok(());
    };
    let Some(original) = tasks.storage.head(&keys::original(video)).await? else {
        // Its upload notice will queue it again.
        tracing::info!("nothing uploaded yet; nothing to process");
        return Ok(());
    };
    let handled = match state.status {
        VideoStatus::Failed => true,
        VideoStatus::Ready => state.processed || tasks.ffmpeg.is_none(),
        VideoStatus::AwaitingUpload | VideoStatus::Processing => false,
    };
    if handled && state.source_etag.as_deref() == Some(original.etag.as_str()) {
        tracing::info!("this upload was handled already");
        return Ok(());
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
        return Ok(());
    };
    let unusable = |e: MediaError| match e {
        MediaError::Unusable(reason) => Failure::Unusable {
            reason,
            etag: original.etag.clone(),
        },
        MediaError::Interrupted(reason) => Failure::Transient(reason),
    };
    if original.size == 0 {
        return Err(unusable(MediaError::Unusable("the upload is empty".into())));
    }
    if !tasks.db.start_processing(video, size).await? {
        return Ok(());
    }
    let _slot = ffmpeg.job_slot().await;
    let started = Instant::now();
    let work = tempfile::Builder::new()
        .prefix("reel-process-")
        .tempdir_in(&tasks.work_dir)?;
    let dir = work.path();
    download(
        &tasks.storage,
        &keys::original(video),
        original.size,
        &dir.join(files::ORIGINAL),
    )
    .await?;

    let probe = ffmpeg.probe(dir, files::ORIGINAL).await.map_err(unusable)?;
    let plan = Plan::new(&probe).map_err(unusable)?;
    for rung in &plan.rungs {
        tokio::fs::create_dir_all(dir.join(files::HLS).join(&rung.name)).await?;
    }
    tracing::info!(
        remux = plan.remuxes(),
        rungs = ?plan.rungs.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(),
        "processing the upload"
    );
    let (progress, watched) = watch::channel(0u8);
    let convert = async {
        let done = ffmpeg
            .run(dir, &plan.main_args(), probe.duration_ms, Some(&progress))
            .await;
        drop(progress);
        done
    };
    let (converted, ()) = tokio::join!(convert, write_progress(&tasks.db, video, watched));
    converted.map_err(unusable)?;
    ffmpeg
        .run(dir, &plan.poster_args(), None, None)
        .await
        .map_err(unusable)?;
    let master = master_playlist(ffmpeg, dir, &plan).await?;
    tokio::fs::write(dir.join(files::HLS).join(files::MASTER), master).await?;
    let duration_ms = match probe.duration_ms {
        Some(d) => Some(d),
        // Some uploads (browser recordings) do not say how long they are; the MP4 does.
        None => ffmpeg
            .probe(dir, files::PLAYABLE)
            .await
            .ok()
            .and_then(|p| p.duration_ms),
    };

    // A new upload may have replaced this one meanwhile; what was made would not match.
    let current = tasks.storage.head(&keys::original(video)).await?;
    if current.is_none_or(|c| c.etag != original.etag) {
        return Err(Failure::Transient(
            "the upload was replaced while it was processed; processing it again".into(),
        ));
    }
    store_outputs(&tasks.storage, video, &dir.join(files::OUT)).await?;
    let display = probe.video.as_ref().map(|v| v.display_size());
    let facts = MediaFacts {
        size,
        duration_ms,
        width: display.map(|d| i64::from(d.0)),
        height: display.map(|d| i64::from(d.1)),
        video_codec: probe.video.as_ref().map(|v| v.codec.clone()),
        audio_codec: probe.audio.as_ref().map(|a| a.codec.clone()),
    };
    if !tasks
        .db
        .finish_processing(video, &facts, true, &original.etag)
        .await?
    {
        // Deleted while it was processed: what was just stored belongs to nobody.
        tasks
            .storage
            .delete_prefix(&keys::video_prefix(video))
            .await?;
        tracing::info!("the video was deleted while it was processed; its files are gone");
        return Ok(());
    }
    tracing::info!(
        elapsed_ms = started.elapsed().as_millis() as u64,
        "the upload is ready"
    );
    Ok(())
}

/// Copies the upload into the working directory.
async fn download(storage: &Storage, key: &str, size: u64, to: &Path) -> Result<(), Failure> {
    let mut file = tokio::fs::File::create(to).await?;
    let mut body = storage.read_range(key, 0..size).await?;
    while let Some(chunk) = body.try_next().await? {
        file.write_all(&chunk).await?;
    }
    file.flush().await?;
    Ok(())
}

/// Writes progress changes to the video, at most once per [`PROGRESS_EVERY`], until
/// the sender goes away.
async fn write_progress(db: &Db, video: VideoId, mut progress: watch::Receiver<u8>) {
    let mut last: Option<Instant> = None;
    while progress.changed().await.is_ok() {
        if last.is_some_and(|t| t.elapsed() < PROGRESS_EVERY) {
            continue;
        }
        let percent = *progress.borrow_and_update();
        if let Err(e) = db.set_progress(video, i64::from(percent)).await {
            tracing::warn!(error = %e, "could not record the progress");
        }
        last = Some(Instant::now());
    }
}

/// The master playlist over the renditions in the working directory, with the
/// bitrates they turned out to have and the codecs of their segments.
async fn master_playlist(ffmpeg: &Ffmpeg, dir: &Path, plan: &Plan) -> Result<String, Failure> {
    let mut variants = Vec::with_capacity(plan.rungs.len());
    for rung in &plan.rungs {
        let rung_dir = dir.join(files::HLS).join(&rung.name);
        let playlist = tokio::fs::read_to_string(rung_dir.join(files::MEDIA_PLAYLIST)).await?;
        let (peak_bps, average_bps) = hls::bitrates(&rung_dir, &playlist).await?;
        let codecs = match hls::segments(&playlist).first() {
            Some((first, _)) => {
                let segment = format!("{}/{}/{first}", files::HLS, rung.name);
                ffmpeg
                    .probe(dir, &segment)
                    .await
                    .ok()
                    .as_ref()
                    .and_then(hls::codecs)
            }
            None => None,
        };
        variants.push(Variant {
            uri: format!("{}/{}", rung.name, files::MEDIA_PLAYLIST),
            peak_bps,
            average_bps,
            resolution: rung.size,
            codecs,
        });
    }
    Ok(hls::master_playlist(&variants))
}

/// The storage key of a file made under `out/`, through the key layout the stream
/// server serves from.
fn key_of(video: VideoId, relative: &str) -> Result<String, Failure> {
    let bad = || Failure::Transient(format!("unexpected output file {relative:?}"));
    if relative == "playable.mp4" {
        Ok(keys::playable(video))
    } else if relative == "poster.jpg" {
        Ok(keys::poster(video))
    } else {
        let path = relative.strip_prefix("hls/").ok_or_else(bad)?;
        keys::hls(video, path).ok_or_else(bad)
    }
}

/// Stores everything under `out`: the renditions first, then the master playlist,
/// the poster and last the MP4, so that nothing is linked before what it links to is
/// there. Renditions of an earlier run that this one did not make are removed.
async fn store_outputs(storage: &Storage, video: VideoId, out: &Path) -> Result<(), Failure> {
    let mut made = files_under(out).await?;
    let rank = |relative: &str| match relative {
        "playable.mp4" => 3,
        "poster.jpg" => 2,
        r if r.ends_with(files::MASTER) => 1,
        _ => 0,
    };
    made.sort_by(|a, b| rank(a).cmp(&rank(b)).then_with(|| a.cmp(b)));
    let mut stored = HashSet::with_capacity(made.len());
    for relative in &made {
        let key = key_of(video, relative)?;
        store_file(storage, &key, &out.join(relative)).await?;
        stored.insert(key);
    }
    for old in storage.list_prefix(&keys::hls_prefix(video)).await? {
        if !stored.contains(&old.key) {
            storage.delete(&old.key).await?;
        }
    }
    Ok(())
}

async fn store_file(storage: &Storage, key: &str, path: &Path) -> Result<(), Failure> {
    let size = tokio::fs::metadata(path).await?.len();
    if size <= SMALL_OBJECT {
        let bytes = tokio::fs::read(path).await?;
        storage.put(key, Bytes::from(bytes)).await?;
        return Ok(());
    }
    let file = tokio::fs::File::open(path).await?;
    let body = tokio_util::io::ReaderStream::with_capacity(file, 1 << 20);
    match storage.put_stream(key, body).await {
        Ok(_) => Ok(()),
        Err(PutError::Source(e)) => Err(e.into()),
        Err(PutError::Storage(e)) => Err(e.into()),
    }
}

/// Every file under `root`, as `/`-separated paths relative to it.
async fn files_under(root: &Path) -> std::io::Result<Vec<String>> {
    let mut found = Vec::new();
    let mut dirs = vec![PathBuf::new()];
    while let Some(relative) = dirs.pop() {
        let mut entries = tokio::fs::read_dir(root.join(&relative)).await?;
        while let Some(entry) = entries.next_entry().await? {
            let path = relative.join(entry.file_name());
            if entry.file_type().await?.is_dir() {
                dirs.push(path);
            } else {
                let text = path.to_string_lossy().replace('\\', "/");
                found.push(text);
            }
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs_land_on_the_keys_the_stream_server_serves() {
        let v = VideoId::random();
        assert_eq!(key_of(v, "playable.mp4").unwrap(), keys::playable(v));
        assert_eq!(key_of(v, "poster.jpg").unwrap(), keys::poster(v));
        assert_eq!(
            key_of(v, "hls/720p/seg_000.ts").unwrap(),
            format!("videos/{v}/hls/720p/seg_000.ts")
        );
        assert!(key_of(v, "stray.txt").is_err());
    }
}
