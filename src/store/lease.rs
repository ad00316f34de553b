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
                    head: None,
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
                    head: None,
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
    /// SQLite: the highest position, as this lease's last round left it. Nobody else
    /// numbers while the lease is held (it is the one process's), so the next round need
    /// not read it again. Postgres reads it inside its one statement.
    head: Option<Position>,
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
        // Forgotten until this round has committed: after any failure it is read again.
        let known_head = self.head.take();
        let (head, mut events) = store
            .in_write(move |c| {
                async move { Ok((sqlite_round(c, known_head, limit).await?, false)) }.boxed()
            })
            .await?;
        events.sort_by_key(|e| e.position);
        self.head = Some(events.last().map_or(head, |e| e.position));
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
