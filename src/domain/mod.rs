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
/// The calendar is `time`'s; the digits are written here: `format!` with seven padded
/// fields cost ~4,000 instructions a time (callgrind), and every notice rendered has
/// two or three times (BENCHMARKS.md, issue 18).
pub fn iso8601(micros: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(micros as i128 * 1000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let (year, month, day) = t.to_calendar_date();
    let (hour, minute, second, milli) = t.to_hms_milli();
    if !(0..=9999).contains(&year) {
        // Outside four digits (never stored by us; remote JSON is bounded): `time`'s own.
        return format!(
            "{year:04}-{:02}-{day:02}T{hour:02}:{minute:02}:{second:02}.{milli:03}Z",
            u8::from(month)
        );
    }
    let mut out = [0u8; 24];
    let mut put = |at: usize, width: usize, mut n: u32| {
        for i in (0..width).rev() {
            out[at + i] = b'0' + (n % 10) as u8;
            n /= 10;
        }
    };
    put(0, 4, year as u32);
    put(5, 2, u8::from(month).into());
    put(8, 2, day.into());
    put(11, 2, hour.into());
    put(14, 2, minute.into());
    put(17, 2, second.into());
    put(20, 3, milli.into());
    for (at, c) in [
        (4, b'-'),
        (7, b'-'),
        (10, b'T'),
        (13, b':'),
        (16, b':'),
        (19, b'.'),
        (23, b'Z'),
    ] {
        out[at] = c;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::iso8601;

    /// What `iso8601` wrote before its digits were written by hand.
    fn by_format(micros: i64) -> String {
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

    #[test]
    fn times_are_written_as_mastodon_writes_them() {
        assert_eq!(iso8601(1_795_773_600_000_000), "2026-11-27T10:00:00.000Z");
        assert_eq!(iso8601(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso8601(-1), "1969-12-31T23:59:59.999Z");
        assert_eq!(iso8601(951_782_400_123_456), "2000-02-29T00:00:00.123Z");
        // Every kind of field boundary, and a spread of instants, as the formatter wrote.
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut samples = vec![
            i64::MIN,
            i64::MAX,
            253_402_300_799_999_999,
            -62_135_596_800_000_000,
            -65_000_000_000_000_000,
        ];
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            samples.push((x % 8_000_000_000_000_000) as i64 - 2_000_000_000_000_000);
        }
        for m in samples {
            assert_eq!(iso8601(m), by_format(m), "at {m} µs");
        }
    }
}
