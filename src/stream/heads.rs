//! Stream heads for pollers: answering a poll's `If-None-Match` with `304 Not Modified`
//! without asking the database.
//!
//! A polled public timeline (public, local, remote, a tag) has the `ETag`
//! `W/"h<position>.<standing>-<query hash>"`, where the position is the newest event of
//! the timeline's stream this node has routed (the standing: see below). Every change that takes a notice into or out
//! of such a timeline, or edits one, is an event on its stream (a post, an edit, a
//! deletion, a suspension's or silence's withdrawal), so while no newer event has been
//! routed and none is on its way, the page a poller holds is still the page.
//!
//! "On its way" is what this module keeps exact for the node's own writes: an event is
//! acknowledged when it commits, and routed milliseconds later (sequencer, bus, hub). A
//! reader who posts and then polls the same node must see her notice, so every event this
//! node writes is counted here under its stream keys from its insert until its hub routes
//! it ([`Unrouted`]); a stream with an event in flight is answered from the database. An
//! event written by another node reaches this node's pollers when this node routes it,
//! as it reaches its streaming readers — within the relay lag, and at worst within the
//! dispatcher's periodic check of the database head if the bus lost it.
//!
//! Suspensions and silences, of accounts or of whole domains, and their lifting take
//! notices into or out of public pages without (or beyond) events on their streams: each
//! also writes a [`crate::domain::EventKind::Standing`] event on a stream of its own, whose
//! head every such `ETag` carries too (`W/"h<position>.<standing>-<query hash>"`).
//!
//! What a 304 does not revalidate: counts (favourites, boosts, replies), poll results and
//! authors' profiles inside the page, which change without an event on the stream (as
//! for a streaming reader).
//! Signed-in readers are always answered from the database: their blocks, mutes and
//! filters change pages without events on public streams.

use crate::domain::Event;
use dashmap::DashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Polled stream keys at most (each costs ~100 bytes): past them, a newly asked stream is
/// answered from the database. Never emptied: an entry being learnt must stay the one its
/// learner writes to.
const MAX_POLLED: usize = 100_000;
/// A key whose head is being learnt from the database.
const LEARNING: i64 = -1;

/// Events this node wrote that its hub has not routed yet, by event id, and how many of
/// them each stream key has.
#[derive(Default)]
pub struct Unrouted {
    events: DashMap<i64, (Vec<Arc<str>>, Instant)>,
    keys: DashMap<Arc<str>, u32>,
    /// `events.len()`, read on every routed event without touching the map's locks.
    count: AtomicUsize,
}

impl Unrouted {
    /// Count events `(id, stream keys)` from their insert (before their commit: an
    /// event is never unrouted yet uncounted). One that is never routed (its transaction
    /// rolled back) keeps its streams on the database path until [`Unrouted::sweep`].
    pub fn wrote<'a>(&self, events: impl IntoIterator<Item = (i64, &'a [String])>) {
        let now = Instant::now();
        for (id, streams) in events {
            let keys: Vec<Arc<str>> = streams.iter().map(|s| Arc::from(s.as_str())).collect();
            for k in &keys {
                *self.keys.entry(k.clone()).or_insert(0) += 1;
            }
            match self.events.insert(id, (keys, now)) {
                None => {
                    self.count.fetch_add(1, Ordering::Release);
                }
                // An id given again (SQLite reuses the ids of a rolled-back insert): the
                // earlier event never committed, and its counts go.
                Some((old, _)) => self.uncount(old),
            }
        }
    }

    /// The hub routed `event`.
    pub fn routed(&self, event: &Event) {
        if self.count.load(Ordering::Acquire) == 0 || event.id == 0 {
            return;
        }
        self.forget(event.id);
    }

    fn forget(&self, id: i64) {
        let Some((_, (keys, _))) = self.events.remove(&id) else {
            return;
        };
        self.count.fetch_sub(1, Ordering::Release);
        self.uncount(keys);
    }

    fn uncount(&self, keys: Vec<Arc<str>>) {
        for k in keys {
            self.keys.remove_if_mut(&k, |_, n| {
                *n -= 1;
                *n == 0
            });
        }
    }

    /// Forget events written longer ago than `age` and never routed: their transactions
    /// were rolled back (an event committed is routed within seconds, from the bus or by
    /// the dispatcher's check of the database head). Called by the dispatcher.
    pub fn sweep(&self, age: Duration) {
        if self.count.load(Ordering::Acquire) == 0 {
            return;
        }
        let old: Vec<i64> = self
            .events
            .iter()
            .filter(|e| e.value().1.elapsed() > age)
            .map(|e| *e.key())
            .collect();
        old.into_iter().for_each(|id| self.forget(id));
    }

    /// Has an event of stream `key` been written here and not routed yet?
    pub fn in_flight(&self, key: &str) -> bool {
        self.count.load(Ordering::Acquire) != 0 && self.keys.contains_key(key)
    }
}

/// The newest routed position of each stream that pollers ask about.
#[derive(Default)]
pub struct Heads {
    polled: DashMap<Arc<str>, i64>,
}

impl Heads {
    /// The hub routed `event`: the heads of its polled streams move to it.
    pub fn routed(&self, event: &Event) {
        if self.polled.is_empty() {
            return;
        }
        for key in &event.streams {
            if let Some(mut head) = self.polled.get_mut(key) {
                *head = (*head).max(event.position.get());
            }
        }
    }

    /// The head of `key` as routed here, if this node follows it.
    pub fn get(&self, key: &str) -> Option<i64> {
        self.polled.get(key).map(|h| *h).filter(|h| *h != LEARNING)
    }

    /// Follow `key`: `true` when its head must be read from the database (it is new, or
    /// an earlier read failed) — then call [`Heads::learnt`] with it. Call before the read:
    /// an event routed in between moves the entry itself, so nothing falls between the
    /// read and the routing. `false` when it is known, or when the table is full (the key
    /// then stays unknown and its polls go to the database).
    pub fn follow(&self, key: &str) -> bool {
        if let Some(h) = self.polled.get(key) {
            return *h == LEARNING;
        }
        if self.polled.len() >= MAX_POLLED {
            return false;
        }
        self.polled.entry(Arc::from(key)).or_insert(LEARNING);
        true
    }

    /// The database's head of `key`, read after [`Heads::follow`].
    pub fn learnt(&self, key: &str, head: i64) {
        if let Some(mut h) = self.polled.get_mut(key) {
            *h = (*h).max(head);
        }
    }
}
