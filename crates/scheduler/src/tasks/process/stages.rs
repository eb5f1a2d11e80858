//! The stages of processing, each given the working directory the one before left.

use std::collections::HashSet;
use std::path::Path;
use std::time::Duration;

use futures::TryStreamExt;
use reel_core::db::Db;
use reel_core::ids::VideoId;
use reel_core::sniff::{self, Container, SNIFF_LEN};
use reel_core::storage::{self, ObjectInfo, Storage, keys};
use tempfile::TempDir;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::watch;
use tokio::time::Instant;

use super::{Failure, Tasks};
use crate::ffmpeg::hls::{self, Variant};
use crate::ffmpeg::plan::{Plan, files};
use crate::ffmpeg::probe::Probe;
use crate::ffmpeg::{Ffmpeg, MediaError, Source};

/// Progress is written at most this often.
const PROGRESS_EVERY: Duration = Duration::from_secs(1);

/// Fetch: a fresh working directory with the upload at [`files::ORIGINAL`]. On local
/// disk the directory is made beside the store and the original is a hard link to the
/// stored file: nothing is copied, and a new upload replacing it meanwhile does not
/// change what is being processed. On S3 the original is downloaded.
pub(super) async fn fetch(
    tasks: &Tasks,
    video: VideoId,
    original: &ObjectInfo,
) -> Result<TempDir, Failure> {
    let storage = &tasks.storage;
    let parent = storage
        .scratch_dir()
        .unwrap_or_else(|| tasks.work_dir.clone());
    let work = tempfile::Builder::new()
        .prefix("reel-process-")
        .tempdir_in(parent)?;
    let to = work.path().join(files::ORIGINAL);
    match storage.local_path(&original.key) {
        Some(stored) => tokio::fs::hard_link(stored, &to).await?,
        None => {
            let mut file = tokio::fs::File::create(&to).await?;
            let mut body = storage.read_range(&original.key, 0..original.size).await?;
            while let Some(chunk) = body.try_next().await? {
                file.write_all(&chunk).await?;
            }
            file.flush().await?;
        }
    }
    tracing::debug!(%video, local = storage.scratch_dir().is_some(), "original fetched");
    Ok(work)
}

/// What the plan stage decided.
pub(super) struct Planned {
    /// How ffmpeg opens the upload.
    pub source: Source,
    /// What ffprobe said of it.
    pub probe: Probe,
    /// What to make of it.
    pub plan: Plan,
}

/// Plan: the upload's container, what ffprobe says of the upload opened as that
/// container, and what to make of it. The stream server refused what is no video, but
/// the bytes are sniffed again here: what ffmpeg opens is never left to its guess.
pub(super) async fn plan(ffmpeg: &Ffmpeg, dir: &Path, etag: &str) -> Result<Planned, Failure> {
    let unusable = |e| Failure::of_media(e, etag);
    let mut head = Vec::with_capacity(SNIFF_LEN);
    tokio::fs::File::open(dir.join(files::ORIGINAL))
        .await?
        .take(SNIFF_LEN as u64)
        .read_to_end(&mut head)
        .await?;
    let Some(container) = sniff::detect(&head) else {
        return Err(unusable(MediaError::Unusable(
            "not a video: accepted containers are MP4/MOV, Matroska/WebM, AVI, MPEG-TS, FLV \
             and Ogg"
                .into(),
        )));
    };
    let source = ffmpeg.source(container);
    let probe = ffmpeg
        .probe(dir, files::ORIGINAL, &source)
        .await
        .map_err(unusable)?;
    let plan = Plan::new(&probe).map_err(unusable)?;
    for rung in &plan.rungs {
        tokio::fs::create_dir_all(dir.join(files::HLS).join(&rung.name)).await?;
    }
    tracing::info!(
        container = source.format,
        remux = plan.remuxes(),
        rungs = ?plan.rungs.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(),
        "processing the upload"
    );
    Ok(Planned {
        source,
        probe,
        plan,
    })
}

/// First: the first `playable.mp4` under [`files::OUT`] (progress recorded as it goes),
/// a faststart remux of an upload browsers play as it is, a quick encode of anything
/// else. Returns the duration, from the MP4 when the upload did not say.
pub(super) async fn first(
    tasks: &Tasks,
    ffmpeg: &Ffmpeg,
    video: VideoId,
    dir: &Path,
    planned: &Planned,
    etag: &str,
) -> Result<Option<i64>, Failure> {
    let Planned {
        source,
        probe,
        plan,
    } = planned;
    run_with_progress(
        tasks,
        ffmpeg,
        video,
        dir,
        &plan.first_args(source),
        probe,
        etag,
    )
    .await?;
    Ok(match probe.duration_ms {
        Some(d) => Some(d),
        // Some uploads (browser recordings) do not say how long they are; the MP4 does.
        None => ffmpeg
            .probe(dir, files::PLAYABLE, &ffmpeg.source(Container::Mp4))
            .await
            .ok()
            .and_then(|p| p.duration_ms),
    })
}

/// Transcode: the HLS ladder (progress recorded as it goes) with, unless the first
/// MP4 was a remux and so final already, the MP4 at full quality; the poster and the
/// master playlist, all under [`files::OUT`].
pub(super) async fn transcode(
    tasks: &Tasks,
    ffmpeg: &Ffmpeg,
    video: VideoId,
    dir: &Path,
    planned: &Planned,
    duration_ms: Option<i64>,
    etag: &str,
) -> Result<(), Failure> {
    let unusable = |e| Failure::of_media(e, etag);
    let Planned {
        source,
        probe,
        plan,
    } = planned;
    let mp4 = !plan.remux_only();
    if !mp4 {
        // Published already (and moved there on local disk; not to be uploaded twice).
        match tokio::fs::remove_file(dir.join(files::PLAYABLE)).await {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
            _ => {}
        }
    }
    let args = plan.ladder_args(source, mp4);
    run_with_progress(tasks, ffmpeg, video, dir, &args, probe, etag).await?;
    ffmpeg
        .run(dir, &plan.poster_args(source), duration_ms, None)
        .await
        .map_err(unusable)?;
    let master = master_playlist(ffmpeg, dir, plan).await?;
    tokio::fs::write(dir.join(files::HLS).join(files::MASTER), master).await?;
    Ok(())
}

/// Runs ffmpeg with `args`, writing its progress to the video as it goes.
async fn run_with_progress(
    tasks: &Tasks,
    ffmpeg: &Ffmpeg,
    video: VideoId,
    dir: &Path,
    args: &[std::ffi::OsString],
    probe: &Probe,
    etag: &str,
) -> Result<(), Failure> {
    let (progress, watched) = watch::channel(0u8);
    let convert = async {
        let done = ffmpeg
            .run(dir, args, probe.duration_ms, Some(&progress))
            .await;
        drop(progress);
        done
    };
    let (converted, ()) = tokio::join!(convert, write_progress(&tasks.db, video, watched));
    converted.map_err(|e| Failure::of_media(e, etag))
}

/// Publish: stores everything under [`files::OUT`] unless a new upload replaced the
/// original meanwhile (what was made would not match it): the renditions first, then
/// the master playlist, the poster and last the MP4, so that nothing is linked before
/// what it links to is there. Renditions of an earlier run that this one did not make
/// are removed.
pub(super) async fn publish(
    storage: &Storage,
    video: VideoId,
    original: &ObjectInfo,
    dir: &Path,
) -> Result<(), Failure> {
    let current = storage.head(&original.key).await?;
    if current.is_none_or(|c| c.etag != original.etag) {
        return Err(Failure::Transient(
            "the upload was replaced while it was processed; processing it again".into(),
        ));
    }
    let out = dir.join(files::OUT);
    let mut made = storage::files_under(&out).await?;
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
        storage.put_file(&key, &out.join(relative), None).await?;
        stored.insert(key);
    }
    for old in storage.list_prefix(&keys::hls_prefix(video)).await? {
        if !stored.contains(&old.key) {
            storage.delete(&old.key).await?;
        }
    }
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
                    .probe(dir, &segment, &ffmpeg.source(Container::MpegTs))
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
