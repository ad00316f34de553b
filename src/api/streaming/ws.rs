//! WebSocket: `GET /api/v1/streaming`, one connection carrying many streams.
//!
//! Client → server: `{"type":"subscribe","stream":"hashtag","tag":"x","last_event_id":"41"}`
//! and `{"type":"unsubscribe",…}`. Server → client: event frames
//! `{"stream":[…],"event":…,"payload":…,"id":"<position>"}` and error frames
//! `{"error":…,"status":400}` (the connection stays open).
//!
//! Handshake: a request that is not a WebSocket upgrade over HTTP/1.1, or whose
//! `Sec-WebSocket-Key` is not 16 bytes of base64, gets 400; another
//! `Sec-WebSocket-Version` gets 426 with `Sec-WebSocket-Version: 13`; each with a
//! `{"error": …}` body. A connection that could not be taken over after a 101 (one not
//! accepted by [`crate::serve`]) is refused before it: 503.
//!
//! Close codes the server sends:
//! - 1002 on a protocol error, 1007 on text or a close reason that is not UTF-8, 1009
//!   on a message over the size limit (see [`crate::stream::wire`]);
//! - [`REVOKED_CLOSE_CODE`] (1008, "access revoked") when the token the connection was
//!   opened with is revoked, on whichever node (the revocation travels the event path).
//! - [`SLOW_CLOSE_CODE`] (4008, "slow") when the reader fell behind past its queue
//!   limit, or took nothing for [`WRITE_STALL`] (a reader that stopped reading, or
//!   floods pings without reading the pongs);
//! - 1011 after two unanswered pings (a silent client lasts 60–90 s: pings go out
//!   every 30 s, from the first tick after it connected);
//! - 1012 when the node shuts down (reconnect elsewhere);
//! - the client's own code, echoed, when it closes (only codes a client may send
//!   reach that far); 1000 when its close frame had none.
//!
//! A frame begun is always finished before the close frame. A reader that takes nothing
//! for the close grace is let go: what is left is handed to the kernel, or, if it cannot
//! be, the connection is reset — never a clean end after part of a frame. In every case
//! the client may resume from its last position.
//!
//! The connection is one task. Frames come from the hub fully encoded (see
//! [`crate::stream::wire`]); queued frames are written in one `write` when there are several.
//! An idle connection holds no buffers.

use super::{Start, parse_stream, replay_page, start_point};
use crate::Node;
use crate::api::Api;
use crate::api::error::ApiError;
use crate::api::extract::{Query, Reader, StreamCaller};
use crate::domain::{Position, StreamKey};
use crate::stream::frames::{reset_payload, ws_frame};
use crate::stream::hub::{CONTINUATION, DirectSink, Screened};
use crate::stream::hub::{
    Delivery, Frame, Outbox, OutboxReceiver, SLOW_CLOSE_CODE, SubscriptionGuard, Transport,
};
use crate::stream::wire::{self, FrameReader, Incoming};
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

/// Close code when the connection's token is revoked (RFC 6455 "policy violation").
pub const REVOKED_CLOSE_CODE: u16 = 1008;

/// How long a closing frame may wait for a slow reader's socket to accept it.
const CLOSE_GRACE: Duration = Duration::from_secs(10);
/// The same on shutdown: the node waits for its connections only a few seconds.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);
/// How long any write may wait for a socket that takes nothing: a reader that stopped
/// reading (or floods pings without reading the pongs) is closed after this.
const WRITE_STALL: Duration = Duration::from_secs(10);
/// The error frame of a subscription whose history could not be read (it is dropped).
const HISTORY_UNAVAILABLE: &str =
    r#"{"error":"Cannot read the stream's history now","status":503}"#;
/// Frames gathered into one write.
const COALESCE: usize = 64;

#[derive(Deserialize, Default)]
pub struct WsParams {
    stream: Option<String>,
    tag: Option<String>,
    list: Option<String>,
    event: Option<String>,
    last_event_id: Option<String>,
}

#[derive(Deserialize)]
struct ClientMessage {
    #[serde(rename = "type")]
    kind: String,
    stream: Option<String>,
    tag: Option<String>,
    /// A list's id, as a string or a number.
    list: Option<serde_json::Value>,
    /// A live event's slug.
    event: Option<String>,
    last_event_id: Option<serde_json::Value>,
}

impl ClientMessage {
    fn list(&self) -> Option<String> {
        match &self.list {
            Some(serde_json::Value::String(s)) => Some(s.clone()),
            Some(serde_json::Value::Number(n)) => Some(n.to_string()),
            _ => None,
        }
    }
}

/// The node's ping ticker (one for all connections, instead of a timer each); a
/// closed ticker never fires.
async fn tick(ticks: &mut watch::Receiver<u64>) {
    if ticks.changed().await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// Why a handshake is refused (RFC 6455 §4.2.1, §4.2.2, §4.4).
#[derive(Debug, PartialEq)]
enum Refusal {
    /// Not a WebSocket upgrade, a key that is not 16 bytes of base64, HTTP/1.0: 400.
    BadRequest(&'static str),
    /// Another version of the protocol: 426 with the version we speak.
    Version,
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        match self {
            Refusal::BadRequest(m) => ApiError::bad_request(m).into_response(),
            Refusal::Version => (
                StatusCode::UPGRADE_REQUIRED,
                [(
                    header::SEC_WEBSOCKET_VERSION,
                    HeaderValue::from_static("13"),
                )],
                axum::Json(serde_json::json!({
                    "error": "This endpoint speaks WebSocket version 13"
                })),
            )
                .into_response(),
        }
    }
}

/// The client's `Sec-WebSocket-Key`, once the request is a WebSocket version 13 upgrade
/// over HTTP/1.1 or later.
fn handshake_key(version: axum::http::Version, headers: &HeaderMap) -> Result<String, Refusal> {
    use base64::Engine;
    let has = |name: header::HeaderName, token: &str| {
        headers.get_all(name).iter().any(|v| {
            v.to_str()
                .is_ok_and(|s| s.split(',').any(|p| p.trim().eq_ignore_ascii_case(token)))
        })
    };
    if !has(header::UPGRADE, "websocket") || !has(header::CONNECTION, "upgrade") {
        return Err(Refusal::BadRequest(
            "This endpoint takes a WebSocket upgrade (version 13)",
        ));
    }
    if version < axum::http::Version::HTTP_11 {
        return Err(Refusal::BadRequest("A WebSocket upgrade needs HTTP/1.1"));
    }
    if headers
        .get(header::SEC_WEBSOCKET_VERSION)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        != Some("13")
    {
        return Err(Refusal::Version);
    }
    let key = headers
        .get(header::SEC_WEBSOCKET_KEY)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .unwrap_or("");
    match base64::engine::general_purpose::STANDARD.decode(key) {
        Ok(nonce) if nonce.len() == 16 => Ok(key.to_string()),
        _ => Err(Refusal::BadRequest(
            "Sec-WebSocket-Key must be 16 bytes in base64",
        )),
    }
}

pub async fn handler(
    State(node): State<Api>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    auth: StreamCaller,
    Query(p): Query<WsParams>,
    mut req: Request,
) -> Response {
    let key = match handshake_key(req.version(), req.headers()) {
        Ok(k) => k,
        Err(r) => return r.into_response(),
    };
    // Only a connection that `serve` accepted can be taken over after a 101 (it hands
    // back the plain socket the hub writes to): anywhere else, refuse while we can
    // still answer, rather than switch protocols and then drop the connection.
    let can_take_over = req.extensions().get::<crate::serve::TakeOver>().is_some()
        && req
            .extensions()
            .get::<hyper::upgrade::OnUpgrade>()
            .is_some();
    if !can_take_over {
        return ApiError::Unavailable(
            "WebSocket is not available on this connection; use the SSE endpoints".into(),
        )
        .into_response();
    }
    let caller = auth.reader();
    let account = caller.signed_in();
    let token_id = auth.token_id();
    if account.is_none() && !node.config.anonymous_streams {
        return ApiError::unauthorized().into_response();
    }
    let permit = match super::permit(&node, peer.ip(), account).await {
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
        let hyper::upgrade::Parts { io, read_buf, .. } =
            match upgraded.downcast::<TokioIo<TcpStream>>() {
                Ok(parts) => parts,
                Err(other) => {
                    tracing::error!("WebSocket upgrade on a transport that is not TCP");
                    // Say so rather than vanish: the client may try another node.
                    use tokio::io::AsyncWriteExt;
                    let mut io = TokioIo::new(other);
                    let bye = wire::close(1011, "unsupported transport");
                    let _ = tokio::time::timeout(CLOSE_GRACE, async {
                        io.write_all(&bye).await?;
                        io.shutdown().await
                    })
                    .await;
                    return;
                }
            };
        let tcp = Arc::new(io.into_inner());
        let gauge =
            crate::metrics::ConnectionGauge::open(node.metrics.clone(), Transport::WebSocket);
        let sink: Option<Arc<dyn DirectSink>> = node
            .config
            .direct_writes
            .then(|| Arc::new(TcpSink(tcp.clone())) as Arc<dyn DirectSink>);
        let (outbox, rx) = Outbox::with_connection(
            node.config.reader_queue_bytes,
            sink,
            None,
            account.is_some(),
        );
        let mut reader = FrameReader::default();
        // Copy what the client sent behind its handshake, and let hyper's read buffer go.
        reader.seed(&read_buf);
        drop(read_buf);
        let watches = match super::watch(&node, &outbox, token_id, account).await {
            Ok(w) => w,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read whom a reader hides; closing");
                // Best effort: a close frame this small fits any fresh socket's buffer.
                let _ = tcp.try_write(&wire::close(1011, "try again"));
                return;
            }
        };
        let mut c = Conn {
            tcp,
            node: node.node().clone(),
            caller,
            _watches: watches,
            _permit: permit,
            _gauge: gauge,
            outbox,
            rx,
            reader,
            subs: Vec::new(),
            next_sub: 1,
            replayed_upto: Position::ZERO,
            pending: Bytes::new(),
        };
        if let Some(name) = p.stream.as_deref() {
            let msg = ClientMessage {
                kind: "subscribe".into(),
                stream: Some(name.into()),
                tag: p.tag,
                list: p.list.map(serde_json::Value::String),
                event: p.event,
                last_event_id: p.last_event_id.map(Into::into),
            };
            if Box::pin(c.on_subscribe(msg)).await.is_err() {
                return;
            }
        }
        // A task of its own, sized for what the connection needs while it waits: awaited
        // here, it would live inside this task, whose allocation is as large as its largest
        // state (the upgrade, the first subscription) for the connection's whole life.
        tokio::spawn(c.run());
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
    last_sent: Position,
    /// Holds the subscription (and its stream key) in the hub.
    guard: SubscriptionGuard,
}

struct Conn {
    tcp: Arc<TcpStream>,
    node: Node,
    caller: Reader,
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
    replayed_upto: Position,
    /// Its slots under the per-IP and per-account stream caps, and in the gauge.
    _permit: crate::api::limits::StreamPermit,
    _gauge: crate::metrics::ConnectionGauge,
    /// Registered under the caller's token (a revocation closes the connection, 1008)
    /// and her account (a block or mute applies at once). Boxed: an anonymous reader pays
    /// one pointer.
    _watches: Option<Box<super::Watches>>,
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
}

/// What the connection does after a step.
enum Flow {
    Continue,
    /// Say goodbye with this code and reason.
    Close(u16, &'static str),
    /// The client is gone, or has been answered: just end.
    End,
}

impl Conn {
    async fn run(mut self) {
        let shutdown = self.node.shutdown.clone();
        let outbox = self.outbox.clone();
        let mut cancelled = std::pin::pin!(shutdown.cancelled());
        let mut ticks = self.node.ping.clone();
        // The node's ticker has ticked before: a new connection waits for the next tick,
        // not the one it was born after (so a silent client lasts 60–90 s, as documented).
        ticks.borrow_and_update();
        let mut unanswered = 0u8;
        loop {
            // Write out what was queued, then let the hub write directly while we wait.
            // Every write races shutdown and overflow, and gives up on a reader that
            // takes nothing for WRITE_STALL (see `flush_pending`).
            // Boxed, as `act` below: the states of writing live on the heap while a
            // connection writes, and the task of every idle one is that much smaller
            // (1,456 bytes unboxed; BENCHMARKS.md, issue 18).
            let flow = tokio::select! {
                r = Box::pin(self.drain_queue(true)) => r.map(|()| Flow::Continue),
                _ = &mut cancelled => Ok(Flow::Close(1012, "server restarting")),
                _ = outbox.overflowed() => Ok(Flow::Close(SLOW_CLOSE_CODE, "slow")),
            };
            if self.settle(flow).await {
                return;
            }
            let step = tokio::select! {
                _ = &mut cancelled => Err(Flow::Close(1012, "server restarting")),
                _ = outbox.overflowed() => Err(Flow::Close(SLOW_CLOSE_CODE, "slow")),
                m = self.reader.next_tcp(&self.tcp) => Ok(Step::Client(m)),
                d = self.rx.recv() => Ok(Step::Deliver(d)),
                _ = tick(&mut ticks) => Ok(Step::Ping),
            };
            // From here this task writes: the hub queues instead, and whatever it had
            // begun goes out first.
            self.outbox.close_direct();
            let flow = match step {
                Err(flow) => Ok(flow),
                Ok(step) => tokio::select! {
                    r = Box::pin(self.act(step, &mut unanswered)) => r,
                    _ = &mut cancelled => Ok(Flow::Close(1012, "server restarting")),
                    _ = outbox.overflowed() => Ok(Flow::Close(SLOW_CLOSE_CODE, "slow")),
                },
            };
            if self.settle(flow).await {
                return;
            }
        }
    }

    /// Carry out a step's outcome; `true` when the connection is over.
    async fn settle(&mut self, flow: std::io::Result<Flow>) -> bool {
        match flow {
            Ok(Flow::Continue) => return false,
            // Boxed: a closing connection's timers stay out of every open one's task.
            Ok(Flow::Close(code, reason)) => Box::pin(self.close(code, reason)).await,
            Ok(Flow::End) => {}
            // The reader took nothing for WRITE_STALL: waiting for the close frame to go
            // out as well would only double the wait.
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
                self.count_slow();
                self.let_go(Some(wire::close(SLOW_CLOSE_CODE, "slow")));
            }
            Err(e) => tracing::debug!(error = %e, "client gone"),
        }
        true
    }

    /// One step of the connection: a client message, deliveries, or a ping.
    async fn act(&mut self, step: Step, unanswered: &mut u8) -> std::io::Result<Flow> {
        match step {
            Step::Deliver(None) => return Ok(Flow::End),
            Step::Deliver(Some(d)) => self.write_deliveries(d).await?,
            Step::Ping => {
                if *unanswered >= 2 {
                    return Ok(Flow::Close(1011, "no pong"));
                }
                *unanswered += 1;
                self.own_write(wire::ping()).await?;
            }
            Step::Client(Ok(Incoming::Text(t))) => {
                self.drain_queue(false).await?;
                Box::pin(self.on_text(&t)).await?;
            }
            Step::Client(Ok(Incoming::Ping(p))) => self.own_write(wire::pong(&p)).await?,
            Step::Client(Ok(Incoming::Pong)) => *unanswered = 0,
            Step::Client(Ok(Incoming::Binary)) => {}
            Step::Client(Ok(Incoming::Close(code))) => {
                // The reader checked the code: it is one we may echo.
                self.own_write(wire::close(code.unwrap_or(1000), ""))
                    .await?;
                return Ok(Flow::End);
            }
            Step::Client(Err(e)) => {
                return Ok(match e.close_code() {
                    Some((code, why)) => Flow::Close(code, why),
                    None => {
                        tracing::debug!(error = %e, "client gone");
                        Flow::End
                    }
                });
            }
        }
        Ok(Flow::Continue)
    }

    fn count_slow(&self) {
        self.node
            .metrics
            .slow_closed
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// Finish any frame begun, send the close frame, and end. A reader that takes
    /// nothing for the grace is let go without waiting longer (see [`Conn::let_go`]).
    async fn close(&mut self, code: u16, reason: &str) {
        self.outbox.close_direct();
        // A revocation wakes the connection as an overflow does; it is not slowness.
        let (code, reason) = if code == SLOW_CLOSE_CODE && self.outbox.is_revoked() {
            (REVOKED_CLOSE_CODE, "access revoked")
        } else {
            (code, reason)
        };
        if code == SLOW_CLOSE_CODE {
            self.count_slow();
        }
        // On shutdown the node waits for its connections only a few seconds.
        let grace = if code == 1012 {
            SHUTDOWN_GRACE
        } else {
            CLOSE_GRACE
        };
        let mut frame = Some(wire::close(code, reason));
        let sent = tokio::time::timeout(grace, async {
            self.take_continuation();
            self.flush_pending().await?;
            self.pending = frame.take().unwrap_or_default();
            self.flush_pending().await
        })
        .await;
        if !matches!(sent, Ok(Ok(()))) {
            self.let_go(frame);
        }
    }

    /// A frame the hub began writing directly must be finished before anything else.
    fn take_continuation(&mut self) {
        if !self.pending.is_empty() {
            return;
        }
        if let Some(Delivery {
            sub: CONTINUATION,
            frame: Frame::Ws(rest),
            ..
        }) = self.rx.try_recv()
        {
            self.pending = rest;
        }
    }

    /// End a connection whose reader stopped taking bytes, never leaving a torn frame
    /// followed by a clean end: whatever is left of the frame being written, and the
    /// close frame, are handed to the kernel — its send buffer made larger for them if
    /// need be — which delivers them after we let go, should the reader resume. If they
    /// do not fit, the connection is reset, so the reader sees an error and not an end
    /// in the middle of a frame.
    fn let_go(&mut self, close: Option<Bytes>) {
        self.outbox.close_direct();
        self.take_continuation();
        let left = self.pending.len() + close.as_ref().map_or(0, Bytes::len);
        if left == 0 {
            return;
        }
        let frame_left = self.pending.len();
        let mut rest = BytesMut::with_capacity(left);
        rest.extend_from_slice(&self.pending);
        if let Some(c) = &close {
            rest.extend_from_slice(c);
        }
        self.pending = Bytes::new();
        let sock = socket2::SockRef::from(&*self.tcp);
        let mut written = write_now(&sock, &rest);
        if written < rest.len() {
            // SO_SNDBUF is doubled by the kernel and capped at `wmem_max`; asking for the
            // current size plus what is left only ever grows it.
            if let Ok(size) = sock.send_buffer_size() {
                let _ = sock.set_send_buffer_size(size / 2 + rest.len() + 4096);
                if sock.send_buffer_size().is_ok_and(|now| now > size) {
                    written += write_now(&sock, &rest[written..]);
                }
            }
        }
        // Whole frames only: the frame being written finished, and the close frame
        // whole or not at all (ending without one is allowed). Otherwise reset (linger
        // 0) rather than end cleanly after a torn frame.
        if written != frame_left && written != rest.len() {
            let _ = sock.set_linger(Some(Duration::ZERO));
        }
    }

    /// Write out `pending`. Cancel-safe: progress is kept in `pending`. A socket that
    /// takes nothing for [`WRITE_STALL`] fails the write with `TimedOut`.
    async fn flush_pending(&mut self) -> IoResult {
        while !self.pending.is_empty() {
            // Write first, wait only when the socket is full: the timer is set up on the
            // slow path alone, not for every frame.
            match self.tcp.try_write(&self.pending) {
                Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
                Ok(n) => bytes::Buf::advance(&mut self.pending, n),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    self.wait_writable().await?
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Wait until the socket takes bytes again, or fail with `TimedOut` after
    /// [`WRITE_STALL`]. Boxed: the timer is allocated only while a socket is full, so the
    /// task of every idle connection does not carry it.
    fn wait_writable(&self) -> std::pin::Pin<Box<dyn Future<Output = IoResult> + Send + '_>> {
        Box::pin(async move {
            match tokio::time::timeout(WRITE_STALL, self.tcp.writable()).await {
                Ok(r) => r,
                Err(_) => Err(std::io::ErrorKind::TimedOut.into()),
            }
        })
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
        self.node.hub.routed_upto() >= self.replayed_upto
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
                    msg.list().as_deref(),
                    msg.event.as_deref(),
                    self.caller,
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
            msg.list().as_deref(),
            msg.event.as_deref(),
            self.caller,
        ) {
            Ok(k) => k,
            Err((status, m)) => return self.error_frame(status, m).await,
        };
        // An event stream is public and is checked once subscribed, so that the database
        // read does not delay the subscription (a WebSocket reader has no answer that says
        // when she is live; every other check comes first).
        let check_after = matches!(key, StreamKey::Event(_));
        if !check_after
            && let Err((status, m)) = super::may_open(&self.node, &key, self.caller).await
        {
            return self.error_frame(status, m).await;
        }
        let key_s = key.key();
        if self.subs.iter().any(|s| *s.guard.key == *key_s) {
            return Ok(());
        }
        if self.subs.len() >= self.node.config.max_subscriptions {
            return self
                .error_frame(429, "Too many subscriptions on this connection")
                .await;
        }
        // Anything that is not a position (`true`, `{}`) gets a reset, as over SSE.
        let last_event_id = match msg.last_event_id {
            None | Some(serde_json::Value::Null) => None,
            Some(serde_json::Value::String(s)) => Some(s),
            Some(other) => Some(other.to_string()),
        };
        let id = self.next_sub;
        self.next_sub += 1;
        let guard = self
            .node
            .hub
            .subscribe(&key_s, &self.outbox, id, Transport::WebSocket);
        if check_after
            && let Err((status, m)) = super::may_open(&self.node, &key, self.caller).await
        {
            drop(guard);
            return self.error_frame(status, m).await;
        }
        let start = match start_point(&self.node, last_event_id.as_deref()).await {
            Ok(s) => s,
            Err(_) => {
                return self.raw_write(wire::text(HISTORY_UNAVAILABLE)).await;
            }
        };
        let wire_name = key.wire_name();
        let last_sent = match start {
            Start::Live => Position::ZERO,
            Start::After(p) => {
                let (upto, complete) = self.replay(&key, &wire_name, p, guard.epoch).await?;
                self.replayed_upto = self.replayed_upto.max(upto);
                if !complete {
                    // Not kept at a position short of the history: dropping the guard
                    // ends the subscription, so subscribing again starts cleanly.
                    drop(guard);
                    return self.raw_write(wire::text(HISTORY_UNAVAILABLE)).await;
                }
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
        // Exactly as many as there are: a first push would reserve room for four (256
        // bytes), and most connections hold one stream for their whole life.
        self.subs.reserve_exact(1);
        self.subs.push(Sub {
            id,
            last_sent,
            guard,
        });
        Ok(())
    }

    /// Send the stream's events after `after` from the database; return the last sent,
    /// and whether the history was read to its end (`false` when a read failed).
    async fn replay(
        &mut self,
        key: &StreamKey,
        wire_name: &[String],
        mut after: Position,
        subscribed: u64,
    ) -> Result<(Position, bool), std::io::Error> {
        let key_s = key.key();
        loop {
            let page = match replay_page(&self.node, &key_s, after, subscribed).await {
                Ok(p) => p,
                Err(e) => {
                    tracing::warn!(error = %e, stream = %key_s, "replay read failed");
                    return Ok((after, false));
                }
            };
            let mut out = BytesMut::new();
            for e in page.iter() {
                after = e.position;
                let marked;
                let e = match self.outbox.screen(&key_s, e, &mut None) {
                    Screened::Drop => continue,
                    Screened::Plain => e,
                    Screened::Marked(m) => {
                        marked = m;
                        &marked
                    }
                };
                out.extend_from_slice(&ws_frame(
                    wire_name,
                    e.kind.as_str(),
                    &e.payload,
                    e.position,
                ));
            }
            self.raw_write(out.freeze()).await?;
            if (page.len() as i64) < super::REPLAY_PAGE {
                return Ok((after, true));
            }
        }
    }
}

/// Write what the socket takes at once; how much that was.
fn write_now(sock: &socket2::SockRef<'_>, mut buf: &[u8]) -> usize {
    let mut n = 0;
    while !buf.is_empty() {
        match sock.send(buf) {
            Ok(0) | Err(_) => break,
            Ok(k) => {
                n += k;
                buf = &buf[k..];
            }
        }
    }
    n
}
