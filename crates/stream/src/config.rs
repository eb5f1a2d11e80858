//! The stream server's options; the `reel` command flattens them into its own.

use std::time::Duration;

use clap::Args;
use reel_core::storage::video_state::MAX_CACHE_TTL;

/// The stream server's own options (the site's database, key and storage are in
/// [`reel_core::config::SiteConfig`]).
#[derive(Debug, Clone, Args)]
// clap names a struct's argument group after it, and every service calls its
// options `Config`: the groups would clash where `reel serve` flattens several.
#[group(skip)]
pub struct Config {
    /// The largest upload accepted (e.g. 10GiB, 500MB).
    #[arg(long, env = "REEL_MAX_UPLOAD_BYTES", default_value = "10GiB", value_parser = byte_count)]
    pub max_upload_bytes: u64,
    /// Playbacks and uploads streaming at once; more get an immediate 429.
    #[arg(long, env = "REEL_MAX_CONNECTIONS", default_value_t = 1024)]
    pub max_connections: usize,
    /// Playbacks and uploads one client address (an IPv6 /64) may stream at once; more
    /// get an immediate 429, so that one client cannot take every connection.
    #[arg(long, env = "REEL_MAX_CONNECTIONS_PER_CLIENT", default_value_t = 64)]
    pub max_connections_per_client: usize,
    /// Seconds a client refused with 429 is told to wait (`Retry-After`).
    #[arg(long, env = "REEL_RETRY_AFTER_SECS", default_value_t = 1)]
    pub retry_after_secs: u32,
    /// Wait before telling the scheduler about an upload again after a failure; it
    /// doubles after each further one.
    #[arg(long, env = "REEL_NOTIFY_BACKOFF", default_value = "500ms", value_parser = humantime::parse_duration)]
    pub notify_backoff: Duration,
    /// Longest wait between two tries of telling the scheduler.
    #[arg(long, env = "REEL_NOTIFY_BACKOFF_MAX", default_value = "60s", value_parser = humantime::parse_duration)]
    pub notify_backoff_max: Duration,
    /// Resumable (tus) uploads untouched this long are removed, with their staged
    /// bytes; keep it at least the upload token TTL, so that no upload that may still
    /// resume is lost.
    #[arg(long, env = "REEL_TUS_EXPIRE_AFTER", default_value = "24h", value_parser = humantime::parse_duration)]
    pub tus_expire_after: Duration,
    /// How often unfinished resumable uploads are looked for.
    #[arg(long, env = "REEL_TUS_SWEEP_EVERY", default_value = "1h", value_parser = humantime::parse_duration)]
    pub tus_sweep_every: Duration,
    /// How long a video's state marker (its tombstone, once deleted) may be acted on
    /// after it was read, at most 2s: it bounds how long a deleted video keeps taking
    /// and serving bytes once the scheduler marked it.
    #[arg(long, env = "REEL_VIDEO_STATE_TTL", default_value = "2s", value_parser = video_state_ttl)]
    pub video_state_ttl: Duration,
}

impl Default for Config {
    fn default() -> Self {
        reel_core::config::defaults()
    }
}

fn video_state_ttl(text: &str) -> Result<Duration, String> {
    let ttl = humantime::parse_duration(text).map_err(|e| e.to_string())?;
    if ttl > MAX_CACHE_TTL {
        return Err(format!(
            "at most {}: longer would let a deleted video play on",
            humantime::format_duration(MAX_CACHE_TTL)
        ));
    }
    Ok(ttl)
}

fn byte_count(text: &str) -> Result<u64, String> {
    text.parse::<bytesize::ByteSize>().map(|b| b.as_u64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_take_units() {
        assert_eq!(Config::default().max_upload_bytes, 10 * 1024 * 1024 * 1024);
        assert_eq!(byte_count("500MB"), Ok(500_000_000));
        assert!(byte_count("lots").is_err());
    }

    #[test]
    fn video_state_ttl_is_bounded() {
        assert_eq!(Config::default().video_state_ttl, MAX_CACHE_TTL);
        assert_eq!(video_state_ttl("500ms"), Ok(Duration::from_millis(500)));
        assert!(video_state_ttl("3s").is_err());
        assert!(video_state_ttl("soon").is_err());
    }
}
