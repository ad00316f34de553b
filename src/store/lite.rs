//! SQLite's writer thread: posting and the sequencer's rounds run each of their
//! transactions whole on a connection that a thread of ours owns. And the token read of
//! every authenticated request, run on the request's own thread ([`InlineReader`]); and
//! the WAL's checkpoints, on a thread of their own so that a post's commit seldom waits
//! for one ([`Checkpoints`]).
//!
//! **Why.** sqlx runs every SQLite connection on a thread of its own, and each statement
//! is a trip there and back: the node's task hands the statement over, that thread wakes,
//! runs it, hands the rows back and the task wakes again. A lone post was nineteen such
//! trips (token, `BEGIN`, the notice, its tags, the read back, the author's count, live
//! events, followers, lists, remote followers, followers to notify, the event, `COMMIT`,
//! and the sequencer's four), ~80 context switches per post. Here a transaction is one
//! trip: the task sends the whole of it to the writer thread and gets its result — 13
//! switches per lone post, and a third less CPU with the planner setting in
//! [`Lite::open`] (BENCHMARKS.md, issue 18, with what the rest is).
//!
//! **How, without a second write path.** The writing code is written once, against
//! [`Conn`]: a connection whose [`Conn::db`] is an sqlx [`Executor`] of the `Any` driver.
//! On Postgres (and on an in-memory SQLite database, which another connection cannot
//! open) that is sqlx's own connection. On the writer thread it is [`Lite`], which runs the
//! very same `sqlx::query(…)` values on a `rusqlite` connection to the same file and
//! answers with sqlx's `AnyRow`s, so the code that reads the rows is shared too. The
//! async code is polled once on the writer thread: nothing in it may wait for anything but
//! its statements, which finish before they return (one that would is refused and rolled
//! back).
//!
//! `rusqlite` (0.39, linking the same `libsqlite3-sys` as sqlx) rather than hand-written
//! FFI. The `Any` driver's rows and arguments are built and read through fields sqlx keeps
//! public but hidden from its docs (`AnyRow`, `AnyColumn`, `AnyArguments`, checked against
//! sqlx-core 0.9.0; an sqlx upgrade must check them again — the writer stories on SQLite
//! would fail at once).
//!
//! Other write transactions (edits, favourites, follows, …) stay on sqlx's writer
//! connection; the in-process writer lock (held by each job until it has answered) orders
//! them with this thread's, so neither waits in SQLite's busy handler.

use super::Result;
use futures::future::BoxFuture;
use futures::stream::BoxStream;
use futures::{FutureExt, StreamExt};
use rusqlite::types::ValueRef;
use sqlx::any::{
    AnyArguments, AnyQueryResult, AnyRow, AnyStatement, AnyTypeInfo, AnyTypeInfoKind, AnyValue,
};
use sqlx::{Any, AnyConnection, Either, Execute, Executor};
use sqlx_core::any::{AnyColumn, AnyValueKind};
use sqlx_core::ext::ustr::UStr;
use std::sync::Arc;
use std::sync::mpsc;

/// A connection the store's shared statements run on (see the module doc).
pub(crate) trait Conn: Send {
    /// The executor for one statement.
    fn db(&mut self) -> Db<'_>;
    /// Whether the database is SQLite (placeholders are `?` there: [`super::queries::Sql`]).
    fn sqlite(&self) -> bool;
    /// The positions this write transaction gives its events as it inserts them, when it
    /// does ([`super::lease::Given`]).
    fn given(&mut self) -> Option<&mut super::lease::Given> {
        None
    }
}

impl Conn for AnyConnection {
    fn db(&mut self) -> Db<'_> {
        Db::Sqlx(self)
    }
    fn sqlite(&self) -> bool {
        self.backend_name() == "SQLite"
    }
}

impl Conn for sqlx::pool::PoolConnection<Any> {
    fn db(&mut self) -> Db<'_> {
        Db::Sqlx(self)
    }
    fn sqlite(&self) -> bool {
        (**self).sqlite()
    }
}

impl Conn for sqlx::Transaction<'_, Any> {
    fn db(&mut self) -> Db<'_> {
        Db::Sqlx(self)
    }
    fn sqlite(&self) -> bool {
        (**self).sqlite()
    }
}

impl Conn for Lite {
    fn db(&mut self) -> Db<'_> {
        Db::Lite(self)
    }
    fn sqlite(&self) -> bool {
        true
    }
}

/// One statement's executor: sqlx's connection, or the writer thread's.
pub(crate) enum Db<'c> {
    Sqlx(&'c mut AnyConnection),
    Lite(&'c mut Lite),
}

impl std::fmt::Debug for Db<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Db::Sqlx(_) => "Db::Sqlx",
            Db::Lite(_) => "Db::Lite",
        })
    }
}

impl<'c> Executor<'c> for Db<'c> {
    type Database = Any;

    fn fetch_many<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxStream<'e, std::result::Result<Either<AnyQueryResult, AnyRow>, sqlx::Error>>
    where
        'c: 'e,
        E: 'q + Execute<'q, Any>,
    {
        match self {
            Db::Sqlx(c) => c.fetch_many(query),
            Db::Lite(l) => {
                let steps: Vec<_> = match l.run(query) {
                    Ok((rows, done)) => rows
                        .into_iter()
                        .map(|r| Ok(Either::Right(r)))
                        .chain(std::iter::once(Ok(Either::Left(done))))
                        .collect(),
                    Err(e) => vec![Err(e)],
                };
                futures::stream::iter(steps).boxed()
            }
        }
    }

    fn fetch_optional<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxFuture<'e, std::result::Result<Option<AnyRow>, sqlx::Error>>
    where
        'c: 'e,
        E: 'q + Execute<'q, Any>,
    {
        match self {
            Db::Sqlx(c) => c.fetch_optional(query),
            Db::Lite(l) => {
                let first = l.run(query).map(|(rows, _)| rows.into_iter().next());
                futures::future::ready(first).boxed()
            }
        }
    }

    fn prepare_with<'e>(
        self,
        sql: sqlx::SqlStr,
        parameters: &'e [AnyTypeInfo],
    ) -> BoxFuture<'e, std::result::Result<AnyStatement, sqlx::Error>>
    where
        'c: 'e,
    {
        match self {
            Db::Sqlx(c) => c.prepare_with(sql, parameters),
            Db::Lite(_) => futures::future::ready(Err(sqlx::Error::Protocol(
                "the SQLite writer thread runs statements, it does not prepare them".into(),
            )))
            .boxed(),
        }
    }

    fn describe<'e>(
        self,
        sql: sqlx::SqlStr,
    ) -> BoxFuture<'e, std::result::Result<sqlx::Describe<Any>, sqlx::Error>>
    where
        'c: 'e,
    {
        match self {
            Db::Sqlx(c) => c.describe(sql),
            Db::Lite(_) => futures::future::ready(Err(sqlx::Error::Protocol(
                "the SQLite writer thread does not describe statements".into(),
            )))
            .boxed(),
        }
    }
}

/// A statement's result columns as sqlx's `Any` rows carry them, made once per statement
/// text.
struct Columns {
    names: Arc<sqlx_core::HashMap<UStr, usize>>,
    columns: Vec<AnyColumn>,
    /// For each of the statement's parameters, in order, which of sqlx's values it takes
    /// (from 1: `$N` and `?N` by their number, a plain `?` by its place).
    params: Vec<usize>,
}

/// Compiled statements the writer thread keeps.
const STATEMENTS_KEPT: usize = 256;

/// The writer thread's connection.
pub(crate) struct Lite {
    conn: rusqlite::Connection,
    /// Each statement's columns, by its text (hashed with hashbrown's default, foldhash:
    /// statement texts run to kilobytes, and std's SipHash cost ~1.5 instructions a byte).
    columns: sqlx_core::HashMap<String, Columns>,
}

impl Lite {
    fn open(path: &str) -> rusqlite::Result<Lite> {
        use rusqlite::OpenFlags;
        let conn = rusqlite::Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        for pragma in super::sqlite::PRAGMAS {
            conn.execute_batch(pragma)?;
        }
        // A batch of N notices has statements of its own size: keep plenty.
        conn.set_prepared_statement_cache_capacity(STATEMENTS_KEPT);
        // SQLite compiles a kept statement again when a value bound to it changes and
        // that value could change its plan (this bundled SQLite has STAT4): statements
        // were parsed and planned anew at every post (`sqlite3Reprepare`, a tenth of
        // this thread's time). One plan per statement is what we want.
        conn.set_db_config(
            rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
            true,
        )?;
        Ok(Lite {
            conn,
            columns: sqlx_core::HashMap::new(),
        })
    }

    /// Run one statement to its end: its rows, and what it changed.
    fn run<'q, E: Execute<'q, Any>>(
        &mut self,
        mut query: E,
    ) -> std::result::Result<(Vec<AnyRow>, AnyQueryResult), sqlx::Error> {
        let args = query.take_arguments().map_err(sqlx::Error::Encode)?;
        let sql = query.sql();
        let sql = sql.as_str();
        let mut stmt = self.conn.prepare_cached(sql).map_err(lite_error)?;
        // Statement texts vary with a batch's size (and some carry ids), so the map is
        // emptied now and then, as rusqlite's own cache evicts.
        if self.columns.len() >= 4 * STATEMENTS_KEPT {
            self.columns.clear();
        }
        let cols = match self.columns.entry_ref(sql) {
            sqlx_core::hash_map::EntryRef::Occupied(o) => o.into_mut(),
            sqlx_core::hash_map::EntryRef::Vacant(v) => v.insert(columns_of(&stmt)?),
        };
        let cols = &*cols;
        bind(&mut stmt, &cols.params, args)?;
        let mut out = Vec::new();
        let mut rows = stmt.raw_query();
        while let Some(row) = rows.next().map_err(lite_error)? {
            let mut values = Vec::with_capacity(cols.columns.len());
            for i in 0..cols.columns.len() {
                values.push(AnyValue {
                    kind: value_of(row.get_ref(i).map_err(lite_error)?)?,
                });
            }
            out.push(AnyRow {
                column_names: cols.names.clone(),
                columns: cols.columns.clone(),
                values,
            });
        }
        drop(rows);
        drop(stmt);
        let done = AnyQueryResult {
            rows_affected: self.conn.changes(),
            last_insert_id: Some(self.conn.last_insert_rowid()),
        };
        Ok((out, done))
    }
}

fn columns_of(stmt: &rusqlite::Statement<'_>) -> std::result::Result<Columns, sqlx::Error> {
    let mut names = sqlx_core::HashMap::with_capacity(stmt.column_count());
    let mut columns = Vec::with_capacity(stmt.column_count());
    for (i, name) in stmt.column_names().into_iter().enumerate() {
        let name = UStr::new(name);
        names.insert(name.clone(), i);
        columns.push(AnyColumn {
            ordinal: i,
            name,
            type_info: AnyTypeInfo {
                kind: AnyTypeInfoKind::Null,
            },
        });
    }
    let mut params = Vec::with_capacity(stmt.parameter_count());
    for i in 1..=stmt.parameter_count() {
        params.push(match stmt.parameter_name(i) {
            None => i,
            Some(name) => name
                .get(1..)
                .and_then(|n| n.parse::<usize>().ok())
                .filter(|_| name.starts_with(['$', '?']))
                .ok_or_else(|| sqlx::Error::Protocol(format!("unknown parameter {name}")))?,
        });
    }
    Ok(Columns {
        names: Arc::new(names),
        columns,
        params,
    })
}

/// Bind sqlx's arguments as sqlx's SQLite driver does: `$N` and `?N` by their number,
/// plain `?` in order. (sqlx also takes a mix of both styles and too few values, binding
/// NULL; the store writes neither, and here both are refused.)
fn bind(
    stmt: &mut rusqlite::Statement<'_>,
    params: &[usize],
    args: Option<AnyArguments>,
) -> std::result::Result<(), sqlx::Error> {
    let values = args.map(|a| a.values.0).unwrap_or_default();
    for (i, &n) in (1..).zip(params) {
        let value = n
            .checked_sub(1)
            .and_then(|k| values.get(k))
            .ok_or_else(|| {
                sqlx::Error::Protocol(format!("parameter {n} has no value ({})", values.len()))
            })?;
        let bound = match value {
            AnyValueKind::Null(_) => stmt.raw_bind_parameter(i, rusqlite::types::Null),
            AnyValueKind::Bool(b) => stmt.raw_bind_parameter(i, i64::from(*b)),
            AnyValueKind::SmallInt(v) => stmt.raw_bind_parameter(i, i64::from(*v)),
            AnyValueKind::Integer(v) => stmt.raw_bind_parameter(i, i64::from(*v)),
            AnyValueKind::BigInt(v) => stmt.raw_bind_parameter(i, *v),
            AnyValueKind::Real(v) => stmt.raw_bind_parameter(i, f64::from(*v)),
            AnyValueKind::Double(v) => stmt.raw_bind_parameter(i, *v),
            AnyValueKind::Text(s) => stmt.raw_bind_parameter(i, s.as_str()),
            AnyValueKind::TextSlice(s) => stmt.raw_bind_parameter(i, &**s),
            AnyValueKind::Blob(b) => stmt.raw_bind_parameter(i, b.as_slice()),
            // `AnyValueKind` is non-exhaustive; a kind sqlx adds later is refused here
            // until this learns it.
            _ => {
                return Err(sqlx::Error::Protocol(format!(
                    "parameter {n} is of a kind the SQLite writer thread does not bind"
                )));
            }
        };
        bound.map_err(lite_error)?;
    }
    Ok(())
}

/// A column's value as sqlx's SQLite driver gives it to `Any`: by its storage class.
fn value_of(v: ValueRef<'_>) -> std::result::Result<AnyValueKind, sqlx::Error> {
    Ok(match v {
        ValueRef::Null => AnyValueKind::Null(AnyTypeInfoKind::Null),
        ValueRef::Integer(i) => AnyValueKind::BigInt(i),
        ValueRef::Real(f) => AnyValueKind::Double(f),
        ValueRef::Text(t) => AnyValueKind::Text(Arc::new(
            String::from_utf8(t.to_vec()).map_err(|e| sqlx::Error::Decode(e.into()))?,
        )),
        ValueRef::Blob(b) => AnyValueKind::Blob(Arc::new(b.to_vec())),
    })
}

/// A `rusqlite` error as sqlx's, with the kind sqlx's SQLite driver gives constraint
/// failures (so a taken name is told apart as on sqlx's connections).
fn lite_error(e: rusqlite::Error) -> sqlx::Error {
    sqlx::Error::Database(Box::new(LiteError(e)))
}

#[derive(Debug)]
struct LiteError(rusqlite::Error);

impl std::fmt::Display for LiteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for LiteError {}

impl sqlx::error::DatabaseError for LiteError {
    fn message(&self) -> &str {
        match &self.0 {
            rusqlite::Error::SqliteFailure(_, Some(m)) => m,
            _ => "SQLite error",
        }
    }
    fn code(&self) -> Option<std::borrow::Cow<'_, str>> {
        self.0
            .sqlite_error()
            .map(|e| e.extended_code.to_string().into())
    }
    fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        self
    }
    fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
        self
    }
    fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
        self
    }
    fn kind(&self) -> sqlx::error::ErrorKind {
        use rusqlite::ffi;
        use sqlx::error::ErrorKind;
        match self.0.sqlite_error().map(|e| e.extended_code) {
            Some(ffi::SQLITE_CONSTRAINT_UNIQUE | ffi::SQLITE_CONSTRAINT_PRIMARYKEY) => {
                ErrorKind::UniqueViolation
            }
            Some(ffi::SQLITE_CONSTRAINT_FOREIGNKEY) => ErrorKind::ForeignKeyViolation,
            Some(ffi::SQLITE_CONSTRAINT_NOTNULL) => ErrorKind::NotNullViolation,
            Some(ffi::SQLITE_CONSTRAINT_CHECK) => ErrorKind::CheckViolation,
            _ => ErrorKind::Other,
        }
    }
}

type Job = Box<dyn FnOnce(&mut Lite) + Send>;

/// The writer thread, reached through its queue; it ends when the last handle is dropped.
pub(crate) struct LiteWriter {
    jobs: mpsc::Sender<Job>,
    /// The in-process writer lock, held by each job from before it is queued until it
    /// has answered — even if its caller stopped waiting.
    lock: Arc<tokio::sync::Mutex<()>>,
    /// Asks the checkpoint thread for a checkpoint (see [`Self::committed_elsewhere`]).
    nudge: mpsc::SyncSender<()>,
    /// Commits of sqlx's writer connection so far.
    elsewhere: std::sync::atomic::AtomicU32,
}

/// Commits of sqlx's writer connection per checkpoint asked for on their account.
const COMMITS_ELSEWHERE_PER_NUDGE: u32 = 64;

impl LiteWriter {
    /// Open the writer's connection to the database file at `path` (made and migrated
    /// already) and start its thread.
    pub(crate) fn start(
        path: &str,
        lock: Arc<tokio::sync::Mutex<()>>,
    ) -> anyhow::Result<Arc<LiteWriter>> {
        let mut lite = Lite::open(path)
            .map_err(|e| anyhow::anyhow!("cannot open the SQLite database {path:?}: {e}"))?;
        // This replaces SQLite's own checkpointing on this connection (which is a WAL
        // hook too): the thread below checkpoints instead.
        lite.conn.wal_hook(Some(note_wal_frames));
        let mut checkpoints = Checkpoints::start(path)?;
        let nudge = checkpoints.nudge.clone();
        let (send, jobs) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("tidings-sqlite-writer".into())
            .spawn(move || {
                CHECKPOINTING.with(|c| *c.borrow_mut() = Some(checkpoints.running.clone()));
                while let Ok(job) = jobs.recv() {
                    job(&mut lite);
                    checkpoints.after_job();
                }
            })?;
        Ok(Arc::new(LiteWriter {
            jobs: send,
            lock,
            nudge,
            elsewhere: Default::default(),
        }))
    }

    /// After a commit of sqlx's writer connection (edits, favourites, follows, …), which
    /// passes no WAL hook of ours: every [`COMMITS_ELSEWHERE_PER_NUDGE`]th asks the
    /// checkpoint thread for a checkpoint too. Without it a run of them with no post
    /// between would grow the log to [`INLINE_CHECKPOINT_FRAMES`], where the commit that
    /// crosses it checkpoints in place, under the writer lock, while posts wait.
    pub(crate) fn committed_elsewhere(&self) {
        use std::sync::atomic::Ordering;
        let n = self
            .elsewhere
            .fetch_add(1, Ordering::Relaxed)
            .wrapping_add(1);
        if n.is_multiple_of(COMMITS_ELSEWHERE_PER_NUDGE) {
            // Full: one is asked for already. Gone: the writer thread ended, and with it
            // the checkpoint thread; sqlx's own threshold still holds.
            let _ = self.nudge.try_send(());
        }
    }

    /// Run `work` in one write transaction on the writer thread: committed when it
    /// returns `Ok`, rolled back when it fails or panics.
    #[cfg(test)]
    pub(crate) async fn transaction<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: for<'a> FnOnce(&'a mut dyn Conn) -> BoxFuture<'a, Result<T>> + Send + 'static,
    {
        let held = self.lock.clone().lock_owned().await;
        self.transaction_held(held, work, |value| value).await
    }

    /// [`Self::transaction`] for a caller that holds the writer lock already (`held`,
    /// kept by the job until it has answered). `settle` runs on the writer thread after
    /// the commit, before the lock is let go: what it records is in commit order.
    pub(crate) async fn transaction_held<T, U, F, S>(
        &self,
        held: tokio::sync::OwnedMutexGuard<()>,
        work: F,
        settle: S,
    ) -> Result<U>
    where
        T: Send + 'static,
        U: Send + 'static,
        F: for<'a> FnOnce(&'a mut dyn Conn) -> BoxFuture<'a, Result<T>> + Send + 'static,
        S: FnOnce(T) -> U + Send + 'static,
    {
        debug_assert!(Arc::ptr_eq(
            tokio::sync::OwnedMutexGuard::mutex(&held),
            &self.lock
        ));
        let (answer, answered) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move |lite: &mut Lite| {
            let _ = answer.send(lite.transaction(work).map(settle));
            drop(held);
        });
        self.jobs
            .send(job)
            .map_err(|_| sqlx::Error::WorkerCrashed)?;
        answered.await.map_err(|_| sqlx::Error::WorkerCrashed)?
    }
}

/// Frames in the WAL past which the writer thread asks for a checkpoint: 8 MB of 4 KiB
/// pages, ~100 lone posts. A checkpoint costs two `fsync`s and a copy of each distinct page
/// in the log, and posts rewrite the same few leaves (a lone post logs ~18 frames, nearly
/// all the newest leaf of one table or index each): at 500 frames the checkpoint thread
/// cost 33–40 µs of CPU per lone post, at 2,000 it costs 13–20 (BENCHMARKS.md, issue 18).
const CHECKPOINT_FRAMES: i32 = 2000;

/// The log's length past which the writer checkpoints in its own commit after all, as SQLite
/// would: ~20 MB, reached only when the checkpoint thread cannot catch up (see
/// [`Checkpoints`]). sqlx's connections checkpoint in their commits at the same length
/// (`wal_autocheckpoint`, [`super::sqlite::PRAGMAS`]).
pub(super) const INLINE_CHECKPOINT_FRAMES: i32 = 5000;

/// Passive checkpoints run back to back after one nudge, at most, until one copies nothing
/// new.
const CATCH_UP: usize = 16;

thread_local! {
    /// Frames in the WAL after the last commit on this thread's writer connection.
    static WAL_FRAMES: std::cell::Cell<i32> = const { std::cell::Cell::new(0) };
    /// The writer thread's share of [`Checkpoints::running`].
    static CHECKPOINTING: std::cell::RefCell<Option<Arc<std::sync::Mutex<()>>>> =
        const { std::cell::RefCell::new(None) };
}

/// The writer connection's WAL hook: runs after each of its commits, on its thread, while
/// the job still holds the in-process writer lock.
fn note_wal_frames(wal: &rusqlite::hooks::Wal, frames: std::ffi::c_int) -> rusqlite::Result<()> {
    WAL_FRAMES.with(|f| f.set(frames));
    if frames >= INLINE_CHECKPOINT_FRAMES {
        // Wait for the thread's checkpoint, if one runs (SQLite would refuse a second);
        // then no other writer can commit meanwhile (the writer lock), so this copies all
        // that readers let it, and the next transaction starts the log over.
        let running = CHECKPOINTING.with(|c| c.borrow().clone());
        let _turn = running
            .as_ref()
            .map(|m| m.lock().unwrap_or_else(|e| e.into_inner()));
        if let Err(e) = wal.checkpoint() {
            tracing::warn!(error = %e, frames, "SQLite checkpoint in the writer failed");
        }
    }
    Ok(())
}

/// Checkpoints of the WAL, run on a thread of their own rather than by the writer.
///
/// **Why.** SQLite checkpoints when a commit leaves the log past 1,000 frames (its
/// default), on the connection that committed, before that commit returns: it syncs the
/// log, copies every page back into the database file and syncs the file. With posts
/// writing ~18 pages each that was every ~55 posts, and the post that drew it (and every
/// post queued behind the writer lock) waited 5–25 ms for two `fsync`s and a thousand page
/// copies — the worst tail of `newsroom` (BENCHMARKS.md, issue 18). A passive checkpoint
/// from another connection runs alongside the writer (WAL mode lets it), so a post does
/// not wait for one (but past [`INLINE_CHECKPOINT_FRAMES`], below, where sqlx's
/// connections do too); durability is unchanged (commits in WAL mode with `synchronous =
/// NORMAL` do not sync; checkpoints do, wherever they run).
///
/// The writer asks (a non-blocking nudge) each time its commits have added
/// [`CHECKPOINT_FRAMES`] to the log. The thread ends with the writer.
///
/// **The log must start over.** SQLite reuses the log from its start only when a write
/// begins after every frame was copied back. A passive checkpoint copies what was logged
/// when it began; posts committed meanwhile are left. So after one nudge the thread runs
/// checkpoints back to back (at most [`CATCH_UP`]) until one copies nothing new — the later
/// ones are short and soon find the writer between commits. Should the writer
/// never pause (a flood of posts, a slow disk), the log would grow without end; past
/// [`INLINE_CHECKPOINT_FRAMES`] the writer checkpoints in its commit, under the writer lock,
/// as SQLite would have — rare, and bounded. It first waits for the thread's checkpoint
/// if one runs (SQLite runs one at a time and would refuse it; under a flood of posts that
/// refusal let the log grow to 200 MB in 10 s). The thread runs at the node's priority: a
/// lower one would stretch its checkpoints, and so that wait, under load. The story
/// `the_log_stays_bounded_while_the_writer_never_pauses` holds both.
struct Checkpoints {
    nudge: mpsc::SyncSender<()>,
    /// Held while a checkpoint runs, by the thread or by the writer.
    running: Arc<std::sync::Mutex<()>>,
    /// The log's length when a checkpoint was last asked for (0 after the log restarted).
    asked_at: i32,
}

impl Checkpoints {
    fn start(path: &str) -> anyhow::Result<Checkpoints> {
        let conn = Lite::open(path)
            .map_err(|e| anyhow::anyhow!("cannot open the SQLite database {path:?}: {e}"))?
            .conn;
        let (nudge, nudged) = mpsc::sync_channel::<()>(1);
        let running = Arc::new(std::sync::Mutex::new(()));
        let turns = running.clone();
        std::thread::Builder::new()
            .name("tidings-checkpt".into())
            .spawn(move || {
                while nudged.recv().is_ok() {
                    let mut before = -1;
                    for _ in 0..CATCH_UP {
                        let turn = turns.lock().unwrap_or_else(|e| e.into_inner());
                        let done = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
                            Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?, r.get::<_, i64>(2)?))
                        });
                        drop(turn);
                        match done {
                            Ok((busy, ..)) if busy != 0 => {
                                tracing::debug!("SQLite checkpoint: another one is running");
                                break;
                            }
                            Ok((_, log, copied)) => {
                                tracing::debug!(log, copied, "SQLite checkpoint");
                                // `log` is the log's length when this one began: the writer
                                // may have added more since, so go on until one copies
                                // nothing new (all copied; or a reader holds the rest; or
                                // the log started over).
                                if copied <= before {
                                    break;
                                }
                                before = copied;
                            }
                            Err(e) => {
                                tracing::warn!(error = %e, "SQLite checkpoint failed; the next one will try again");
                                break;
                            }
                        }
                    }
                }
            })?;
        Ok(Checkpoints {
            nudge,
            running,
            asked_at: 0,
        })
    }

    /// After each job of the writer thread: ask for a checkpoint if its commits have
    /// grown the log by [`CHECKPOINT_FRAMES`] since the last time it asked.
    fn after_job(&mut self) {
        let frames = WAL_FRAMES.with(|f| f.get());
        if frames < self.asked_at {
            self.asked_at = 0;
        }
        if frames - self.asked_at >= CHECKPOINT_FRAMES {
            self.asked_at = frames;
            // Full: a checkpoint is already asked for and will copy these frames too.
            if let Err(mpsc::TrySendError::Disconnected(())) = self.nudge.try_send(()) {
                tracing::error!(
                    frames,
                    "the SQLite checkpoint thread is gone; the writer checkpoints past its limit only"
                );
            }
        }
    }
}

/// The read every authenticated request makes (its token: [`super::sql::SqlStore`]'s
/// `token`), run where the request runs: on the runtime's thread, on a connection that
/// thread keeps. Through sqlx it cost ~0.15 ms of sqlx's thread and a round trip to it
/// (two wake-ups, each tens of µs on this machine) on every request; a point lookup on a
/// unique index is a few µs of SQLite, less than the hop (BENCHMARKS.md, issue 18).
///
/// A reader in WAL mode does not wait for the writer; it can only wait on SQLite's
/// recovery of a crashed writer's WAL. So the connection waits at most [`INLINE_BUSY`],
/// and a read that fails here for any reason is left to the caller's sqlx pool.
pub(crate) struct InlineReader {
    path: Arc<str>,
}

/// How long an inline read waits for SQLite's locks before giving up (to sqlx's pool).
const INLINE_BUSY: std::time::Duration = std::time::Duration::from_millis(20);

/// Connections one thread keeps (a test process opens many databases; a node, one).
const INLINE_KEPT: usize = 4;

thread_local! {
    static INLINE: std::cell::RefCell<Vec<(Arc<str>, Lite)>> = const { std::cell::RefCell::new(Vec::new()) };
}

impl InlineReader {
    /// For the database file at `path` (made and migrated already); checked to open.
    pub(crate) fn new(path: &str) -> anyhow::Result<InlineReader> {
        Lite::open(path)
            .map_err(|e| anyhow::anyhow!("cannot open the SQLite database {path:?}: {e}"))?;
        Ok(InlineReader { path: path.into() })
    }

    /// Run `work` (statements that only read; each is its own snapshot) here and now.
    pub(crate) fn read<T, F>(&self, work: F) -> Result<T>
    where
        F: for<'a> FnOnce(&'a mut dyn Conn) -> BoxFuture<'a, Result<T>>,
    {
        INLINE.with(|kept| {
            let Ok(mut kept) = kept.try_borrow_mut() else {
                return Err(sqlx::Error::Protocol("an inline read inside another".into()).into());
            };
            let at = match kept.iter().position(|(p, _)| *p == self.path) {
                Some(at) => at,
                None => {
                    if kept.len() >= INLINE_KEPT {
                        kept.remove(0);
                    }
                    let lite = Lite::open(&self.path).map_err(lite_error)?;
                    lite.conn.busy_timeout(INLINE_BUSY).map_err(lite_error)?;
                    kept.push((self.path.clone(), lite));
                    kept.len() - 1
                }
            };
            kept[at].1.run_once(work)
        })
    }
}

impl Lite {
    /// `BEGIN`, `COMMIT` or `ROLLBACK`, kept compiled.
    fn control(&self, sql: &str) -> rusqlite::Result<()> {
        self.conn.prepare_cached(sql)?.raw_execute().map(|_| ())
    }

    fn transaction<T, F>(&mut self, work: F) -> Result<T>
    where
        F: for<'a> FnOnce(&'a mut dyn Conn) -> BoxFuture<'a, Result<T>>,
    {
        self.control(super::sql::SQLITE_BEGIN).map_err(lite_error)?;
        let failed = match self.run_once(work) {
            Ok(value) => match self.control("COMMIT") {
                Ok(()) => return Ok(value),
                Err(e) => lite_error(e).into(),
            },
            Err(e) => e,
        };
        self.roll_back();
        Err(failed)
    }

    /// Run `work` to its end. It awaits nothing but its own statements, which are done
    /// when they return: it is ready at its first poll. One that is not (it awaited
    /// something else) is a bug, refused here rather than left to block the thread; a
    /// panic is caught and answered as an error.
    fn run_once<T, F>(&mut self, work: F) -> Result<T>
    where
        F: for<'a> FnOnce(&'a mut dyn Conn) -> BoxFuture<'a, Result<T>>,
    {
        let done =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work(self).now_or_never()));
        match done {
            Ok(Some(result)) => result,
            Ok(None) => Err(sqlx::Error::Protocol(
                "work on a SQLite thread of ours waited for something other than its \
                 statements; refused"
                    .into(),
            )
            .into()),
            Err(panic) => {
                let what = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                tracing::error!(panic = %what, "work on a SQLite thread of ours panicked");
                Err(sqlx::Error::Protocol(format!(
                    "work on a SQLite thread of ours panicked ({what})"
                ))
                .into())
            }
        }
    }

    /// End the open transaction, if SQLite has not ended it itself (after some errors it
    /// has); a connection left inside one would hold the write lock for good.
    fn roll_back(&self) {
        for _ in 0..3 {
            if self.conn.is_autocommit() {
                return;
            }
            if let Err(e) = self.control("ROLLBACK") {
                tracing::warn!(error = %e, "the SQLite writer thread could not roll back; trying again");
            }
        }
        if !self.conn.is_autocommit() {
            tracing::error!("the SQLite writer thread is stuck inside a transaction");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::Row;

    fn writer() -> (tempfile::TempDir, Arc<LiteWriter>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let path = path.to_str().unwrap();
        let conn = rusqlite::Connection::open(path).unwrap();
        conn.execute_batch(
            "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, n INTEGER, x REAL, b BLOB);",
        )
        .unwrap();
        drop(conn);
        (dir, LiteWriter::start(path, Default::default()).unwrap())
    }

    async fn count(w: &LiteWriter) -> i64 {
        w.transaction(|c| {
            async move {
                let r = sqlx::query("SELECT COUNT(*) AS n FROM t")
                    .fetch_one(c.db())
                    .await?;
                Ok(r.try_get::<i64, _>("n")?)
            }
            .boxed()
        })
        .await
        .unwrap()
    }

    #[tokio::test]
    async fn statements_bind_by_number_and_answer_rows_as_sqlx_does() {
        let (_dir, w) = writer();
        let rows = w
            .transaction(|c| {
                async move {
                    // `$2` before `$1`: bound by number, not by place.
                    let done = sqlx::query("INSERT INTO t (n, name, x, b) VALUES ($2, $1, $3, $4)")
                        .bind("ada")
                        .bind(7_i64)
                        .bind(1.5_f64)
                        .bind(vec![1_u8, 2])
                        .execute(c.db())
                        .await?;
                    assert_eq!(done.rows_affected(), 1);
                    sqlx::query("INSERT INTO t (name, n) VALUES (?, ?)")
                        .bind("bo")
                        .bind(None::<i64>)
                        .execute(c.db())
                        .await?;
                    Ok(sqlx::query("SELECT id, name, n, x, b FROM t ORDER BY id")
                        .fetch_all(c.db())
                        .await?)
                }
                .boxed()
            })
            .await
            .unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].try_get::<String, _>("name").unwrap(), "ada");
        assert_eq!(rows[0].try_get::<i64, _>("n").unwrap(), 7);
        assert_eq!(rows[0].try_get::<f64, _>("x").unwrap(), 1.5);
        assert_eq!(rows[0].try_get::<Vec<u8>, _>("b").unwrap(), vec![1, 2]);
        assert_eq!(rows[1].try_get::<Option<i64>, _>("n").unwrap(), None);
        assert_eq!(rows[1].try_get::<i64, _>(0).unwrap(), 2);
        assert!(rows[0].try_get::<i64, _>("missing").is_err());
    }

    /// Frames the log file at `wal` has room for (its header is 32 bytes, each frame a
    /// 24-byte header and a 4 KiB page). The file keeps its largest size when the log starts
    /// over, so this is the log's high-water mark.
    fn wal_frames(wal: &std::path::Path) -> u64 {
        let len = std::fs::metadata(wal).map(|m| m.len()).unwrap_or(0);
        len.saturating_sub(32) / (24 + 4096)
    }

    /// One row of `name` and `bytes` bytes, in a transaction of its own.
    async fn insert_row(w: &LiteWriter, name: String, bytes: usize) {
        w.transaction(move |c| {
            async move {
                sqlx::query("INSERT INTO t (name, b) VALUES ($1, $2)")
                    .bind(name)
                    .bind(vec![7_u8; bytes])
                    .execute(c.db())
                    .await?;
                Ok(())
            }
            .boxed()
        })
        .await
        .unwrap();
    }

    /// The WAL is copied back into the database file by the checkpoint thread, once the
    /// writer's commits have grown it by [`CHECKPOINT_FRAMES`] — before the length at
    /// which a connection left to SQLite would checkpoint itself, in its commit (and at
    /// which the writer does). In WAL mode only a checkpoint writes the database file, so
    /// the file's size tells whether one ran.
    #[tokio::test]
    async fn the_log_is_checkpointed_before_the_writers_own_bound() {
        let (dir, w) = writer();
        let file = dir.path().join("t.db");
        let wal = dir.path().join("t.db-wal");
        let before = std::fs::metadata(&file).unwrap().len();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        let mut n = 0_u64;
        // A row per transaction (a couple of pages each) until a checkpoint has run.
        while std::fs::metadata(&file).unwrap().len() == before {
            assert!(
                wal_frames(&wal) < INLINE_CHECKPOINT_FRAMES as u64,
                "the log reached the writer's own bound with nothing checkpointed"
            );
            assert!(
                std::time::Instant::now() < deadline,
                "nothing was checkpointed after {n} commits and {} frames",
                wal_frames(&wal)
            );
            n += 1;
            insert_row(&w, format!("row {n}"), 300).await;
        }
        assert!(
            wal_frames(&wal) < INLINE_CHECKPOINT_FRAMES as u64,
            "the writer checkpointed in its own commit, at {} frames",
            wal_frames(&wal)
        );
        assert!(
            n > 100,
            "a checkpoint ran after {n} commits, before the writer asked for one"
        );
        assert_eq!(count(&w).await, n as i64);
    }

    /// Commits outside the writer thread (sqlx's writer connection) ask for checkpoints
    /// too: a run of them, far below the length at which SQLite would checkpoint on their
    /// connection, is copied back by the checkpoint thread.
    #[tokio::test]
    async fn commits_elsewhere_are_checkpointed_too() {
        let (dir, w) = writer();
        let file = dir.path().join("t.db");
        let wal = dir.path().join("t.db-wal");
        let other = rusqlite::Connection::open(&file).unwrap();
        other
            .execute_batch("PRAGMA wal_autocheckpoint = 5000")
            .unwrap();
        other
            .busy_timeout(std::time::Duration::from_secs(5))
            .unwrap();
        let before = std::fs::metadata(&file).unwrap().len();
        for i in 0..4 * COMMITS_ELSEWHERE_PER_NUDGE {
            other
                .execute(
                    "INSERT INTO t (name, b) VALUES (?1, zeroblob(300))",
                    [format!("elsewhere {i}")],
                )
                .unwrap();
            w.committed_elsewhere();
        }
        assert!(wal_frames(&wal) < INLINE_CHECKPOINT_FRAMES as u64);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while std::fs::metadata(&file).unwrap().len() == before {
            assert!(
                std::time::Instant::now() < deadline,
                "nothing was checkpointed after {} commits elsewhere ({} frames)",
                4 * COMMITS_ELSEWHERE_PER_NUDGE,
                wal_frames(&wal)
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        assert_eq!(count(&w).await, 4 * COMMITS_ELSEWHERE_PER_NUDGE as i64);
    }

    /// A checkpoint on the other thread copies what was logged when it began; if the writer
    /// never pauses, no checkpoint finds everything copied and the log never starts over.
    /// It still stays bounded: past [`INLINE_CHECKPOINT_FRAMES`] the writer checkpoints in
    /// its commit.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_log_stays_bounded_while_the_writer_never_pauses() {
        let (dir, w) = writer();
        let wal = dir.path().join("t.db-wal");
        // Eight writers, each always with a transaction queued: 20,000 frames and more.
        let mut writers = Vec::new();
        for k in 0..8 {
            let w = w.clone();
            writers.push(tokio::spawn(async move {
                for i in 0..1000 {
                    insert_row(&w, format!("{k} {i}"), 1500).await;
                }
            }));
        }
        for t in writers {
            t.await.unwrap();
        }
        let frames = wal_frames(&wal);
        assert_eq!(count(&w).await, 8000);
        assert!(
            frames <= INLINE_CHECKPOINT_FRAMES as u64 + 100,
            "the log grew to {frames} frames"
        );
    }

    /// Insert `names` in one transaction on the writer thread, then panic if asked.
    async fn insert(w: &LiteWriter, names: &'static [&'static str], panic: bool) -> Result<()> {
        w.transaction(move |c| {
            async move {
                for name in names {
                    sqlx::query("INSERT INTO t (name) VALUES ($1)")
                        .bind(*name)
                        .execute(c.db())
                        .await?;
                }
                assert!(!panic, "a bug in a write");
                Ok(())
            }
            .boxed()
        })
        .await
    }

    #[tokio::test]
    async fn a_failed_or_panicking_transaction_leaves_nothing_and_the_thread_goes_on() {
        let (_dir, w) = writer();
        let taken = insert(&w, &["same", "same"], false).await.unwrap_err();
        // A unique violation is told apart as on sqlx's own connections.
        match taken {
            super::super::StoreError::Database(sqlx::Error::Database(d)) => {
                assert!(d.is_unique_violation(), "{d}")
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(count(&w).await, 0, "the first insert was rolled back");
        assert!(insert(&w, &["x"], true).await.is_err());
        assert_eq!(count(&w).await, 0, "the panicking write was rolled back");
        insert(&w, &["kept"], false).await.unwrap();
        assert_eq!(count(&w).await, 1);
    }
}
