//! Uploads as an attacker would make them: how ffmpeg is run (forced demuxer, local files
//! only, bounded threads, nothing of our environment), a run that would never end, and
//! playlists that point at the network; and, so that none of this refuses real files,
//! every accepted container as ffmpeg writes it.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use reel_core::db::{TaskKind, TaskState};
use reel_core::domain::VideoStatus;
use reel_core::sniff::{self, Container, SNIFF_LEN};
use reel_core::storage::keys;
use reel_scheduler::ffmpeg::{Ffmpeg, FfmpegSettings};

use crate::helpers::{DbKind, ScratchDb, TestScheduler, clip, lavfi_inputs, new_video, tiny_clip};

fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// A program that writes its arguments and environment to `log`, then runs `real`.
fn recording(dir: &Path, real: &str, log: &Path) -> PathBuf {
    let log = log.display();
    script(
        dir,
        &format!("{real}-recording"),
        &format!(
            "{{ printf 'RUN {real}'; for a in \"$@\"; do printf ' <%s>' \"$a\"; done; echo; \
             env | sed 's/^/ENV /'; }} >> \"{log}\"\nexec {real} \"$@\"\n"
        ),
    )
}

/// The arguments of a recorded run, and the one that follows `flag`.
fn after<'a>(args: &'a [String], flag: &str) -> Option<&'a str> {
    let i = args.iter().position(|a| a == flag)?;
    args.get(i + 1).map(String::as_str)
}

#[tokio::test]
async fn ffmpeg_opens_uploads_as_their_container_from_files_only_and_learns_no_secret() {
    let data = tempfile::tempdir().unwrap();
    let log = data.path().join("runs.log");
    let ffmpeg = recording(data.path(), "ffmpeg", &log);
    let ffprobe = recording(data.path(), "ffprobe", &log);
    let app = TestScheduler::start_on(ScratchDb::new(DbKind::Sqlite).await, data, true, |c| {
        c.ffmpeg = ffmpeg;
        c.ffprobe = ffprobe;
        c.ffmpeg_threads = Some(2);
    })
    .await;
    let video = new_video(app.db()).await;
    app.upload(video, &tiny_clip(app.data.path(), "tiny.mp4"))
        .await;
    app.scheduler.enqueue_process(video).await.unwrap();
    app.wait_for(TaskKind::ProcessVideo, video, TaskState::Done)
        .await;

    let text = std::fs::read_to_string(&log).unwrap();
    let runs: Vec<Vec<String>> = text
        .lines()
        .filter_map(|l| l.strip_prefix("RUN "))
        .map(|l| {
            l.split(" <")
                .map(|a| a.trim_end_matches('>').to_owned())
                .collect()
        })
        .filter(|args: &Vec<String>| args.len() > 2)
        .collect();
    assert!(
        runs.len() >= 4,
        "probe, convert, poster, segment probes: {text}"
    );
    for args in &runs {
        let input = args.iter().position(|a| a == "-i").expect("an input");
        let before = &args[..input];
        let format = after(before, "-f").unwrap_or_else(|| panic!("no forced format: {args:?}"));
        let file = &args[input + 1];
        let expected = if file.ends_with(".ts") {
            "mpegts"
        } else {
            "mov"
        };
        assert_eq!(format, expected, "{args:?}");
        assert_eq!(
            after(before, "-protocol_whitelist"),
            Some("file"),
            "{args:?}"
        );
        assert_eq!(after(before, "-threads"), Some("2"), "{args:?}");
        if args[0] == "ffmpeg" {
            assert_eq!(after(&args[input..], "-threads"), Some("2"), "{args:?}");
        }
    }
    // The children see PATH and what their shell sets itself; nothing of ours.
    let names: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("ENV "))
        .filter_map(|l| l.split_once('=').map(|(name, _)| name))
        .collect();
    assert!(names.contains(&"PATH"), "{text}");
    let shell_own = ["PATH", "PWD", "OLDPWD", "SHLVL", "_"];
    let mut leaked: Vec<&&str> = names.iter().filter(|n| !shell_own.contains(n)).collect();
    leaked.sort();
    leaked.dedup();
    assert!(
        leaked.is_empty(),
        "our environment reached ffmpeg: {leaked:?}"
    );
    for secret in [app.key.to_base64(), app.scratch.url().to_owned()] {
        assert!(!text.contains(&secret), "a secret reached ffmpeg: {text}");
    }
    app.stop().await;
}

#[tokio::test]
async fn a_run_past_its_limit_is_killed_with_its_children_and_fails_for_good() {
    let data = tempfile::tempdir().unwrap();
    let pids = data.path().join("pids");
    // The upload claims ten hours; the conversion would never end, and leaves a child.
    let ffprobe = script(
        data.path(),
        "ffprobe-ten-hours",
        r#"printf '{"streams":[{"codec_type":"video","codec_name":"h264","profile":"High","pix_fmt":"yuv420p","width":320,"height":240}],"format":{"duration":"36000.0"}}'"#,
    );
    let ffmpeg = script(
        data.path(),
        "ffmpeg-forever",
        &format!(
            "case \"$*\" in -version) exit 0 ;; esac\nsleep 600 &\necho $! >> \"{pids}\"\n\
             echo $$ >> \"{pids}\"\nsleep 600\n",
            pids = pids.display()
        ),
    );
    let app = TestScheduler::start_on(ScratchDb::new(DbKind::Sqlite).await, data, true, |c| {
        c.ffmpeg = ffmpeg;
        c.ffprobe = ffprobe;
        c.ffmpeg_max_runtime = Duration::from_secs(2);
    })
    .await;
    let video = new_video(app.db()).await;
    app.upload(video, &tiny_clip(app.data.path(), "tiny.mp4"))
        .await;
    app.scheduler.enqueue_process(video).await.unwrap();
    let task = app
        .wait_for(TaskKind::ProcessVideo, video, TaskState::Failed)
        .await;
    assert_eq!(task.attempts, 1, "a run past its limit is not retried");
    let record = app.db().video(video).await.unwrap();
    assert_eq!(record.status, VideoStatus::Failed);
    let reason = record.failure.unwrap();
    assert!(
        reason.contains("took longer than 2 s") && reason.contains("stopped"),
        "{reason}"
    );
    let pids = std::fs::read_to_string(&pids).unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    for pid in pids.split_whitespace() {
        while Path::new(&format!("/proc/{pid}")).exists()
            && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .unwrap_or_default()
                .contains(") Z ")
        {
            assert!(
                tokio::time::Instant::now() < deadline,
                "process {pid} of the killed run lives on"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    app.stop().await;
}

/// A loopback listener that counts the connections it is offered.
async fn listener() -> (u16, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(AtomicUsize::new(0));
    let count = seen.clone();
    tokio::spawn(async move {
        while let Ok((_tcp, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
        }
    });
    (port, seen)
}

/// A playlist or a session description stored as an upload: ffmpeg left to guess would
/// open it as such and follow what it names, another video's segments on this disk (a
/// private video copied into the attacker's) or addresses on the network.
#[tokio::test]
async fn playlists_and_session_descriptions_make_ffmpeg_open_nothing_else() {
    let (port, seen) = listener().await;
    let app = TestScheduler::start(|_| {}).await;
    assert!(app.scheduler.processes_uploads().await, "real ffmpeg");
    let victim = new_video(app.db()).await;
    app.upload(victim, &tiny_clip(app.data.path(), "tiny.mp4"))
        .await;
    app.scheduler.enqueue_process(victim).await.unwrap();
    app.wait_for(TaskKind::ProcessVideo, victim, TaskState::Done)
        .await;
    let segment = app
        .storage()
        .list_prefix(&keys::hls_prefix(victim))
        .await
        .unwrap()
        .into_iter()
        .find(|o| o.key.ends_with(".ts"))
        .expect("a segment of the victim's video")
        .key;
    // Processing works in a folder two levels below the store's root.
    let uploads = [
        format!(
            "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4.0,\n../../{segment}\n\
             #EXTINF:4.0,\nhttp://127.0.0.1:{port}/segment.ts\n#EXT-X-ENDLIST\n"
        ),
        format!(
            "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=cam\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
             m=video {port} RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n"
        ),
    ];
    for (i, upload) in uploads.iter().enumerate() {
        let file = app.data.path().join(format!("upload{i}"));
        std::fs::write(&file, upload).unwrap();
        let video = new_video(app.db()).await;
        app.upload(video, &file).await;
        app.scheduler.enqueue_process(video).await.unwrap();
        app.wait_for(TaskKind::ProcessVideo, video, TaskState::Failed)
            .await;
        let record = app.db().video(video).await.unwrap();
        let reason = record.failure.unwrap();
        assert!(reason.starts_with("not a video"), "{reason}");
        assert!(
            app.storage()
                .head(&keys::playable(video))
                .await
                .unwrap()
                .is_none(),
            "the upload became a video"
        );
    }
    assert_eq!(
        seen.load(Ordering::SeqCst),
        0,
        "ffmpeg connected to the network"
    );
    app.stop().await;
}

#[tokio::test]
async fn every_accepted_container_as_ffmpeg_writes_it_is_recognised_and_read() {
    let dir = tempfile::tempdir().unwrap();
    let base = lavfi_inputs("320x240", 1);
    let cases: [(&str, &[&str], Container); 11] = [
        (
            "a.mp4",
            &["-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac"],
            Container::Mp4,
        ),
        (
            "a.3gp",
            &[
                "-c:v", "libx264", "-pix_fmt", "yuv420p", "-ar", "8000", "-ac", "1", "-c:a", "aac",
            ],
            Container::Mp4,
        ),
        (
            "a.mov",
            &["-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac"],
            Container::QuickTime,
        ),
        (
            "a.webm",
            &[
                "-c:v",
                "libvpx-vp9",
                "-deadline",
                "realtime",
                "-cpu-used",
                "8",
                "-c:a",
                "libopus",
            ],
            Container::WebM,
        ),
        (
            "a.mkv",
            &["-c:v", "libx264", "-c:a", "aac"],
            Container::Matroska,
        ),
        ("a.avi", &["-c:v", "mpeg4", "-c:a", "mp3"], Container::Avi),
        (
            "a.ts",
            &["-c:v", "libx264", "-c:a", "aac"],
            Container::MpegTs,
        ),
        (
            "a.m2ts",
            &[
                "-c:v",
                "libx264",
                "-c:a",
                "aac",
                "-f",
                "mpegts",
                "-mpegts_m2ts_mode",
                "1",
            ],
            Container::MpegTs,
        ),
        (
            "a.flv",
            &["-c:v", "flv1", "-c:a", "mp3", "-ar", "44100"],
            Container::Flv,
        ),
        (
            "a.ogv",
            &["-c:v", "libtheora", "-c:a", "libvorbis"],
            Container::Ogg,
        ),
        ("b.ogg", &["-vn", "-c:a", "libopus"], Container::Ogg),
    ];
    let ffmpeg = Ffmpeg::detect(FfmpegSettings {
        ffmpeg: "ffmpeg".into(),
        ffprobe: "ffprobe".into(),
        jobs: 1,
        threads: 1,
        max_runtime: Duration::from_secs(60),
        runtime_per_media_second: Duration::from_secs(10),
    })
    .await
    .expect("ffmpeg is required by these tests");
    for (name, codecs, container) in cases {
        let args: Vec<&str> = base
            .iter()
            .map(String::as_str)
            .chain(codecs.iter().copied())
            .collect();
        let file = clip(dir.path(), name, &args);
        let bytes = std::fs::read(&file).unwrap();
        assert_eq!(
            sniff::detect(&bytes[..bytes.len().min(SNIFF_LEN)]),
            Some(container),
            "{name}"
        );
        let probe = ffmpeg
            .probe(dir.path(), name, &ffmpeg.source(container))
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(probe.audio.is_some(), "{name} read with its demuxer");
    }
}
