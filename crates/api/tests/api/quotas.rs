//! Quotas: the upload grant carries what the quotas leave, creation is refused when
//! nothing is left, uploads count once they land, and deleting frees their bytes.

use reel_core::account::Limit;
use reel_core::clock::Clock;
use reel_core::db::BytesUsed;
use reel_core::ids::{UserId, VideoId};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{DbKind, PASSWORD, TestApp, assert_error};
use crate::public_media::{allowance_of, get, vid};

reel_testkit::per_backend!(
    databases,
    crate::quotas::with_quota_app,
    [
        quotas_bound_upload_grants_and_creation,
        uploads_are_counted_when_they_land
    ]
);

/// The total and daily quotas of [`with_quota_app`].
const QUOTA: u64 = 1_000;
const DAILY_QUOTA: u64 = 600;
const DAY_MS: i64 = 24 * 60 * 60 * 1000;

async fn with_quota_app(kind: DbKind, test: impl AsyncFnOnce(&TestApp)) {
    let app = TestApp::spawn_with(kind, |c| {
        c.quota.quota = Limit::Bytes(QUOTA);
        c.quota.daily_quota = Limit::Bytes(DAILY_QUOTA);
    })
    .await;
    test(&app).await;
    app.finish().await;
}

/// Records an upload of `size` bytes landing for `video` now, as the scheduler's
/// intake does.
async fn lands(app: &TestApp, video: &Value, size: i64) {
    let now = app.clock.now_ms();
    assert!(app.db().record_upload(vid(video), size, now).await.unwrap());
}

async fn quotas_bound_upload_grants_and_creation(app: &TestApp) {
    let alice = app.signup("alice").await;
    let bob = app.signup("bob").await;
    let first = app.create_video("alice", &alice, "first").await;
    assert_eq!(
        allowance_of(app, &first),
        Some(DAILY_QUOTA),
        "the daily quota binds"
    );
    lands(app, &first, 400).await;
    let second = app.create_video("alice", &alice, "second").await;
    assert_eq!(allowance_of(app, &second), Some(200));
    lands(app, &second, 200).await;
    // Nothing left today: no new video.
    let res = app
        .as_user(Method::POST, "/user/alice/videos", &alice)
        .json(&json!({"name": "third"}))
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::FORBIDDEN, "quota_exceeded").await;
    // Bob's quota is his own; strangers cannot create at all.
    let bobs = app.create_video("bob", &bob, "bob's").await;
    assert_eq!(allowance_of(app, &bobs), Some(DAILY_QUOTA));
    let res = app
        .request(Method::POST, "/user/alice/videos")
        .json(&json!({"name": "x"}))
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::UNAUTHORIZED, "unauthorized").await;
    // A day later the daily room is back, within the total quota.
    app.clock.advance(DAY_MS + 1);
    let res = app.login("alice", PASSWORD).await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    let alice = body["session_id"].as_str().unwrap().to_owned();
    let third = app.create_video("alice", &alice, "third").await;
    assert_eq!(allowance_of(app, &third), Some(QUOTA - 600));
    // The owner's list signs the same allowance.
    let list: Value = get(app, "/user/alice/videos", Some(&alice))
        .await
        .json()
        .await
        .unwrap();
    let listed = list["videos"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["id"] == third["id"])
        .unwrap()
        .clone();
    assert_eq!(allowance_of(app, &listed), Some(QUOTA - 600));
    // Deleting a video frees its bytes.
    let res = app
        .as_user(
            Method::DELETE,
            &format!("/user/alice/videos/{}", vid(&first)),
            &alice,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let fourth = app.create_video("alice", &alice, "fourth").await;
    assert_eq!(allowance_of(app, &fourth), Some(DAILY_QUOTA));
}

async fn uploads_are_counted_when_they_land(app: &TestApp) {
    let alice = app.signup("alice").await;
    let video = app.create_video("alice", &alice, "clip").await;
    let user = UserId::parse(video["author_id"].as_str().unwrap()).unwrap();
    let now = app.clock.now_ms();
    let used = |total, since| BytesUsed { total, since };
    let day_before = now - DAY_MS;
    assert_eq!(
        app.db().bytes_used(user, day_before).await.unwrap(),
        used(0, 0)
    );
    lands(app, &video, 123).await;
    assert_eq!(
        app.db().bytes_used(user, day_before).await.unwrap(),
        used(123, 123)
    );
    assert_eq!(
        app.db().bytes_used(user, now + 1).await.unwrap(),
        used(123, 0),
        "a day later it counts only in the total"
    );
    // The owner learns from the API that the upload arrived (no probe of the stream
    // server needed); others still see nothing of it.
    let path = format!("/user/alice/videos/{}", vid(&video));
    let got: Value = get(app, &path, Some(&alice)).await.json().await.unwrap();
    assert_eq!(got["status"], "uploaded");
    assert_eq!(got["size"], 123);
    assert!(got["upload_url"].is_null(), "the upload is in");
    assert_error(
        get(app, &path, None).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    // A second upload of the same video replaces the first in the count.
    lands(app, &video, 50).await;
    assert_eq!(app.db().bytes_used(user, now).await.unwrap().total, 50);
    assert!(
        !app.db()
            .record_upload(VideoId::random(), 1, now)
            .await
            .unwrap()
    );
}
