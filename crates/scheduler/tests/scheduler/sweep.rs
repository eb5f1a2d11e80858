//! The storage sweep, on local disk and on S3 (moto), with a controlled clock: files of
//! a video that does not exist go once older than the grace period, what lands beside
//! a tombstone goes at once, tombstones go when no upload token can be valid any more,
//! and live videos are never touched. Processing a video that does not exist removes
//! what is stored of it.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use reel_core::clock::{Clock, ManualClock, SystemClock};
use reel_core::db::{Db, TaskKind, TaskState};
use reel_core::ids::VideoId;
use reel_core::site::Site;
use reel_core::storage::keys;
use reel_scheduler::Swept;
use reel_testkit::moto;

use crate::helpers::{DbKind, ScratchDb, TestScheduler, new_video};

const HOUR_MS: i64 = 3_600_000;

/// Where the test's files live.
#[derive(Clone, Copy)]
enum Store {
    Local,
    S3,
}

async fn on_store(store: Store, test: impl AsyncFnOnce(Store)) {
    test(store).await;
}

async fn put(app: &TestScheduler, key: &str) {
    app.storage()
        .put(key, Bytes::from_static(b"bytes"))
        .await
        .unwrap();
}

async fn files_of_videos_that_do_not_exist_go_and_tombstones_expire(store: Store) {
    let clock = Arc::new(ManualClock::new(SystemClock.now_ms()));
    let data = tempfile::tempdir().unwrap();
    let s3 = matches!(store, Store::S3).then(|| moto::s3_storage(data.path()).0);
    let scratch = ScratchDb::new(DbKind::Sqlite).await;
    let site = |site: Site| {
        let site = site.with_clock(clock.clone());
        match s3 {
            Some(s3) => site.with_storage(s3),
            None => site,
        }
    };
    // No runner: the sweep runs when the test says.
    let app = TestScheduler::start_on_site(scratch, data, false, site, |c| {
        c.orphan_grace = Duration::from_secs(3600);
        c.keep_tombstones_for = Duration::from_secs(6 * 3600);
    })
    .await;
    let (live, deleted, orphan) = (
        new_video(app.db()).await,
        new_video(app.db()).await,
        VideoId::random(),
    );
    for video in [live, deleted, orphan] {
        put(&app, &keys::original(video)).await;
        put(&app, &keys::hls(video, "360p/seg_000.ts").unwrap()).await;
    }
    let live_keys = app.keys_of(live).await;
    // The API deletes the video; its deletion task runs; then an upload that raced the
    // deletion lands beside the tombstone.
    app.db()
        .delete_video(deleted, clock.now_ms())
        .await
        .unwrap();
    app.storage()
        .delete_video_files(deleted, clock.now_ms())
        .await
        .unwrap();
    put(&app, &keys::original(deleted)).await;

    let tombstone_only = |v: VideoId| vec![keys::video_state(v)];
    let swept = app.scheduler.sweep().await.unwrap();
    assert_eq!(
        swept,
        Swept {
            leftovers: 1,
            ..Swept::default()
        }
    );
    assert_eq!(app.keys_of(deleted).await, tombstone_only(deleted));
    assert_eq!(
        app.keys_of(orphan).await.len(),
        2,
        "within its grace period"
    );

    clock.advance(HOUR_MS + 60_000);
    let swept = app.scheduler.sweep().await.unwrap();
    assert_eq!(
        swept,
        Swept {
            orphans: 1,
            ..Swept::default()
        }
    );
    assert_eq!(app.keys_of(orphan).await, tombstone_only(orphan));
    assert!(
        app.storage()
            .video_state(orphan)
            .await
            .unwrap()
            .unwrap()
            .is_deleted()
    );

    // Six hours after the deletion its tombstone goes; the orphan's is younger.
    clock.advance(5 * HOUR_MS);
    let swept = app.scheduler.sweep().await.unwrap();
    assert_eq!(
        swept,
        Swept {
            tombstones: 1,
            ..Swept::default()
        }
    );
    assert!(app.keys_of(deleted).await.is_empty());
    assert_eq!(app.keys_of(orphan).await, tombstone_only(orphan));

    clock.advance(HOUR_MS + 60_000);
    assert_eq!(app.scheduler.sweep().await.unwrap().tombstones, 1);
    assert_eq!(
        app.storage()
            .list_folders(keys::VIDEOS_PREFIX)
            .await
            .unwrap(),
        [live.to_string()]
    );
    assert_eq!(
        app.keys_of(live).await,
        live_keys,
        "live videos are untouched"
    );
    assert_eq!(app.scheduler.sweep().await.unwrap(), Swept::default());
}

reel_testkit::per_backend!(
    [
        local => crate::sweep::Store::Local,
        s3 => crate::sweep::Store::S3,
    ],
    crate::sweep::on_store,
    [files_of_videos_that_do_not_exist_go_and_tombstones_expire]
);

#[tokio::test]
async fn processing_a_video_that_does_not_exist_removes_what_is_stored_of_it() {
    let app = TestScheduler::start(|_| {}).await;
    let video = VideoId::random();
    put(&app, &keys::original(video)).await;
    put(&app, &keys::poster(video)).await;
    app.scheduler.enqueue_process(video).await.unwrap();
    let task = app
        .wait_for(TaskKind::ProcessVideo, video, TaskState::Done)
        .await;
    assert_eq!(task.attempts, 1);
    assert_eq!(app.keys_of(video).await, [keys::video_state(video)]);
    app.stop().await;
}

/// The database answers which of many ids are videos, a batch at a time.
async fn existing_videos_are_told_apart_in_batches(db: &Db) {
    let mut ids = Vec::new();
    let mut existing = std::collections::HashSet::new();
    for i in 0..250 {
        if i % 3 == 0 {
            let video = new_video(db).await;
            existing.insert(video);
            ids.push(video);
        } else {
            ids.push(VideoId::random());
        }
    }
    assert_eq!(db.existing_videos(&ids).await.unwrap(), existing);
    assert!(db.existing_videos(&[]).await.unwrap().is_empty());
    assert!(db.existing_videos(&ids[1..2]).await.unwrap().is_empty());
}

reel_testkit::per_backend!(
    databases,
    reel_testkit::with_db,
    [existing_videos_are_told_apart_in_batches]
);
