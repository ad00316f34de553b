//! WebSocket: `GET /api/v1/streaming`, one connection carrying many streams.
//!
//! Client → server: `{"type":"subscribe","stream":"hashtag","tag":"x","last_event_id":"41"}`
//! and `{"type":"unsubscribe",…}`. Server → client: event frames
//! `{"stream":[…],"event":…,"payload":…,"id":"<position>"}` and error frames
//! `{"error":…,"status":400}` (the connection stays open).
//!
//! Close codes: 1012 when the node shuts down (reconnect elsewhere), [`SLOW_CLOSE_CODE`]
//! (4008, "slow") when the reader fell behind past its queue limit, 1011 after two
//! unanswered pings. In every case the client may resume from its last position.

use super::{Start, parse_stream, replay_page, start_point};
use crate::Node;
use crate::api::extract::{MaybeAuth, Query};
use crate::domain::StreamKey;
use crate::hub::frames::{reset_payload, ws_frame};
use crate::hub::{
    Delivery, Frame, Outbox, OutboxReceiver, SLOW_CLOSE_CODE, SubscriptionGuard, Transport,
};
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use futures::stream::{SplitSink, SplitStream};
use futures::{SinkExt, StreamExt};
use serde::Deserialize;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

const PING_EVERY: Duration = Duration::from_secs(30);
/// How long a closing frame may wait for a slow reader's socket to accept it.
const CLOSE_GRACE: Duration = Duration::from_secs(10);
/// Frames written before one flush: coalesces a burst into few socket writes.
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

pub async fn handler(
    ws: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
    State(node): State<Node>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    auth: MaybeAuth,
    Query(p): Query<WsParams>,
    headers: HeaderMap,
) -> Response {
    let Ok(ws) = ws else {
        return crate::api::error::ApiError::bad_request("This endpoint takes a WebSocket upgrade")
            .into_response();
    };
    let account = auth.account_id();
    if account.is_none() && !node.config.anonymous_streams {
        return crate::api::error::ApiError::unauthorized().into_response();
    }
    let permit = match super::permit(&node, peer.ip(), account) {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    // A token sent as the subprotocol must be echoed back for browsers to accept.
    let ws = match headers
        .get("sec-websocket-protocol")
        .and_then(|v| v.to_str().ok())
    {
        Some(p) if account.is_some() => {
            ws.protocols([p.split(',').next().unwrap_or("").trim().to_string()])
        }
        _ => ws,
    };
    ws.read_buffer_size(4096)
        .write_buffer_size(0)
        .max_message_size(64 * 1024)
        .on_upgrade(move |socket| async move {
            let _permit = permit;
            let _gauge =
                crate::metrics::ConnectionGauge::open(node.metrics.clone(), Transport::WebSocket);
            let (outbox, rx) = Outbox::new(node.config.reader_queue_bytes);
            let (sink, stream) = socket.split();
            let mut c = Conn {
                node,
                account,
                outbox,
                rx,
                sink,
                subs: HashMap::new(),
                next_sub: 1,
            };
            if let Some(name) = p.stream.as_deref() {
                let msg = ClientMessage {
                    kind: "subscribe".into(),
                    stream: Some(name.into()),
                    tag: p.tag,
                    last_event_id: p.last_event_id.map(Into::into),
                };
                if c.on_subscribe(msg).await.is_err() {
                    return;
                }
            }
            c.run(stream).await;
        })
}

struct Sub {
    key: String,
    last_sent: i64,
    _guard: SubscriptionGuard,
}

struct Conn {
    node: Node,
    account: Option<i64>,
    outbox: std::sync::Arc<Outbox>,
    rx: OutboxReceiver,
    sink: SplitSink<WebSocket, Message>,
    subs: HashMap<u32, Sub>,
    next_sub: u32,
}

type WsResult = Result<(), axum::Error>;

impl Conn {
    async fn run(mut self, mut stream: SplitStream<WebSocket>) {
        let mut ping =
            tokio::time::interval_at(tokio::time::Instant::now() + PING_EVERY, PING_EVERY);
        let mut unanswered = 0u8;
        let shutdown = self.node.shutdown.clone();
        let outbox = self.outbox.clone();
        loop {
            let step: WsResult = tokio::select! {
                _ = shutdown.cancelled() => {
                    self.close(1012, "server restarting").await;
                    return;
                }
                _ = outbox.overflow.notified() => {
                    self.close(SLOW_CLOSE_CODE, "slow").await;
                    return;
                }
                msg = stream.next() => match msg {
                    Some(Ok(Message::Text(t))) => self.on_text(&t).await,
                    Some(Ok(Message::Pong(_))) => { unanswered = 0; Ok(()) }
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                    Some(Ok(_)) => Ok(()),
                },
                d = self.rx.recv() => match d {
                    Some(d) => {
                        let write = self.write_deliveries(d);
                        tokio::select! {
                            r = write => r,
                            _ = outbox.overflow.notified() => {
                                self.close(SLOW_CLOSE_CODE, "slow").await;
                                return;
                            }
                        }
                    }
                    None => return,
                },
                _ = ping.tick() => {
                    if unanswered >= 2 {
                        self.close(1011, "no pong").await;
                        return;
                    }
                    unanswered += 1;
                    self.sink.send(Message::Ping(Default::default())).await
                }
            };
            if step.is_err() {
                return;
            }
        }
    }

    async fn close(&mut self, code: u16, reason: &'static str) {
        let frame = Message::Close(Some(CloseFrame {
            code,
            reason: Utf8Bytes::from_static(reason),
        }));
        if code == SLOW_CLOSE_CODE {
            self.node
                .metrics
                .slow_closed
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        let _ = tokio::time::timeout(CLOSE_GRACE, self.sink.send(frame)).await;
    }

    /// Write this delivery and whatever else is queued (up to [`COALESCE`]), one flush.
    async fn write_deliveries(&mut self, first: Delivery) -> WsResult {
        let mut next = Some(first);
        let mut n = 0;
        while let Some(d) = next.take() {
            // Replay may already have sent it: positions at or below the last sent are dropped.
            if let Some(sub) = self
                .subs
                .get_mut(&d.sub)
                .filter(|s| d.position > s.last_sent)
            {
                sub.last_sent = d.position;
                if let Frame::Ws(text) = d.frame {
                    self.sink.feed(Message::Text(text)).await?;
                    n += 1;
                }
            }
            if n < COALESCE {
                next = self.rx.try_recv();
            }
        }
        self.sink.flush().await
    }

    async fn error_frame(&mut self, status: u16, message: &str) -> WsResult {
        let text = serde_json::json!({ "error": message, "status": status }).to_string();
        self.sink.send(Message::Text(text.into())).await
    }

    async fn on_text(&mut self, text: &str) -> WsResult {
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
                self.subs.retain(|_, s| s.key != key);
                Ok(())
            }
            _ => self.error_frame(400, "Unknown message type").await,
        }
    }

    async fn on_subscribe(&mut self, msg: ClientMessage) -> WsResult {
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
        if self.subs.values().any(|s| s.key == key_s) {
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
        let wire = key.wire_name();
        let start = match start_point(&self.node, last_event_id.as_deref()).await {
            Ok(s) => s,
            Err(_) => {
                return self
                    .error_frame(503, "Cannot read the stream's history now")
                    .await;
            }
        };
        let last_sent = match start {
            Start::Live => 0,
            Start::After(p) => self.replay(&key, &wire, p).await?,
            Start::Reset { asked, head } => {
                let frame = ws_frame(&wire, "reset", &reset_payload(&asked, head), head);
                self.sink.send(Message::Text(frame)).await?;
                head
            }
        };
        self.subs.insert(
            id,
            Sub {
                key: key_s,
                last_sent,
                _guard: guard,
            },
        );
        Ok(())
    }

    /// Send the stream's events after `after` from the database; return the last sent.
    async fn replay(
        &mut self,
        key: &StreamKey,
        wire: &[String],
        mut after: i64,
    ) -> Result<i64, axum::Error> {
        let key_s = key.key();
        loop {
            let page = match replay_page(&self.node, &key_s, after).await {
                Ok(p) => p,
                Err(_) => {
                    self.error_frame(503, "Cannot read the stream's history now")
                        .await?;
                    return Ok(after);
                }
            };
            for e in &page {
                self.sink
                    .feed(Message::Text(ws_frame(
                        wire,
                        e.kind.as_str(),
                        &e.payload,
                        e.position,
                    )))
                    .await?;
                after = e.position;
            }
            self.sink.flush().await?;
            if (page.len() as i64) < super::REPLAY_PAGE {
                return Ok(after);
            }
        }
    }
}
