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
    /// Not for readers: a token was revoked (payload: its id). It travels the event path
    /// so that every node closes that token's streams; it belongs to no stream.
    #[serde(rename = "tidings.revoke")]
    Revoke,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Update => "update",
            EventKind::StatusUpdate => "status.update",
            EventKind::Delete => "delete",
            EventKind::Revoke => "tidings.revoke",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "update" => Some(EventKind::Update),
            "status.update" => Some(EventKind::StatusUpdate),
            "delete" => Some(EventKind::Delete),
            "tidings.revoke" => Some(EventKind::Revoke),
            _ => None,
        }
    }
}

/// A positioned event. `payload` is what goes into the `payload` field (WebSocket) or the
/// `data:` line (SSE): Status JSON on one line, or the bare id of a deleted notice. It is
/// rendered once, inside the writing transaction, and never again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub position: i64,
    pub kind: EventKind,
    pub payload: Arc<str>,
    /// Keys of every stream this event belongs to (see [`crate::domain::StreamKey`]).
    pub streams: Vec<Arc<str>>,
    /// When the change was committed (microseconds since the epoch): relay lag is
    /// measured from here.
    #[serde(default)]
    pub committed_at: i64,
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
