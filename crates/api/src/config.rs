use std::time::Duration;

use clap::{Args, ValueEnum};
use reel_core::client_addr::TrustedProxies;
use reel_core::quota::QuotaConfig;

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
    /// How long a session lives at most, however often it is used (e.g. 30d, 12h).
    #[arg(long, env = "REEL_SESSION_MAX_LIFETIME", default_value = "30d", value_parser = humantime::parse_duration)]
    pub session_max_lifetime: Duration,
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
    /// Log-ins and registrations allowed per minute from one client address (IPv6: per
    /// /64), all of them at once if need be.
    #[arg(long, env = "REEL_AUTH_ATTEMPTS_PER_MINUTE", default_value_t = 30)]
    pub auth_attempts_per_minute: u32,
    /// Log-in attempts on one account, from anywhere, before each further one must
    /// wait.
    #[arg(long, env = "REEL_LOGIN_BACKOFF_AFTER", default_value_t = 5)]
    pub login_backoff_after: u32,
    /// The first wait between log-in attempts on one account; each further attempt
    /// doubles it.
    #[arg(long, env = "REEL_LOGIN_BACKOFF_FIRST", default_value = "1s", value_parser = humantime::parse_duration)]
    pub login_backoff_first: Duration,
    /// The longest wait between log-in attempts on one account: the most a stranger
    /// guessing its password can delay its owner.
    #[arg(long, env = "REEL_LOGIN_BACKOFF_MAX", default_value = "1m", value_parser = humantime::parse_duration)]
    pub login_backoff_max: Duration,
    /// How fast an account's count of attempts fades: it halves in this time (a
    /// successful log-in clears it).
    #[arg(long, env = "REEL_LOGIN_BACKOFF_HALF_LIFE", default_value = "10m", value_parser = humantime::parse_duration)]
    pub login_backoff_half_life: Duration,
    /// Threads that hash passwords (argon2id, 19 MiB each while hashing) [default: one
    /// per core]
    #[arg(long, env = "REEL_HASH_THREADS")]
    pub hash_threads: Option<usize>,
    /// Log-ins and registrations that may wait for a hashing thread; more at once are
    /// answered 503 with Retry-After.
    #[arg(long, env = "REEL_HASH_QUEUE", default_value_t = 32)]
    pub hash_queue: usize,
    /// Proxies whose X-Forwarded-For is believed (comma-separated CIDR ranges or
    /// addresses; empty trusts none): the client is the rightmost address there that
    /// is not one of them. The default trusts loopback, where `reel web` runs in front
    /// of a local API.
    #[arg(long, env = "REEL_TRUSTED_PROXIES", default_value = reel_core::client_addr::DEFAULT_TRUSTED_PROXIES)]
    pub trusted_proxies: TrustedProxies,
    /// Other origins allowed to send cookie-authenticated writes (comma-separated).
    #[arg(long, env = "REEL_ALLOWED_ORIGINS", value_delimiter = ',')]
    pub allowed_origins: Vec<String>,
    /// How long the playback URLs of a private video stay valid (e.g. 6h).
    #[arg(long, env = "REEL_PLAYBACK_GRANT_TTL", default_value = "6h", value_parser = humantime::parse_duration)]
    pub playback_grant_ttl: Duration,
    /// How long public video listings may be served from memory (0s turns it off).
    #[arg(long, env = "REEL_LISTING_CACHE_TTL", default_value = "1s", value_parser = humantime::parse_duration)]
    pub listing_cache_ttl: Duration,
    /// Who may register: anyone (`open`), anyone but only once an admin approves
    /// (`approval`), or nobody (`closed`; admins add accounts with `reel user add`).
    #[arg(long, env = "REEL_REGISTRATION", value_enum, default_value_t = Registration::Open)]
    pub registration: Registration,
    #[command(flatten)]
    pub quota: QuotaConfig,
}

/// Who may register.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Registration {
    /// Anyone, logged in at once.
    Open,
    /// Anyone, able to log in once an admin approves the account.
    Approval,
    /// Nobody: accounts are made with `reel user add`.
    Closed,
}

impl Default for Config {
    fn default() -> Self {
        reel_core::config::defaults()
    }
}
