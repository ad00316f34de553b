//! The dispatcher: bus → hub, in position order, exactly once per position.
//!
//! It tracks the last position it handed to the hub. A duplicate (at or below it) is
//! dropped; a jump (41, then 44) or a [`BusMessage::Resync`] (bus reconnect, lag) makes
//! it read the missing range from the database and dispatch that first. A periodic
//! check compares with the database head, so an event lost on the bus with nothing
//! after it is still delivered. Readers never see a gap.

use crate::bus::{Bus, BusMessage};
use crate::domain::Position;
use crate::metrics::Metrics;
use crate::store::Store;
use crate::stream::hub::Hub;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::CancellationToken;

const CHECK: Duration = Duration::from_secs(2);
/// How long an event this node wrote may stay unrouted before it is taken for one whose
/// transaction rolled back (see [`crate::stream::heads::Unrouted::sweep`]).
const UNROUTED_FOR_GOOD: Duration = Duration::from_secs(60);

pub struct Dispatcher {
    store: Arc<dyn Store>,
    hub: Arc<Hub>,
    last: Position,
    metrics: Arc<Metrics>,
}

impl Dispatcher {
    /// Subscribe to the bus first, then read the head, so nothing falls between.
    pub async fn run(
        store: Arc<dyn Store>,
        bus: Arc<dyn Bus>,
        hub: Arc<Hub>,
        metrics: Arc<Metrics>,
        shutdown: CancellationToken,
    ) {
        let mut rx = bus.subscribe();
        let last = loop {
            match store.head_position().await {
                Ok(h) => break h,
                Err(e) => tracing::warn!(error = %e, "dispatcher cannot read the head position"),
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                _ = shutdown.cancelled() => return,
            }
        };
        hub.start_at(last);
        let mut d = Dispatcher {
            store,
            hub,
            last,
            metrics,
        };
        let mut check = tokio::time::interval(CHECK);
        let mut head_at_last_check = last;
        loop {
            tokio::select! {
                msg = rx.recv() => match msg {
                    Ok(BusMessage::Event(e)) => d.on_event(&e).await,
                    Ok(BusMessage::Resync) | Err(RecvError::Lagged(_)) => d.resync().await,
                    Err(RecvError::Closed) => return,
                },
                _ = check.tick() => {
                    // Anything the database had two seconds ago must have arrived by now.
                    if d.last < head_at_last_check {
                        d.catch_up(head_at_last_check).await;
                    }
                    if let Ok(h) = d.store.head_position().await {
                        head_at_last_check = h;
                    }
                    d.hub.unrouted.sweep(UNROUTED_FOR_GOOD);
                }
                _ = shutdown.cancelled() => return,
            }
        }
    }

    async fn on_event(&mut self, e: &crate::domain::Event) {
        if e.position <= self.last {
            return;
        }
        if e.position > self.last.next() {
            self.catch_up(e.position.prev()).await;
        }
        if e.position == self.last.next() {
            self.hub.dispatch(e);
            self.last = e.position;
        }
    }

    async fn resync(&mut self) {
        if let Ok(head) = self.store.head_position().await {
            self.catch_up(head).await;
        }
    }

    /// Dispatch every event in `(last, upto]` from the database, retrying until done.
    async fn catch_up(&mut self, upto: Position) {
        if self.last >= upto {
            return;
        }
        self.metrics
            .catch_ups
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        tracing::debug!(from = %self.last, %upto, "catching up from the database");
        while self.last < upto {
            match self.store.events_between(self.last, upto, 1000).await {
                Ok(events) if !events.is_empty() => {
                    let before = self.last;
                    for e in &events {
                        if e.position == self.last.next() {
                            self.hub.dispatch(e);
                            self.last = e.position;
                        }
                    }
                    if self.last == before {
                        tracing::error!(
                            at = %self.last,
                            "hole in the event log; positions must be gapless"
                        );
                        return;
                    }
                }
                Ok(_) => return,
                Err(e) => {
                    tracing::warn!(error = %e, "catch-up read failed; retrying");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        }
    }
}
