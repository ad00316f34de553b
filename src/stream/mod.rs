//! The streaming layer: everything between a positioned event and a reader's socket that
//! is not HTTP. The API uses it; it never uses the API.
//!
//! - [`dispatch`]: bus → hub, in position order, deduplicated, catching up on gaps from
//!   the store.
//! - [`hub`]: this node's subscriptions and each connection's bounded outbox; routes an
//!   event to its streams' subscribers, and knows how far it has routed
//!   ([`hub::Hub::routed_upto`]).
//! - [`frames`]: an event's wire forms (WebSocket frame, SSE block), encoded once per node.
//! - [`wire`]: RFC 6455 framing, both ways: server frames out, client frames in (bounded,
//!   validated, fuzzed).
//! - [`replays`]: resumes served from the store, with identical reads shared.
//! - [`heads`]: polled streams' heads and the node's events in flight, so that a poll's
//!   `If-None-Match` is answered without the store.
//!
//! What it must not know: HTTP (handshakes, status codes, caps per address live in
//! `crate::api`), SQL text, Redis.

pub mod dispatch;
pub mod frames;
pub mod heads;
pub mod hub;
pub mod replays;
pub mod wire;
