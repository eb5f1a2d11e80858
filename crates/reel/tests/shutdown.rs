//! `reel serve` stopped with SIGTERM while a playback, a plain upload and a resumable
//! upload are in flight, each held open by a slow client. It exits with code 0 within
//! its shutdown grace; the playback is finished or cut (never wrong bytes); the plain
//! upload leaves nothing visible; the resumable one resumes, after a restart on the same
//! data dir, from the offset `HEAD` reports, and ends byte for byte what was sent.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{ApiClient, Reel, eventually, mp4_bytes};
use futures::StreamExt;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const MIB: usize = 1024 * 1024;
/// `--shutdown-grace` of the server under test.
const GRACE: Duration = Duration::from_secs(2);

/// A request body the test feeds: `first` now, then nothing until it is dropped.
fn held_body(first: Vec<u8>) -> (reqwest::Body, tokio::task::JoinHandle<()>) {
    let (tx, rx) = tokio::sync::mpsc::channel::<Vec<u8>>(1);
    let feeder = tokio::spawn(async move {
        for chunk in first.chunks(256 * 1024) {
            if tx.send(chunk.to_vec()).await.is_err() {
                return;
            }
        }
        std::future::pending::<()>().await;
    });
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|c| (Ok::<_, std::io::Error>(c), rx))
    });
    (reqwest::Body::wrap_stream(stream.boxed()), feeder)
}

/// Bytes in the files under `dir`, recursively (0 when it does not exist).
fn stored_under(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .map(|e| e.unwrap())
        .map(|e| {
            let meta = e.metadata().unwrap();
            if meta.is_dir() {
                stored_under(&e.path())
            } else {
                meta.len()
            }
        })
        .sum()
}

fn serve(data: &Path) -> Reel {
    let grace = format!("{}s", GRACE.as_secs());
    Reel::start(
        &[
            "serve",
            "--data-dir",
            data.to_str().unwrap(),
            "--shutdown-grace",
            &grace,
            // No ffmpeg: uploads are served as they came, at once.
            "--ffmpeg",
            "/nonexistent/ffmpeg",
        ],
        &[],
    )
}

/// Creates a video; returns its id and upload URL (path and query).
async fn new_video(api: &ApiClient, name: &str) -> (String, String) {
    let (status, video) = api
        .call(
            Method::POST,
            "/user/alice/videos",
            Some(json!({ "name": name })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{video}");
    (
        video["id"].as_str().unwrap().to_owned(),
        video["upload_url"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_during_uploads_and_playbacks_stops_cleanly_within_the_grace() {
    let data = tempfile::tempdir().unwrap();
    let mut reel = serve(data.path());
    let http = reqwest::Client::new();
    let mut api = ApiClient::new(format!("{}/api", reel.base));
    api.sign_in("alice", "a long password", false).await;

    // A ready video of 32 MiB to play.
    let played = mp4_bytes(32 * MIB, 6);
    let (shown, url) = new_video(&api, "shown").await;
    let res = http
        .put(format!("{}{url}", reel.base))
        .body(played.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    assert_eq!(api.processed("alice", &shown).await["status"], "ready");

    // A playback whose client reads the first chunk, then nothing.
    let mut playback = http
        .get(format!("{}/videos/{shown}", reel.base))
        .send()
        .await
        .unwrap();
    assert_eq!(playback.status(), StatusCode::OK);
    let mut received = playback.chunk().await.unwrap().unwrap().to_vec();

    // A plain upload that stalls after 2 MiB.
    let (plain, url) = new_video(&api, "plain").await;
    let (body, plain_feeder) = held_body(mp4_bytes(2 * MIB, 7));
    let plain_upload = tokio::spawn(http.put(format!("{}{url}", reel.base)).body(body).send());

    // A resumable upload that stalls after 4 MiB of 12.
    let resumed = mp4_bytes(12 * MIB, 8);
    let (tus, url) = new_video(&api, "tus").await;
    let token = url.split_once("token=").unwrap().1.to_owned();
    let res = http
        .post(format!("{}/upload/{tus}/tus", reel.base))
        .bearer_auth(&token)
        .header("tus-resumable", "1.0.0")
        .header("upload-length", resumed.len().to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    let (body, tus_feeder) = held_body(resumed[..4 * MIB].to_vec());
    let tus_upload = tokio::spawn(
        http.patch(format!("{}{location}", reel.base))
            .bearer_auth(&token)
            .header("tus-resumable", "1.0.0")
            .header("upload-offset", "0")
            .header("content-type", "application/offset+octet-stream")
            .body(body)
            .send(),
    );
    let staged = data.path().join("storage/videos").join(&tus).join("tus");
    eventually("the resumable upload to be storing", async || {
        stored_under(&staged) >= 2 * MIB as u64
    })
    .await;

    // SIGTERM: the process exits with 0 within the grace (and the time a busy machine
    // takes to stop the scheduler's runner, which has its own grace), cutting what is
    // still held open.
    let stopping = Instant::now();
    reel.signal("TERM");
    let within = GRACE * 2 + Duration::from_secs(20);
    let code = tokio::task::spawn_blocking(move || {
        let code = reel.wait_exit(within);
        (code, reel)
    });
    let (code, reel) = code.await.unwrap();
    assert_eq!(code, Some(0), "exit code: {}", reel.log_text());
    eprintln!("stopped {:?} after SIGTERM", stopping.elapsed());
    drop(reel);
    plain_feeder.abort();
    tus_feeder.abort();
    let _ = plain_upload.await.unwrap();
    let _ = tus_upload.await.unwrap();

    // The playback was cut, or finished: never other bytes.
    while let Ok(Some(chunk)) = playback.chunk().await {
        received.extend_from_slice(&chunk);
    }
    assert!(
        received.len() <= played.len() && played.starts_with(&received),
        "the playback got only the video's bytes"
    );

    // Started again on the same data dir: the plain upload left nothing visible; the
    // resumable one resumes from what HEAD reports and ends whole.
    let reel = serve(data.path());
    let res = http
        .get(format!("{}/videos/{plain}", reel.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND, "nothing half-visible");
    let session = api.session.take();
    let mut api = ApiClient::new(format!("{}/api", reel.base));
    api.session = session;
    let (status, video) = api
        .call(Method::GET, &format!("/user/alice/videos/{plain}"), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(video["status"], "awaiting_upload", "{video}");
    let head = http
        .head(format!("{}{location}", reel.base))
        .bearer_auth(&token)
        .header("tus-resumable", "1.0.0")
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), StatusCode::OK);
    let offset: usize = head.headers()["upload-offset"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(offset <= 4 * MIB, "offset {offset}");
    let res = http
        .patch(format!("{}{location}", reel.base))
        .bearer_auth(&token)
        .header("tus-resumable", "1.0.0")
        .header("upload-offset", offset.to_string())
        .header("content-type", "application/offset+octet-stream")
        .body(resumed[offset..].to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let whole = http
        .get(format!("{}/videos/{tus}", reel.base))
        .send()
        .await
        .unwrap();
    assert_eq!(whole.status(), StatusCode::OK);
    assert!(
        whole.bytes().await.unwrap() == resumed,
        "the resumed video is whole"
    );
    let ready: Value = api.processed("alice", &tus).await;
    assert_eq!(ready["status"], "ready", "{ready}");
}
