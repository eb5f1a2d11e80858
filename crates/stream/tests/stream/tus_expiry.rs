//! Resumable uploads that are never finished expire: untouched for longer than
//! `tus_expire_after` on the server's (controlled) clock, their staged bytes, multipart
//! upload and note are removed; finished uploads and other videos are not touched.

use std::time::Duration;

use reel_core::clock::{Clock, SystemClock};
use reel_core::ids::VideoId;
use reel_core::storage::keys;
use reel_testkit::moto;
use reqwest::StatusCode;

use crate::helpers::{Store, TestServer, Tus, mp4_bytes, play};

const HOUR_MS: i64 = 3_600_000;

async fn tus_status(tus: &Tus<'_>) -> StatusCode {
    tus.s
        .client
        .head(tus.s.url(&tus.location))
        .bearer_auth(tus.s.token(tus.video))
        .header("tus-resumable", "1.0.0")
        .send()
        .await
        .unwrap()
        .status()
}

async fn unfinished_uploads_expire_and_leave_nothing(store: Store) {
    // The clock starts at the wall clock's time: storage dates objects by it.
    let s = TestServer::spawn_at(
        store,
        SystemClock.now_ms(),
        |c| c.tus_expire_after = Duration::from_secs(3600),
        None,
    )
    .await;
    let (v, w, done) = (VideoId::random(), VideoId::random(), VideoId::random());
    // Past one S3 part, so that a multipart upload is under way.
    let data = mp4_bytes(12 * 1024 * 1024);
    let started = Tus::create(&s, v, data.len()).await;
    let cut = 9 * 1024 * 1024;
    assert_eq!(
        started.patch(0, &data[..cut]).await.status(),
        StatusCode::NO_CONTENT
    );
    let empty = Tus::create(&s, w, 4096).await;
    let finished = Tus::create(&s, done, 4096).await;
    assert_eq!(
        finished.patch(0, &mp4_bytes(4096)).await.status(),
        StatusCode::NO_CONTENT
    );
    if store == Store::S3 {
        assert_eq!(moto::multipart_uploads(&s.prefix).await, 1);
    }

    s.clock.advance(HOUR_MS - 60_000);
    assert_eq!(reel_stream::tus::sweep::expired(&s.state).await.unwrap(), 0);
    assert_eq!(started.offset().await, cut as u64, "kept before it expires");

    s.clock.advance(2 * 60_000);
    assert_eq!(reel_stream::tus::sweep::expired(&s.state).await.unwrap(), 2);
    for tus in [&started, &empty] {
        assert_eq!(tus_status(tus).await, StatusCode::NOT_FOUND);
        assert!(
            s.storage()
                .list_prefix(&keys::video_prefix(tus.video))
                .await
                .unwrap()
                .is_empty()
        );
    }
    assert!(s.tus_notes().await.is_empty(), "no note is left");
    if store == Store::S3 {
        assert_eq!(
            moto::multipart_uploads(&s.prefix).await,
            0,
            "parts are not kept"
        );
    }
    assert_eq!(
        play(&s, done).await.0,
        StatusCode::OK,
        "finished uploads stay"
    );
    assert_eq!(reel_stream::tus::sweep::expired(&s.state).await.unwrap(), 0);
}

async fn every_stream_server_sweeps_on_its_own(store: Store) {
    let s = TestServer::spawn_at(
        store,
        SystemClock.now_ms(),
        |c| {
            c.tus_expire_after = Duration::from_secs(3600);
            c.tus_sweep_every = Duration::from_millis(50);
        },
        None,
    )
    .await;
    let v = VideoId::random();
    let tus = Tus::create(&s, v, 4096).await;
    assert_eq!(
        tus.patch(0, &mp4_bytes(1000)).await.status(),
        StatusCode::NO_CONTENT
    );
    s.clock.advance(HOUR_MS + 60_000);
    s.eventually("the upload expires", async || {
        tus_status(&tus).await == StatusCode::NOT_FOUND
    })
    .await;
    // A second server on the same storage sweeping too finds nothing left to do.
    let other = s.another_node().await;
    assert_eq!(reel_stream::tus::sweep::expired(&other).await.unwrap(), 0);
}

reel_testkit::per_backend!(
    [
        local => crate::helpers::Store::Local,
        s3 => crate::helpers::Store::S3,
    ],
    crate::helpers::on_store,
    [
        unfinished_uploads_expire_and_leave_nothing,
        every_stream_server_sweeps_on_its_own,
    ]
);
