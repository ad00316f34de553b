//! The in-process bus: a broadcast channel. One node, nothing to install.

use super::{Bus, BusError, BusMessage};
use crate::domain::Event;
use async_trait::async_trait;
use std::sync::Arc;
use tokio::sync::broadcast;

pub struct LocalBus {
    tx: broadcast::Sender<BusMessage>,
}

impl LocalBus {
    /// `capacity` events may be buffered for a slow receiver before it must resync.
    pub fn new(capacity: usize) -> Self {
        let (tx, _) = broadcast::channel(capacity);
        LocalBus { tx }
    }
}

#[async_trait]
impl Bus for LocalBus {
    async fn publish(&self, events: &[Event]) -> Result<(), BusError> {
        for e in events {
            // No receiver yet is fine: the dispatcher catches up from the database.
            let _ = self.tx.send(BusMessage::Event(Arc::new(e.clone())));
        }
        Ok(())
    }

    fn subscribe(&self) -> broadcast::Receiver<BusMessage> {
        self.tx.subscribe()
    }

    fn is_up(&self) -> bool {
        true
    }

    fn name(&self) -> &'static str {
        "in-process"
    }
}
