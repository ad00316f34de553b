//! This node's subscriptions: stream key → subscribers, each with a bounded outbox.
//!
//! [`Hub::dispatch`] is the hot path: for each stream of an event it builds the wire
//! form once (per transport) and pushes a reference-counted copy into each subscriber's
//! outbox. No JSON is encoded per reader, nothing is awaited, no database is touched.
//! A reader whose outbox passes its byte limit is marked overflowed and dropped from
//! delivery; its connection closes with [`SLOW_CLOSE_CODE`] and it may resume.
//!
//! No single frame can overflow a queue: a notice is at most `TIDINGS_MAX_CHARS`
//! characters with its content warning, and its largest frame is at most
//! [`BYTES_PER_CHAR`] bytes per character plus [`FRAME_OVERHEAD`] (escaping in HTML, then
//! JSON, then JSON again inside a WebSocket frame). The node refuses to start with a
//! reader queue smaller than that ([`largest_frame`]), so only a reader that has really
//! fallen behind is ever dropped.
//!
//! This module must not know SQL or Redis.

use crate::domain::announce::ANNOUNCEMENTS;
use crate::domain::filters::FilterRecord;
use crate::domain::{AccountId, Event, EventKind, Position};
use bytes::Bytes;
use dashmap::DashMap;
use futures::task::AtomicWaker;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use tokio::sync::Notify;

/// Worst-case bytes one character of a notice can take in a frame (a `"` in a content
/// warning is `\\\"` inside the WebSocket payload string; `&quot;` in the HTML).
pub const BYTES_PER_CHAR: usize = 16;
/// Everything in a Status besides its text: the account, tags, mentions, links.
pub const FRAME_OVERHEAD: usize = 16 * 1024;

/// The largest frame a notice of `max_chars` characters can make.
pub fn largest_frame(max_chars: usize) -> usize {
    max_chars
        .saturating_mul(BYTES_PER_CHAR)
        .saturating_add(FRAME_OVERHEAD)
}

/// WebSocket close code for a reader that fell too far behind (private-use range).
pub const SLOW_CLOSE_CODE: u16 = 4008;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    WebSocket,
    Sse,
}

/// A frame ready for the wire: a complete WebSocket frame, or an SSE event block.
#[derive(Debug, Clone)]
pub enum Frame {
    Ws(Bytes),
    Sse(Bytes),
}

impl Frame {
    fn len(&self) -> usize {
        match self {
            Frame::Ws(b) => b.len(),
            Frame::Sse(b) => b.len(),
        }
    }
}

/// One queued frame for one subscription of a connection.
#[derive(Debug)]
pub struct Delivery {
    pub sub: u32,
    pub position: Position,
    pub frame: Frame,
}

/// Writes to a connection's socket without waiting: the hub's fast path.
pub trait DirectSink: Send + Sync {
    fn try_write(&self, buf: &[u8]) -> std::io::Result<usize>;
}

/// The `sub` of a delivery that continues a frame the hub began writing directly:
/// always written, never filtered.
pub const CONTINUATION: u32 = 0;

/// A connection's queue. Bounded in bytes: past `limit`, the connection is overflowed.
///
/// With a [`DirectSink`], the hub writes a frame straight to the socket while the
/// connection is *open for direct writes*: nothing queued, nothing being written by the
/// connection's own task. That saves a task wake-up, a queue round trip and a copy per
/// delivery. Anything that cannot be written at once (the socket is full) is queued,
/// and the connection closes direct writes until its task has drained the queue. The
/// lock makes "queue empty, reopen" and "closed, enqueue" exclusive, so frames are never
/// reordered or interleaved. WebSocket connections get a sink unless
/// `TIDINGS_DIRECT_WRITES=false`. A connection that has just replayed from the database
/// keeps direct writes closed until the hub has routed as far as the replay went (the
/// hub's deliveries may repeat it, and only the connection's task filters them).
pub struct Outbox {
    state: std::sync::Mutex<Queue>,
    /// The task that reads this outbox (the connection's), woken when something is
    /// queued and on overflow or revocation — so a writer blocked on a slow socket gives up
    /// at once. One waker in the outbox rather than a `Notify` future in every waiting
    /// task: an idle connection's task is that much smaller (BENCHMARKS.md, issue 18).
    /// Whoever waits registers first and checks after, so no wake-up falls between.
    waker: AtomicWaker,
    queued: AtomicUsize,
    limit: usize,
    overflowed: AtomicBool,
    /// Set with `overflowed` when the connection's token was revoked: it closes too.
    revoked: AtomicBool,
    /// Also woken on overflow and revocation: the HTTP connection's kill switch, for SSE, whose connection must
    /// close even while its body is not being polled (a reader that stopped reading).
    /// WebSockets have none and pay no allocation for it.
    connection: Option<Arc<Notify>>,
    direct: Option<Arc<dyn DirectSink>>,
    /// A signed-in reader's: whose notices she is not sent, and her filters. Anonymous
    /// readers screen nothing and pay for a null pointer.
    hidden: Option<Box<Screen>>,
}

/// What a signed-in reader is not sent as is.
///
/// Authors she does not see: those she blocked or muted, and those who blocked her.
/// Replaced whole when it changes (see [`Hub::watch_hidden`]); read on every delivery to
/// a signed-in reader, so the check for "nobody" is one atomic load.
///
/// Her filters (Mastodon's v2), as they stood when the stream opened — as Mastodon's
/// streaming server, which reads them once per connection. A notice one of them hides
/// is not sent; one it warns about is sent with `filtered`, which takes a payload of
/// its own for her alone: only readers whose filters match pay for it (see
/// [`Outbox::screen`]).
#[derive(Default)]
pub struct Screen {
    any: AtomicBool,
    /// Sorted.
    set: std::sync::RwLock<Vec<AccountId>>,
    /// Bumped on every replacement, so that a list read from the database before an
    /// event replaced it does not overwrite the event's newer one.
    version: AtomicU64,
    any_filters: AtomicBool,
    filters: std::sync::OnceLock<Vec<FilterRecord>>,
}

/// What a reader is to be sent of an event (see [`Outbox::screen`]).
pub enum Screened {
    /// Nothing.
    Drop,
    /// The frame every reader gets.
    Plain,
    /// This event instead: the same, with a payload of her own.
    Marked(Event),
}

/// A notice's text for matching, read once per event and only if a reader needs it.
pub type TextCell = Option<Option<(String, crate::domain::StatusId)>>;

/// The filter context of a stream key, as Mastodon maps its channels: home (and lists)
/// and the public timelines; other streams are not filtered.
fn filter_context(key: &str) -> Option<&'static str> {
    if key.starts_with("user:notification:") || key.starts_with("direct:") {
        None
    } else if key.starts_with("user:") || key.starts_with("list:") {
        Some("home")
    } else if key.starts_with("public") || key.starts_with("hashtag:") || key.starts_with("event:")
    {
        Some("public")
    } else {
        None
    }
}

impl Screen {
    pub fn hides(&self, author: AccountId) -> bool {
        self.any.load(Ordering::Acquire)
            && self
                .set
                .read()
                .map(|s| s.binary_search(&author).is_ok())
                .unwrap_or(false)
    }

    fn replace(&self, mut list: Vec<AccountId>) {
        list.sort_unstable();
        list.dedup();
        let any = !list.is_empty();
        if let Ok(mut s) = self.set.write() {
            *s = list;
        }
        self.version.fetch_add(1, Ordering::AcqRel);
        self.any.store(any, Ordering::Release);
    }
}

/// Allocates nothing until something is queued, and gives its memory back once empty.
#[derive(Default)]
struct Queue {
    direct_open: bool,
    items: std::collections::VecDeque<Delivery>,
}

impl Outbox {
    pub fn new(limit: usize, direct: Option<Arc<dyn DirectSink>>) -> (Arc<Outbox>, OutboxReceiver) {
        Self::with_connection(limit, direct, None, false)
    }

    /// An outbox that also wakes `connection` when it overflows or is revoked; with
    /// `hides`, it is a signed-in reader's, who may hide authors.
    pub fn with_connection(
        limit: usize,
        direct: Option<Arc<dyn DirectSink>>,
        connection: Option<Arc<Notify>>,
        hides: bool,
    ) -> (Arc<Outbox>, OutboxReceiver) {
        let o = Arc::new(Outbox {
            state: std::sync::Mutex::new(Queue::default()),
            waker: AtomicWaker::new(),
            queued: AtomicUsize::new(0),
            limit,
            overflowed: AtomicBool::new(false),
            revoked: AtomicBool::new(false),
            connection,
            direct,
            hidden: hides.then(Box::default),
        });
        (o.clone(), OutboxReceiver { outbox: o })
    }

    /// Set the reader's filters (once, when her stream opens).
    pub fn set_filters(&self, filters: Vec<FilterRecord>) {
        if let Some(h) = self.hidden.as_deref() {
            let any = !filters.is_empty();
            if h.filters.set(filters).is_ok() {
                h.any_filters.store(any, Ordering::Release);
            }
        }
    }

    /// What this reader is sent of `event` on stream `key`: nothing from an author she
    /// hides or of a notice her filters hide, the notice marked `filtered` when one
    /// warns of it, else the shared frame. `text` caches the notice's text across the
    /// readers of one event.
    pub fn screen(&self, key: &str, event: &Event, text: &mut TextCell) -> Screened {
        if self.hides(event.author) {
            return Screened::Drop;
        }
        let Some(h) = self.hidden.as_deref() else {
            return Screened::Plain;
        };
        if !h.any_filters.load(Ordering::Acquire)
            || !matches!(event.kind, EventKind::Update | EventKind::StatusUpdate)
        {
            return Screened::Plain;
        }
        let (Some(filters), Some(context)) = (h.filters.get(), filter_context(key)) else {
            return Screened::Plain;
        };
        let Some((said, id)) = text
            .get_or_insert_with(|| crate::domain::filters::payload_text(&event.payload))
            .as_ref()
        else {
            return Screened::Plain;
        };
        let now = crate::domain::now_micros();
        let (results, hide) =
            crate::domain::filters::apply_to_text(filters, said, *id, context, now);
        if hide {
            return Screened::Drop;
        }
        if results.is_empty() {
            return Screened::Plain;
        }
        let marked = serde_json::from_str::<serde_json::Value>(&event.payload)
            .ok()
            .and_then(|mut v| {
                v.as_object_mut()?
                    .insert("filtered".into(), serde_json::to_value(&results).ok()?);
                serde_json::to_string(&v).ok()
            });
        match marked {
            Some(payload) => Screened::Marked(Event {
                payload: Arc::from(payload),
                ..event.clone()
            }),
            None => Screened::Plain,
        }
    }

    /// Does this reader hide `author`'s notices?
    pub fn hides(&self, author: Option<AccountId>) -> bool {
        match (author, self.hidden.as_deref()) {
            (Some(a), Some(h)) => h.hides(a),
            _ => false,
        }
    }

    /// The version of the hidden list, to pass to [`Outbox::set_hidden`].
    pub fn hidden_version(&self) -> u64 {
        self.hidden
            .as_deref()
            .map_or(0, |h| h.version.load(Ordering::Acquire))
    }

    /// Set whom this reader hides, as read from the database when the list was at
    /// `version` — unless an event has replaced it since (its list is newer).
    pub fn set_hidden(&self, list: Vec<AccountId>, version: u64) {
        if let Some(h) = self.hidden.as_deref()
            && h.version.load(Ordering::Acquire) == version
        {
            h.replace(list);
        }
    }

    fn push(&self, mut d: Delivery) -> bool {
        if self.overflowed.load(Ordering::Relaxed) {
            return false;
        }
        let Ok(mut q) = self.state.lock() else {
            return false;
        };
        if q.direct_open {
            if let (Some(sink), Frame::Ws(bytes)) = (&self.direct, &d.frame) {
                match sink.try_write(bytes) {
                    Ok(n) if n == bytes.len() => return true,
                    Ok(n) => {
                        d = Delivery {
                            sub: CONTINUATION,
                            position: d.position,
                            frame: Frame::Ws(bytes.slice(n..)),
                        }
                    }
                    // Full (or failed): the task takes over, and meets the error if any.
                    Err(_) => {}
                }
            }
            q.direct_open = false;
        }
        let n = d.frame.len();
        if self.queued.fetch_add(n, Ordering::Relaxed) + n > self.limit {
            self.overflowed.store(true, Ordering::Release);
            drop(q);
            self.wake_on_overflow();
            return false;
        }
        q.items.push_back(d);
        drop(q);
        self.waker.wake();
        true
    }

    /// Stop direct writes: the connection's task is about to write itself.
    pub fn close_direct(&self) {
        if let Ok(mut q) = self.state.lock() {
            q.direct_open = false;
        }
    }

    pub fn is_overflowed(&self) -> bool {
        self.overflowed.load(Ordering::Acquire)
    }

    /// Ready once the outbox has overflowed or was revoked (the connection must close).
    pub fn poll_overflowed(&self, cx: &mut Context<'_>) -> Poll<()> {
        if self.is_overflowed() {
            return Poll::Ready(());
        }
        self.waker.register(cx.waker());
        if self.is_overflowed() {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }

    /// Wait until [`Outbox::poll_overflowed`] is ready.
    pub fn overflowed(&self) -> impl Future<Output = ()> + '_ {
        std::future::poll_fn(|cx| self.poll_overflowed(cx))
    }

    /// The connection's access was revoked: deliver nothing more, and close.
    pub fn revoke(&self) {
        self.revoked.store(true, Ordering::Relaxed);
        self.overflowed.store(true, Ordering::Release);
        if let Ok(mut q) = self.state.lock() {
            q.direct_open = false;
        }
        self.wake_on_overflow();
    }

    fn wake_on_overflow(&self) {
        self.waker.wake();
        if let Some(c) = &self.connection {
            c.notify_one();
        }
    }

    pub fn is_revoked(&self) -> bool {
        self.revoked.load(Ordering::Relaxed)
    }
}

pub struct OutboxReceiver {
    pub outbox: Arc<Outbox>,
}

impl OutboxReceiver {
    /// The next queued delivery, waiting for one.
    pub fn recv(&mut self) -> impl Future<Output = Option<Delivery>> + '_ {
        std::future::poll_fn(|cx| self.poll_recv(cx))
    }

    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<Delivery>> {
        if let Some(d) = self.try_recv() {
            return Poll::Ready(Some(d));
        }
        // Registered before the second look: a push after it wakes this task.
        self.outbox.waker.register(cx.waker());
        match self.try_recv() {
            Some(d) => Poll::Ready(Some(d)),
            None => Poll::Pending,
        }
    }

    pub fn try_recv(&mut self) -> Option<Delivery> {
        let mut q = self.outbox.state.lock().ok()?;
        self.pop(&mut q)
    }

    fn pop(&self, q: &mut Queue) -> Option<Delivery> {
        let d = q.items.pop_front()?;
        if q.items.is_empty() && q.items.capacity() > 16 {
            q.items = Default::default();
        }
        self.outbox
            .queued
            .fetch_sub(d.frame.len(), Ordering::Relaxed);
        Some(d)
    }

    /// The next queued delivery, or — when the queue is empty — reopen direct writes
    /// and return `None`. Both under the lock, so nothing can be stranded.
    pub fn next_or_reopen(&mut self) -> Option<Delivery> {
        let outbox = self.outbox.clone();
        let mut q = outbox.state.lock().ok()?;
        let d = self.pop(&mut q);
        if d.is_none() {
            q.direct_open = outbox.direct.is_some() && !outbox.is_overflowed();
        }
        d
    }
}

struct Subscriber {
    outbox: Arc<Outbox>,
    sub: u32,
    transport: Transport,
}

#[derive(Default)]
pub struct HubStats {
    pub delivered: AtomicU64,
    pub dropped_slow: AtomicU64,
    pub dispatched_events: AtomicU64,
}

#[derive(Default)]
pub struct Hub {
    streams: DashMap<Arc<str>, Vec<Subscriber>>,
    /// Open connections by the id of the token they presented, so that a revocation
    /// closes them (see [`Hub::watch_token`]).
    tokens: DashMap<i64, Vec<Arc<Outbox>>>,
    /// Signed-in readers' connections by account, so that a block or mute applies to
    /// them at once (see [`Hub::watch_hidden`]).
    readers: DashMap<AccountId, Vec<Arc<Outbox>>>,
    /// How far this hub has routed (see [`Hub::routed_upto`]).
    routed: AtomicI64,
    /// Numbers subscriptions in the order they were registered.
    epoch: AtomicU64,
    pub stats: HubStats,
    /// Polled streams' heads, moved as events are routed (see [`crate::stream::heads`]).
    pub heads: super::heads::Heads,
    /// The node's own events on their way here (shared with the store that writes them).
    pub unrouted: Arc<super::heads::Unrouted>,
}

/// Removes its subscription from the hub when dropped (unsubscribe, disconnect).
pub struct SubscriptionGuard {
    hub: Arc<Hub>,
    /// The hub's key of the stream (shared, not copied).
    pub key: Arc<str>,
    outbox: Arc<Outbox>,
    sub: u32,
    /// This subscription's number, taken once it is in place. A database read that starts
    /// after [`Hub::epoch`] has reached it sees every event the hub routed without it:
    /// those were committed before it was registered (see `crate::stream::replays`).
    pub epoch: u64,
}

impl Drop for SubscriptionGuard {
    fn drop(&mut self) {
        // Order among a stream's subscribers means nothing: the last one takes the
        // leaver's place, and the tens of thousands of a big stream do not all move
        // each time one leaves (a storm of departures was quadratic).
        self.hub.streams.remove_if_mut(&self.key, |_, subs| {
            if let Some(i) = subs
                .iter()
                .position(|s| s.sub == self.sub && Arc::ptr_eq(&s.outbox, &self.outbox))
            {
                subs.swap_remove(i);
            }
            subs.is_empty()
        });
    }
}

/// Keeps a connection registered under its account (see [`Hub::watch_hidden`]).
pub struct HiddenWatch {
    hub: Arc<Hub>,
    account: AccountId,
    outbox: Arc<Outbox>,
}

impl Drop for HiddenWatch {
    fn drop(&mut self) {
        self.hub.readers.remove_if_mut(&self.account, |_, v| {
            v.retain(|o| !Arc::ptr_eq(o, &self.outbox));
            v.is_empty()
        });
    }
}

/// Keeps a connection registered under its token (see [`Hub::watch_token`]).
pub struct TokenWatch {
    hub: Arc<Hub>,
    token: i64,
    outbox: Arc<Outbox>,
}

impl Drop for TokenWatch {
    fn drop(&mut self) {
        self.hub.tokens.remove_if_mut(&self.token, |_, v| {
            v.retain(|o| !Arc::ptr_eq(o, &self.outbox));
            v.is_empty()
        });
    }
}

impl Hub {
    pub fn new() -> Arc<Hub> {
        Arc::new(Hub::default())
    }

    /// A hub told when the events its node wrote are routed (see
    /// [`crate::stream::heads::Unrouted`]).
    pub fn with_unrouted(unrouted: Arc<super::heads::Unrouted>) -> Arc<Hub> {
        Arc::new(Hub {
            unrouted,
            ..Hub::default()
        })
    }

    pub fn subscribe(
        self: &Arc<Self>,
        key: &str,
        outbox: &Arc<Outbox>,
        sub: u32,
        transport: Transport,
    ) -> SubscriptionGuard {
        let new = Subscriber {
            outbox: outbox.clone(),
            sub,
            transport,
        };
        // One shared key per stream, however many readers it has.
        let key: Arc<str> = match self.streams.get_mut(key) {
            Some(mut entry) => {
                entry.push(new);
                entry.key().clone()
            }
            None => {
                let key: Arc<str> = Arc::from(key);
                self.streams.entry(key.clone()).or_default().push(new);
                key
            }
        };
        // Taken after the subscription is in place (sequentially consistent with
        // `epoch()`): a read that saw this number started after it.
        let epoch = self.epoch.fetch_add(1, Ordering::SeqCst) + 1;
        SubscriptionGuard {
            hub: self.clone(),
            key,
            outbox: outbox.clone(),
            sub,
            epoch,
        }
    }

    /// Keep `outbox`'s hidden authors current for `account` (a `tidings.hidden` event
    /// replaces them), until the guard drops.
    pub fn watch_hidden(self: &Arc<Self>, account: AccountId, outbox: &Arc<Outbox>) -> HiddenWatch {
        self.readers
            .entry(account)
            .or_default()
            .push(outbox.clone());
        HiddenWatch {
            hub: self.clone(),
            account,
            outbox: outbox.clone(),
        }
    }

    /// Close `outbox`'s connection when token `token` is revoked, until the guard drops.
    pub fn watch_token(self: &Arc<Self>, token: i64, outbox: &Arc<Outbox>) -> TokenWatch {
        self.tokens.entry(token).or_default().push(outbox.clone());
        TokenWatch {
            hub: self.clone(),
            token,
            outbox: outbox.clone(),
        }
    }

    /// How far this hub has routed: every event at or below this position has been
    /// handed to the subscribers of its streams that were registered at the time, and is
    /// committed in the store (the dispatcher routes in position order, and positions
    /// become visible in order: see `crate::sequencer`). So a resume to a position up to
    /// here needs no head query to be known good, and a connection that replayed up to
    /// P has every later event of its streams in its queue once this reaches P.
    pub fn routed_upto(&self) -> Position {
        Position::new(self.routed.load(Ordering::Acquire)).unwrap_or(Position::ZERO)
    }

    /// Where routing starts: the dispatcher, at start, with the head it read (what lies
    /// below it is in the store and reaches new readers by replay).
    pub fn start_at(&self, position: Position) {
        self.routed.store(position.get(), Ordering::Release);
    }

    /// The number of the newest subscription registered so far.
    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::SeqCst)
    }

    pub fn subscription_count(&self) -> usize {
        self.streams.iter().map(|e| e.value().len()).sum()
    }

    /// Route one event to this node's subscribers. Called in position order by the
    /// dispatcher only.
    pub fn dispatch(&self, event: &Event) {
        if event.kind == crate::domain::EventKind::Revoke
            && let Some((_, outboxes)) = event
                .payload
                .parse::<i64>()
                .ok()
                .and_then(|t| self.tokens.remove(&t))
        {
            outboxes.iter().for_each(|o| o.revoke());
        }
        if event.kind == crate::domain::EventKind::Hidden
            && let Ok(h) = serde_json::from_str::<crate::domain::event::Hidden>(&event.payload)
            && let Some(outboxes) = self.readers.get(&h.account)
        {
            for o in outboxes.iter() {
                if let Some(cell) = o.hidden.as_deref() {
                    cell.replace(h.hidden.clone());
                }
            }
        }
        let mut sse: Option<Bytes> = None;
        let mut text: TextCell = None;
        let mut counts = (0u64, 0u64);
        for key in &event.streams {
            if &**key == ANNOUNCEMENTS {
                // Every home stream: all their frames name the stream `user`, so one
                // WebSocket frame serves them all. Rare (an administrator's act), so a
                // walk over the streams is fine.
                let mut ws: Option<Bytes> = None;
                for entry in self.streams.iter() {
                    let k = entry.key();
                    if k.starts_with("user:") && !k.starts_with("user:notification:") {
                        deliver(
                            k,
                            entry.value(),
                            event,
                            &mut ws,
                            &mut sse,
                            &mut text,
                            &mut counts,
                        );
                    }
                }
                continue;
            }
            let Some(subs) = self.streams.get(key) else {
                continue;
            };
            let mut ws: Option<Bytes> = None;
            deliver(key, &subs, event, &mut ws, &mut sse, &mut text, &mut counts);
        }
        let (delivered, dropped) = counts;
        self.stats.delivered.fetch_add(delivered, Ordering::Relaxed);
        self.stats
            .dropped_slow
            .fetch_add(dropped, Ordering::Relaxed);
        self.stats.dispatched_events.fetch_add(1, Ordering::Relaxed);
        // The head first: a poller that no longer sees the event in flight sees it routed.
        self.heads.routed(event);
        self.unrouted.routed(event);
        self.routed.store(event.position.get(), Ordering::Release);
    }
}

/// Hand `event` to the subscribers `subs` of stream `key`, building each shared frame
/// once (`ws` for this key's wire name, `sse` for the event); counts (delivered,
/// dropped as too slow).
fn deliver(
    key: &str,
    subs: &[Subscriber],
    event: &Event,
    ws: &mut Option<Bytes>,
    sse: &mut Option<Bytes>,
    text: &mut TextCell,
    counts: &mut (u64, u64),
) {
    for s in subs {
        let frame = match (s.outbox.screen(key, event, text), s.transport) {
            (Screened::Drop, _) => continue,
            (Screened::Plain, Transport::WebSocket) => Frame::Ws(
                ws.get_or_insert_with(|| super::frames::ws_event_frame(key, event))
                    .clone(),
            ),
            (Screened::Plain, Transport::Sse) => Frame::Sse(
                sse.get_or_insert_with(|| super::frames::sse_event_block(event))
                    .clone(),
            ),
            (Screened::Marked(e), Transport::WebSocket) => {
                Frame::Ws(super::frames::ws_event_frame(key, &e))
            }
            (Screened::Marked(e), Transport::Sse) => Frame::Sse(super::frames::sse_event_block(&e)),
        };
        if s.outbox.push(Delivery {
            sub: s.sub,
            position: event.position,
            frame,
        }) {
            counts.0 += 1;
        } else if s.outbox.is_overflowed() && !s.outbox.is_revoked() {
            counts.1 += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::EventKind;

    fn event(pos: i64, streams: &[&str]) -> Event {
        Event {
            position: Position::new(pos).unwrap(),
            kind: EventKind::Update,
            payload: Arc::from("{}"),
            streams: streams.iter().map(|s| Arc::from(*s)).collect(),
            committed_at: 0,
            author: None,
            id: 0,
        }
    }

    #[tokio::test]
    async fn every_subscriber_gets_the_same_shared_frame() {
        let hub = Hub::new();
        let (a, mut ra) = Outbox::new(1 << 20, None);
        let (b, mut rb) = Outbox::new(1 << 20, None);
        let _ga = hub.subscribe("public", &a, 1, Transport::WebSocket);
        let _gb = hub.subscribe("public", &b, 7, Transport::WebSocket);
        hub.dispatch(&event(1, &["public", "hashtag:x"]));
        let (da, db) = (ra.recv().await.unwrap(), rb.recv().await.unwrap());
        assert_eq!((da.sub, db.sub, da.position.get()), (1, 7, 1));
        match (da.frame, db.frame) {
            (Frame::Ws(x), Frame::Ws(y)) => {
                assert_eq!(x.as_ptr(), y.as_ptr(), "one allocation shared")
            }
            _ => panic!("expected WebSocket frames"),
        }
    }

    #[tokio::test]
    async fn a_reader_past_its_limit_is_overflowed_and_others_are_not() {
        let hub = Hub::new();
        let (slow, _keep) = Outbox::new(100, None);
        let (fast, mut rf) = Outbox::new(1 << 20, None);
        let _g1 = hub.subscribe("public", &slow, 1, Transport::Sse);
        let _g2 = hub.subscribe("public", &fast, 1, Transport::Sse);
        for p in 1..=10 {
            hub.dispatch(&event(p, &["public"]));
        }
        assert!(slow.is_overflowed());
        assert!(!fast.is_overflowed());
        for p in 1..=10 {
            assert_eq!(rf.recv().await.unwrap().position.get(), p);
        }
    }

    #[test]
    fn dropping_the_guard_unsubscribes() {
        let hub = Hub::new();
        let (o, _r) = Outbox::new(1000, None);
        let g = hub.subscribe("public", &o, 1, Transport::Sse);
        assert_eq!(hub.subscription_count(), 1);
        drop(g);
        assert_eq!(hub.subscription_count(), 0);
    }
}
