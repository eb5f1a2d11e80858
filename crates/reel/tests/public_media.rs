//! A public instance's media rules across processes: `reel serve` and two more `reel
//! stream` nodes on the same storage. A video made private is refused by every stream
//! node within 5 s, and plays there only through the grant-carrying URLs the API
//! gives its owner (HLS included); made public again, it plays everywhere without one.
//! An upload over the uploader's quota is refused having stored nothing.

mod common;

use std::time::{Duration, Instant};

use common::{ApiClient, Reel, clip, eventually};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const PASSWORD: &str = "a long password 42";
const KEY: &str = "cHVibGljLW1lZGlhLWtleS1mb3ItZXZlcnktc2VydmljZS0zMi1ieXRlcw";
/// How soon every stream node must enforce a change of visibility.
const ENFORCED_WITHIN: Duration = Duration::from_secs(5);

/// Waits until `url` answers `status` on every one of `nodes`; returns how long it took.
async fn every_node_answers(nodes: &[&Reel], path: &str, status: StatusCode) -> Duration {
    let http = reqwest::Client::new();
    let start = Instant::now();
    eventually(
        &format!("{path} to answer {status} on every node"),
        async || {
            for node in nodes {
                let r = http
                    .get(format!("{}{path}", node.base))
                    .send()
                    .await
                    .unwrap();
                if r.status() != status {
                    return false;
                }
            }
            true
        },
    )
    .await;
    start.elapsed()
}

#[tokio::test]
async fn visibility_is_enforced_on_every_stream_node() {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().to_str().unwrap();
    let env = [("REEL_SIGNING_KEY", KEY)];
    let site = Reel::start(&["serve", "--data-dir", dir], &env);
    let one = Reel::start(&["stream", "--data-dir", dir], &env);
    let two = Reel::start(&["stream", "--data-dir", dir], &env);
    let nodes = [&site, &one, &two];
    let http = reqwest::Client::new();

    let mut owner = ApiClient::new(format!("{}/api", site.base));
    owner.sign_in("alice", PASSWORD, false).await;
    let (status, video) = owner
        .call(
            Method::POST,
            "/user/alice/videos",
            Some(json!({"name": "Mine"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let vid = video["id"].as_str().unwrap().to_owned();
    let upload = video["upload_url"].as_str().unwrap();
    let r = http
        .put(format!("{}{upload}", site.base))
        .body(clip(data.path()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let ready = owner.ladder_made("alice", &vid).await;
    assert_eq!(ready["status"], "ready", "{ready}");
    assert_eq!(ready["visibility"], "public");
    let mp4 = format!("/videos/{vid}");
    assert_eq!(ready["playback"]["mp4"], mp4.as_str());
    for node in nodes {
        let r = http
            .get(format!("{}{mp4}", node.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()["cache-control"], "public, max-age=3600");
    }

    let path = format!("/user/alice/videos/{vid}");
    let (status, private) = owner
        .call(Method::PATCH, &path, Some(json!({"visibility": "private"})))
        .await;
    assert_eq!(status, StatusCode::OK, "{private}");
    let took = every_node_answers(&nodes, &mp4, StatusCode::FORBIDDEN).await;
    eprintln!(
        "a private video was refused by every stream node {} ms after the change",
        took.as_millis()
    );
    assert!(took < ENFORCED_WITHIN, "took {took:?}");
    for tail in ["/poster.jpg", "/hls/master.m3u8"] {
        let r = http
            .get(format!("{}{mp4}{tail}", two.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{tail}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["code"], "private_video");
    }
    let (status, _) = ApiClient::new(format!("{}/api", site.base))
        .call(Method::GET, &path, None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "others do not see it");

    // The owner's URLs play on every node, the HLS playlists leading to the segments.
    let playback = &private["playback"];
    for node in nodes {
        for field in ["mp4", "poster"] {
            let url = format!("{}{}", node.base, playback[field].as_str().unwrap());
            let r = http.get(&url).send().await.unwrap();
            assert_eq!(r.status(), StatusCode::OK, "{field} on {}", node.base);
            assert_eq!(r.headers()["cache-control"], "private, no-cache");
        }
    }
    let master = reqwest::Url::parse(&format!(
        "{}{}",
        two.base,
        playback["hls"].as_str().unwrap()
    ))
    .unwrap();
    let text = http
        .get(master.clone())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let variant = text
        .lines()
        .find(|l| !l.starts_with('#') && !l.is_empty())
        .unwrap();
    assert!(variant.contains("grant="), "{text}");
    let media = master.join(variant).unwrap();
    let text = http
        .get(media.clone())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let segment = text
        .lines()
        .find(|l| !l.starts_with('#') && !l.is_empty())
        .unwrap();
    let r = http.get(media.join(segment).unwrap()).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{segment}");
    assert!(!r.bytes().await.unwrap().is_empty());

    let (status, public) = owner
        .call(Method::PATCH, &path, Some(json!({"visibility": "public"})))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(public["playback"]["mp4"], mp4.as_str());
    let took = every_node_answers(&nodes, &mp4, StatusCode::OK).await;
    eprintln!(
        "public again on every stream node after {} ms",
        took.as_millis()
    );
    assert!(took < ENFORCED_WITHIN, "took {took:?}");
}

#[tokio::test]
async fn an_upload_over_the_quota_is_refused_and_nothing_kept() {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().to_str().unwrap();
    let site = Reel::start(&["serve", "--data-dir", dir, "--quota", "10KB"], &[]);
    let http = reqwest::Client::new();
    let mut owner = ApiClient::new(format!("{}/api", site.base));
    owner.sign_in("alice", PASSWORD, false).await;
    let (status, video) = owner
        .call(
            Method::POST,
            "/user/alice/videos",
            Some(json!({"name": "Big"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let vid = video["id"].as_str().unwrap().to_owned();
    let upload = video["upload_url"].as_str().unwrap();
    let bytes = clip(data.path());
    assert!(bytes.len() > 10_000);
    let r = http
        .put(format!("{}{upload}", site.base))
        .body(bytes)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["code"], "quota_exceeded");
    let tus = format!("{}{}", site.base, upload.replacen("?", "/tus?", 1));
    // A new connection: the server may close the one of the refused upload.
    let r = reqwest::Client::new()
        .post(tus)
        .header("tus-resumable", "1.0.0")
        .header("upload-length", "10001")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let folder = data.path().join("storage").join("videos").join(&vid);
    assert!(!folder.join("original").exists(), "nothing kept");
}
