//! SSE: `GET /api/v1/streaming/{stream}`. The body opens with `:)`, sends each event
//! with `event:`, `data:` and `id: <position>`, and a `:thump` comment every heartbeat.

use super::{Start, parse_stream, replay_page, start_point, stream_error};
use crate::Node;
use crate::api::Api;
use crate::api::error::ApiResult;
use crate::api::extract::{Query, StreamCaller};
use crate::domain::Position;
use crate::stream::frames::{reset_payload, sse_block, sse_event_block};
use crate::stream::hub::{Frame, Outbox, OutboxReceiver, Screened, SubscriptionGuard, Transport};
use axum::body::Body;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::Deserialize;
use std::collections::VecDeque;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

#[derive(Deserialize)]
pub struct SseParams {
    tag: Option<String>,
    list: Option<String>,
    event: Option<String>,
    last_event_id: Option<String>,
}

struct SseState {
    node: Node,
    key: String,
    rx: OutboxReceiver,
    guard: SubscriptionGuard,
    _permit: crate::api::limits::StreamPermit,
    /// Ends the stream when the caller's token is revoked; keeps whom she hides current.
    _watches: Option<Box<super::Watches>>,
    _gauge: crate::metrics::ConnectionGauge,
    last_sent: Position,
    replay_after: Option<Position>,
    pending: VecDeque<Bytes>,
    heartbeat: tokio::time::Interval,
}

pub async fn handler(
    State(node): State<Api>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    auth: StreamCaller,
    kill: Option<axum::Extension<crate::serve::Kill>>,
    Path(stream): Path<String>,
    Query(p): Query<SseParams>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let reader = auth.reader();
    let account = reader.signed_in();
    let key = parse_stream(
        &node,
        &stream,
        p.tag.as_deref(),
        p.list.as_deref(),
        p.event.as_deref(),
        reader,
    )
    .map_err(|(c, m)| stream_error(c, m))?;
    super::may_open(&node, &key, reader)
        .await
        .map_err(|(c, m)| stream_error(c, m))?;
    let last_event_id = headers
        .get("last-event-id")
        // Not ASCII is not a position either: it gets a reset, not silence.
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .or(p.last_event_id);
    let permit = super::permit(&node, peer.ip(), account).await?;
    // The connection closes on overflow or revocation even while hyper is not polling
    // the body (a reader that stopped reading leaves its socket unwritable).
    let connection = kill.map(|k| k.0.0.clone());
    let (outbox, rx) = Outbox::with_connection(
        node.config.reader_queue_bytes,
        None,
        connection,
        account.is_some(),
    );
    let watches = super::watch(&node, &outbox, auth.token_id(), account).await?;
    let key = key.key();
    let guard = node.hub.subscribe(&key, &outbox, 0, Transport::Sse);
    let start = start_point(&node, last_event_id.as_deref()).await?;
    let mut pending = VecDeque::from([Bytes::from_static(b":)\n\n")]);
    let (last_sent, replay_after) = match start {
        Start::Live => (Position::ZERO, None),
        Start::After(p) => (p, Some(p)),
        Start::Reset { asked, head } => {
            pending.push_back(sse_block("reset", &reset_payload(&asked, head), Some(head)));
            (head, None)
        }
    };
    let period = Duration::from_secs(node.config.sse_heartbeat_secs.max(1));
    let gauge = crate::metrics::ConnectionGauge::open(node.metrics.clone(), Transport::Sse);
    let state = SseState {
        heartbeat: tokio::time::interval_at(tokio::time::Instant::now() + period, period),
        node: node.node().clone(),
        key,
        rx,
        guard,
        _permit: permit,
        _watches: watches,
        _gauge: gauge,
        last_sent,
        replay_after,
        pending,
    };
    let body = Body::from_stream(futures::stream::unfold(state, next_chunk));
    let mut res = body.into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    // A stream the server ends (revocation, overflow) also has its connection closed
    // under it; no client may take that connection back into its pool for another
    // request.
    h.insert(header::CONNECTION, HeaderValue::from_static("close"));
    Ok(res)
}

/// The next piece of the body; `None` ends the stream (shutdown, overflow, error).
async fn next_chunk(mut s: SseState) -> Option<(Result<Bytes, Infallible>, SseState)> {
    loop {
        if let Some(b) = s.pending.pop_front() {
            return Some((Ok(b), s));
        }
        if let Some(after) = s.replay_after {
            let page = replay_page(&s.node, &s.key, after, s.guard.epoch)
                .await
                .ok()?;
            s.replay_after = (page.len() as i64 == super::REPLAY_PAGE)
                .then(|| page.last().map_or(after, |e| e.position));
            for e in page.iter() {
                match s.rx.outbox.screen(&s.key, e, &mut None) {
                    Screened::Drop => {}
                    Screened::Plain => s.pending.push_back(sse_event_block(e)),
                    Screened::Marked(m) => s.pending.push_back(sse_event_block(&m)),
                }
                s.last_sent = e.position;
            }
            continue;
        }
        let outbox = s.rx.outbox.clone();
        tokio::select! {
            d = s.rx.recv() => {
                let d = d?;
                if d.position > s.last_sent {
                    s.last_sent = d.position;
                    if let Frame::Sse(b) = d.frame {
                        return Some((Ok(b), s));
                    }
                }
            }
            _ = s.heartbeat.tick() => return Some((Ok(Bytes::from_static(b":thump\n\n")), s)),
            _ = outbox.overflowed() => {
                if !outbox.is_revoked() {
                    tracing::info!(stream = %s.key, "closing a slow SSE reader");
                    s.node.metrics.slow_closed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
                return None;
            }
            _ = s.node.shutdown.cancelled() => return None,
        }
    }
}
