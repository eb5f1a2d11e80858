//! The state marker of a video: what the database knows of a video and the stream
//! servers must enforce, told to them through storage because they have no database.
//! The scheduler writes it; every stream node reads it through [`VideoStates`], a cache
//! whose entries live at most [`MAX_CACHE_TTL`].
//!
//! It is the object `videos/{vid}/state.json` ([`keys::video_state`]), a JSON object:
//!
//! ```json
//! {"version": 1, "deleted_at_ms": 1750000000000}
//! ```
//!
//! - `version`: 1. Readers ignore fields they do not know, so fields are added without
//!   changing it (a node that does not know a field yet behaves as before it existed);
//!   only a change that old readers would misread raises it, and readers refuse a
//!   version they do not know.
//! - `deleted_at_ms` (Unix ms, optional): the video is deleted; the marker is then a
//!   *tombstone*. Stream servers take no more bytes for it and serve none of it
//!   (410, `video_deleted`). The scheduler writes it before removing the video's files,
//!   removes everything else under `videos/{vid}/` but it, and keeps it until every
//!   upload token of the video has expired (its `keep_tombstones_for`, at least the API's
//!   upload token TTL), then removes it.
//!
//! - `visibility` (optional, `public` when absent): `unlisted` or `private`. Stream
//!   servers serve a private video's bytes only to URLs that carry a valid playback
//!   grant ([`crate::playback_grant`]). The scheduler's `state` task writes it, queued by
//!   the API in the transaction that changes the visibility; it never replaces a
//!   tombstone.
//!
//! No marker means a live video with every field at its default. A field for what stream
//! servers must know of a live video belongs here, with a default that is right for
//! videos whose marker does not have it yet.
//!
//! How soon a change is enforced: the writer's own delay (for a deletion, the scheduler
//! picking up the delete task: its tick, 1 s by default) plus the cache's TTL.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::{Storage, StorageError, keys};
use crate::domain::Visibility;
use crate::ids::VideoId;

/// The format version written, and the only one read.
pub const VERSION: u32 = 1;
/// The longest a stream server may act on a marker it read earlier.
pub const MAX_CACHE_TTL: Duration = Duration::from_secs(2);
/// Videos whose markers are cached at most, per process.
const CACHE_CAPACITY: u64 = 100_000;

/// What the marker says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VideoState {
    pub version: u32,
    /// When the video was deleted (Unix ms); a tombstone when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_at_ms: Option<i64>,
    /// Who may watch it; public when absent.
    #[serde(default, skip_serializing_if = "Visibility::is_public")]
    pub visibility: Visibility,
}

impl VideoState {
    /// The tombstone of a video deleted at `now_ms`.
    pub fn deleted(now_ms: i64) -> Self {
        Self {
            version: VERSION,
            deleted_at_ms: Some(now_ms),
            visibility: Visibility::Public,
        }
    }

    /// The marker of a live video of this visibility.
    pub fn live(visibility: Visibility) -> Self {
        Self {
            version: VERSION,
            deleted_at_ms: None,
            visibility,
        }
    }

    /// Whether this is a tombstone.
    pub fn is_deleted(&self) -> bool {
        self.deleted_at_ms.is_some()
    }

    fn parse(video: VideoId, bytes: &[u8]) -> Result<Self, StorageError> {
        let corrupt = |why: String| StorageError::Corrupt(format!("state of video {video}: {why}"));
        let state: Self = serde_json::from_slice(bytes).map_err(|e| corrupt(e.to_string()))?;
        if state.version != VERSION {
            return Err(corrupt(format!("unknown version {}", state.version)));
        }
        Ok(state)
    }
}

impl Storage {
    /// The marker of `video`; `None` when it has none (a live video).
    pub async fn video_state(&self, video: VideoId) -> Result<Option<VideoState>, StorageError> {
        match self.read_small(&keys::video_state(video)).await {
            Ok(bytes) => VideoState::parse(video, &bytes).map(Some),
            Err(StorageError::NotFound) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Replaces the marker of `video`, atomically.
    pub async fn set_video_state(
        &self,
        video: VideoId,
        state: &VideoState,
    ) -> Result<(), StorageError> {
        let json = serde_json::to_vec(state).expect("the state serialises");
        self.put(&keys::video_state(video), Bytes::from(json)).await
    }

    /// Deletes the video's files, tombstone first: once this returns, no stream server
    /// acts on an older marker for longer than its cache TTL, and everything under
    /// `videos/{vid}/` is gone but the tombstone. A tombstone already there is kept as
    /// it is (its date decides when it may go). Returns how many objects were deleted.
    pub async fn delete_video_files(
        &self,
        video: VideoId,
        now_ms: i64,
    ) -> Result<u64, StorageError> {
        let tombstoned = self
            .video_state(video)
            .await
            .ok()
            .flatten()
            .is_some_and(|s| s.is_deleted());
        if !tombstoned {
            self.set_video_state(video, &VideoState::deleted(now_ms))
                .await?;
        }
        self.delete_prefix_except(&keys::video_prefix(video), &keys::video_state(video))
            .await
    }
}

/// The markers as a stream server reads them: from a cache whose entries live at most
/// [`MAX_CACHE_TTL`], so that a flood of requests for one video costs one read of its
/// marker per TTL. Absent markers are cached too.
#[derive(Clone)]
pub struct VideoStates {
    storage: Storage,
    cache: moka::future::Cache<VideoId, Option<Arc<VideoState>>>,
}

impl VideoStates {
    /// Reads markers from `storage`, keeping each for `ttl` (at most [`MAX_CACHE_TTL`]).
    pub fn new(storage: Storage, ttl: Duration) -> Self {
        let cache = moka::future::Cache::builder()
            .max_capacity(CACHE_CAPACITY)
            .time_to_live(ttl.min(MAX_CACHE_TTL))
            .build();
        Self { storage, cache }
    }

    /// The marker of `video`, as read within the TTL.
    pub async fn get(&self, video: VideoId) -> Result<Option<Arc<VideoState>>, StorageError> {
        match self.cache.get(&video).await {
            Some(cached) => Ok(cached),
            None => self.get_fresh(video).await,
        }
    }

    /// The marker of `video`, read now (and cached): for the last check before an
    /// upload becomes a video's original.
    pub async fn get_fresh(&self, video: VideoId) -> Result<Option<Arc<VideoState>>, StorageError> {
        let state = self.storage.video_state(video).await?.map(Arc::new);
        self.cache.insert(video, state.clone()).await;
        Ok(state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::StorageOptions;

    async fn storage(dir: &tempfile::TempDir) -> Storage {
        let options = StorageOptions {
            data_dir: dir.path().to_owned(),
            ..StorageOptions::default()
        };
        Storage::open(&options).await.unwrap()
    }

    #[test]
    fn the_format_is_the_documented_one_and_ignores_unknown_fields() {
        let v = VideoId::random();
        let json = serde_json::to_string(&VideoState::deleted(1_750_000_000_000)).unwrap();
        assert_eq!(json, r#"{"version":1,"deleted_at_ms":1750000000000}"#);
        let later = br#"{"version":1,"flavour":"salty","deleted_at_ms":5}"#;
        assert_eq!(VideoState::parse(v, later).unwrap(), VideoState::deleted(5));
        let private = serde_json::to_string(&VideoState::live(Visibility::Private)).unwrap();
        assert_eq!(private, r#"{"version":1,"visibility":"private"}"#);
        let read = VideoState::parse(v, private.as_bytes()).unwrap();
        assert_eq!(read.visibility, Visibility::Private);
        let live = VideoState::parse(v, br#"{"version":1}"#).unwrap();
        assert!(!live.is_deleted());
        assert_eq!(live.visibility, Visibility::Public);
        assert!(VideoState::parse(v, br#"{"version":2}"#).is_err());
        assert!(VideoState::parse(v, b"not json").is_err());
    }

    #[tokio::test]
    async fn deleting_files_leaves_the_tombstone_alone_and_keeps_its_date() {
        let dir = tempfile::tempdir().unwrap();
        let storage = storage(&dir).await;
        let (v, other) = (VideoId::random(), VideoId::random());
        for key in [
            keys::original(v),
            keys::hls(v, "720p/seg_000.ts").unwrap(),
            format!("{}tus/abc/data", keys::video_prefix(v)),
            keys::original(other),
        ] {
            storage.put(&key, Bytes::from_static(b"x")).await.unwrap();
        }
        assert_eq!(storage.delete_video_files(v, 10).await.unwrap(), 3);
        let left: Vec<String> = storage
            .list_prefix(&keys::video_prefix(v))
            .await
            .unwrap()
            .into_iter()
            .map(|o| o.key)
            .collect();
        assert_eq!(left, [keys::video_state(v)]);
        storage.delete_video_files(v, 99).await.unwrap();
        let state = storage.video_state(v).await.unwrap().unwrap();
        assert_eq!(state.deleted_at_ms, Some(10), "the first deletion's date");
        assert!(
            storage
                .head(&keys::original(other))
                .await
                .unwrap()
                .is_some()
        );
        assert_eq!(
            storage.list_folders("videos/").await.unwrap().len(),
            2,
            "one folder per video"
        );
    }

    #[tokio::test]
    async fn the_cache_sees_a_new_marker_within_its_ttl() {
        let dir = tempfile::tempdir().unwrap();
        let storage = storage(&dir).await;
        let v = VideoId::random();
        let states = VideoStates::new(storage.clone(), Duration::from_millis(200));
        let last_check = VideoStates::new(storage.clone(), Duration::from_secs(3600));
        assert_eq!(states.get(v).await.unwrap(), None);
        assert_eq!(last_check.get(v).await.unwrap(), None);
        storage
            .set_video_state(v, &VideoState::deleted(1))
            .await
            .unwrap();
        assert_eq!(states.get(v).await.unwrap(), None, "cached until the TTL");
        assert!(
            last_check.get_fresh(v).await.unwrap().unwrap().is_deleted(),
            "a fresh read skips the cache"
        );
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while states.get(v).await.unwrap().is_none() {
            assert!(tokio::time::Instant::now() < deadline, "never seen");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
