use reel_core::ids::{CommentId, VideoId};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_error};

reel_testkit::per_backend!(
    databases,
    crate::helpers::with_app,
    [
        comments_are_listed_newest_first_in_pages,
        the_author_is_the_session_user,
        posting_refuses_bad_input_and_hidden_videos,
        comments_are_deleted_by_author_or_video_owner,
        deleting_refuses_strangers_and_bad_ids
    ]
);

/// Alice's ready video; returns (alice's session, video id).
async fn ready_video(app: &TestApp) -> (String, String) {
    let alice = app.signup("alice").await;
    let video = app.create_video("alice", &alice, "clip").await;
    app.mark_ready(&video).await;
    (alice, video["id"].as_str().unwrap().to_owned())
}

async fn comments_are_listed_newest_first_in_pages(app: &TestApp) {
    let (alice, vid) = ready_video(app).await;
    for i in 0..5 {
        app.comment(&vid, &alice, &format!("comment {i}")).await;
        app.clock.advance(1_000);
    }
    let page: Value = app
        .request(Method::GET, &format!("/videos/{vid}/comments?limit=2"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let texts: Vec<&str> = page["comments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["content"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["comment 4", "comment 3"]);
    let first = &page["comments"][0];
    assert_eq!(first["video_id"], vid.as_str());
    assert_eq!(first["author"], "alice");
    assert!(first["time"].as_str().unwrap().starts_with("2027-01-15T"));
    let next = page["next_cursor"].as_str().unwrap();
    let rest: Value = app
        .request(
            Method::GET,
            &format!("/videos/{vid}/comments?limit=3&cursor={next}"),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let texts: Vec<&str> = rest["comments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["content"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["comment 2", "comment 1", "comment 0"]);
    assert!(rest["next_cursor"].is_null());
    for query in ["limit=0", "limit=1000", "cursor=x"] {
        let res = app
            .request(Method::GET, &format!("/videos/{vid}/comments?{query}"))
            .send()
            .await
            .unwrap();
        assert_error(res, StatusCode::BAD_REQUEST, "bad_request").await;
    }
    let res = app
        .request(Method::GET, "/videos/xyz/comments")
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::BAD_REQUEST, "bad_request").await;
    let res = app
        .request(
            Method::GET,
            &format!("/videos/{}/comments", VideoId::random()),
        )
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::NOT_FOUND, "not_found").await;
}

async fn the_author_is_the_session_user(app: &TestApp) {
    let (_, vid) = ready_video(app).await;
    let bob = app.signup("bob").await;
    let alice_id = app.db().user_by_name("alice").await.unwrap().id.to_string();
    let res = app
        .as_user(Method::POST, &format!("/videos/{vid}/comments"), &bob)
        .json(&json!({"content": "hi", "author_id": alice_id, "author": "alice"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let c: Value = res.json().await.unwrap();
    assert_eq!(c["author"], "bob");
    assert_ne!(c["author_id"], alice_id.as_str());
    let stored = app
        .db()
        .comment(CommentId::parse(c["id"].as_str().unwrap()).unwrap())
        .await
        .unwrap();
    assert_eq!(stored.author, "bob");
    assert_eq!(stored.content, "hi");
}

async fn posting_refuses_bad_input_and_hidden_videos(app: &TestApp) {
    let (alice, vid) = ready_video(app).await;
    let bob = app.signup("bob").await;
    let post = |vid: String, sid: Option<String>, body: Value| {
        let req = app
            .request(Method::POST, &format!("/videos/{vid}/comments"))
            .json(&body);
        let req = match sid {
            Some(s) => req.header("x-session-id", s),
            None => req,
        };
        req.send()
    };
    for content in [
        json!(""),
        json!("  \n "),
        json!("x".repeat(10_001)),
        json!(null),
    ] {
        let res = post(vid.clone(), Some(bob.clone()), json!({"content": content}))
            .await
            .unwrap();
        assert_error(res, StatusCode::BAD_REQUEST, "bad_request").await;
    }
    let res = post("nope".into(), Some(bob.clone()), json!({"content": "hi"}))
        .await
        .unwrap();
    assert_error(res, StatusCode::BAD_REQUEST, "bad_request").await;
    let res = post(vid.clone(), None, json!({"content": "hi"}))
        .await
        .unwrap();
    assert_error(res, StatusCode::UNAUTHORIZED, "unauthorized").await;
    let res = post(
        VideoId::random().to_string(),
        Some(bob.clone()),
        json!({"content": "hi"}),
    )
    .await
    .unwrap();
    assert_error(res, StatusCode::NOT_FOUND, "not_found").await;
    // A video that is not ready is hidden from others, and so are its comments.
    let hidden = app.create_video("alice", &alice, "hidden").await;
    let hidden = hidden["id"].as_str().unwrap().to_owned();
    let res = post(hidden.clone(), Some(bob.clone()), json!({"content": "hi"}))
        .await
        .unwrap();
    assert_error(res, StatusCode::NOT_FOUND, "not_found").await;
    let res = post(
        hidden.clone(),
        Some(alice.clone()),
        json!({"content": "note to self"}),
    )
    .await
    .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let res = post(
        vid.clone(),
        Some(bob.clone()),
        json!({"content": "x".repeat(10_000)}),
    )
    .await
    .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let listed: Value = app
        .request(Method::GET, &format!("/videos/{vid}/comments"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        listed["comments"].as_array().unwrap().len(),
        1,
        "refused comments were not stored"
    );
}

async fn comments_are_deleted_by_author_or_video_owner(app: &TestApp) {
    let (alice, vid) = ready_video(app).await;
    let bob = app.signup("bob").await;
    let by_bob = app.comment(&vid, &bob, "bob's first").await;
    let by_bob_2 = app.comment(&vid, &bob, "bob's second").await;
    let path = |c: &Value| format!("/videos/{vid}/comments/{}", c["id"].as_str().unwrap());
    let res = app
        .as_user(Method::DELETE, &path(&by_bob), &bob)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let res = app
        .as_user(Method::DELETE, &path(&by_bob_2), &alice)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let listed: Value = app
        .request(Method::GET, &format!("/videos/{vid}/comments"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(listed["comments"].as_array().unwrap().is_empty());
    let res = app
        .as_user(Method::DELETE, &path(&by_bob), &bob)
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::NOT_FOUND, "not_found").await;
}

async fn deleting_refuses_strangers_and_bad_ids(app: &TestApp) {
    let (alice, vid) = ready_video(app).await;
    let bob = app.signup("bob").await;
    let carol = app.signup("carol").await;
    let other_video = app.create_video("alice", &alice, "other").await;
    app.mark_ready(&other_video).await;
    let c = app.comment(&vid, &alice, "alice's").await;
    let cid = c["id"].as_str().unwrap();
    let path = format!("/videos/{vid}/comments/{cid}");
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
    assert_error(
        app.as_user(Method::DELETE, &path, &carol)
            .send()
            .await
            .unwrap(),
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    let wrong_video = format!(
        "/videos/{}/comments/{cid}",
        other_video["id"].as_str().unwrap()
    );
    assert_error(
        app.as_user(Method::DELETE, &wrong_video, &alice)
            .send()
            .await
            .unwrap(),
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    let unknown = format!("/videos/{vid}/comments/{}", CommentId::random());
    assert_error(
        app.as_user(Method::DELETE, &unknown, &alice)
            .send()
            .await
            .unwrap(),
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    for bad in [
        format!("/videos/{vid}/comments/1"),
        format!("/videos/x/comments/{cid}"),
    ] {
        assert_error(
            app.as_user(Method::DELETE, &bad, &alice)
                .send()
                .await
                .unwrap(),
            StatusCode::BAD_REQUEST,
            "bad_request",
        )
        .await;
    }
    let listed: Value = app
        .request(Method::GET, &format!("/videos/{vid}/comments"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        listed["comments"].as_array().unwrap().len(),
        1,
        "the comment survived"
    );
}
