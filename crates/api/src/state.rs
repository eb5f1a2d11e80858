use std::sync::Arc;

use anyhow::Context;
use reel_core::client_addr::TrustedProxies;
use reel_core::clock::{self, SharedClock};
use reel_core::db::Db;
use reel_core::session::{Lifetimes, SessionStore};
use reel_core::signing::SigningKey;
use reel_core::site::Site;

use crate::config::Config;
use crate::limits::AuthLimits;
use crate::listing_cache::ListingCache;
use crate::password::Hasher;
use crate::record_cache::RecordCache;

/// Everything a handler needs, cheap to clone.
#[derive(Clone)]
pub struct ApiState {
    inner: Arc<Inner>,
}

struct Inner {
    db: Db,
    /// Sessions: cache in front of the database.
    sessions: SessionStore,
    /// The time source for sessions and tokens.
    clock: SharedClock,
    config: Config,
    /// Signs upload tokens for the stream server.
    signing_key: SigningKey,
    /// Throttles log-ins and registrations.
    limits: AuthLimits,
    /// argon2id on threads of its own.
    hasher: Hasher,
    /// Public listings as ready-made JSON.
    listings: ListingCache,
    /// Video records and first comment pages.
    records: RecordCache,
}

impl ApiState {
    /// Opens the site's database (running migrations), connects to the session cache
    /// and warms it.
    pub async fn build(config: Config, site: &Site) -> anyhow::Result<Self> {
        let db = site.db().await?;
        let clock = site.clock();
        let sessions = SessionStore::new(
            db.clone(),
            clock.clone(),
            Lifetimes {
                idle: config.session_ttl,
                max: config.session_max_lifetime,
            },
            config.redis_url.as_deref(),
        )
        .await
        .context("connecting to the session cache")?;
        let warmed = sessions
            .warm_up()
            .await
            .context("warming the session cache")?;
        tracing::info!(sessions = warmed, "session cache warmed");
        Ok(Self {
            inner: Arc::new(Inner {
                limits: AuthLimits::new(&config, clock.clone()),
                hasher: Hasher::new(
                    config.hash_threads.unwrap_or_else(|| {
                        std::thread::available_parallelism().map_or(2, |n| n.get())
                    }),
                    config.hash_queue,
                ),
                listings: ListingCache::new(config.listing_cache_ttl, clock.clone()),
                records: RecordCache::new(config.listing_cache_ttl, clock.clone()),
                signing_key: site.signing_key().await?,
                db,
                sessions,
                clock,
                config,
            }),
        })
    }

    /// Starts the periodic upkeep (session sweep, limiter trimming) until `shutdown`.
    pub fn spawn_upkeep(
        &self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> tokio::task::JoinHandle<()> {
        let state = self.clone();
        tokio::spawn(async move {
            let every = state.config().session_sweep_every;
            clock::every(every, shutdown, || async {
                match state.sessions().sweep().await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(purged = n, "expired sessions purged"),
                    Err(e) => tracing::warn!(error = %e, "session sweep failed"),
                }
                state.limits().forget_idle();
            })
            .await;
        })
    }

    pub fn db(&self) -> &Db {
        &self.inner.db
    }

    pub fn sessions(&self) -> &SessionStore {
        &self.inner.sessions
    }

    /// The current time in Unix milliseconds.
    pub fn now_ms(&self) -> i64 {
        self.inner.clock.now_ms()
    }

    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    pub(crate) fn signing_key(&self) -> &SigningKey {
        &self.inner.signing_key
    }

    pub(crate) fn limits(&self) -> &AuthLimits {
        &self.inner.limits
    }

    pub(crate) fn hasher(&self) -> &Hasher {
        &self.inner.hasher
    }

    pub(crate) fn listings(&self) -> &ListingCache {
        &self.inner.listings
    }

    pub(crate) fn records(&self) -> &RecordCache {
        &self.inner.records
    }
}

impl axum::extract::FromRef<ApiState> for TrustedProxies {
    fn from_ref(state: &ApiState) -> Self {
        state.config().trusted_proxies.clone()
    }
}
