//! Opening the embedded SQLite database: a file in the working directory, WAL mode, its
//! own migrations. One process owns the file; writers are serialised in-process.
//!
//! Readers share up to eight connections (`TIDINGS_DATABASE_CONNECTIONS`), but for the
//! token every authenticated request reads, which is read on the request's own thread
//! ([`super::lite::InlineReader`]). Posts and the
//! sequencer's rounds — nearly all writing — run on the writer thread's connection
//! ([`super::lite`]); other write transactions (edits, favourites, follows, …) on one sqlx
//! writer connection. Writers take the in-process lock anyway, so one connection each
//! costs them nothing; and SQLite drops a connection's whole page cache when it finds the
//! database changed by another connection, so writes spread over the pool re-read their
//! pages from the file at every transaction (`perf`: `pcache1TruncateUnsafe` and the
//! kernel's page copies; BENCHMARKS.md, issue 18) — which is why posts and rounds share
//! one. The WAL is copied back into the file by a checkpoint thread rather than in the
//! commit of a post ([`super::lite`]'s `Checkpoints`, with when a commit still does).

use super::sql::{Backend, SqlStore};
use crate::domain::Site;
use anyhow::Context;
use sqlx::AnyPool;
use sqlx::any::AnyPoolOptions;
use std::sync::Arc;

/// Every connection's settings, sqlx's and the writer thread's.
pub(super) const PRAGMAS: [&str; 6] = [
    "PRAGMA journal_mode = WAL",
    "PRAGMA synchronous = NORMAL",
    "PRAGMA busy_timeout = 10000",
    "PRAGMA foreign_keys = ON",
    // A larger page cache than the default (perf showed page reads through the kernel on
    // the write path; BENCHMARKS.md). Not mmap: a growing file is unmapped and mapped
    // again at every transaction.
    "PRAGMA cache_size = -16384",
    // A connection checkpoints in its own commit past this many frames of log (SQLite's
    // default is 1,000): the writer thread's checkpoint thread copies the log back
    // earlier, at [`super::lite`]'s `CHECKPOINT_FRAMES`; this is its `INLINE_CHECKPOINT_FRAMES`
    // (a test holds the two equal).
    "PRAGMA wal_autocheckpoint = 5000",
];

async fn pool(url: &str, connections: u32) -> anyhow::Result<AnyPool> {
    AnyPoolOptions::new()
        .max_connections(connections)
        // A file on this machine: a connection cannot have gone away, and the test
        // (a ping) is a round trip to sqlx's connection thread on every acquire.
        .test_before_acquire(false)
        .after_connect(|conn, _meta| {
            Box::pin(async move {
                for pragma in PRAGMAS {
                    sqlx::query(pragma).execute(&mut *conn).await?;
                }
                Ok(())
            })
        })
        .connect(url)
        .await
        .with_context(|| format!("cannot open the SQLite database {url:?}"))
}

pub async fn open(url: &str, site: Site, readers: u32) -> anyhow::Result<SqlStore> {
    let readers = pool(url, readers).await?;
    sqlx::migrate!("./migrations/sqlite")
        .run(&readers)
        .await
        .context("cannot run the SQLite migrations")?;
    // A migration that rebuilds a table logs all of it: copy the log back and cut the file
    // to nothing now, or it keeps that size until the node stops. Failing here changes
    // nothing but the file's size.
    match sqlx::query_as::<_, (i64, i64, i64)>("PRAGMA wal_checkpoint(TRUNCATE)")
        .fetch_one(&readers)
        .await
    {
        Ok((0, ..)) => {}
        Ok((_, log, copied)) => {
            tracing::warn!(
                log,
                copied,
                "SQLite checkpoint after the migrations was kept waiting; the log keeps its size"
            )
        }
        Err(e) => tracing::warn!(error = %e, "SQLite checkpoint after the migrations failed"),
    }
    let writer = pool(url, 1).await?;
    let file = main_file(&writer).await?;
    let mut store = SqlStore::new(readers, writer, site, Backend::Sqlite);
    if let Some(path) = file {
        let lock = store.write_lock.clone().expect("SQLite has a writer lock");
        store.lite = Some(super::lite::LiteWriter::start(&path, lock)?);
        store.token_reader = Some(Arc::new(super::lite::InlineReader::new(&path)?));
        store.tokens = Some(Default::default());
    }
    Ok(store)
}

/// The file sqlx's connections opened, as SQLite names it; `None` for an in-memory or
/// temporary database, which only sqlx's connections share (posting then runs on sqlx's
/// writer connection).
async fn main_file(writer: &AnyPool) -> anyhow::Result<Option<String>> {
    let file: Option<String> =
        sqlx::query_scalar("SELECT file FROM pragma_database_list WHERE name = 'main'")
            .fetch_optional(writer)
            .await
            .context("cannot ask SQLite which file it opened")?;
    Ok(file.filter(|f| !f.is_empty()))
}

#[cfg(test)]
mod tests {
    /// A database file in a fresh folder (kept while the folder lives), and its URL.
    fn temp_db() -> (tempfile::TempDir, std::path::PathBuf, String) {
        sqlx::any::install_default_drivers();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let url = format!("sqlite://{}?mode=rwc", path.display());
        (dir, path, url)
    }

    /// sqlx's connections (edits, favourites, reads) checkpoint in their own commits only
    /// past the length where the writer thread does too, not at SQLite's default of 1,000
    /// frames, below which the checkpoint thread already keeps the log.
    #[tokio::test]
    async fn sqlx_connections_checkpoint_only_where_the_writer_does() {
        let (_dir, _, url) = temp_db();
        let pool = super::pool(&url, 2).await.unwrap();
        let frames: i64 = sqlx::query_scalar("PRAGMA wal_autocheckpoint")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(frames, super::super::lite::INLINE_CHECKPOINT_FRAMES as i64);
    }

    /// Migration 27 rebuilds `event_streams` keyed by (stream, position) alone (WITHOUT
    /// ROWID): a database with stream rows keeps every one of them, and they read back by
    /// stream and position as before.
    #[tokio::test]
    async fn stream_rows_survive_their_table_being_rebuilt_without_rowids() {
        let (_dir, _, url) = temp_db();
        let pool = super::pool(&url, 2).await.unwrap();
        let migrator = sqlx::migrate!("./migrations/sqlite");
        migrator.run_to(26, &pool).await.unwrap();
        let rows = [
            ("public", 1, 7),
            ("hashtag:lone", 1, 7),
            ("public", 2, 9),
            ("user:1", 3, 11),
        ];
        for (stream, position, event) in rows {
            sqlx::query(
                "INSERT INTO event_streams (stream, event_id, position) VALUES ($1, $2, $3)",
            )
            .bind(stream)
            .bind(event as i64)
            .bind(position as i64)
            .execute(&pool)
            .await
            .unwrap();
        }
        migrator.run(&pool).await.unwrap();

        let kind: String =
            sqlx::query_scalar("SELECT sql FROM sqlite_schema WHERE name = 'event_streams'")
                .fetch_one(&pool)
                .await
                .unwrap();
        assert!(kind.contains("WITHOUT ROWID"), "{kind}");
        let mut read = Vec::new();
        for (stream, ..) in rows {
            let found: Vec<(i64, i64)> = sqlx::query_as(
                "SELECT position, event_id FROM event_streams WHERE stream = $1 AND position >= 0 ORDER BY position",
            )
            .bind(stream)
            .fetch_all(&pool)
            .await
            .unwrap();
            read.push((stream, found));
        }
        assert_eq!(
            read,
            vec![
                ("public", vec![(1, 7), (2, 9)]),
                ("hashtag:lone", vec![(1, 7)]),
                ("public", vec![(1, 7), (2, 9)]),
                ("user:1", vec![(3, 11)]),
            ]
        );
        let check: String = sqlx::query_scalar("PRAGMA integrity_check")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(check, "ok");
    }

    /// What the migrations logged (a rebuilt table: as large as the table) is copied back
    /// and the log's file cut to nothing when the node opens its database, rather than
    /// kept at that size until it stops.
    #[tokio::test]
    async fn opening_leaves_no_large_log_behind() {
        let (dir, path, url) = temp_db();
        // Another connection, kept open (closing the last one would checkpoint), logs
        // 4 MB and never checkpoints.
        let other = rusqlite::Connection::open(&path).unwrap();
        other
            .execute_batch(
                "PRAGMA journal_mode = WAL; PRAGMA wal_autocheckpoint = 0; \
                 CREATE TABLE filler (b BLOB); \
                 WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000) \
                 INSERT INTO filler SELECT zeroblob(4000) FROM n;",
            )
            .unwrap();
        let wal = dir.path().join("t.db-wal");
        assert!(std::fs::metadata(&wal).unwrap().len() > 4_000_000);
        let _store = super::open(&url, crate::domain::Site::new("http://localhost"), 2)
            .await
            .unwrap();
        assert_eq!(std::fs::metadata(&wal).unwrap().len(), 0);
        drop(other);
    }
}
