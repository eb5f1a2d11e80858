use std::time::Duration;

use axum::body::Bytes;
use moka::future::Cache;
use reel_core::clock::SharedClock;

/// Which public listing a cached body answers.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ListingKey {
    /// A user's ready videos, as everyone but the owner sees them.
    User {
        /// The owner's name.
        name: String,
        /// The page's cursor, as the client sent it.
        cursor: Option<String>,
        /// The page size.
        limit: u32,
    },
    /// The home page's list.
    Home {
        /// The page's cursor, as the client sent it.
        cursor: Option<String>,
        /// The page size.
        limit: u32,
    },
}

/// Public listings, kept as ready-made JSON for a short time. Listings are read far more
/// often than videos change, and every reader but the owner sees the same bytes, so a
/// second of caching takes the database off the hot path. Writes through this node
/// invalidate at once; a status set elsewhere (the scheduler) shows within the TTL.
///
/// Freshness is judged on the API's clock, like every other expiry of the API, so that
/// it can be tested with a clock the test moves; the cache's own time-to-live only
/// frees the memory of entries nobody asks for.
#[derive(Clone)]
pub struct ListingCache {
    /// `None` when caching is turned off (TTL zero).
    cache: Option<Cache<ListingKey, Cached>>,
    /// The time entries are stamped and judged with.
    clock: SharedClock,
    /// How long an entry is served, in milliseconds.
    ttl_ms: i64,
}

/// A ready-made answer and when it was made (Unix milliseconds).
#[derive(Clone)]
struct Cached {
    body: Bytes,
    stored_ms: i64,
}

impl ListingCache {
    /// A cache keeping bodies for `ttl` on `clock`; zero turns it off.
    pub fn new(ttl: Duration, clock: SharedClock) -> Self {
        let cache = (!ttl.is_zero()).then(|| {
            Cache::builder()
                .max_capacity(10_000)
                .time_to_live(ttl)
                .support_invalidation_closures()
                .build()
        });
        Self {
            cache,
            clock,
            ttl_ms: i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX),
        }
    }

    /// The cached body for `key`, if fresh.
    pub async fn get(&self, key: &ListingKey) -> Option<Bytes> {
        let cache = self.cache.as_ref()?;
        let entry = cache.get(key).await?;
        if self.clock.now_ms().saturating_sub(entry.stored_ms) >= self.ttl_ms {
            cache.invalidate(key).await;
            return None;
        }
        Some(entry.body)
    }

    /// Keeps `body` as the answer for `key`.
    pub async fn put(&self, key: ListingKey, body: Bytes) {
        if let Some(cache) = &self.cache {
            let stored_ms = self.clock.now_ms();
            cache.insert(key, Cached { body, stored_ms }).await;
        }
    }

    /// Drops every listing that may show a video of `name`.
    pub fn forget_user(&self, name: &str) {
        if let Some(cache) = &self.cache {
            let name = name.to_owned();
            // Only fails when invalidation closures are off, and `new` turns them on.
            let _ = cache.invalidate_entries_if(move |key, _| match key {
                ListingKey::User { name: n, .. } => *n == name,
                ListingKey::Home { .. } => true,
            });
        }
    }
}
