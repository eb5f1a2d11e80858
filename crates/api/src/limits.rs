//! The limits in front of password hashing (docs/architecture.md, "Hostile traffic"):
//! log-ins and registrations per client address, and a backoff per account.
//!
//! Both run on the API's clock, the one sessions use, so that a test's clock drives
//! them rather than how fast the machine is.

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::Duration;

use governor::clock::Clock;
use governor::middleware::NoOpMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};
use reel_core::client_addr::limit_key;
use reel_core::clock::{SharedClock, millis};
use reel_core::ids::UserId;

use crate::config::Config;

/// The API's clock as governor reads it.
struct ApiClock(SharedClock);

impl Clock for ApiClock {
    type Instant = Duration;

    fn now(&self) -> Duration {
        Duration::from_millis(u64::try_from(self.0.now_ms()).unwrap_or(0))
    }
}

type PerAddress =
    RateLimiter<IpAddr, DefaultKeyedStateStore<IpAddr>, ApiClock, NoOpMiddleware<Duration>>;

/// How the backoff of one account grows and fades.
#[derive(Debug, Clone, Copy)]
pub struct BackoffRules {
    /// Attempts allowed before any wait.
    pub free: u32,
    /// The first wait; each further attempt doubles it.
    pub first: Duration,
    /// The longest wait: what a stranger can cost the owner at most.
    pub max: Duration,
    /// The time in which the count of attempts halves.
    pub half_life: Duration,
}

/// One account's recent attempts.
#[derive(Debug, Clone, Copy)]
struct Attempts {
    /// How many, decayed to `at_ms`.
    count: f64,
    /// When `count` was last updated.
    at_ms: i64,
    /// No attempt is heard before this instant.
    not_before_ms: i64,
}

/// Growing waits between log-in attempts on one account, whoever makes them. Not a
/// ban: the wait never passes `max`, the count halves every `half_life`, and a
/// successful log-in clears it, so a stranger guessing the password slows the owner
/// down by at most `max`. Every attempt counts until it succeeds, so attempts sent at
/// once cannot all slip in before the first failure is known.
///
/// Hand-written: governor's limiters refill at a fixed rate and cannot make a wait
/// grow with each attempt.
pub struct Backoff {
    /// How waits grow and fade.
    rules: BackoffRules,
    /// Only accounts that exist are counted, so the map is bounded by the accounts
    /// with recent attempts; idle ones are dropped by [`Backoff::forget_idle`].
    accounts: Mutex<HashMap<UserId, Attempts>>,
}

impl Backoff {
    pub fn new(rules: BackoffRules) -> Self {
        Self {
            rules,
            accounts: Mutex::new(HashMap::new()),
        }
    }

    fn decayed(&self, a: &Attempts, now_ms: i64) -> f64 {
        let half_life = millis(self.rules.half_life).max(1) as f64;
        let elapsed = (now_ms - a.at_ms).max(0) as f64;
        a.count * 0.5f64.powf(elapsed / half_life)
    }

    /// Counts an attempt on `account` at `now_ms`; `Err(seconds)` when it comes before
    /// the wait the earlier ones earned has passed.
    pub fn attempt(&self, account: UserId, now_ms: i64) -> Result<(), u64> {
        let mut accounts = self.accounts.lock().unwrap_or_else(|p| p.into_inner());
        let entry = accounts.entry(account).or_insert(Attempts {
            count: 0.0,
            at_ms: now_ms,
            not_before_ms: i64::MIN,
        });
        if now_ms < entry.not_before_ms {
            return Err(whole_seconds(entry.not_before_ms - now_ms));
        }
        entry.count = self.decayed(entry, now_ms) + 1.0;
        entry.at_ms = now_ms;
        // Rounded, so that the fading between two quick attempts does not cost a step.
        let counted = entry.count.round() as i64;
        let over = counted - i64::from(self.rules.free);
        if over >= 0 {
            let doublings = u32::try_from(over).unwrap_or(u32::MAX).min(30);
            let wait = millis(self.rules.first)
                .saturating_mul(1 << doublings)
                .min(millis(self.rules.max));
            entry.not_before_ms = now_ms + wait;
        }
        Ok(())
    }

    /// The account's owner got in: its count starts over.
    pub fn succeeded(&self, account: UserId) {
        self.accounts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&account);
    }

    /// Drops the accounts whose wait is over and whose count has faded.
    pub fn forget_idle(&self, now_ms: i64) {
        let mut accounts = self.accounts.lock().unwrap_or_else(|p| p.into_inner());
        accounts.retain(|_, a| now_ms < a.not_before_ms || self.decayed(a, now_ms) >= 0.5);
        accounts.shrink_to_fit();
    }
}

/// `ms` rounded up to whole seconds, as `Retry-After` says it (at least 1).
fn whole_seconds(ms: i64) -> u64 {
    u64::try_from(ms.max(1)).unwrap_or(1).div_ceil(1000)
}

/// What stands in front of password hashing.
pub struct AuthLimits {
    /// Log-ins and registrations per client address (IPv6 per /64), GCRA (governor).
    per_address: PerAddress,
    /// Log-ins per account.
    pub backoff: Backoff,
    /// The clock both run on.
    clock: SharedClock,
}

impl AuthLimits {
    pub fn new(config: &Config, clock: SharedClock) -> Self {
        let n = NonZeroU32::new(config.auth_attempts_per_minute.max(1)).expect("at least one");
        Self {
            per_address: RateLimiter::dashmap_with_clock(
                Quota::per_minute(n),
                ApiClock(clock.clone()),
            ),
            backoff: Backoff::new(BackoffRules {
                free: config.login_backoff_after,
                first: config.login_backoff_first,
                max: config.login_backoff_max,
                half_life: config.login_backoff_half_life,
            }),
            clock,
        }
    }

    /// Counts a log-in or registration from `client`; `Err(seconds)` says how long to
    /// wait when over the limit.
    pub fn on_address(&self, client: IpAddr) -> Result<(), u64> {
        self.per_address
            .check_key(&limit_key(client))
            .map_err(|not_until| {
                let wait = not_until.wait_time_from(self.per_address.clock().now());
                wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
            })
    }

    /// Counts a log-in attempt on an existing account.
    pub fn on_account(&self, account: UserId) -> Result<(), u64> {
        self.backoff.attempt(account, self.clock.now_ms())
    }

    /// Forgets addresses and accounts whose limits have fully recovered.
    pub fn forget_idle(&self) {
        self.per_address.retain_recent();
        self.per_address.shrink_to_fit();
        self.backoff.forget_idle(self.clock.now_ms());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = 1000;

    fn rules() -> BackoffRules {
        BackoffRules {
            free: 3,
            first: Duration::from_secs(1),
            max: Duration::from_secs(8),
            half_life: Duration::from_secs(600),
        }
    }

    #[test]
    fn waits_double_up_to_the_cap_and_fade_away() {
        let b = Backoff::new(rules());
        let alice = UserId::random();
        let mut now = 1_800_000_000_000;
        for _ in 0..2 {
            assert_eq!(b.attempt(alice, now), Ok(()));
        }
        // The third attempt is heard and earns the first wait.
        assert_eq!(b.attempt(alice, now), Ok(()));
        assert_eq!(b.attempt(alice, now), Err(1));
        assert_eq!(b.attempt(alice, now + 999), Err(1));
        now += S;
        assert_eq!(b.attempt(alice, now), Ok(()));
        assert_eq!(b.attempt(alice, now + 1), Err(2));
        for wait in [2, 4, 8, 8, 8] {
            now += wait * S;
            assert_eq!(b.attempt(alice, now), Ok(()));
        }
        assert_eq!(b.attempt(alice, now), Err(8), "never more than the cap");
        // Another account is untouched.
        assert_eq!(b.attempt(UserId::random(), now), Ok(()));
        // An hour later the count has faded: a few attempts are free again.
        now += 3600 * S;
        assert_eq!(b.attempt(alice, now), Ok(()));
        assert_eq!(b.attempt(alice, now), Ok(()));
        // And a success clears it at once.
        b.succeeded(alice);
        for _ in 0..2 {
            assert_eq!(b.attempt(alice, now), Ok(()));
        }
    }

    #[test]
    fn idle_accounts_are_forgotten() {
        let b = Backoff::new(rules());
        let now = 1_800_000_000_000;
        b.attempt(UserId::random(), now).unwrap();
        b.forget_idle(now);
        assert_eq!(b.accounts.lock().unwrap().len(), 1);
        b.forget_idle(now + 3600 * S);
        assert!(b.accounts.lock().unwrap().is_empty());
    }
}
