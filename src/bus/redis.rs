//! The Redis bus: every node publishes to, and subscribes to, one channel,
//! `<prefix>:events`, so every node receives every event once (or more: receivers dedupe).
//!
//! Two fred clients: a publisher, and a subscriber that re-subscribes by itself after a
//! reconnect. Messages published while the subscriber was away are lost to it, so a
//! reconnect — and a lag in fred's internal broadcast channel — becomes
//! [`BusMessage::Resync`], and the dispatcher catches up from the database.
//!
//! A message is a JSON array of events (one publication per sequencer batch).
//!
//! # Towards Redis Cluster (sharded pub/sub)
//!
//! Only this module knows channel names. To move to Redis 7 sharded pub/sub, replace
//! `PUBLISH`/`SUBSCRIBE` with `SPUBLISH`/`SSUBSCRIBE` on N channels
//! `<prefix>:events:{n}` (hash-tagged so each lands on its own shard), choosing `n` from
//! the batch's first position, and subscribe every node to all N. The dispatcher already
//! orders by position and reads a gap from the database, so interleaving across shards
//! stays correct; a short reorder window here would avoid needless catch-ups.

use super::{Bus, BusError, BusMessage};
use crate::domain::Event;
use crate::metrics::Metrics;
use async_trait::async_trait;
use fred::prelude::*;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::sync::broadcast;

const PUBLISH_TIMEOUT: Duration = Duration::from_secs(1);

pub struct RedisBus {
    publisher: Client,
    subscriber: fred::clients::SubscriberClient,
    channel: String,
    tx: broadcast::Sender<BusMessage>,
}

impl RedisBus {
    pub async fn connect(
        url: &str,
        prefix: &str,
        metrics: Arc<Metrics>,
    ) -> anyhow::Result<Arc<Self>> {
        let config = Config::from_url(url).map_err(|e| anyhow::anyhow!("bad REDIS_URL: {e}"))?;
        let mut builder = Builder::from_config(config);
        builder
            .with_performance_config(|p| p.broadcast_channel_capacity = 65_536)
            .with_connection_config(|c| {
                c.connection_timeout = Duration::from_secs(2);
                c.internal_command_timeout = Duration::from_secs(2);
            })
            .set_policy(ReconnectPolicy::new_constant(0, 250));
        let publisher = builder.build()?;
        let subscriber = builder.build_subscriber_client()?;
        let connect = async {
            publisher.init().await?;
            subscriber.init().await?;
            Ok::<_, fred::error::Error>(())
        };
        connected_within(url, connect).await?;
        let channel = format!("{prefix}:events");
        let (tx, _) = broadcast::channel(65_536);
        // Register the receivers before subscribing so that nothing is missed.
        let messages = subscriber.message_rx();
        let reconnects = subscriber.reconnect_rx();
        subscriber.manage_subscriptions();
        subscriber.subscribe(channel.as_str()).await?;
        let bus = Arc::new(RedisBus {
            publisher,
            subscriber,
            channel,
            tx,
        });
        tokio::spawn(forward(messages, reconnects, bus.tx.clone(), metrics));
        Ok(bus)
    }
}

/// Wait at most 5 s for a Redis client's first connection; the errors name the server
/// (its password hidden).
pub(crate) async fn connected_within<T>(
    url: &str,
    connect: impl std::future::Future<Output = Result<T, fred::error::Error>>,
) -> anyhow::Result<T> {
    let shown = || crate::config::redact_url(url);
    tokio::time::timeout(Duration::from_secs(5), connect)
        .await
        .map_err(|_| anyhow::anyhow!("cannot reach Redis at {} within 5 s", shown()))?
        .map_err(|e| anyhow::anyhow!("cannot connect to Redis at {}: {e}", shown()))
}

/// fred's messages → our broadcast; reconnects and lag → `Resync`.
async fn forward(
    mut messages: broadcast::Receiver<fred::types::Message>,
    mut reconnects: broadcast::Receiver<Server>,
    tx: broadcast::Sender<BusMessage>,
    metrics: Arc<Metrics>,
) {
    // The first "reconnect" notification is the initial connection.
    let mut connected_once = false;
    loop {
        tokio::select! {
            m = messages.recv() => match m {
                Ok(m) => {
                    let decoded = m.value.as_str().and_then(|s| serde_json::from_str::<Vec<Event>>(s.as_ref()).ok());
                    let events = match decoded {
                        Some(e) => e,
                        None => {
                            tracing::warn!("undecodable bus message; resyncing");
                            let _ = tx.send(BusMessage::Resync);
                            continue;
                        }
                    };
                    for e in events {
                        let _ = tx.send(BusMessage::Event(Arc::new(e)));
                    }
                }
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    tracing::warn!(missed = n, "bus receiver lagged; resyncing");
                    let _ = tx.send(BusMessage::Resync);
                }
                Err(broadcast::error::RecvError::Closed) => return,
            },
            r = reconnects.recv() => match r {
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {
                    if connected_once {
                        metrics.bus_reconnects.fetch_add(1, Ordering::Relaxed);
                        tracing::info!("reconnected to Redis; resyncing");
                    }
                    connected_once = true;
                    let _ = tx.send(BusMessage::Resync);
                }
                Err(broadcast::error::RecvError::Closed) => return,
            },
        }
    }
}

#[async_trait]
impl Bus for RedisBus {
    async fn publish(&self, events: &[Event]) -> Result<(), BusError> {
        let body = serde_json::to_string(events).map_err(|e| BusError(e.to_string()))?;
        let publish = self
            .publisher
            .publish::<i64, _, _>(self.channel.as_str(), body);
        match tokio::time::timeout(PUBLISH_TIMEOUT, publish).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(BusError(e.to_string())),
            Err(_) => Err(BusError("publish timed out".into())),
        }
    }

    fn subscribe(&self) -> broadcast::Receiver<BusMessage> {
        self.tx.subscribe()
    }

    fn is_up(&self) -> bool {
        self.publisher.is_connected() && self.subscriber.is_connected()
    }

    fn name(&self) -> &'static str {
        "redis"
    }
}
