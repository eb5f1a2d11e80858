//! Visibility, playback URLs, the owner's edits and quotas, for each kind of reader
//! (anonymous, another user, the owner), on every backend.

use reel_core::clock::Clock;
use reel_core::db::TaskKind;
use reel_core::ids::VideoId;
use reel_core::playback_grant::PlaybackGrant;
use reel_core::signing::UploadGrant;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_error};

reel_testkit::per_backend!(
    databases,
    crate::helpers::with_app,
    [
        visibility_decides_who_sees_and_lists_a_video,
        playback_urls_carry_a_grant_for_private_videos_only,
        owners_edit_title_description_and_visibility,
        edits_refuse_strangers_and_bad_input,
        creation_refuses_bad_visibility_and_descriptions
    ]
);

pub(crate) fn vid(video: &Value) -> VideoId {
    VideoId::parse(video["id"].as_str().unwrap()).unwrap()
}

/// Creates a video with extra fields in the body.
async fn create_with(app: &TestApp, sid: &str, body: Value) -> Value {
    let res = app
        .as_user(Method::POST, "/user/alice/videos", sid)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    res.json().await.unwrap()
}

/// GET `path` as `sid` (or anonymously).
pub(crate) async fn get(app: &TestApp, path: &str, sid: Option<&str>) -> reqwest::Response {
    let req = app.request(Method::GET, path);
    let req = match sid {
        Some(s) => req.header("x-session-id", s),
        None => req,
    };
    req.send().await.unwrap()
}

async fn names(app: &TestApp, path: &str, sid: Option<&str>) -> Vec<String> {
    let list: Value = get(app, path, sid).await.json().await.unwrap();
    let mut names: Vec<String> = list["videos"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap().to_owned())
        .collect();
    names.sort();
    names
}

/// Alice's three ready videos, one of each visibility; returns her session, Bob's and
/// the videos.
async fn three_videos(app: &TestApp) -> (String, String, [Value; 3]) {
    let alice = app.signup("alice").await;
    let bob = app.signup("bob").await;
    let public = app.create_video("alice", &alice, "public").await;
    let unlisted = create_with(
        app,
        &alice,
        json!({"name": "unlisted", "visibility": "unlisted"}),
    )
    .await;
    let private = create_with(
        app,
        &alice,
        json!({"name": "private", "visibility": "private", "description": "just me"}),
    )
    .await;
    assert_eq!(public["visibility"], "public");
    assert_eq!(unlisted["visibility"], "unlisted");
    assert_eq!(private["visibility"], "private");
    assert_eq!(private["description"], "just me");
    for v in [&public, &unlisted, &private] {
        assert!(v["playback"].is_null(), "no playback before it is ready");
        app.mark_ready(v).await;
    }
    (alice, bob, [public, unlisted, private])
}

async fn visibility_decides_who_sees_and_lists_a_video(app: &TestApp) {
    let (alice, bob, [public, unlisted, private]) = three_videos(app).await;
    // Listings: others see public videos only; the owner sees all of them.
    for reader in [None, Some(bob.as_str())] {
        assert_eq!(names(app, "/user/alice/videos", reader).await, ["public"]);
        assert_eq!(names(app, "/videos", reader).await, ["public"]);
    }
    assert_eq!(
        names(app, "/user/alice/videos", Some(&alice)).await,
        ["private", "public", "unlisted"]
    );
    assert_eq!(names(app, "/videos", Some(&alice)).await, ["public"]);
    // One video: an unlisted one by its link, a private one to its owner only.
    for reader in [None, Some(bob.as_str()), Some(alice.as_str())] {
        for v in [&public, &unlisted] {
            let res = get(app, &format!("/user/alice/videos/{}", vid(v)), reader).await;
            assert_eq!(res.status(), StatusCode::OK);
        }
        let res = get(
            app,
            &format!("/user/alice/videos/{}", vid(&private)),
            reader,
        )
        .await;
        if reader == Some(alice.as_str()) {
            assert_eq!(res.status(), StatusCode::OK);
        } else {
            assert_error(res, StatusCode::NOT_FOUND, "not_found").await;
        }
    }
    // Comments follow the video: none of a private one for others.
    let comments = format!("/videos/{}/comments", vid(&private));
    assert_error(
        get(app, &comments, None).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_error(
        get(app, &comments, Some(&bob)).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_eq!(
        get(app, &comments, Some(&alice)).await.status(),
        StatusCode::OK
    );
    let res = app
        .as_user(Method::POST, &comments, &bob)
        .json(&json!({"content": "let me in"}))
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::NOT_FOUND, "not_found").await;
    let unlisted_comments = format!("/videos/{}/comments", vid(&unlisted));
    assert_eq!(
        get(app, &unlisted_comments, None).await.status(),
        StatusCode::OK
    );
}

async fn playback_urls_carry_a_grant_for_private_videos_only(app: &TestApp) {
    let (alice, bob, [public, unlisted, private]) = three_videos(app).await;
    sqlx::query(
        app.db()
            .sql("UPDATE video_info SET processed = 1 WHERE id = ?"),
    )
    .bind(vid(&private).to_string())
    .execute(app.db().pool())
    .await
    .unwrap();
    for (v, reader) in [(&public, None), (&unlisted, Some(bob.as_str()))] {
        let id = vid(v);
        let got: Value = get(app, &format!("/user/alice/videos/{id}"), reader)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(got["playback"]["mp4"], format!("/videos/{id}"));
        assert!(got["playback"]["hls"].is_null(), "not processed");
        assert!(got["playback"]["poster"].is_null(), "not processed");
    }
    let id = vid(&private);
    let got: Value = get(app, &format!("/user/alice/videos/{id}"), Some(&alice))
        .await
        .json()
        .await
        .unwrap();
    let now = app.clock.now_ms();
    for (field, path) in [
        ("mp4", format!("/videos/{id}")),
        ("hls", format!("/videos/{id}/hls/master.m3u8")),
        ("poster", format!("/videos/{id}/poster.jpg")),
    ] {
        let url = got["playback"][field].as_str().unwrap();
        let grant = url
            .strip_prefix(&format!("{path}?grant="))
            .unwrap_or_else(|| panic!("{field}: {url}"));
        let checked = PlaybackGrant::verify(grant, &app.key, id, now).unwrap();
        assert!(checked.expires_ms > now + 3_600_000, "valid for hours");
    }
    // The home page and the owner's list carry the same URLs as the video itself.
    let listed: Value = get(app, "/videos", None).await.json().await.unwrap();
    assert_eq!(
        listed["videos"][0]["playback"]["mp4"],
        format!("/videos/{}", vid(&public))
    );
}

async fn owners_edit_title_description_and_visibility(app: &TestApp) {
    let (alice, bob, [public, ..]) = three_videos(app).await;
    let id = vid(&public);
    let path = format!("/user/alice/videos/{id}");
    let patch = |body: Value| app.as_user(Method::PATCH, &path, &alice).json(&body).send();
    let res = patch(json!({"name": "renamed", "description": "about it", "visibility": "private"}))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let changed: Value = res.json().await.unwrap();
    assert_eq!(changed["name"], "renamed");
    assert_eq!(changed["description"], "about it");
    assert_eq!(changed["visibility"], "private");
    assert!(
        changed["playback"]["mp4"]
            .as_str()
            .unwrap()
            .contains("?grant=")
    );
    // The stream servers are told through the scheduler, in the same transaction.
    let task = app.db().task(TaskKind::SyncState, id).await.unwrap();
    assert_eq!(task.state.as_str(), "pending");
    assert_error(
        get(app, &path, None).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_eq!(
        names(app, "/user/alice/videos", Some(&bob)).await,
        Vec::<String>::new()
    );
    // Fields left out stay as they are.
    let res = patch(json!({"visibility": "unlisted"})).await.unwrap();
    let changed: Value = res.json().await.unwrap();
    assert_eq!(changed["name"], "renamed");
    assert_eq!(changed["description"], "about it");
    assert_eq!(get(app, &path, None).await.status(), StatusCode::OK);
    assert_eq!(names(app, "/videos", None).await, Vec::<String>::new());
    let res = patch(json!({"visibility": "public", "description": ""}))
        .await
        .unwrap();
    let changed: Value = res.json().await.unwrap();
    assert_eq!(changed["description"], "");
    assert_eq!(names(app, "/videos", None).await, ["renamed"]);
}

async fn edits_refuse_strangers_and_bad_input(app: &TestApp) {
    let (alice, bob, [public, ..]) = three_videos(app).await;
    let id = vid(&public);
    let path = format!("/user/alice/videos/{id}");
    let body = json!({"visibility": "private"});
    let res = app
        .request(Method::PATCH, &path)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::UNAUTHORIZED, "unauthorized").await;
    let res = app
        .as_user(Method::PATCH, &path, &bob)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::FORBIDDEN, "forbidden").await;
    let bobs_path = format!("/user/bob/videos/{id}");
    let res = app
        .as_user(Method::PATCH, &bobs_path, &bob)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::NOT_FOUND, "not_found").await;
    let unknown = format!("/user/alice/videos/{}", VideoId::random());
    let res = app
        .as_user(Method::PATCH, &unknown, &alice)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::NOT_FOUND, "not_found").await;
    let res = app
        .as_user(Method::PATCH, "/user/alice/videos/not-an-id", &alice)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::BAD_REQUEST, "bad_request").await;
    for bad in [
        json!({"visibility": "secret"}),
        json!({"name": ""}),
        json!({"name": "x".repeat(201)}),
        json!({"description": "x".repeat(5_001)}),
        json!({"colour": "red"}),
        json!([1, 2]),
    ] {
        let res = app
            .as_user(Method::PATCH, &path, &alice)
            .json(&bad)
            .send()
            .await
            .unwrap();
        assert_error(res, StatusCode::BAD_REQUEST, "bad_request").await;
    }
    // Nothing changed.
    let got: Value = get(app, &path, None).await.json().await.unwrap();
    assert_eq!(got["name"], "public");
    assert_eq!(got["visibility"], "public");
    assert!(
        app.db().task(TaskKind::SyncState, id).await.is_err(),
        "no task queued"
    );
}

async fn creation_refuses_bad_visibility_and_descriptions(app: &TestApp) {
    let alice = app.signup("alice").await;
    for bad in [
        json!({"name": "x", "visibility": "secret"}),
        json!({"name": "x", "visibility": 1}),
        json!({"name": "x", "description": "x".repeat(5_001)}),
    ] {
        let res = app
            .as_user(Method::POST, "/user/alice/videos", &alice)
            .json(&bad)
            .send()
            .await
            .unwrap();
        assert_error(res, StatusCode::BAD_REQUEST, "bad_request").await;
    }
    // The default quota leaves a new user 10 GiB, carried by the upload grant.
    let video = app.create_video("alice", &alice, "clip").await;
    assert_eq!(allowance_of(app, &video), Some(10 * 1024 * 1024 * 1024));
    assert!(
        app.db()
            .task(TaskKind::SyncState, vid(&video))
            .await
            .is_err(),
        "a public video needs no state marker"
    );
    let private = create_with(app, &alice, json!({"name": "p", "visibility": "private"})).await;
    assert!(
        app.db()
            .task(TaskKind::SyncState, vid(&private))
            .await
            .is_ok()
    );
}

/// The allowance the upload URL of `video` carries.
pub(crate) fn allowance_of(app: &TestApp, video: &Value) -> Option<u64> {
    let url = video["upload_url"].as_str().unwrap();
    let token = url.split("?token=").nth(1).unwrap();
    UploadGrant::verify(token, &app.key, vid(video), app.clock.now_ms())
        .unwrap()
        .allowance
}
