//! Processing real clips made with ffmpeg (VP9/Opus WebM, H.264 MP4 without
//! faststart, H.264 MOV, a corrupt file, audio only), checked with ffprobe; progress,
//! the job limit, and the path without ffmpeg.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use reel_core::db::{TaskKind, TaskState};
use reel_core::domain::VideoStatus;
use reel_core::ids::VideoId;
use reel_core::storage::keys;

use crate::helpers::{
    TestScheduler, clip, ffprobe, lavfi_inputs, mp4_boxes, new_video, stream, tiny_clip,
    video_packets_md5,
};

fn args(inputs: Vec<String>, rest: &[&str]) -> Vec<String> {
    inputs
        .into_iter()
        .chain(rest.iter().map(|s| (*s).to_owned()))
        .collect()
}

fn make(dir: &Path, name: &str, args: &[String]) -> PathBuf {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    clip(dir, name, &args)
}

/// A VP9/Opus WebM, 854×480, 2 s.
fn vp9_webm(dir: &Path) -> PathBuf {
    let a = args(
        lavfi_inputs("854x480", 2),
        &[
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
        ],
    );
    make(dir, "clip.webm", &a)
}

/// An H.264/AAC MP4, 640×480, 2 s, with its index at the end (no faststart).
fn h264_mp4(dir: &Path) -> PathBuf {
    let a = args(
        lavfi_inputs("640x480", 2),
        &[
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
        ],
    );
    make(dir, "clip.mp4", &a)
}

/// An H.264/AAC QuickTime file, 320×240, 1 s.
fn h264_mov(dir: &Path) -> PathBuf {
    let a = args(
        lavfi_inputs("320x240", 1),
        &[
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
        ],
    );
    make(dir, "clip.mov", &a)
}

/// Processes `file` as a new video's upload and waits for the task to settle.
async fn process(app: &TestScheduler, file: &Path, settled: TaskState) -> VideoId {
    let video = new_video(app.db()).await;
    app.upload(video, file).await;
    app.scheduler.enqueue_process(video).await.unwrap();
    app.wait_for(TaskKind::ProcessVideo, video, settled).await;
    video
}

fn hls_master(app: &TestScheduler, video: VideoId) -> String {
    std::fs::read_to_string(app.path_of(&keys::hls(video, "master.m3u8").unwrap())).unwrap()
}

/// Checks the playable MP4: H.264 (and AAC when `audio`), `moov` before `mdat`.
fn assert_playable_mp4(path: &Path, audio: bool) -> serde_json::Value {
    let probe = ffprobe(path);
    assert_eq!(stream(&probe, "video").unwrap()["codec_name"], "h264");
    if audio {
        assert_eq!(stream(&probe, "audio").unwrap()["codec_name"], "aac");
    }
    let boxes = mp4_boxes(path);
    let moov = boxes.iter().position(|b| b == "moov").unwrap();
    let mdat = boxes.iter().position(|b| b == "mdat").unwrap();
    assert!(moov < mdat, "faststart: the index comes first: {boxes:?}");
    probe
}

#[tokio::test]
async fn a_vp9_webm_is_transcoded_to_mp4_hls_and_a_poster() {
    let app = TestScheduler::start(|_| {}).await;
    let file = vp9_webm(app.data.path());
    let video = process(&app, &file, TaskState::Done).await;

    let record = app.db().video(video).await.unwrap();
    assert_eq!(record.status, VideoStatus::Ready);
    assert_eq!((record.width, record.height), (Some(854), Some(480)));
    let duration = record.duration_ms.unwrap();
    assert!((1900..=2100).contains(&duration), "{duration}");
    assert_eq!(
        record.size,
        Some(std::fs::metadata(&file).unwrap().len() as i64)
    );
    assert_eq!((record.progress, record.failure), (None, None));
    let state = app.db().media_state(video).await.unwrap().unwrap();
    assert!(state.processed);

    let playable = assert_playable_mp4(&app.path_of(&keys::playable(video)), true);
    assert_eq!(stream(&playable, "video").unwrap()["width"], 854);

    let master = hls_master(&app, video);
    assert!(master.contains("RESOLUTION=640x360"), "{master}");
    assert!(master.contains("RESOLUTION=854x480"), "{master}");
    assert!(master.contains("CODECS=\"avc1.64"), "{master}");
    assert!(master.contains("360p/index.m3u8") && master.contains("480p/index.m3u8"));
    for rung in ["360p", "480p"] {
        let key = keys::hls(video, &format!("{rung}/index.m3u8")).unwrap();
        let probe = ffprobe(&app.path_of(&key));
        assert_eq!(stream(&probe, "video").unwrap()["codec_name"], "h264");
        assert_eq!(stream(&probe, "audio").unwrap()["codec_name"], "aac");
    }
    let master_probe = ffprobe(&app.path_of(&keys::hls(video, "master.m3u8").unwrap()));
    assert!(stream(&master_probe, "video").is_some());

    let poster = ffprobe(&app.path_of(&keys::poster(video)));
    let picture = stream(&poster, "video").unwrap();
    assert_eq!(picture["codec_name"], "mjpeg");
    assert_eq!(
        (&picture["width"], &picture["height"]),
        (&854.into(), &480.into())
    );
    app.stop().await;
}

#[tokio::test]
async fn an_h264_mp4_without_faststart_is_remuxed_not_transcoded() {
    let app = TestScheduler::start(|_| {}).await;
    let file = h264_mp4(app.data.path());
    let boxes = mp4_boxes(&file);
    assert!(
        boxes.iter().position(|b| b == "mdat") < boxes.iter().position(|b| b == "moov"),
        "the clip starts without faststart: {boxes:?}"
    );
    let video = process(&app, &file, TaskState::Done).await;
    let playable = app.path_of(&keys::playable(video));
    assert_playable_mp4(&playable, true);
    assert_eq!(
        video_packets_md5(&playable),
        video_packets_md5(&file),
        "the video stream is copied as it is"
    );
    let master = hls_master(&app, video);
    assert!(master.contains("360p/index.m3u8") && master.contains("480p/index.m3u8"));

    // Processing the same upload again changes nothing.
    let before = app.storage().head(&keys::playable(video)).await.unwrap();
    app.scheduler.enqueue_process(video).await.unwrap();
    app.wait_for(TaskKind::ProcessVideo, video, TaskState::Done)
        .await;
    let after = app.storage().head(&keys::playable(video)).await.unwrap();
    assert_eq!(before, after);
    app.stop().await;
}

#[tokio::test]
async fn an_h264_mov_becomes_a_playable_mp4() {
    let app = TestScheduler::start(|_| {}).await;
    let file = h264_mov(app.data.path());
    let video = process(&app, &file, TaskState::Done).await;
    let playable = app.path_of(&keys::playable(video));
    let probe = assert_playable_mp4(&playable, true);
    assert!(
        probe["format"]["format_name"]
            .as_str()
            .unwrap()
            .contains("mp4")
    );
    assert_eq!(video_packets_md5(&playable), video_packets_md5(&file));
    assert!(hls_master(&app, video).contains("240p/index.m3u8"));
    app.stop().await;
}

#[tokio::test]
async fn a_corrupt_file_fails_at_once_with_a_readable_reason() {
    let app = TestScheduler::start(|_| {}).await;
    let whole = std::fs::read(h264_mp4(app.data.path())).unwrap();
    let corrupt = app.data.path().join("corrupt.mp4");
    std::fs::write(&corrupt, &whole[..whole.len() / 2]).unwrap();
    let video = process(&app, &corrupt, TaskState::Failed).await;
    let task = app.db().task(TaskKind::ProcessVideo, video).await.unwrap();
    assert_eq!(task.attempts, 1, "a corrupt file is not retried");
    let record = app.db().video(video).await.unwrap();
    assert_eq!(record.status, VideoStatus::Failed);
    let reason = record.failure.unwrap();
    assert!(
        reason.starts_with("not a video file ffmpeg can read"),
        "{reason}"
    );
    assert!(
        !reason.contains(app.data.path().to_str().unwrap()),
        "{reason}"
    );
    assert_eq!(task.last_error.as_deref(), Some(reason.as_str()));
    assert!(
        app.storage()
            .head(&keys::playable(video))
            .await
            .unwrap()
            .is_none()
    );
    app.stop().await;
}

#[tokio::test]
async fn an_audio_only_file_gets_aac_an_audio_rendition_and_a_waveform() {
    let app = TestScheduler::start(|_| {}).await;
    let file = clip(
        app.data.path(),
        "tone.ogg",
        &[
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:duration=2",
            "-c:a",
            "libopus",
        ],
    );
    let video = process(&app, &file, TaskState::Done).await;
    let record = app.db().video(video).await.unwrap();
    assert_eq!(record.status, VideoStatus::Ready);
    assert_eq!((record.width, record.height), (None, None));
    assert!(record.duration_ms.unwrap() >= 1900);

    let playable = ffprobe(&app.path_of(&keys::playable(video)));
    assert_eq!(stream(&playable, "audio").unwrap()["codec_name"], "aac");
    assert!(stream(&playable, "video").is_none());
    let master = hls_master(&app, video);
    assert!(
        master.contains("CODECS=\"mp4a.40.2\"\naudio/index.m3u8"),
        "{master}"
    );
    let poster = ffprobe(&app.path_of(&keys::poster(video)));
    assert_eq!(stream(&poster, "video").unwrap()["codec_name"], "mjpeg");
    app.stop().await;
}

/// An ffmpeg that runs the real one, after `before` for the main (progress) command.
fn wrapper(dir: &Path, before: &str) -> PathBuf {
    let path = dir.join("ffmpeg-wrapper");
    std::fs::write(
        &path,
        format!(
            "#!/bin/sh\ncase \"$*\" in *-progress*) {before} ;; esac\nffmpeg \"$@\"\n\
             rc=$?\ncase \"$*\" in *-progress*) echo \"end $(date +%s%N)\" >> \"{log}\" ;; esac\n\
             exit $rc\n",
            log = dir.join("runs.log").display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

#[tokio::test]
async fn progress_is_readable_while_processing_runs() {
    let data = tempfile::tempdir().unwrap();
    // The fake ffmpeg reports half its work done, then waits until the test has seen
    // it (or three minutes at most, so that a failed test does not hang).
    let release = data.path().join("release");
    let ffmpeg = wrapper(
        data.path(),
        &format!(
            "printf 'out_time_us=500000\\nprogress=continue\\n'; i=0; \
             while [ ! -e '{}' ] && [ $i -lt 3600 ]; do sleep 0.05; i=$((i+1)); done",
            release.display()
        ),
    );
    let app = TestScheduler::start_on(
        crate::helpers::ScratchDb::new(crate::helpers::DbKind::Sqlite).await,
        data,
        true,
        |c| c.ffmpeg = ffmpeg,
    )
    .await;
    let file = tiny_clip(app.data.path(), "tiny.mp4");
    let video = new_video(app.db()).await;
    app.upload(video, &file).await;
    app.scheduler.enqueue_process(video).await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(180);
    loop {
        let record = app.db().video(video).await.unwrap();
        if record.status == VideoStatus::Processing && record.progress == Some(50) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no progress seen: {record:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    std::fs::write(&release, b"").unwrap();
    app.wait_for(TaskKind::ProcessVideo, video, TaskState::Done)
        .await;
    let record = app.db().video(video).await.unwrap();
    assert_eq!((record.status, record.progress), (VideoStatus::Ready, None));
    app.stop().await;
}

#[tokio::test]
async fn a_crashing_ffmpeg_is_retried_then_the_video_shows_why_it_failed() {
    let data = tempfile::tempdir().unwrap();
    // Killed by a signal every time: a failure that might pass, so it is retried.
    let ffmpeg = wrapper(data.path(), "kill -9 $$");
    let app = TestScheduler::start_on(
        crate::helpers::ScratchDb::new(crate::helpers::DbKind::Sqlite).await,
        data,
        true,
        |c| c.ffmpeg = ffmpeg,
    )
    .await;
    let file = tiny_clip(app.data.path(), "tiny.mp4");
    let video = process(&app, &file, TaskState::Failed).await;
    let task = app.db().task(TaskKind::ProcessVideo, video).await.unwrap();
    assert_eq!(task.attempts, 3, "max_attempts runs");
    let reason = task.last_error.unwrap();
    assert!(
        reason.starts_with("gave up after 3 attempts:") && reason.contains("signal"),
        "{reason}"
    );
    // The video is marked failed just after its task.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let record = loop {
        let record = app.db().video(video).await.unwrap();
        if record.status == VideoStatus::Failed || tokio::time::Instant::now() > deadline {
            break record;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(record.status, VideoStatus::Failed);
    assert_eq!(record.failure.as_deref(), Some(reason.as_str()));
    app.stop().await;
}

#[tokio::test]
async fn ffmpeg_jobs_are_limited() {
    let data = tempfile::tempdir().unwrap();
    let ffmpeg = wrapper(
        data.path(),
        &format!(
            "echo \"start $(date +%s%N)\" >> \"{}\"",
            data.path().join("runs.log").display()
        ),
    );
    let app = TestScheduler::start_on(
        crate::helpers::ScratchDb::new(crate::helpers::DbKind::Sqlite).await,
        data,
        true,
        |c| {
            c.ffmpeg = ffmpeg;
            c.ffmpeg_jobs = Some(1);
            c.concurrency = 3;
        },
    )
    .await;
    let mut videos = Vec::new();
    for i in 0..3 {
        let file = tiny_clip(app.data.path(), &format!("tiny{i}.mp4"));
        let video = new_video(app.db()).await;
        app.upload(video, &file).await;
        videos.push(video);
    }
    for video in &videos {
        app.scheduler.enqueue_process(*video).await.unwrap();
    }
    for video in &videos {
        app.wait_for(TaskKind::ProcessVideo, *video, TaskState::Done)
            .await;
    }
    let log = std::fs::read_to_string(app.data.path().join("runs.log")).unwrap();
    let mut running = 0;
    for line in log.lines() {
        running += if line.starts_with("start") { 1 } else { -1 };
        assert!(running <= 1, "two ffmpeg jobs at once:\n{log}");
    }
    // Two runs with progress per video (the first rendition, then the ladder), each
    // logging its start and end.
    assert_eq!(log.lines().count(), 12);
    app.stop().await;
}

#[tokio::test]
async fn without_ffmpeg_uploads_are_served_as_they_came() {
    let app = TestScheduler::start(|c| {
        c.ffmpeg = "/nonexistent/ffmpeg".into();
        c.ffprobe = "/nonexistent/ffprobe".into();
    })
    .await;
    assert!(!app.scheduler.processes_uploads().await);
    let file = app.data.path().join("upload.bin");
    std::fs::write(&file, b"whatever the stream server accepted").unwrap();
    let video = process(&app, &file, TaskState::Done).await;
    let record = app.db().video(video).await.unwrap();
    assert_eq!(record.status, VideoStatus::Ready);
    assert_eq!(record.size, Some(35));
    let state = app.db().media_state(video).await.unwrap().unwrap();
    assert!(!state.processed, "marked unprocessed");
    assert!(
        app.storage()
            .head(&keys::playable(video))
            .await
            .unwrap()
            .is_none()
    );
    app.stop().await;
}
