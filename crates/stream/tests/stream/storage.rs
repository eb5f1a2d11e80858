//! The storage layer's contract, identical on both backends.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use reel_core::ids::VideoId;
use reel_core::storage::{PutError, Storage, StorageError, keys};

use crate::helpers::{Backend, HoldBack, b, moto, storage_options};

async fn open(backend: Backend) -> (Storage, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let (options, _) = storage_options(backend, &dir);
    (Storage::open(&options).await.unwrap(), dir)
}

async fn read(storage: &Storage, key: &str, range: std::ops::Range<u64>) -> Vec<u8> {
    let parts: Vec<Bytes> = storage
        .read_range(key, range)
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    parts.concat()
}

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len).map(|i| (i as u8).wrapping_mul(7) ^ seed).collect()
}

async fn objects_are_written_read_listed_and_deleted(backend: Backend) {
    let (storage, _dir) = open(backend).await;
    let v = VideoId::random();
    assert!(storage.head(&keys::original(v)).await.unwrap().is_none());
    let data = pattern(3 * 1024 * 1024 + 17, 1);
    let chunks: Vec<Result<Bytes, std::io::Error>> =
        data.chunks(100_000).map(|c| Ok(b(c))).collect();
    let n = storage
        .put_stream(&keys::original(v), futures::stream::iter(chunks))
        .await
        .unwrap();
    assert_eq!(n, data.len() as u64);
    let info = storage.head(&keys::original(v)).await.unwrap().unwrap();
    assert_eq!(info.size, data.len() as u64);
    assert!(info.etag.starts_with('"') && info.etag.ends_with('"'));
    let age = std::time::SystemTime::now()
        .duration_since(info.last_modified)
        .unwrap_or_default();
    assert!(
        age.as_secs() < 60,
        "last-modified is the store's, and recent"
    );
    assert_eq!(read(&storage, &keys::original(v), 0..info.size).await, data);
    assert_eq!(
        read(&storage, &keys::original(v), 1_000_000..1_000_100).await,
        data[1_000_000..1_000_100]
    );
    assert!(read(&storage, &keys::original(v), 5..5).await.is_empty());

    storage.put(&keys::poster(v), b(b"jpeg")).await.unwrap();
    storage
        .put(&keys::hls(v, "720p/a.ts").unwrap(), b(b"ts"))
        .await
        .unwrap();
    let other = VideoId::random();
    storage.put(&keys::poster(other), b(b"x")).await.unwrap();
    let listed: Vec<String> = storage
        .list_prefix(&keys::video_prefix(v))
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.key)
        .collect();
    assert_eq!(
        listed,
        [
            keys::hls(v, "720p/a.ts").unwrap(),
            keys::original(v),
            keys::poster(v)
        ]
    );
    assert_eq!(
        storage.delete_prefix(&keys::video_prefix(v)).await.unwrap(),
        3
    );
    assert!(
        storage
            .list_prefix(&keys::video_prefix(v))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(storage.head(&keys::poster(other)).await.unwrap().is_some());
    storage.delete(&keys::poster(other)).await.unwrap();
    storage.delete(&keys::poster(other)).await.unwrap();
    assert!(storage.head(&keys::poster(other)).await.unwrap().is_none());
    assert!(matches!(
        storage.read_range(&keys::poster(other), 0..1).await,
        Err(StorageError::NotFound)
    ));
    assert!(matches!(
        storage.head("../etc/passwd").await,
        Err(StorageError::BadKey(_))
    ));
}

async fn a_put_is_invisible_until_committed_and_gone_when_aborted(backend: Backend) {
    let (storage, _dir) = open(backend).await;
    let v = VideoId::random();
    let key = keys::original(v);
    let mut pending = storage.begin_put(&key).await.unwrap();
    pending
        .write(b(&pattern(9 * 1024 * 1024, 2)))
        .await
        .unwrap();
    assert!(
        storage.head(&key).await.unwrap().is_none(),
        "visible before commit"
    );
    pending.commit().await.unwrap();
    assert_eq!(
        storage.head(&key).await.unwrap().unwrap().size,
        9 * 1024 * 1024
    );

    // A failing source leaves the previous object untouched and nothing new.
    let failing = futures::stream::iter(vec![Ok(b(b"new bytes")), Err("client went away")]);
    let err = storage.put_stream(&key, failing).await.unwrap_err();
    assert!(matches!(err, PutError::Source("client went away")));
    assert_eq!(
        storage.head(&key).await.unwrap().unwrap().size,
        9 * 1024 * 1024
    );

    // A dropped put (a cancelled handler) leaves nothing either.
    let other = keys::original(VideoId::random());
    let mut dropped = storage.begin_put(&other).await.unwrap();
    dropped.write(b(&pattern(1024, 3))).await.unwrap();
    drop(dropped);
    assert!(storage.head(&other).await.unwrap().is_none());
}

async fn resumable_uploads_survive_interruptions_anywhere(backend: Backend) {
    let (storage, _dir) = open(backend).await;
    let v = VideoId::random();
    let staging = keys::resumable_staging(v, "0123456789abcdef0123456789abcdef").unwrap();
    let data = pattern(19 * 1024 * 1024 + 5, 4);
    storage
        .resumable_create(
            &staging,
            &keys::original(v),
            data.len() as u64,
            "name ZmlsZQ==",
        )
        .await
        .unwrap();
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
        let status = storage.resumable_status(&staging).await.unwrap().unwrap();
        assert_eq!(status.offset, from as u64);
        assert_eq!(status.metadata, "name ZmlsZQ==");
        let chunks: Vec<Result<Bytes, &str>> = data[from..to]
            .chunks(700_000)
            .map(|c| Ok(b(c)))
            .chain(std::iter::once(Err("interrupted")))
            .collect();
        let result = storage
            .resumable_append(&staging, from as u64, futures::stream::iter(chunks))
            .await;
        assert!(matches!(result, Err(PutError::Source("interrupted"))));
        if from == 0 {
            let head = storage.resumable_read_prefix(&staging, 50).await.unwrap();
            assert_eq!(head, data[..50]);
        }
    }
    let wrong = storage
        .resumable_append(&staging, 3, futures::stream::empty::<Result<Bytes, ()>>())
        .await;
    assert!(matches!(
        wrong,
        Err(PutError::Storage(StorageError::OffsetMismatch { .. }))
    ));
    assert!(storage.head(&keys::original(v)).await.unwrap().is_none());
    storage.resumable_commit(&staging).await.unwrap();
    let info = storage.head(&keys::original(v)).await.unwrap().unwrap();
    assert_eq!(info.size, data.len() as u64);
    assert!(read(&storage, &keys::original(v), 0..info.size).await == data);
    assert!(storage.resumable_status(&staging).await.unwrap().is_none());
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
    let gone = keys::resumable_staging(v, "fedcba9876543210fedcba9876543210").unwrap();
    storage
        .resumable_create(&gone, &keys::playable(v), 10 * 1024 * 1024, "")
        .await
        .unwrap();
    let part = futures::stream::iter(vec![Ok::<_, ()>(b(&pattern(9 * 1024 * 1024, 5)))]);
    storage.resumable_append(&gone, 0, part).await.unwrap();
    storage.resumable_delete(&gone).await.unwrap();
    assert!(storage.resumable_status(&gone).await.unwrap().is_none());
    assert!(storage.head(&keys::playable(v)).await.unwrap().is_none());
}

/// A read hands out its first chunk before it has read the rest: on disk, bytes
/// changed after the first chunk came show in the later chunks; from S3, the first
/// chunk comes while a relay holds the rest of the answer back.
async fn streams_are_chunked_not_buffered(backend: Backend) {
    const LEN: usize = 4 * 1024 * 1024;
    let dir = tempfile::tempdir().unwrap();
    let (options, _) = storage_options(backend, &dir);
    let storage = Storage::open(&options).await.unwrap();
    let key = keys::original(VideoId::random());
    let before = pattern(LEN, 6);
    storage.put(&key, b(&before)).await.unwrap();
    match backend {
        Backend::Local => {
            let mut stream = storage.read_range(&key, 0..LEN as u64).await.unwrap();
            let first = stream.next().await.unwrap().unwrap();
            assert!(first.len() < LEN, "the body comes in chunks");
            assert_eq!(first, before[..first.len()]);
            // Rewritten in place (same file), so only a read made from now on sees it.
            let after = pattern(LEN, 7);
            let path = dir.path().join("storage").join(&key);
            let mut file = std::fs::OpenOptions::new().write(true).open(path).unwrap();
            std::io::Write::write_all(&mut file, &after).unwrap();
            drop(file);
            let rest: Vec<Bytes> = stream.try_collect().await.unwrap();
            let whole = [vec![first], rest].concat().concat();
            assert_eq!(whole.len(), LEN);
            assert!(
                whole[LEN - 1024 * 1024..] == after[LEN - 1024 * 1024..],
                "the end of the range was read before the first chunk was handed out"
            );
        }
        Backend::S3 => {
            let moto: SocketAddr = moto().endpoint["http://".len()..].parse().unwrap();
            let relay = HoldBack::start(moto, 256 * 1024).await;
            let mut through = options.clone();
            through.s3_endpoint = Some(format!("http://{}", relay.addr));
            let held = Storage::open(&through).await.unwrap();
            let (mut stream, first) = tokio::time::timeout(Duration::from_secs(60), async {
                let mut stream = held.read_range(&key, 0..LEN as u64).await.unwrap();
                let first = stream.next().await.unwrap().unwrap();
                (stream, first)
            })
            .await
            .expect("the first chunk comes while the rest of the answer is held back");
            assert!(first.len() < 256 * 1024);
            assert_eq!(first, before[..first.len()]);
            relay.release();
            let mut whole = first.to_vec();
            while let Some(chunk) = stream.next().await {
                whole.extend_from_slice(&chunk.unwrap());
            }
            assert!(whole == before, "the whole range, once released");
        }
    }
}

both_backends!(
    objects_are_written_read_listed_and_deleted,
    a_put_is_invisible_until_committed_and_gone_when_aborted,
    resumable_uploads_survive_interruptions_anywhere,
    streams_are_chunked_not_buffered,
);
