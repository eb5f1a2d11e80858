//! An upload of 3 GiB to a real `reel stream`, streamed from a generator (never held in
//! memory, by the client or, as its bounded memory shows, by the server): the stored
//! video has the size sent and is, block by block, the bytes sent.

mod common;

use std::io::Read;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::{Reel, mp4_bytes};
use futures::StreamExt;
use reel_core::ids::{UserId, VideoId};
use reel_core::signing::{SigningKey, UploadGrant};
use reqwest::StatusCode;
use serde_json::Value;

const MIB: usize = 1024 * 1024;
/// Blocks of 1 MiB sent: 3 GiB.
const BLOCKS: u64 = 3 * 1024;

/// Block `i` of the upload: one MiB, unlike every other block (its number is written
/// into it), so that a block lost, repeated or moved is seen.
fn block(base: &[u8], i: u64) -> Vec<u8> {
    let mut block = base.to_vec();
    block[64..72].copy_from_slice(&i.to_le_bytes());
    block
}

/// The server's resident memory, in bytes, from `/proc`.
fn rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/PID/status");
    kib * 1024
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_of_3_gib_is_stored_whole() {
    let data = tempfile::tempdir().unwrap();
    let key = SigningKey::random();
    let node = Reel::start(
        &["stream", "--data-dir", data.path().to_str().unwrap()],
        &[("REEL_SIGNING_KEY", key.to_base64().as_str())],
    );
    let video = VideoId::random();
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    let token = UploadGrant {
        video,
        user: UserId::random(),
        expires_ms: now.as_millis() as i64 + 3_600_000,
        allowance: None,
    }
    .sign(&key);
    let base = mp4_bytes(MIB, 5);
    let total = BLOCKS * MIB as u64;

    let started = Instant::now();
    let pid = node.pid();
    let peak = Arc::new(AtomicU64::new(0));
    let body = futures::stream::iter(0..BLOCKS).map({
        let (base, peak) = (base.clone(), peak.clone());
        move |i| {
            if i % 256 == 0 {
                let now = rss(pid);
                peak.fetch_max(now, Ordering::Relaxed);
                assert!(
                    now < 512 * MIB as u64,
                    "the server holds the upload in memory: {now} bytes resident"
                );
            }
            Ok::<_, std::io::Error>(block(&base, i))
        }
    });
    let res = reqwest::Client::builder()
        .timeout(Duration::from_secs(600))
        .build()
        .unwrap()
        .put(format!("{}/upload/{video}", node.base))
        .bearer_auth(&token)
        .header("content-length", total.to_string())
        .body(reqwest::Body::wrap_stream(body))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let answer: Value = res.json().await.unwrap();
    assert_eq!(answer["size"], total);
    let sent_in = started.elapsed();

    // The stored original, read back a block at a time.
    let path = data
        .path()
        .join("storage/videos")
        .join(video.to_string())
        .join("original");
    assert_eq!(std::fs::metadata(&path).unwrap().len(), total);
    let checked = tokio::task::spawn_blocking(move || {
        let mut file = std::io::BufReader::with_capacity(MIB, std::fs::File::open(path).unwrap());
        let mut stored = vec![0u8; MIB];
        for i in 0..BLOCKS {
            file.read_exact(&mut stored).unwrap();
            assert!(stored == block(&base, i), "block {i} differs");
        }
        assert_eq!(
            file.read(&mut stored).unwrap(),
            0,
            "nothing after the last block"
        );
    });
    checked.await.unwrap();
    eprintln!(
        "3 GiB sent in {:.1}s, checked in {:.1}s; server peak RSS {} MiB",
        sent_in.as_secs_f64(),
        started.elapsed().as_secs_f64() - sent_in.as_secs_f64(),
        peak.load(Ordering::Relaxed) / MIB as u64
    );
}
