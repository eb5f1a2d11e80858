use std::collections::HashSet;

use reel_core::ids::VideoId;
use reel_core::signing::UploadGrant;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_error};

reel_testkit::per_backend!(
    databases,
    crate::helpers::with_app,
    [
        create_video_returns_a_signed_upload_url,
        create_video_refuses_bad_input_and_strangers,
        owners_see_every_status_others_only_ready,
        listing_paginates_without_gaps_or_repeats,
        listing_refuses_bad_queries_and_unknown_users,
        get_video_checks_owner_and_id,
        delete_video_queues_file_removal,
        delete_video_refuses_strangers_and_unknown_ids,
        home_lists_ready_videos_of_everyone
    ]
);

/// The listing cache's TTL in its test: long enough that no real time runs it out.
const CACHE_TTL_MS: i64 = 3_600_000;

mod cached {
    use std::time::Duration;

    use super::*;
    use crate::helpers::DbKind;

    #[tokio::test]
    async fn public_listings_are_cached_and_invalidated_by_writes() {
        let app = TestApp::spawn_with(DbKind::Sqlite, |c| {
            c.listing_cache_ttl = Duration::from_millis(super::CACHE_TTL_MS as u64)
        })
        .await;
        super::public_listings_are_cached_and_invalidated_by_writes(&app).await;
        app.finish().await;
    }
}

async fn public_listings_are_cached_and_invalidated_by_writes(app: &TestApp) {
    let alice = app.signup("alice").await;
    let first = app.create_video("alice", &alice, "first").await;
    app.mark_ready(&first).await;
    let count = |path: &'static str, sid: Option<String>| async move {
        let mut req = app.request(Method::GET, path);
        if let Some(s) = sid {
            req = req.header("x-session-id", s);
        }
        let v: Value = req.send().await.unwrap().json().await.unwrap();
        v["videos"].as_array().unwrap().len()
    };
    assert_eq!(count("/user/alice/videos", None).await, 1);
    assert_eq!(count("/videos", None).await, 1);
    // A status set behind the API's back (the scheduler's way) waits for the TTL.
    let second = app.create_video("alice", &alice, "second").await;
    assert_eq!(count("/user/alice/videos", None).await, 1);
    assert_eq!(count("/videos", None).await, 1);
    app.mark_ready(&second).await;
    assert_eq!(
        count("/user/alice/videos", None).await,
        1,
        "served from the cache"
    );
    assert_eq!(count("/videos", None).await, 1, "served from the cache");
    // The owner always sees the database.
    assert_eq!(count("/user/alice/videos", Some(alice.clone())).await, 2);
    // A write through the API forgets the user's listings and the home page at once.
    let res = app
        .as_user(
            Method::DELETE,
            &format!("/user/alice/videos/{}", first["id"].as_str().unwrap()),
            &alice,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let listed: Value = app
        .request(Method::GET, "/user/alice/videos")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["videos"][0]["name"], "second");
    assert_eq!(listed["videos"].as_array().unwrap().len(), 1);
    assert_eq!(count("/videos", None).await, 1);

    // A status set behind the API's back shows once the TTL has passed on the API's
    // clock, and not a moment before.
    let third = app.create_video("alice", &alice, "third").await;
    assert_eq!(count("/user/alice/videos", None).await, 1);
    assert_eq!(count("/videos", None).await, 1);
    app.mark_ready(&third).await;
    app.clock.advance(CACHE_TTL_MS - 1);
    assert_eq!(count("/user/alice/videos", None).await, 1, "still fresh");
    assert_eq!(count("/videos", None).await, 1, "still fresh");
    app.clock.advance(1);
    assert_eq!(count("/user/alice/videos", None).await, 2, "expired");
    assert_eq!(count("/videos", None).await, 2, "expired");
}

async fn create_video_returns_a_signed_upload_url(app: &TestApp) {
    let sid = app.signup("alice").await;
    let video = app.create_video("alice", &sid, "My first clip").await;
    assert_eq!(video["name"], "My first clip");
    assert_eq!(video["author"], "alice");
    assert_eq!(video["status"], "awaiting_upload");
    for field in ["size", "duration", "width", "height"] {
        assert!(video[field].is_null(), "{field}");
    }
    assert!(video["display_ctime"].as_str().unwrap().contains("2027"));
    let id = VideoId::parse(video["id"].as_str().unwrap()).unwrap();
    let url = video["upload_url"].as_str().unwrap();
    let token = url
        .strip_prefix(&format!("/upload/{id}?token="))
        .unwrap_or_else(|| panic!("unexpected upload url {url}"));
    let grant = UploadGrant::verify(
        token,
        &app.key,
        id,
        reel_core::clock::Clock::now_ms(&*app.clock),
    )
    .unwrap();
    assert_eq!(grant.user.to_string(), video["author_id"].as_str().unwrap());
}

async fn create_video_refuses_bad_input_and_strangers(app: &TestApp) {
    let alice = app.signup("alice").await;
    let bob = app.signup("bob").await;
    let post = |path: &str, sid: Option<&str>, body: Value| {
        let req = app.request(Method::POST, path).json(&body);
        let req = match sid {
            Some(s) => req.header("x-session-id", s),
            None => req,
        };
        req.send()
    };
    for name in [json!(""), json!("   "), json!("x".repeat(201)), json!(5)] {
        let res = post("/user/alice/videos", Some(&alice), json!({"name": name}))
            .await
            .unwrap();
        assert_error(res, StatusCode::BAD_REQUEST, "bad_request").await;
    }
    let res = post("/user/alice/videos", Some(&alice), json!({}))
        .await
        .unwrap();
    assert_error(res, StatusCode::BAD_REQUEST, "bad_request").await;
    let res = post("/user/a%20b/videos", Some(&alice), json!({"name": "x"}))
        .await
        .unwrap();
    assert_error(res, StatusCode::BAD_REQUEST, "bad_request").await;
    let res = post("/user/alice/videos", None, json!({"name": "x"}))
        .await
        .unwrap();
    assert_error(res, StatusCode::UNAUTHORIZED, "unauthorized").await;
    let res = post("/user/alice/videos", Some(&bob), json!({"name": "x"}))
        .await
        .unwrap();
    assert_error(res, StatusCode::FORBIDDEN, "forbidden").await;
    let list: Value = app
        .as_user(Method::GET, "/user/alice/videos", &alice)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        list["videos"].as_array().unwrap().len(),
        0,
        "nothing stored"
    );
}

async fn owners_see_every_status_others_only_ready(app: &TestApp) {
    let alice = app.signup("alice").await;
    let bob = app.signup("bob").await;
    let waiting = app.create_video("alice", &alice, "waiting").await;
    app.clock.advance(1);
    let ready = app.create_video("alice", &alice, "ready").await;
    app.mark_ready(&ready).await;

    let names = |v: Value| -> Vec<String> {
        v["videos"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let mine: Value = app
        .as_user(Method::GET, "/user/alice/videos", &alice)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(names(mine.clone()), ["ready", "waiting"]);
    // Only the owner's awaiting video carries an upload URL.
    assert!(mine["videos"][1]["upload_url"].as_str().is_some());
    assert!(mine["videos"][0]["upload_url"].is_null());
    let theirs: Value = app
        .as_user(Method::GET, "/user/alice/videos", &bob)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(names(theirs.clone()), ["ready"]);
    assert!(theirs["videos"][0]["upload_url"].is_null());
    let anonymous: Value = app
        .request(Method::GET, "/user/alice/videos")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(names(anonymous), ["ready"]);

    let path = format!("/user/alice/videos/{}", waiting["id"].as_str().unwrap());
    assert_eq!(
        app.as_user(Method::GET, &path, &alice)
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    assert_error(
        app.as_user(Method::GET, &path, &bob).send().await.unwrap(),
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
}

async fn listing_paginates_without_gaps_or_repeats(app: &TestApp) {
    let sid = app.signup("alice").await;
    let mut created = Vec::new();
    for i in 0..7 {
        let v = app.create_video("alice", &sid, &format!("clip {i}")).await;
        created.push(v["id"].as_str().unwrap().to_owned());
        // Two videos share each millisecond, so the id must break ties.
        if i % 2 == 1 {
            app.clock.advance(1);
        }
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut path = "/user/alice/videos?limit=3".to_owned();
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let page: Value = app
            .as_user(Method::GET, &path, &sid)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        pages += 1;
        for v in page["videos"].as_array().unwrap() {
            seen.push(v["id"].as_str().unwrap().to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
        assert!(pages < 10, "pagination does not end");
    }
    assert_eq!(pages, 3);
    assert_eq!(seen.len(), 7);
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 7);
    // Newest first: the last created comes first.
    assert_eq!(seen[0], created[6]);
    assert_eq!(
        seen.iter().collect::<HashSet<_>>(),
        created.iter().collect::<HashSet<_>>()
    );
    let default: Value = app
        .as_user(Method::GET, "/user/alice/videos", &sid)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(default["videos"].as_array().unwrap().len(), 7);
    assert!(default["next_cursor"].is_null());
}

async fn listing_refuses_bad_queries_and_unknown_users(app: &TestApp) {
    app.signup("alice").await;
    for query in [
        "limit=0",
        "limit=101",
        "limit=x",
        "limit=-1",
        "cursor=%%%",
        "cursor=bm9wZQ",
    ] {
        let res = app
            .request(Method::GET, &format!("/user/alice/videos?{query}"))
            .send()
            .await
            .unwrap();
        assert_error(res, StatusCode::BAD_REQUEST, "bad_request").await;
    }
    let res = app
        .request(Method::GET, "/user/nobody/videos")
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::NOT_FOUND, "not_found").await;
    let res = app
        .request(Method::GET, "/user/no%2Fbody/videos")
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::BAD_REQUEST, "bad_request").await;
    let res = app
        .request(Method::GET, "/user/alice/videos?limit=100")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
}

async fn get_video_checks_owner_and_id(app: &TestApp) {
    let alice = app.signup("alice").await;
    app.signup("bob").await;
    let video = app.create_video("alice", &alice, "clip").await;
    app.mark_ready(&video).await;
    let id = video["id"].as_str().unwrap();
    let res = app
        .request(Method::GET, &format!("/user/alice/videos/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let got: Value = res.json().await.unwrap();
    assert_eq!(got["id"], id);
    assert_eq!(got["status"], "ready");
    let res = app
        .request(Method::GET, &format!("/user/bob/videos/{id}"))
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::NOT_FOUND, "not_found").await;
    let res = app
        .request(
            Method::GET,
            &format!("/user/alice/videos/{}", VideoId::random()),
        )
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::NOT_FOUND, "not_found").await;
    for bad in ["123", "not-a-uuid", "00000000000000000000000000000000"] {
        let res = app
            .request(Method::GET, &format!("/user/alice/videos/{bad}"))
            .send()
            .await
            .unwrap();
        assert_error(res, StatusCode::BAD_REQUEST, "bad_request").await;
    }
}

async fn delete_video_queues_file_removal(app: &TestApp) {
    let alice = app.signup("alice").await;
    let keep = app.create_video("alice", &alice, "keep").await;
    let video = app.create_video("alice", &alice, "doomed").await;
    app.mark_ready(&video).await;
    let id = video["id"].as_str().unwrap();
    app.comment(id, &alice, "nice").await;
    let res = app
        .as_user(Method::DELETE, &format!("/user/alice/videos/{id}"), &alice)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let list: Value = app
        .as_user(Method::GET, "/user/alice/videos", &alice)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ids: Vec<&str> = list["videos"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [keep["id"].as_str().unwrap()]);
    let home: Value = app
        .request(Method::GET, "/videos")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(home["videos"].as_array().unwrap().is_empty());
    let res = app
        .request(Method::GET, &format!("/videos/{id}/comments"))
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::NOT_FOUND, "not_found").await;
    let queued = app.db().pending_deletions(10).await.unwrap();
    assert_eq!(queued.len(), 1);
    assert_eq!(queued[0].to_string(), id);
    let res = app
        .as_user(Method::DELETE, &format!("/user/alice/videos/{id}"), &alice)
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::NOT_FOUND, "not_found").await;
}

async fn delete_video_refuses_strangers_and_unknown_ids(app: &TestApp) {
    let alice = app.signup("alice").await;
    let bob = app.signup("bob").await;
    let video = app.create_video("alice", &alice, "clip").await;
    let id = video["id"].as_str().unwrap();
    let path = format!("/user/alice/videos/{id}");
    assert_error(
        app.request(Method::DELETE, &path).send().await.unwrap(),
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    assert_error(
        app.as_user(Method::DELETE, &path, &bob)
            .send()
            .await
            .unwrap(),
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    // Bob naming his own list does not reach Alice's video.
    let res = app
        .as_user(Method::DELETE, &format!("/user/bob/videos/{id}"), &bob)
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::NOT_FOUND, "not_found").await;
    let res = app
        .as_user(Method::DELETE, "/user/alice/videos/nope", &alice)
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::BAD_REQUEST, "bad_request").await;
    let res = app
        .as_user(
            Method::DELETE,
            &format!("/user/alice/videos/{}", VideoId::random()),
            &alice,
        )
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::NOT_FOUND, "not_found").await;
    assert!(app.db().pending_deletions(10).await.unwrap().is_empty());
    assert_eq!(
        app.as_user(Method::GET, &path, &alice)
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
}

async fn home_lists_ready_videos_of_everyone(app: &TestApp) {
    let alice = app.signup("alice").await;
    let bob = app.signup("bob").await;
    let a = app.create_video("alice", &alice, "a").await;
    app.clock.advance(10);
    let b = app.create_video("bob", &bob, "b").await;
    app.clock.advance(10);
    app.create_video("bob", &bob, "not ready").await;
    app.mark_ready(&a).await;
    app.mark_ready(&b).await;
    let home: Value = app
        .request(Method::GET, "/videos?limit=1")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(home["videos"][0]["name"], "b");
    let next = home["next_cursor"].as_str().unwrap();
    let rest: Value = app
        .request(Method::GET, &format!("/videos?limit=1&cursor={next}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(rest["videos"][0]["name"], "a");
    assert!(rest["next_cursor"].is_null());
    for query in ["limit=0", "limit=abc", "cursor=zzz"] {
        let res = app
            .request(Method::GET, &format!("/videos?{query}"))
            .send()
            .await
            .unwrap();
        assert_error(res, StatusCode::BAD_REQUEST, "bad_request").await;
    }
}
