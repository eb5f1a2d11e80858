//! A video is ready, and plays, as soon as its first rendition is stored; the ladder
//! and the poster follow without taking that away, even when they fail.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use reel_core::db::{TaskKind, TaskState, VideoRecord};
use reel_core::domain::VideoStatus;
use reel_core::ids::VideoId;
use reel_core::storage::keys;

use crate::helpers::{
    DbKind, ScratchDb, TestScheduler, clip, ffprobe, lavfi_inputs, mp4_boxes, new_video, stream,
    tiny_clip,
};

/// An ffmpeg that runs the real one, after `before` for the ladder's command (the one
/// that writes HLS), and logs every run's arguments to `runs.log`.
fn wrapper(dir: &Path, before: &str) -> PathBuf {
    let path = dir.join("ffmpeg-wrapper");
    std::fs::write(
        &path,
        format!(
            "#!/bin/sh\necho \"$*\" >> \"{log}\"\ncase \"$*\" in *hls_time*) {before} ;; esac\n\
             exec ffmpeg \"$@\"\n",
            log = dir.join("runs.log").display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// The runs of ffmpeg that made a first rendition (an MP4 without HLS).
fn first_runs(app: &TestScheduler) -> usize {
    std::fs::read_to_string(app.data.path().join("runs.log"))
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains("+faststart") && !l.contains("hls_time"))
        .count()
}

/// Polls the video until `done` holds (three minutes at most).
async fn wait_until(
    app: &TestScheduler,
    video: VideoId,
    done: impl Fn(&VideoRecord) -> bool,
) -> VideoRecord {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(180);
    loop {
        let record = app.db().video(video).await.unwrap();
        if done(&record) {
            return record;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never came: {record:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A VP9/Opus WebM, 854×480, 1 s: not playable everywhere, so it is encoded.
fn vp9_webm(dir: &Path) -> PathBuf {
    let mut a = lavfi_inputs("854x480", 1);
    a.extend(
        [
            "-c:v",
            "libvpx-vp9",
            "-deadline",
            "realtime",
            "-cpu-used",
            "8",
            "-b:v",
            "400k",
            "-c:a",
            "libopus",
        ]
        .map(String::from),
    );
    let a: Vec<&str> = a.iter().map(String::as_str).collect();
    clip(dir, "clip.webm", &a)
}

async fn plays_before_its_ladder(make: fn(&Path) -> PathBuf, remux: bool) {
    let data = tempfile::tempdir().unwrap();
    let release = data.path().join("release");
    // The ladder waits until the test has seen the video ready (three minutes at most).
    let ffmpeg = wrapper(
        data.path(),
        &format!(
            "i=0; while [ ! -e '{}' ] && [ $i -lt 3600 ]; do sleep 0.05; i=$((i+1)); done",
            release.display()
        ),
    );
    let app = TestScheduler::start_on(ScratchDb::new(DbKind::Sqlite).await, data, true, |c| {
        c.ffmpeg = ffmpeg;
    })
    .await;
    let file = make(app.data.path());
    let video = new_video(app.db()).await;
    app.upload(video, &file).await;
    app.scheduler.enqueue_process(video).await.unwrap();

    let record = wait_until(&app, video, |r| {
        matches!(r.status, VideoStatus::Ready | VideoStatus::Failed)
    })
    .await;
    assert_eq!(record.status, VideoStatus::Ready, "{record:?}");
    assert!(!record.processed, "the ladder is still to be made");
    assert_eq!(record.progress, Some(0), "the ladder's progress");
    assert!(record.duration_ms.is_some() && record.width.is_some());
    let playable = app.path_of(&keys::playable(video));
    let probe = ffprobe(&playable);
    assert_eq!(stream(&probe, "video").unwrap()["codec_name"], "h264");
    assert_eq!(stream(&probe, "audio").unwrap()["codec_name"], "aac");
    let boxes = mp4_boxes(&playable);
    assert!(
        boxes.iter().position(|b| b == "moov") < boxes.iter().position(|b| b == "mdat"),
        "faststart: {boxes:?}"
    );
    let hls = app.path_of(&keys::hls(video, "master.m3u8").unwrap());
    assert!(!hls.exists() && !app.path_of(&keys::poster(video)).exists());
    let first = std::fs::metadata(&playable).unwrap();

    std::fs::write(&release, b"").unwrap();
    app.wait_for(TaskKind::ProcessVideo, video, TaskState::Done)
        .await;
    let record = app.db().video(video).await.unwrap();
    assert_eq!(record.status, VideoStatus::Ready);
    assert!(record.processed);
    assert_eq!((record.progress, record.failure), (None, None));
    assert!(hls.exists() && app.path_of(&keys::poster(video)).exists());
    let last = std::fs::metadata(&playable).unwrap();
    // A remux is final; a quick encode is replaced by the ladder's full-quality MP4.
    assert_eq!(
        first.modified().unwrap() == last.modified().unwrap(),
        remux,
        "the first MP4 is kept only when it was a remux"
    );
    assert_eq!(first_runs(&app), 1);
    app.stop().await;
}

#[tokio::test]
async fn a_browser_ready_upload_is_remuxed_and_ready_before_its_ladder() {
    plays_before_its_ladder(|dir| tiny_clip(dir, "tiny.mp4"), true).await;
}

#[tokio::test]
async fn other_uploads_are_ready_with_a_quick_rendition_before_their_ladder() {
    plays_before_its_ladder(vp9_webm, false).await;
}

#[tokio::test]
async fn a_failed_ladder_leaves_the_video_playable_with_the_reason() {
    let data = tempfile::tempdir().unwrap();
    // Killed by a signal every time: retried, then given up.
    let ffmpeg = wrapper(data.path(), "kill -9 $$");
    let app = TestScheduler::start_on(ScratchDb::new(DbKind::Sqlite).await, data, true, |c| {
        c.ffmpeg = ffmpeg;
    })
    .await;
    let video = new_video(app.db()).await;
    app.upload(video, &tiny_clip(app.data.path(), "tiny.mp4"))
        .await;
    app.scheduler.enqueue_process(video).await.unwrap();
    let task = app
        .wait_for(TaskKind::ProcessVideo, video, TaskState::Failed)
        .await;
    assert_eq!(task.attempts, 3);
    let record = wait_until(&app, video, |r| r.failure.is_some()).await;
    assert_eq!(record.status, VideoStatus::Ready, "it still plays");
    assert!(!record.processed);
    assert_eq!(record.progress, None);
    assert!(record.failure.unwrap().contains("signal"));
    assert!(app.path_of(&keys::playable(video)).exists());
    assert_eq!(first_runs(&app), 1, "retries make only what is missing");
    // Not queued again and again by the reconciliation.
    assert!(
        !app.db()
            .unprocessed_ready_videos(100)
            .await
            .unwrap()
            .contains(&video)
    );
    app.stop().await;
}
