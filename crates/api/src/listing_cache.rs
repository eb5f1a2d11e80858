use std::time::Duration;

use axum::body::Bytes;
use moka::future::Cache;

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
#[derive(Clone)]
pub struct ListingCache {
    /// `None` when caching is turned off (TTL zero).
    cache: Option<Cache<ListingKey, Bytes>>,
}

impl ListingCache {
    /// A cache keeping bodies for `ttl`; zero turns it off.
    pub fn new(ttl: Duration) -> Self {
        let cache = (!ttl.is_zero()).then(|| {
            Cache::builder()
                .max_capacity(10_000)
                .time_to_live(ttl)
                .support_invalidation_closures()
                .build()
        });
        Self { cache }
    }

    /// The cached body for `key`, if fresh.
    pub async fn get(&self, key: &ListingKey) -> Option<Bytes> {
        self.cache.as_ref()?.get(key).await
    }

    /// Keeps `body` as the answer for `key`.
    pub async fn put(&self, key: ListingKey, body: Bytes) {
        if let Some(cache) = &self.cache {
            cache.insert(key, body).await;
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
