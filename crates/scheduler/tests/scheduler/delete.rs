//! Deletion: every object of the video goes, then its record; objects already gone
//! count as deleted; the API's deletion records are picked up without any call.

use bytes::Bytes;
use reel_core::db::{TaskKind, TaskState};
use reel_core::ids::VideoId;
use reel_core::storage::keys;

use crate::helpers::{TestScheduler, new_video};

#[tokio::test]
async fn the_apis_deletions_remove_every_object_then_the_record() {
    let app = TestScheduler::start(|_| {}).await;
    let video = new_video(app.db()).await;
    let other = new_video(app.db()).await;
    let objects = [
        keys::original(video),
        keys::playable(video),
        keys::poster(video),
        keys::hls(video, "master.m3u8").unwrap(),
        keys::hls(video, "720p/index.m3u8").unwrap(),
        keys::hls(video, "720p/seg_000.ts").unwrap(),
        keys::hls(video, "360p/seg_000.ts").unwrap(),
        format!(
            "{}state.json",
            reel_stream::tus::staging::staging_prefix(video, "abc").unwrap()
        ),
        keys::original(other),
    ];
    for key in &objects {
        app.storage()
            .put(key, Bytes::from_static(b"bytes"))
            .await
            .unwrap();
    }
    // What the API's delete does: no call to the scheduler at all.
    app.db().delete_video(video, 1).await.unwrap();
    let task = app
        .wait_for(TaskKind::DeleteVideo, video, TaskState::Done)
        .await;
    assert_eq!(task.attempts, 1);
    assert!(
        app.storage()
            .list_prefix(&keys::video_prefix(video))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        app.storage()
            .head(&keys::original(other))
            .await
            .unwrap()
            .is_some(),
        "other videos keep their files"
    );
    assert!(app.db().pending_deletions(10).await.unwrap().is_empty());
    app.stop().await;
}

#[tokio::test]
async fn objects_already_gone_count_as_deleted() {
    let app = TestScheduler::start(|_| {}).await;
    let video = VideoId::random();
    app.scheduler.enqueue_delete(video).await.unwrap();
    let task = app
        .wait_for(TaskKind::DeleteVideo, video, TaskState::Done)
        .await;
    assert_eq!(task.last_error, None);
    assert!(app.db().pending_deletions(10).await.unwrap().is_empty());
    app.stop().await;
}
