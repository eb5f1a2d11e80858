//! The scheduler's settings, as a plain struct filled in by the binary.

use std::path::PathBuf;
use std::time::Duration;

use reel_core::clock::{self, SharedClock};
use reel_core::signing::SigningKey;
use reel_core::storage::StorageOptions;

/// Everything the scheduler needs to run.
#[derive(Clone)]
pub struct Config {
    /// Where tasks and videos live (`sqlite:`, `mysql:`, `mariadb:` or `postgres:` URL).
    pub database_url: String,
    /// Database connections at most.
    pub max_db_connections: u32,
    /// Which store holds the videos (local disk under the data dir by default, or S3).
    pub storage: StorageOptions,
    /// Verifies the signatures of the other services' calls to the intake.
    pub signing_key: SigningKey,
    /// Tasks run at once: the number of executors.
    pub concurrency: usize,
    /// ffmpeg jobs at once, one per core by default.
    pub ffmpeg_jobs: usize,
    /// Runs of a task before it stays `failed`.
    pub max_attempts: u32,
    /// The wait before the first retry; it doubles at each further failure.
    pub retry_backoff: Duration,
    /// The longest wait between retries.
    pub retry_backoff_max: Duration,
    /// How long a claim lasts without renewal; a task whose scheduler died is taken
    /// over this long after its last renewal.
    pub lease: Duration,
    /// The most tasks claimed in one round.
    pub batch_size: u32,
    /// How often the dispatcher looks for due tasks when nothing wakes it sooner.
    pub tick: Duration,
    /// How often reconciliation looks for uploads nobody queued.
    pub reconcile_every: Duration,
    /// How far back reconciliation looks for videos awaiting their upload; longer
    /// than an upload URL stays valid.
    pub reconcile_window: Duration,
    /// How long finished tasks stay listed before they are pruned.
    pub keep_done_for: Duration,
    /// How long tasks running at shutdown may take to finish before they are stopped
    /// and handed back to the queue.
    pub shutdown_grace: Duration,
    /// The ffmpeg program (a name looked up in `PATH`, or a path).
    pub ffmpeg: PathBuf,
    /// The ffprobe program.
    pub ffprobe: PathBuf,
    /// Where processing keeps its working files (a download of the upload and what is
    /// made of it) when storage is S3; on local disk they live beside the store.
    pub work_dir: PathBuf,
    /// This scheduler's name in leases, for operators (`host:pid` by default).
    pub instance: String,
    /// The time source of schedules and leases.
    pub clock: SharedClock,
}

impl Config {
    /// Defaults for everything but where the data lives and the signing key.
    pub fn new(
        database_url: impl Into<String>,
        data_dir: impl Into<PathBuf>,
        signing_key: SigningKey,
    ) -> Self {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        Self {
            database_url: database_url.into(),
            max_db_connections: 16,
            storage: StorageOptions {
                data_dir: data_dir.into(),
                ..StorageOptions::default()
            },
            signing_key,
            concurrency: 4,
            ffmpeg_jobs: cores,
            max_attempts: 5,
            retry_backoff: Duration::from_secs(5),
            retry_backoff_max: Duration::from_secs(600),
            lease: Duration::from_secs(60),
            batch_size: 16,
            tick: Duration::from_secs(1),
            reconcile_every: Duration::from_secs(60),
            reconcile_window: Duration::from_secs(24 * 3600),
            keep_done_for: Duration::from_secs(7 * 24 * 3600),
            shutdown_grace: Duration::from_secs(10),
            ffmpeg: PathBuf::from("ffmpeg"),
            ffprobe: PathBuf::from("ffprobe"),
            work_dir: std::env::temp_dir(),
            instance: default_instance(),
            clock: clock::system(),
        }
    }
}

/// `host:pid`: unique among the schedulers sharing a database, and telling operators
/// where to look.
fn default_instance() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_owned());
    format!("{host}:{}", std::process::id())
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The database URL can hold a password and the key is secret: neither is shown.
        f.debug_struct("Config")
            .field("storage", &self.storage)
            .field("concurrency", &self.concurrency)
            .field("ffmpeg_jobs", &self.ffmpeg_jobs)
            .field("max_attempts", &self.max_attempts)
            .field("retry_backoff", &self.retry_backoff)
            .field("retry_backoff_max", &self.retry_backoff_max)
            .field("lease", &self.lease)
            .field("batch_size", &self.batch_size)
            .field("tick", &self.tick)
            .field("reconcile_every", &self.reconcile_every)
            .field("reconcile_window", &self.reconcile_window)
            .field("keep_done_for", &self.keep_done_for)
            .field("shutdown_grace", &self.shutdown_grace)
            .field("ffmpeg", &self.ffmpeg)
            .field("ffprobe", &self.ffprobe)
            .field("work_dir", &self.work_dir)
            .field("instance", &self.instance)
            .finish_non_exhaustive()
    }
}
