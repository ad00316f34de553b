//! An event is one change that readers must see, with its position in the global log.

use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// The kinds of events that travel to streams, named as on Mastodon's wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum EventKind {
    #[serde(rename = "update")]
    Update,
    #[serde(rename = "status.update")]
    StatusUpdate,
    #[serde(rename = "delete")]
    Delete,
    /// For one account: a [`crate::domain::entities::Notification`].
    #[serde(rename = "notification")]
    Notification,
    /// For one account: a [`crate::domain::entities::Conversation`] with a new notice.
    #[serde(rename = "conversation")]
    Conversation,
    /// For every signed-in reader's `user` stream: an `Announcement`, new or changed.
    #[serde(rename = "announcement")]
    Announcement,
    /// The count of one emoji on an announcement changed: `{name, count, announcement_id}`.
    #[serde(rename = "announcement.reaction")]
    AnnouncementReaction,
    /// An announcement was withdrawn (payload: its id).
    #[serde(rename = "announcement.delete")]
    AnnouncementDelete,
    /// Not for readers: whom an account no longer sees changed (a block or mute, made or
    /// undone). Payload: [`Hidden`] as JSON. It travels the event path so that every
    /// node's open streams of that account apply it at once.
    #[serde(rename = "tidings.hidden")]
    Hidden,
    /// Not for readers: a token was revoked (payload: its id). It travels the event path
    /// so that every node closes that token's streams; it belongs to no stream.
    #[serde(rename = "tidings.revoke")]
    Revoke,
    /// For a live event's stream: the event itself changed (title, state, …); payload:
    /// the event (see [`crate::domain::live::LiveEvent`]).
    #[serde(rename = "event.update")]
    EventUpdate,
    /// A notice was pinned in a live event (`{"status_id"}`), or unpinned.
    #[serde(rename = "event.pin")]
    EventPin,
    #[serde(rename = "event.unpin")]
    EventUnpin,
    /// A notice was marked a key event (`{"status_id","label","at"}`), or unmarked.
    #[serde(rename = "event.key")]
    EventKey,
    #[serde(rename = "event.unkey")]
    EventUnkey,
    /// Not for readers: an account's or a domain's standing changed in a way that takes
    /// notices into or out of public places (a suspension, a silence, a domain block, or
    /// their lifting; payload: who). Its one stream, [`STANDING`], has no readers: pollers'
    /// `ETag`s carry its head (see `crate::stream::heads`).
    #[serde(rename = "tidings.standing")]
    Standing,
}

/// The stream of [`EventKind::Standing`] events (no reader can subscribe to it).
pub const STANDING: &str = "tidings:standing";

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Update => "update",
            EventKind::StatusUpdate => "status.update",
            EventKind::Delete => "delete",
            EventKind::Notification => "notification",
            EventKind::Conversation => "conversation",
            EventKind::Announcement => "announcement",
            EventKind::AnnouncementReaction => "announcement.reaction",
            EventKind::AnnouncementDelete => "announcement.delete",
            EventKind::Revoke => "tidings.revoke",
            EventKind::Hidden => "tidings.hidden",
            EventKind::EventUpdate => "event.update",
            EventKind::EventPin => "event.pin",
            EventKind::EventUnpin => "event.unpin",
            EventKind::EventKey => "event.key",
            EventKind::EventUnkey => "event.unkey",
            EventKind::Standing => "tidings.standing",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "update" => Some(EventKind::Update),
            "status.update" => Some(EventKind::StatusUpdate),
            "delete" => Some(EventKind::Delete),
            "notification" => Some(EventKind::Notification),
            "conversation" => Some(EventKind::Conversation),
            "announcement" => Some(EventKind::Announcement),
            "announcement.reaction" => Some(EventKind::AnnouncementReaction),
            "announcement.delete" => Some(EventKind::AnnouncementDelete),
            "tidings.revoke" => Some(EventKind::Revoke),
            "tidings.hidden" => Some(EventKind::Hidden),
            "event.update" => Some(EventKind::EventUpdate),
            "event.pin" => Some(EventKind::EventPin),
            "event.unpin" => Some(EventKind::EventUnpin),
            "event.key" => Some(EventKind::EventKey),
            "event.unkey" => Some(EventKind::EventUnkey),
            "tidings.standing" => Some(EventKind::Standing),
            _ => None,
        }
    }
}

/// A place in the global event log. Positions start at 1 and are given in commit order,
/// without gaps, by the one sequencer (see `crate::sequencer`); [`Position::ZERO`] is
/// "before everything", where a reader with nothing yet resumes from.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Position(i64);

impl Position {
    pub const ZERO: Position = Position(0);

    /// A position as stored in the database; `None` below zero.
    pub fn new(p: i64) -> Option<Position> {
        (p >= 0).then_some(Position(p))
    }

    /// A position a client sent (`Last-Event-ID`, `last_event_id`): digits only.
    pub fn parse(s: &str) -> Option<Position> {
        s.parse::<i64>().ok().and_then(Position::new)
    }

    /// As stored and bound in SQL.
    pub fn get(self) -> i64 {
        self.0
    }

    /// The position right after this one.
    pub fn next(self) -> Position {
        Position(self.0.saturating_add(1))
    }

    /// The position right before this one (none before [`Position::ZERO`]).
    pub fn prev(self) -> Position {
        Position((self.0 - 1).max(0))
    }

    /// How many positions lie after `earlier` up to this one.
    pub fn since(self, earlier: Position) -> i64 {
        self.0 - earlier.0
    }
}

impl From<Position> for i64 {
    fn from(p: Position) -> i64 {
        p.0
    }
}

impl std::fmt::Display for Position {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// A positioned event. `payload` is what goes into the `payload` field (WebSocket) or the
/// `data:` line (SSE): Status JSON on one line, or the bare id of a deleted notice. It is
/// rendered once, inside the writing transaction, and never again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub position: Position,
    pub kind: EventKind,
    pub payload: Arc<str>,
    /// Keys of every stream this event belongs to (see [`crate::domain::StreamKey`]).
    pub streams: Vec<Arc<str>>,
    /// When the change was committed (microseconds since the epoch): relay lag is
    /// measured from here.
    #[serde(default)]
    pub committed_at: i64,
    /// Who wrote the notice it carries: a reader who blocked or muted her, or whom she
    /// blocked, is not sent it (see `crate::stream::hub::Hidden`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<crate::domain::AccountId>,
    /// Its row in the store (`events.id`): lets the node that wrote it know when its hub
    /// has routed it (see [`crate::stream::heads::Unrouted`]). 0 when not known.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub id: i64,
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

/// The payload of a [`EventKind::Hidden`] event: every account `account` no longer sees.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hidden {
    pub account: crate::domain::AccountId,
    pub hidden: Vec<crate::domain::AccountId>,
}

/// Stream keys are stored space-separated; keys never contain spaces.
pub fn join_streams(keys: &[String]) -> String {
    keys.join(" ")
}

pub fn split_streams(s: &str) -> Vec<Arc<str>> {
    s.split(' ')
        .filter(|k| !k.is_empty())
        .map(Arc::from)
        .collect()
}
