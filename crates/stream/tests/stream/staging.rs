//! Staged resumable uploads, below the tus protocol: interrupted anywhere, resumed at
//! the stored offset, committed with their type, discarded without a trace.

use std::sync::OnceLock;

use bytes::Bytes;
use reel_core::ids::VideoId;
use reel_core::storage::keys;
use reel_stream::sniff::Container;
use reel_stream::tus::staging::{AppendError, Staging, StagingError, staging_prefix};
use reel_testkit::moto;

use crate::helpers::{Store, b, mp4_bytes, open_storage, pattern, read};

async fn resumable_uploads_survive_interruptions_anywhere(store: Store) {
    let (storage, _dir) = open_storage(store).await;
    let v = VideoId::random();
    let prefix = staging_prefix(v, "0123456789abcdef0123456789abcdef").unwrap();
    let staging = Staging::new(&storage, prefix);
    let data = pattern(19 * 1024 * 1024 + 5, 4);
    staging
        .create(&keys::original(v), data.len() as u64, "name ZmlsZQ==")
        .await
        .unwrap();
    let sniffed = OnceLock::new();
    // Breaks inside the first part, across part boundaries (8 MiB on S3), and at ends.
    let breaks = [
        0usize,
        100,
        5 * 1024 * 1024,
        8 * 1024 * 1024 + 3,
        17 * 1024 * 1024,
        data.len(),
    ];
    for pair in breaks.windows(2) {
        let (from, to) = (pair[0], pair[1]);
        let status = staging.status().await.unwrap().unwrap();
        assert_eq!(status.offset, from as u64);
        assert_eq!(status.metadata, "name ZmlsZQ==");
        let chunks: Vec<Result<Bytes, &str>> = data[from..to]
            .chunks(700_000)
            .map(|c| Ok(b(c)))
            .chain(std::iter::once(Err("interrupted")))
            .collect();
        let result = staging
            .append(from as u64, futures::stream::iter(chunks), &sniffed)
            .await;
        assert!(matches!(result, Err(AppendError::Source("interrupted"))));
        if from == 0 {
            let head = staging.read_prefix(50).await.unwrap();
            assert_eq!(head, data[..50]);
        }
    }
    let wrong = staging
        .append(3, futures::stream::empty::<Result<Bytes, ()>>(), &sniffed)
        .await;
    assert!(matches!(
        wrong,
        Err(AppendError::Staging(StagingError::OffsetMismatch { .. }))
    ));
    assert!(storage.head(&keys::original(v)).await.unwrap().is_none());
    staging.commit().await.unwrap();
    let info = storage.head(&keys::original(v)).await.unwrap().unwrap();
    assert_eq!(info.size, data.len() as u64);
    assert!(read(&storage, &keys::original(v), 0..info.size).await == data);
    assert!(staging.status().await.unwrap().is_none());
    assert_eq!(
        storage
            .list_prefix(&keys::video_prefix(v))
            .await
            .unwrap()
            .len(),
        1,
        "only the original remains"
    );

    // A discarded upload leaves nothing.
    let gone = staging_prefix(v, "fedcba9876543210fedcba9876543210").unwrap();
    let gone = Staging::new(&storage, gone);
    gone.create(&keys::playable(v), 10 * 1024 * 1024, "")
        .await
        .unwrap();
    let part = futures::stream::iter(vec![Ok::<_, ()>(b(&pattern(9 * 1024 * 1024, 5)))]);
    gone.append(0, part, &sniffed).await.unwrap();
    gone.delete().await.unwrap();
    assert!(gone.status().await.unwrap().is_none());
    assert!(storage.head(&keys::playable(v)).await.unwrap().is_none());
}

async fn the_sniffed_type_is_stored_with_the_upload(store: Store) {
    let (storage, _dir) = open_storage(store).await;
    let v = VideoId::random();
    let staging = Staging::new(&storage, staging_prefix(v, "a1").unwrap());
    let data = mp4_bytes(9 * 1024 * 1024);
    staging
        .create(&keys::original(v), data.len() as u64, "")
        .await
        .unwrap();
    // The container is recognised in the first request; the bytes come in the second.
    let sniffed = OnceLock::new();
    let head = futures::stream::iter([Ok::<_, ()>(b(&data[..1000]))]);
    sniffed.set(Container::Mp4).unwrap();
    staging.append(0, head, &sniffed).await.unwrap();
    let rest = futures::stream::iter([Ok::<_, ()>(b(&data[1000..]))]);
    staging.append(1000, rest, &OnceLock::new()).await.unwrap();
    staging.commit().await.unwrap();
    let object = storage
        .open_first(&[keys::original(v)])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(object.content_type, "video/mp4");
    assert_eq!(object.info.size, data.len() as u64);
}

reel_testkit::per_backend!(
    [
        local => crate::helpers::Store::Local,
        s3 => crate::helpers::Store::S3,
    ],
    crate::helpers::on_store,
    [
        resumable_uploads_survive_interruptions_anywhere,
        the_sniffed_type_is_stored_with_the_upload,
    ]
);

/// Deleting a video (what the scheduler's deletion does) aborts the multipart upload of
/// an upload staged on S3, instead of leaving its parts stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_the_video_aborts_a_staged_multipart_upload() {
    let dir = tempfile::tempdir().unwrap();
    let (options, prefix) = moto::s3_storage(dir.path());
    let storage = reel_core::storage::Storage::open(&options).await.unwrap();
    let v = VideoId::random();
    let staging = Staging::new(&storage, staging_prefix(v, "b2").unwrap());
    staging
        .create(&keys::original(v), 20 * 1024 * 1024, "")
        .await
        .unwrap();
    let part = futures::stream::iter([Ok::<_, ()>(b(&pattern(9 * 1024 * 1024, 1)))]);
    staging.append(0, part, &OnceLock::new()).await.unwrap();
    assert_eq!(moto::multipart_uploads(&prefix).await, 1);
    storage.delete_prefix(&keys::video_prefix(v)).await.unwrap();
    assert_eq!(moto::multipart_uploads(&prefix).await, 0);
    assert!(
        storage
            .list_prefix(&keys::video_prefix(v))
            .await
            .unwrap()
            .is_empty()
    );
}
