//! How many bytes of originals a user may store, and how many they use: the site's
//! limits (`--quota`, `--daily-quota`), each user's overrides, the sizes of their
//! videos, and what that leaves for their next upload (the allowance an upload grant
//! carries to the stream server, which has no database; docs/architecture.md,
//! "Running a public site").

use clap::Args;
use serde::Serialize;

use crate::account::Limit;
use crate::db::{Db, DbError, UserRecord};

/// A day, in milliseconds: the window of the daily quota.
pub const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// The site's quotas; admins may set others per user.
#[derive(Debug, Clone, Args)]
#[group(skip)]
pub struct QuotaConfig {
    /// Bytes of originals one user may store in all (e.g. 10GiB, 500MB, or `unlimited`).
    #[arg(long, env = "REEL_QUOTA", default_value = "10GiB", value_parser = Limit::parse)]
    pub quota: Limit,
    /// Bytes of originals one user may add in 24 hours (e.g. 2GiB, or `unlimited`).
    #[arg(long, env = "REEL_DAILY_QUOTA", default_value = "unlimited", value_parser = Limit::parse)]
    pub daily_quota: Limit,
}

impl Default for QuotaConfig {
    fn default() -> Self {
        crate::config::defaults()
    }
}

/// A user's use of their quota, as the user JSON shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Quota {
    /// Bytes of originals stored.
    pub bytes_used: i64,
    /// The most they may store; null when unlimited.
    pub bytes_limit: Option<i64>,
    /// Bytes of originals of the videos created in the last 24 hours.
    pub daily_bytes_used: i64,
    /// The most they may add in 24 hours; null when unlimited.
    pub daily_bytes_limit: Option<i64>,
}

impl Quota {
    /// How many more bytes the user may store now; `None` when nothing limits them.
    pub fn allowance(&self) -> Option<i64> {
        let total = self.bytes_limit.map(|l| l - self.bytes_used);
        let daily = self.daily_bytes_limit.map(|l| l - self.daily_bytes_used);
        match (total, daily) {
            (Some(a), Some(b)) => Some(a.min(b).max(0)),
            (Some(a), None) | (None, Some(a)) => Some(a.max(0)),
            (None, None) => None,
        }
    }
}

/// The limits that apply to `user`: their overrides, else the site's.
pub fn limits_of(user: &UserRecord, site: &QuotaConfig) -> (Limit, Limit) {
    (
        Limit::from_override(user.bytes_limit, site.quota),
        Limit::from_override(user.daily_bytes_limit, site.daily_quota),
    )
}

/// `user`'s quota at `now_ms`. Bytes used are the sizes of their videos' originals
/// (recorded when an upload lands, which is also when it starts counting towards the
/// daily quota); a deleted video's bytes are free at once.
pub async fn quota_for(
    db: &Db,
    user: &UserRecord,
    site: &QuotaConfig,
    now_ms: i64,
) -> Result<Quota, DbError> {
    let (total, daily) = limits_of(user, site);
    let used = db.bytes_used(user.id, now_ms - DAY_MS).await?;
    Ok(Quota {
        bytes_used: used.total,
        bytes_limit: total.bytes(),
        daily_bytes_used: used.since,
        daily_bytes_limit: daily.bytes(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_allowance_is_the_tighter_limit() {
        let q = |used, limit, daily_used, daily_limit| Quota {
            bytes_used: used,
            bytes_limit: limit,
            daily_bytes_used: daily_used,
            daily_bytes_limit: daily_limit,
        };
        assert_eq!(q(10, Some(100), 5, None).allowance(), Some(90));
        assert_eq!(q(10, Some(100), 5, Some(20)).allowance(), Some(15));
        assert_eq!(q(200, Some(100), 0, None).allowance(), Some(0));
        assert_eq!(q(10, None, 5, None).allowance(), None);
        let defaults = QuotaConfig::default();
        assert_eq!(defaults.quota, Limit::Bytes(10 << 30));
        assert_eq!(defaults.daily_quota, Limit::Unlimited);
    }
}
