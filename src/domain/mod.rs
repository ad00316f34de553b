//! The words of Tidings: accounts, notices, streams and events, with their validation,
//! @mention/#tag parsing and rendering to safe HTML and to Mastodon's JSON entities.
//!
//! This module must not know HTTP, SQL or Redis: the store asks it which event a change
//! writes (its streams and payload, see [`announce`]) inside the writing transaction,
//! the API calls it to validate input at the edge, and both stay ignorant of each other.

pub mod announce;
pub mod entities;
pub mod event;
pub mod filters;
pub mod ids;
pub mod live;
pub mod moderation;
pub mod stream;
pub mod text;
pub mod validate;

pub use event::{Event, EventKind, Position};
pub use ids::{AccountId, ListId, StatusId};
pub use stream::StreamKey;

/// What every rendering needs to know about this server: its public address.
#[derive(Debug, Clone)]
pub struct Site {
    /// Base URL without a trailing slash, e.g. `https://news.example`.
    pub base_url: String,
    /// Host name used in `acct` handles and as the instance's domain.
    pub domain: String,
}

impl Site {
    pub fn new(base_url: &str) -> Self {
        let base_url = base_url.trim_end_matches('/').to_string();
        let domain = url::Url::parse(&base_url)
            .ok()
            .and_then(|u| {
                u.host_str().map(|h| match u.port() {
                    Some(p) => format!("{h}:{p}"),
                    None => h.to_string(),
                })
            })
            .unwrap_or_else(|| "localhost".to_string());
        Site { base_url, domain }
    }
}

/// Microseconds since the Unix epoch; the one time unit stored in both databases.
pub fn now_micros() -> i64 {
    let now = time::OffsetDateTime::now_utc();
    (now.unix_timestamp_nanos() / 1000) as i64
}

/// ISO 8601 UTC with milliseconds, as Mastodon writes times (`2026-11-27T10:00:00.000Z`).
pub fn iso8601(micros: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(micros as i128 * 1000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}
