use std::time::Duration;

use reel_core::signing::SigningKey;

/// The largest request body the API reads; larger ones get a 413.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// The API's settings; the `reel` binary fills them from flags and `REEL_*` variables.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where the data lives (`sqlite:`, `mysql:`, `mariadb:` or `postgres:` URL).
    pub database_url: String,
    /// Redis shared by several API nodes for sessions; `None` keeps them in process.
    pub redis_url: Option<String>,
    /// How long a session lives without use.
    pub session_ttl: Duration,
    /// How often expired sessions are purged.
    pub session_sweep_every: Duration,
    /// Marks the session cookie `Secure` (serve over HTTPS).
    pub secure_cookies: bool,
    /// Signs upload tokens for the stream server.
    pub signing_key: SigningKey,
    /// Prefix of upload URLs: empty for the same origin (`reel serve`), or the stream
    /// server's public URL in split mode.
    pub stream_public_url: String,
    /// How long an upload URL stays valid.
    pub upload_token_ttl: Duration,
    /// Log-in attempts allowed per minute for one client and user name.
    pub login_attempts_per_minute: u32,
    /// Takes the client address from `X-Forwarded-For` (set this behind a proxy you run,
    /// such as `reel web`).
    pub trust_forwarded_for: bool,
    /// Origins besides the request's own host that may send cookie-authenticated writes.
    pub allowed_origins: Vec<String>,
    /// Database connections at most.
    pub max_db_connections: u32,
    /// How long public listings may be served from memory; zero turns caching off.
    pub listing_cache_ttl: Duration,
}

impl Config {
    /// Defaults for a database URL and key; every other field as `reel serve` uses it.
    pub fn new(database_url: impl Into<String>, signing_key: SigningKey) -> Self {
        Self {
            database_url: database_url.into(),
            redis_url: None,
            session_ttl: reel_core::session::DEFAULT_TTL,
            session_sweep_every: Duration::from_secs(60),
            secure_cookies: false,
            signing_key,
            stream_public_url: String::new(),
            upload_token_ttl: Duration::from_secs(6 * 3600),
            login_attempts_per_minute: 10,
            trust_forwarded_for: false,
            allowed_origins: Vec::new(),
            max_db_connections: 16,
            listing_cache_ttl: Duration::from_secs(1),
        }
    }
}
