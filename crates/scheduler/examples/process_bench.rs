//! Processes one clip through reel's scheduler (SQLite, local storage) and times it from
//! the moment the task is queued to the moment the video is ready (plays) and to the
//! moment it is processed (ladder and poster made); then writes the ffmpeg and ffprobe
//! commands that processing ran as shell scripts, so that `bench/process.sh` can time
//! the same commands run bare: those that make it playable, and all of them.
//!
//! Usage: `process_bench <clip> <work dir>`; prints `ready_ms=N` and `reel_ms=N`,
//! writes `<work dir>/bare-first.sh` and `<work dir>/bare.sh`.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use reel_core::config::SiteConfig;
use reel_core::db::NewVideo;
use reel_core::domain::VideoStatus;
use reel_core::ids::{UserId, VideoId};
use reel_core::signing::SigningKey;
use reel_core::site::Site;
use reel_core::sniff::{self, Container, SNIFF_LEN};
use reel_core::storage::keys;
use reel_scheduler::ffmpeg::plan::{Plan, files};
use reel_scheduler::ffmpeg::{Ffmpeg, FfmpegSettings, probe_args};
use reel_scheduler::{Config, SchedulerState};
use tokio_util::sync::CancellationToken;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args_os().skip(1);
    let (Some(clip), Some(work)) = (args.next(), args.next()) else {
        bail!("usage: process_bench <clip> <work dir>");
    };
    let (clip, work) = (PathBuf::from(clip), PathBuf::from(work));
    let (ready_ms, reel_ms) = through_reel(&clip, &work.join("reel")).await?;
    println!("ready_ms={ready_ms}");
    println!("reel_ms={reel_ms}");
    write_bare_script(&clip, &work.join("bare"), &work).await
}

/// Uploads the clip, queues its processing, and waits until the video is ready, then
/// processed; returns both times.
async fn through_reel(clip: &Path, data: &Path) -> anyhow::Result<(u128, u128)> {
    std::fs::create_dir_all(data)?;
    let config = Config {
        tick: Duration::from_millis(20),
        work_dir: Some(data.to_owned()),
        ..Config::default()
    };
    let mut site = SiteConfig::default();
    site.db.data_dir = data.to_owned();
    site.signing_key = Some(SigningKey::random());
    let scheduler = SchedulerState::build(config, &Site::new(site)).await?;
    ensure!(scheduler.processes_uploads().await, "ffmpeg is required");
    let db = scheduler.db();
    let user = UserId::random();
    db.create_user(user, "bench", "not a real hash", 0).await?;
    let video = VideoId::random();
    db.create_video(&NewVideo {
        id: video,
        author_id: user,
        name: "bench".into(),
        create_time: 0,
        visibility: reel_core::domain::Visibility::Public,
        description: String::new(),
    })
    .await?;
    // The upload is the stream server's work, not processing's: it is stored first.
    let file = tokio::fs::File::open(clip).await?;
    scheduler
        .storage()
        .put_stream(
            &keys::original(video),
            None,
            tokio_util::io::ReaderStream::new(file),
        )
        .await
        .map_err(|e| anyhow::anyhow!("storing the clip: {e}"))?;

    let stop = CancellationToken::new();
    let running = scheduler.spawn(stop.clone().cancelled_owned());
    let started = Instant::now();
    scheduler.enqueue_process(video).await?;
    let mut ready = None;
    loop {
        let state = db.media_state(video).await?.context("the video vanished")?;
        match state.status {
            VideoStatus::Ready if state.processed => break,
            VideoStatus::Ready => {
                ready.get_or_insert_with(|| started.elapsed().as_millis());
            }
            VideoStatus::Failed => bail!("processing failed: {:?}", db.video(video).await?.failure),
            _ => {}
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let elapsed = started.elapsed().as_millis();
    stop.cancel();
    running.await?;
    Ok((ready.unwrap_or(elapsed), elapsed))
}

/// Writes the commands processing runs for the clip, in a fresh directory, as scripts
/// in `work`: `bare-first.sh` until it plays, `bare.sh` all of them.
async fn write_bare_script(clip: &Path, dir: &Path, work: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    std::fs::copy(clip, dir.join(files::ORIGINAL))?;
    let ffmpeg = Ffmpeg::detect(FfmpegSettings {
        jobs: 1,
        ..Config::default().ffmpeg_settings()
    })
    .await
    .context("ffmpeg is required")?;
    let head = std::fs::read(clip)?;
    let container = sniff::detect(&head[..head.len().min(SNIFF_LEN)])
        .context("the clip is not in a container reel accepts")?;
    let source = ffmpeg.source(container);
    let probe = ffmpeg.probe(dir, files::ORIGINAL, &source).await?;
    let plan = Plan::new(&probe)?;
    let mut text = format!("set -e\ncd {}\n", quote(dir.as_os_str()));
    for rung in &plan.rungs {
        text.push_str(&format!("mkdir -p {}/{}\n", files::HLS, rung.name));
    }
    let line = |program: &str, args: &[OsString]| {
        let args: Vec<String> = args.iter().map(|a| quote(a)).collect();
        format!("{program} {} > /dev/null\n", args.join(" "))
    };
    text.push_str(&line("ffprobe", &probe_args(files::ORIGINAL, &source)));
    text.push_str(&line("ffmpeg", &plan.first_args(&source)));
    std::fs::write(work.join("bare-first.sh"), &text)?;
    text.push_str(&line(
        "ffmpeg",
        &plan.ladder_args(&source, !plan.remux_only()),
    ));
    text.push_str(&line("ffmpeg", &plan.poster_args(&source)));
    let segments = ffmpeg.source(Container::MpegTs);
    for rung in &plan.rungs {
        let segment = format!("{}/{}/seg_000.ts", files::HLS, rung.name);
        text.push_str(&line("ffprobe", &probe_args(&segment, &segments)));
    }
    std::fs::write(work.join("bare.sh"), text)?;
    Ok(())
}

/// A shell word for `arg`, in single quotes.
fn quote(arg: &std::ffi::OsStr) -> String {
    format!("'{}'", arg.to_string_lossy().replace('\'', r"'\''"))
}
