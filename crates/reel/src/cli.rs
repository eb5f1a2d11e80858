use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// reel: a self-hosted video-on-demand server.
///
/// `reel serve` runs the whole site in one process on SQLite and ./data; the other
/// commands run one service each, to scale out. Every flag can also be set with the
/// `REEL_*` variable shown next to it.
#[derive(Debug, Parser)]
#[command(name = "reel", version, propagate_version = true)]
pub struct Cli {
    /// What to run.
    #[command(subcommand)]
    pub command: Command,
    /// Log line format.
    #[arg(long, env = "REEL_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,
}

/// How log lines look.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogFormat {
    /// For people.
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the whole site in one process (default: SQLite and files under ./data, on
    /// http://127.0.0.1:8080, the API under /api).
    Serve(ServeArgs),
    /// Run the API service alone (default :8000), at the root paths.
    Api(ApiArgs),
    /// Run the stream server alone (default :9000): playback, uploads, tus.
    Stream(StreamArgs),
    /// Run the web pages alone (default :8080), forwarding /api to the API and /videos,
    /// /upload to the stream server.
    Web(WebArgs),
    /// Run the scheduler alone (default :9001): the task intake and the runner that
    /// deletes files and processes uploads with ffmpeg.
    Scheduler(SchedulerArgs),
    /// Bring the database schema up to date, then exit.
    Migrate(DbArgs),
}

/// Where data lives.
#[derive(Debug, Clone, Args)]
pub struct DbArgs {
    /// Directory for the SQLite database, stored videos and the generated signing key.
    #[arg(long, env = "REEL_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
    /// Database URL: sqlite://…, mysql://… (or mariadb://…), postgres://…
    /// [default: SQLite at <data-dir>/reel.db]
    #[arg(long, env = "REEL_DATABASE_URL")]
    pub database_url: Option<String>,
}

impl DbArgs {
    /// The database URL, SQLite in the data dir unless given.
    pub fn database_url(&self) -> anyhow::Result<String> {
        if let Some(url) = &self.database_url {
            return Ok(url.clone());
        }
        std::fs::create_dir_all(&self.data_dir).map_err(|e| {
            anyhow::anyhow!("cannot create data dir {}: {e}", self.data_dir.display())
        })?;
        Ok(reel_core::db::sqlite_url(&self.data_dir))
    }
}

/// Options shared by the services.
#[derive(Debug, Clone, Args)]
pub struct CommonArgs {
    /// Where data lives.
    #[command(flatten)]
    pub db: DbArgs,
    /// Key that signs upload tokens and calls between services (base64url, ≥ 32 bytes);
    /// every service of a site needs the same one [default: generated into
    /// <data-dir>/signing.key]
    #[arg(long, env = "REEL_SIGNING_KEY", hide_env_values = true)]
    pub signing_key: Option<String>,
    /// Serve Prometheus metrics at http://ADDR/metrics.
    #[arg(long, env = "REEL_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,
    /// Where video files live: file:///abs/path or s3://bucket[/prefix] (S3 credentials
    /// from AWS_* variables) [default: <data-dir>/storage]
    #[arg(long, env = "REEL_STORAGE_URL")]
    pub storage_url: Option<String>,
    /// S3 endpoint for stores other than AWS (MinIO, Ceph, …), e.g. http://127.0.0.1:9002
    #[arg(long, env = "REEL_S3_ENDPOINT")]
    pub s3_endpoint: Option<String>,
}

impl CommonArgs {
    /// Where video bytes live.
    pub fn storage(&self) -> reel_core::storage::StorageOptions {
        reel_core::storage::StorageOptions {
            url: self.storage_url.clone(),
            data_dir: self.db.data_dir.clone(),
            s3_endpoint: self.s3_endpoint.clone(),
            ..Default::default()
        }
    }
}

/// Options of the stream server.
#[derive(Debug, Clone, Args)]
pub struct StreamOptions {
    /// The largest upload accepted (e.g. 10GiB, 500MB).
    #[arg(long, env = "REEL_MAX_UPLOAD_BYTES", default_value = "10GiB")]
    pub max_upload_bytes: bytesize::ByteSize,
    /// Playbacks and uploads streaming at once; more get an immediate 429.
    #[arg(long, env = "REEL_MAX_CONNECTIONS", default_value_t = 1024)]
    pub max_connections: usize,
    /// Resumable (tus) uploads untouched this long are removed; keep it at least the
    /// upload token TTL [default: 24h]
    #[arg(long, env = "REEL_TUS_EXPIRE_AFTER", value_parser = humantime::parse_duration)]
    pub tus_expire_after: Option<Duration>,
    /// How often unfinished resumable uploads are looked for [default: 1h]
    #[arg(long, env = "REEL_TUS_SWEEP_EVERY", value_parser = humantime::parse_duration)]
    pub tus_sweep_every: Option<Duration>,
}

/// `reel stream`.
#[derive(Debug, Clone, Args)]
pub struct StreamArgs {
    /// Address to listen on.
    #[arg(long, env = "REEL_LISTEN", default_value = "127.0.0.1:9000")]
    pub listen: SocketAddr,
    /// Options shared by the services.
    #[command(flatten)]
    pub common: CommonArgs,
    /// Stream options.
    #[command(flatten)]
    pub stream: StreamOptions,
    /// The scheduler to tell about finished uploads (http://host:9001) [default: none,
    /// uploads are only logged]
    #[arg(long, env = "REEL_SCHEDULER_URL")]
    pub scheduler_url: Option<String>,
}

/// Options of the API service.
#[derive(Debug, Clone, Args)]
pub struct ApiOptions {
    /// Redis for sessions shared by several API nodes (redis://host:6379) [default:
    /// sessions cached in process]
    #[arg(long, env = "REEL_REDIS_URL")]
    pub redis_url: Option<String>,
    /// How long a session lives without use (e.g. 30m, 12h).
    #[arg(long, env = "REEL_SESSION_TTL", default_value = "30m", value_parser = humantime::parse_duration)]
    pub session_ttl: Duration,
    /// Mark the session cookie Secure (when the site is served over HTTPS).
    #[arg(long, env = "REEL_SECURE_COOKIES")]
    pub secure_cookies: bool,
    /// Log-in attempts allowed per minute for one client address and user name.
    #[arg(long, env = "REEL_LOGIN_ATTEMPTS_PER_MINUTE", default_value_t = 10)]
    pub login_attempts_per_minute: u32,
    /// Take the client address from X-Forwarded-For (only behind a proxy you run).
    #[arg(long, env = "REEL_TRUST_FORWARDED_FOR")]
    pub trust_forwarded_for: bool,
    /// Other origins allowed to send cookie-authenticated writes (comma-separated).
    #[arg(long, env = "REEL_ALLOWED_ORIGINS", value_delimiter = ',')]
    pub allowed_origins: Vec<String>,
    /// How long public video listings may be served from memory (0s turns it off).
    #[arg(long, env = "REEL_LISTING_CACHE_TTL", default_value = "1s", value_parser = humantime::parse_duration)]
    pub listing_cache_ttl: Duration,
    /// How long an upload URL stays valid (e.g. 6h).
    #[arg(long, env = "REEL_UPLOAD_TOKEN_TTL", default_value = "6h", value_parser = humantime::parse_duration)]
    pub upload_token_ttl: Duration,
}

/// `reel serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "REEL_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Options shared by the services.
    #[command(flatten)]
    pub common: CommonArgs,
    /// API options.
    #[command(flatten)]
    pub api: ApiOptions,
    /// Stream options.
    #[command(flatten)]
    pub stream: StreamOptions,
    /// Scheduler options.
    #[command(flatten)]
    pub tasks: SchedulerOptions,
}

/// `reel api`.
#[derive(Debug, Clone, Args)]
pub struct ApiArgs {
    /// Address to listen on.
    #[arg(long, env = "REEL_LISTEN", default_value = "127.0.0.1:8000")]
    pub listen: SocketAddr,
    /// Options shared by the services.
    #[command(flatten)]
    pub common: CommonArgs,
    /// API options.
    #[command(flatten)]
    pub api: ApiOptions,
    /// Public URL of the stream server, put in front of upload URLs (e.g.
    /// https://media.example.com) [default: same origin]
    #[arg(long, env = "REEL_STREAM_PUBLIC_URL", default_value = "")]
    pub stream_public_url: String,
}

/// `reel web`.
#[derive(Debug, Clone, Args)]
pub struct WebArgs {
    /// Address to listen on.
    #[arg(long, env = "REEL_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Base URL of the API service (`reel api`), where /api/* is forwarded without its
    /// /api prefix. Run the API with --trust-forwarded-for, and with an empty
    /// --stream-public-url so that uploads come through here.
    #[arg(long, env = "REEL_API_URL", default_value = "http://127.0.0.1:8000")]
    pub api_url: String,
    /// Base URL of the stream server (`reel stream`), where /videos/* and /upload/* are
    /// forwarded.
    #[arg(long, env = "REEL_STREAM_URL", default_value = "http://127.0.0.1:9000")]
    pub stream_url: String,
    /// Serve Prometheus metrics at http://ADDR/metrics.
    #[arg(long, env = "REEL_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,
}

/// `reel scheduler`.
#[derive(Debug, Clone, Args)]
pub struct SchedulerArgs {
    /// Address to listen on.
    #[arg(long, env = "REEL_LISTEN", default_value = "127.0.0.1:9001")]
    pub listen: SocketAddr,
    /// Options shared by the services.
    #[command(flatten)]
    pub common: CommonArgs,
    /// Scheduler options.
    #[command(flatten)]
    pub tasks: SchedulerOptions,
}

/// Options of the scheduler.
#[derive(Debug, Clone, Args)]
pub struct SchedulerOptions {
    /// Tasks run at once.
    #[arg(long, env = "REEL_TASK_CONCURRENCY", default_value_t = 4)]
    pub task_concurrency: usize,
    /// ffmpeg jobs at once [default: one per core]
    #[arg(long, env = "REEL_FFMPEG_JOBS")]
    pub ffmpeg_jobs: Option<usize>,
    /// Runs of a task before it stays failed.
    #[arg(long, env = "REEL_TASK_MAX_ATTEMPTS", default_value_t = 5)]
    pub task_max_attempts: u32,
    /// Wait before a failed task's first retry; it doubles after each failure.
    #[arg(long, env = "REEL_TASK_BACKOFF", default_value = "5s", value_parser = humantime::parse_duration)]
    pub task_backoff: Duration,
    /// Longest wait between retries.
    #[arg(long, env = "REEL_TASK_BACKOFF_MAX", default_value = "10m", value_parser = humantime::parse_duration)]
    pub task_backoff_max: Duration,
    /// How long a claimed task is leased without renewal: a task whose scheduler died
    /// is taken over by another after this.
    #[arg(long, env = "REEL_TASK_LEASE", default_value = "60s", value_parser = humantime::parse_duration)]
    pub task_lease: Duration,
    /// Most tasks claimed at once.
    #[arg(long, env = "REEL_TASK_BATCH_SIZE", default_value_t = 16)]
    pub task_batch_size: u32,
    /// How often due tasks are looked for when nothing is queued in this process.
    #[arg(long, env = "REEL_TASK_TICK", default_value = "1s", value_parser = humantime::parse_duration)]
    pub task_tick: Duration,
    /// How often uploads that were never queued are looked for.
    #[arg(long, env = "REEL_RECONCILE_EVERY", default_value = "60s", value_parser = humantime::parse_duration)]
    pub reconcile_every: Duration,
    /// The ffmpeg program; without a working one, uploads are served as they came.
    #[arg(long, env = "REEL_FFMPEG", default_value = "ffmpeg")]
    pub ffmpeg: PathBuf,
    /// The ffprobe program.
    #[arg(long, env = "REEL_FFPROBE", default_value = "ffprobe")]
    pub ffprobe: PathBuf,
    /// Where processing keeps its working files [default: the system's temp dir]
    #[arg(long, env = "REEL_WORK_DIR")]
    pub work_dir: Option<PathBuf>,
    /// Threads each ffmpeg run may use [default: one per core, at most 16]
    #[arg(long, env = "REEL_FFMPEG_THREADS")]
    pub ffmpeg_threads: Option<usize>,
    /// The longest any ffmpeg run may take, whatever the upload says of itself
    /// [default: 6h]
    #[arg(long, env = "REEL_FFMPEG_MAX_RUNTIME", value_parser = humantime::parse_duration)]
    pub ffmpeg_max_runtime: Option<Duration>,
    /// An ffmpeg run's time limit per second of video, on top of 2 minutes, up to
    /// --ffmpeg-max-runtime [default: 10s]
    #[arg(long, env = "REEL_FFMPEG_RUNTIME_PER_MEDIA_SECOND", value_parser = humantime::parse_duration)]
    pub ffmpeg_runtime_per_media_second: Option<Duration>,
    /// How often stored files are compared with the database, to remove those of
    /// videos that do not exist and expired tombstones [default: 1h]
    #[arg(long, env = "REEL_SWEEP_EVERY", value_parser = humantime::parse_duration)]
    pub sweep_every: Option<Duration>,
    /// How long files of a video that does not exist are left alone after their last
    /// change [default: 1h]
    #[arg(long, env = "REEL_ORPHAN_GRACE", value_parser = humantime::parse_duration)]
    pub orphan_grace: Option<Duration>,
    /// How long a deleted video's tombstone is kept, refusing its uploads; keep it at
    /// least the upload token TTL [default: 24h]
    #[arg(long, env = "REEL_KEEP_TOMBSTONES_FOR", value_parser = humantime::parse_duration)]
    pub keep_tombstones_for: Option<Duration>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn serve_needs_no_options() {
        let cli = Cli::try_parse_from(["reel", "serve"]).unwrap();
        let Command::Serve(args) = cli.command else {
            panic!("not serve");
        };
        assert_eq!(args.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(args.api.session_ttl, Duration::from_secs(1800));
    }
}
