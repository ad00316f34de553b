//! The sequencer: gives committed events their positions, then publishes them.
//!
//! # Why positions are never seen out of order
//!
//! A writer inserts its event row with `position = NULL` in the same transaction as the
//! change, so an event exists only once its change is committed. Positions are handed
//! out afterwards by one sequencer at a time: on Postgres, the node whose dedicated
//! connection holds an advisory lock (if that connection dies, the lock goes with it and
//! another node's sequencer takes over within a second). Each round is one short
//! transaction that numbers the committed, unpositioned rows consecutively after the
//! highest position (`MAX(position)`, read inside the round). On SQLite, whose writers
//! take turns under one in-process lock, a post's transaction gives its events their
//! positions as it writes them (or runs the round at its end, when another write left
//! events without one), and the sequencer only publishes what it numbered (one commit
//! per post instead of two; [`crate::store`]'s `Numbering`, with why the order holds
//! there).
//! Because only one such transaction runs at a time and each starts after the previous
//! one committed, positions become visible strictly in increasing order and without holes. A reader
//! that has seen position P can therefore never later find an event below P: the
//! sequence-commits-out-of-order problem cannot arise, because a transaction that has
//! not committed has no position at all; it gets one when it commits, above all others.
//! (The event's stream rows, `event_streams`, are written in the same transaction with
//! its position, from the keys the writer stored on the event; a `UNIQUE` index on
//! `events.position` would reject a second, confused sequencer.)
//!
//! # The outbox
//!
//! The event table is also the outbox. After numbering, the sequencer publishes to the
//! bus and records `relay_state.published_upto` — not after every round, but at most once
//! per [`MARK_EVERY`], when the sweep finds the node idle, and on shutdown (a write per
//! round was a statement and a commit per lone post). If the node dies between commit and
//! publish, the rows are still there: unpositioned ones are numbered by the next round
//! (a periodic sweep backs up the `NOTIFY`/in-process wake-up), and positioned ones above
//! the recorded mark are published again by whoever holds the lease next — what was
//! unpublished, and up to a second of what was. Publishing twice is allowed; receivers
//! drop positions they have seen. If the bus is down, posting still works; the backlog
//! goes out when it returns.

use crate::bus::Bus;
use crate::metrics::Metrics;
use crate::store::{SequencerLease, Store};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How often the sequencer looks for work when nothing woke it.
pub const SWEEP: Duration = Duration::from_millis(500);
const BATCH: i64 = 1000;
/// How stale `relay_state.published_upto` may get while events keep coming.
pub const MARK_EVERY: Duration = Duration::from_secs(1);

pub async fn run(
    store: Arc<dyn Store>,
    bus: Arc<dyn Bus>,
    metrics: Arc<Metrics>,
    shutdown: CancellationToken,
) {
    loop {
        match store.sequencer_lease().await {
            Ok(Some(lease)) => {
                tracing::info!("this node is now the sequencer");
                metrics.sequencer_leader.store(1, Ordering::Relaxed);
                let led = lead(lease, &*store, &*bus, &metrics, &shutdown).await;
                metrics.sequencer_leader.store(0, Ordering::Relaxed);
                metrics.publish_backlog.store(0, Ordering::Relaxed);
                if let Err(e) = led {
                    tracing::warn!(error = %e, "sequencer lost its lease or its database");
                }
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "cannot try for the sequencer lease"),
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = shutdown.cancelled() => return,
        }
    }
}

async fn lead(
    mut lease: Box<dyn SequencerLease>,
    store: &dyn Store,
    bus: &dyn Bus,
    metrics: &Metrics,
    shutdown: &CancellationToken,
) -> crate::store::Result<()> {
    let committed = store.committed();
    let mut published = lease.published_upto().await?;
    let mut marked = (published, tokio::time::Instant::now());
    let mut head = store.head_position().await?;
    // Whether the last wait ended by the sweep's timer: nothing is happening.
    let mut idle = false;
    loop {
        let fresh = lease.assign(BATCH).await?;
        let more_waiting = fresh.len() as i64 == BATCH;
        if let Some(last) = fresh.last() {
            head = head.max(last.position);
        }
        let mut bus_failed = false;
        if published < head {
            // What was just numbered, if it follows what was published without a gap;
            // else the database's range (a restart, a queue that dropped some).
            let follows = fresh.first().map(|e| e.position) == Some(published.next())
                && fresh.last().map(|e| e.position.get())
                    == Some(published.get() + fresh.len() as i64);
            let batch = if follows {
                fresh
            } else {
                store.events_between(published, head, BATCH).await?
            };
            if fault_exit_before_publish() {
                // Positions are committed and will never be published by this process.
                // The answers of the posts they belong to may still be on their way: let
                // them go out first, so that the crash test knows what was acknowledged.
                tracing::error!("fault injection: exiting between commit and publish");
                tokio::time::sleep(Duration::from_millis(300)).await;
                std::process::exit(86);
            }
            match bus.publish(&batch).await {
                Ok(()) => {
                    if let Some(last) = batch.last() {
                        published = last.position;
                        metrics
                            .events_published
                            .fetch_add(batch.len() as u64, Ordering::Relaxed);
                        metrics
                            .last_published_position
                            .store(published.get(), Ordering::Relaxed);
                        let now = crate::domain::now_micros();
                        metrics
                            .relay_lag_micros
                            .store(now - last.committed_at, Ordering::Relaxed);
                        for e in &batch {
                            metrics
                                .relay_lag
                                .observe((now - e.committed_at).max(0) as f64 / 1e6);
                        }
                    }
                }
                Err(e) => {
                    metrics.publish_failures.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(error = %e, backlog = head.since(published), "cannot publish; will retry");
                    bus_failed = true;
                }
            }
        }
        metrics
            .publish_backlog
            .store(head.since(published).max(0), Ordering::Relaxed);
        if published > marked.0 && (idle || marked.1.elapsed() >= MARK_EVERY) {
            lease.mark_published(published).await?;
            marked = (published, tokio::time::Instant::now());
        }
        if more_waiting || (published < head && !bus_failed) {
            continue;
        }
        let pause = if bus_failed {
            Duration::from_millis(200)
        } else {
            SWEEP
        };
        idle = false;
        tokio::select! {
            _ = committed.notified(), if !bus_failed => {}
            _ = tokio::time::sleep(pause) => idle = !bus_failed,
            _ = shutdown.cancelled() => {
                if published > marked.0 {
                    lease.mark_published(published).await?;
                }
                return Ok(());
            }
        }
    }
}

/// Fault injection for the crash tests: with `TIDINGS_FAULT_EXIT_BEFORE_PUBLISH=1` the
/// process exits after positions are committed and before they are published, as a
/// node that crashes at the worst moment would.
fn fault_exit_before_publish() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| {
        std::env::var_os("TIDINGS_FAULT_EXIT_BEFORE_PUBLISH").is_some_and(|v| v == "1")
    })
}
