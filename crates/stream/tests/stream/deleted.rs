//! Deleted videos: once the scheduler's tombstone is in storage, every upload route
//! refuses the video's bytes and playback serves none of them (410 `video_deleted`),
//! within the marker cache's TTL, while other videos play on; an upload that was
//! streaming when the video was deleted does not become its original.

use futures::SinkExt;
use reel_core::ids::VideoId;
use reel_core::storage::keys;
use reel_core::storage::video_state::VideoState;
use reqwest::{RequestBuilder, StatusCode};

use crate::helpers::{Store, T0, TestServer, Tus, mp4_bytes, play};

async fn assert_gone(what: &str, request: RequestBuilder) {
    let r = request.send().await.unwrap();
    assert_eq!(r.status(), StatusCode::GONE, "{what}");
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["code"], "video_deleted", "{what}");
}

async fn a_deleted_video_takes_no_bytes_and_serves_none(store: Store) {
    let s = TestServer::spawn(store).await;
    let (gone, kept) = (VideoId::random(), VideoId::random());
    s.put_video(gone, mp4_bytes(10_000)).await;
    s.put_video(kept, mp4_bytes(20_000)).await;
    let resumable = Tus::create(&s, gone, 4096).await;
    assert_eq!(play(&s, gone).await.0, StatusCode::OK);

    // What the scheduler's deletion does: the tombstone first, then the files.
    s.storage().delete_video_files(gone, T0).await.unwrap();
    s.eventually("the deletion is seen", async || {
        play(&s, gone).await.0 == StatusCode::GONE
    })
    .await;

    // Large enough that the client is still sending when the refusal comes: it must
    // get the answer, not a reset connection.
    let large = mp4_bytes(8 * 1024 * 1024);
    let token = s.token(gone);
    let url = |path: &str| s.url(&format!("{path}?token={token}"));
    let upload = format!("/upload/{gone}");
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(large.clone()).file_name("a.mp4"),
    );
    let tus = |r: RequestBuilder| r.header("tus-resumable", "1.0.0");
    for (what, request) in [
        ("playback", s.client.get(s.url(&format!("/videos/{gone}")))),
        (
            "poster",
            s.client.get(s.url(&format!("/videos/{gone}/poster.jpg"))),
        ),
        (
            "HLS",
            s.client
                .get(s.url(&format!("/videos/{gone}/hls/master.m3u8"))),
        ),
        ("PUT", s.client.put(url(&upload)).body(large.clone())),
        ("POST", s.client.post(url(&upload)).multipart(form)),
        (
            "tus creation",
            tus(s.client.post(url(&format!("{upload}/tus")))).header("upload-length", "4096"),
        ),
        (
            "tus PATCH",
            tus(s.client.patch(url(&resumable.location)))
                .header("upload-offset", "0")
                .header("content-type", "application/offset+octet-stream")
                .body(large.clone()),
        ),
    ] {
        assert_gone(what, request).await;
    }
    let (status, bytes) = play(&s, kept).await;
    assert_eq!(status, StatusCode::OK, "other videos play on");
    assert_eq!(bytes.len(), 20_000);
    assert_eq!(
        s.keys_of(gone).await,
        [keys::video_state(gone)],
        "only the tombstone is left"
    );
}

/// The tombstone alone, as it stands between the scheduler writing it and removing the
/// files.
async fn tombstone(s: &TestServer, video: VideoId) {
    s.storage()
        .set_video_state(video, &VideoState::deleted(T0))
        .await
        .unwrap();
}

async fn an_upload_streaming_when_its_video_is_deleted_is_not_kept(store: Store) {
    let s = TestServer::spawn(store).await;
    let v = VideoId::random();
    let (mut tx, rx) = futures::channel::mpsc::channel::<std::io::Result<Vec<u8>>>(1);
    let request = s
        .client
        .put(s.upload_url(v))
        .body(reqwest::Body::wrap_stream(rx));
    let answer = tokio::spawn(request.send());
    // Enough that storage holds a part of it: the upload is under way.
    tx.send(Ok(mp4_bytes(12 * 1024 * 1024))).await.unwrap();
    s.eventually("the upload is being stored", async || {
        s.temporaries().await > 0
    })
    .await;
    tombstone(&s, v).await;
    tx.send(Ok(vec![7; 1024 * 1024])).await.unwrap();
    drop(tx);
    let r = answer.await.unwrap().unwrap();
    assert_eq!(r.status(), StatusCode::GONE);
    assert!(
        s.storage()
            .head(&keys::original(v))
            .await
            .unwrap()
            .is_none()
    );
    s.eventually("no temporaries left", async || s.temporaries().await == 0)
        .await;
}

async fn a_resumable_upload_finished_after_its_video_is_deleted_is_not_kept(store: Store) {
    let s = TestServer::spawn(store).await;
    let v = VideoId::random();
    let data = mp4_bytes(100_000);
    let tus = Tus::create(&s, v, data.len()).await;
    assert_eq!(
        tus.patch(0, &data[..50_000]).await.status(),
        StatusCode::NO_CONTENT
    );
    tombstone(&s, v).await;
    assert_eq!(
        tus.patch(50_000, &data[50_000..]).await.status(),
        StatusCode::GONE
    );
    assert!(
        s.storage()
            .head(&keys::original(v))
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(play(&s, v).await.0, StatusCode::GONE);
}

reel_testkit::per_backend!(
    [
        local => crate::helpers::Store::Local,
        s3 => crate::helpers::Store::S3,
    ],
    crate::helpers::on_store,
    [
        a_deleted_video_takes_no_bytes_and_serves_none,
        an_upload_streaming_when_its_video_is_deleted_is_not_kept,
        a_resumable_upload_finished_after_its_video_is_deleted_is_not_kept,
    ]
);
