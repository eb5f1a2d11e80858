//! The first design's "important point" (docs/architecture.md): sessions live in a
//! cache in front of the database, written through on create, renew and delete; a
//! lookup tries the cache, then the database; the cache is warmed from the database at
//! start; expired sessions are refused and purged by a periodic sweep.
//!
//! One node uses an in-process cache (moka). Several nodes share Redis, so a log-in or
//! log-out made on one is seen by all at once; they then keep no local copy at all.
//!
//! Both hold a session under the SHA-256 of its id ([`SessionKey`]), so a read of the
//! database or of Redis gives no id that opens a session. A session lives `ttl` past
//! its last use and never more than `max_lifetime` past its start.

use std::time::Duration;

use redis::AsyncCommands;

use crate::clock::SharedClock;
use crate::db::{Db, DbError, SessionRecord};
use crate::ids::{SessionId, SessionKey, UserId};

/// Every Redis key of a session starts with this.
const REDIS_PREFIX: &str = "reel:session:";

/// At most this many sessions are loaded into the cache at start.
const WARM_UP_LIMIT: u32 = 100_000;

/// A session failure.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbError),
    /// The shared cache failed where the database alone cannot stand in for it.
    #[error("session cache: {0}")]
    Cache(#[from] redis::RedisError),
}

/// Where sessions are cached.
#[derive(Clone)]
enum SessionCache {
    /// In this process, for a single node.
    Local(moka::future::Cache<SessionKey, SessionRecord>),
    /// In Redis, shared by every node.
    Redis(redis::aio::ConnectionManager),
}

/// Sessions: create, look up, renew, remove, sweep.
#[derive(Clone)]
pub struct SessionStore {
    /// The source of truth.
    db: Db,
    /// The fast path in front of it.
    cache: SessionCache,
    /// The time used for expiry decisions.
    clock: SharedClock,
    /// How long a session lives without use, in milliseconds.
    ttl_ms: i64,
    /// How long a session lives at most, however much it is used, in milliseconds.
    max_lifetime_ms: i64,
}

/// How long sessions live.
#[derive(Debug, Clone, Copy)]
pub struct Lifetimes {
    /// Without use.
    pub idle: Duration,
    /// At most, from log-in.
    pub max: Duration,
}

impl SessionStore {
    /// A store with an in-process cache, or with Redis at `redis_url`.
    pub async fn new(
        db: Db,
        clock: SharedClock,
        lifetimes: Lifetimes,
        redis_url: Option<&str>,
    ) -> Result<Self, SessionError> {
        let ttl = lifetimes.idle;
        let ttl_ms = crate::clock::millis(ttl).max(1);
        let max_lifetime_ms = crate::clock::millis(lifetimes.max).max(1);
        let cache = match redis_url {
            Some(url) => {
                let client = redis::Client::open(url)?;
                SessionCache::Redis(redis::aio::ConnectionManager::new(client).await?)
            }
            None => SessionCache::Local(
                moka::future::Cache::builder()
                    .max_capacity(1_000_000)
                    .time_to_idle(ttl)
                    .support_invalidation_closures()
                    .build(),
            ),
        };
        Ok(Self {
            db,
            cache,
            clock,
            ttl_ms,
            max_lifetime_ms,
        })
    }

    /// How long a session lives without use.
    pub fn ttl(&self) -> Duration {
        Duration::from_millis(self.ttl_ms as u64)
    }

    /// The expiry of a session started at `created_ms`, used at `now_ms`.
    fn expiry(&self, created_ms: i64, now_ms: i64) -> i64 {
        (now_ms.saturating_add(self.ttl_ms)).min(created_ms.saturating_add(self.max_lifetime_ms))
    }

    /// Starts a session for a user: written to the database, then to the cache. The id
    /// goes to the client and is kept nowhere else.
    pub async fn create(
        &self,
        user_id: UserId,
        user_name: &str,
    ) -> Result<(SessionId, SessionRecord), SessionError> {
        let id = SessionId::random();
        let now = self.clock.now_ms();
        let session = SessionRecord {
            key: id.key(),
            user_id,
            user_name: user_name.to_owned(),
            expires_at_ms: self.expiry(now, now),
            created_ms: now,
        };
        self.db.insert_session(&session).await?;
        self.cache_put(&session).await;
        Ok((id, session))
    }

    /// The live session with this id, if any. A session past half its idle time is
    /// renewed (up to its absolute lifetime), so an active user stays logged in while
    /// the database is written at most twice per TTL, not on every request.
    pub async fn lookup(
        &self,
        presented: &SessionId,
    ) -> Result<Option<SessionRecord>, SessionError> {
        let now = self.clock.now_ms();
        let key = presented.key();
        let id = &key;
        let (mut session, cached) = match self.cache_get(id).await {
            Some(s) => (s, true),
            None => match self.db.session(id).await {
                Ok(s) => (s, false),
                Err(DbError::NotFound) => return Ok(None),
                Err(e) => return Err(e.into()),
            },
        };
        if session.expires_at_ms <= now {
            self.cache_remove(id).await?;
            self.db.delete_session(id).await?;
            return Ok(None);
        }
        let renewed = self.expiry(session.created_ms, now);
        let renew =
            session.expires_at_ms - now < self.ttl_ms / 2 && renewed > session.expires_at_ms;
        if renew {
            session.expires_at_ms = renewed;
            self.db.renew_session(id, session.expires_at_ms).await?;
        }
        if renew || !cached {
            self.cache_put(&session).await;
            // A log-out may have ended the session since it was read: written back now,
            // it would be accepted by every node until it expired. A log-out removes the
            // row before the cache entry, so a write that came after both finds the row
            // gone here, and is undone.
            match self.db.session(id).await {
                Ok(_) => {}
                Err(DbError::NotFound) => {
                    self.cache_remove(id).await?;
                    return Ok(None);
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(Some(session))
    }

    /// Ends a session everywhere: the row, then the cache entry. A lookup that read the
    /// row before it went and writes the session back to the cache after the entry went
    /// undoes its write (see [`Self::lookup`]), so once this returns, no node accepts
    /// the session any more.
    pub async fn remove(&self, id: &SessionKey) -> Result<(), SessionError> {
        self.db.delete_session(id).await?;
        self.cache_remove(id).await?;
        Ok(())
    }

    /// Ends every session of `user` everywhere (a ban): the rows go first, so that no
    /// lookup can bring one back into the cache, then the cache entries.
    pub async fn end_all_of(&self, user: UserId) -> Result<u64, SessionError> {
        let ids = self.db.session_keys_of(user).await?;
        let ended = self.db.delete_sessions_of(user).await?;
        match &self.cache {
            SessionCache::Local(cache) => {
                // Only fails when invalidation closures are disabled, which `new` enables.
                let _ = cache.invalidate_entries_if(move |_, s| s.user_id == user);
            }
            SessionCache::Redis(conn) => {
                let keys: Vec<String> = ids.iter().map(|id| self.redis_key(id)).collect();
                if !keys.is_empty() {
                    conn.clone().del::<_, ()>(keys).await?;
                }
            }
        }
        Ok(ended)
    }

    /// Loads the live sessions from the database into the cache; returns how many.
    pub async fn warm_up(&self) -> Result<usize, SessionError> {
        let sessions = self
            .db
            .live_sessions(self.clock.now_ms(), WARM_UP_LIMIT)
            .await?;
        for s in &sessions {
            self.cache_put(s).await;
        }
        Ok(sessions.len())
    }

    /// Purges expired sessions from the database and the local cache; returns how many
    /// rows went. Redis expires its keys itself.
    pub async fn sweep(&self) -> Result<u64, SessionError> {
        let now = self.clock.now_ms();
        if let SessionCache::Local(cache) = &self.cache {
            // Only fails when invalidation closures are disabled, which `new` enables.
            let _ = cache.invalidate_entries_if(move |_, s| s.expires_at_ms <= now);
        }
        Ok(self.db.delete_expired_sessions(now).await?)
    }

    fn redis_key(&self, id: &SessionKey) -> String {
        format!("{REDIS_PREFIX}{}", id.as_str())
    }

    async fn cache_get(&self, id: &SessionKey) -> Option<SessionRecord> {
        match &self.cache {
            SessionCache::Local(cache) => cache.get(id).await,
            SessionCache::Redis(conn) => {
                let mut conn = conn.clone();
                match conn.get::<_, Option<String>>(self.redis_key(id)).await {
                    Ok(Some(json)) => serde_json::from_str(&json).ok(),
                    Ok(None) => None,
                    Err(e) => {
                        tracing::warn!(error = %e, "session cache read failed; using the database");
                        None
                    }
                }
            }
        }
    }

    /// A failed cache write is logged, not fatal: the database still holds the session
    /// and a later lookup falls back to it.
    async fn cache_put(&self, s: &SessionRecord) {
        match &self.cache {
            SessionCache::Local(cache) => cache.insert(s.key.clone(), s.clone()).await,
            SessionCache::Redis(conn) => {
                let remaining = s.expires_at_ms - self.clock.now_ms();
                if remaining <= 0 {
                    return;
                }
                let json = serde_json::to_string(s).expect("a session serializes");
                let mut conn = conn.clone();
                if let Err(e) = conn
                    .pset_ex::<_, _, ()>(self.redis_key(&s.key), json, remaining as u64)
                    .await
                {
                    tracing::warn!(error = %e, "session cache write failed");
                }
            }
        }
    }

    /// A failed removal from Redis is an error: another node would still accept the
    /// session.
    async fn cache_remove(&self, id: &SessionKey) -> Result<(), SessionError> {
        match &self.cache {
            SessionCache::Local(cache) => cache.invalidate(id).await,
            SessionCache::Redis(conn) => {
                let mut conn = conn.clone();
                conn.del::<_, ()>(self.redis_key(id)).await?;
            }
        }
        Ok(())
    }
}
