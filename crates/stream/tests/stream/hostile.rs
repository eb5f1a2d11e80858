//! Hostile clients beside an ordinary viewer: one address holding every connection, a
//! client that never reads its responses, an endless multipart body, a stalled upload.
//! Attackers connect from 127.0.0.3 and 127.0.0.4, the viewer from 127.0.0.1.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use bytes::Bytes;
use reel_core::http::ListenerConfig;
use reel_core::ids::VideoId;
use reel_core::storage::keys;
use reqwest::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use crate::helpers::{Store, TestServer, Tus, eventually, mp4_bytes, read_head};

const ATTACKER: &str = "127.0.0.3";
const FLOODER: &str = "127.0.0.4";
/// Larger than loopback socket buffers, so a client that does not read keeps the
/// response streaming.
const LARGE: usize = 48 * 1024 * 1024;

/// A connection to `addr` from the loopback address `from`.
async fn connect_from(from: &str, addr: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket
        .bind(SocketAddr::new(from.parse().unwrap(), 0))
        .unwrap();
    socket.connect(addr).await.unwrap()
}

/// A video of `LARGE` bytes stored as `v`'s original.
async fn large_video(s: &TestServer) -> VideoId {
    let v = VideoId::random();
    s.storage()
        .put(&keys::original(v), Bytes::from(mp4_bytes(LARGE)))
        .await
        .unwrap();
    v
}

/// The viewer: a ranged GET of `v`, which must be answered 206.
async fn view(s: &TestServer, v: VideoId) {
    let r = s
        .client
        .get(s.url(&format!("/videos/{v}")))
        .header("range", "bytes=0-1023")
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::PARTIAL_CONTENT,
        "the viewer is served"
    );
    assert_eq!(r.bytes().await.unwrap().len(), 1024);
}

/// `GET /videos/{v}` from `from`, never read beyond what the test asks.
async fn get_never_read(s: &TestServer, from: &str, v: VideoId) -> TcpStream {
    let mut tcp = connect_from(from, s.addr).await;
    let get = format!("GET /videos/{v} HTTP/1.1\r\nHost: x\r\n\r\n");
    tcp.write_all(get.as_bytes()).await.unwrap();
    tcp
}

#[tokio::test]
async fn one_address_cannot_take_every_connection() {
    let s = TestServer::spawn_with(
        Store::Local,
        |c| {
            c.max_connections = 8;
            c.max_connections_per_client = 3;
        },
        None,
    )
    .await;
    let v = large_video(&s).await;
    let attacker: IpAddr = ATTACKER.parse().unwrap();
    let mut held = Vec::new();
    for _ in 0..3 {
        let mut tcp = get_never_read(&s, ATTACKER, v).await;
        assert!(read_head(&mut tcp).await.starts_with("HTTP/1.1 200"));
        held.push(tcp);
    }
    // Over its share, the address is refused at once, however many more it opens.
    for _ in 0..8 {
        let mut tcp = get_never_read(&s, ATTACKER, v).await;
        let head = read_head(&mut tcp).await.to_ascii_lowercase();
        assert!(head.starts_with("http/1.1 429"), "{head}");
        assert!(head.contains("retry-after: 1\r\n"), "{head}");
        assert!(head.contains("content-type: application/json"), "{head}");
        held.push(tcp);
        view(&s, v).await;
    }
    assert_eq!(s.state.limiter().in_use_by(attacker), 3);
    let other = s
        .client
        .get(s.url(&format!("/videos/{v}")))
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), StatusCode::OK, "other clients still get in");
    drop(other);
    drop(held);
    s.eventually("the address's permits come back", async || {
        s.state.limiter().in_use_by(attacker) == 0
    })
    .await;
}

#[tokio::test]
async fn a_response_nobody_reads_is_dropped_with_its_slot() {
    let listener = ListenerConfig {
        send_stall_timeout: Duration::from_millis(500),
        ..ListenerConfig::default()
    };
    let s = TestServer::spawn_listening(
        Store::Local,
        |c| {
            c.max_connections = 4;
            c.max_connections_per_client = 4;
        },
        listener,
    )
    .await;
    let v = large_video(&s).await;
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(get_never_read(&s, ATTACKER, v).await);
    }
    s.eventually("the readers that never read hold every slot", async || {
        s.state.limiter().in_use() == 4
    })
    .await;
    s.eventually(
        "their responses are dropped, and the slots freed",
        async || s.state.limiter().in_use() == 0,
    )
    .await;
    for _ in 0..5 {
        view(&s, v).await;
    }
    // The stalled connections were closed: what they hold ends.
    for mut tcp in held {
        let mut sink = vec![0u8; 1 << 20];
        let read_all = async { while tcp.read(&mut sink).await.is_ok_and(|n| n > 0) {} };
        tokio::time::timeout(Duration::from_secs(60), read_all)
            .await
            .expect("the server closed the connection");
    }
}

/// A chunked multipart POST from `FLOODER` whose body is `head` and then 1 MiB chunks
/// of `filler` (up to 64 MiB, then the body's end); returns the answer's head and how
/// many bytes had been sent when it came.
async fn flood_form(s: &TestServer, v: VideoId, head: &[u8], filler: u8) -> (String, usize) {
    let tcp = connect_from(FLOODER, s.addr).await;
    let (mut reader, mut writer) = tcp.into_split();
    let request = format!(
        "POST /upload/{v}?token={} HTTP/1.1\r\nHost: x\r\n\
         Content-Type: multipart/form-data; boundary=b0undary\r\n\
         Transfer-Encoding: chunked\r\n\r\n",
        s.token(v)
    );
    let (sent_tx, sent_rx) = tokio::sync::watch::channel(0usize);
    let mut first = request.into_bytes();
    first.extend(format!("{:x}\r\n", head.len()).as_bytes());
    first.extend(head);
    first.extend(b"\r\n");
    let chunk = [
        format!("{:x}\r\n", 1 << 20).into_bytes(),
        vec![filler; 1 << 20],
        b"\r\n".to_vec(),
    ]
    .concat();
    let sender = tokio::spawn(async move {
        if writer.write_all(&first).await.is_err() {
            return;
        }
        for _ in 0..64 {
            if writer.write_all(&chunk).await.is_err() {
                return;
            }
            sent_tx.send_modify(|n| *n += 1 << 20);
        }
        let _ = writer.write_all(b"0\r\n\r\n").await;
    });
    let mut answer = Vec::new();
    let mut byte = [0u8; 1];
    while !answer.ends_with(b"\r\n\r\n") {
        match tokio::time::timeout(Duration::from_secs(60), reader.read(&mut byte)).await {
            Ok(Ok(1)) => answer.push(byte[0]),
            _ => break,
        }
    }
    let sent = *sent_rx.borrow();
    sender.abort();
    (String::from_utf8_lossy(&answer).into_owned(), sent)
}

#[tokio::test]
async fn an_endless_multipart_body_is_refused_early() {
    let s = TestServer::spawn(Store::Local).await;
    let watched = large_video(&s).await;
    // No boundary ever: the preamble never ends.
    let v = VideoId::random();
    let (head, sent) = flood_form(&s, v, b"x", b'x').await;
    assert!(head.starts_with("HTTP/1.1 413"), "{head}");
    assert!(sent <= 8 << 20, "refused after {sent} bytes");
    view(&s, watched).await;
    // A part whose headers never end.
    let endless_headers = b"--b0undary\r\nContent-Disposition: form-data; name=\"file\"\r\n";
    let (head, sent) = flood_form(&s, v, endless_headers, b'h').await;
    assert!(head.starts_with("HTTP/1.1 413"), "{head}");
    assert!(sent <= 8 << 20, "refused after {sent} bytes");
    view(&s, watched).await;
    assert!(s.keys_of(v).await.is_empty(), "nothing stored");
}

#[tokio::test]
async fn a_form_takes_exactly_one_file() {
    let s = TestServer::spawn(Store::Local).await;
    let v = VideoId::random();
    let form = reqwest::multipart::Form::new()
        .part("file", reqwest::multipart::Part::bytes(mp4_bytes(5000)))
        .part("file", reqwest::multipart::Part::bytes(mp4_bytes(5000)));
    let r = s
        .client
        .post(s.upload_url(v))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["code"], "bad_request");
    assert!(s.keys_of(v).await.is_empty(), "neither file is stored");
    // Text fields past the bound before the file are refused too.
    let form = reqwest::multipart::Form::new()
        .text("note", "n".repeat(200_000))
        .part("file", reqwest::multipart::Part::bytes(mp4_bytes(5000)));
    let r = s
        .client
        .post(s.upload_url(v))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn a_stalled_upload_is_dropped_and_resumes_from_its_offset() {
    let listener = ListenerConfig {
        body_stall_timeout: Duration::from_millis(500),
        ..ListenerConfig::default()
    };
    let s = TestServer::spawn_listening(Store::Local, |_| {}, listener).await;
    let v = VideoId::random();
    let data = mp4_bytes(600_000);
    let tus = Tus::create(&s, v, data.len()).await;
    let head = format!(
        "PATCH {} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nTus-Resumable: 1.0.0\r\n\
         Upload-Offset: 0\r\nContent-Type: application/offset+octet-stream\r\n\
         Content-Length: {}\r\n\r\n",
        tus.location,
        s.token(v),
        data.len()
    );
    let mut tcp = connect_from(ATTACKER, s.addr).await;
    tcp.write_all(head.as_bytes()).await.unwrap();
    tcp.write_all(&data[..250_000]).await.unwrap();
    // Then nothing more: the server must give up on the body by itself.
    let answer = tokio::time::timeout(Duration::from_secs(30), read_head(&mut tcp))
        .await
        .expect("the stalled PATCH is ended by the server");
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 400"),
        "{answer}"
    );
    eventually("the bytes received are kept", async || {
        tus.offset().await == 250_000
    })
    .await;
    let r = tus.patch(250_000, &data[250_000..]).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let (status, played) = crate::helpers::play(&s, v).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(played, data);
}
