//! The sequencer's lease: the right to give positions, held by one sequencer at a time.
//!
//! SQLite: one process owns the file, so the lease is granted once per process and
//! rounds are write transactions of the store's ([`SqlStore::in_write`]: the writer
//! thread, under the in-process writer lock). Postgres: the lease is a session advisory
//! lock on a dedicated connection; if that connection dies the lock goes with it and
//! another node's sequencer takes over, and since every assignment runs on that
//! connection, a sequencer that lost its lock cannot assign anything.

use super::lite::Conn;
use super::queries;
use super::queries::position_of;
use super::sql::{Backend, SqlStore};
use super::{Result, SequencerLease};
use crate::domain::{Event, Position};
use async_trait::async_trait;
use futures::FutureExt;
use futures::future::BoxFuture;
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, Connection, Row};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

const ADVISORY_LOCK_KEY: i64 = 0x7469_6469_6e67; // "tiding"

impl SqlStore {
    /// Try to become the sequencer; `None` when another holds the lease.
    pub(super) async fn take_lease(&self) -> Result<Option<Box<dyn SequencerLease>>> {
        match self.backend {
            Backend::Sqlite => {
                if self.lease_taken.swap(true, Ordering::SeqCst) {
                    return Ok(None);
                }
                Ok(Some(Box::new(SqlLease {
                    conn: LeaseConn::Writer(self.clone()),
                    released: Some(self.lease_taken.clone()),
                })))
            }
            Backend::Postgres => {
                let mut conn = self.pool.acquire().await?.detach();
                let got: bool = sqlx::query("SELECT pg_try_advisory_lock($1)")
                    .bind(ADVISORY_LOCK_KEY)
                    .fetch_one(&mut conn)
                    .await?
                    .try_get(0)?;
                if !got {
                    let _ = conn.close().await;
                    return Ok(None);
                }
                Ok(Some(Box::new(SqlLease {
                    conn: LeaseConn::Own(conn),
                    released: None,
                })))
            }
        }
    }
}

/// Where a lease's statements run.
enum LeaseConn {
    /// Postgres: the connection that holds the advisory lock.
    Own(AnyConnection),
    /// SQLite: the store's write transactions ([`SqlStore::in_write`]: the writer
    /// thread, or sqlx's writer connection for an in-memory database).
    Writer(SqlStore),
}

/// The connection one statement of the lease runs on.
enum Held<'a> {
    Own(&'a mut AnyConnection),
    Pooled(PoolConnection<Any>),
}

impl LeaseConn {
    async fn get(&mut self) -> Result<Held<'_>> {
        Ok(match self {
            LeaseConn::Own(c) => Held::Own(c),
            LeaseConn::Writer(store) => Held::Pooled(store.writer.acquire().await?),
        })
    }
}

impl std::ops::Deref for Held<'_> {
    type Target = AnyConnection;
    fn deref(&self) -> &AnyConnection {
        match self {
            Held::Own(c) => c,
            Held::Pooled(c) => c,
        }
    }
}

impl std::ops::DerefMut for Held<'_> {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        match self {
            Held::Own(c) => c,
            Held::Pooled(c) => c,
        }
    }
}

/// The lease (see the module doc).
struct SqlLease {
    conn: LeaseConn,
    released: Option<Arc<AtomicBool>>,
}

/// Postgres numbers a round in one statement, which is its own transaction: read the head,
/// number the oldest unnumbered events after it, write their stream rows. Five round trips
/// (`BEGIN`, head, number, stream rows, `COMMIT`) become one — at light load each costs a
/// wake-up of the database and of the node, a good part of a notice's way to its readers.
/// All parts see one snapshot, so the head is read before this statement's own numbering.
/// The stream keys are split as [`crate::domain::event::split_streams`] does.
const ASSIGN_POSTGRES: &str = "\
    WITH head AS (SELECT COALESCE(MAX(position), 0) AS h FROM events), \
    batch AS (SELECT id, ROW_NUMBER() OVER (ORDER BY id) AS rn \
              FROM (SELECT id FROM events WHERE position IS NULL ORDER BY id LIMIT $1) AS b), \
    numbered AS (UPDATE events SET position = head.h + batch.rn FROM batch, head \
                 WHERE events.id = batch.id \
                 RETURNING events.position, events.kind, events.payload, events.streams, \
                           events.created_at, events.id, events.author_id), \
    stream_rows AS (INSERT INTO event_streams (stream, event_id, position) \
                    SELECT k, numbered.id, numbered.position \
                    FROM numbered, unnest(string_to_array(numbered.streams, ' ')) AS k \
                    WHERE k <> '') \
    SELECT position, kind, payload, streams, created_at, author_id, id FROM numbered";

impl SqlLease {
    async fn assign_in_one_statement(&mut self, limit: i64) -> Result<Vec<Event>> {
        let mut events = sqlx::query(ASSIGN_POSTGRES)
            .bind(limit)
            .fetch_all(&mut *self.conn.get().await?)
            .await?
            .iter()
            .map(queries::event_row)
            .collect::<Result<Vec<_>>>()?;
        events.sort_by_key(|e| e.position);
        Ok(events)
    }
}

impl Drop for SqlLease {
    fn drop(&mut self) {
        if let Some(flag) = &self.released {
            flag.store(false, Ordering::SeqCst);
        }
    }
}

#[async_trait]
impl SequencerLease for SqlLease {
    async fn assign(&mut self, limit: i64) -> Result<Vec<Event>> {
        let LeaseConn::Writer(store) = &self.conn else {
            return self.assign_in_one_statement(limit).await;
        };
        let numbering = store
            .numbering
            .clone()
            .expect("a SQLite store numbers its events");
        // Numbered by their writers and committed: in position order.
        let (mut events, round) = numbering.take(limit);
        if round {
            // Events other writes left without positions: a round of their own, numbered
            // as a post's are ([`SqlStore::write_transaction`] numbers what the work says
            // it wrote), then taken in order with any that came meanwhile.
            store
                .write_transaction(|_| async { Ok(((), true)) }.boxed(), true)
                .await?;
            events.extend(numbering.take(limit - events.len() as i64).0);
        }
        Ok(events)
    }

    async fn published_upto(&mut self) -> Result<Position> {
        let row = sqlx::query("SELECT published_upto FROM relay_state WHERE id = 1")
            .fetch_one(&mut *self.conn.get().await?)
            .await?;
        position_of(row.try_get(0)?)
    }

    async fn mark_published(&mut self, position: Position) -> Result<()> {
        match &mut self.conn {
            LeaseConn::Writer(store) => {
                store
                    .in_write(move |c| {
                        async move { Ok((mark_published(c, position).await?, false)) }.boxed()
                    })
                    .await
            }
            LeaseConn::Own(conn) => mark_published(conn, position).await,
        }
    }
}

async fn mark_published(conn: &mut dyn Conn, position: Position) -> Result<()> {
    sqlx::query("UPDATE relay_state SET published_upto = $1 WHERE id = 1 AND published_upto < $1")
        .bind(position.get())
        .execute(conn.db())
        .await?;
    Ok(())
}

/// SQLite: positions are given inside the writing transaction (design.md allows it: SQLite
/// has one writer at a time, and every write here holds the in-process writer lock).
///
/// A post's transaction ([`SqlStore::write_transaction`]) gives its events their
/// positions as it writes them, after the head, when no other write has left an event
/// without one ([`Given`]); otherwise it ends with a round: the oldest committed events
/// without a position — any another write left, then its own — are numbered after the
/// head, in the same commit. One commit per post instead of two
/// (the post's, then the sequencer's round), and no trip to the writer thread for the
/// sequencer. After the commit, still under the writer lock, the numbered events are
/// queued here in commit order, which is position order; the sequencer takes them
/// ([`SequencerLease::assign`]) and publishes them as it publishes its own rounds'.
/// Why positions stay visible in order: each round runs under the writer lock in the
/// transaction that commits it, after every earlier one has committed, so each numbers
/// strictly after all committed positions — the argument of [`crate::sequencer`], with
/// the round inside the writer's transaction instead of after it.
///
/// Writes on sqlx's writer connection (edits, favourites, …) leave their events
/// unnumbered, as on Postgres, and say so as they write them (under the writer lock, so
/// before the next transaction asks); the next post's round numbers them, or the
/// sequencer runs a round of its own. Whatever an earlier process left is numbered by the first round;
/// any other way an event could be left without a position (a bug) is caught by a round
/// at least every [`SAFETY_ROUND`].
#[derive(Default)]
pub(super) struct Numbering {
    state: std::sync::Mutex<NumberingState>,
}

struct NumberingState {
    /// The highest committed position, as the last committed round left it; `None`
    /// after a round that did not commit (read again).
    head: Option<Position>,
    /// Numbered and committed, not yet taken by the sequencer; in position order.
    ready: std::collections::VecDeque<Event>,
    /// A write may have left events without positions since the last round.
    unnumbered: bool,
    last_round: Option<std::time::Instant>,
}

impl Default for NumberingState {
    fn default() -> Self {
        NumberingState {
            head: None,
            ready: Default::default(),
            // Whatever an earlier process left.
            unnumbered: true,
            last_round: None,
        }
    }
}

/// Events queued for the sequencer beyond this are dropped but the last: it finds the
/// gap and reads it from the database ([`crate::sequencer`]). Only a sequencer that has
/// stopped taking them lets the queue grow (it restarts from the database); an event
/// carries one stream key per follower, so the cap is kept low.
const READY_KEPT: usize = 10_000;

/// How long the sequencer goes without a round of its own when nobody asked for one
/// (the safety net of [`Numbering`]; an idle node's round is a transaction a time).
const SAFETY_ROUND: std::time::Duration = std::time::Duration::from_secs(5);

/// Events numbered in one round, at most (the rest: the next round, at once).
const ROUND_LIMIT: i64 = 10_000;

/// What a round numbered, to be recorded once its transaction has committed.
pub(super) struct Numbered {
    head: Position,
    events: Vec<Event>,
    /// How many of `events` a round numbered (it looked for every event without a
    /// position); `None` when all were given as they were written.
    round: Option<usize>,
}

impl Numbering {
    fn state(&self) -> std::sync::MutexGuard<'_, NumberingState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A write is about to leave events without positions (sqlx's writer connection).
    pub(super) fn may_leave_unnumbered(&self) {
        self.state().unnumbered = true;
    }

    /// Number every committed event without a position, in the caller's write
    /// transaction (under the writer lock). Recorded by [`Self::committed`] once that
    /// commits; forgotten if it does not (the head is read again next time).
    pub(super) async fn number(&self, conn: &mut dyn Conn) -> Result<Numbered> {
        let known_head = self.state().head.take();
        let (head, mut events) = sqlite_round(conn, known_head, ROUND_LIMIT).await?;
        events.sort_by_key(|e| e.position);
        Ok(Numbered {
            head: events.last().map_or(head, |e| e.position),
            round: Some(events.len()),
            events,
        })
    }

    /// [`Self::number`] behind a savepoint: if numbering fails (an event it cannot read,
    /// say), the write is kept without it and its events are left to the sequencer's own
    /// rounds — a fault in numbering stops publishing, as it did before positions were
    /// given here, but never posting.
    pub(super) async fn number_or_leave(&self, conn: &mut dyn Conn) -> Result<Option<Numbered>> {
        sqlx::query("SAVEPOINT numbering")
            .execute(conn.db())
            .await?;
        match self.number(conn).await {
            Ok(numbered) => {
                sqlx::query("RELEASE numbering").execute(conn.db()).await?;
                Ok(Some(numbered))
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot number events in the writing transaction; left to the sequencer");
                sqlx::query("ROLLBACK TO numbering")
                    .execute(conn.db())
                    .await?;
                sqlx::query("RELEASE numbering").execute(conn.db()).await?;
                self.may_leave_unnumbered();
                Ok(None)
            }
        }
    }

    /// The head a write transaction may give positions after as it inserts its events
    /// ([`Given`]): known, and no write has left events without a position since it
    /// was recorded (so none but the transaction's own can be waiting for one). Taken, as
    /// [`Self::number`] takes it: if the transaction does not commit, it is read again.
    pub(super) fn give_after(&self) -> Option<Position> {
        let mut s = self.state();
        if s.unnumbered {
            return None;
        }
        s.head.take()
    }

    /// A transaction that took the head with [`Self::give_after`] gave no event: the
    /// head stands (nothing it did, committed or not, moved it).
    pub(super) fn keep_head(&self, head: Position) {
        self.state().head.get_or_insert(head);
    }

    /// The round's transaction committed (still under the writer lock).
    pub(super) fn committed(&self, numbered: Numbered) {
        let mut s = self.state();
        s.head = Some(numbered.head);
        // Only a round looked for what others left (a full one may have left more);
        // positions given as written leave the mark and the safety round's clock alone.
        if let Some(n) = numbered.round {
            s.unnumbered = n as i64 == ROUND_LIMIT;
            s.last_round = Some(std::time::Instant::now());
        }
        s.ready.extend(numbered.events);
        if s.ready.len() > READY_KEPT {
            let keep = s.ready.len() - 1;
            s.ready.drain(..keep);
        }
    }

    /// Up to `limit` numbered events, in order, and whether a round of the sequencer's
    /// own is due.
    fn take(&self, limit: i64) -> (Vec<Event>, bool) {
        let mut s = self.state();
        let n = s.ready.len().min(limit.max(0) as usize);
        let events = s.ready.drain(..n).collect();
        let due = s.unnumbered || s.last_round.is_none_or(|t| t.elapsed() >= SAFETY_ROUND);
        (events, due && n < limit.max(0) as usize)
    }
}

/// Positions given to events as a write transaction inserts them, on SQLite, after the
/// head that [`Numbering::give_after`] handed it: the event is written with its position
/// and its stream rows at once, and published from what was written — no numbering
/// round after the work (an `UPDATE` of the events just written, reading each back).
/// SQLite's writers take turns under one lock, so positions given in a transaction are
/// in commit order. An insert refused because a position is taken (only a bug, or another
/// program writing the file, could take it) undoes only itself: the events are written
/// without positions and the rest of the transaction is left to a round
/// ([`Given::stop`]), so that fault can delay publishing, never posting. Any other
/// failure fails the transaction, as it would any write.
pub(crate) struct Given {
    /// The position the next event gets; `None` once giving stopped.
    next: Option<i64>,
    events: Vec<Event>,
}

impl Given {
    /// The position the next event inserted gets, while giving.
    pub(super) fn next(&self) -> Option<i64> {
        self.next
    }

    /// These events were written with the positions that followed [`Self::next`].
    pub(super) fn took(&mut self, events: impl IntoIterator<Item = Event>) {
        for e in events {
            self.next = self.next.map(|_| e.position.get() + 1);
            self.events.push(e);
        }
    }

    /// An insert with positions was refused: the transaction's other events go without.
    pub(super) fn stop(&mut self) {
        self.next = None;
    }
}

/// A write transaction's connection that gives its events positions as they are
/// inserted ([`Given`]); every statement runs on the connection it wraps.
struct Giving<'c> {
    conn: &'c mut dyn Conn,
    given: Given,
}

impl Conn for Giving<'_> {
    fn db(&mut self) -> super::lite::Db<'_> {
        self.conn.db()
    }
    fn sqlite(&self) -> bool {
        self.conn.sqlite()
    }
    fn given(&mut self) -> Option<&mut Given> {
        Some(&mut self.given)
    }
}

impl Numbering {
    /// Run `work` on `conn` giving its events positions after `head` (taken with
    /// [`Self::give_after`]); then what it numbered, to be recorded once the transaction
    /// commits. Events it left without one (giving stopped) are numbered by a round in
    /// the same transaction, or left to the sequencer ([`Self::number_or_leave`]).
    pub(super) async fn giving<T>(
        &self,
        conn: &mut dyn Conn,
        head: Position,
        work: impl for<'a> FnOnce(&'a mut dyn Conn) -> BoxFuture<'a, Result<(T, bool)>>,
    ) -> Result<(T, bool, Option<Numbered>)> {
        let mut giving = Giving {
            conn,
            given: Given {
                next: Some(head.get() + 1),
                events: Vec::new(),
            },
        };
        let (value, wrote) = work(&mut giving).await?;
        let Giving { conn, given } = giving;
        let gave = !given.events.is_empty();
        if given.next.is_some() && (gave || !wrote) {
            let numbered = match given.events.last() {
                Some(last) => Some(Numbered {
                    head: last.position,
                    events: given.events,
                    round: None,
                }),
                None => {
                    self.keep_head(head);
                    None
                }
            };
            return Ok((value, wrote, numbered));
        }
        // Giving stopped, or events were written some other way: a round numbers the
        // rest after what was given (the head is read again).
        let rest = if wrote {
            self.number_or_leave(conn).await?
        } else {
            None
        };
        let numbered = match (rest, given.events.last()) {
            (Some(mut rest), _) => {
                let mut events = given.events;
                events.append(&mut rest.events);
                Some(Numbered {
                    head: rest.head,
                    events,
                    round: rest.round,
                })
            }
            // The round failed (its events are left to the sequencer): what was given
            // is still committed with this transaction.
            (None, Some(last)) => Some(Numbered {
                head: last.position,
                events: given.events,
                round: None,
            }),
            (None, None) => None,
        };
        Ok((value, wrote, numbered))
    }
}

/// One SQLite round, in the caller's transaction: number the oldest unnumbered events
/// after the head (`known_head`, or read) and write their stream rows. Returns the head
/// it numbered after and the events numbered.
async fn sqlite_round(
    conn: &mut dyn Conn,
    known_head: Option<Position>,
    limit: i64,
) -> Result<(Position, Vec<Event>)> {
    let head = match known_head {
        Some(h) => h,
        None => position_of(
            sqlx::query("SELECT COALESCE(MAX(position), 0) FROM events")
                .fetch_one(conn.db())
                .await?
                .try_get(0)?,
        )?,
    };
    let rows = sqlx::query(
        "UPDATE events SET position = $1 + x.rn \
         FROM (SELECT b.id, ROW_NUMBER() OVER (ORDER BY b.id) AS rn \
               FROM (SELECT id FROM events WHERE position IS NULL ORDER BY id LIMIT $2) AS b) AS x \
         WHERE events.id = x.id \
         RETURNING events.position, events.kind, events.payload, events.streams, events.created_at, \
                   events.id, events.author_id",
    )
    .bind(head.get())
    .bind(limit)
    .fetch_all(conn.db())
    .await?;
    if rows.is_empty() {
        return Ok((head, Vec::new()));
    }
    let ids = rows
        .iter()
        .map(|r| r.try_get::<i64, _>("id"))
        .collect::<std::result::Result<Vec<i64>, _>>()?;
    let events = rows
        .iter()
        .map(queries::event_row)
        .collect::<Result<Vec<_>>>()?;
    // Each event's stream rows are written here, once, with its position: readers
    // resuming a stream find them by (stream, position), and an event that has no
    // position yet has no stream rows to be found by.
    let rows: Vec<(&str, i64, Position)> = events
        .iter()
        .zip(&ids)
        .flat_map(|(e, id)| e.streams.iter().map(move |k| (&**k, *id, e.position)))
        .collect();
    SqlStore::insert_rows(
        conn,
        "INSERT INTO event_streams (stream, event_id, position) VALUES ",
        &rows,
        |q, (stream, id, position)| {
            q.text(stream)
                .push(", ")
                .int(*id)
                .push(", ")
                .int(position.get());
        },
    )
    .await?;
    Ok((head, events))
}
