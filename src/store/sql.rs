//! The portable SQL store: one implementation of [`Store`] for both backends, on sqlx's
//! `Any` driver. Backend differences are confined to [`Backend`] and to the modules that
//! open each database.

use super::queries::{self, Sql, StatusRow, status_select};
use super::*;
use crate::domain::entities::ViewerState;
use futures::FutureExt;
use futures::future::BoxFuture;
use sqlx::AnyPool;
use sqlx::{Any, FromRow, Row, Transaction};
use std::sync::atomic::AtomicBool;
use tokio::sync::{Mutex, MutexGuard};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// One writer at a time, enforced in-process (SQLite allows one writer; taking the
    /// lock before `BEGIN` avoids `SQLITE_BUSY` on lock upgrades).
    Sqlite,
    /// Writers run concurrently; commits `NOTIFY` the sequencer on whichever node.
    Postgres,
}

#[derive(Clone)]
pub struct SqlStore {
    pub(super) pool: AnyPool,
    /// Where write transactions run: SQLite's one writer connection (see
    /// [`super::sqlite`]); on Postgres the same pool as `pool`.
    pub(super) writer: AnyPool,
    pub(super) site: Site,
    pub(super) backend: Backend,
    /// Serialises SQLite writers; `None` on Postgres.
    pub(super) write_lock: Option<Arc<Mutex<()>>>,
    committed: Arc<Notify>,
    /// Woken when deliveries were queued (the federation worker waits on it).
    pub(super) deliveries_waiting: Arc<Notify>,
    /// SQLite: the lease is granted once per process (one process owns the file).
    pub(super) lease_taken: Arc<AtomicBool>,
    /// New statuses waiting to be written together (group commit).
    pub(super) posts: Arc<super::batch::PostQueue>,
    /// Events written here and not routed by this node's hub yet.
    pub(super) unrouted: Arc<crate::stream::heads::Unrouted>,
    /// SQLite (a file): the writer thread that posts and the sequencer's rounds use
    /// ([`super::lite`]).
    pub(super) lite: Option<Arc<super::lite::LiteWriter>>,
    /// SQLite (a file): tokens are read on the request's own thread
    /// ([`super::lite::InlineReader`]).
    pub(super) token_reader: Option<Arc<super::lite::InlineReader>>,
    /// SQLite: tokens as read a moment ago ([`super::token_cache`]).
    pub(super) tokens: Option<Arc<super::token_cache::TokenCache>>,
    /// SQLite: positions given in the writing transactions ([`super::lease::Numbering`]).
    pub(super) numbering: Option<Arc<super::lease::Numbering>>,
    /// SQLite: notified after each post, for the full-text index ([`super::search`]).
    pub(super) unindexed: Option<Arc<Notify>>,
    /// SQLite: held while the full-text index takes new notices (one at a time).
    pub(super) indexing: Option<Arc<Mutex<()>>>,
}

/// A write transaction, holding the SQLite writer lock for its lifetime.
pub(super) struct WriteTx<'a> {
    pub tx: Transaction<'static, Any>,
    /// Ends the token cache's epoch when the transaction is over: [`SqlStore::commit_write`]
    /// drops it after the commit (and an abandoned transaction, wherever it is dropped).
    tokens_after: Option<super::token_cache::ChangeOnDrop>,
    _guard: Option<MutexGuard<'a, ()>>,
}

/// How a SQLite write transaction begins: with the database's write lock taken at once
/// (waiting up to `busy_timeout` for it). A deferred `BEGIN` that reads first and writes
/// later fails at once with "database is locked" when another connection wrote in between
/// — the writes outside [`SqlStore::begin_write`] (single statements on the pool) do not
/// take the in-process writer lock, and `busy_timeout` cannot help a stale snapshot.
pub(super) const SQLITE_BEGIN: &str = "BEGIN IMMEDIATE";

/// Rows per multi-row `INSERT`, so that the bound values stay far below both databases'
/// limits (32,766 on SQLite, 65,535 on Postgres).
const MAX_ROWS_PER_INSERT: usize = 2000;

/// Batches of new statuses written at once on Postgres (each holds a pooled connection).
const POSTGRES_WRITE_LANES: usize = 2;

/// The token with this hash, and its account (see [`queries::SELECT_TOKEN`]).
async fn read_token(conn: &mut dyn Conn, token_hash: &str) -> Result<Option<TokenRecord>> {
    let row = sqlx::query(queries::SELECT_TOKEN)
        .bind(token_hash)
        .fetch_optional(conn.db())
        .await?;
    row.map(|r| queries::token_row(&r)).transpose()
}

/// What a write transaction's work gave, whether it wrote events, and what was numbered.
type Worked<T> = (T, bool, Option<super::lease::Numbered>);

/// `work`, followed in its transaction by the numbering of the events it wrote (SQLite).
fn numbered_after<T, F>(
    numbering: Option<Arc<super::lease::Numbering>>,
    work: F,
    strict: bool,
) -> impl for<'a> FnOnce(&'a mut dyn Conn) -> BoxFuture<'a, Result<Worked<T>>> + Send + 'static
where
    T: Send + 'static,
    F: for<'a> FnOnce(&'a mut dyn Conn) -> BoxFuture<'a, Result<(T, bool)>> + Send + 'static,
{
    move |conn: &mut dyn Conn| {
        async move {
            // A post's transaction gives its events their positions as it writes them
            // where it may; the sequencer's own rounds (`strict`) number what others left.
            if let Some(n) = numbering.as_ref().filter(|_| !strict)
                && let Some(head) = n.give_after()
            {
                return n.giving(conn, head, work).await;
            }
            let (value, wrote) = work(&mut *conn).await?;
            let numbered = match &numbering {
                Some(n) if wrote && strict => Some(n.number(conn).await?),
                Some(n) if wrote => n.number_or_leave(conn).await?,
                _ => None,
            };
            Ok((value, wrote, numbered))
        }
        .boxed()
    }
}

/// `INSERT INTO events` of `chunk`, without positions or with those from `first`.
fn event_rows(chunk: &[NewEvent], now: i64, first: Option<i64>) -> Sql {
    let mut q = Sql::new(match first {
        None => {
            "INSERT INTO events (kind, payload, streams, created_at, status_id, author_id) VALUES "
        }
        Some(_) => {
            "INSERT INTO events (kind, payload, streams, created_at, status_id, author_id, position) VALUES "
        }
    });
    for (i, e) in chunk.iter().enumerate() {
        q.row(i);
        q.text(e.kind.as_str())
            .push(", ")
            .text(&e.payload)
            .push(", ")
            .text(&crate::domain::event::join_streams(&e.streams))
            .push(", ")
            .int(now)
            .push(", ")
            .opt_int(e.status_id)
            .push(", ")
            .opt_int(e.author_id);
        if let Some(first) = first {
            q.push(", ").int(first + i as i64);
        }
        q.push(")");
    }
    q
}

impl SqlStore {
    pub(super) fn new(pool: AnyPool, writer: AnyPool, site: Site, backend: Backend) -> Self {
        SqlStore {
            pool,
            writer,
            site,
            backend,
            write_lock: (backend == Backend::Sqlite).then(|| Arc::new(Mutex::new(()))),
            committed: Arc::new(Notify::new()),
            deliveries_waiting: Arc::new(Notify::new()),
            lease_taken: Arc::new(AtomicBool::new(false)),
            posts: Arc::new(super::batch::PostQueue::new(match backend {
                Backend::Sqlite => 1,
                Backend::Postgres => POSTGRES_WRITE_LANES,
            })),
            unrouted: Default::default(),
            lite: None,
            token_reader: None,
            tokens: None,
            numbering: (backend == Backend::Sqlite)
                .then(|| Arc::new(super::lease::Numbering::default())),
            unindexed: (backend == Backend::Sqlite).then(|| Arc::new(Notify::new())),
            indexing: (backend == Backend::Sqlite).then(|| Arc::new(Mutex::new(()))),
        }
    }

    /// Run `work` in one write transaction: on SQLite's writer thread where there is one
    /// ([`super::lite`]), else on sqlx's writer connection under the writer lock. `work`
    /// says whether it wrote events; on SQLite they are given their positions in this
    /// same transaction ([`super::lease::Numbering`]), and the sequencer is woken after
    /// the commit to publish them (on Postgres, to number them).
    ///
    /// `work` must change no token and no account but an author's counters: the token
    /// cache ([`super::token_cache`]) believes what it read across these transactions
    /// (posts, the sequencer's rounds, the full-text index). Anything else writes through
    /// [`Self::begin_write`], whose end the cache waits for.
    pub(super) async fn in_write<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: for<'a> FnOnce(&'a mut dyn Conn) -> BoxFuture<'a, Result<(T, bool)>> + Send + 'static,
    {
        let (value, wrote_events) = self.write_transaction(work, false).await?;
        if wrote_events {
            self.committed.notify_one();
        }
        Ok(value)
    }

    /// [`Self::in_write`] without waking the sequencer (its own rounds use this, with
    /// `strict`: a numbering that fails fails the transaction, where a post's is left to
    /// the sequencer: [`super::lease::Numbering::number_or_leave`]).
    pub(super) async fn write_transaction<T, F>(&self, work: F, strict: bool) -> Result<(T, bool)>
    where
        T: Send + 'static,
        F: for<'a> FnOnce(&'a mut dyn Conn) -> BoxFuture<'a, Result<(T, bool)>> + Send + 'static,
    {
        let held = match &self.write_lock {
            Some(l) => Some(l.clone().lock_owned().await),
            None => None,
        };
        let numbering = self.numbering.clone();
        let work = numbered_after(numbering.clone(), work, strict);
        let settle = move |(value, wrote, numbered): Worked<T>| {
            if let (Some(n), Some(numbered)) = (&numbering, numbered) {
                n.committed(numbered);
            }
            (value, wrote)
        };
        match (&self.lite, held) {
            (Some(lite), Some(held)) => lite.transaction_held(held, work, settle).await,
            (_, held) => {
                let mut tx = self.begin_on_writer().await?;
                let done = work(&mut tx).await?;
                tx.commit().await?;
                // Still under the writer lock: recorded in commit order.
                let done = settle(done);
                drop(held);
                Ok(done)
            }
        }
    }

    /// A write transaction on sqlx's writer connection, for writes other than posting
    /// ([`Self::in_write`]); the events it writes are numbered by the sequencer.
    pub(super) async fn begin_write(&self) -> Result<WriteTx<'_>> {
        let mut w = self.begin_write_leaving_tokens().await?;
        w.tokens_after = self.tokens.clone().map(super::token_cache::ChangeOnDrop);
        Ok(w)
    }

    /// [`Self::begin_write`] for a transaction that changes no token and no account (the
    /// background rounds and the inbox's bookkeeping: the delivery queue, ended polls,
    /// seen activities), whose end leaves the token cache as it is
    /// ([`super::token_cache`]). The rounds run every second and activities arrive all the
    /// time; each would otherwise make every token be read again.
    pub(super) async fn begin_write_leaving_tokens(&self) -> Result<WriteTx<'_>> {
        let guard = match &self.write_lock {
            Some(l) => Some(l.lock().await),
            None => None,
        };
        let tx = self.begin_on_writer().await?;
        Ok(WriteTx {
            tx,
            tokens_after: None,
            _guard: guard,
        })
    }

    /// `BEGIN` on sqlx's writer connection (the caller holds the writer lock on SQLite).
    async fn begin_on_writer(&self) -> Result<Transaction<'static, Any>> {
        Ok(match self.backend {
            Backend::Sqlite => self.writer.begin_with(SQLITE_BEGIN).await?,
            Backend::Postgres => self.writer.begin().await?,
        })
    }

    /// Commit; when the transaction wrote events, wake the sequencer here. On Postgres
    /// the sequencers of every node are woken by `NOTIFY`, sent by a trigger on `events`
    /// (migration 0004) and delivered only on commit.
    pub(super) async fn commit_write(&self, w: WriteTx<'_>, wrote_events: bool) -> Result<()> {
        w.tx.commit().await?;
        if let Some(lite) = &self.lite {
            lite.committed_elsewhere();
        }
        if wrote_events {
            self.committed.notify_one();
        }
        Ok(())
    }

    /// Write events in one multi-row insert: with no position yet, their stream rows
    /// (`event_streams`) written by the sequencer once they have positions (see
    /// [`crate::sequencer`]); or, in a transaction that gives positions as it writes
    /// ([`super::lease::Given`], SQLite), with their positions and stream rows at once.
    pub(super) async fn insert_events(
        &self,
        conn: &mut dyn Conn,
        events: &[NewEvent],
    ) -> Result<()> {
        let now = crate::domain::now_micros();
        for chunk in events.chunks(MAX_ROWS_PER_INSERT) {
            let first = conn.given().and_then(|g| g.next());
            if let (None, Some(n)) = (first, &self.numbering) {
                // Written without positions: the next transaction numbers them first
                // (the writer lock is held, so it comes after this one).
                n.may_leave_unnumbered();
            }
            let ids = match first {
                None => Self::inserted_ids(conn, event_rows(chunk, now, None)).await?,
                Some(first) => {
                    match Self::inserted_ids(conn, event_rows(chunk, now, Some(first))).await {
                        Ok(ids) => {
                            Self::give(conn, chunk, &ids, first, now).await?;
                            ids
                        }
                        // A position taken: SQLite undid that statement alone, and the
                        // transaction goes on. Anything else may have undone the whole
                        // transaction, so it fails it.
                        Err(StoreError::Database(sqlx::Error::Database(d)))
                            if d.is_unique_violation() =>
                        {
                            tracing::error!(error = %d, "cannot give events their positions as they are written; left to a round");
                            if let Some(g) = conn.given() {
                                g.stop();
                            }
                            if let Some(n) = &self.numbering {
                                n.may_leave_unnumbered();
                            }
                            Self::inserted_ids(conn, event_rows(chunk, now, None)).await?
                        }
                        Err(e) => return Err(e),
                    }
                }
            };
            // Counted from here until this node's hub routes them (a poller's 304 waits
            // for them: `crate::stream::heads`).
            self.unrouted.wrote(
                ids.into_iter()
                    .zip(chunk.iter().map(|e| e.streams.as_slice())),
            );
        }
        Ok(())
    }

    /// The stream rows of `chunk`, just written as `ids` with the positions from `first`,
    /// and the events as the sequencer publishes them.
    async fn give(
        conn: &mut dyn Conn,
        chunk: &[NewEvent],
        ids: &[i64],
        first: i64,
        now: i64,
    ) -> Result<()> {
        let rows: Vec<(&str, i64, i64)> = chunk
            .iter()
            .zip(ids)
            .zip(first..)
            .flat_map(|((e, id), p)| {
                e.streams
                    .iter()
                    .filter(|k| !k.is_empty())
                    .map(move |k| (k.as_str(), *id, p))
            })
            .collect();
        Self::insert_rows(
            conn,
            "INSERT INTO event_streams (stream, event_id, position) VALUES ",
            &rows,
            |q, (stream, id, position)| {
                q.text(stream).push(", ").int(*id).push(", ").int(*position);
            },
        )
        .await?;
        let mut written = Vec::with_capacity(chunk.len());
        for ((e, id), p) in chunk.iter().zip(ids).zip(first..) {
            written.push(crate::domain::Event {
                position: queries::position_of(p)?,
                kind: e.kind,
                payload: e.payload.as_str().into(),
                streams: e
                    .streams
                    .iter()
                    .filter(|k| !k.is_empty())
                    .map(|k| k.as_str().into())
                    .collect(),
                committed_at: now,
                author: e.author_id,
                id: *id,
            });
        }
        if let Some(g) = conn.given() {
            g.took(written);
        }
        Ok(())
    }

    pub(super) async fn insert_event(&self, conn: &mut dyn Conn, event: NewEvent) -> Result<()> {
        self.insert_events(conn, std::slice::from_ref(&event)).await
    }

    /// Run a multi-row `INSERT … VALUES …` with `RETURNING id`; the ids in `VALUES` order
    /// (both databases number the rows of one insert in order, so sorted is that order).
    pub(super) async fn inserted_ids(conn: &mut dyn Conn, mut q: Sql) -> Result<Vec<i64>> {
        q.push(" RETURNING id");
        let mut ids = q
            .build(conn)
            .fetch_all(conn.db())
            .await?
            .iter()
            .map(|r| r.try_get::<i64, _>(0))
            .collect::<std::result::Result<Vec<i64>, _>>()?;
        ids.sort_unstable();
        Ok(ids)
    }

    /// A multi-row `INSERT` (`head` ends in `VALUES `) of `rows`, a bounded number per
    /// statement; `values` binds one row's values, without the parentheses.
    pub(super) async fn insert_rows<T>(
        conn: &mut dyn Conn,
        head: &'static str,
        rows: &[T],
        values: impl Fn(&mut Sql, &T),
    ) -> Result<()> {
        for chunk in rows.chunks(MAX_ROWS_PER_INSERT) {
            let mut q = Sql::new(head);
            for (i, row) in chunk.iter().enumerate() {
                q.row(i);
                values(&mut q, row);
                q.push(")");
            }
            q.build(conn).execute(conn.db()).await?;
        }
        Ok(())
    }

    /// (tag, status id) rows.
    pub(super) async fn insert_tags(
        conn: &mut dyn Conn,
        rows: &[(String, StatusId)],
    ) -> Result<()> {
        Self::insert_rows(
            conn,
            "INSERT INTO status_tags (tag, status_id) VALUES ",
            rows,
            |q, (tag, id)| {
                q.text(tag).push(", ").int(*id);
            },
        )
        .await
    }

    pub(super) async fn fetch_account(
        conn: &mut dyn Conn,
        id: AccountId,
    ) -> Result<Option<AccountRecord>> {
        let row = sqlx::query(queries::SELECT_ACCOUNT_BY_ID)
            .bind(id)
            .fetch_optional(conn.db())
            .await?;
        row.map(|r| queries::account_row(&r)).transpose()
    }

    /// Load one status with its reblog target and the viewer's flags; deleted → `None`.
    pub(super) async fn fetch_status(
        conn: &mut dyn Conn,
        id: StatusId,
        viewer: Option<AccountId>,
    ) -> Result<Option<StatusRecord>> {
        let row = sqlx::query(queries::SELECT_STATUS_BY_ID)
            .bind(id)
            .fetch_optional(conn.db())
            .await?;
        let Some(row) = row else { return Ok(None) };
        let row = queries::status_row(&row)?;
        Ok(Self::complete(conn, vec![row], viewer).await?.pop())
    }

    /// Attach reblog targets and viewer flags; drop deleted rows and reblogs whose
    /// target is gone.
    pub(super) async fn complete(
        conn: &mut dyn Conn,
        rows: Vec<StatusRow>,
        viewer: Option<AccountId>,
    ) -> Result<Vec<StatusRecord>> {
        // A suspended author's notices are left out of every read (restored if the
        // suspension is lifted), and reblogs of them too (below).
        let rows: Vec<StatusRow> = rows
            .into_iter()
            .filter(|r| !r.deleted && r.record.account.standing.suspended_at.is_none())
            .collect();
        let targets: Vec<StatusId> = rows.iter().filter_map(|r| r.reblog_of_id).collect();
        let mut with_media: Vec<StatusId> = rows
            .iter()
            .filter(|r| r.has_media)
            .map(|r| r.record.id)
            .collect();
        let mut originals = Vec::new();
        if !targets.is_empty() {
            let mut q = Sql::new(concat!(
                status_select!(),
                " WHERE s.deleted_at IS NULL AND s.id IN ("
            ));
            q.int_list(&targets).push(")");
            for r in q.build(conn).fetch_all(conn.db()).await? {
                let row = queries::status_row(&r)?;
                if row.record.account.standing.suspended_at.is_some() {
                    continue;
                }
                if row.has_media {
                    with_media.push(row.record.id);
                }
                originals.push(row.record);
            }
        }
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let mut rec = r.record;
            if let Some(t) = r.reblog_of_id {
                match originals.iter().find(|o| o.id == t) {
                    Some(o) => rec.reblog = Some(Box::new(o.clone())),
                    None => continue,
                }
            }
            out.push(rec);
        }
        if let Some(v) = viewer {
            Self::attach_viewer(conn, &mut out, v).await?;
        }
        Self::attach_polls(conn, &mut out, viewer).await?;
        Self::attach_media(conn, &mut out, &with_media).await?;
        Ok(out)
    }

    async fn attach_viewer(
        conn: &mut dyn Conn,
        list: &mut [StatusRecord],
        viewer: AccountId,
    ) -> Result<()> {
        let ids: Vec<StatusId> = list
            .iter()
            .map(|s| s.reblog.as_ref().map_or(s.id, |r| r.id))
            .collect();
        if ids.is_empty() {
            return Ok(());
        }
        // One read for all four: (what, notice) pairs.
        let mut q =
            Sql::new("SELECT 'f' AS what, status_id AS sid FROM favourites WHERE account_id = ");
        q.int(viewer)
            .push(" AND status_id IN (")
            .int_list(&ids)
            .push(")");
        q.push(" UNION ALL SELECT 'b', status_id FROM bookmarks WHERE account_id = ");
        q.int(viewer)
            .push(" AND status_id IN (")
            .int_list(&ids)
            .push(")");
        q.push(" UNION ALL SELECT 'p', status_id FROM pins WHERE account_id = ");
        q.int(viewer)
            .push(" AND status_id IN (")
            .int_list(&ids)
            .push(")");
        q.push(
            " UNION ALL SELECT 'r', reblog_of_id FROM statuses WHERE deleted_at IS NULL AND account_id = ",
        );
        q.int(viewer)
            .push(" AND reblog_of_id IN (")
            .int_list(&ids)
            .push(")");
        let mut marks: Vec<(String, StatusId)> = Vec::new();
        for r in q.build(conn).fetch_all(conn.db()).await? {
            marks.push((r.try_get("what")?, r.try_get("sid")?));
        }
        let has = |what: &str, id: StatusId| marks.iter().any(|(w, s)| w == what && *s == id);
        for s in list.iter_mut() {
            let flags = |r: &StatusRecord| ViewerState {
                favourited: has("f", r.id),
                reblogged: has("r", r.id),
                bookmarked: has("b", r.id),
                pinned: has("p", r.id),
                mine: r.account.id == viewer,
            };
            if let Some(r) = s.reblog.as_mut() {
                r.viewer = Some(flags(r));
            }
            s.viewer = Some(match s.reblog.as_deref() {
                Some(r) => ViewerState {
                    mine: s.account.id == viewer,
                    pinned: false,
                    ..flags(r)
                },
                None => flags(s),
            });
        }
        Ok(())
    }

    pub(super) async fn followers(
        conn: &mut dyn Conn,
        account: AccountId,
    ) -> Result<Vec<AccountId>> {
        let rows = sqlx::query("SELECT follower_id FROM follows WHERE target_id = $1")
            .bind(account)
            .fetch_all(conn.db())
            .await?;
        rows.iter().map(|r| Ok(r.try_get("follower_id")?)).collect()
    }
}

/// A public stream's replay: `$1` the stream, `$2` the position after which, `$3` the
/// limit; nothing of a suspended author, nor of a silenced one; `$extra` narrows it.
macro_rules! public_replay {
    ($extra:literal) => {
        concat!(
            "SELECT ",
            queries::event_columns!(),
            " FROM event_streams es \
             JOIN events e ON e.id = es.event_id \
             WHERE es.stream = $1 AND es.position > $2 AND e.payload <> '' \
             AND (e.kind = 'delete' OR e.author_id IS NULL OR e.author_id NOT IN \
                  (SELECT id FROM accounts WHERE suspended_at IS NOT NULL \
                   UNION SELECT id FROM accounts WHERE silenced_at IS NOT NULL)) ",
            $extra,
            "ORDER BY es.position LIMIT $3"
        )
    };
}

/// Map a unique-constraint violation to [`StoreError::Taken`].
pub(super) fn taken(field: &'static str) -> impl Fn(sqlx::Error) -> StoreError {
    move |e| match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => StoreError::Taken(field),
        _ => StoreError::Database(e),
    }
}

#[async_trait]
impl Store for SqlStore {
    async fn create_app(&self, app: NewApp) -> Result<AppRecord> {
        let row = sqlx::query(
            "INSERT INTO apps (name, website, redirect_uris, scopes, client_id, client_secret, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) \
             RETURNING id, name, website, redirect_uris, scopes, client_id, client_secret",
        )
        .bind(app.name)
        .bind(app.website)
        .bind(app.redirect_uris)
        .bind(app.scopes)
        .bind(app.client_id)
        .bind(app.client_secret)
        .bind(crate::domain::now_micros())
        .fetch_one(&self.pool)
        .await?;
        Ok(AppRecord::from_row(&row)?)
    }

    async fn app_by_client_id(&self, client_id: &str) -> Result<Option<AppRecord>> {
        let row = sqlx::query(
            "SELECT id, name, website, redirect_uris, scopes, client_id, client_secret FROM apps WHERE client_id = $1",
        )
        .bind(client_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| AppRecord::from_row(&r)).transpose()?)
    }

    async fn create_token(&self, t: NewToken) -> Result<TokenRecord> {
        sqlx::query(
            "INSERT INTO tokens (token_hash, app_id, account_id, scopes, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&t.token_hash)
        .bind(t.app_id)
        .bind(t.account_id)
        .bind(&t.scopes)
        .bind(crate::domain::now_micros())
        .execute(&self.pool)
        .await?;
        self.token(&t.token_hash).await?.ok_or(StoreError::NotFound)
    }

    async fn token(&self, token_hash: &str) -> Result<Option<TokenRecord>> {
        let cache = self.tokens.as_deref();
        if let Some(found) = cache.and_then(|c| c.get(token_hash)) {
            return Ok(Some(found));
        }
        // Taken before the read: a change that ends meanwhile is not missed.
        let taken = cache.map(|c| (c, c.epoch(), std::time::Instant::now()));
        let inline = self.token_reader.as_ref().and_then(|reader| {
            let hash = token_hash.to_string();
            reader
                .read(move |c| async move { read_token(c, &hash).await }.boxed())
                .inspect_err(
                    |e| tracing::debug!(error = %e, "inline token read failed; asking the pool"),
                )
                .ok()
        });
        let found = match inline {
            Some(found) => found,
            None => read_token(&mut self.pool.acquire().await?, token_hash).await?,
        };
        if let (Some((cache, epoch, read_at)), Some(record)) = (taken, &found) {
            cache.put(token_hash, record.clone(), epoch, read_at);
        }
        Ok(found)
    }

    async fn revoke_token(&self, token_hash: &str, app_id: i64) -> Result<()> {
        let mut w = self.begin_write().await?;
        let gone =
            sqlx::query("DELETE FROM tokens WHERE token_hash = $1 AND app_id = $2 RETURNING id")
                .bind(token_hash)
                .bind(app_id)
                .fetch_optional(&mut *w.tx)
                .await?;
        let Some(row) = gone else {
            w.tx.rollback().await?;
            return Ok(());
        };
        let id: i64 = row.try_get("id")?;
        // The token's open streams, on every node, end when this event reaches them.
        self.insert_event(&mut w.tx, NewEvent::revoked(id)).await?;
        self.commit_write(w, true).await
    }

    async fn create_auth_code(&self, c: NewAuthCode) -> Result<()> {
        sqlx::query(
            "INSERT INTO auth_codes (code_hash, app_id, account_id, redirect_uri, scopes, code_challenge, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(c.code_hash)
        .bind(c.app_id)
        .bind(c.account_id)
        .bind(c.redirect_uri)
        .bind(c.scopes)
        .bind(c.code_challenge)
        .bind(crate::domain::now_micros())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn take_auth_code(&self, code_hash: &str) -> Result<Option<AuthCodeRecord>> {
        let row = sqlx::query(
            "DELETE FROM auth_codes WHERE code_hash = $1 \
             RETURNING app_id, account_id, redirect_uri, scopes, code_challenge, created_at",
        )
        .bind(code_hash)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| AuthCodeRecord::from_row(&r)).transpose()?)
    }

    async fn create_account(&self, a: NewAccount) -> Result<AccountRecord> {
        let row = sqlx::query(
            "INSERT INTO accounts (username, username_lower, email, password_hash, is_admin, role, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(&a.username)
        .bind(a.username.to_lowercase())
        .bind(a.email)
        .bind(a.password_hash)
        .bind(i64::from(a.is_admin))
        .bind(if a.is_admin { "admin" } else { "user" })
        .bind(crate::domain::now_micros())
        .fetch_one(&self.pool)
        .await
        .map_err(|e| {
            let on_email = e.to_string().contains("email");
            taken(if on_email { "email" } else { "username" })(e)
        })?;
        let id: AccountId = row.try_get("id")?;
        self.account(id).await?.ok_or(StoreError::NotFound)
    }

    async fn account(&self, id: AccountId) -> Result<Option<AccountRecord>> {
        let mut conn = self.pool.acquire().await?;
        Self::fetch_account(&mut conn, id).await
    }

    async fn account_by_username(&self, username: &str) -> Result<Option<AccountRecord>> {
        let row = sqlx::query(queries::SELECT_ACCOUNT_BY_USERNAME)
            .bind(username.to_lowercase())
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| queries::account_row(&r)).transpose()
    }

    async fn remote_account(&self, acct: &str) -> Result<Option<AccountRecord>> {
        let row = sqlx::query(queries::SELECT_REMOTE_ACCOUNT)
            .bind(acct.to_lowercase())
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| queries::account_row(&r)).transpose()
    }

    async fn account_by_email(&self, email: &str) -> Result<Option<AccountRecord>> {
        let row = sqlx::query(queries::SELECT_ACCOUNT_BY_EMAIL)
            .bind(email.to_lowercase())
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| queries::account_row(&r)).transpose()
    }

    async fn update_profile(&self, id: AccountId, c: ProfileChange) -> Result<AccountRecord> {
        let fields = c
            .fields
            .map(|f| serde_json::to_string(&f).unwrap_or_else(|_| "[]".into()));
        let (note_source, note) = match c.note {
            Some((source, html)) => (Some(source), Some(html)),
            None => (None, None),
        };
        let language_given = c.language.is_some();
        let mut w = self.begin_write().await?;
        sqlx::query(
            "UPDATE accounts SET display_name = COALESCE($2, display_name), \
             note = COALESCE($3, note), note_source = COALESCE($4, note_source), \
             bot = COALESCE($5, bot), discoverable = COALESCE($6, discoverable), \
             locked = COALESCE($12, locked), \
             fields = COALESCE($7, fields), privacy = COALESCE($8, privacy), \
             sensitive = COALESCE($9, sensitive), \
             language = CASE WHEN $10 = 1 THEN $11 ELSE language END, \
             avatar_key = COALESCE($13, avatar_key), header_key = COALESCE($14, header_key) \
             WHERE id = $1",
        )
        .bind(id)
        .bind(c.display_name)
        .bind(note)
        .bind(note_source)
        .bind(c.bot.map(i64::from))
        .bind(c.discoverable.map(i64::from))
        .bind(fields)
        .bind(c.privacy.map(|p| p.as_str()))
        .bind(c.sensitive.map(i64::from))
        .bind(i64::from(language_given))
        .bind(c.language.flatten())
        .bind(c.locked.map(i64::from))
        .bind(c.avatar_key)
        .bind(c.header_key)
        .execute(&mut *w.tx)
        .await?;
        // Her followers on other servers hear of it (`Update{Person}`), in this transaction.
        let queued = Self::queue_actor(&mut w.tx, id, "profile").await?;
        self.commit_write(w, false).await?;
        if queued > 0 {
            self.deliveries_waiting.notify_one();
        }
        self.account(id).await?.ok_or(StoreError::NotFound)
    }

    async fn queue_activity(&self, account: AccountId, inbox: &str, body: &str) -> Result<()> {
        let mut w = self.begin_write_leaving_tokens().await?;
        Self::queue_raw(&mut w.tx, account, inbox, body, crate::domain::now_micros()).await?;
        self.commit_write(w, false).await?;
        self.deliveries_waiting.notify_one();
        Ok(())
    }

    async fn remote_follow_request(
        &self,
        requester: &AccountRecord,
        target: AccountId,
        follow_uri: &str,
    ) -> Result<()> {
        self.write_remote_follow_request(requester, target, follow_uri)
            .await
    }

    async fn follow_request_uri(
        &self,
        requester: AccountId,
        target: AccountId,
    ) -> Result<Option<Option<String>>> {
        self.read_follow_request_uri(requester, target).await
    }

    async fn forget_seen(&self, before: i64) -> Result<u64> {
        self.write_forget_seen(before).await
    }

    async fn create_media(
        &self,
        media: &crate::domain::entities::MediaRecord,
    ) -> Result<crate::domain::entities::MediaRecord> {
        self.write_media(media).await
    }

    async fn media(&self, id: i64) -> Result<Option<crate::domain::entities::MediaRecord>> {
        self.read_media(id).await
    }

    async fn describe_media(
        &self,
        id: i64,
        description: Option<&str>,
        focus: Option<(f64, f64)>,
    ) -> Result<()> {
        self.write_media_text(id, description, focus).await
    }

    async fn media_file_live(&self, key: &str) -> Result<bool> {
        self.read_media_file_live(key).await
    }

    async fn put_blob(&self, key: &str, content_type: &str, bytes: Vec<u8>) -> Result<()> {
        self.write_blob(key, content_type, bytes).await
    }

    async fn blob(&self, key: &str) -> Result<Option<(String, Vec<u8>)>> {
        self.read_blob(key).await
    }

    async fn filters(
        &self,
        account: AccountId,
    ) -> Result<Vec<crate::domain::filters::FilterRecord>> {
        self.read_filters(account).await
    }

    async fn save_filter(
        &self,
        account: AccountId,
        filter: &crate::domain::filters::FilterRecord,
    ) -> Result<i64> {
        self.write_filter(account, filter).await
    }

    async fn delete_filter(&self, id: i64) -> Result<()> {
        self.remove_filter(id).await
    }

    async fn save_filter_keyword(
        &self,
        filter: i64,
        keyword: &crate::domain::filters::KeywordRecord,
    ) -> Result<i64> {
        self.write_keyword(filter, keyword).await
    }

    async fn add_filter_status(&self, filter: i64, status: StatusId) -> Result<i64> {
        self.write_filter_status(filter, status).await
    }

    async fn remove_filter_part(&self, keyword: Option<i64>, status: Option<i64>) -> Result<()> {
        self.remove_filter_part(keyword, status).await
    }

    async fn vote(&self, poll: i64, account: AccountId, choices: &[u32]) -> Result<StatusRecord> {
        self.write_vote(poll, account, choices).await
    }

    async fn poll(&self, poll: i64, viewer: Option<AccountId>) -> Result<Option<StatusRecord>> {
        self.read_poll(poll, viewer).await
    }

    async fn schedule(
        &self,
        account: AccountId,
        at: i64,
        params: &ScheduledParams,
    ) -> Result<ScheduledRecord> {
        self.write_scheduled(account, at, params).await
    }

    async fn scheduled(
        &self,
        account: AccountId,
        id: Option<i64>,
        page: CursorPage,
    ) -> Result<Vec<ScheduledRecord>> {
        self.read_scheduled(account, id, page).await
    }

    async fn reschedule(&self, account: AccountId, id: i64, at: i64) -> Result<bool> {
        self.move_scheduled(account, id, at).await
    }

    async fn unschedule(&self, account: Option<AccountId>, id: i64) -> Result<bool> {
        self.remove_scheduled(account, id).await
    }

    async fn claim_due(&self, now: i64, until: i64, limit: i64) -> Result<Vec<ScheduledRecord>> {
        self.claim_due_rows(now, until, limit).await
    }

    async fn lists(&self, owner: AccountId, member: Option<AccountId>) -> Result<Vec<ListRecord>> {
        self.read_lists(owner, member).await
    }

    async fn list(&self, id: ListId) -> Result<Option<ListRecord>> {
        self.read_list(id).await
    }

    async fn save_list(&self, list: &ListRecord, create: bool) -> Result<ListRecord> {
        self.write_list(list, create).await
    }

    async fn delete_list(&self, id: ListId) -> Result<()> {
        self.remove_list(id).await
    }

    async fn set_list_members(
        &self,
        list: &ListRecord,
        members: &[AccountId],
        on: bool,
    ) -> Result<()> {
        self.write_members(list, members, on).await
    }

    async fn answer_follow_request(
        &self,
        target: AccountId,
        requester: AccountId,
        accept: bool,
    ) -> Result<Relationship> {
        self.write_follow_answer(target, requester, accept).await
    }

    async fn set_hide(
        &self,
        account: AccountId,
        target: AccountId,
        how: Hide,
        on: bool,
    ) -> Result<Relationship> {
        self.write_hide(account, target, how, on).await
    }

    async fn hidden_authors(&self, account: AccountId) -> Result<Vec<AccountId>> {
        let mut conn = self.pool.acquire().await?;
        Self::read_hidden(&mut conn, account).await
    }

    async fn password_hash(&self, account_id: AccountId) -> Result<Option<String>> {
        let row = sqlx::query("SELECT password_hash FROM accounts WHERE id = $1")
            .bind(account_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row
            .map(|r| r.try_get::<Option<String>, _>(0))
            .transpose()?
            .flatten())
    }

    async fn set_follow(
        &self,
        follower: AccountId,
        target: AccountId,
        on: bool,
    ) -> Result<Relationship> {
        self.write_follow(follower, target, on, None).await
    }

    async fn relationship(&self, account: AccountId, other: AccountId) -> Result<Relationship> {
        let rows = sqlx::query(
            "SELECT follower_id, notify FROM follows WHERE (follower_id = $1 AND target_id = $2) OR (follower_id = $2 AND target_id = $1)",
        )
        .bind(account)
        .bind(other)
        .fetch_all(&self.pool)
        .await?;
        let mut rel = Relationship::default();
        for r in rows {
            let f: AccountId = r.try_get("follower_id")?;
            if f == account {
                rel.following = true;
                rel.notifying = r.try_get::<i64, _>("notify")? != 0;
            } else {
                rel.followed_by = true;
            }
        }
        let rows = sqlx::query(
            "SELECT 'b' AS what, account_id AS who, 1 AS n FROM blocks \
               WHERE (account_id = $1 AND target_id = $2) OR (account_id = $2 AND target_id = $1) \
             UNION ALL SELECT 'm', account_id, notifications FROM mutes \
               WHERE account_id = $1 AND target_id = $2 AND (expires_at IS NULL OR expires_at > $3) \
             UNION ALL SELECT 'r', account_id, 1 FROM follow_requests \
               WHERE (account_id = $1 AND target_id = $2) OR (account_id = $2 AND target_id = $1)",
        )
        .bind(account)
        .bind(other)
        .bind(crate::domain::now_micros())
        .fetch_all(&self.pool)
        .await?;
        for r in rows {
            let (what, who): (String, AccountId) = (r.try_get("what")?, r.try_get("who")?);
            match (what.as_str(), who == account) {
                ("b", true) => rel.blocking = true,
                ("b", false) => rel.blocked_by = true,
                ("r", true) => rel.requested = true,
                ("r", false) => rel.requested_by = true,
                _ => {
                    rel.muting = true;
                    rel.muting_notifications = r.try_get::<i64, _>("n")? != 0;
                }
            }
        }
        Ok(rel)
    }

    async fn set_follow_notify(
        &self,
        follower: AccountId,
        target: AccountId,
        notify: bool,
    ) -> Result<bool> {
        let done =
            sqlx::query("UPDATE follows SET notify = $3 WHERE follower_id = $1 AND target_id = $2")
                .bind(follower)
                .bind(target)
                .bind(i64::from(notify))
                .execute(&self.pool)
                .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn tell_ended_polls(&self, now: i64, limit: i64) -> Result<usize> {
        self.write_ended_polls(now, limit).await
    }

    async fn create_status(&self, s: NewStatus) -> Result<StatusRecord> {
        self.post_batched(s).await
    }

    async fn status(
        &self,
        id: StatusId,
        viewer: Option<AccountId>,
    ) -> Result<Option<StatusRecord>> {
        let mut conn = self.pool.acquire().await?;
        Self::fetch_status(&mut conn, id, viewer).await
    }

    async fn announce(
        &self,
        a: &NewAnnouncement,
        id: Option<i64>,
    ) -> Result<crate::domain::entities::AnnouncementRecord> {
        self.write_announcement(a, id).await
    }

    async fn unannounce(&self, id: i64) -> Result<bool> {
        self.write_unannounce(id).await
    }

    async fn announcements(
        &self,
        reader: Option<AccountId>,
        with_dismissed: bool,
    ) -> Result<Vec<crate::domain::entities::AnnouncementRecord>> {
        self.list_announcements(reader, with_dismissed).await
    }

    async fn dismiss_announcement(&self, reader: AccountId, id: i64) -> Result<bool> {
        self.write_dismissal(reader, id).await
    }

    async fn react(&self, reader: AccountId, id: i64, name: &str, on: bool) -> Result<()> {
        self.write_reaction(reader, id, name, on).await
    }

    async fn account_key(&self, account: AccountId) -> Result<Option<KeyPair>> {
        self.read_account_key(account).await
    }

    async fn put_account_key(&self, account: AccountId, pair: KeyPair) -> Result<KeyPair> {
        self.write_account_key(account, pair).await
    }

    async fn remote_actor(&self, by_key_id: bool, value: &str) -> Result<Option<RemoteActor>> {
        self.read_remote_actor(if by_key_id { "key_id" } else { "uri" }, value)
            .await
    }

    async fn put_remote_actor(&self, actor: &RemoteActor) -> Result<RemoteActor> {
        self.write_remote_actor(actor).await
    }

    async fn remote_follow(
        &self,
        account: AccountId,
        actor: i64,
        follow_uri: &str,
        inbox: &str,
        accept: &str,
    ) -> Result<()> {
        self.write_remote_follow(account, actor, follow_uri, inbox, accept)
            .await
    }

    async fn remote_unfollow(&self, account: AccountId, actor: i64) -> Result<bool> {
        self.write_remote_unfollow(account, actor).await
    }

    async fn remote_followers(&self, account: AccountId) -> Result<Vec<String>> {
        self.read_remote_followers(account).await
    }

    async fn follow_remote(
        &self,
        follower: AccountId,
        target: AccountId,
        on: bool,
        inbox: &str,
        activity: &str,
    ) -> Result<Relationship> {
        self.write_follow(follower, target, on, Some((inbox, activity)))
            .await
    }

    async fn unsee(&self, activity_uri: &str) -> Result<()> {
        self.write_unseen(activity_uri).await
    }

    async fn status_by_uri(&self, uri: &str) -> Result<Option<(StatusId, bool)>> {
        self.read_status_by_uri(uri).await
    }

    async fn set_moved(&self, account: AccountId, target: &str) -> Result<()> {
        self.write_moved(account, target).await
    }

    async fn status_ids_of(&self, account: AccountId, limit: i64) -> Result<Vec<StatusId>> {
        self.read_status_ids_of(account, limit).await
    }

    async fn local_followers(&self, account: AccountId) -> Result<Vec<AccountId>> {
        self.read_local_followers(account).await
    }

    async fn first_sight(&self, activity_uri: &str) -> Result<bool> {
        self.write_seen(activity_uri).await
    }

    async fn claim_deliveries(&self, now: i64, limit: i64, lease: i64) -> Result<Vec<Delivery>> {
        SqlStore::claim_deliveries(self, now, limit, lease).await
    }

    async fn delivery_done(&self, id: i64) -> Result<()> {
        self.write_delivery_done(id).await
    }

    async fn delivery_retry(&self, id: i64, next: i64) -> Result<()> {
        self.write_delivery_retry(id, next).await
    }

    async fn inbox_gone(&self, inbox: &str) -> Result<u64> {
        self.write_inbox_gone(inbox).await
    }

    async fn delivery_depth(&self) -> Result<i64> {
        self.read_delivery_depth().await
    }

    fn deliveries_waiting(&self) -> Arc<Notify> {
        self.deliveries_waiting.clone()
    }

    async fn conversations(
        &self,
        owner: AccountId,
        page: &CursorPage,
        only: Option<i64>,
    ) -> Result<Vec<crate::domain::entities::ConversationRecord>> {
        self.read_conversations(owner, page, only).await
    }

    async fn read_conversation(&self, owner: AccountId, id: i64) -> Result<bool> {
        self.write_conversation_read(owner, id).await
    }

    async fn remove_conversation(&self, owner: AccountId, id: i64) -> Result<bool> {
        self.write_conversation_removed(owner, id).await
    }

    async fn may_see(&self, s: &StatusRecord, viewer: Option<AccountId>) -> Result<bool> {
        if !s.visibility.is_limited() {
            return Ok(true);
        }
        let Some(v) = viewer else { return Ok(false) };
        if v == s.account.id {
            return Ok(true);
        }
        let mut conn = self.pool.acquire().await?;
        let follows = s.visibility == Visibility::Private
            && sqlx::query("SELECT 1 AS x FROM follows WHERE follower_id = $1 AND target_id = $2")
                .bind(v)
                .bind(s.account.id)
                .fetch_optional(conn.db())
                .await?
                .is_some();
        let mentioned = !Self::mentioning(&mut conn, v, std::iter::once(s.id))
            .await?
            .is_empty();
        Ok(s.visibility.shows(false, follows, mentioned))
    }

    async fn edit_status(&self, change: StatusChange) -> Result<StatusRecord> {
        self.write_edit(change).await
    }

    async fn moderate(
        &self,
        target: AccountId,
        action: AccountAction,
        audit: Audit,
    ) -> Result<AccountRecord> {
        self.write_moderation(target, action, &audit).await
    }

    async fn set_role(&self, target: AccountId, role: Role, audit: Audit) -> Result<AccountRecord> {
        self.write_role(target, role, &audit).await
    }

    async fn reject_account(&self, target: AccountId, audit: Audit) -> Result<()> {
        self.write_reject(target, &audit).await
    }

    async fn purge_account(&self, target: AccountId, audit: Audit) -> Result<()> {
        self.write_purge(target, &audit).await
    }

    async fn admin_accounts(
        &self,
        q: &AdminAccountQuery,
        only: Option<AccountId>,
    ) -> Result<Vec<AdminAccountRecord>> {
        self.read_admin_accounts(q, only).await
    }

    async fn record_sign_up(
        &self,
        account: AccountId,
        ip: Option<&str>,
        reason: Option<&str>,
        pending: bool,
    ) -> Result<()> {
        self.write_sign_up(account, ip, reason, pending).await
    }

    async fn create_report(&self, report: NewReport) -> Result<ReportRecord> {
        self.write_report(report).await
    }

    async fn reports(&self, q: &ReportQuery) -> Result<Vec<ReportRecord>> {
        self.read_reports(q).await
    }

    async fn report(&self, id: i64) -> Result<Option<ReportRecord>> {
        let mut conn = self.pool.acquire().await?;
        Self::fetch_report(&mut conn, id).await
    }

    async fn change_report(
        &self,
        id: i64,
        change: ReportChange,
        audit: Audit,
    ) -> Result<ReportRecord> {
        self.write_report_change(id, change, &audit).await
    }

    async fn domain_blocks(&self, id: Option<i64>) -> Result<Vec<DomainBlock>> {
        self.read_domain_blocks(id).await
    }

    async fn domain_block_of(&self, domain: &str) -> Result<Option<DomainBlock>> {
        self.read_domain_block_of(domain).await
    }

    async fn save_domain_block(&self, block: DomainBlock, audit: Audit) -> Result<DomainBlock> {
        self.write_domain_block(&block, &audit).await
    }

    async fn remove_domain_block(&self, id: i64, audit: Audit) -> Result<DomainBlock> {
        self.write_domain_unblock(id, &audit).await
    }

    async fn access_rules(&self, kind: &str, id: Option<i64>) -> Result<Vec<AccessRule>> {
        self.read_access_rules(kind, id).await
    }

    async fn add_access_rule(&self, rule: AccessRule, audit: Audit) -> Result<AccessRule> {
        self.write_access_rule(&rule, &audit).await
    }

    async fn remove_access_rule(&self, kind: &str, id: i64, audit: Audit) -> Result<()> {
        self.write_access_rule_removal(kind, id, &audit).await
    }

    async fn setting(&self, name: &str) -> Result<Option<String>> {
        self.read_setting(name).await
    }

    async fn set_setting(&self, name: &str, value: &str, audit: Audit) -> Result<()> {
        self.write_setting(name, value, &audit).await
    }

    async fn audit_log(&self, max_id: Option<i64>, limit: i64) -> Result<Vec<AuditRecord>> {
        self.read_audit_log(max_id, limit).await
    }

    async fn delete_status(&self, id: StatusId, audit: Option<Audit>) -> Result<StatusRecord> {
        self.write_delete(id, audit.as_ref()).await
    }

    async fn status_history(&self, id: StatusId) -> Result<Vec<EditRecord>> {
        let rows = sqlx::query(
            "SELECT text, content, spoiler_text, sensitive, created_at FROM status_edits WHERE status_id = $1 ORDER BY id",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(queries::edit_row).collect()
    }

    async fn set_favourite(
        &self,
        account: AccountId,
        status: StatusId,
        on: bool,
    ) -> Result<StatusRecord> {
        self.write_favourite(account, status, on).await
    }

    async fn set_reblog(
        &self,
        account: AccountId,
        status: StatusId,
        on: bool,
    ) -> Result<StatusRecord> {
        self.write_reblog(account, status, on).await
    }

    async fn timeline(
        &self,
        which: &Timeline,
        page: Page,
        viewer: Option<AccountId>,
    ) -> Result<Vec<StatusRecord>> {
        self.read_timeline(which, page, viewer).await
    }

    async fn context(
        &self,
        id: StatusId,
        viewer: Option<AccountId>,
    ) -> Result<(Vec<StatusRecord>, Vec<StatusRecord>)> {
        self.read_context(id, viewer).await
    }

    async fn account_list(
        &self,
        which: &AccountList,
        page: CursorPage,
    ) -> Result<Vec<(i64, AccountRecord)>> {
        self.read_account_list(which, page).await
    }

    async fn status_list(
        &self,
        which: &StatusList,
        page: CursorPage,
    ) -> Result<Vec<(i64, StatusRecord)>> {
        self.read_status_list(which, page).await
    }

    async fn set_mark(
        &self,
        mark: Mark,
        account: AccountId,
        status: StatusId,
        on: bool,
    ) -> Result<StatusRecord> {
        self.write_mark(mark, account, status, on).await
    }

    async fn stats(&self, now: i64) -> Result<Stats> {
        self.read_stats(now).await
    }

    async fn activity(&self, first_week: i64, weeks: i64) -> Result<Vec<Activity>> {
        self.read_activity(first_week, weeks).await
    }

    async fn app(&self, id: i64) -> Result<Option<AppRecord>> {
        let row = sqlx::query(
            "SELECT id, name, website, redirect_uris, scopes, client_id, client_secret FROM apps WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| AppRecord::from_row(&r)).transpose()?)
    }

    async fn trending_tags(&self, limit: i64, now: i64) -> Result<Vec<TagTrend>> {
        self.read_trending_tags(limit, now).await
    }

    async fn trending_statuses(
        &self,
        limit: i64,
        offset: i64,
        now: i64,
    ) -> Result<Vec<StatusRecord>> {
        self.read_trending_statuses(limit, offset, now).await
    }

    async fn markers(&self, account: AccountId) -> Result<Vec<Marker>> {
        self.read_markers(account).await
    }

    async fn set_marker(
        &self,
        account: AccountId,
        timeline: &str,
        last_read_id: i64,
    ) -> Result<()> {
        self.write_marker(account, timeline, last_read_id).await
    }

    async fn search_statuses(
        &self,
        q: &StatusSearch,
        viewer: Option<AccountId>,
    ) -> Result<Vec<StatusRecord>> {
        self.find_statuses(q, viewer).await
    }

    async fn search_accounts(
        &self,
        prefix: &str,
        following_of: Option<AccountId>,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<AccountRecord>> {
        self.find_accounts(prefix, following_of, limit, offset)
            .await
    }

    async fn search_tags(
        &self,
        prefix: &str,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<(String, i64)>> {
        self.find_tags(prefix, limit, offset).await
    }

    async fn notifications(
        &self,
        account: AccountId,
        q: &NotificationQuery,
    ) -> Result<Vec<NotificationRecord>> {
        self.read_notifications(account, q, None).await
    }

    async fn notification(
        &self,
        account: AccountId,
        id: i64,
    ) -> Result<Option<NotificationRecord>> {
        let q = NotificationQuery {
            limit: 1,
            ..Default::default()
        };
        Ok(self.read_notifications(account, &q, Some(id)).await?.pop())
    }

    async fn dismiss_notifications(&self, account: AccountId, id: Option<i64>) -> Result<u64> {
        let q = match id {
            Some(id) => sqlx::query("DELETE FROM notifications WHERE account_id = $1 AND id = $2")
                .bind(account)
                .bind(id),
            None => sqlx::query("DELETE FROM notifications WHERE account_id = $1").bind(account),
        };
        Ok(q.execute(&self.pool).await?.rows_affected())
    }

    async fn head_position(&self) -> Result<Position> {
        let row = sqlx::query("SELECT COALESCE(MAX(position), 0) FROM events")
            .fetch_one(&self.pool)
            .await?;
        queries::position_of(row.try_get(0)?)
    }

    async fn stream_head(&self, key: &str) -> Result<Position> {
        let row =
            sqlx::query("SELECT COALESCE(MAX(position), 0) FROM event_streams WHERE stream = $1")
                .bind(key)
                .fetch_one(&self.pool)
                .await?;
        queries::position_of(row.try_get(0)?)
    }

    async fn stream_events(&self, stream: &str, after: Position, limit: i64) -> Result<Vec<Event>> {
        // History as it is now: a deleted notice's events are blanked (see `remove`), and
        // a home stream keeps only what its reader may see today — her own notices, those
        // of accounts she follows now, and those that mention her — and the announcements,
        // which every home stream carries (see `domain::announce::ANNOUNCEMENTS`).
        // A list's keeps only its members' notices as the list is now.
        let reader = stream
            .strip_prefix("user:")
            .and_then(|id| id.parse::<i64>().ok());
        let list = stream
            .strip_prefix("list:")
            .and_then(|id| id.parse::<i64>().ok());
        // A live event's stream is a public one whose notices are those still in its feed
        // (removed, or never featured, they are not replayed; their `delete`s are).
        if let Some(slug) = stream.strip_prefix("event:") {
            let rows = sqlx::query(public_replay!(
                "AND (e.kind = 'delete' OR e.status_id IS NULL OR EXISTS \
                 (SELECT 1 FROM live_event_statuses les JOIN live_events le ON le.id = les.event_id \
                  WHERE le.slug = $4 AND les.status_id = e.status_id AND les.state = 'curated')) "
            ))
                .bind(stream)
                .bind(after.get())
                .bind(limit)
                .bind(slug)
                .fetch_all(&self.pool)
                .await?;
            return rows.iter().map(queries::event_row).collect();
        }
        if let Some(list) = list {
            let rows = sqlx::query(concat!(
                "SELECT ",
                queries::event_columns!(),
                " FROM event_streams es \
                 JOIN events e ON e.id = es.event_id \
                 WHERE es.stream = $1 AND es.position > $2 AND e.payload <> '' \
                 AND (e.kind = 'delete' OR e.author_id IN \
                      (SELECT account_id FROM list_accounts WHERE list_id = $4)) \
                 AND (e.kind = 'delete' OR e.author_id NOT IN \
                      (SELECT id FROM accounts WHERE suspended_at IS NOT NULL)) \
                 ORDER BY es.position LIMIT $3"
            ))
            .bind(stream)
            .bind(after.get())
            .bind(limit)
            .bind(list)
            .fetch_all(&self.pool)
            .await?;
            return rows.iter().map(queries::event_row).collect();
        }
        // Nothing of a suspended author, and on the public and tag streams nothing of a
        // silenced one (the partial indexes keep those lists short to read).
        let public = stream.starts_with("public") || stream.starts_with("hashtag:");
        let q = match reader {
            None if public => sqlx::query(public_replay!("")),
            None => sqlx::query(concat!(
                "SELECT ",
                queries::event_columns!(),
                " FROM event_streams es \
                 JOIN events e ON e.id = es.event_id \
                 WHERE es.stream = $1 AND es.position > $2 AND e.payload <> '' \
                 AND (e.kind = 'delete' OR e.author_id IS NULL OR e.author_id NOT IN \
                      (SELECT id FROM accounts WHERE suspended_at IS NOT NULL)) \
                 ORDER BY es.position LIMIT $3"
            )),
            Some(_) => sqlx::query(concat!(
                "SELECT ",
                queries::event_columns!(),
                " FROM event_streams es \
                 JOIN events e ON e.id = es.event_id \
                 WHERE (es.stream = $1 OR es.stream = 'announcements') \
                 AND es.position > $2 AND e.payload <> '' \
                 AND (e.kind = 'delete' OR e.author_id IS NULL OR e.author_id = $4 \
                      OR EXISTS (SELECT 1 FROM follows f WHERE f.follower_id = $4 AND f.target_id = e.author_id) \
                      OR EXISTS (SELECT 1 FROM status_mentions sm \
                                 WHERE sm.status_id = e.status_id AND sm.account_id = $4)) \
                 AND (e.kind = 'delete' OR e.author_id IS NULL OR e.author_id NOT IN \
                      (SELECT id FROM accounts WHERE suspended_at IS NOT NULL)) \
                 ORDER BY es.position LIMIT $3"
            )),
        };
        let mut q = q.bind(stream).bind(after.get()).bind(limit);
        if let Some(id) = reader {
            q = q.bind(id);
        }
        let rows = q.fetch_all(&self.pool).await?;
        rows.iter().map(queries::event_row).collect()
    }

    async fn events_between(
        &self,
        after: Position,
        upto: Position,
        limit: i64,
    ) -> Result<Vec<Event>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            queries::event_columns!(),
            " FROM events e \
             WHERE e.position > $1 AND e.position <= $2 ORDER BY e.position LIMIT $3"
        ))
        .bind(after.get())
        .bind(upto.get())
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(queries::event_row).collect()
    }

    fn committed(&self) -> Arc<Notify> {
        self.committed.clone()
    }

    fn posted_unindexed(&self) -> Option<Arc<Notify>> {
        self.unindexed.clone()
    }

    async fn index_for_search(&self, look_first: bool) -> Result<()> {
        SqlStore::index_for_search(self, look_first).await
    }

    fn unrouted(&self) -> Arc<crate::stream::heads::Unrouted> {
        self.unrouted.clone()
    }

    async fn sequencer_lease(&self) -> Result<Option<Box<dyn SequencerLease>>> {
        self.take_lease().await
    }

    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn wiki_account(&self, wiki_user_id: i64) -> Result<Option<AccountId>> {
        self.read_wiki_account(wiki_user_id).await
    }

    async fn create_wiki_account(
        &self,
        username: &str,
        standing: &WikiStanding,
    ) -> Result<AccountRecord> {
        self.write_wiki_account(username, standing).await
    }

    async fn apply_wiki_standing(
        &self,
        account: AccountId,
        standing: &WikiStanding,
    ) -> Result<AccountRecord> {
        self.write_wiki_standing(account, standing).await
    }

    async fn wiki_links_due(&self, before: i64, limit: i64) -> Result<Vec<WikiLink>> {
        self.read_wiki_links_due(before, limit).await
    }

    async fn touch_wiki_links(&self, accounts: &[AccountId], at: i64) -> Result<()> {
        self.write_wiki_checked(accounts, at).await
    }

    async fn use_wiki_nonce(&self, nonce: &str, expires_at: i64) -> Result<bool> {
        self.write_wiki_nonce(nonce, expires_at).await
    }

    async fn live_event(&self, slug: &str) -> Result<Option<LiveEventRecord>> {
        self.read_live_event(slug).await
    }

    async fn live_event_exists(&self, slug: &str) -> Result<bool> {
        Ok(
            sqlx::query("SELECT 1 AS x FROM live_events WHERE slug = $1")
                .bind(slug)
                .fetch_optional(&self.pool)
                .await?
                .is_some(),
        )
    }

    async fn live_events(
        &self,
        state: Option<LiveState>,
        q: Option<&str>,
        max_id: Option<i64>,
        limit: i64,
    ) -> Result<Vec<LiveEventRecord>> {
        self.read_live_events(state, q, max_id, limit).await
    }

    async fn save_live_event(&self, e: &LiveEventRecord, create: bool) -> Result<LiveEventRecord> {
        self.write_live_event(e, create).await
    }

    async fn delete_live_event(&self, e: &LiveEventRecord) -> Result<()> {
        self.remove_live_event(e).await
    }

    async fn live_members(&self, event: i64) -> Result<Vec<(AccountRecord, LiveRole)>> {
        self.read_live_members(event).await
    }

    async fn live_role(&self, event: i64, account: AccountId) -> Result<Option<LiveRole>> {
        self.read_live_role(event, account).await
    }

    async fn set_live_members(
        &self,
        event: i64,
        accounts: &[AccountId],
        role: LiveRole,
        on: bool,
    ) -> Result<()> {
        self.write_live_members(event, accounts, role, on).await
    }

    async fn curate(
        &self,
        e: &LiveEventRecord,
        status: StatusId,
        change: Curation,
    ) -> Result<StatusRecord> {
        self.write_curation(e, status, change).await
    }

    async fn key_events(&self, event: i64) -> Result<Vec<KeyEventRecord>> {
        self.read_key_events(event).await
    }
}
