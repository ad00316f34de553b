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
    let writer = pool(url, 1).await?;
    let file = main_file(&writer).await?;
    let mut store = SqlStore::new(readers, writer, site, Backend::Sqlite);
    if let Some(path) = file {
        let lock = store.write_lock.clone().expect("SQLite has a writer lock");
        store.lite = Some(super::lite::LiteWriter::start(&path, lock)?);
        store.token_reader = Some(Arc::new(super::lite::InlineReader::new(&path)?));
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
    /// sqlx's connections (edits, favourites, reads) checkpoint in their own commits only
    /// past the length where the writer thread does too, not at SQLite's default of 1,000
    /// frames, below which the checkpoint thread already keeps the log.
    #[tokio::test]
    async fn sqlx_connections_checkpoint_only_where_the_writer_does() {
        sqlx::any::install_default_drivers();
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
        let pool = super::pool(&url, 2).await.unwrap();
        let frames: i64 = sqlx::query_scalar("PRAGMA wal_autocheckpoint")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(frames, super::super::lite::INLINE_CHECKPOINT_FRAMES as i64);
    }
}
