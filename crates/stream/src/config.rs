//! The stream server's options; the `reel` command flattens them into its own.

use std::time::Duration;

use clap::Args;

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
}

impl Default for Config {
    fn default() -> Self {
        reel_core::config::defaults()
    }
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
}
