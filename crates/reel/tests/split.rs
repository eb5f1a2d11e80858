//! The site split into its four services, each its own process, as when scaling out:
//! `reel web` in front, `reel api` and `reel scheduler` on one PostgreSQL, `reel stream`
//! telling the scheduler about uploads over HTTP. A video goes from upload to playback
//! through the web's proxy.

mod common;

use common::{ApiClient, Reel, answers_gone, clip, only_tombstone_left};
use reel_testkit::{DbKind, ScratchDb};
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn an_upload_goes_through_the_split_services_to_playback() {
    let db = ScratchDb::new(DbKind::Postgres).await;
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().to_str().unwrap();
    let key = "c3BsaXQtbW9kZS1rZXktZm9yLWV2ZXJ5LXNlcnZpY2UtMzItYnl0ZXM";
    let env = [("REEL_DATABASE_URL", db.url()), ("REEL_SIGNING_KEY", key)];
    let scheduler = Reel::start(
        &["scheduler", "--data-dir", dir, "--task-tick", "200ms"],
        &env,
    );
    let stream = Reel::start(
        &[
            "stream",
            "--data-dir",
            dir,
            "--scheduler-url",
            &scheduler.base,
        ],
        &env,
    );
    let api = Reel::start(&["api", "--data-dir", dir], &env);
    let web = Reel::start(
        &["web", "--api-url", &api.base, "--stream-url", &stream.base],
        &[],
    );
    let http = reqwest::Client::new();
    let site = &web.base;

    let page = http.get(format!("{site}/")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let mut api = ApiClient::new(format!("{site}/api"));
    api.sign_in("alice", "a long password", false).await;
    let (status, video) = api
        .call(
            Method::POST,
            "/user/alice/videos",
            Some(json!({"name": "Split"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let vid = video["id"].as_str().unwrap().to_owned();
    let upload_url = video["upload_url"].as_str().unwrap();

    let bytes = clip(data.path());
    let res = http
        .put(format!("{site}{upload_url}"))
        .body(bytes.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        StatusCode::CREATED,
        "{}",
        res.text().await.unwrap()
    );

    // The stream server tells the scheduler, which processes the upload.
    let ready = api.ladder_made("alice", &vid).await;
    assert_eq!(ready["status"], "ready", "{ready}");
    assert_eq!(ready["processed"], true);
    assert_eq!(ready["width"], 320);
    assert_eq!(ready["height"], 240);

    let res = http
        .get(format!("{site}/videos/{vid}"))
        .header("range", "bytes=0-99")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(res.headers()["content-type"], "video/mp4");
    assert_eq!(res.bytes().await.unwrap().len(), 100);
    let poster = http
        .get(format!("{site}/videos/{vid}/poster.jpg"))
        .send()
        .await
        .unwrap();
    assert_eq!(poster.status(), StatusCode::OK);
    let master = http
        .get(format!("{site}/videos/{vid}/hls/master.m3u8"))
        .send()
        .await
        .unwrap();
    assert_eq!(master.status(), StatusCode::OK);
    assert!(master.text().await.unwrap().starts_with("#EXTM3U"));

    // Deleting through the API removes the files through the scheduler, all but the
    // tombstone that tells the stream server the video is gone.
    let (status, _) = api
        .call(Method::DELETE, &format!("/user/alice/videos/{vid}"), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    only_tombstone_left(&data.path().join("storage").join("videos").join(&vid)).await;
    answers_gone(&format!("{site}/videos/{vid}")).await;
}

/// `reel web` in front of `reel api`, both on their defaults: the API trusts the
/// web's X-Forwarded-For, so its per-address limit counts each browser, not the proxy.
#[tokio::test]
async fn the_api_counts_clients_behind_reel_web_by_their_own_address() {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().to_str().unwrap();
    let key = "c3BsaXQtbW9kZS1rZXktZm9yLWV2ZXJ5LXNlcnZpY2UtMzItYnl0ZXM";
    let api = Reel::start(
        &["api", "--data-dir", dir, "--auth-attempts-per-minute", "2"],
        &[("REEL_SIGNING_KEY", key)],
    );
    let web = Reel::start(&["web", "--api-url", &api.base], &[]);
    let from = |ip: [u8; 4]| {
        reqwest::Client::builder()
            .local_address(Some(std::net::IpAddr::from(ip)))
            .build()
            .unwrap()
    };
    let register = async |client: &reqwest::Client, name: &str| {
        client
            .post(format!("{}/api/user", web.base))
            .json(&json!({"user_name": name, "pwd": "a long password"}))
            .send()
            .await
            .unwrap()
            .status()
    };
    let (first, second) = (from([127, 0, 0, 2]), from([127, 0, 0, 3]));
    assert_eq!(register(&first, "ann").await, StatusCode::CREATED);
    assert_eq!(register(&first, "ben").await, StatusCode::CREATED);
    assert_eq!(register(&first, "cat").await, StatusCode::TOO_MANY_REQUESTS);
    // Another browser behind the same proxy has its own count.
    assert_eq!(register(&second, "cat").await, StatusCode::CREATED);
}
