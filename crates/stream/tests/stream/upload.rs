//! Plain uploads: tokens, atomic visibility, aborts, size limit, sniffing, multipart.

use std::time::Duration;

use futures::StreamExt;
use reel_core::ids::VideoId;
use reel_core::signing::SigningKey;
use reel_core::storage::keys;
use reqwest::StatusCode;
use tokio::io::AsyncWriteExt;

use crate::helpers::{Store, T0, TestServer, disguised_bodies, mp4_bytes, raw_send, read_head};

async fn nothing_stored(s: &TestServer, v: VideoId) {
    assert!(
        s.storage()
            .list_prefix(&keys::video_prefix(v))
            .await
            .unwrap()
            .is_empty(),
        "nothing may be stored"
    );
    s.eventually("no temporaries left", async || s.temporaries().await == 0)
        .await;
}

async fn tokens_are_checked_before_a_byte_is_stored(store: Store) {
    let s = TestServer::spawn(store).await;
    let v = VideoId::random();
    let url = |token: &str| s.url(&format!("/upload/{v}?token={token}"));
    let forged = s.token_with(&SigningKey::random(), v, T0 + 60_000);
    let expired = s.token_with(&s.key, v, T0 - 1);
    let other = s.token(VideoId::random());
    let cases = [
        (
            s.url(&format!("/upload/{v}")),
            StatusCode::UNAUTHORIZED,
            "missing_token",
        ),
        (url("garbage"), StatusCode::UNAUTHORIZED, "invalid_token"),
        (url(&forged), StatusCode::UNAUTHORIZED, "invalid_token"),
        (url(&expired), StatusCode::UNAUTHORIZED, "expired_token"),
        (url(&other), StatusCode::FORBIDDEN, "wrong_video"),
    ];
    for (target, status, code) in cases {
        let r = s
            .client
            .put(target)
            .body(mp4_bytes(10_000))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), status, "{code}");
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(body["code"], code);
    }
    // The token ages out on the server's clock.
    let token = s.token_with(&s.key, v, T0 + 1000);
    s.clock.advance(1000);
    let r = s
        .client
        .put(url(&token))
        .body(mp4_bytes(10_000))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    nothing_stored(&s, v).await;

    // A bearer header works as well as the query parameter.
    let r = s
        .client
        .put(s.url(&format!("/upload/{v}")))
        .bearer_auth(s.token(v))
        .body(mp4_bytes(10_000))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["size"], 10_000);
    assert_eq!(body["content_type"], "video/mp4");
    let r = s
        .client
        .put(s.url("/upload/nope?token=x"))
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
}

async fn multipart_uploads_take_the_file_field(store: Store) {
    let s = TestServer::spawn(store).await;
    let v = VideoId::random();
    let data = mp4_bytes(200_000);
    let form = reqwest::multipart::Form::new()
        .text("name", "holiday")
        .part(
            "file",
            reqwest::multipart::Part::bytes(data.clone()).file_name("a.mp4"),
        );
    let r = s
        .client
        .post(s.upload_url(v))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED, "{:?}", r.text().await);
    let played = s
        .client
        .get(s.url(&format!("/videos/{v}")))
        .send()
        .await
        .unwrap();
    assert_eq!(played.bytes().await.unwrap(), data);

    let w = VideoId::random();
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(b"%PDF-1.7 not a video".repeat(100)),
    );
    let r = s
        .client
        .post(s.upload_url(w))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let form = reqwest::multipart::Form::new().text("other", "x");
    let r = s
        .client
        .post(s.upload_url(w))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    nothing_stored(&s, w).await;
}

async fn non_videos_are_refused_and_not_stored(store: Store) {
    let s = TestServer::spawn(store).await;
    let v = VideoId::random();
    for body in [
        b"%PDF-1.7\n".repeat(1000),
        b"\x89PNG\r\n\x1a\n".repeat(1000),
        b"hi".to_vec(),
        Vec::new(),
    ] {
        let r = s
            .client
            .put(s.upload_url(v))
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(body["code"], "not_video");
    }
    nothing_stored(&s, v).await;
}

async fn disguised_non_videos_are_refused_by_every_upload_route(store: Store) {
    let s = TestServer::spawn(store).await;
    let v = VideoId::random();
    for (what, body) in disguised_bodies() {
        let put = s.client.put(s.upload_url(v)).body(body.clone());
        let form = reqwest::multipart::Form::new().part(
            "file",
            reqwest::multipart::Part::bytes(body).file_name("a.mp4"),
        );
        let post = s.client.post(s.upload_url(v)).multipart(form);
        for request in [put, post] {
            let r = request.send().await.unwrap();
            assert_eq!(r.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE, "{what}");
            let body: serde_json::Value = r.json().await.unwrap();
            assert_eq!(body["code"], "not_video", "{what}");
        }
    }
    nothing_stored(&s, v).await;
}

async fn oversize_uploads_get_413(store: Store) {
    let limit = 1024 * 1024;
    let s = TestServer::spawn_with(store, |c| c.max_upload_bytes = limit, None).await;
    let v = VideoId::random();
    // Declared too big: refused before the body is sent at all.
    let head = format!(
        "PUT /upload/{v}?token={} HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
        s.token(v),
        limit + 1
    );
    let mut tcp = raw_send(s.addr, &head, &[]).await;
    let answer = read_head(&mut tcp).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    drop(tcp);
    // Streamed without a length: refused as soon as it passes the limit, while the
    // body is still open. The client sends exactly the limit, one byte more, and then
    // nothing: it is not writing when the server answers and hangs up, so the answer
    // is not lost to a broken pipe.
    let full = (limit / (64 * 1024)) as usize;
    let chunks = (0..=full).map(move |i| {
        let chunk = match i {
            0 => mp4_bytes(64 * 1024),
            i if i == full => vec![0u8],
            _ => vec![0u8; 64 * 1024],
        };
        Ok::<_, std::io::Error>(chunk)
    });
    let body = futures::stream::iter(chunks).chain(futures::stream::pending());
    let r = tokio::time::timeout(
        Duration::from_secs(60),
        s.client
            .put(s.upload_url(v))
            .body(reqwest::Body::wrap_stream(body))
            .send(),
    )
    .await
    .expect("refused while the body is still coming")
    .unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["code"], "too_large");
    nothing_stored(&s, v).await;
    // Exactly at the limit is fine.
    s.put_video(v, mp4_bytes(limit as usize)).await;
}

async fn an_aborted_upload_leaves_nothing(store: Store) {
    let s = TestServer::spawn(store).await;
    let v = VideoId::random();
    let head = format!(
        "PUT /upload/{v}?token={} HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
        s.token(v),
        40 * 1024 * 1024
    );
    let mut tcp = raw_send(s.addr, &head, &mp4_bytes(12 * 1024 * 1024)).await;
    s.eventually("the upload holds a connection permit", async || {
        s.state.limiter().in_use() == 1
    })
    .await;
    tcp.shutdown().await.unwrap();
    drop(tcp);
    s.eventually("the permit is released", async || {
        s.state.limiter().in_use() == 0
    })
    .await;
    nothing_stored(&s, v).await;
    let r = s
        .client
        .get(s.url(&format!("/videos/{v}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}

async fn a_new_upload_replaces_the_video_and_its_renditions(store: Store) {
    let s = TestServer::spawn(store).await;
    let v = VideoId::random();
    s.put_video(v, mp4_bytes(5000)).await;
    s.storage()
        .put(&keys::playable(v), bytes::Bytes::from(mp4_bytes(100)))
        .await
        .unwrap();
    s.put_video(v, mp4_bytes(7000)).await;
    assert!(
        s.storage()
            .head(&keys::playable(v))
            .await
            .unwrap()
            .is_none()
    );
    let r = s
        .client
        .get(s.url(&format!("/videos/{v}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.bytes().await.unwrap().len(), 7000);
}

reel_testkit::per_backend!(
    [
        local => crate::helpers::Store::Local,
        s3 => crate::helpers::Store::S3,
    ],
    crate::helpers::on_store,
    [
        tokens_are_checked_before_a_byte_is_stored,
        multipart_uploads_take_the_file_field,
        non_videos_are_refused_and_not_stored,
        disguised_non_videos_are_refused_by_every_upload_route,
        oversize_uploads_get_413,
        an_aborted_upload_leaves_nothing,
        a_new_upload_replaces_the_video_and_its_renditions,
    ]
);
