//! Reconciliation: an upload whose notice was lost is processed anyway, and uploads
//! served unprocessed are processed once ffmpeg works.

use std::time::Duration;

use bytes::Bytes;
use reel_core::db::{TaskKind, TaskState};
use reel_core::domain::VideoStatus;
use reel_core::storage::keys;

use crate::helpers::{TestScheduler, new_video};

#[tokio::test]
async fn an_upload_whose_notice_was_lost_is_processed_anyway() {
    let app = TestScheduler::start(|c| {
        c.reconcile_every = Duration::from_millis(100);
        c.ffmpeg = "/nonexistent/ffmpeg".into();
    })
    .await;
    let uploaded = new_video(app.db()).await;
    let never_uploaded = new_video(app.db()).await;
    // The stream server stored the upload, and its notice never arrived.
    app.storage()
        .put(
            &keys::original(uploaded),
            Bytes::from_static(b"video bytes"),
        )
        .await
        .unwrap();
    app.wait_for(TaskKind::ProcessVideo, uploaded, TaskState::Done)
        .await;
    assert_eq!(
        app.db().video(uploaded).await.unwrap().status,
        VideoStatus::Ready
    );
    assert_eq!(
        app.db().video(never_uploaded).await.unwrap().status,
        VideoStatus::AwaitingUpload
    );
    assert!(
        app.db()
            .task(TaskKind::ProcessVideo, never_uploaded)
            .await
            .is_err(),
        "nothing to process, nothing queued"
    );
    app.stop().await;
}

#[tokio::test]
async fn uploads_served_unprocessed_are_processed_once_ffmpeg_works() {
    let without = TestScheduler::start(|c| c.ffmpeg = "/nonexistent/ffmpeg".into()).await;
    let video = new_video(without.db()).await;
    let file = crate::helpers::clip(
        without.data.path(),
        "tiny.mp4",
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=320x240:rate=25:duration=1",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-pix_fmt",
            "yuv420p",
        ],
    );
    without.upload(video, &file).await;
    without.scheduler.enqueue_process(video).await.unwrap();
    without
        .wait_for(TaskKind::ProcessVideo, video, TaskState::Done)
        .await;
    assert!(
        !without
            .db()
            .media_state(video)
            .await
            .unwrap()
            .unwrap()
            .processed
    );
    let (db, data) = without.stop().await;

    // A scheduler with ffmpeg, its runner not started yet: its own pass at start would
    // race with the one made here.
    let with = TestScheduler::start_on(db, data, false, |_| {}).await;
    let done = with.scheduler.reconcile().await.unwrap();
    assert_eq!(done.requeued_unprocessed, 1);
    let again = with.scheduler.reconcile().await.unwrap();
    assert_eq!(
        again.requeued_unprocessed, 0,
        "queued once, not once a pass"
    );
    let (db, data) = with.stop().await;

    let with = TestScheduler::start_on(db, data, true, |_| {}).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(180);
    while !with
        .db()
        .media_state(video)
        .await
        .unwrap()
        .unwrap()
        .processed
    {
        assert!(tokio::time::Instant::now() < deadline, "never processed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        with.storage()
            .head(&keys::playable(video))
            .await
            .unwrap()
            .is_some()
    );
    with.wait_for(TaskKind::ProcessVideo, video, TaskState::Done)
        .await;
    let after = with.scheduler.reconcile().await.unwrap();
    assert_eq!(after.requeued_unprocessed, 0, "processed once");
    with.stop().await;
}
