//! Where processing reads and writes: on local disk the original is read where it lies
//! and the outputs are moved into place (no copy of either); on S3 the original is
//! downloaded, the outputs (larger than one part) uploaded, and the working files
//! removed.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use reel_core::db::{TaskKind, TaskState};
use reel_core::storage::keys;
use reel_testkit::moto;

use crate::helpers::{DbKind, ScratchDb, TestScheduler, clip, ffprobe, new_video, stream};

/// An H.264/AAC MP4 of about 12 MB that is remuxed as it is: a playable MP4 and an HLS
/// segment larger than one 8 MiB part.
fn large_clip(dir: &Path) -> PathBuf {
    clip(
        dir,
        "large.mp4",
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=640x360:rate=25:duration=1",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:duration=1",
            "-vf",
            "noise=alls=60:allf=t",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-qp",
            "1",
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
        ],
    )
}

/// A program that notes, in `log`, the inode and link count of `file` (relative to the
/// working directory it runs in) when it is started with `when` among its arguments,
/// then runs `program`.
fn noting(dir: &Path, program: &str, when: &str, file: &str, log: &Path) -> PathBuf {
    let path = dir.join(format!("{program}-noting"));
    let script = format!(
        "#!/bin/sh\n{program} \"$@\"\nrc=$?\ncase \"$*\" in *{when}*) \
         stat -c '%i %h' {file} >> \"{log}\" ;; esac\nexit $rc\n",
        log = log.display()
    );
    std::fs::write(&path, script).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

fn inode(path: &Path) -> String {
    std::fs::metadata(path).unwrap().ino().to_string()
}

#[tokio::test]
async fn on_local_disk_the_original_is_read_in_place_and_the_outputs_moved_there() {
    let data = tempfile::tempdir().unwrap();
    let log = data.path().join("files.log");
    let ffprobe_noting = noting(data.path(), "ffprobe", "original", "original", &log);
    let ffmpeg_noting = noting(data.path(), "ffmpeg", "-progress", "out/playable.mp4", &log);
    let scratch = ScratchDb::new(DbKind::Sqlite).await;
    let app = TestScheduler::start_on(scratch, data, true, |c| {
        c.ffprobe = ffprobe_noting;
        c.ffmpeg = ffmpeg_noting;
        // Never used on local disk: processing works beside the store.
        c.work_dir = Some("/nonexistent/work".into());
    })
    .await;
    let file = large_clip(app.data.path());
    let video = new_video(app.db()).await;
    app.upload(video, &file).await;
    let original = app.path_of(&keys::original(video));
    let stored_inode = inode(&original);
    app.scheduler.enqueue_process(video).await.unwrap();
    app.wait_for(TaskKind::ProcessVideo, video, TaskState::Done)
        .await;

    let noted = std::fs::read_to_string(&log).unwrap();
    let mut lines = noted.lines();
    assert_eq!(
        lines.next(),
        Some(format!("{stored_inode} 2").as_str()),
        "ffprobe read the stored file itself, through a second link: {noted}"
    );
    let made = lines.next().unwrap().split(' ').next().unwrap().to_owned();
    assert_eq!(
        inode(&app.path_of(&keys::playable(video))),
        made,
        "the MP4 ffmpeg wrote is the one stored: {noted}"
    );
    let original_now = std::fs::metadata(&original).unwrap();
    assert_eq!(original_now.ino().to_string(), stored_inode);
    assert_eq!(original_now.nlink(), 1, "the working link is gone");
    let work = app.data.path().join("storage/.work");
    assert_eq!(
        std::fs::read_dir(work).unwrap().count(),
        0,
        "no working files left"
    );
    app.stop().await;
}

#[tokio::test]
async fn on_s3_the_original_is_downloaded_and_the_outputs_uploaded() {
    let work = tempfile::tempdir().unwrap();
    let work_dir = work.path().to_owned();
    let data = tempfile::tempdir().unwrap();
    let (storage, prefix) = moto::s3_storage(data.path());
    let scratch = ScratchDb::new(DbKind::Sqlite).await;
    let app = TestScheduler::start_on_storage(scratch, data, storage, |c| {
        c.work_dir = Some(work_dir.clone());
    })
    .await;
    let file = large_clip(app.data.path());
    let video = new_video(app.db()).await;
    app.upload(video, &file).await;
    app.scheduler.enqueue_process(video).await.unwrap();
    app.wait_for(TaskKind::ProcessVideo, video, TaskState::Done)
        .await;

    let playable = app
        .storage()
        .read_small(&keys::playable(video))
        .await
        .unwrap();
    assert!(playable.len() > 8 * 1024 * 1024, "{} bytes", playable.len());
    let local = app.data.path().join("playable.mp4");
    std::fs::write(&local, &playable).unwrap();
    let probe = ffprobe(&local);
    assert_eq!(stream(&probe, "video").unwrap()["codec_name"], "h264");
    let objects = app
        .storage()
        .list_prefix(&keys::hls_prefix(video))
        .await
        .unwrap();
    assert!(objects.iter().any(|o| o.key.ends_with("master.m3u8")));
    assert!(
        objects.iter().any(|o| o.size > 8 * 1024 * 1024),
        "a segment larger than one part: {objects:?}"
    );
    assert_eq!(
        std::fs::read_dir(&work_dir).unwrap().count(),
        0,
        "the download and the outputs are removed"
    );
    assert_eq!(
        moto::multipart_uploads(&prefix).await,
        0,
        "every upload completed"
    );

    app.db().delete_video(video, 1).await.unwrap();
    app.wait_for(TaskKind::DeleteVideo, video, TaskState::Done)
        .await;
    let left = app
        .storage()
        .list_prefix(&keys::video_prefix(video))
        .await
        .unwrap();
    assert!(left.is_empty(), "{left:?}");
    app.stop().await;
}
