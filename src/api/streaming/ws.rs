//! WebSocket: `GET /api/v1/streaming`, one connection carrying many streams.
//!
//! Client → server: `{"type":"subscribe","stream":"hashtag","tag":"x","last_event_id":"41"}`
//! and `{"type":"unsubscribe",…}`. Server → client: event frames
//! `{"stream":[…],"event":…,"payload":…,"id":"<position>"}` and error frames
//! `{"error":…,"status":400}` (the connection stays open).
//!
//! Close codes: 1012 when the node shuts down (reconnect elsewhere), [`SLOW_CLOSE_CODE`]
//! (4008, "slow") when the reader fell behind past its queue limit, 1011 after two
//! unanswered pings, 1002 on a protocol error. In every case the client may resume from
//! its last position.
//!
//! The connection is one task. Frames come from the hub fully encoded (see
//! [`super::wire`]); queued frames are written in one `write` when there are several.
//! An idle connection holds no buffers.

use super::wire::{self, FrameReader, Incoming};
use super::{Start, parse_stream, replay_page, start_point};
use crate::Node;
use crate::api::error::ApiError;
use crate::api::extract::{Query, StreamCaller};
use crate::domain::StreamKey;
use crate::hub::frames::{reset_payload, ws_frame};
use crate::hub::{CONTINUATION, DirectSink};
use crate::hub::{
    Delivery, Frame, Outbox, OutboxReceiver, SLOW_CLOSE_CODE, SubscriptionGuard, Transport,
};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::{Bytes, BytesMut};
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::sync::watch;

/// How long a closing frame may wait for a slow reader's socket to accept it.
const CLOSE_GRACE: Duration = Duration::from_secs(10);
/// Frames gathered into one write.
const COALESCE: usize = 64;

#[derive(Deserialize, Default)]
pub struct WsParams {
    stream: Option<String>,
    tag: Option<String>,
    last_event_id: Option<String>,
}

#[derive(Deserialize)]
struct ClientMessage {
    #[serde(rename = "type")]
    kind: String,
    stream: Option<String>,
    tag: Option<String>,
    last_event_id: Option<serde_json::Value>,
}

/// The node's ping ticker (one for all connections, instead of a timer each); a
/// closed ticker never fires.
async fn tick(ticks: &mut watch::Receiver<u64>) {
    if ticks.changed().await.is_err() {
        std::future::pending::<()>().await;
    }
}

fn is_upgrade(headers: &HeaderMap) -> Option<String> {
    let has = |name: header::HeaderName, token: &str| {
        headers.get_all(name).iter().any(|v| {
            v.to_str()
                .is_ok_and(|s| s.split(',').any(|p| p.trim().eq_ignore_ascii_case(token)))
        })
    };
    if !has(header::UPGRADE, "websocket") || !has(header::CONNECTION, "upgrade") {
        return None;
    }
    if headers
        .get(header::SEC_WEBSOCKET_VERSION)
        .and_then(|v| v.to_str().ok())
        != Some("13")
    {
        return None;
    }
    headers
        .get(header::SEC_WEBSOCKET_KEY)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

pub async fn handler(
    State(node): State<Node>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    auth: StreamCaller,
    Query(p): Query<WsParams>,
    mut req: Request,
) -> Response {
    let Some(key) = is_upgrade(req.headers()) else {
        return ApiError::bad_request("This endpoint takes a WebSocket upgrade (version 13)")
            .into_response();
    };
    let account = auth.account_id();
    if account.is_none() && !node.config.anonymous_streams {
        return ApiError::unauthorized().into_response();
    }
    let permit = match super::permit(&node, peer.ip(), account) {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let mut res = StatusCode::SWITCHING_PROTOCOLS.into_response();
    let h = res.headers_mut();
    h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    h.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    if let Ok(v) = HeaderValue::from_str(&wire::accept_key(&key)) {
        h.insert(header::SEC_WEBSOCKET_ACCEPT, v);
    }
    // A token sent as the subprotocol must be echoed back for browsers to accept.
    let protocol = req
        .headers()
        .get(header::SEC_WEBSOCKET_PROTOCOL)
        .and_then(|v| v.to_str().ok())
        .map(|p| p.split(',').next().unwrap_or("").trim().to_string());
    if let Some(v) = protocol
        .filter(|_| account.is_some())
        .and_then(|p| HeaderValue::from_str(&p).ok())
    {
        h.insert(header::SEC_WEBSOCKET_PROTOCOL, v);
    }

    let upgrade = hyper::upgrade::on(&mut req);
    tokio::spawn(async move {
        let Ok(upgraded) = upgrade.await else { return };
        // The raw socket, shared with the hub for direct writes.
        let Ok(hyper::upgrade::Parts { io, read_buf, .. }) =
            upgraded.downcast::<TokioIo<TcpStream>>()
        else {
            tracing::error!("WebSocket upgrade on a transport that is not TCP");
            return;
        };
        let tcp = Arc::new(io.into_inner());
        let _permit = permit;
        let _gauge =
            crate::metrics::ConnectionGauge::open(node.metrics.clone(), Transport::WebSocket);
        let sink: Option<Arc<dyn DirectSink>> = node
            .config
            .direct_writes
            .then(|| Arc::new(TcpSink(tcp.clone())) as Arc<dyn DirectSink>);
        let (outbox, rx) = Outbox::new(node.config.reader_queue_bytes, sink);
        let mut reader = FrameReader::default();
        // Copy what the client sent behind its handshake, and let hyper's read buffer go.
        reader.seed(&read_buf);
        drop(read_buf);
        let mut c = Conn {
            tcp,
            node,
            account,
            outbox,
            rx,
            reader,
            subs: Vec::new(),
            next_sub: 1,
            replayed_upto: 0,
            pending: Bytes::new(),
        };
        if let Some(name) = p.stream.as_deref() {
            let msg = ClientMessage {
                kind: "subscribe".into(),
                stream: Some(name.into()),
                tag: p.tag,
                last_event_id: p.last_event_id.map(Into::into),
            };
            if Box::pin(c.on_subscribe(msg)).await.is_err() {
                return;
            }
        }
        // Boxed: the spawned task holds only what the connection needs while it waits.
        Box::pin(c.run()).await;
    });
    res
}

/// The hub's direct writes go to the socket itself, not through tokio's readiness
/// tracking: that saves two pointer hops per delivery (the stream's registration, its
/// readiness word) on the fan-out's hot path. The socket is non-blocking, so a full one
/// answers `WouldBlock` and the frame is queued; the task's own write then learns the
/// readiness from the kernel as usual.
struct TcpSink(Arc<TcpStream>);

impl DirectSink for TcpSink {
    fn try_write(&self, buf: &[u8]) -> std::io::Result<usize> {
        socket2::SockRef::from(&*self.0).send(buf)
    }
}

struct Sub {
    id: u32,
    last_sent: i64,
    /// Holds the subscription (and its stream key) in the hub.
    guard: SubscriptionGuard,
}

struct Conn {
    tcp: Arc<TcpStream>,
    node: Node,
    account: Option<i64>,
    outbox: Arc<Outbox>,
    rx: OutboxReceiver,
    reader: FrameReader,
    /// Few per connection: a Vec is smaller and faster than a map.
    subs: Vec<Sub>,
    next_sub: u32,
    /// The highest position sent from the database by a replay. Direct writes stay
    /// closed until the hub has dispatched up to it ([`Conn::hub_caught_up`]): the hub
    /// may not yet have routed an event that replay already read, and a direct write
    /// skips the duplicate filter.
    replayed_upto: i64,
    /// Bytes this task has yet to write. Writes may be interrupted (a slow reader is
    /// closed mid-write); what is left here is finished before the close frame, so the
    /// client never sees a torn frame.
    pending: Bytes,
}

type IoResult = std::io::Result<()>;

enum Step {
    Client(Result<Incoming, wire::WireError>),
    Deliver(Option<Delivery>),
    Ping,
    Overflow,
    Shutdown,
}

impl Conn {
    async fn run(mut self) {
        let shutdown = self.node.shutdown.clone();
        let outbox = self.outbox.clone();
        let mut cancelled = std::pin::pin!(shutdown.cancelled());
        let mut overflow = std::pin::pin!(outbox.overflow.notified());
        let mut ticks = self.node.ping.clone();
        let mut unanswered = 0u8;
        loop {
            // Write out what was queued, then let the hub write directly while we wait.
            let drained = tokio::select! {
                r = self.drain_queue(true) => r,
                _ = &mut overflow => return self.close(SLOW_CLOSE_CODE, "slow").await,
            };
            if drained.is_err() {
                return;
            }
            let step = tokio::select! {
                _ = &mut cancelled => Step::Shutdown,
                _ = &mut overflow => Step::Overflow,
                m = self.reader.next_tcp(&self.tcp) => Step::Client(m),
                d = self.rx.recv() => Step::Deliver(d),
                _ = tick(&mut ticks) => Step::Ping,
            };
            // From here this task writes: the hub queues instead, and whatever it had
            // begun goes out first.
            self.outbox.close_direct();
            let done: IoResult = match step {
                Step::Shutdown => return self.close(1012, "server restarting").await,
                Step::Overflow => return self.close(SLOW_CLOSE_CODE, "slow").await,
                Step::Deliver(None) => return,
                Step::Deliver(Some(d)) => {
                    tokio::select! {
                        r = self.write_deliveries(d) => r,
                        _ = &mut overflow => return self.close(SLOW_CLOSE_CODE, "slow").await,
                    }
                }
                Step::Ping => {
                    if unanswered >= 2 {
                        return self.close(1011, "no pong").await;
                    }
                    unanswered += 1;
                    self.own_write(wire::ping()).await
                }
                Step::Client(Ok(Incoming::Text(t))) => match self.drain_queue(false).await {
                    Ok(()) => Box::pin(self.on_text(&t)).await,
                    Err(e) => Err(e),
                },
                Step::Client(Ok(Incoming::Ping(p))) => self.own_write(wire::pong(&p)).await,
                Step::Client(Ok(Incoming::Pong)) => {
                    unanswered = 0;
                    Ok(())
                }
                Step::Client(Ok(Incoming::Binary)) => Ok(()),
                Step::Client(Ok(Incoming::Close(code))) => {
                    let _ = self.own_write(wire::close(code.unwrap_or(1000), "")).await;
                    return;
                }
                Step::Client(Err(wire::WireError::Protocol(why))) => {
                    return self.close(1002, why).await;
                }
                Step::Client(Err(e)) => {
                    tracing::debug!(error = %e, "client gone");
                    return;
                }
            };
            if done.is_err() {
                return;
            }
        }
    }

    async fn close(&mut self, code: u16, reason: &str) {
        self.outbox.close_direct();
        if code == SLOW_CLOSE_CODE {
            self.node
                .metrics
                .slow_closed
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        let frame = wire::close(code, reason);
        let _ = tokio::time::timeout(CLOSE_GRACE, async {
            self.flush_pending().await?;
            // A frame the hub began must be finished before the close frame.
            let head = self.rx.try_recv().filter(|d| d.sub == CONTINUATION);
            if let Some(Delivery {
                frame: Frame::Ws(rest),
                ..
            }) = head
            {
                self.pending = rest;
                self.flush_pending().await?;
            }
            self.pending = frame;
            self.flush_pending().await
        })
        .await;
    }

    /// Write out `pending`. Cancel-safe: progress is kept in `pending`.
    async fn flush_pending(&mut self) -> IoResult {
        while !self.pending.is_empty() {
            self.tcp.writable().await?;
            match self.tcp.try_write(&self.pending) {
                Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
                Ok(n) => bytes::Buf::advance(&mut self.pending, n),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Write without draining the queue first: only while subscribing, after the queue
    /// was drained and direct writes closed, so that live deliveries for the new
    /// subscription wait in the queue until its replay is done (then the duplicate
    /// filter knows how far the replay went).
    async fn raw_write(&mut self, frame: Bytes) -> IoResult {
        self.pending = frame;
        self.flush_pending().await
    }

    /// A frame of this task's own (pong, error…), after anything queued.
    async fn own_write(&mut self, frame: Bytes) -> IoResult {
        self.drain_queue(false).await?;
        self.pending = frame;
        self.flush_pending().await
    }

    /// Write everything queued; with `reopen`, end by reopening direct writes — unless
    /// a replay ran ahead of the hub (see [`Conn::replayed_upto`]).
    async fn drain_queue(&mut self, reopen: bool) -> IoResult {
        self.flush_pending().await?;
        loop {
            let next = if reopen && self.hub_caught_up() {
                self.rx.next_or_reopen()
            } else {
                self.rx.try_recv()
            };
            match next {
                Some(d) => self.write_deliveries(d).await?,
                None => return Ok(()),
            }
        }
    }

    /// Has the hub routed everything replay sent? Until then a delivery may repeat what
    /// replay wrote and must pass the duplicate filter, so the hub has to queue it.
    /// The hub publishes its position after it has queued an event everywhere, so once
    /// it is this far, whatever of replay's range came to this connection is in its
    /// queue (and is popped before direct writes reopen). While not caught up, the next
    /// delivery that is queued wakes this task, which asks again.
    fn hub_caught_up(&self) -> bool {
        let routed = self
            .node
            .hub
            .stats
            .last_position
            .load(std::sync::atomic::Ordering::Acquire);
        i64::try_from(routed).unwrap_or(i64::MAX) >= self.replayed_upto
    }

    /// Is this delivery new for its subscription? (Replay may have sent it already.)
    fn fresh(&mut self, d: &Delivery) -> bool {
        if d.sub == CONTINUATION {
            return true;
        }
        match self.subs.iter_mut().find(|s| s.id == d.sub) {
            Some(s) if d.position > s.last_sent => {
                s.last_sent = d.position;
                true
            }
            _ => false,
        }
    }

    /// Write this delivery and whatever else is already queued (up to [`COALESCE`]):
    /// one frame straight from the shared buffer, several gathered into one write.
    async fn write_deliveries(&mut self, first: Delivery) -> IoResult {
        let mut single: Option<Bytes> = None;
        let mut batch: Option<BytesMut> = None;
        let mut next = Some(first);
        let mut n = 0;
        while let Some(d) = next.take() {
            let fresh = self.fresh(&d);
            if let (true, Frame::Ws(f)) = (fresh, d.frame) {
                match (&mut single, &mut batch) {
                    (None, None) => single = Some(f),
                    (Some(s), None) => {
                        let mut b = BytesMut::with_capacity(s.len() + f.len());
                        b.extend_from_slice(s);
                        b.extend_from_slice(&f);
                        single = None;
                        batch = Some(b);
                    }
                    (_, Some(b)) => b.extend_from_slice(&f),
                }
                n += 1;
            }
            if n < COALESCE {
                next = self.rx.try_recv();
            }
        }
        self.pending = match (single, batch) {
            (Some(f), _) => f,
            (None, Some(b)) => b.freeze(),
            (None, None) => return Ok(()),
        };
        self.flush_pending().await
    }

    async fn error_frame(&mut self, status: u16, message: &str) -> IoResult {
        let text = serde_json::json!({ "error": message, "status": status }).to_string();
        self.own_write(wire::text(&text)).await
    }
    async fn on_text(&mut self, text: &str) -> IoResult {
        tracing::debug!(message = text, "client message");
        let msg: ClientMessage = match serde_json::from_str(text) {
            Ok(m) => m,
            Err(_) => return self.error_frame(400, "Invalid JSON message").await,
        };
        match msg.kind.as_str() {
            "subscribe" => self.on_subscribe(msg).await,
            "unsubscribe" => {
                let key = match parse_stream(
                    &self.node,
                    msg.stream.as_deref().unwrap_or(""),
                    msg.tag.as_deref(),
                    self.account,
                ) {
                    Ok(k) => k.key(),
                    Err((status, m)) => return self.error_frame(status, m).await,
                };
                self.subs.retain(|s| *s.guard.key != *key);
                Ok(())
            }
            _ => self.error_frame(400, "Unknown message type").await,
        }
    }

    async fn on_subscribe(&mut self, msg: ClientMessage) -> IoResult {
        let key = match parse_stream(
            &self.node,
            msg.stream.as_deref().unwrap_or(""),
            msg.tag.as_deref(),
            self.account,
        ) {
            Ok(k) => k,
            Err((status, m)) => return self.error_frame(status, m).await,
        };
        let key_s = key.key();
        if self.subs.iter().any(|s| *s.guard.key == *key_s) {
            return Ok(());
        }
        if self.subs.len() >= self.node.config.max_subscriptions {
            return self
                .error_frame(429, "Too many subscriptions on this connection")
                .await;
        }
        let last_event_id = match msg.last_event_id {
            Some(serde_json::Value::String(s)) => Some(s),
            Some(serde_json::Value::Number(n)) => Some(n.to_string()),
            _ => None,
        };
        let id = self.next_sub;
        self.next_sub += 1;
        let guard = self
            .node
            .hub
            .subscribe(&key_s, &self.outbox, id, Transport::WebSocket);
        let start = match start_point(&self.node, last_event_id.as_deref()).await {
            Ok(s) => s,
            Err(_) => {
                return self
                    .error_frame(503, "Cannot read the stream's history now")
                    .await;
            }
        };
        let wire_name = key.wire_name();
        let last_sent = match start {
            Start::Live => 0,
            Start::After(p) => {
                let upto = self.replay(&key, &wire_name, p, guard.epoch).await?;
                self.replayed_upto = self.replayed_upto.max(upto);
                upto
            }
            Start::Reset { asked, head } => {
                self.raw_write(ws_frame(
                    &wire_name,
                    "reset",
                    &reset_payload(&asked, head),
                    head,
                ))
                .await?;
                self.replayed_upto = self.replayed_upto.max(head);
                head
            }
        };
        self.subs.push(Sub {
            id,
            last_sent,
            guard,
        });
        Ok(())
    }

    /// Send the stream's events after `after` from the database; return the last sent.
    async fn replay(
        &mut self,
        key: &StreamKey,
        wire_name: &[String],
        mut after: i64,
        subscribed: u64,
    ) -> Result<i64, std::io::Error> {
        let key_s = key.key();
        loop {
            let page = match replay_page(&self.node, &key_s, after, subscribed).await {
                Ok(p) => p,
                Err(_) => {
                    let text = serde_json::json!({ "error": "Cannot read the stream's history now", "status": 503 }).to_string();
                    self.raw_write(wire::text(&text)).await?;
                    return Ok(after);
                }
            };
            let mut out = BytesMut::new();
            for e in page.iter() {
                out.extend_from_slice(&ws_frame(
                    wire_name,
                    e.kind.as_str(),
                    &e.payload,
                    e.position,
                ));
                after = e.position;
            }
            self.raw_write(out.freeze()).await?;
            if (page.len() as i64) < super::REPLAY_PAGE {
                return Ok(after);
            }
        }
    }
}
