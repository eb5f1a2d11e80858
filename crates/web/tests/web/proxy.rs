use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use futures::StreamExt;
use tokio::sync::{mpsc, oneshot};

use crate::helpers::{client, dead_port, raw, spawn};

/// What an upstream saw of one request.
#[derive(Debug, Clone)]
struct Seen {
    /// `METHOD /path?query`.
    line: String,
    /// The headers as received.
    headers: HeaderMap,
    /// The body.
    body: Bytes,
}

/// The requests an upstream received.
type Log = Arc<Mutex<Vec<Seen>>>;

/// An upstream that records every request and answers 201 with headers the proxy must
/// pass on (and a hop-by-hop one it must not).
async fn recording_upstream() -> (SocketAddr, Log) {
    let log = Log::default();
    let app = Router::new()
        .fallback(any(|State(log): State<Log>, req: Request| async move {
            let (parts, body) = req.into_parts();
            let body = axum::body::to_bytes(body, usize::MAX).await.unwrap();
            log.lock().unwrap().push(Seen {
                line: format!("{} {}", parts.method, parts.uri),
                headers: parts.headers,
                body,
            });
            (
                StatusCode::CREATED,
                [
                    ("set-cookie", "reel_session=abc; HttpOnly; Path=/"),
                    ("retry-after", "7"),
                    ("etag", "\"v1\""),
                    ("tus-resumable", "1.0.0"),
                    ("upload-offset", "42"),
                    ("location", "/upload/x/tus/y"),
                    ("keep-alive", "timeout=5"),
                ],
                "created",
            )
        }))
        .with_state(log.clone());
    (spawn(app).await, log)
}

/// `reel web` in front of these upstreams.
async fn spawn_web(api: SocketAddr, stream: SocketAddr) -> SocketAddr {
    let config = reel_web::Config {
        api: reel_web::Upstream::parse(&format!("http://{api}")).unwrap(),
        stream: reel_web::Upstream::parse(&format!("http://{stream}/")).unwrap(),
        ..reel_web::Config::default()
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let state = reel_web::WebState::build(config);
    tokio::spawn(reel_web::serve(listener, state, std::future::pending()));
    addr
}

#[tokio::test]
async fn api_requests_go_to_the_api_without_the_prefix_with_everything_else_kept() {
    let (api, api_log) = recording_upstream().await;
    let (stream, stream_log) = recording_upstream().await;
    let web = spawn_web(api, stream).await;
    let res = client()
        .post(format!(
            "http://{web}/api/user/alice/videos?cursor=a%2Fb&limit=5"
        ))
        .header("content-type", "application/json")
        .header("cookie", "reel_session=s1")
        .header("origin", format!("http://{web}"))
        .header("x-session-id", "s2")
        .header("connection", "x-hop")
        .header("x-hop", "dropped")
        .body(r#"{"name":"Holiday"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let h = res.headers();
    assert_eq!(h["set-cookie"], "reel_session=abc; HttpOnly; Path=/");
    assert_eq!(h["retry-after"], "7");
    assert_eq!(h["etag"], "\"v1\"");
    assert_eq!(h["location"], "/upload/x/tus/y");
    assert!(
        !h.contains_key("keep-alive"),
        "hop-by-hop answers are dropped"
    );
    assert_eq!(res.text().await.unwrap(), "created");

    let seen = api_log.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    assert!(stream_log.lock().unwrap().is_empty());
    let seen = &seen[0];
    assert_eq!(seen.line, "POST /user/alice/videos?cursor=a%2Fb&limit=5");
    assert_eq!(seen.body, r#"{"name":"Holiday"}"#);
    let h = &seen.headers;
    // The client's Host, so that the API's Origin check sees the site's own origin.
    assert_eq!(h["host"], web.to_string());
    assert_eq!(h["origin"], format!("http://{web}"));
    assert_eq!(h["cookie"], "reel_session=s1");
    assert_eq!(h["x-session-id"], "s2");
    assert_eq!(h["content-type"], "application/json");
    assert_eq!(h["x-forwarded-for"], "127.0.0.1");
    assert_eq!(h["x-forwarded-proto"], "http");
    assert_eq!(h["x-forwarded-host"], web.to_string());
    assert!(!h.contains_key("x-hop") && !h.contains_key("connection"));
}

#[tokio::test]
async fn videos_and_uploads_go_to_the_stream_server_with_their_paths() {
    let (api, api_log) = recording_upstream().await;
    let (stream, stream_log) = recording_upstream().await;
    let web = spawn_web(api, stream).await;
    let vid = "0b5e3c1e-8f6a-4a57-9d55-3f7c2d1e9a10";
    let c = client();
    c.get(format!("http://{web}/videos/{vid}/hls/master.m3u8"))
        .send()
        .await
        .unwrap();
    let res = c
        .patch(format!("http://{web}/upload/{vid}/tus/abc?token=t0k"))
        .header("tus-resumable", "1.0.0")
        .header("upload-offset", "0")
        .header("content-type", "application/offset+octet-stream")
        .header("authorization", "Bearer t0k")
        .body("bytes")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["tus-resumable"], "1.0.0");
    assert_eq!(res.headers()["upload-offset"], "42");
    c.request(
        reqwest::Method::OPTIONS,
        format!("http://{web}/upload/{vid}/tus"),
    )
    .send()
    .await
    .unwrap();
    let seen = stream_log.lock().unwrap().clone();
    let lines: Vec<_> = seen.iter().map(|s| s.line.as_str()).collect();
    assert_eq!(
        lines,
        [
            format!("GET /videos/{vid}/hls/master.m3u8"),
            format!("PATCH /upload/{vid}/tus/abc?token=t0k"),
            format!("OPTIONS /upload/{vid}/tus"),
        ]
    );
    assert_eq!(seen[1].headers["upload-offset"], "0");
    assert_eq!(seen[1].headers["authorization"], "Bearer t0k");
    assert_eq!(seen[1].body, "bytes");
    assert!(api_log.lock().unwrap().is_empty());
}

/// An upstream that plays a 100-byte file with single ranges, as the stream server does.
async fn ranged_upstream() -> SocketAddr {
    let app = Router::new().route(
        "/videos/{vid}",
        any(|headers: HeaderMap| async move {
            let data: Vec<u8> = (0..100u8).collect();
            let common = [
                (header::ACCEPT_RANGES, "bytes".to_owned()),
                (header::ETAG, "\"e1\"".to_owned()),
                (header::CONTENT_TYPE, "video/mp4".to_owned()),
            ];
            let Some(range) = headers.get(header::RANGE).and_then(|v| v.to_str().ok()) else {
                return (common, data).into_response();
            };
            let (from, to) = range.trim_start_matches("bytes=").split_once('-').unwrap();
            let from: usize = from.parse().unwrap();
            let to: usize = to.parse::<usize>().map_or(99, |t| t.min(99));
            (
                StatusCode::PARTIAL_CONTENT,
                common,
                [(header::CONTENT_RANGE, format!("bytes {from}-{to}/100"))],
                data[from..=to].to_vec(),
            )
                .into_response()
        }),
    );
    spawn(app).await
}

#[tokio::test]
async fn ranges_pass_through_for_seeking() {
    let (api, _) = recording_upstream().await;
    let stream = ranged_upstream().await;
    let web = spawn_web(api, stream).await;
    let url = format!("http://{web}/videos/0b5e3c1e-8f6a-4a57-9d55-3f7c2d1e9a10");
    let res = client()
        .get(&url)
        .header("range", "bytes=80-")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::PARTIAL_CONTENT);
    let h = res.headers();
    assert_eq!(h["content-range"], "bytes 80-99/100");
    assert_eq!(h["accept-ranges"], "bytes");
    assert_eq!(h["etag"], "\"e1\"");
    assert_eq!(h["content-type"], "video/mp4");
    assert_eq!(h["content-length"], "20");
    assert_eq!(
        res.bytes().await.unwrap().to_vec(),
        (80..100u8).collect::<Vec<_>>()
    );
    let head = client().head(&url).send().await.unwrap();
    assert_eq!(head.status(), StatusCode::OK);
    assert_eq!(head.headers()["content-length"], "100");
}

/// The upstream tells the test when the first bytes of an upload reach it; the client
/// sends the rest only then. A proxy that buffered the body whole would deadlock here.
#[tokio::test]
async fn a_large_upload_streams_through_without_being_buffered() {
    const CHUNK: usize = 1024 * 1024;
    const CHUNKS: usize = 48;
    let (first_seen_tx, first_seen_rx) = oneshot::channel::<()>();
    let first_seen = Arc::new(Mutex::new(Some(first_seen_tx)));
    let app =
        Router::new()
            .route(
                "/upload/{vid}",
                any(
                    |State(first_seen): State<Arc<Mutex<Option<oneshot::Sender<()>>>>>,
                     body: Body| async move {
                        let mut stream = body.into_data_stream();
                        let mut total = 0usize;
                        let mut sum = 0u64;
                        while let Some(chunk) = stream.next().await {
                            let chunk = chunk.unwrap();
                            if let Some(tx) = first_seen.lock().unwrap().take() {
                                let _ = tx.send(());
                            }
                            total += chunk.len();
                            sum = chunk.iter().fold(sum, |s, b| s.wrapping_add(u64::from(*b)));
                        }
                        format!("{total} {sum}")
                    },
                ),
            )
            .with_state(first_seen);
    let stream = spawn(app).await;
    let (api, _) = recording_upstream().await;
    let web = spawn_web(api, stream).await;

    let (tx, rx) = mpsc::channel::<Result<Bytes, std::io::Error>>(2);
    let body = reqwest::Body::wrap_stream(tokio_stream_from(rx));
    let upload = tokio::spawn(
        client()
            .put(format!(
                "http://{web}/upload/0b5e3c1e-8f6a-4a57-9d55-3f7c2d1e9a10?token=t"
            ))
            .body(body)
            .send(),
    );
    let chunk = |i: usize| Bytes::from(vec![(i % 251) as u8; CHUNK]);
    tx.send(Ok(chunk(0))).await.unwrap();
    tokio::time::timeout(Duration::from_secs(60), first_seen_rx)
        .await
        .expect("the first bytes did not reach the upstream before the upload ended")
        .unwrap();
    let mut expected_sum = (0..CHUNK).fold(0u64, |s, _| s.wrapping_add(0));
    for i in 1..CHUNKS {
        tx.send(Ok(chunk(i))).await.unwrap();
        expected_sum = expected_sum.wrapping_add((i % 251) as u64 * CHUNK as u64);
    }
    drop(tx);
    let res = upload.await.unwrap().unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.text().await.unwrap(),
        format!("{} {expected_sum}", CHUNK * CHUNKS)
    );
}

/// Likewise for playback: the client reads the first bytes while the upstream still
/// holds the rest back.
#[tokio::test]
async fn a_download_streams_through_without_being_buffered() {
    let (release_tx, release_rx) = oneshot::channel::<()>();
    let release = Arc::new(Mutex::new(Some(release_rx)));
    let app = Router::new()
        .route(
            "/videos/{vid}",
            any(
                |State(release): State<Arc<Mutex<Option<oneshot::Receiver<()>>>>>| async move {
                    let wait = release.lock().unwrap().take().unwrap();
                    let first = futures::stream::once(async {
                        Ok::<_, std::io::Error>(Bytes::from_static(b"first "))
                    });
                    let rest = futures::stream::once(async move {
                        let _ = wait.await;
                        Ok::<_, std::io::Error>(Bytes::from_static(b"rest"))
                    });
                    Response::new(Body::from_stream(first.chain(rest)))
                },
            ),
        )
        .with_state(release);
    let stream = spawn(app).await;
    let (api, _) = recording_upstream().await;
    let web = spawn_web(api, stream).await;
    let res = client()
        .get(format!(
            "http://{web}/videos/0b5e3c1e-8f6a-4a57-9d55-3f7c2d1e9a10"
        ))
        .send()
        .await
        .unwrap();
    let mut body = res.bytes_stream();
    let first = tokio::time::timeout(Duration::from_secs(60), body.next())
        .await
        .expect("the first bytes did not come through before the rest")
        .unwrap()
        .unwrap();
    assert_eq!(first, "first ");
    release_tx.send(()).unwrap();
    assert_eq!(body.next().await.unwrap().unwrap(), "rest");
}

#[tokio::test]
async fn no_request_can_send_the_proxy_to_another_host() {
    let (api, api_log) = recording_upstream().await;
    let (stream, stream_log) = recording_upstream().await;
    let (elsewhere, elsewhere_log) = recording_upstream().await;
    let web = spawn_web(api, stream).await;
    // An absolute-form target and a Host header naming another host.
    let answer = raw(
        web,
        &format!(
            "GET http://{elsewhere}/api/videos HTTP/1.1\r\nHost: {elsewhere}\r\n\
             Connection: close\r\n\r\n"
        ),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");
    // A path that looks like a network-path reference, and a body and headers that
    // name a URL (the first design's proxy took its target from the body).
    let res = client()
        .post(format!("http://{web}/api//{elsewhere}/x"))
        .header("x-forwarded-host", elsewhere.to_string())
        .header("forwarded", format!("host={elsewhere}"))
        .body(format!(r#"{{"url":"http://{elsewhere}/steal"}}"#))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let answer = raw(
        web,
        &format!(
            "GET /upload/../../{elsewhere}/x HTTP/1.1\r\nHost: {web}\r\nConnection: close\r\n\r\n"
        ),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 "), "{answer}");

    assert!(elsewhere_log.lock().unwrap().is_empty());
    let api_seen = api_log.lock().unwrap().clone();
    assert_eq!(api_seen.len(), 2);
    assert_eq!(api_seen[0].line, "GET /videos");
    assert_eq!(api_seen[1].line, format!("POST //{elsewhere}/x"));
    let stream_seen = stream_log.lock().unwrap().clone();
    assert_eq!(stream_seen.len(), 1);
    assert_eq!(
        stream_seen[0].line,
        format!("GET /upload/../../{elsewhere}/x")
    );
}

#[tokio::test]
async fn redirects_from_an_upstream_are_passed_on_not_followed() {
    let (elsewhere, elsewhere_log) = recording_upstream().await;
    let app = Router::new().fallback(any(move || async move {
        (
            StatusCode::FOUND,
            [(header::LOCATION, format!("http://{elsewhere}/x"))],
        )
    }));
    let api = spawn(app).await;
    let (stream, _) = recording_upstream().await;
    let web = spawn_web(api, stream).await;
    let res = client()
        .get(format!("http://{web}/api/videos"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FOUND);
    assert_eq!(res.headers()["location"], format!("http://{elsewhere}/x"));
    assert!(elsewhere_log.lock().unwrap().is_empty());
}

#[tokio::test]
async fn an_upstream_that_is_down_is_a_502_in_json() {
    let web = spawn_web(dead_port().await, dead_port().await).await;
    for (path, who) in [
        ("/api/videos", "api"),
        (
            "/videos/0b5e3c1e-8f6a-4a57-9d55-3f7c2d1e9a10",
            "stream server",
        ),
    ] {
        let res = client()
            .get(format!("http://{web}{path}"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::BAD_GATEWAY, "{path}");
        assert_eq!(res.headers()["content-type"], "application/json");
        let body: serde_json::Value = res.json().await.unwrap();
        assert_eq!(body["code"], "bad_gateway");
        assert!(body["error"].as_str().unwrap().contains(who));
    }
}

#[tokio::test]
async fn reel_web_serves_pages_health_and_404_beside_the_proxy() {
    let (api, api_log) = recording_upstream().await;
    let (stream, _) = recording_upstream().await;
    let web = spawn_web(api, stream).await;
    let c = client();
    let home = c.get(format!("http://{web}/")).send().await.unwrap();
    assert_eq!(home.status(), StatusCode::OK);
    assert!(home.text().await.unwrap().contains("Recent videos"));
    let health = c.get(format!("http://{web}/healthz")).send().await.unwrap();
    assert_eq!(health.text().await.unwrap(), "ok");
    // Only /api/... is the API's: /apix and /api are pages (here: the 404 page).
    for path in ["/apix/videos", "/api", "/nope"] {
        let res = c.get(format!("http://{web}{path}")).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{path}");
        assert!(res.text().await.unwrap().contains("Page not found"));
    }
    assert!(api_log.lock().unwrap().is_empty());
}

/// A receiver as a stream, for request bodies fed by the test.
fn tokio_stream_from<T: Send + 'static>(
    mut rx: mpsc::Receiver<T>,
) -> impl futures::Stream<Item = T> + Send + 'static {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}
