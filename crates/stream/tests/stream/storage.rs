//! The storage layer's contract, identical on both stores.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use reel_core::ids::VideoId;
use reel_core::storage::{OCTET_STREAM, PutError, Storage, StorageError, keys};
use reel_testkit::moto;

use crate::helpers::{HoldBack, Store, b, open_storage as open, pattern, read, storage_options};

async fn objects_are_written_read_listed_and_deleted(store: Store) {
    let (storage, _dir) = open(store).await;
    let v = VideoId::random();
    assert!(storage.head(&keys::original(v)).await.unwrap().is_none());
    let data = pattern(3 * 1024 * 1024 + 17, 1);
    let chunks: Vec<Result<Bytes, std::io::Error>> =
        data.chunks(100_000).map(|c| Ok(b(c))).collect();
    let n = storage
        .put_stream(&keys::original(v), None, futures::stream::iter(chunks))
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

async fn a_put_is_invisible_until_committed_and_gone_when_aborted(store: Store) {
    let (storage, _dir) = open(store).await;
    let v = VideoId::random();
    let key = keys::original(v);
    let mut pending = storage.begin_put(&key, None).await.unwrap();
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
    let err = storage.put_stream(&key, None, failing).await.unwrap_err();
    assert!(matches!(err, PutError::Source("client went away")));
    assert_eq!(
        storage.head(&key).await.unwrap().unwrap().size,
        9 * 1024 * 1024
    );

    // A dropped put (a cancelled handler) leaves nothing either.
    let other = keys::original(VideoId::random());
    let mut dropped = storage.begin_put(&other, None).await.unwrap();
    dropped.write(b(&pattern(1024, 3))).await.unwrap();
    drop(dropped);
    assert!(storage.head(&other).await.unwrap().is_none());
}

async fn content_types_are_stored_with_their_objects(store: Store) {
    let (storage, _dir) = open(store).await;
    let v = VideoId::random();
    let type_of = async |key: &str| {
        let keys = [key.to_owned()];
        storage
            .open_first(&keys)
            .await
            .unwrap()
            .unwrap()
            .content_type
    };
    let mut put = storage
        .begin_put(&keys::original(v), Some("video/webm"))
        .await
        .unwrap();
    put.write(b(b"\x1a\x45\xdf\xa3webm")).await.unwrap();
    put.commit().await.unwrap();
    assert_eq!(type_of(&keys::original(v)).await, "video/webm");
    // A type is never listed as an object of its own.
    assert_eq!(
        storage
            .list_prefix(&keys::video_prefix(v))
            .await
            .unwrap()
            .len(),
        1
    );
    storage
        .put_stream(
            &keys::original(v),
            Some("video/mp4"),
            futures::stream::iter([Ok::<_, ()>(b(b"mp4"))]),
        )
        .await
        .unwrap();
    assert_eq!(type_of(&keys::original(v)).await, "video/mp4");
    storage.put(&keys::original(v), b(b"?")).await.unwrap();
    assert_eq!(type_of(&keys::original(v)).await, OCTET_STREAM);
    // A key with a known extension has its extension's type, whatever was claimed.
    let poster = keys::poster(v);
    let mut put = storage
        .begin_put(&poster, Some("video/webm"))
        .await
        .unwrap();
    put.write(b(b"jpeg")).await.unwrap();
    put.commit().await.unwrap();
    assert_eq!(type_of(&poster).await, "image/jpeg");

    storage.delete(&keys::original(v)).await.unwrap();
    storage.delete(&poster).await.unwrap();
    if let Some(root) = storage.local_path(keys::video_prefix(v).trim_end_matches('/')) {
        assert!(!root.exists(), "nothing is left of the video's folder");
    }
}

async fn finished_files_are_stored_whole(store: Store) {
    let (storage, dir) = open(store).await;
    let v = VideoId::random();
    let work = storage
        .scratch_dir()
        .unwrap_or_else(|| dir.path().to_owned());
    let data = pattern(9 * 1024 * 1024 + 1, 9);
    let file = work.join(format!("made-{v}"));
    std::fs::write(&file, &data).unwrap();
    storage
        .put_file(&keys::playable(v), &file, None)
        .await
        .unwrap();
    let info = storage.head(&keys::playable(v)).await.unwrap().unwrap();
    assert_eq!(read(&storage, &keys::playable(v), 0..info.size).await, data);
    match store {
        Store::Local => assert!(!file.exists(), "moved into place, not copied"),
        Store::S3 => assert!(file.exists(), "uploaded, and left where it was"),
    }
}

/// A read hands out its first chunk before it has read the rest: on disk, bytes
/// changed after the first chunk came show in the later chunks; from S3, the first
/// chunk comes while a relay holds the rest of the answer back.
async fn streams_are_chunked_not_buffered(store: Store) {
    const LEN: usize = 4 * 1024 * 1024;
    let dir = tempfile::tempdir().unwrap();
    let (options, _) = storage_options(store, &dir);
    let storage = Storage::open(&options).await.unwrap();
    let key = keys::original(VideoId::random());
    let before = pattern(LEN, 6);
    storage.put(&key, b(&before)).await.unwrap();
    match store {
        Store::Local => {
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
        Store::S3 => {
            let moto: SocketAddr = moto::moto().endpoint["http://".len()..].parse().unwrap();
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

reel_testkit::per_backend!(
    [
        local => crate::helpers::Store::Local,
        s3 => crate::helpers::Store::S3,
    ],
    crate::helpers::on_store,
    [
        objects_are_written_read_listed_and_deleted,
        a_put_is_invisible_until_committed_and_gone_when_aborted,
        streams_are_chunked_not_buffered,
        content_types_are_stored_with_their_objects,
        finished_files_are_stored_whole,
    ]
);
