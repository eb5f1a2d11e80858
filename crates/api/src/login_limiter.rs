use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::Clock;
use governor::middleware::NoOpMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};
use reel_core::clock::SharedClock;

/// The API's clock as the limiter reads it: limits run on the same time as sessions
/// do, so that a test's clock drives them rather than how fast the machine is.
struct ApiClock(SharedClock);

impl Clock for ApiClock {
    type Instant = Duration;

    fn now(&self) -> Duration {
        Duration::from_millis(u64::try_from(self.0.now_ms()).unwrap_or(0))
    }
}

type KeyedLimiter = RateLimiter<
    (IpAddr, String),
    DefaultKeyedStateStore<(IpAddr, String)>,
    ApiClock,
    NoOpMiddleware<Duration>,
>;

/// Limits log-in attempts per (client address, user name): password guessing against one
/// account from one place is slowed down, while other users and places are unaffected.
pub struct LoginLimiter {
    /// A GCRA limiter per key (governor).
    limiter: KeyedLimiter,
}

impl LoginLimiter {
    /// Allows `per_minute` attempts a minute on `clock`, all of them at once if need be.
    pub fn new(per_minute: u32, clock: SharedClock) -> Self {
        let n = NonZeroU32::new(per_minute.max(1)).expect("at least one");
        Self {
            limiter: RateLimiter::dashmap_with_clock(Quota::per_minute(n), ApiClock(clock)),
        }
    }

    /// Counts an attempt; `Err(seconds)` says how long to wait when over the limit.
    pub fn attempt(&self, ip: IpAddr, name: &str) -> Result<(), u64> {
        self.limiter
            .check_key(&(ip, name.to_owned()))
            .map_err(|not_until| {
                let wait = not_until.wait_time_from(self.limiter.clock().now());
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
    use std::sync::Arc;

    use reel_core::clock::ManualClock;

    use super::*;

    #[test]
    fn limits_per_client_and_name_until_time_passes() {
        let clock = Arc::new(ManualClock::new(1_800_000_000_000));
        let l = LoginLimiter::new(3, clock.clone());
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        for _ in 0..3 {
            assert!(l.attempt(a, "alice").is_ok());
        }
        assert_eq!(
            l.attempt(a, "alice"),
            Err(20),
            "one attempt back every 20 s"
        );
        assert!(l.attempt(b, "alice").is_ok());
        assert!(l.attempt(a, "bob").is_ok());
        clock.advance(19_999);
        assert!(l.attempt(a, "alice").is_err());
        clock.advance(1);
        assert!(l.attempt(a, "alice").is_ok());
        assert!(l.attempt(a, "alice").is_err());
    }
}
