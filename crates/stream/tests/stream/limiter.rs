//! The connection limiter: 429 over N, permits released when bodies end or clients leave.

use bytes::Bytes;
use reel_core::ids::VideoId;
use reel_core::storage::keys;
use reqwest::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{Store, TestServer, mp4_bytes, raw_send, read_head};

async fn over_the_limit_is_429_and_permits_come_back(store: Store) {
    let s = TestServer::spawn_with(store, |c| c.max_connections = 2, None).await;
    let v = VideoId::random();
    // Larger than loopback socket buffers, so a client that does not read keeps the
    // body streaming.
    let size = 48 * 1024 * 1024;
    s.storage()
        .put(&keys::original(v), Bytes::from(mp4_bytes(size)))
        .await
        .unwrap();
    let get = format!("GET /videos/{v} HTTP/1.1\r\nHost: x\r\n\r\n");
    let mut reader = raw_send(s.addr, &get, &[]).await;
    assert!(read_head(&mut reader).await.starts_with("HTTP/1.1 200"));
    let mut leaver = raw_send(s.addr, &get, &[]).await;
    assert!(read_head(&mut leaver).await.starts_with("HTTP/1.1 200"));
    assert_eq!(s.state.limiter().in_use(), 2);

    let refused = s
        .client
        .get(s.url(&format!("/videos/{v}")))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(refused.headers()["retry-after"], "1");
    let body: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(body["code"], "too_many_connections");
    let upload = s
        .client
        .put(s.upload_url(v))
        .body(mp4_bytes(1000))
        .send()
        .await
        .unwrap();
    assert_eq!(
        upload.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "uploads share the cap"
    );

    // Released when the body has been sent in full...
    let mut sink = vec![0u8; 1 << 20];
    let mut got = 0;
    while got < size {
        let n = reader.read(&mut sink).await.unwrap();
        assert!(n > 0);
        got += n;
    }
    s.eventually("a finished body releases its permit", async || {
        s.state.limiter().in_use() == 1
    })
    .await;
    // ...and when the client goes away mid-body.
    leaver.shutdown().await.unwrap();
    drop(leaver);
    s.eventually("a vanished client releases its permit", async || {
        s.state.limiter().in_use() == 0
    })
    .await;
    drop(reader);
    let ok = s
        .client
        .get(s.url(&format!("/videos/{v}")))
        .header("range", "bytes=0-9")
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::PARTIAL_CONTENT);
    s.eventually("a whole ranged answer releases its permit", async || {
        s.state.limiter().in_use() == 0
    })
    .await;
}

reel_testkit::per_backend!(
    [
        local => crate::helpers::Store::Local,
        s3 => crate::helpers::Store::S3,
    ],
    crate::helpers::on_store,
    [
        over_the_limit_is_429_and_permits_come_back,
    ]
);
