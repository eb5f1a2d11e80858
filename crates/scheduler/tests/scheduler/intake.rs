//! The HTTP intake: service signatures, stored-before-acknowledged idempotent tasks,
//! the first design's deletion record path, the operators' list, JSON errors.

use reel_core::db::{TaskKind, TaskState};
use reel_core::ids::VideoId;
use reel_core::signing::{SigningKey, service};
use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::helpers::{TestScheduler, new_video};

async fn json(res: reqwest::Response) -> Value {
    assert_eq!(
        res.headers()["content-type"],
        "application/json",
        "errors and answers are JSON"
    );
    res.json().await.unwrap()
}

/// A scheduler that takes tasks but does not run them, so that they stay as stored.
async fn idle_scheduler() -> TestScheduler {
    TestScheduler::intake_only().await
}

#[tokio::test]
async fn calls_without_a_valid_service_signature_get_401() {
    let app = idle_scheduler().await;
    let video = VideoId::random();
    let path = format!("/tasks/process/{video}");
    let http = reqwest::Client::new();
    let url = format!("{}{path}", app.base);
    let now = reel_core::clock::Clock::now_ms(&reel_core::clock::SystemClock);

    let unsigned = http.post(&url).send().await.unwrap();
    assert_eq!(unsigned.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(json(unsigned).await["code"], "unauthorized");
    let other_key = service::authorization(&SigningKey::random(), "POST", &path, now);
    let other_path = app.signed("POST", "/tasks/process/other");
    let expired = service::authorization(&app.key, "POST", &path, now - 120_000);
    for bad in [other_key, other_path, expired, "Bearer garbage".into()] {
        let res = http
            .post(&url)
            .header("authorization", bad)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }
    let list = http
        .get(format!("{}/tasks", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(list.status(), StatusCode::UNAUTHORIZED);
    assert!(app.db().tasks(None, 10).await.unwrap().is_empty());
    let health = http
        .get(format!("{}/healthz", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), StatusCode::OK, "probes need no signature");
    app.stop().await;
}

#[tokio::test]
async fn process_notices_are_stored_before_the_answer_and_idempotent() {
    let app = idle_scheduler().await;
    let video = new_video(app.db()).await;
    let path = format!("/tasks/process/{video}");
    let first = app.request(Method::POST, &path).send().await.unwrap();
    assert_eq!(first.status(), StatusCode::ACCEPTED);
    let first = json(first).await;
    assert_eq!(first["kind"], "process");
    assert_eq!(first["state"], "pending");
    assert_eq!(first["video_id"], video.to_string());
    let stored = app.db().task(TaskKind::ProcessVideo, video).await.unwrap();
    assert_eq!(stored.id.to_string(), first["id"]);

    let again = app.request(Method::POST, &path).send().await.unwrap();
    assert_eq!(again.status(), StatusCode::ACCEPTED);
    assert_eq!(json(again).await["id"], first["id"]);
    assert_eq!(app.db().tasks(None, 10).await.unwrap().len(), 1);
    app.stop().await;
}

#[tokio::test]
async fn deletion_records_are_taken_once_the_video_is_gone() {
    let app = idle_scheduler().await;
    let video = new_video(app.db()).await;
    let path = format!("/video-delete-record/{video}");
    let early = app.request(Method::POST, &path).send().await.unwrap();
    assert_eq!(early.status(), StatusCode::CONFLICT);
    assert_eq!(json(early).await["code"], "conflict");

    app.db().delete_video(video, 1).await.unwrap();
    let res = app.request(Method::POST, &path).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let task = json(res).await;
    assert_eq!(task["kind"], "delete");
    let again = app.request(Method::POST, &path).send().await.unwrap();
    assert_eq!(json(again).await["id"], task["id"]);
    assert_eq!(app.db().pending_deletions(10).await.unwrap(), [video]);

    // A deletion record of a video the API never knew is kept too (the first design's way).
    let unknown = VideoId::random();
    let res = app
        .request(Method::POST, &format!("/video-delete-record/{unknown}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    app.stop().await;
}

#[tokio::test]
async fn malformed_requests_get_json_errors() {
    let app = idle_scheduler().await;
    let bad_id = app
        .request(Method::POST, "/tasks/process/not-a-uuid")
        .send()
        .await
        .unwrap();
    assert_eq!(bad_id.status(), StatusCode::BAD_REQUEST);
    assert_eq!(json(bad_id).await["code"], "bad_request");
    for query in ["state=lost", "limit=0", "limit=99999", "limit=x"] {
        let res = app
            .request(Method::GET, &format!("/tasks?{query}"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{query}");
        json(res).await;
    }
    let missing = reqwest::get(format!("{}/nothing", app.base)).await.unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    json(missing).await;
    let wrong_method = app
        .request(
            Method::GET,
            &format!("/tasks/process/{}", VideoId::random()),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_method.status(), StatusCode::METHOD_NOT_ALLOWED);
    json(wrong_method).await;
    app.stop().await;
}

#[tokio::test]
async fn operators_list_tasks_by_state() {
    let app = idle_scheduler().await;
    let videos: Vec<VideoId> = (0..3).map(|_| VideoId::random()).collect();
    for v in &videos {
        app.scheduler.enqueue_process(*v).await.unwrap();
    }
    let claimed = app
        .db()
        .claim_tasks("elsewhere", 1, i64::MAX / 2, i64::MAX / 2 + 1)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);

    let all = json(app.request(Method::GET, "/tasks").send().await.unwrap()).await;
    assert_eq!(all["tasks"].as_array().unwrap().len(), 3);
    let pending = json(
        app.request(Method::GET, "/tasks?state=pending&limit=10")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(pending["tasks"].as_array().unwrap().len(), 2);
    let running = json(
        app.request(Method::GET, "/tasks?state=running")
            .send()
            .await
            .unwrap(),
    )
    .await;
    let running = &running["tasks"][0];
    assert_eq!(running["lease_owner"], "elsewhere");
    assert_eq!(running["attempts"], 1);
    assert_eq!(
        app.db()
            .tasks(Some(TaskState::Running), 10)
            .await
            .unwrap()
            .len(),
        1
    );
    app.stop().await;
}
