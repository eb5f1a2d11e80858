//! What processing stores is what the stream server serves: the playable MP4 at
//! `/videos/{vid}`, the HLS playlists and segments, and the poster, with their types.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use reel_core::db::{TaskKind, TaskState};
use reel_core::site::Site;
use reel_core::storage::keys;
use reel_stream::{LogOnly, StreamState};
use tower::ServiceExt;

use crate::helpers::{TestScheduler, clip, new_video, site_config};

#[tokio::test]
async fn the_stream_server_serves_what_processing_made() {
    let app = TestScheduler::start(|_| {}).await;
    let file = clip(
        app.data.path(),
        "clip.webm",
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=480x360:rate=25:duration=1",
            "-c:v",
            "libvpx-vp9",
            "-deadline",
            "realtime",
            "-cpu-used",
            "8",
        ],
    );
    let video = new_video(app.db()).await;
    app.upload(video, &file).await;
    app.scheduler.enqueue_process(video).await.unwrap();
    app.wait_for(TaskKind::ProcessVideo, video, TaskState::Done)
        .await;

    let site = Site::new(site_config(&app.scratch, &app.data, &app.key));
    let state = StreamState::build(reel_stream::Config::default(), &site, Arc::new(LogOnly))
        .await
        .unwrap();
    let stream = reel_stream::router(state);
    let get = |path: String| {
        let stream = stream.clone();
        async move {
            let res = stream
                .oneshot(Request::get(&path).body(Body::empty()).unwrap())
                .await
                .unwrap();
            assert_eq!(res.status(), StatusCode::OK, "{path}");
            let content_type = res.headers()["content-type"].to_str().unwrap().to_owned();
            let body = axum::body::to_bytes(res.into_body(), usize::MAX)
                .await
                .unwrap();
            (content_type, body)
        }
    };

    let (content_type, body) = get(format!("/videos/{video}")).await;
    assert_eq!(content_type, "video/mp4");
    let playable = app
        .storage()
        .read_small(&keys::playable(video))
        .await
        .unwrap();
    assert_eq!(body, playable, "the MP4, not the WebM original");
    let (content_type, _) = get(format!("/videos/{video}/poster.jpg")).await;
    assert_eq!(content_type, "image/jpeg");
    let (content_type, master) = get(format!("/videos/{video}/hls/master.m3u8")).await;
    assert_eq!(content_type, "application/vnd.apple.mpegurl");
    let master = String::from_utf8(master.to_vec()).unwrap();
    for variant in master.lines().filter(|l| !l.starts_with('#')) {
        let (content_type, playlist) = get(format!("/videos/{video}/hls/{variant}")).await;
        assert_eq!(content_type, "application/vnd.apple.mpegurl");
        let playlist = String::from_utf8(playlist.to_vec()).unwrap();
        let dir = variant.rsplit_once('/').unwrap().0;
        let segment = playlist.lines().find(|l| !l.starts_with('#')).unwrap();
        let (content_type, _) = get(format!("/videos/{video}/hls/{dir}/{segment}")).await;
        assert_eq!(content_type, "video/mp2t");
    }
    app.stop().await;
}
