//! The watch page's reads served from memory: a ready video and the first page of its
//! comments, forgotten at once on writes through this node, and never older than the
//! TTL otherwise.

use std::time::Duration;

use reel_core::clock::Clock;
use reel_core::ids::{CommentId, VideoId};
use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::helpers::{DbKind, TestApp};

reel_testkit::per_backend!(
    databases,
    crate::watch_cache::with_cached_app,
    [the_watch_reads_are_cached_and_forgotten_on_writes]
);

/// The TTL in this test: long enough that no real time runs it out, shorter than a
/// session.
const TTL_MS: i64 = 600_000;

async fn with_cached_app(kind: DbKind, test: impl AsyncFnOnce(&TestApp)) {
    let app = TestApp::spawn_with(kind, |c| {
        c.listing_cache_ttl = Duration::from_millis(TTL_MS as u64);
    })
    .await;
    test(&app).await;
    app.finish().await;
}

async fn get(app: &TestApp, path: &str, sid: &str) -> (StatusCode, Value) {
    let res = app.as_user(Method::GET, path, sid).send().await.unwrap();
    (res.status(), res.json().await.unwrap())
}

/// Renames a video behind the API's back (as another node would).
async fn rename(app: &TestApp, id: &str, name: &str) {
    sqlx::query(app.db().sql("UPDATE video_info SET name = ? WHERE id = ?"))
        .bind(name)
        .bind(id)
        .execute(app.db().pool())
        .await
        .unwrap();
}

async fn the_watch_reads_are_cached_and_forgotten_on_writes(app: &TestApp) {
    let alice = app.signup("alice").await;
    let bob = app.signup("bob").await;
    let video = app.create_video("alice", &alice, "first").await;
    let id = video["id"].as_str().unwrap().to_owned();
    let vid = VideoId::parse(&id).unwrap();
    let path = format!("/user/alice/videos/{id}");
    let comments = format!("/videos/{id}/comments");
    let count = async |sid: &str| {
        let (status, page) = get(app, &comments, sid).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        page["comments"].as_array().unwrap().len()
    };

    // A video that is not ready is not kept: its owner sees every change at once.
    assert_eq!(get(app, &path, &alice).await.1["status"], "awaiting_upload");
    app.mark_ready(&video).await;
    assert_eq!(get(app, &path, &alice).await.1["status"], "ready");
    assert_eq!(get(app, &path, &bob).await.1["name"], "first");

    // A ready one is: a change behind the API's back waits for the TTL.
    rename(app, &id, "renamed").await;
    assert_eq!(
        get(app, &path, &bob).await.1["name"],
        "first",
        "served from the cache"
    );

    // The first page of comments too; a comment posted or deleted through this node
    // shows at once.
    app.comment(&id, &bob, "one").await;
    assert_eq!(count(&bob).await, 1);
    let bob_id = app.db().user_by_name("bob").await.unwrap().id;
    app.db()
        .create_comment(
            CommentId::random(),
            vid,
            bob_id,
            "behind",
            app.clock.now_ms(),
        )
        .await
        .unwrap();
    assert_eq!(count(&bob).await, 1, "served from the cache");
    let two = app.comment(&id, &bob, "two").await;
    assert_eq!(
        count(&bob).await,
        3,
        "a comment through the API forgets the page"
    );
    let res = app
        .as_user(
            Method::DELETE,
            &format!("{comments}/{}", two["id"].as_str().unwrap()),
            &bob,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(count(&bob).await, 2, "so does a deletion");

    // Behind the API's back, nothing is older than the TTL on the API's clock.
    app.clock.advance(TTL_MS - 1);
    assert_eq!(
        get(app, &path, &bob).await.1["name"],
        "first",
        "still fresh"
    );
    app.clock.advance(1);
    assert_eq!(get(app, &path, &bob).await.1["name"], "renamed", "expired");

    // A deletion through the API: gone at once, comments included.
    assert_eq!(count(&bob).await, 2);
    let res = app
        .as_user(Method::DELETE, &path, &alice)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(get(app, &path, &bob).await.0, StatusCode::NOT_FOUND);
    assert_eq!(get(app, &comments, &bob).await.0, StatusCode::NOT_FOUND);
}
