//! Live events: a newsroom's curated coverage of one story (an election night, an
//! earthquake), fed by hashtags.
//!
//! An event has a slug (its name in addresses and in its `event:<slug>` stream, never
//! changed), a title, a description, a state (`upcoming` → `live` → `ended`), the tags
//! that feed it, and its people: **contributors**, whose public notices with one of its
//! tags go straight into the curated feed, and **editors**, who may also feature anyone
//! else's tagged notice (an *open contribution*), remove a notice from the event without
//! deleting it, pin, mark key events ("Polls close"), edit the event and change its state.
//!
//! Everything an event's readers see changes through the event path, on the event's
//! stream: a notice entering the feed is an `update`, leaving it a `delete`, an edit a
//! `status.update`; the event's own changes are `event.update` (the event, as JSON),
//! `event.pin`/`event.unpin` and `event.key`/`event.unkey` (`{"status_id", "label",
//! "at"}`). A resume therefore replays what a reader missed, key events included; the
//! replay leaves out what is no longer in the feed (see `crate::store`).

use super::announce::NewEvent;
use super::entities::{Status, StatusRecord};
use super::event::EventKind;
use super::{AccountId, Site, StatusId, iso8601};
use serde::Serialize;

/// Longest slug, title, description and key-event label (characters).
pub const MAX_SLUG: usize = 64;
pub const MAX_TITLE: usize = 200;
pub const MAX_DESCRIPTION: usize = 5_000;
pub const MAX_LABEL: usize = 100;
/// At most this many tags feed one event, and this many people write it.
pub const MAX_TAGS: usize = 10;
pub const MAX_MEMBERS: usize = 500;
/// At most this many notices pinned at once.
pub const MAX_PINNED: usize = 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum LiveState {
    Upcoming,
    Live,
    Ended,
}

impl LiveState {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "upcoming" => Some(LiveState::Upcoming),
            "live" => Some(LiveState::Live),
            "ended" => Some(LiveState::Ended),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            LiveState::Upcoming => "upcoming",
            LiveState::Live => "live",
            LiveState::Ended => "ended",
        }
    }

    /// Events move forward only: an upcoming event goes live or is called off (ended);
    /// a live one ends; an ended one is an archive and stays so. Staying is no move.
    pub fn may_become(self, next: LiveState) -> bool {
        use LiveState::*;
        self == next
            || matches!(
                (self, next),
                (Upcoming, Live) | (Upcoming, Ended) | (Live, Ended)
            )
    }

    /// The states an event may be in to become this one (see [`Self::may_become`]).
    pub fn reached_from(self) -> &'static [LiveState] {
        use LiveState::*;
        match self {
            Upcoming => &[Upcoming],
            Live => &[Upcoming, Live],
            Ended => &[Upcoming, Live, Ended],
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LiveRole {
    Contributor,
    Editor,
}

impl LiveRole {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "contributor" => Some(LiveRole::Contributor),
            "editor" => Some(LiveRole::Editor),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            LiveRole::Contributor => "contributor",
            LiveRole::Editor => "editor",
        }
    }
}

/// Where a notice stands in an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LivePlace {
    Curated,
    Open,
    Removed,
}

impl LivePlace {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "curated" => Some(LivePlace::Curated),
            "open" => Some(LivePlace::Open),
            "removed" => Some(LivePlace::Removed),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct LiveEventRecord {
    pub id: i64,
    pub slug: String,
    pub title: String,
    pub description: String,
    pub state: LiveState,
    pub starts_at: Option<i64>,
    pub ends_at: Option<i64>,
    pub tags: Vec<String>,
    pub created_by: AccountId,
    pub created_at: i64,
    pub updated_at: i64,
}

impl LiveEventRecord {
    /// The key of its stream (see [`super::StreamKey::Event`]).
    pub fn stream(&self) -> String {
        stream_key(&self.slug)
    }
}

pub fn stream_key(slug: &str) -> String {
    format!("event:{slug}")
}

/// A slug: 1 to [`MAX_SLUG`] of `a-z`, `0-9` and `-`, neither first nor last a `-`.
pub fn is_slug(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_SLUG
        && !s.starts_with('-')
        && !s.ends_with('-')
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// The event as the API shows it.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct LiveEvent {
    pub id: String,
    pub slug: String,
    pub title: String,
    pub description: String,
    pub state: LiveState,
    pub starts_at: Option<String>,
    pub ends_at: Option<String>,
    pub tags: Vec<String>,
    pub url: String,
    pub created_at: String,
    pub updated_at: String,
}

impl LiveEvent {
    pub fn render(e: &LiveEventRecord, site: &Site) -> Self {
        LiveEvent {
            id: e.id.to_string(),
            slug: e.slug.clone(),
            title: e.title.clone(),
            description: e.description.clone(),
            state: e.state,
            starts_at: e.starts_at.map(iso8601),
            ends_at: e.ends_at.map(iso8601),
            tags: e.tags.clone(),
            url: format!("{}/events/{}", site.base_url, e.slug),
            created_at: iso8601(e.created_at),
            updated_at: iso8601(e.updated_at),
        }
    }
}

/// A key event: a curated notice marked with a short label.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyEventRecord {
    pub status_id: StatusId,
    pub label: String,
    pub at: i64,
}

/// A pin or key mark as its stream event carries it.
#[derive(Serialize)]
struct Mark<'a> {
    status_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    label: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    at: Option<String>,
}

/// What a change to an event tells its readers, on `event:<slug>`.
pub struct LiveNews;

impl LiveNews {
    /// The event itself changed (title, description, state, times, tags).
    pub fn changed(e: &LiveEventRecord, site: &Site) -> NewEvent {
        NewEvent {
            kind: EventKind::EventUpdate,
            payload: serde_json::to_string(&LiveEvent::render(e, site)).unwrap_or_default(),
            streams: vec![e.stream()],
            status_id: None,
            author_id: None,
        }
    }

    /// A notice entered the curated feed (featured by an editor).
    pub fn featured(slug: &str, s: &StatusRecord, site: &Site) -> NewEvent {
        NewEvent {
            kind: EventKind::Update,
            payload: Status::payload(s, site),
            streams: vec![stream_key(slug)],
            status_id: Some(s.id),
            author_id: Some(s.account.id),
        }
    }

    /// A notice left the feed (the notice itself stays).
    pub fn removed(slug: &str, s: &StatusRecord) -> NewEvent {
        NewEvent::withdrawn(s.id, s.account.id, vec![stream_key(slug)])
    }

    /// Pinned (`on`) or unpinned.
    pub fn pinned(slug: &str, s: &StatusRecord, on: bool) -> NewEvent {
        Self::mark(
            slug,
            s,
            if on {
                EventKind::EventPin
            } else {
                EventKind::EventUnpin
            },
            None,
        )
    }

    /// Marked as a key event (`Some`), or unmarked.
    pub fn keyed(slug: &str, s: &StatusRecord, key: Option<&KeyEventRecord>) -> NewEvent {
        match key {
            Some(k) => Self::mark(slug, s, EventKind::EventKey, Some((&k.label, k.at))),
            None => Self::mark(slug, s, EventKind::EventUnkey, None),
        }
    }

    fn mark(slug: &str, s: &StatusRecord, kind: EventKind, label: Option<(&str, i64)>) -> NewEvent {
        let m = Mark {
            status_id: s.id.to_string(),
            label: label.map(|l| l.0),
            at: label.map(|l| iso8601(l.1)),
        };
        NewEvent {
            kind,
            payload: serde_json::to_string(&m).unwrap_or_default(),
            streams: vec![stream_key(slug)],
            // About its notice: deleting the notice blanks the mark from history, and a
            // suspended author's marks are left out of replays with her notices.
            status_id: Some(s.id),
            author_id: Some(s.account.id),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_only_move_forward() {
        use LiveState::*;
        assert!(Upcoming.may_become(Live));
        assert!(Upcoming.may_become(Ended));
        assert!(Live.may_become(Ended));
        assert!(Live.may_become(Live));
        assert!(!Live.may_become(Upcoming));
        assert!(!Ended.may_become(Live));
        assert!(!Ended.may_become(Upcoming));
        for to in [Upcoming, Live, Ended] {
            for from in [Upcoming, Live, Ended] {
                assert_eq!(to.reached_from().contains(&from), from.may_become(to));
            }
        }
    }

    #[test]
    fn slugs_are_plain() {
        for good in ["election-2026", "a", "quake9"] {
            assert!(is_slug(good), "{good}");
        }
        for bad in [
            "",
            "-a",
            "a-",
            "Élection",
            "a b",
            "a/b",
            "UPPER",
            &"x".repeat(65),
        ] {
            assert!(!is_slug(bad), "{bad}");
        }
    }
}
