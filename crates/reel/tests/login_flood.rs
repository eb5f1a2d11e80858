//! A flood of log-ins and registrations whose clients hang up 20 ms after sending, the
//! way a stranger makes a server hash passwords for nobody, against `reel serve`: a
//! viewer's requests keep succeeding, and the server's memory stays bounded, because
//! hashing runs on a bounded pool of its own whose slots the hashing holds, not the
//! requests. The per-address limit is lifted here: the pool alone must hold.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::Reel;
use reqwest::StatusCode;
use tokio::io::AsyncWriteExt;

/// How long the flood lasts.
const FLOOD: Duration = Duration::from_secs(10);
/// The server's peak memory may not pass this; the flood stops as soon as it does, so
/// that a regression cannot exhaust the machine. A hasher whose slots are freed by the
/// requests grows by well over 100 MiB a second here. Debug builds of `reel serve` peak
/// between 150 and 300 MiB in this test, so the bound is loose; the site's goal (256 MiB
/// in release builds) is checked by `bench/abuse.sh`.
const RSS_CAP_KIB: u64 = 512 * 1024;

/// One attacker: posts a log-in or a registration with a random name, waits 20 ms,
/// hangs up, and again, until `stop`.
async fn attacker(addr: String, i: usize, stop: Arc<AtomicBool>) {
    let mut n = 0u64;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let name = format!("x{i}n{n}");
        let (path, body) = if n.is_multiple_of(2) {
            (
                "/api/user".to_owned(),
                format!(r#"{{"user_name":"{name}","pwd":"flood password {n}"}}"#),
            )
        } else {
            (
                format!("/api/user/{name}"),
                format!(r#"{{"pwd":"flood password {n}"}}"#),
            )
        };
        let Ok(mut conn) = tokio::net::TcpStream::connect(&addr).await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let request = format!(
            "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\n\r\n{body}",
            body.len()
        );
        let _ = conn.write_all(request.as_bytes()).await;
        tokio::time::sleep(Duration::from_millis(20)).await;
        drop(conn);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_flood_that_hangs_up_neither_starves_viewers_nor_grows_memory() {
    let data = tempfile::tempdir().unwrap();
    let reel = Reel::start(
        &["serve", "--data-dir", data.path().to_str().unwrap()],
        &[
            ("REEL_AUTH_ATTEMPTS_PER_MINUTE", "1000000"),
            ("REEL_HASH_THREADS", "2"),
        ],
    );
    let base = reel.base.clone();
    let addr = base.trim_start_matches("http://").to_owned();
    let viewer = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let home = format!("{base}/api/videos");
    assert_eq!(
        viewer.get(&home).send().await.unwrap().status(),
        StatusCode::OK
    );
    let at_rest = reel.status_kib("VmRSS:");

    let stop = Arc::new(AtomicBool::new(false));
    let attackers: Vec<_> = (0..64)
        .map(|i| tokio::spawn(attacker(addr.clone(), i, stop.clone())))
        .collect();
    let started = Instant::now();
    let (mut served, mut failed, mut slowest) = (0, Vec::new(), Duration::ZERO);
    let mut peak = 0;
    while started.elapsed() < FLOOD {
        peak = peak.max(reel.status_kib("VmRSS:"));
        if peak > RSS_CAP_KIB {
            break;
        }
        let asked = Instant::now();
        match viewer.get(&home).send().await {
            Ok(res) if res.status() == StatusCode::OK => served += 1,
            Ok(res) => failed.push(res.status().to_string()),
            Err(e) => failed.push(e.to_string()),
        }
        slowest = slowest.max(asked.elapsed());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.store(true, Ordering::Relaxed);
    for a in attackers {
        a.await.unwrap();
    }
    let peak = peak.max(reel.status_kib("VmHWM:"));
    eprintln!(
        "viewer: {served} served, {} failed, slowest {slowest:?}; server RSS {} MiB at rest, \
         peak {} MiB",
        failed.len(),
        at_rest / 1024,
        peak / 1024
    );
    assert!(
        peak <= RSS_CAP_KIB,
        "the server's memory passed {} MiB (at rest {} MiB)",
        RSS_CAP_KIB / 1024,
        at_rest / 1024
    );
    assert!(failed.is_empty(), "the viewer was refused: {failed:?}");
    assert!(served >= 20, "the viewer was served only {served} times");
    assert!(
        slowest < Duration::from_secs(5),
        "a viewer's request took {slowest:?}"
    );
    // The server logs people in again once the hashes queued by the flood are done (a
    // busy pool answers 503 until then).
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let res = viewer
            .post(format!("{base}/api/user"))
            .json(&serde_json::json!({"user_name": "after", "pwd": "a long password"}))
            .send()
            .await
            .unwrap();
        if res.status() != StatusCode::SERVICE_UNAVAILABLE {
            assert_eq!(res.status(), StatusCode::CREATED);
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the hashing pool was still busy a minute after the flood"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
