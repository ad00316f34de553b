//! Tokens as they were read a moment ago, for the embedded database (SQLite) only.
//!
//! **Why.** Every authenticated request reads its token and the token's account. On
//! SQLite that read is a read transaction of its own, and SQLite drops a connection's
//! whole page cache whenever another connection has committed since its last one — so
//! after each post the read finds page 1, the token's index, the token's row and the
//! account's row again through the kernel. `perf` put it at a fifth of the runtime
//! thread's time in a lone post, and ~17 % of the node's CPU in `newsroom`, where one
//! publisher's token is read a hundred times a second (BENCHMARKS.md, issue 18).
//!
//! **When an entry is believed.** An entry holds what the read returned, the *epoch* of
//! the cache when the read began, and when it was read. It is used only while the epoch
//! is unchanged and for at most [`FRESH_FOR`]:
//!
//! - Every write transaction on sqlx's writer connection ([`super::sql::SqlStore::begin_write`]:
//!   revocations, suspensions, roles, profiles, wiki blocks, follows, favourites, …) moves
//!   the epoch on when it ends, committed or not, before its caller answers. So a change
//!   this process makes to a token or an account is seen by the next request, exactly as
//!   without the cache; a read that raced the change was begun under the old epoch and is
//!   not believed afterwards. Those writes are rare next to reads of tokens; the
//!   background rounds and the inbox's bookkeeping, which touch neither, leave the epoch
//!   (`begin_write_leaving_tokens`). One gap, bounded by [`FRESH_FOR`]: a client that
//!   hangs up while its own write commits drops the transaction, and so ends the epoch,
//!   before sqlx's connection has finished the `COMMIT` it was sent; a read in that
//!   instant keeps what it read.
//! - The writer thread's transactions (posts, the sequencer's rounds, the full-text index)
//!   change no token and no account but an author's counters, which a post raises in the
//!   counters kept for its author's tokens itself ([`TokenCache::posted`]).
//! - Another process writing the file (the `tidings admin` commands) moves no epoch here:
//!   its changes reach a token within [`FRESH_FOR`].
//!
//! Only tokens that were found are kept (a token made a moment later is never refused
//! from here), at most [`MAX_ENTRIES`] of them. Postgres has no cache: its nodes share
//! the database, and a revocation on one node must hold on all of them at once.

use super::TokenRecord;
use crate::domain::AccountId;
use crate::domain::entities::StatusRecord;
use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How long an entry is believed at most: what another process's change may take to
/// reach a token.
pub const FRESH_FOR: Duration = Duration::from_secs(1);

/// Entries kept at most; past it the stale ones go, and if none is stale, all.
const MAX_ENTRIES: usize = 4096;

struct Entry {
    record: TokenRecord,
    epoch: u64,
    read_at: Instant,
}

/// An account's post counters as the newest post or read of this epoch left them.
struct Counters {
    statuses_count: i64,
    last_status_at: Option<i64>,
    epoch: u64,
}

#[derive(Default)]
pub(crate) struct TokenCache {
    epoch: AtomicU64,
    entries: Mutex<Entries>,
}

#[derive(Default)]
struct Entries {
    tokens: HashMap<String, Entry>,
    /// By account, for the accounts of the tokens kept: a post raises one of these, not
    /// every entry of its author's tokens.
    counters: HashMap<AccountId, Counters>,
}

impl TokenCache {
    /// The token with this hash, if an entry for it may be believed.
    pub(crate) fn get(&self, token_hash: &str) -> Option<TokenRecord> {
        let epoch = self.epoch();
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let e = entries.tokens.get(token_hash)?;
        if e.epoch != epoch || e.read_at.elapsed() >= FRESH_FOR {
            return None;
        }
        let mut record = e.record.clone();
        if let Some(a) = record.account.as_mut()
            && let Some(c) = entries.counters.get(&a.id)
            && c.epoch == epoch
            && c.statuses_count > a.statuses_count
        {
            a.statuses_count = c.statuses_count;
            a.last_status_at = c.last_status_at;
        }
        Some(record)
    }

    /// The epoch to give [`Self::put`]: taken before the read.
    pub(crate) fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// Keep what a read begun at `epoch` found.
    pub(crate) fn put(&self, token_hash: &str, record: TokenRecord, epoch: u64, read_at: Instant) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let entries = &mut *entries;
        if entries.tokens.len() >= MAX_ENTRIES && !entries.tokens.contains_key(token_hash) {
            let now = self.epoch();
            entries
                .tokens
                .retain(|_, e| e.epoch == now && e.read_at.elapsed() < FRESH_FOR);
            if entries.tokens.len() >= MAX_ENTRIES {
                entries.tokens.clear();
            }
            let kept: std::collections::HashSet<AccountId> = (entries.tokens.values())
                .filter_map(|e| e.record.account.as_ref().map(|a| a.id))
                .collect();
            entries.counters.retain(|id, _| kept.contains(id));
        }
        if let Some(a) = &record.account {
            // Within an epoch counters only rise (what lowers them, a deletion, ends it):
            // a read that raced a post does not put the count of before back.
            let c = entries.counters.entry(a.id).or_insert(Counters {
                statuses_count: a.statuses_count,
                last_status_at: a.last_status_at,
                epoch,
            });
            if c.epoch != epoch || c.statuses_count < a.statuses_count {
                *c = Counters {
                    statuses_count: a.statuses_count,
                    last_status_at: a.last_status_at,
                    epoch,
                };
            }
        }
        entries.tokens.insert(
            token_hash.to_string(),
            Entry {
                record,
                epoch,
                read_at,
            },
        );
    }

    /// A write that may have changed tokens or accounts has ended: nothing read before
    /// it is believed.
    pub(crate) fn changed(&self) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
    }

    /// Posts were committed: their authors' counters, as the post's transaction left
    /// them, go into the counters kept for the authors' tokens — one lookup per post,
    /// however many tokens are kept.
    pub(crate) fn posted(&self, records: &[StatusRecord]) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        for r in records {
            let a = &r.account;
            // Only upwards: a repeated post (an `Idempotency-Key` seen before) answers
            // with its counters of then.
            if let Some(c) = entries.counters.get_mut(&a.id)
                && c.statuses_count < a.statuses_count
            {
                c.statuses_count = a.statuses_count;
                c.last_status_at = a.last_status_at;
            }
        }
    }
}

/// Moves the cache's epoch on when dropped: held by a write transaction
/// ([`super::sql::WriteTx`]), so that it ends — committed, rolled back or abandoned —
/// before anything read during it is believed.
pub(crate) struct ChangeOnDrop(pub(crate) std::sync::Arc<TokenCache>);

impl Drop for ChangeOnDrop {
    fn drop(&mut self) {
        self.0.changed();
    }
}
