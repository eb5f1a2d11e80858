//! The `state` task: each change of a video's visibility reaches its state marker,
//! where the stream servers read it; the last change wins, and a deleted video's
//! tombstone is never replaced.

use reel_core::db::{TaskKind, TaskState, VideoEdit};
use reel_core::domain::Visibility;
use reel_core::ids::VideoId;

use crate::helpers::{DbKind, ScratchDb, TestScheduler, new_video};

async fn set(app: &TestScheduler, video: VideoId, visibility: Visibility) {
    let edit = VideoEdit {
        visibility: Some(visibility),
        ..VideoEdit::default()
    };
    app.db().edit_video(video, &edit, 1).await.unwrap();
}

async fn marked(app: &TestScheduler, video: VideoId) -> Option<Visibility> {
    let state = app.storage().video_state(video).await.unwrap();
    state.map(|s| s.visibility)
}

/// The harness of `per_backend!`: the test gets the database kind and starts its own
/// scheduler.
async fn on_database(kind: DbKind, test: impl AsyncFnOnce(DbKind)) {
    test(kind).await;
}

async fn visibility_changes_reach_the_state_marker(kind: DbKind) {
    let scratch = ScratchDb::new(kind).await;
    let data = tempfile::tempdir().unwrap();
    let app = TestScheduler::start_on(scratch, data, true, |_| {}).await;
    let video = new_video(app.db()).await;
    assert_eq!(
        marked(&app, video).await,
        None,
        "a public video needs no marker"
    );
    for visibility in [
        Visibility::Private,
        Visibility::Unlisted,
        Visibility::Public,
        Visibility::Private,
    ] {
        set(&app, video, visibility).await;
        app.wait_for(TaskKind::SyncState, video, TaskState::Done)
            .await;
        assert_eq!(marked(&app, video).await, Some(visibility));
    }
    // Several changes before the task runs: the last one is written.
    set(&app, video, Visibility::Unlisted).await;
    set(&app, video, Visibility::Public).await;
    app.wait_for(TaskKind::SyncState, video, TaskState::Done)
        .await;
    assert_eq!(marked(&app, video).await, Some(Visibility::Public));

    // A change and a deletion: the tombstone stays, whichever task runs first.
    set(&app, video, Visibility::Private).await;
    app.db().delete_video(video, 2).await.unwrap();
    app.wait_for(TaskKind::DeleteVideo, video, TaskState::Done)
        .await;
    app.wait_for(TaskKind::SyncState, video, TaskState::Done)
        .await;
    let state = app.storage().video_state(video).await.unwrap().unwrap();
    assert!(state.is_deleted(), "{state:?}");
    app.stop().await;
}

reel_testkit::per_backend!(
    databases,
    crate::visibility::on_database,
    [visibility_changes_reach_the_state_marker]
);
