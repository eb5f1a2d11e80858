//! The scheduler's options; the `reel` command flattens them into its own.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use crate::ffmpeg::FfmpegSettings;

/// The scheduler's own options (the site's database, key and storage are in
/// [`reel_core::config::SiteConfig`]).
#[derive(Debug, Clone, Args)]
// clap names a struct's argument group after it, and every service calls its
// options `Config`: the groups would clash where `reel serve` flattens several.
#[group(skip)]
pub struct Config {
    /// Tasks run at once: the number of executors.
    #[arg(
        long = "task-concurrency",
        env = "REEL_TASK_CONCURRENCY",
        default_value_t = 4
    )]
    pub concurrency: usize,
    /// ffmpeg jobs at once [default: one per core]
    #[arg(long, env = "REEL_FFMPEG_JOBS")]
    pub ffmpeg_jobs: Option<usize>,
    /// Threads each ffmpeg run may use (decoding, filtering, each encoder) [default:
    /// one per core, at most 16]
    #[arg(long, env = "REEL_FFMPEG_THREADS")]
    pub ffmpeg_threads: Option<usize>,
    /// The longest any ffmpeg run may take, whatever the upload declares of itself.
    #[arg(long, env = "REEL_FFMPEG_MAX_RUNTIME", default_value = "6h", value_parser = humantime::parse_duration)]
    pub ffmpeg_max_runtime: Duration,
    /// An ffmpeg run's time limit per second of the probed duration, on top of 2
    /// minutes, up to --ffmpeg-max-runtime.
    #[arg(long, env = "REEL_FFMPEG_RUNTIME_PER_MEDIA_SECOND", default_value = "10s", value_parser = humantime::parse_duration)]
    pub ffmpeg_runtime_per_media_second: Duration,
    /// Runs of a task before it stays failed.
    #[arg(
        long = "task-max-attempts",
        env = "REEL_TASK_MAX_ATTEMPTS",
        default_value_t = 5
    )]
    pub max_attempts: u32,
    /// Wait before a failed task's first retry; it doubles after each failure.
    #[arg(long = "task-backoff", env = "REEL_TASK_BACKOFF", default_value = "5s", value_parser = humantime::parse_duration)]
    pub retry_backoff: Duration,
    /// Longest wait between retries.
    #[arg(long = "task-backoff-max", env = "REEL_TASK_BACKOFF_MAX", default_value = "10m", value_parser = humantime::parse_duration)]
    pub retry_backoff_max: Duration,
    /// How long a claimed task is leased without renewal: a task whose scheduler died
    /// is taken over by another after this.
    #[arg(long = "task-lease", env = "REEL_TASK_LEASE", default_value = "60s", value_parser = humantime::parse_duration)]
    pub lease: Duration,
    /// Most tasks claimed at once.
    #[arg(
        long = "task-batch-size",
        env = "REEL_TASK_BATCH_SIZE",
        default_value_t = 16
    )]
    pub batch_size: u32,
    /// How often due tasks are looked for when nothing is queued in this process.
    #[arg(long = "task-tick", env = "REEL_TASK_TICK", default_value = "1s", value_parser = humantime::parse_duration)]
    pub tick: Duration,
    /// How often uploads that were never queued are looked for.
    #[arg(long, env = "REEL_RECONCILE_EVERY", default_value = "60s", value_parser = humantime::parse_duration)]
    pub reconcile_every: Duration,
    /// How far back reconciliation looks for videos awaiting their upload; longer than
    /// an upload URL stays valid.
    #[arg(long, env = "REEL_RECONCILE_WINDOW", default_value = "24h", value_parser = humantime::parse_duration)]
    pub reconcile_window: Duration,
    /// How long finished tasks stay listed before they are pruned.
    #[arg(long, env = "REEL_KEEP_DONE_TASKS_FOR", default_value = "7days", value_parser = humantime::parse_duration)]
    pub keep_done_for: Duration,
    /// How often stored files are compared with the database, to remove those of
    /// videos that do not exist and tombstones past --keep-tombstones-for.
    #[arg(long, env = "REEL_SWEEP_EVERY", default_value = "1h", value_parser = humantime::parse_duration)]
    pub sweep_every: Duration,
    /// How long files of a video that does not exist are left alone after their last
    /// change, so that nothing in flight is hit.
    #[arg(long, env = "REEL_ORPHAN_GRACE", default_value = "1h", value_parser = humantime::parse_duration)]
    pub orphan_grace: Duration,
    /// How long a deleted video's tombstone is kept, refusing its uploads; keep it at
    /// least the upload token TTL, so that no token of the video outlives it.
    #[arg(long, env = "REEL_KEEP_TOMBSTONES_FOR", default_value = "24h", value_parser = humantime::parse_duration)]
    pub keep_tombstones_for: Duration,
    /// How long tasks running at shutdown may take to finish before they are stopped
    /// and handed back to the queue (under `reel serve`, also how long requests in
    /// flight may take before they are cut).
    #[arg(long, env = "REEL_SHUTDOWN_GRACE", default_value = "10s", value_parser = humantime::parse_duration)]
    pub shutdown_grace: Duration,
    /// The ffmpeg program; without a working one, uploads are served as they came.
    #[arg(long, env = "REEL_FFMPEG", default_value = "ffmpeg")]
    pub ffmpeg: PathBuf,
    #[arg(long, env = "REEL_FFPROBE", default_value = "ffprobe")]
    pub ffprobe: PathBuf,
    /// Where processing keeps its working files (a download of the upload and what is
    /// made of it) when storage is S3; on local disk they live beside the store
    /// [default: the system's temp dir]
    #[arg(long, env = "REEL_WORK_DIR")]
    pub work_dir: Option<PathBuf>,
    /// This scheduler's name in its task leases, for operators; unique among the
    /// schedulers sharing a database [default: host:pid]
    #[arg(long, env = "REEL_INSTANCE")]
    pub instance: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        reel_core::config::defaults()
    }
}

impl Config {
    pub(crate) fn ffmpeg_jobs(&self) -> usize {
        self.ffmpeg_jobs.unwrap_or_else(cores)
    }

    pub(crate) fn ffmpeg_threads(&self) -> usize {
        self.ffmpeg_threads.unwrap_or_else(|| cores().min(16))
    }

    /// How ffmpeg and ffprobe are run, from these options.
    pub fn ffmpeg_settings(&self) -> FfmpegSettings {
        FfmpegSettings {
            ffmpeg: self.ffmpeg.clone(),
            ffprobe: self.ffprobe.clone(),
            jobs: self.ffmpeg_jobs(),
            threads: self.ffmpeg_threads(),
            max_runtime: self.ffmpeg_max_runtime,
            runtime_per_media_second: self.ffmpeg_runtime_per_media_second,
        }
    }

    pub(crate) fn work_dir(&self) -> PathBuf {
        self.work_dir.clone().unwrap_or_else(std::env::temp_dir)
    }

    pub(crate) fn instance(&self) -> String {
        self.instance.clone().unwrap_or_else(default_instance)
    }
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_come_from_the_options() {
        let config = Config::default();
        assert_eq!(config.keep_done_for, Duration::from_secs(7 * 24 * 3600));
        assert_eq!(config.retry_backoff_max, Duration::from_secs(600));
        assert!(config.ffmpeg_jobs() >= 1);
        assert!((1..=16).contains(&config.ffmpeg_threads()));
        assert_eq!(config.ffmpeg_max_runtime, Duration::from_secs(6 * 3600));
        assert_eq!(config.keep_tombstones_for, Duration::from_secs(24 * 3600));
    }
}
