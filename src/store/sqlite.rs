//! Opening the embedded SQLite database: a file in the working directory, WAL mode, its
//! own migrations. One process owns the file; writers are serialised in-process.

use super::sql::{Backend, SqlStore};
use crate::domain::Site;
use anyhow::Context;
use sqlx::any::AnyPoolOptions;

pub async fn open(url: &str, site: Site) -> anyhow::Result<SqlStore> {
    let pool = AnyPoolOptions::new()
        .max_connections(8)
        .after_connect(|conn, _meta| {
            Box::pin(async move {
                for pragma in [
                    "PRAGMA journal_mode = WAL",
                    "PRAGMA synchronous = NORMAL",
                    "PRAGMA busy_timeout = 10000",
                    "PRAGMA foreign_keys = ON",
                    // A larger page cache than the default (perf showed page reads
                    // through the kernel on the write path; BENCHMARKS.md). Not mmap: a
                    // growing file is unmapped and mapped again at every transaction.
                    "PRAGMA cache_size = -16384",
                ] {
                    sqlx::query(pragma).execute(&mut *conn).await?;
                }
                Ok(())
            })
        })
        .connect(url)
        .await
        .with_context(|| format!("cannot open the SQLite database {url:?}"))?;
    sqlx::migrate!("./migrations/sqlite")
        .run(&pool)
        .await
        .context("cannot run the SQLite migrations")?;
    Ok(SqlStore::new(pool, site, Backend::Sqlite))
}
