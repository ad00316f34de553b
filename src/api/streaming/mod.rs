//! Streaming: Mastodon's multiplexed WebSocket and per-stream SSE, plus positions,
//! resume and reset.
//!
//! # Resume without gap or duplicate
//!
//! A subscription with a last position P is registered in the hub *first*, so live
//! events start queueing at once; then the stream's events after P are read from the
//! database and sent; then the queue is drained, skipping every position at or below
//! the last one sent. Positions become visible in order (see `crate::sequencer`), so
//! the database read returns every event up to some Q with none missing, and anything
//! above Q arrives through the queue.
//!
//! # Reset
//!
//! A position the server cannot serve (not a number, or beyond the newest position, as
//! after a database restore) gets one `reset` event instead of silence:
//! payload `{"reason":"unknown_position","last_event_id":"<what was asked>","position":"<head>"}`,
//! with `id: <head>` on SSE. The client reloads its view over REST; live events follow
//! from `position`.

mod sse;
mod ws;

use crate::Node;
use crate::api::Api;
use crate::api::error::{ApiError, ApiResult};
use crate::api::extract::Reader;
use crate::domain::stream::StreamError;
use crate::domain::{AccountId, Event, Position, StreamKey};
use axum::Router;
use axum::routing::get;
use std::sync::Arc;

pub const REPLAY_PAGE: i64 = 500;

pub fn router() -> Router<Api> {
    Router::new()
        .route("/api/v1/streaming", get(ws::handler))
        .route("/api/v1/streaming/health", get(|| async { "OK" }))
        .route("/api/v1/streaming/{*stream}", get(sse::handler))
}

/// Where a new subscription starts.
#[derive(Debug, Clone, PartialEq)]
pub enum Start {
    Live,
    After(Position),
    Reset { asked: String, head: Position },
}

pub async fn start_point(node: &Node, last_event_id: Option<&str>) -> ApiResult<Start> {
    let Some(asked) = last_event_id.map(str::trim) else {
        return Ok(Start::Live);
    };
    let position = Position::parse(asked);
    // What this node's hub has routed is in the database: a position up to there needs
    // no database read to be known good (a storm of resumes would each make one).
    if let Some(p) = position
        && p <= node.hub.routed_upto()
    {
        return Ok(Start::After(p));
    }
    let head = node.store.head_position().await?;
    match position {
        Some(p) if p <= head => Ok(Start::After(p)),
        _ => Ok(Start::Reset {
            asked: asked.to_string(),
            head,
        }),
    }
}

/// A page of a stream's history after `after`, for a reader whose hub subscription has
/// number `subscribed` (shared with other resumes reading the same page: see
/// [`crate::stream::replays`]).
pub async fn replay_page(
    node: &Node,
    key: &str,
    after: Position,
    subscribed: u64,
) -> ApiResult<Arc<Vec<Event>>> {
    node.replays
        .page(key, after, REPLAY_PAGE, subscribed)
        .await
        .map_err(|e| ApiError::Unavailable(e.to_string()))
}

/// What keeps a signed-in reader's connection current: the revocation of her token
/// ends it, and a block or mute she makes or meets applies to it at once. Boxed by its
/// holder, so an anonymous reader pays one pointer.
pub struct Watches {
    _token: Option<crate::stream::hub::TokenWatch>,
    _hidden: Option<crate::stream::hub::HiddenWatch>,
}

/// Register `outbox` for its token and its account, then read whom the account hides
/// (registered first, so a change committed meanwhile reaches it either way) and her
/// filters of the streams' contexts (read once, see `crate::stream::hub::Screen`).
pub async fn watch(
    node: &Node,
    outbox: &Arc<crate::stream::hub::Outbox>,
    token: Option<i64>,
    account: Option<AccountId>,
) -> ApiResult<Option<Box<Watches>>> {
    if token.is_none() && account.is_none() {
        return Ok(None);
    }
    let w = Watches {
        _token: token.map(|t| node.hub.watch_token(t, outbox)),
        _hidden: account.map(|a| node.hub.watch_hidden(a, outbox)),
    };
    if let Some(a) = account {
        let version = outbox.hidden_version();
        let hidden = node.store.hidden_authors(a).await?;
        outbox.set_hidden(hidden, version);
        let filters: Vec<_> = node
            .store
            .filters(a)
            .await?
            .into_iter()
            .filter(|f| f.contexts.iter().any(|c| c == "home" || c == "public"))
            .collect();
        outbox.set_filters(filters);
    }
    Ok(Some(Box::new(w)))
}

/// Parse a stream request, enforcing who may read it.
pub fn parse_stream(
    node: &Node,
    name: &str,
    tag: Option<&str>,
    list: Option<&str>,
    event: Option<&str>,
    reader: Reader,
) -> Result<StreamKey, (u16, &'static str)> {
    let key =
        StreamKey::parse(name, tag, list, event, reader.for_stream(name)).map_err(|e| match e {
            StreamError::NeedsToken => (401, e.message()),
            _ => (400, e.message()),
        })?;
    if key.is_public() && reader.signed_in().is_none() && !node.config.anonymous_streams {
        return Err((401, "This stream requires an access token"));
    }
    Ok(key)
}

/// How long an event read to exist is taken to exist (see [`may_open`]).
const KNOWN_EVENT: std::time::Duration = std::time::Duration::from_secs(60);
/// Events remembered at most (the memory stays bounded however many slugs are asked for).
const MAX_KNOWN_EVENTS: usize = 10_000;

/// Checks that need the store: a list stream is its owner's alone (anyone else is told
/// it does not exist); an event stream needs its event.
pub async fn may_open(
    node: &Node,
    key: &StreamKey,
    reader: Reader,
) -> Result<(), (u16, &'static str)> {
    if let StreamKey::Event(slug) = key {
        // Known for a minute once read: a storm of resumes to one event costs one read,
        // not one per reader. A deleted event is forgotten at once on the node that
        // deleted it; elsewhere a reader may subscribe to it for that minute and hear
        // nothing (nothing is written to its stream any more).
        if node
            .known_events
            .get(slug)
            .is_some_and(|at| at.elapsed() < KNOWN_EVENT)
        {
            return Ok(());
        }
        return match node.store.live_event_exists(slug).await {
            Ok(true) => {
                if node.known_events.len() >= MAX_KNOWN_EVENTS {
                    node.known_events.clear();
                }
                node.known_events
                    .insert(slug.clone(), std::time::Instant::now());
                Ok(())
            }
            Ok(false) => Err((404, "Event not found")),
            Err(_) => Err((503, "Events cannot be read just now")),
        };
    }
    if let StreamKey::List(id) = key {
        let owner = match node.store.list(*id).await {
            Ok(l) => l.map(|l| l.account_id),
            Err(_) => return Err((503, "Lists cannot be read just now")),
        };
        if owner.is_none() || owner != reader.for_stream("list") {
            return Err((404, "List not found"));
        }
    }
    Ok(())
}

pub fn stream_error(code: u16, message: &str) -> ApiError {
    match code {
        401 => ApiError::Unauthorized(message.into()),
        404 => ApiError::NotFound,
        503 => ApiError::Unavailable(message.into()),
        _ => ApiError::bad_request(message),
    }
}

/// A slot under the per-IP and per-account caps and the rate of new streams per IP,
/// or 429.
pub async fn permit(
    node: &Api,
    ip: std::net::IpAddr,
    account: Option<AccountId>,
) -> ApiResult<crate::api::limits::StreamPermit> {
    let t = node.throttles();
    if let Err(e) = t.check(&t.streams_per_ip, ip).await {
        node.metrics
            .streams_refused
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        return Err(e);
    }
    node.limits().acquire(Some(ip), account).map_err(|m| {
        node.metrics
            .streams_refused
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        ApiError::TooMany(m.into())
    })
}
