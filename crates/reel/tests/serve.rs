//! `reel serve` as a user runs it: the README's curl tour, logs and metrics.

mod common;

use common::{ApiClient, Reel, answers_gone, clip, only_tombstone_left};
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
    // The scheduler removes the files but the tombstone; then nothing plays any more.
    only_tombstone_left(&data.path().join("storage").join("videos").join(vid)).await;
    answers_gone(&format!("{}/videos/{vid}", reel.base)).await;

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

#[tokio::test]
async fn what_must_outlive_upload_tokens_is_raised_to_their_ttl() {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().to_str().unwrap();
    let reel = Reel::start(
        &["serve", "--data-dir", dir, "--upload-token-ttl", "48h"],
        &[],
    );
    for option in ["--keep-tombstones-for", "--tus-expire-after"] {
        reel.wait_for_log(&format!(r#""option":"{option}""#));
    }
    assert!(
        reel.log_text().contains("raised to it"),
        "{}",
        reel.log_text()
    );

    let reel = Reel::start(&["serve", "--data-dir", dir], &[]);
    reel.wait_for_log("reel is serving");
    assert!(
        !reel.log_text().contains("raised to it"),
        "{}",
        reel.log_text()
    );
}

/// `reel serve` runs the stream server's upkeep as `reel stream` does: a resumable upload
/// left unfinished is removed, staged bytes and note alike.
#[tokio::test]
async fn unfinished_resumable_uploads_expire_under_reel_serve() {
    let data = tempfile::tempdir().unwrap();
    let reel = Reel::start(
        &[
            "serve",
            "--data-dir",
            data.path().to_str().unwrap(),
            "--upload-token-ttl",
            "2s",
            "--tus-expire-after",
            "2s",
            "--tus-sweep-every",
            "100ms",
        ],
        &[],
    );
    let mut api = ApiClient::new(format!("{}/api", reel.base));
    api.sign_in("alice", PASSWORD, false).await;
    let (status, video) = api
        .call(
            Method::POST,
            "/user/alice/videos",
            Some(json!({"name": "unfinished"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (path, query) = video["upload_url"]
        .as_str()
        .unwrap()
        .split_once('?')
        .unwrap();
    let r = reqwest::Client::new()
        .post(format!("{}{path}/tus?{query}", reel.base))
        .header("tus-resumable", "1.0.0")
        .header("upload-length", "1000000")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let staged = data.path().join("storage/tus");
    assert!(!files_under(&staged).is_empty(), "the upload is staged");

    reel.wait_for_log("an unfinished resumable upload expired");
    assert_eq!(files_under(&staged), Vec::<std::path::PathBuf>::new());
}

/// The files below `dir`, at any depth.
fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .map(|e| e.unwrap().path())
        .flat_map(|path| {
            if path.is_dir() {
                files_under(&path)
            } else {
                vec![path]
            }
        })
        .collect()
}

/// Creates a video named `name` for the signed-in `api` user alice and uploads `clip`
/// to it; returns its id and upload URL (path and query).
async fn upload_video(reel: &Reel, api: &ApiClient, name: &str, clip: &[u8]) -> (String, String) {
    let (status, video) = api
        .call(
            Method::POST,
            "/user/alice/videos",
            Some(json!({"name": name})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let upload = video["upload_url"].as_str().unwrap().to_owned();
    let r = reqwest::Client::new()
        .put(format!("{}{upload}", reel.base))
        .body(clip.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    (video["id"].as_str().unwrap().to_owned(), upload)
}

#[tokio::test]
async fn ffmpeg_learns_none_of_the_secrets_reel_runs_with() {
    let data = tempfile::tempdir().unwrap();
    let dump = data.path().join("children.log");
    let recording = |real: &str| {
        let path = data.path().join(format!("{real}-recording"));
        std::fs::write(
            &path,
            format!(
                "#!/bin/sh\n{{ echo \"RUN {real} $*\"; env; }} >> \"{}\"\nexec {real} \"$@\"\n",
                dump.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        path.to_str().unwrap().to_owned()
    };
    let (ffmpeg, ffprobe) = (recording("ffmpeg"), recording("ffprobe"));
    let key = "c2VjcmV0LXNpZ25pbmcta2V5LXRoYXQtbm8tY2hpbGQtbWF5LXNlZQ";
    let secrets = [
        ("REEL_SIGNING_KEY", key),
        ("AWS_ACCESS_KEY_ID", "AKIAEXAMPLESECRETID"),
        ("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMIexampleSECRETkey"),
        ("DATABASE_URL", "postgres://reel:hunter2@db.example/reel"),
    ];
    let reel = Reel::start(
        &[
            "serve",
            "--data-dir",
            data.path().to_str().unwrap(),
            "--ffmpeg",
            &ffmpeg,
            "--ffprobe",
            &ffprobe,
        ],
        &secrets,
    );
    let mut api = ApiClient::new(format!("{}/api", reel.base));
    api.sign_in("alice", PASSWORD, false).await;
    let (vid, _) = upload_video(&reel, &api, "a clip", &clip(data.path())).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let (_, video) = api
            .call(Method::GET, &format!("/user/alice/videos/{vid}"), None)
            .await;
        if video["status"] == "ready" {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline && video["status"] != "failed",
            "{video}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let seen = std::fs::read_to_string(&dump).unwrap();
    assert!(
        seen.contains("RUN ffmpeg") && seen.contains("-progress"),
        "{seen}"
    );
    for (name, value) in secrets {
        assert!(!seen.contains(value), "{name} reached ffmpeg: {seen}");
    }
    assert!(!seen.contains("REEL_") && !seen.contains("AWS_"), "{seen}");
}

/// An attacker keeps uploading to a video its owner deleted, with the upload URL it was
/// given (valid for hours), while a viewer plays another video: within seconds of the
/// deletion every upload is refused, and the viewer never notices.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_to_a_deleted_video_are_refused_while_another_plays_on() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::time::{Duration, Instant};

    let data = tempfile::tempdir().unwrap();
    let reel = Reel::start(&["serve", "--data-dir", data.path().to_str().unwrap()], &[]);
    let bytes = clip(data.path());
    let mut owner = ApiClient::new(format!("{}/api", reel.base));
    owner.sign_in("alice", PASSWORD, false).await;
    let (gone, upload) = upload_video(&reel, &owner, "deleted", &bytes).await;
    let (kept, _) = upload_video(&reel, &owner, "kept", &bytes).await;

    let running = Arc::new(AtomicBool::new(true));
    let (played, viewer_failed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let viewer = tokio::spawn({
        let (running, played, failed) = (running.clone(), played.clone(), viewer_failed.clone());
        let url = format!("{}/videos/{kept}", reel.base);
        async move {
            let http = reqwest::Client::new();
            while running.load(Ordering::SeqCst) {
                let r = http.get(&url).header("range", "bytes=0-65535").send().await;
                let ok = matches!(&r, Ok(r) if r.status() == StatusCode::PARTIAL_CONTENT);
                let counter = if ok { &played } else { &failed };
                counter.fetch_add(1, Ordering::SeqCst);
            }
        }
    });

    let (status, _) = owner
        .call(Method::DELETE, &format!("/user/alice/videos/{gone}"), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let deleted_at = Instant::now();
    let attacker = reqwest::Client::new();
    let mut refused_since: Option<Duration> = None;
    let mut accepted_after_refusal = 0;
    // Bounded: at most 15 s of uploads, on loopback.
    while deleted_at.elapsed() < Duration::from_secs(15) {
        let r = attacker
            .put(format!("{}{upload}", reel.base))
            .body(bytes.clone())
            .send()
            .await
            .unwrap();
        match (r.status(), refused_since) {
            (StatusCode::GONE, None) => {
                let body: Value = r.json().await.unwrap();
                assert_eq!(body["code"], "video_deleted");
                refused_since = Some(deleted_at.elapsed());
            }
            (StatusCode::GONE, Some(since))
                if deleted_at.elapsed() > since + Duration::from_secs(2) =>
            {
                break;
            }
            (StatusCode::GONE, Some(_)) => {}
            (status, Some(_)) => {
                accepted_after_refusal += 1;
                eprintln!("after a refusal: {status}");
            }
            (_, None) => {}
        }
    }
    running.store(false, Ordering::SeqCst);
    viewer.await.unwrap();
    let since = refused_since.expect("uploads to the deleted video were never refused");
    eprintln!(
        "uploads to the deleted video refused {} ms after its deletion",
        since.as_millis()
    );
    assert_eq!(
        accepted_after_refusal, 0,
        "an upload was accepted after the refusal"
    );
    let playback = reqwest::get(format!("{}/videos/{gone}", reel.base))
        .await
        .unwrap();
    assert_eq!(playback.status(), StatusCode::GONE);
    assert_eq!(
        viewer_failed.load(Ordering::SeqCst),
        0,
        "the viewer was failed"
    );
    assert!(played.load(Ordering::SeqCst) > 0);
}
