//! `reel backup` while the site takes uploads and plays videos, then `reel restore`
//! into a fresh data dir (and an empty database): the restored site starts, every video
//! it calls ready plays, every comment is there, and sessions and the signing key came
//! along. On each database.

mod common;

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use common::{ApiClient, Reel, eventually};
use reel_testkit::{DbKind, ScratchDb, per_backend};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const PASSWORD: &str = "a long password 42";

/// Bytes that sniff as MP4 (an `ftyp` box, then `mdat`), served as they came: the site
/// runs without ffmpeg, so uploads are ready at once.
fn mp4(len: usize, seed: u8) -> Vec<u8> {
    let mut v = b"\0\0\0\x18ftypisom\0\0\x02\0isomiso2\0\0\0\0mdat".to_vec();
    v.resize(len, seed);
    v
}

/// The options of a site on `data` (and `url`, unless SQLite in the data dir).
fn site_args(data: &Path, url: Option<&str>) -> Vec<String> {
    let mut args = vec!["--data-dir".to_owned(), data.display().to_string()];
    if let Some(url) = url {
        args.extend(["--database-url".to_owned(), url.to_owned()]);
    }
    args
}

fn start(data: &Path, url: Option<&str>) -> Reel {
    let mut args = vec!["serve".to_owned()];
    args.extend(site_args(data, url));
    args.extend(
        [
            "--ffmpeg",
            "/nonexistent/ffmpeg",
            "--ffprobe",
            "/nonexistent/ffprobe",
        ]
        .map(String::from),
    );
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    Reel::start(&args, &[])
}

/// Runs `reel COMMAND DIR SITE…` to its end; panics with its output on failure.
async fn reel(command: &str, dir: &Path, site: Vec<String>) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_reel"));
    cmd.arg(command).arg(dir).args(site);
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "reel {command}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Creates a video and uploads `bytes` to it; its id.
async fn upload(reel_base: &str, api: &ApiClient, name: &str, bytes: Vec<u8>) -> String {
    let (status, video) = api
        .call(
            Method::POST,
            "/user/alice/videos",
            Some(json!({"name": name})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{video}");
    let url = format!("{reel_base}{}", video["upload_url"].as_str().unwrap());
    let res = reqwest::Client::new()
        .put(url)
        .body(bytes)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    video["id"].as_str().unwrap().to_owned()
}

async fn alices_videos(api: &ApiClient) -> Vec<Value> {
    let (status, list) = api
        .call(Method::GET, "/user/alice/videos?limit=100", None)
        .await;
    assert_eq!(status, StatusCode::OK, "{list}");
    list["videos"].as_array().unwrap().clone()
}

async fn on(backend: DbKind, test: impl AsyncFnOnce(DbKind)) {
    test(backend).await;
}

per_backend!(
    databases,
    crate::on,
    [a_backup_taken_under_load_restores_whole]
);

async fn a_backup_taken_under_load_restores_whole(backend: DbKind) {
    let (source_db, restored_db) = match backend {
        DbKind::Sqlite => (None, None),
        _ => (
            Some(ScratchDb::new(backend).await),
            Some(ScratchDb::new(backend).await),
        ),
    };
    let (source_url, restored_url) = (
        source_db.as_ref().map(ScratchDb::url),
        restored_db.as_ref().map(ScratchDb::url),
    );
    let (a, b, dest) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    let dest = dest.path().join("backup");

    let site = start(a.path(), source_url);
    let mut api = ApiClient::new(format!("{}/api", site.base));
    api.sign_in("alice", PASSWORD, false).await;
    let mut comments = Vec::new();
    for i in 0..3 {
        let vid = upload(&site.base, &api, &format!("before {i}"), mp4(64 * 1024, i)).await;
        let video = api.processed("alice", &vid).await;
        assert_eq!(video["status"], "ready", "{video}");
        for c in 0..2 {
            let path = format!("/videos/{vid}/comments");
            let body = json!({"content": format!("comment {c} on {i}")});
            let (status, _) = api.call(Method::POST, &path, Some(body)).await;
            assert_eq!(status, StatusCode::CREATED);
        }
        let (_, listed) = api
            .call(Method::GET, &format!("/videos/{vid}/comments"), None)
            .await;
        comments.push((vid, listed["comments"].clone()));
    }

    // Uploads and playback go on while the backup runs.
    let stop = Arc::new(AtomicBool::new(false));
    let rounds = Arc::new(AtomicUsize::new(0));
    let busy = {
        let (stop, rounds, base) = (stop.clone(), rounds.clone(), site.base.clone());
        let mut busy_api = ApiClient::new(api.base.clone());
        busy_api.session = api.session.clone();
        let playing = comments[0].0.clone();
        tokio::spawn(async move {
            let http = reqwest::Client::new();
            let mut n = 0_u8;
            while !stop.load(Ordering::Relaxed) {
                n = n.wrapping_add(1);
                upload(&base, &busy_api, &format!("during {n}"), mp4(256 * 1024, n)).await;
                let res = http
                    .get(format!("{base}/videos/{playing}"))
                    .header("range", "bytes=100-4195")
                    .send()
                    .await
                    .unwrap();
                assert_eq!(res.status(), StatusCode::PARTIAL_CONTENT);
                assert_eq!(res.bytes().await.unwrap().len(), 4096);
                rounds.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    eventually("uploads to run", async || {
        rounds.load(Ordering::Relaxed) >= 2
    })
    .await;
    reel("backup", &dest, site_args(a.path(), source_url)).await;
    let after = rounds.load(Ordering::Relaxed) + 2;
    eventually("uploads to go on", async || {
        rounds.load(Ordering::Relaxed) >= after
    })
    .await;
    stop.store(true, Ordering::Relaxed);
    busy.await.unwrap();
    drop(site);

    reel("restore", &dest, site_args(b.path(), restored_url)).await;
    assert_eq!(
        std::fs::read(b.path().join("signing.key")).unwrap(),
        std::fs::read(a.path().join("signing.key")).unwrap(),
        "the signing key came along"
    );
    let site = start(b.path(), restored_url);
    let mut restored = ApiClient::new(format!("{}/api", site.base));
    restored.session = api.session.clone();
    let videos = alices_videos(&restored).await;
    assert!(
        videos.len() > 3,
        "videos uploaded during the backup: {videos:?}"
    );
    let http = reqwest::Client::new();
    let mut ready = 0;
    for video in &videos {
        if video["status"] != "ready" {
            continue;
        }
        ready += 1;
        let vid = video["id"].as_str().unwrap();
        let res = http
            .get(format!("{}/videos/{vid}", site.base))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK, "ready video {vid} plays");
        let body = res.bytes().await.unwrap();
        assert_eq!(
            body.len() as i64,
            video["size"].as_i64().unwrap_or(body.len() as i64)
        );
        assert!(body.starts_with(b"\0\0\0\x18ftyp"));
    }
    assert!(ready >= 3, "{videos:?}");
    for (vid, expected) in &comments {
        let (status, listed) = restored
            .call(Method::GET, &format!("/videos/{vid}/comments"), None)
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(&listed["comments"], expected, "the comments of {vid}");
    }
}
