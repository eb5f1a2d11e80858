//! `reel serve` as a user runs it: the README's curl tour, logs and metrics.

mod common;

use common::{ApiClient, Reel, clip, emptied};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const PASSWORD: &str = "a long password 42";

#[tokio::test]
async fn the_readme_tour_works_on_a_fresh_data_dir() {
    let data = tempfile::tempdir().unwrap();
    let metrics_port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let metrics = format!("127.0.0.1:{metrics_port}");
    let reel = Reel::start(
        &[
            "serve",
            "--data-dir",
            data.path().to_str().unwrap(),
            "--metrics-listen",
            &metrics,
        ],
        &[("REEL_LOG", "debug")],
    );
    let http = reqwest::Client::new();
    let mut api = ApiClient::new(format!("{}/api", reel.base));
    let first = api.sign_in("alice", PASSWORD, false).await;
    api.sign_in("alice", PASSWORD, true).await;
    let sid = api.session.clone().unwrap();

    let (status, video) = api
        .call(
            Method::POST,
            "/user/alice/videos",
            Some(json!({"name": "Holiday"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let vid = video["id"].as_str().unwrap();
    assert!(
        video["upload_url"]
            .as_str()
            .unwrap()
            .starts_with(&format!("/upload/{vid}?token="))
    );
    let (status, list) = api
        .call(Method::GET, "/user/alice/videos?limit=20", None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["videos"][0]["id"], vid);

    // Upload a clip through its upload URL, whose token travels in the query string.
    let upload_url = video["upload_url"].as_str().unwrap();
    let token = upload_url.split_once("token=").unwrap().1.to_owned();
    let res = http
        .put(format!("{}{upload_url}", reel.base))
        .body(clip(data.path()))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let ready = api.processed("alice", vid).await;
    assert_eq!(ready["status"], "ready", "{ready}");
    let stored = data.path().join("storage").join("videos").join(vid);
    assert!(stored.join("original").exists());

    let comments = format!("/videos/{vid}/comments");
    let (status, comment) = api
        .call(Method::POST, &comments, Some(json!({"content": "Nice!"})))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let cid = comment["id"].as_str().unwrap();
    let (status, listed) = api.call(Method::GET, &comments, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed["comments"][0]["content"], "Nice!");

    // Each delete is checked by what it did, not only by its status.
    let (status, _) = api
        .call(Method::DELETE, &format!("{comments}/{cid}"), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, listed) = api.call(Method::GET, &comments, None).await;
    assert_eq!(listed["comments"], json!([]), "the comment is gone");

    let (status, _) = api
        .call(Method::DELETE, &format!("/user/alice/videos/{vid}"), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, list) = api
        .call(Method::GET, "/user/alice/videos?limit=20", None)
        .await;
    assert_eq!(list["videos"], json!([]), "gone from the owner's list");
    let (status, _) = api
        .call(Method::GET, &format!("/user/alice/videos/{vid}"), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // The scheduler removes the files; then nothing plays any more.
    emptied(&data.path().join("storage").join("videos")).await;
    let played = http
        .get(format!("{}/videos/{vid}", reel.base))
        .send()
        .await
        .unwrap();
    assert_eq!(played.status(), StatusCode::NOT_FOUND);

    let (status, _) = api.call(Method::DELETE, "/user/alice", None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = api.call(Method::GET, "/user/alice", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "logged out");

    assert_eq!(
        http.get(format!("{reel_base}/readyz", reel_base = reel.base))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );

    // Everything lives in the data dir: the database and the generated key.
    assert!(data.path().join("reel.db").exists());
    assert!(data.path().join("signing.key").exists());

    // Prometheus metrics on their own listener, labelled by route.
    let text = http
        .get(format!("http://{metrics}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.lines().any(|l| l.starts_with("http_requests_total{")
            && l.contains("route=\"/api/user/{username}/videos\"")
            && l.contains("status=\"201\"")),
        "{text}"
    );

    // Access logs carry method, path, status and request id, and never a secret:
    // neither the session ids, nor the password, nor the upload token.
    reel.wait_for_log(&format!("/upload/{vid}"));
    let logs = reel.log_text();
    let access = logs
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v["span"]["path"] == "/api/user/alice/videos" && v["fields"]["status"] == 201)
        .unwrap_or_else(|| panic!("no access log line: {logs}"));
    assert_eq!(access["span"]["method"], "POST");
    assert!(access["span"]["request_id"].as_str().unwrap().len() >= 32);
    assert!(access["fields"]["latency_ms"].is_number());
    let upload = logs
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v["span"]["path"] == format!("/upload/{vid}") && v["fields"]["status"] == 201)
        .unwrap_or_else(|| panic!("no access log line for the upload: {logs}"));
    assert_eq!(upload["span"]["method"], "PUT");
    for secret in [
        sid.as_str(),
        first["session_id"].as_str().unwrap(),
        PASSWORD,
        "token=",
        token.as_str(),
    ] {
        assert!(!logs.contains(secret), "a secret ({secret}) is in the logs");
    }
    let key = std::fs::read_to_string(data.path().join("signing.key")).unwrap();
    assert!(!logs.contains(key.trim()));
}

#[tokio::test]
async fn bad_options_are_clear_errors() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_reel"))
        .args(["serve", "--database-url", "oracle://x", "--data-dir"])
        .arg(tempfile::tempdir().unwrap().path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unsupported database URL scheme"), "{err}");

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_reel"))
        .args(["serve", "--session-ttl", "soon"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--session-ttl"));

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_reel"))
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for command in ["serve", "api", "migrate"] {
        assert!(help.contains(command), "{help}");
    }
}
