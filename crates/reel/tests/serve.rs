//! `reel serve` as a user runs it: the README's curl tour, logs and metrics.

mod common;

use common::Reel;
use reqwest::StatusCode;
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
    let api = format!("{}/api", reel.base);
    let http = reqwest::Client::new();

    let res = http
        .post(format!("{api}/user"))
        .json(&json!({"user_name": "alice", "pwd": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let first: Value = res.json().await.unwrap();
    let res = http
        .post(format!("{api}/user/alice"))
        .json(&json!({"pwd": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let sid = res.json::<Value>().await.unwrap()["session_id"]
        .as_str()
        .unwrap()
        .to_owned();

    let video: Value = http
        .post(format!("{api}/user/alice/videos"))
        .header("x-session-id", &sid)
        .json(&json!({"name": "Holiday"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let vid = video["id"].as_str().unwrap();
    assert!(
        video["upload_url"]
            .as_str()
            .unwrap()
            .starts_with(&format!("/upload/{vid}?token="))
    );
    let list: Value = http
        .get(format!("{api}/user/alice/videos?limit=20"))
        .header("x-session-id", &sid)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["videos"][0]["id"], vid);

    let comment: Value = http
        .post(format!("{api}/videos/{vid}/comments"))
        .header("x-session-id", &sid)
        .json(&json!({"content": "Nice!"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let cid = comment["id"].as_str().unwrap();
    let comments: Value = http
        .get(format!("{api}/videos/{vid}/comments"))
        .header("x-session-id", &sid)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(comments["comments"][0]["content"], "Nice!");
    let res = http
        .delete(format!("{api}/videos/{vid}/comments/{cid}"))
        .header("x-session-id", &sid)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let res = http
        .delete(format!("{api}/user/alice/videos/{vid}"))
        .header("x-session-id", &sid)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let res = http
        .delete(format!("{api}/user/alice"))
        .header("x-session-id", &sid)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
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

    // Access logs carry method, path, status and request id, and never a secret.
    reel.wait_for_log("/api/user/alice");
    let logs = reel.log_text();
    let access = logs
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v["span"]["path"] == "/api/user/alice/videos" && v["fields"]["status"] == 201)
        .unwrap_or_else(|| panic!("no access log line: {logs}"));
    assert_eq!(access["span"]["method"], "POST");
    assert!(access["span"]["request_id"].as_str().unwrap().len() >= 32);
    assert!(access["fields"]["latency_ms"].is_number());
    for secret in [
        sid.as_str(),
        first["session_id"].as_str().unwrap(),
        PASSWORD,
        "token=",
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
