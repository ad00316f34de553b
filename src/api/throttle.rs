//! Sign-in, sign-up and app-registration throttles (password work is bounded in
//! [`crate::passwords`]).
//!
//! **Rate limits** follow Mastodon's defaults (its Rack::Attack rules): sign-in attempts
//! 25 per IP per 5 minutes and 25 per account per hour, API sign-ups 5 per IP per 30
//! minutes, app registrations per IP per 10 minutes (all configurable). Past a limit the
//! answer is `429` with `Retry-After`, `X-RateLimit-Limit`, `X-RateLimit-Remaining` and
//! `X-RateLimit-Reset`. Counting is per node and in memory (the `governor` crate's
//! keyed GCRA limiter, a well-kept crate whose keyed state is a `DashMap`, as ours is);
//! with N nodes behind a balancer an attacker gets at most N times the budget.
//!

use super::error::ApiError;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::hash::Hash;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// A keyed limit: `burst` attempts, refilled evenly over `period`.
pub struct Limit<K: Hash + Eq + Clone> {
    limiter: DefaultKeyedRateLimiter<K>,
    burst: u32,
    checks: AtomicU64,
}

impl<K: Hash + Eq + Clone> Limit<K> {
    pub fn new(burst: u32, period: Duration) -> Self {
        let burst = burst.max(1);
        let n = NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN);
        let quota = Quota::with_period(period / burst)
            .unwrap_or_else(|| Quota::per_second(n))
            .allow_burst(n);
        Limit {
            limiter: RateLimiter::keyed(quota),
            burst,
            checks: AtomicU64::new(0),
        }
    }

    /// Count one attempt for `key`, or the 429 to answer.
    pub fn check(&self, key: &K) -> Result<(), ApiError> {
        // Forget keys whose budget is full again, now and then, so the map stays small.
        if self.checks.fetch_add(1, Ordering::Relaxed) % 1024 == 1023 {
            self.limiter.retain_recent();
        }
        self.limiter.check_key(key).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            ApiError::Throttled {
                limit: self.burst,
                retry_after: wait.as_secs().max(1),
            }
        })
    }
}

/// Every throttle of the node.
pub struct Throttles {
    pub sign_in_per_ip: Limit<IpAddr>,
    pub sign_in_per_account: Limit<crate::domain::AccountId>,
    pub sign_ups_per_ip: Limit<IpAddr>,
    pub apps_per_ip: Limit<IpAddr>,
}

impl Throttles {
    pub fn new(config: &crate::config::Config) -> Self {
        const MIN: u64 = 60;
        Throttles {
            sign_in_per_ip: Limit::new(
                config.sign_in_attempts_per_ip,
                Duration::from_secs(5 * MIN),
            ),
            sign_in_per_account: Limit::new(
                config.sign_in_attempts_per_account,
                Duration::from_secs(60 * MIN),
            ),
            sign_ups_per_ip: Limit::new(config.sign_ups_per_ip, Duration::from_secs(30 * MIN)),
            apps_per_ip: Limit::new(config.apps_per_ip, Duration::from_secs(10 * MIN)),
        }
    }
}
