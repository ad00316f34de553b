//! The bus carries every positioned event to every node: publish an event, receive every
//! event. The in-process implementation serves the embedded default; the Redis one (in
//! the scale-out work) implements the same trait.
//!
//! Delivery on the bus may lose, repeat or reorder nothing that matters: receivers dedupe
//! by position and catch up from the database on a gap or on [`BusMessage::Resync`].
//! This module must not know HTTP or SQL.

mod local;
pub(crate) mod redis;

use crate::domain::Event;
use async_trait::async_trait;
use std::sync::Arc;
use tokio::sync::broadcast;

pub use local::LocalBus;
pub use redis::RedisBus;

#[derive(Debug, Clone)]
pub enum BusMessage {
    Event(Arc<Event>),
    /// The receiver may have missed events (reconnect, lag): catch up from the database.
    Resync,
}

#[derive(Debug, thiserror::Error)]
#[error("bus unavailable: {0}")]
pub struct BusError(pub String);

#[async_trait]
pub trait Bus: Send + Sync + 'static {
    /// Hand events (in position order) to every node. An error means some may not have
    /// gone out; the caller retries, and receivers drop what they have already seen.
    async fn publish(&self, events: &[Event]) -> Result<(), BusError>;
    /// Receive everything published from now on. A lagging receiver gets
    /// `RecvError::Lagged`, which must be treated as [`BusMessage::Resync`].
    fn subscribe(&self) -> broadcast::Receiver<BusMessage>;
    /// Is the bus connected (for `/health`)?
    fn is_up(&self) -> bool;
    fn name(&self) -> &'static str;
}
