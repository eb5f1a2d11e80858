use std::time::Duration;

use clap::Args;
use reel_core::quota::ByteLimit;

/// The largest request body the API reads; larger ones get a 413.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// The API's own options (the site's database and key are in
/// [`reel_core::config::SiteConfig`]).
#[derive(Debug, Clone, Args)]
// clap names a struct's argument group after it, and every service calls its
// options `Config`: the groups would clash where `reel serve` flattens several.
#[group(skip)]
pub struct Config {
    /// Redis for sessions shared by several API nodes (redis://host:6379) [default:
    /// sessions cached in process]
    #[arg(long, env = "REEL_REDIS_URL")]
    pub redis_url: Option<String>,
    /// How long a session lives without use (e.g. 30m, 12h).
    #[arg(long, env = "REEL_SESSION_TTL", default_value = "30m", value_parser = humantime::parse_duration)]
    pub session_ttl: Duration,
    /// How often expired sessions are purged.
    #[arg(long, env = "REEL_SESSION_SWEEP_EVERY", default_value = "60s", value_parser = humantime::parse_duration)]
    pub session_sweep_every: Duration,
    /// Mark the session cookie Secure (when the site is served over HTTPS).
    #[arg(long, env = "REEL_SECURE_COOKIES")]
    pub secure_cookies: bool,
    /// Public URL of the stream server, put in front of upload URLs (e.g.
    /// https://media.example.com) [default: same origin]
    #[arg(long, env = "REEL_STREAM_PUBLIC_URL", default_value = "")]
    pub stream_public_url: String,
    /// How long an upload URL stays valid (e.g. 6h).
    #[arg(long, env = "REEL_UPLOAD_TOKEN_TTL", default_value = "6h", value_parser = humantime::parse_duration)]
    pub upload_token_ttl: Duration,
    /// Log-in attempts allowed per minute for one client address and user name.
    #[arg(long, env = "REEL_LOGIN_ATTEMPTS_PER_MINUTE", default_value_t = 10)]
    pub login_attempts_per_minute: u32,
    /// Take the client address from X-Forwarded-For (only behind a proxy you run, such
    /// as `reel web`).
    #[arg(long, env = "REEL_TRUST_FORWARDED_FOR")]
    pub trust_forwarded_for: bool,
    /// Other origins allowed to send cookie-authenticated writes (comma-separated).
    #[arg(long, env = "REEL_ALLOWED_ORIGINS", value_delimiter = ',')]
    pub allowed_origins: Vec<String>,
    /// The most bytes of originals a user may keep, all videos together (e.g. 10GiB,
    /// 500MB, unlimited).
    #[arg(long, env = "REEL_QUOTA", default_value = "10GiB", value_parser = ByteLimit::parse)]
    pub quota: ByteLimit,
    /// The most bytes of originals a user may upload in 24 hours (e.g. 2GiB, unlimited).
    #[arg(long, env = "REEL_DAILY_QUOTA", default_value = "unlimited", value_parser = ByteLimit::parse)]
    pub daily_quota: ByteLimit,
    /// How long the playback URLs of a private video stay valid (e.g. 6h).
    #[arg(long, env = "REEL_PLAYBACK_GRANT_TTL", default_value = "6h", value_parser = humantime::parse_duration)]
    pub playback_grant_ttl: Duration,
    /// How long public video listings may be served from memory (0s turns it off).
    #[arg(long, env = "REEL_LISTING_CACHE_TTL", default_value = "1s", value_parser = humantime::parse_duration)]
    pub listing_cache_ttl: Duration,
}

impl Default for Config {
    fn default() -> Self {
        reel_core::config::defaults()
    }
}
