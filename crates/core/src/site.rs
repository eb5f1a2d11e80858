//! [`Site`]: what the services of one site share, opened once per process and only
//! when a service asks for it, so that the stream server (which may touch storage only)
//! never opens the database, and `reel serve` opens it once for all its services.

use anyhow::Context;
use tokio::sync::OnceCell;

use crate::clock::{self, SharedClock};
use crate::config::SiteConfig;
use crate::db::{Db, DbOptions};
use crate::signing::SigningKey;
use crate::storage::{Storage, StorageOptions};

/// The shared resources of a site: database, storage, signing key and clock.
pub struct Site {
    config: SiteConfig,
    storage_options: StorageOptions,
    clock: SharedClock,
    db: OnceCell<Db>,
    storage: OnceCell<Storage>,
    signing_key: OnceCell<SigningKey>,
}

impl Site {
    /// Nothing is opened yet: each resource is, on first use.
    pub fn new(config: SiteConfig) -> Self {
        Self {
            storage_options: config.storage(),
            config,
            clock: clock::system(),
            db: OnceCell::new(),
            storage: OnceCell::new(),
            signing_key: OnceCell::new(),
        }
    }

    /// Another time source, for tests of expiry.
    pub fn with_clock(mut self, clock: SharedClock) -> Self {
        self.clock = clock;
        self
    }

    /// Storage settings beyond the options (S3 credentials given in code, for tests).
    pub fn with_storage(mut self, options: StorageOptions) -> Self {
        self.storage_options = options;
        self
    }

    pub fn config(&self) -> &SiteConfig {
        &self.config
    }

    pub fn clock(&self) -> SharedClock {
        self.clock.clone()
    }

    /// The database, connected (and migrated) on first use.
    pub async fn db(&self) -> anyhow::Result<Db> {
        let db = self
            .db
            .get_or_try_init(|| async {
                let options = DbOptions {
                    url: self.config.db.database_url()?,
                    max_connections: self.config.db.max_db_connections,
                };
                Db::connect(&options).await.context("opening the database")
            })
            .await?;
        Ok(db.clone())
    }

    pub async fn storage(&self) -> anyhow::Result<Storage> {
        let storage = self
            .storage
            .get_or_try_init(|| async {
                Storage::open(&self.storage_options)
                    .await
                    .context("opening the video storage")
            })
            .await?;
        Ok(storage.clone())
    }

    /// The key given in the options, else the one in the data dir (generated there on
    /// first use).
    pub async fn signing_key(&self) -> anyhow::Result<SigningKey> {
        let key = self
            .signing_key
            .get_or_try_init(|| async {
                match &self.config.signing_key {
                    Some(key) => Ok(key.clone()),
                    None => SigningKey::load_or_generate(&self.config.db.data_dir)
                        .context("the signing key"),
                }
            })
            .await?;
        Ok(key.clone())
    }
}
