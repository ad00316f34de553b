//! Rate limits, counted once for the whole deployment.
//!
//! Each [`Rule`] is a limit per key (a token, an address, an account) per period, as
//! Mastodon's Rack::Attack rules count them. One node counts in memory with the
//! `governor` crate (a keyed GCRA limiter; a well-kept crate, cheaper than anything we
//! would write). Several nodes count in Redis, so the budget is one for all of them: a
//! fixed window per key (`INCR` of `…:rl:{rule}:{key}:{window}` and a `PEXPIRE` to the
//! window's end, pipelined; `INCR` is atomic, so two nodes never both take the last
//! request), which is also how Rack::Attack counts, so `X-RateLimit-Reset` is the
//! window's end.
//!
//! When Redis cannot be reached (a restart), a rule *fails open* — the request is
//! allowed, uncounted — except the credential rules (sign-in, sign-up, app
//! registration), which *fail closed* (`503`): an outage must not become a window for
//! guessing passwords, while readers and posters should not lose the service because
//! the counter is away for a few seconds.

use dashmap::DashMap;
use fred::prelude::*;
use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

/// A limit: `limit` requests per key per `period` (`limit` 0: none).
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    pub name: &'static str,
    pub limit: u32,
    pub period: Duration,
    /// Refuse (rather than allow) when the shared counter cannot be reached.
    pub fail_closed: bool,
}

/// What a counted request comes to.
#[derive(Debug, Clone, Copy)]
pub struct Verdict {
    pub limit: u32,
    pub remaining: u32,
    /// When the budget is whole again (microseconds since the epoch).
    pub reset_at: i64,
    /// Refused: seconds to wait.
    pub retry_after: Option<u64>,
}

/// The shared counter could not be reached and the rule fails closed.
#[derive(Debug, Clone, Copy)]
pub struct Unavailable;

pub struct RateLimits {
    counter: Counter,
}

enum Counter {
    Local(DashMap<&'static str, Arc<Keyed>>),
    Redis { client: Client, prefix: String },
}

/// governor's keyed limiter, telling the budget left after each request.
type Keyed =
    RateLimiter<String, DefaultKeyedStateStore<String>, DefaultClock, StateInformationMiddleware>;

/// How long a request waits for Redis before the rule's failure policy applies.
const REDIS_WAIT: Duration = Duration::from_millis(500);

impl RateLimits {
    /// In memory, for one node.
    pub fn local() -> Self {
        RateLimits {
            counter: Counter::Local(DashMap::new()),
        }
    }

    /// In Redis at `url`, shared by every node with the same `prefix`.
    pub async fn redis(url: &str, prefix: &str) -> anyhow::Result<Self> {
        let config = Config::from_url(url).map_err(|e| anyhow::anyhow!("bad REDIS_URL: {e}"))?;
        let client = Builder::from_config(config)
            .with_connection_config(|c| {
                c.connection_timeout = Duration::from_secs(1);
                c.internal_command_timeout = Duration::from_secs(1);
            })
            .with_performance_config(|p| p.default_command_timeout = REDIS_WAIT)
            .set_policy(ReconnectPolicy::new_constant(0, 250))
            .build()?;
        crate::bus::redis::connected_within(url, client.init()).await?;
        Ok(RateLimits {
            counter: Counter::Redis {
                client,
                prefix: prefix.to_string(),
            },
        })
    }

    /// Count one request of `key` against `rule`.
    pub async fn hit(&self, rule: &Rule, key: &str) -> Result<Option<Verdict>, Unavailable> {
        if rule.limit == 0 {
            return Ok(None);
        }
        let now = crate::domain::now_micros();
        match &self.counter {
            Counter::Local(limiters) => Ok(Some(Self::hit_local(limiters, rule, key, now))),
            Counter::Redis { client, prefix } => {
                let period = rule.period.as_micros() as i64;
                let window = now / period;
                let redis_key = format!("{prefix}:rl:{}:{key}:{window}", rule.name);
                let pipe = client.pipeline();
                let count = async {
                    let _: () = pipe.incr(&redis_key).await?;
                    let _: () = pipe
                        .pexpire(
                            &redis_key,
                            period / 1000 + 1000,
                            Some(fred::types::ExpireOptions::NX),
                        )
                        .await?;
                    let (n, _): (i64, i64) = pipe.all().await?;
                    Ok::<_, fred::error::Error>(n)
                };
                match tokio::time::timeout(REDIS_WAIT, count).await {
                    Ok(Ok(n)) => {
                        let reset_at = (window + 1) * period;
                        let over = n > i64::from(rule.limit);
                        Ok(Some(Verdict {
                            limit: rule.limit,
                            remaining: (i64::from(rule.limit) - n).max(0) as u32,
                            reset_at,
                            retry_after: over.then(|| ((reset_at - now) / 1_000_000).max(1) as u64),
                        }))
                    }
                    Ok(Err(e)) => Self::unreachable(rule, &e.to_string()),
                    Err(_) => Self::unreachable(rule, "timed out"),
                }
            }
        }
    }

    fn unreachable(rule: &Rule, why: &str) -> Result<Option<Verdict>, Unavailable> {
        tracing::warn!(
            rule = rule.name,
            error = why,
            "rate limit counter unreachable"
        );
        if rule.fail_closed {
            Err(Unavailable)
        } else {
            Ok(None)
        }
    }

    fn hit_local(
        limiters: &DashMap<&'static str, Arc<Keyed>>,
        rule: &Rule,
        key: &str,
        now: i64,
    ) -> Verdict {
        let limiter = limiters
            .entry(rule.name)
            .or_insert_with(|| {
                let burst = NonZeroU32::new(rule.limit).unwrap_or(NonZeroU32::MIN);
                let quota = Quota::with_period(rule.period / rule.limit.max(1))
                    .unwrap_or_else(|| Quota::per_second(burst))
                    .allow_burst(burst);
                Arc::new(RateLimiter::keyed(quota).with_middleware::<StateInformationMiddleware>())
            })
            .clone();
        // Forget keys whose budget is whole again, now and then, so the map stays small.
        if limiter.len() > 10_000 && now % 1024 == 0 {
            limiter.retain_recent();
        }
        let per_request = rule.period.as_micros() as i64 / i64::from(rule.limit.max(1));
        match limiter.check_key(&key.to_string()) {
            Ok(state) => {
                let remaining = state.remaining_burst_capacity();
                Verdict {
                    limit: rule.limit,
                    remaining,
                    reset_at: now + i64::from(rule.limit - remaining.min(rule.limit)) * per_request,
                    retry_after: None,
                }
            }
            Err(not_until) => {
                let wait = not_until.wait_time_from(DefaultClock::default().now());
                Verdict {
                    limit: rule.limit,
                    remaining: 0,
                    reset_at: now + i64::from(rule.limit) * per_request,
                    retry_after: Some(wait.as_secs().max(1)),
                }
            }
        }
    }
}
