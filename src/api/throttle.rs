//! The rate limits of the HTTP API, with Mastodon's defaults (its Rack::Attack rules),
//! all configurable and counted once for the deployment (see
//! [`crate::moderation::rate`]): REST requests per token and, without one, per IP (300
//! per 5 minutes), notices per account (300 per 3 hours), media uploads (30 per 30
//! minutes), follows and reports (400 per day), sign-in attempts per IP (25 per 5
//! minutes) and per account (25 per hour), API sign-ups per IP (5 per 30 minutes), app
//! registrations per IP (per 10 minutes), new streams per IP per second.
//!
//! Every response of the REST API carries `X-RateLimit-Limit`, `X-RateLimit-Remaining`
//! and `X-RateLimit-Reset` (ISO 8601) of the per-token or per-IP limit; past any limit
//! the answer is `429` with `Retry-After` and the headers of the limit that refused, and
//! nothing is done.

use super::error::{ApiError, ApiResult};
use crate::moderation::rate::{RateLimits, Rule, Verdict};
use axum::http::{HeaderMap, HeaderValue};
use std::sync::Arc;
use std::time::Duration;

/// Every limit of the API, with the node's counter.
pub struct Throttles {
    counter: Arc<RateLimits>,
    pub api_per_token: Rule,
    pub api_per_ip: Rule,
    pub statuses_per_account: Rule,
    pub media_per_account: Rule,
    pub follows_per_account: Rule,
    pub reports_per_account: Rule,
    pub sign_in_per_ip: Rule,
    pub sign_in_per_account: Rule,
    pub sign_ups_per_ip: Rule,
    pub apps_per_ip: Rule,
    pub streams_per_ip: Rule,
}

const MIN: u64 = 60;

fn rule(name: &'static str, limit: u32, secs: u64, fail_closed: bool) -> Rule {
    Rule {
        name,
        limit,
        period: Duration::from_secs(secs),
        fail_closed,
    }
}

impl Throttles {
    pub fn new(config: &crate::config::Config, counter: Arc<RateLimits>) -> Self {
        Throttles {
            counter,
            api_per_token: rule("api_token", config.api_requests_per_token, 5 * MIN, false),
            api_per_ip: rule("api_ip", config.api_requests_per_ip, 5 * MIN, false),
            statuses_per_account: rule("statuses", config.statuses_per_account, 180 * MIN, false),
            media_per_account: rule("media", config.media_per_account, 30 * MIN, false),
            follows_per_account: rule("follows", config.follows_per_account, 1440 * MIN, false),
            reports_per_account: rule("reports", config.reports_per_account, 1440 * MIN, false),
            sign_in_per_ip: rule("sign_in_ip", config.sign_in_attempts_per_ip, 5 * MIN, true),
            sign_in_per_account: rule(
                "sign_in_account",
                config.sign_in_attempts_per_account,
                60 * MIN,
                true,
            ),
            sign_ups_per_ip: rule("sign_ups_ip", config.sign_ups_per_ip, 30 * MIN, true),
            apps_per_ip: rule("apps_ip", config.apps_per_ip, 10 * MIN, true),
            streams_per_ip: rule("streams_ip", config.streams_per_ip_per_second, 1, false),
        }
    }

    /// Count one request of `key` against `rule`: its verdict (for the headers), or the
    /// 429 to answer (503 when a credential rule's counter is unreachable).
    pub async fn check(
        &self,
        rule: &Rule,
        key: impl std::fmt::Display,
    ) -> ApiResult<Option<Verdict>> {
        match self.counter.hit(rule, &key.to_string()).await {
            Ok(Some(v)) if v.retry_after.is_some() => Err(ApiError::Throttled {
                limit: v.limit,
                retry_after: v.retry_after.unwrap_or(1),
                reset_at: v.reset_at,
            }),
            Ok(v) => Ok(v),
            Err(_) => Err(ApiError::Unavailable(
                "Rate limiting is unavailable; try again in a moment".into(),
            )),
        }
    }
}

/// Mastodon's `X-RateLimit-*` headers for `v`.
pub fn set_headers(headers: &mut HeaderMap, v: &Verdict) {
    let reset = reset_time(v.reset_at);
    headers.insert("x-ratelimit-limit", HeaderValue::from(v.limit));
    headers.insert("x-ratelimit-remaining", HeaderValue::from(v.remaining));
    if let Ok(r) = HeaderValue::from_str(&reset) {
        headers.insert("x-ratelimit-reset", r);
    }
}

/// ISO 8601 with microseconds, as Mastodon writes `X-RateLimit-Reset`.
pub fn reset_time(micros: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.microsecond()
    )
}

/// The key of a token in the counter: a digest (the secret itself never leaves).
pub fn token_key(token: &str) -> String {
    use sha2::Digest;
    hex::encode(&sha2::Sha256::digest(token.as_bytes())[..12])
}
