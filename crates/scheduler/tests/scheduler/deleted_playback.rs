//! The real scheduler and a real stream server on one storage: once the API deletes a
//! video (the row and its deletion task, in one transaction), the stream server stops
//! serving its bytes and refuses its uploads within the scheduler's tick plus the state
//! marker cache's TTL, while another video plays on throughout.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use reel_core::clock::{Clock, SystemClock};
use reel_core::db::{TaskKind, TaskState};
use reel_core::ids::{UserId, VideoId};
use reel_core::signing::UploadGrant;
use reel_core::site::Site;
use reel_core::storage::keys;
use reel_stream::{Config as StreamConfig, LogOnly, StreamState};
use reqwest::StatusCode;

use crate::helpers::{TestScheduler, new_video, site_config, tiny_clip};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_videos_bytes_stop_on_the_stream_server_within_seconds() {
    // The default tick, so that the figure printed is what a site sees.
    let app = TestScheduler::start(|c| c.tick = Duration::from_secs(1)).await;
    let site = Site::new(site_config(&app.scratch, &app.data, &app.key));
    let state = StreamState::build(StreamConfig::default(), &site, Arc::new(LogOnly))
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(reel_stream::serve(listener, state, async {
        let _ = stopped.await;
    }));

    let http = reqwest::Client::new();
    let token = |video: VideoId| {
        UploadGrant {
            video,
            user: UserId::random(),
            expires_ms: SystemClock.now_ms() + 6 * 3_600_000,
            allowance: None,
        }
        .sign(&app.key)
    };
    let upload = |video: VideoId| format!("{base}/upload/{video}?token={}", token(video));
    let bytes = std::fs::read(tiny_clip(app.data.path(), "clip.mp4")).unwrap();
    let (gone, kept) = (new_video(app.db()).await, new_video(app.db()).await);
    for video in [gone, kept] {
        let r = http
            .put(upload(video))
            .body(bytes.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CREATED);
    }
    let play = |video: VideoId| http.get(format!("{base}/videos/{video}")).send();
    assert_eq!(play(gone).await.unwrap().status(), StatusCode::OK);

    // A viewer of the other video plays on while the deletion goes through.
    let watching = Arc::new(AtomicBool::new(true));
    let (played, failed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let viewer = tokio::spawn({
        let (watching, played, failed) = (watching.clone(), played.clone(), failed.clone());
        let (http, url, len) = (http.clone(), format!("{base}/videos/{kept}"), bytes.len());
        async move {
            while watching.load(Ordering::SeqCst) {
                let r = http.get(&url).header("range", "bytes=0-").send().await;
                let ok = match r {
                    Ok(r) if r.status().is_success() => {
                        r.bytes().await.is_ok_and(|b| b.len() == len)
                    }
                    _ => false,
                };
                let counter = if ok { &played } else { &failed };
                counter.fetch_add(1, Ordering::SeqCst);
            }
        }
    });

    let started = Instant::now();
    app.db()
        .delete_video(gone, SystemClock.now_ms())
        .await
        .unwrap();
    loop {
        if play(gone).await.unwrap().status() == StatusCode::GONE {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the deleted video is still served"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let enforced = started.elapsed();
    eprintln!(
        "deletion enforced on the stream server {} ms after the API's delete",
        enforced.as_millis()
    );
    let refused = http
        .put(upload(gone))
        .body(bytes.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::GONE);
    let body: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(body["code"], "video_deleted");

    watching.store(false, Ordering::SeqCst);
    viewer.await.unwrap();
    assert_eq!(failed.load(Ordering::SeqCst), 0, "the viewer was failed");
    assert!(played.load(Ordering::SeqCst) > 0);
    app.wait_for(TaskKind::DeleteVideo, gone, TaskState::Done)
        .await;
    assert_eq!(app.keys_of(gone).await, [keys::video_state(gone)]);
    drop(stop);
    server.await.unwrap().unwrap();
    app.stop().await;
}
