use std::net::IpAddr;
use std::num::NonZeroU32;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

/// Limits log-in attempts per (client address, user name): password guessing against one
/// account from one place is slowed down, while other users and places are unaffected.
pub struct LoginLimiter {
    /// A GCRA limiter per key (governor).
    limiter: DefaultKeyedRateLimiter<(IpAddr, String)>,
}

impl LoginLimiter {
    /// Allows `per_minute` attempts a minute, all of them at once if need be.
    pub fn new(per_minute: u32) -> Self {
        let n = NonZeroU32::new(per_minute.max(1)).expect("at least one");
        Self {
            limiter: RateLimiter::keyed(Quota::per_minute(n)),
        }
    }

    /// Counts an attempt; `Err(seconds)` says how long to wait when over the limit.
    pub fn attempt(&self, ip: IpAddr, name: &str) -> Result<(), u64> {
        self.limiter
            .check_key(&(ip, name.to_owned()))
            .map_err(|not_until| {
                let wait = not_until.wait_time_from(DefaultClock::default().now());
                wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
            })
    }

    /// Forgets keys whose limits have fully recovered, keeping memory bounded.
    pub fn forget_idle(&self) {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_per_client_and_name() {
        let l = LoginLimiter::new(3);
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        for _ in 0..3 {
            assert!(l.attempt(a, "alice").is_ok());
        }
        let wait = l.attempt(a, "alice").unwrap_err();
        assert!((1..=20).contains(&wait), "wait {wait}");
        assert!(l.attempt(b, "alice").is_ok());
        assert!(l.attempt(a, "bob").is_ok());
    }
}
