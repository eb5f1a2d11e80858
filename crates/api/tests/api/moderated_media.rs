//! Moderation meets visibility: a hidden video, or one whose owner is banned, vanishes
//! for other readers at once (the API's record cache included), is played by its owner
//! and the staff through playback grants, and the stream servers are told to serve it
//! only under those grants; an owner's change of visibility applies at once too.

use std::time::Duration;

use reel_core::account::Role;
use reel_core::db::TaskKind;
use reel_core::domain::Visibility;
use reel_core::ids::VideoId;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{DbKind, TestApp};

reel_testkit::per_backend!(
    databases,
    crate::moderated_media::with_cached_app,
    [
        hidden_videos_are_served_under_grants_alone,
        a_ban_restricts_every_video_of_its_user,
        an_owners_change_of_visibility_applies_at_once
    ]
);

/// An API whose record and listing caches keep entries longer than any test runs, so
/// that only invalidation makes a change show.
async fn with_cached_app(kind: DbKind, test: impl AsyncFnOnce(&TestApp)) {
    let app = TestApp::spawn_with(kind, |c| {
        c.listing_cache_ttl = Duration::from_secs(600);
    })
    .await;
    test(&app).await;
    app.finish().await;
}

fn vid(video: &Value) -> VideoId {
    VideoId::parse(video["id"].as_str().unwrap()).unwrap()
}

/// The status of `GET path` for `sid`, and its body.
async fn get(app: &TestApp, path: &str, sid: Option<&str>) -> (StatusCode, Value) {
    let res = app.call(Method::GET, path, sid, None).await;
    let status = res.status();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// Whether the MP4 URL `reader` gets for the video at `path` carries a playback grant.
async fn granted(app: &TestApp, path: &str, reader: &str) -> bool {
    let (status, got) = get(app, path, Some(reader)).await;
    assert_eq!(status, StatusCode::OK, "{got}");
    got["playback"]["mp4"].as_str().unwrap().contains("?grant=")
}

/// Asserts that the stream servers are to serve `video` only under grants: the
/// database says so, and the task that tells them is queued.
async fn restricted_on_stream_nodes(app: &TestApp, video: VideoId) {
    assert_eq!(
        app.db().served_visibility(video).await.unwrap(),
        Some(Visibility::Private)
    );
    let task = app.db().task(TaskKind::SyncState, video).await.unwrap();
    assert_eq!(task.state.as_str(), "pending");
}

async fn hidden_videos_are_served_under_grants_alone(app: &TestApp) {
    let alice = app.signup("alice").await;
    let bob = app.signup("bob").await;
    let moderator = app.signup_as("mod", Role::Moderator).await;
    let video = app.create_video("alice", &alice, "clip").await;
    app.mark_ready(&video).await;
    let id = vid(&video);
    let path = format!("/user/alice/videos/{id}");
    // Read once, so the record cache holds it.
    assert_eq!(get(app, &path, Some(&bob)).await.0, StatusCode::OK);
    assert!(!granted(app, &path, &bob).await, "public: no grant");
    assert_eq!(
        app.db().served_visibility(id).await.unwrap(),
        Some(Visibility::Public)
    );

    let report = app
        .ok(
            Method::POST,
            &format!("/videos/{id}/reports"),
            Some(&bob),
            Some(json!({"reason": "spam"})),
            StatusCode::CREATED,
        )
        .await;
    app.ok(
        Method::PATCH,
        &format!("/admin/reports/{}", report["id"].as_str().unwrap()),
        Some(&moderator),
        Some(json!({"action": "hide_video"})),
        StatusCode::OK,
    )
    .await;

    // Gone for others at once, cache or not; its owner and the staff play it under
    // grants, and the stream servers are told.
    assert_eq!(get(app, &path, Some(&bob)).await.0, StatusCode::NOT_FOUND);
    assert_eq!(get(app, &path, None).await.0, StatusCode::NOT_FOUND);
    assert!(granted(app, &path, &alice).await);
    assert!(granted(app, &path, &moderator).await);
    restricted_on_stream_nodes(app, id).await;
}

async fn a_ban_restricts_every_video_of_its_user(app: &TestApp) {
    let alice = app.signup("alice").await;
    let bob = app.signup("bob").await;
    let admin = app.signup_as("root", Role::Admin).await;
    let first = app.create_video("alice", &alice, "first").await;
    let second = app.create_video("alice", &alice, "second").await;
    app.mark_ready(&first).await;
    let paths = [&first, &second].map(|v| format!("/user/alice/videos/{}", vid(v)));
    assert_eq!(get(app, &paths[0], Some(&bob)).await.0, StatusCode::OK);
    let bobs = app.create_video("bob", &bob, "bob's").await;
    assert!(
        app.db()
            .task(TaskKind::SyncState, vid(&bobs))
            .await
            .is_err(),
        "nothing queued for a public video"
    );

    app.ok(
        Method::PATCH,
        "/admin/users/alice",
        Some(&admin),
        Some(json!({"banned": true})),
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        get(app, &paths[0], Some(&bob)).await.0,
        StatusCode::NOT_FOUND
    );
    assert!(granted(app, &paths[0], &admin).await);
    for video in [&first, &second] {
        restricted_on_stream_nodes(app, vid(video)).await;
    }
    assert!(
        app.db()
            .task(TaskKind::SyncState, vid(&bobs))
            .await
            .is_err(),
        "other users' videos are left alone"
    );

    // Let back: public again, for the API and the stream servers.
    app.ok(
        Method::PATCH,
        "/admin/users/alice",
        Some(&admin),
        Some(json!({"banned": false})),
        StatusCode::OK,
    )
    .await;
    assert_eq!(get(app, &paths[0], Some(&bob)).await.0, StatusCode::OK);
    assert!(!granted(app, &paths[0], &bob).await);
    assert_eq!(
        app.db().served_visibility(vid(&first)).await.unwrap(),
        Some(Visibility::Public)
    );
}

async fn an_owners_change_of_visibility_applies_at_once(app: &TestApp) {
    let alice = app.signup("alice").await;
    let bob = app.signup("bob").await;
    let video = app.create_video("alice", &alice, "clip").await;
    app.mark_ready(&video).await;
    let path = format!("/user/alice/videos/{}", vid(&video));
    let comments = format!("/videos/{}/comments", vid(&video));
    assert_eq!(get(app, &path, Some(&bob)).await.0, StatusCode::OK);
    assert_eq!(get(app, &comments, Some(&bob)).await.0, StatusCode::OK);
    let edit = json!({"visibility": "private", "name": "mine"});
    app.ok(
        Method::PATCH,
        &path,
        Some(&alice),
        Some(edit),
        StatusCode::OK,
    )
    .await;
    assert_eq!(get(app, &path, Some(&bob)).await.0, StatusCode::NOT_FOUND);
    assert_eq!(
        get(app, &comments, Some(&bob)).await.0,
        StatusCode::NOT_FOUND
    );
    let edit = json!({"visibility": "unlisted"});
    app.ok(
        Method::PATCH,
        &path,
        Some(&alice),
        Some(edit),
        StatusCode::OK,
    )
    .await;
    let (status, got) = get(app, &path, Some(&bob)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(got["name"], "mine", "the new title, not the cached one");
    assert_eq!(got["visibility"], "unlisted");
}
