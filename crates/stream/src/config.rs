//! The stream server's settings, as a plain struct filled in by the binary.

use std::path::PathBuf;
use std::time::Duration;

use reel_core::clock::{self, SharedClock};
use reel_core::signing::SigningKey;
use reel_core::storage::StorageOptions;
use reel_core::storage::video_state;

use crate::notifier::Backoff;

/// The default upload size limit: 10 GiB.
pub const DEFAULT_MAX_UPLOAD_BYTES: u64 = 10 * 1024 * 1024 * 1024;
/// How long an untouched resumable upload is kept by default: 24 h, four times the
/// API's default upload token TTL.
pub const DEFAULT_TUS_EXPIRE_AFTER: Duration = Duration::from_secs(24 * 3600);
/// The default number of concurrent playback and upload connections.
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;

/// Everything the stream server needs to run.
#[derive(Clone)]
pub struct Config {
    /// Which store holds the videos (local disk under the data dir by default, or S3).
    pub storage: StorageOptions,
    /// The largest upload accepted, in bytes.
    pub max_upload_bytes: u64,
    /// How many playbacks and uploads may stream at once before new ones get a 429.
    pub max_connections: usize,
    /// The `Retry-After` seconds sent with a 429.
    pub retry_after_secs: u32,
    /// The key that verifies upload tokens and signs calls to the scheduler.
    pub signing_key: SigningKey,
    /// The scheduler's base URL (`http://host:9001`); `None` only logs finished uploads.
    pub scheduler_url: Option<String>,
    /// How the scheduler notice is retried.
    pub notify_backoff: Backoff,
    /// How long a video's state marker (see `reel_core::storage::video_state`) may be
    /// acted on after it was read; at most 2 s, which bounds how long a deleted video
    /// keeps taking and serving bytes once the scheduler marked it.
    pub video_state_ttl: Duration,
    /// How long a resumable upload may stay untouched before its staged bytes are
    /// removed; at least the API's upload token TTL, so no upload that may still
    /// resume is lost.
    pub tus_expire_after: Duration,
    /// How often unfinished resumable uploads are looked for.
    pub tus_sweep_every: Duration,
    /// The time source for token expiry and the age of staged uploads.
    pub clock: SharedClock,
}

impl Config {
    /// Defaults for everything but where the data lives and the signing key.
    pub fn new(data_dir: impl Into<PathBuf>, signing_key: SigningKey) -> Self {
        Self {
            storage: StorageOptions {
                data_dir: data_dir.into(),
                ..StorageOptions::default()
            },
            max_upload_bytes: DEFAULT_MAX_UPLOAD_BYTES,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            retry_after_secs: 1,
            signing_key,
            scheduler_url: None,
            notify_backoff: Backoff {
                first: Duration::from_millis(500),
                max: Duration::from_secs(60),
            },
            video_state_ttl: video_state::MAX_CACHE_TTL,
            tus_expire_after: DEFAULT_TUS_EXPIRE_AFTER,
            tus_sweep_every: Duration::from_secs(3600),
            clock: clock::system(),
        }
    }
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("storage", &self.storage)
            .field("max_upload_bytes", &self.max_upload_bytes)
            .field("max_connections", &self.max_connections)
            .field("retry_after_secs", &self.retry_after_secs)
            .field("scheduler_url", &self.scheduler_url)
            .field("notify_backoff", &self.notify_backoff)
            .field("video_state_ttl", &self.video_state_ttl)
            .field("tus_expire_after", &self.tus_expire_after)
            .field("tus_sweep_every", &self.tus_sweep_every)
            .finish_non_exhaustive()
    }
}
