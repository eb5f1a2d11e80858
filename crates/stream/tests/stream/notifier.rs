//! The scheduler notice: signed, retried with backoff, durable across restarts.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use futures::future::BoxFuture;
use reel_core::ids::VideoId;
use reel_core::signing::service;
use reel_core::storage::keys;
use reel_stream::NotifyError;

use crate::helpers::{Store, T0, TestServer, eventually, mp4_bytes};

/// What the fake scheduler saw.
#[derive(Default)]
struct Intake {
    /// Calls so far: (video, whether the signature verified).
    calls: Mutex<Vec<(String, bool)>>,
    /// How many calls fail before one succeeds.
    failures: usize,
    /// The key to verify with.
    key: Mutex<Option<reel_core::signing::SigningKey>>,
}

async fn fake_scheduler(failures: usize) -> (Arc<Intake>, String) {
    let intake = Arc::new(Intake {
        failures,
        ..Intake::default()
    });
    let app = axum::Router::new()
        .route(
            "/tasks/process/{vid}",
            axum::routing::post(
                async |State(i): State<Arc<Intake>>, Path(vid): Path<String>, h: HeaderMap| {
                    let auth = h["authorization"].to_str().unwrap_or("");
                    let key = i.key.lock().unwrap().clone().unwrap();
                    let path = format!("/tasks/process/{vid}");
                    let signed = service::verify(&key, auth, "POST", &path, T0).is_ok();
                    let mut calls = i.calls.lock().unwrap();
                    calls.push((vid, signed));
                    if calls.len() <= i.failures {
                        StatusCode::SERVICE_UNAVAILABLE
                    } else {
                        StatusCode::ACCEPTED
                    }
                },
            ),
        )
        .with_state(intake.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (intake, url)
}

async fn the_scheduler_is_told_with_retries(store: Store) {
    let (intake, url) = fake_scheduler(2).await;
    let s = TestServer::spawn_telling(store, &url).await;
    *intake.key.lock().unwrap() = Some(s.key.clone());
    let v = VideoId::random();
    s.put_video(v, mp4_bytes(10_000)).await;
    s.eventually("three attempts, the last accepted", async || {
        intake.calls.lock().unwrap().len() >= 3
    })
    .await;
    let calls = intake.calls.lock().unwrap().clone();
    assert_eq!(calls.len(), 3, "no calls after success");
    assert!(
        calls
            .iter()
            .all(|(vid, signed)| *vid == v.to_string() && *signed)
    );
    s.eventually("the outbox note is removed", async || {
        s.storage()
            .head(&keys::outbox_process(v))
            .await
            .unwrap()
            .is_none()
    })
    .await;
}

/// A notifier that never gets through, counting its attempts.
struct Unreachable(AtomicUsize);

impl reel_stream::UploadNotifier for Unreachable {
    fn deliver(&self, _: VideoId) -> BoxFuture<'_, Result<(), NotifyError>> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Box::pin(async { Err(NotifyError("the scheduler is away".into())) })
    }
}

/// A notifier that records what it delivers.
struct InProcess(Mutex<Vec<VideoId>>);

impl reel_stream::UploadNotifier for InProcess {
    fn deliver(&self, video: VideoId) -> BoxFuture<'_, Result<(), NotifyError>> {
        self.0.lock().unwrap().push(video);
        Box::pin(async { Ok(()) })
    }
}

async fn undelivered_notices_survive_a_restart(store: Store) {
    let unreachable = Arc::new(Unreachable(AtomicUsize::new(0)));
    let s = TestServer::spawn_killable(store, unreachable.clone()).await;
    let v = VideoId::random();
    s.put_video(v, mp4_bytes(10_000)).await;
    s.eventually("a failed attempt", async || {
        unreachable.0.load(Ordering::SeqCst) > 0
    })
    .await;
    assert!(
        s.storage()
            .head(&keys::outbox_process(v))
            .await
            .unwrap()
            .is_some()
    );

    // The first server dies with the notice undelivered: nothing of it is left to
    // deliver it, and it no longer listens.
    let first = s.kill().await;
    assert_eq!(
        Arc::strong_count(&unreachable),
        1,
        "something of the first server still holds its notifier"
    );
    let attempts = unreachable.0.load(Ordering::SeqCst);
    assert!(
        tokio::net::TcpStream::connect(first.addr).await.is_err(),
        "the first server still listens"
    );

    // The next run, on the same storage, delivers it.
    let delivered = Arc::new(InProcess(Mutex::new(Vec::new())));
    let state = first.state(delivered.clone()).await;
    eventually("redelivered after restart", async || {
        delivered.0.lock().unwrap().contains(&v)
    })
    .await;
    eventually("the note is removed", async || {
        state
            .storage()
            .head(&keys::outbox_process(v))
            .await
            .unwrap()
            .is_none()
    })
    .await;
    assert_eq!(unreachable.0.load(Ordering::SeqCst), attempts);
}

reel_testkit::per_backend!(
    [
        local => crate::helpers::Store::Local,
        s3 => crate::helpers::Store::S3,
    ],
    crate::helpers::on_store,
    [
        the_scheduler_is_told_with_retries,
        undelivered_notices_survive_a_restart,
    ]
);
