//! tus 1.0: discovery, creation, offsets, resume after an interruption at any byte,
//! termination, and the protocol's refusals.

use reel_core::ids::VideoId;
use reel_core::storage::keys;
use reqwest::StatusCode;

use crate::helpers::{Store, TestServer, Tus, disguised_bodies, mp4_bytes, play};

async fn discovery_and_protocol_refusals(store: Store) {
    let s = TestServer::spawn(store).await;
    let v = VideoId::random();
    let r = s
        .client
        .request(reqwest::Method::OPTIONS, s.url(&format!("/upload/{v}/tus")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(r.headers()["tus-version"], "1.0.0");
    assert_eq!(r.headers()["tus-resumable"], "1.0.0");
    assert!(
        r.headers()["tus-extension"]
            .to_str()
            .unwrap()
            .contains("creation")
    );
    assert!(
        r.headers()["tus-extension"]
            .to_str()
            .unwrap()
            .contains("termination")
    );
    assert_eq!(r.headers()["tus-max-size"], (10u64 << 30).to_string());

    let create = |version: &'static str, length: &'static str| {
        s.client
            .post(s.url(&format!("/upload/{v}/tus")))
            .bearer_auth(s.token(v))
            .header("tus-resumable", version)
            .header("upload-length", length)
            .send()
    };
    assert_eq!(
        create("0.2.2", "100").await.unwrap().status(),
        StatusCode::PRECONDITION_FAILED
    );
    assert_eq!(
        create("1.0.0", "x").await.unwrap().status(),
        StatusCode::BAD_REQUEST
    );
    let huge = create("1.0.0", "99999999999999").await.unwrap();
    assert_eq!(huge.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let unauth = s
        .client
        .post(s.url(&format!("/upload/{v}/tus")))
        .header("tus-resumable", "1.0.0")
        .header("upload-length", "100")
        .send()
        .await
        .unwrap();
    assert_eq!(unauth.status(), StatusCode::UNAUTHORIZED);
    let stranger = s
        .client
        .post(s.url(&format!("/upload/{v}/tus")))
        .bearer_auth(s.token(VideoId::random()))
        .header("tus-resumable", "1.0.0")
        .header("upload-length", "100")
        .send()
        .await
        .unwrap();
    assert_eq!(stranger.status(), StatusCode::FORBIDDEN);

    let tus = Tus::create(&s, v, 4096).await;
    assert_eq!(tus.offset().await, 0);
    let data = mp4_bytes(4096);
    let wrong = tus.patch(10, &data[10..20]).await;
    assert_eq!(wrong.status(), StatusCode::CONFLICT);
    let r = s
        .client
        .patch(s.url(&tus.location))
        .bearer_auth(s.token(v))
        .header("tus-resumable", "1.0.0")
        .header("upload-offset", "0")
        .header("content-type", "application/octet-stream")
        .body(data.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let too_long = tus.patch(0, &mp4_bytes(5000)).await;
    assert_eq!(too_long.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let other_video = s
        .client
        .head(s.url(&tus.location))
        .bearer_auth(s.token(VideoId::random()))
        .header("tus-resumable", "1.0.0")
        .send()
        .await
        .unwrap();
    assert_eq!(other_video.status(), StatusCode::FORBIDDEN);
    assert_eq!(tus.offset().await, 0, "refused PATCHes stored nothing");
    let unknown = format!("/upload/{v}/tus/0123456789abcdef0123456789abcdef");
    let r = s
        .client
        .head(s.url(&unknown))
        .bearer_auth(s.token(v))
        .header("tus-resumable", "1.0.0")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}

async fn an_upload_in_pieces_ends_byte_identical(store: Store) {
    let s = TestServer::spawn(store).await;
    let v = VideoId::random();
    let data = mp4_bytes(1_000_003);
    let tus = Tus::create(&s, v, data.len()).await;
    let mut offset = 0usize;
    // Pieces smaller than the sniffing window, then larger ones.
    for size in [7, 300, 100_000, 400_000, usize::MAX] {
        let end = offset.saturating_add(size).min(data.len());
        let r = tus.patch(offset as u64, &data[offset..end]).await;
        assert_eq!(r.status(), StatusCode::NO_CONTENT, "{:?}", r.text().await);
        assert_eq!(r.headers()["upload-offset"], end.to_string());
        offset = end;
        if offset < data.len() {
            assert_eq!(tus.offset().await, offset as u64);
            assert_eq!(
                play(&s, v).await.0,
                StatusCode::NOT_FOUND,
                "invisible until done"
            );
        }
    }
    assert_eq!(play(&s, v).await, (StatusCode::OK, data));
    let r = s
        .client
        .head(s.url(&tus.location))
        .bearer_auth(s.token(v))
        .header("tus-resumable", "1.0.0")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND, "the staging is gone");
}

async fn an_interrupted_upload_resumes_from_the_stored_offset(store: Store) {
    let s = TestServer::spawn(store).await;
    let v = VideoId::random();
    // Past two S3 parts, so that breaks fall inside a part, across one, and in the tail.
    let data = mp4_bytes(18 * 1024 * 1024 + 333);
    let tus = Tus::create(&s, v, data.len()).await;
    let breaks = [3usize, 1_234_567, 9 * 1024 * 1024 + 11, 17 * 1024 * 1024];
    let mut offset = 0usize;
    for cut in breaks {
        let hung_up = tus
            .interrupted_patch(offset as u64, &data[offset..cut], data.len() - offset)
            .await;
        // The server reads what was sent before the hang-up in its own time; every byte
        // of it must end up stored, and no more. The upload is locked while the PATCH
        // runs, so a HEAD sees the offset before it or after it, never one in between.
        s.eventually("every byte sent before the hang-up is kept", async || {
            let stored = tus.offset().await as usize;
            assert!(
                stored == offset || stored == cut,
                "a HEAD saw {stored}, between {offset} and {cut}"
            );
            stored == cut
        })
        .await;
        drop(hung_up);
        offset = cut;
    }
    let r = tus.patch(offset as u64, &data[offset..]).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let (status, body) = play(&s, v).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body == data, "byte-identical after resuming");
}

async fn termination_and_non_videos_leave_nothing(store: Store) {
    let s = TestServer::spawn(store).await;
    let v = VideoId::random();
    let tus = Tus::create(&s, v, 100_000).await;
    assert_eq!(
        tus.patch(0, &mp4_bytes(50_000)).await.status(),
        StatusCode::NO_CONTENT
    );
    let r = s
        .client
        .delete(s.url(&tus.location))
        .bearer_auth(s.token(v))
        .header("tus-resumable", "1.0.0")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        tus.patch(50_000, &[0; 10]).await.status(),
        StatusCode::NOT_FOUND
    );
    assert!(
        s.storage()
            .list_prefix(&keys::video_prefix(v))
            .await
            .unwrap()
            .is_empty()
    );

    let tus = Tus::create(&s, v, 100_000).await;
    let r = tus.patch(0, &b"<html>".repeat(1000)).await;
    assert_eq!(r.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert!(
        s.storage()
            .list_prefix(&keys::video_prefix(v))
            .await
            .unwrap()
            .is_empty(),
        "a non-video is not kept"
    );
    assert_eq!(play(&s, v).await.0, StatusCode::NOT_FOUND);
}

async fn disguised_non_videos_are_refused_whole_or_in_pieces(store: Store) {
    let s = TestServer::spawn(store).await;
    let v = VideoId::random();
    for (what, body) in disguised_bodies() {
        let whole = Tus::create(&s, v, body.len()).await;
        let r = whole.patch(0, &body).await;
        assert_eq!(r.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE, "{what}");
        // The first bytes alone cannot decide; the rest of the sniffing window does.
        let pieces = Tus::create(&s, v, body.len()).await;
        assert_eq!(
            pieces.patch(0, &body[..100]).await.status(),
            StatusCode::NO_CONTENT
        );
        let r = pieces.patch(100, &body[100..]).await;
        assert_eq!(r.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE, "{what}");
    }
    assert!(
        s.storage()
            .list_prefix(&keys::video_prefix(v))
            .await
            .unwrap()
            .is_empty(),
        "nothing of them is kept"
    );
    assert!(s.tus_notes().await.is_empty(), "nor noted");
}

reel_testkit::per_backend!(
    [
        local => crate::helpers::Store::Local,
        s3 => crate::helpers::Store::S3,
    ],
    crate::helpers::on_store,
    [
        discovery_and_protocol_refusals,
        disguised_non_videos_are_refused_whole_or_in_pieces,
        an_upload_in_pieces_ends_byte_identical,
        an_interrupted_upload_resumes_from_the_stored_offset,
        termination_and_non_videos_leave_nothing,
    ]
);
