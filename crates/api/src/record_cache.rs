use std::time::Duration;

use axum::body::Bytes;
use moka::future::Cache;
use reel_core::clock::SharedClock;
use reel_core::db::{Db, DbError, VideoRecord};
use reel_core::domain::VideoStatus;
use reel_core::ids::VideoId;

/// The watch page's reads, kept for a short time: ready videos' records and the first
/// page of each video's comments (as ready-made JSON). A video is read far more often
/// than it changes, and these two reads are what every viewer makes, so a second of
/// caching takes the database off their path, as [`crate::listing_cache::ListingCache`]
/// does for listings, with the same TTL.
///
/// Writes through this node invalidate at once (a deletion, a comment); a change made
/// elsewhere (the scheduler, another API node) shows within the TTL. Only ready videos
/// are kept: the others change with processing, and only their owner sees them.
///
/// Freshness is judged on the API's clock, so that tests can move it; the caches' own
/// time-to-live only frees the memory of entries nobody asks for.
#[derive(Clone)]
pub struct RecordCache {
    /// `None` when caching is turned off (TTL zero).
    caches: Option<Caches>,
    /// The time entries are stamped and judged with.
    clock: SharedClock,
    /// How long an entry is served, in milliseconds.
    ttl_ms: i64,
}

#[derive(Clone)]
struct Caches {
    videos: Cache<VideoId, Stamped<VideoRecord>>,
    /// By video and page size.
    comments: Cache<(VideoId, u32), Stamped<Bytes>>,
}

/// A value and when it was read (Unix milliseconds).
#[derive(Clone)]
struct Stamped<T> {
    value: T,
    stored_ms: i64,
}

/// Entries kept at most, per cache: a few MiB at worst.
const CAPACITY: u64 = 10_000;

impl RecordCache {
    /// Caches keeping entries for `ttl` on `clock`; zero turns them off.
    pub fn new(ttl: Duration, clock: SharedClock) -> Self {
        let caches = (!ttl.is_zero()).then(|| Caches {
            videos: Cache::builder()
                .max_capacity(CAPACITY)
                .time_to_live(ttl)
                .build(),
            comments: Cache::builder()
                .max_capacity(CAPACITY)
                .time_to_live(ttl)
                .support_invalidation_closures()
                .build(),
        });
        Self {
            caches,
            clock,
            ttl_ms: i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX),
        }
    }

    fn fresh<T>(&self, entry: &Stamped<T>) -> bool {
        self.clock.now_ms().saturating_sub(entry.stored_ms) < self.ttl_ms
    }

    /// The video `id`, from the cache when a fresh copy is there, else from `db` (and
    /// kept when ready).
    pub async fn video(&self, db: &Db, id: VideoId) -> Result<VideoRecord, DbError> {
        let Some(caches) = &self.caches else {
            return db.video(id).await;
        };
        if let Some(entry) = caches.videos.get(&id).await
            && self.fresh(&entry)
        {
            return Ok(entry.value);
        }
        let stored_ms = self.clock.now_ms();
        let video = db.video(id).await?;
        if video.status == VideoStatus::Ready {
            let entry = Stamped {
                value: video.clone(),
                stored_ms,
            };
            caches.videos.insert(id, entry).await;
        } else {
            caches.videos.invalidate(&id).await;
        }
        Ok(video)
    }

    /// The cached first page of `id`'s comments of `limit` items, if fresh.
    pub async fn first_comments(&self, id: VideoId, limit: u32) -> Option<Bytes> {
        let entry = self.caches.as_ref()?.comments.get(&(id, limit)).await?;
        self.fresh(&entry).then_some(entry.value)
    }

    /// Keeps `body` as the first page of `id`'s comments of `limit` items, read at
    /// `stored_ms` (taken before the read, so that a write meanwhile is not hidden
    /// longer than the TTL).
    pub async fn put_first_comments(&self, id: VideoId, limit: u32, body: Bytes, stored_ms: i64) {
        if let Some(caches) = &self.caches {
            let entry = Stamped {
                value: body,
                stored_ms,
            };
            caches.comments.insert((id, limit), entry).await;
        }
    }

    /// The current time on the cache's clock, to stamp a read with.
    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    /// Drops the cached comment pages of `id` (a comment was posted or deleted).
    pub fn forget_comments(&self, id: VideoId) {
        if let Some(caches) = &self.caches {
            // Only fails when invalidation closures are off, and `new` turns them on.
            let _ = caches
                .comments
                .invalidate_entries_if(move |(video, _), _| *video == id);
        }
    }

    /// Drops everything cached of `id` (it changed or was deleted).
    pub async fn forget_video(&self, id: VideoId) {
        if let Some(caches) = &self.caches {
            caches.videos.invalidate(&id).await;
        }
        self.forget_comments(id);
    }

    /// Drops everything (a user was banned or let back: their videos and their
    /// comments on anyone's videos change for every reader). Bans are rare, and the
    /// caches fill again within a TTL.
    pub fn forget_all(&self) {
        if let Some(caches) = &self.caches {
            caches.videos.invalidate_all();
            caches.comments.invalidate_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::sync::Arc;

    use reel_core::clock::ManualClock;

    #[tokio::test]
    async fn comment_pages_expire_on_the_clock_and_on_writes() {
        let clock = Arc::new(ManualClock::new(1_000_000));
        let cache = RecordCache::new(Duration::from_secs(1), clock.clone());
        let (a, b) = (VideoId::random(), VideoId::random());
        let body = Bytes::from_static(b"{}");
        cache
            .put_first_comments(a, 20, body.clone(), 1_000_000)
            .await;
        cache
            .put_first_comments(b, 20, body.clone(), 1_000_000)
            .await;
        assert_eq!(cache.first_comments(a, 20).await, Some(body.clone()));
        assert_eq!(cache.first_comments(a, 10).await, None);
        cache.forget_comments(a);
        assert_eq!(cache.first_comments(a, 20).await, None);
        assert_eq!(cache.first_comments(b, 20).await, Some(body.clone()));
        clock.advance(1_000);
        assert_eq!(cache.first_comments(b, 20).await, None, "past the TTL");

        let off = RecordCache::new(Duration::ZERO, clock);
        off.put_first_comments(a, 20, body, 2_000_000).await;
        assert_eq!(off.first_comments(a, 20).await, None);
    }
}
