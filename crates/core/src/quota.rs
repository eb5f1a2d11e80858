//! Storage quotas: how many bytes of originals a user may keep in all, and upload per
//! day, and what that leaves for their next upload (the allowance an upload grant
//! carries to the stream server, which has no database).

use serde::Serialize;

/// A day, in milliseconds: the window of the daily quota.
pub const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// The bytes of originals a user keeps.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Usage {
    /// Every stored original of the user's videos.
    pub bytes_used: u64,
    /// Those uploaded within the last 24 hours.
    pub daily_bytes_used: u64,
}

/// A user's limits; `None` is unlimited.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Limits {
    /// The most bytes of originals kept in all.
    pub bytes: Option<u64>,
    /// The most bytes of originals uploaded within 24 hours.
    pub daily_bytes: Option<u64>,
}

impl Limits {
    /// The most bytes the user's next upload may have (`None`: no limit but the
    /// stream server's own); 0 when nothing is left.
    pub fn allowance(&self, usage: Usage) -> Option<u64> {
        let total = self.bytes.map(|l| l.saturating_sub(usage.bytes_used));
        let daily = self
            .daily_bytes
            .map(|l| l.saturating_sub(usage.daily_bytes_used));
        match (total, daily) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

/// A byte limit as an option gives it: a size (`10GiB`, `500MB`) or `unlimited`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteLimit(pub Option<u64>);

impl ByteLimit {
    /// Reads `10GiB`, `500MB`, `1024` or `unlimited`.
    pub fn parse(text: &str) -> Result<Self, String> {
        if text.trim().eq_ignore_ascii_case("unlimited") {
            return Ok(Self(None));
        }
        text.parse::<bytesize::ByteSize>()
            .map(|b| Self(Some(b.as_u64())))
            .map_err(|e| format!("{e} (or `unlimited`)"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_read_sizes_and_unlimited() {
        assert_eq!(
            ByteLimit::parse("10GiB"),
            Ok(ByteLimit(Some(10 * 1024 * 1024 * 1024)))
        );
        assert_eq!(ByteLimit::parse("500MB"), Ok(ByteLimit(Some(500_000_000))));
        assert_eq!(ByteLimit::parse("Unlimited"), Ok(ByteLimit(None)));
        assert!(ByteLimit::parse("lots").is_err());
    }

    #[test]
    fn the_allowance_is_the_smaller_room_left() {
        let usage = Usage {
            bytes_used: 70,
            daily_bytes_used: 30,
        };
        let both = Limits {
            bytes: Some(100),
            daily_bytes: Some(40),
        };
        assert_eq!(both.allowance(usage), Some(10));
        let total = Limits {
            bytes: Some(100),
            daily_bytes: None,
        };
        assert_eq!(total.allowance(usage), Some(30));
        assert_eq!(Limits::default().allowance(usage), None);
        let over = Limits {
            bytes: Some(50),
            daily_bytes: None,
        };
        assert_eq!(over.allowance(usage), Some(0));
    }
}
