//! Resumes that ask for the same page of a stream share one database read.
//!
//! After a network blip every reader of an event page comes back at once, most of them
//! from the same last position. Each resume reads the stream's events after its
//! position; forty thousand identical reads at the same instant are a thundering herd on
//! the database. Here at most [`READS_PER_PAGE`] reads of one (stream, after) run at a
//! time: while they run, the resumes that cannot use them wait together for the next,
//! which starts when one of them lands. So a storm costs a few reads per read's duration
//! however many readers come back, and a lone resume reads at once.
//!
//! Who may use a read: the hub numbers subscriptions
//! ([`crate::stream::hub::SubscriptionGuard::epoch`]) and a read notes the newest number just
//! before it starts. A reader may join a read that has not started, or one that noted her
//! number or a later one. Every event the hub routed before she subscribed was committed
//! before that, so such a read sees it; everything routed after reaches her through her
//! subscription (see the module above). A reader who subscribed after a read started
//! waits for the next.

use crate::domain::{Event, Position};
use crate::metrics::Metrics;
use crate::store::Store;
use crate::stream::hub::Hub;
use futures::FutureExt;
use futures::future::{BoxFuture, Shared};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

type Page = Result<Arc<Vec<Event>>, Arc<str>>;

/// Reads of one page that may run at once. One at a time made a storm on SQLite wait for
/// reads in a row (measured in BENCHMARKS.md, "reconnect-storm"); the pool has 8
/// connections there and 32 on Postgres.
pub const READS_PER_PAGE: usize = 4;

/// The reads of one (stream, after): a turn for each running one, and those not landed.
struct Slot {
    turns: Arc<tokio::sync::Semaphore>,
    flights: Vec<Flight>,
}

#[derive(Clone)]
struct Flight {
    id: u64,
    /// The newest subscription the read is good for; 0 until it starts.
    epoch: Arc<AtomicU64>,
    page: Shared<BoxFuture<'static, Page>>,
}

impl Flight {
    fn serves(&self, subscribed: u64) -> bool {
        let epoch = self.epoch.load(Ordering::SeqCst);
        epoch == 0 || epoch >= subscribed
    }
}

pub struct Replays {
    store: Arc<dyn Store>,
    hub: Arc<Hub>,
    metrics: Arc<Metrics>,
    flights: Mutex<HashMap<(String, Position), Slot>>,
    next_id: AtomicU64,
}

impl Replays {
    pub fn new(store: Arc<dyn Store>, hub: Arc<Hub>, metrics: Arc<Metrics>) -> Self {
        Replays {
            store,
            hub,
            metrics,
            flights: Mutex::default(),
            next_id: AtomicU64::new(0),
        }
    }

    /// Up to `limit` events of stream `key` after `after`, for a reader whose hub
    /// subscription has number `subscribed`.
    pub async fn page(
        self: &Arc<Self>,
        key: &str,
        after: Position,
        limit: i64,
        subscribed: u64,
    ) -> Page {
        let slot = (key.to_string(), after);
        let (flight, leader) = {
            let mut flights = self.flights.lock().unwrap_or_else(|e| e.into_inner());
            let entry = flights.entry(slot.clone()).or_insert_with(|| Slot {
                turns: Arc::new(tokio::sync::Semaphore::new(READS_PER_PAGE)),
                flights: Vec::new(),
            });
            match entry.flights.iter().find(|f| f.serves(subscribed)) {
                Some(f) => {
                    self.metrics.replay_shared.fetch_add(1, Ordering::Relaxed);
                    (f.clone(), false)
                }
                None => {
                    self.metrics.replay_reads.fetch_add(1, Ordering::Relaxed);
                    let turns = entry.turns.clone();
                    let epoch = Arc::new(AtomicU64::new(0));
                    let (store, hub, key) = (self.store.clone(), self.hub.clone(), key.to_string());
                    let metrics = self.metrics.clone();
                    let noted = epoch.clone();
                    let page = async move {
                        let _turn = turns.acquire_owned().await;
                        // Noted before the read starts: good for everyone subscribed so far.
                        noted.store(hub.epoch().max(1), Ordering::SeqCst);
                        let started = std::time::Instant::now();
                        let read = store.stream_events(&key, after, limit).await;
                        metrics.replay_read.observe(started.elapsed().as_secs_f64());
                        read.map(Arc::new).map_err(|e| Arc::from(e.to_string()))
                    }
                    .boxed()
                    .shared();
                    let f = Flight {
                        id: self.next_id.fetch_add(1, Ordering::Relaxed),
                        epoch,
                        page,
                    };
                    entry.flights.push(f.clone());
                    (f, true)
                }
            }
        };
        // The leader takes the flight off the board when it lands, or when its reader goes
        // away (those who joined keep their own handle on the read).
        let _landing = leader.then(|| Landing {
            replays: self.clone(),
            slot,
            id: flight.id,
        });
        flight.page.await
    }
}

struct Landing {
    replays: Arc<Replays>,
    slot: (String, Position),
    id: u64,
}

impl Drop for Landing {
    fn drop(&mut self) {
        let mut flights = self
            .replays
            .flights
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(entry) = flights.get_mut(&self.slot) {
            entry.flights.retain(|f| f.id != self.id);
            if entry.flights.is_empty() {
                flights.remove(&self.slot);
            }
        }
    }
}
