//! Quotas and private videos, enforced without a database: an upload over the
//! allowance its grant carries is refused (413 `quota_exceeded`) with nothing kept, and
//! a private video's bytes are served only to URLs that carry a valid playback grant,
//! HLS playlists included, whose URIs then carry it too.

use bytes::Bytes;
use reel_core::clock::Clock;
use reel_core::domain::Visibility;
use reel_core::ids::VideoId;
use reel_core::playback_grant::PlaybackGrant;
use reel_core::signing::SigningKey;
use reel_core::storage::keys;
use reel_core::storage::video_state::VideoState;
use reqwest::StatusCode;
use reqwest::header::CACHE_CONTROL;

use crate::helpers::{Store, TestServer, mp4_bytes, play};

async fn assert_refused(what: &str, r: reqwest::Response, status: StatusCode, code: &str) {
    assert_eq!(r.status(), status, "{what}");
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["code"], code, "{what}: {body}");
}

async fn nothing_kept(s: &TestServer, v: VideoId) {
    assert!(
        s.storage()
            .head(&keys::original(v))
            .await
            .unwrap()
            .is_none()
    );
    assert!(s.tus_notes().await.is_empty(), "no resumable upload staged");
    s.eventually("no temporaries left", async || s.temporaries().await == 0)
        .await;
}

async fn uploads_over_the_allowance_are_refused_and_keep_nothing(store: Store) {
    let s = TestServer::spawn_with(store, |c| c.max_upload_bytes = 1_000_000, None).await;
    let v = VideoId::random();
    let allowance = 50_000;
    let token = s.token_allowing(v, allowance);
    let upload = s.url(&format!("/upload/{v}?token={token}"));
    let over = mp4_bytes(allowance as usize + 1);

    // Declared by Content-Length: refused before the body is read.
    let r = s
        .client
        .put(&upload)
        .body(over.clone())
        .send()
        .await
        .unwrap();
    assert_refused("PUT", r, StatusCode::PAYLOAD_TOO_LARGE, "quota_exceeded").await;
    // Streamed without a length: refused as soon as the count passes the allowance.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        over.chunks(8192).map(|c| Ok(c.to_vec())).collect();
    let r = s
        .client
        .put(&upload)
        .body(reqwest::Body::wrap_stream(futures::stream::iter(chunks)))
        .send()
        .await
        .unwrap();
    assert_refused(
        "chunked PUT",
        r,
        StatusCode::PAYLOAD_TOO_LARGE,
        "quota_exceeded",
    )
    .await;
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(over.clone()).file_name("a.mp4"),
    );
    let r = s.client.post(&upload).multipart(form).send().await.unwrap();
    assert_refused(
        "multipart",
        r,
        StatusCode::PAYLOAD_TOO_LARGE,
        "quota_exceeded",
    )
    .await;
    // tus: an Upload-Length over the allowance is refused at creation.
    let r = s
        .client
        .post(s.url(&format!("/upload/{v}/tus?token={token}")))
        .header("tus-resumable", "1.0.0")
        .header("upload-length", (allowance + 1).to_string())
        .send()
        .await
        .unwrap();
    assert_refused(
        "tus creation",
        r,
        StatusCode::PAYLOAD_TOO_LARGE,
        "quota_exceeded",
    )
    .await;
    nothing_kept(&s, v).await;

    // Exactly the allowance fits.
    let r = s
        .client
        .put(&upload)
        .body(mp4_bytes(allowance as usize))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(play(&s, v).await.1.len(), allowance as usize);

    // An allowance above the server's own limit leaves that limit in charge.
    let w = VideoId::random();
    let token = s.token_allowing(w, 10_000_000);
    let r = s
        .client
        .put(s.url(&format!("/upload/{w}?token={token}")))
        .body(mp4_bytes(1_000_001))
        .send()
        .await
        .unwrap();
    assert_refused(
        "over the server's limit",
        r,
        StatusCode::PAYLOAD_TOO_LARGE,
        "too_large",
    )
    .await;
}

/// Stores a processed video's outputs as the scheduler publishes them.
async fn publish(s: &TestServer, v: VideoId) {
    let put = |key: String, bytes: &'static [u8]| async move {
        s.storage()
            .put(&key, Bytes::from_static(bytes))
            .await
            .unwrap();
    };
    s.put_video(v, mp4_bytes(40_000)).await;
    put(keys::poster(v), b"\xff\xd8\xff\xe0 not much of a jpeg").await;
    put(
        keys::hls(v, "master.m3u8").unwrap(),
        b"#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=800000\n360p/index.m3u8\n",
    )
    .await;
    put(
        keys::hls(v, "360p/index.m3u8").unwrap(),
        b"#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4.0,\nseg_000.ts\n#EXT-X-ENDLIST\n",
    )
    .await;
    put(keys::hls(v, "360p/seg_000.ts").unwrap(), b"G segment bytes").await;
}

async fn mark(s: &TestServer, v: VideoId, visibility: Visibility) {
    s.storage()
        .set_video_state(v, &VideoState::live(visibility))
        .await
        .unwrap();
}

fn grant(s: &TestServer, key: &SigningKey, v: VideoId, expires_ms: i64) -> String {
    let _ = s;
    PlaybackGrant {
        video: v,
        expires_ms,
    }
    .sign(key)
}

async fn private_videos_serve_only_urls_with_a_grant(store: Store) {
    let s = TestServer::spawn(store).await;
    let (v, other) = (VideoId::random(), VideoId::random());
    publish(&s, v).await;
    let paths = [
        format!("/videos/{v}"),
        format!("/videos/{v}/poster.jpg"),
        format!("/videos/{v}/hls/master.m3u8"),
        format!("/videos/{v}/hls/360p/index.m3u8"),
        format!("/videos/{v}/hls/360p/seg_000.ts"),
    ];
    for path in &paths {
        let r = s.client.get(s.url(path)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{path}");
        assert_eq!(r.headers()[CACHE_CONTROL], "public, max-age=3600", "{path}");
    }

    mark(&s, v, Visibility::Private).await;
    s.eventually("the stream server sees it private", async || {
        play(&s, v).await.0 == StatusCode::FORBIDDEN
    })
    .await;
    let now = s.clock.now_ms();
    let valid = grant(&s, &s.key, v, now + 60_000);
    let refusals = [
        (None, StatusCode::FORBIDDEN, "private_video"),
        (
            Some("garbage".to_owned()),
            StatusCode::UNAUTHORIZED,
            "invalid_token",
        ),
        (
            Some(grant(&s, &SigningKey::random(), v, now + 60_000)),
            StatusCode::UNAUTHORIZED,
            "invalid_token",
        ),
        (
            Some(grant(&s, &s.key, v, now)),
            StatusCode::UNAUTHORIZED,
            "expired_token",
        ),
        (
            Some(grant(&s, &s.key, other, now + 60_000)),
            StatusCode::FORBIDDEN,
            "wrong_video",
        ),
    ];
    for path in &paths {
        for (grant, status, code) in &refusals {
            let url = match grant {
                Some(g) => s.url(&format!("{path}?grant={g}")),
                None => s.url(path),
            };
            let r = s.client.get(url).send().await.unwrap();
            assert_refused(&format!("{path} with {grant:?}"), r, *status, code).await;
        }
        let head = s.client.head(s.url(path)).send().await.unwrap();
        assert_eq!(head.status(), StatusCode::FORBIDDEN, "HEAD {path}");
        let r = s
            .client
            .get(s.url(&format!("{path}?grant={valid}")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{path} with a grant");
        assert_eq!(r.headers()[CACHE_CONTROL], "private, no-cache", "{path}");
    }
    // Seeking works under a grant.
    let r = s
        .client
        .get(s.url(&format!("/videos/{v}?grant={valid}")))
        .header("range", "bytes=100-199")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(r.bytes().await.unwrap(), &mp4_bytes(40_000)[100..200]);

    // A player follows the playlists from the master's URL alone.
    let master_url = s.url(&format!("/videos/{v}/hls/master.m3u8?grant={valid}"));
    let master = s.client.get(&master_url).send().await.unwrap();
    assert_eq!(master.headers()[CACHE_CONTROL], "private, no-cache");
    let master_text = master.text().await.unwrap();
    assert!(
        master_text.contains(&format!("360p/index.m3u8?grant={valid}\n")),
        "{master_text}"
    );
    let media_url = reqwest::Url::parse(&master_url)
        .unwrap()
        .join(master_text.lines().last().unwrap())
        .unwrap();
    let media = s.client.get(media_url.clone()).send().await.unwrap();
    assert_eq!(media.status(), StatusCode::OK);
    let media_text = media.text().await.unwrap();
    let segment = media_text.lines().find(|l| l.starts_with("seg_")).unwrap();
    assert_eq!(segment, format!("seg_000.ts?grant={valid}"));
    let r = s
        .client
        .get(media_url.join(segment).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.bytes().await.unwrap(), b"G segment bytes".as_slice());

    // Other videos play on; public and unlisted ones need no grant.
    assert_eq!(play(&s, other).await.0, StatusCode::NOT_FOUND);
    mark(&s, v, Visibility::Unlisted).await;
    s.eventually("the stream server sees it unlisted", async || {
        play(&s, v).await.0 == StatusCode::OK
    })
    .await;
    for path in &paths {
        let r = s.client.get(s.url(path)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{path}");
        assert_eq!(r.headers()[CACHE_CONTROL], "public, max-age=3600", "{path}");
    }
    let plain = s.client.get(s.url(&paths[2])).send().await.unwrap();
    assert!(!plain.text().await.unwrap().contains("grant="));
}

reel_testkit::per_backend!(
    [
        local => crate::helpers::Store::Local,
        s3 => crate::helpers::Store::S3,
    ],
    crate::helpers::on_store,
    [
        uploads_over_the_allowance_are_refused_and_keep_nothing,
        private_videos_serve_only_urls_with_a_grant,
    ]
);
