//! Playback: RFC 9110 ranges, validators, conditional requests, types, errors.

use reel_core::ids::VideoId;
use reel_core::storage::keys;
use reqwest::StatusCode;
use reqwest::header::{
    ACCEPT_RANGES, CACHE_CONTROL, CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, ETAG, LAST_MODIFIED,
};

use crate::helpers::{Store, TestServer, b, mp4_bytes, webm_bytes};

const SIZE: usize = 300_000;

async fn get(s: &TestServer, v: VideoId, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut req = s.client.get(s.url(&format!("/videos/{v}")));
    for (k, val) in headers {
        req = req.header(*k, *val);
    }
    req.send().await.unwrap()
}

fn header(r: &reqwest::Response, name: impl reqwest::header::AsHeaderName) -> &str {
    r.headers()
        .get(name)
        .map(|v| v.to_str().unwrap())
        .unwrap_or("")
}

async fn ranges_of_every_form(store: Store) {
    let s = TestServer::spawn(store).await;
    let v = VideoId::random();
    let data = mp4_bytes(SIZE);
    s.put_video(v, data.clone()).await;

    let full = get(&s, v, &[]).await;
    assert_eq!(full.status(), StatusCode::OK);
    assert_eq!(header(&full, ACCEPT_RANGES), "bytes");
    assert_eq!(header(&full, CONTENT_TYPE), "video/mp4");
    assert_eq!(header(&full, CONTENT_LENGTH), SIZE.to_string());
    assert!(header(&full, CACHE_CONTROL).contains("public"));
    assert!(header(&full, ETAG).starts_with('"'), "a strong ETag");
    assert!(!header(&full, LAST_MODIFIED).is_empty());
    assert_eq!(full.bytes().await.unwrap(), data);

    let cases: [(&str, usize, usize); 6] = [
        ("bytes=0-99", 0, 99),
        ("bytes=1000-", 1000, SIZE - 1),
        ("bytes=-500", SIZE - 500, SIZE - 1),
        ("bytes=-999999999", 0, SIZE - 1),
        ("bytes=299990-400000", 299_990, SIZE - 1),
        ("bytes=0-0", 0, 0),
    ];
    for (range, first, last) in cases {
        let r = get(&s, v, &[("range", range)]).await;
        assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT, "{range}");
        assert_eq!(
            header(&r, CONTENT_RANGE),
            format!("bytes {first}-{last}/{SIZE}")
        );
        assert_eq!(header(&r, CONTENT_LENGTH), (last - first + 1).to_string());
        assert_eq!(r.bytes().await.unwrap(), data[first..=last], "{range}");
    }

    for range in ["bytes=300000-", "bytes=400000-500000", "bytes=-0"] {
        let r = get(&s, v, &[("range", range)]).await;
        assert_eq!(r.status(), StatusCode::RANGE_NOT_SATISFIABLE, "{range}");
        assert_eq!(header(&r, CONTENT_RANGE), format!("bytes */{SIZE}"));
    }

    for range in ["bytes=abc", "bytes=9-1", "frames=0-10", "0-10"] {
        let r = get(&s, v, &[("range", range)]).await;
        assert_eq!(r.status(), StatusCode::OK, "{range} is ignored");
        assert_eq!(r.bytes().await.unwrap().len(), SIZE);
    }

    // Several ranges: the whole representation, as documented.
    let multi = get(&s, v, &[("range", "bytes=0-9,100-199")]).await;
    assert_eq!(multi.status(), StatusCode::OK);
    assert_eq!(multi.bytes().await.unwrap(), data);

    let head = s
        .client
        .head(s.url(&format!("/videos/{v}")))
        .header("range", "bytes=10-19")
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(header(&head, CONTENT_LENGTH), "10");
    assert_eq!(header(&head, CONTENT_RANGE), format!("bytes 10-19/{SIZE}"));
    assert!(head.bytes().await.unwrap().is_empty());
    let head = s
        .client
        .head(s.url(&format!("/videos/{v}")))
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), StatusCode::OK);
    assert_eq!(header(&head, CONTENT_LENGTH), SIZE.to_string());
    assert_eq!(header(&head, CONTENT_TYPE), "video/mp4");
}

async fn conditional_requests(store: Store) {
    let s = TestServer::spawn(store).await;
    let v = VideoId::random();
    s.put_video(v, mp4_bytes(SIZE)).await;
    let first = get(&s, v, &[]).await;
    let etag = header(&first, ETAG).to_owned();
    let modified = header(&first, LAST_MODIFIED).to_owned();

    let r = get(&s, v, &[("range", "bytes=5-9"), ("if-range", &etag)]).await;
    assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT, "matching If-Range");
    let r = get(&s, v, &[("range", "bytes=5-9"), ("if-range", "\"stale\"")]).await;
    assert_eq!(r.status(), StatusCode::OK, "stale If-Range gets the whole");
    assert_eq!(r.bytes().await.unwrap().len(), SIZE);
    let r = get(&s, v, &[("range", "bytes=5-9"), ("if-range", &modified)]).await;
    assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT, "If-Range by date");
    let old = "Mon, 01 Jan 2001 00:00:00 GMT";
    let r = get(&s, v, &[("range", "bytes=5-9"), ("if-range", old)]).await;
    assert_eq!(r.status(), StatusCode::OK);

    let r = get(&s, v, &[("if-none-match", &etag)]).await;
    assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(header(&r, ETAG), etag);
    assert!(r.bytes().await.unwrap().is_empty());
    let r = get(&s, v, &[("if-none-match", "\"other\"")]).await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = get(&s, v, &[("if-modified-since", &modified)]).await;
    assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
    let r = get(&s, v, &[("if-modified-since", old)]).await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = get(&s, v, &[("if-match", "\"other\"")]).await;
    assert_eq!(r.status(), StatusCode::PRECONDITION_FAILED);

    // A new upload changes the tag: the old one no longer matches.
    s.put_video(v, mp4_bytes(SIZE + 1)).await;
    let r = get(&s, v, &[("if-none-match", &etag)]).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_ne!(header(&r, ETAG), etag);
}

async fn validators_survive_a_restart(store: Store) {
    let s = TestServer::spawn(store).await;
    let v = VideoId::random();
    s.put_video(v, mp4_bytes(SIZE)).await;
    let before = get(&s, v, &[]).await;
    let (etag, modified) = (
        header(&before, ETAG).to_owned(),
        header(&before, LAST_MODIFIED).to_owned(),
    );
    // Last-Modified is the stored object's date, not the time of the request: once the
    // clock has left the upload's second, a date taken at the request would differ.
    let stored = httpdate::parse_http_date(&modified).unwrap();
    crate::helpers::eventually("the clock leaves the upload's second", async || {
        std::time::SystemTime::now() >= stored + std::time::Duration::from_secs(1)
    })
    .await;
    let s = s.restart().await;
    let after = get(&s, v, &[]).await;
    assert_eq!(header(&after, ETAG), etag);
    assert_eq!(header(&after, LAST_MODIFIED), modified);
}

async fn content_types_follow_the_container(store: Store) {
    let s = TestServer::spawn(store).await;
    let (mp4, webm) = (VideoId::random(), VideoId::random());
    s.put_video(mp4, mp4_bytes(4096)).await;
    s.put_video(webm, webm_bytes(4096)).await;
    assert_eq!(header(&get(&s, mp4, &[]).await, CONTENT_TYPE), "video/mp4");
    assert_eq!(
        header(&get(&s, webm, &[]).await, CONTENT_TYPE),
        "video/webm"
    );

    // Once the scheduler made playable.mp4, that is what plays.
    let playable = mp4_bytes(2048);
    s.storage()
        .put(&keys::playable(webm), b(&playable))
        .await
        .unwrap();
    let r = get(&s, webm, &[]).await;
    assert_eq!(header(&r, CONTENT_TYPE), "video/mp4");
    assert_eq!(r.bytes().await.unwrap(), playable);

    s.storage()
        .put(&keys::poster(webm), b(b"\xFF\xD8\xFFjpeg"))
        .await
        .unwrap();
    s.storage()
        .put(
            &keys::hls(webm, "720p/index.m3u8").unwrap(),
            b(b"#EXTM3U\n"),
        )
        .await
        .unwrap();
    let poster = s
        .client
        .get(s.url(&format!("/videos/{webm}/poster.jpg")))
        .send()
        .await
        .unwrap();
    assert_eq!(poster.status(), StatusCode::OK);
    assert_eq!(header(&poster, CONTENT_TYPE), "image/jpeg");
    let playlist = s
        .client
        .get(s.url(&format!("/videos/{webm}/hls/720p/index.m3u8")))
        .send()
        .await
        .unwrap();
    assert_eq!(
        header(&playlist, CONTENT_TYPE),
        "application/vnd.apple.mpegurl"
    );
    assert_eq!(playlist.text().await.unwrap(), "#EXTM3U\n");
    for missing in [
        format!("/videos/{mp4}/poster.jpg"),
        format!("/videos/{mp4}/hls/index.m3u8"),
        format!("/videos/{mp4}/hls/../original"),
        format!("/videos/{}", VideoId::random()),
    ] {
        let r = s.client.get(s.url(&missing)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{missing}");
    }
}

async fn unknown_and_malformed_ids(store: Store) {
    let s = TestServer::spawn(store).await;
    let r = s
        .client
        .get(s.url(&format!("/videos/{}", VideoId::random())))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["code"], "not_found");
    for bad in [
        "/videos/not-a-uuid",
        "/videos/123",
        "/videos/not-a-uuid/poster.jpg",
    ] {
        let r = s.client.get(s.url(bad)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{bad}");
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(body["code"], "bad_id");
    }
}

reel_testkit::per_backend!(
    [
        local => crate::helpers::Store::Local,
        s3 => crate::helpers::Store::S3,
    ],
    crate::helpers::on_store,
    [
        ranges_of_every_form,
        conditional_requests,
        validators_survive_a_restart,
        content_types_follow_the_container,
        unknown_and_malformed_ids,
    ]
);
