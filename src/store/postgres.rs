//! Opening PostgreSQL: a pool, its own migrations, and a `LISTEN` task that wakes this
//! node's sequencer whenever any node commits events.

use super::sql::{Backend, SqlStore};
use crate::domain::Site;
use anyhow::Context;
use sqlx::any::AnyPoolOptions;
use sqlx::postgres::PgListener;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

pub async fn open(url: &str, site: Site, connections: u32) -> anyhow::Result<SqlStore> {
    let pool = AnyPoolOptions::new()
        .max_connections(connections)
        .acquire_timeout(Duration::from_secs(10))
        .connect(url)
        .await
        .with_context(|| {
            format!(
                "cannot connect to PostgreSQL at {}",
                crate::config::redact_url(url)
            )
        })?;
    sqlx::migrate!("./migrations/postgres")
        .run(&pool)
        .await
        .context("cannot run the PostgreSQL migrations")?;
    let store = SqlStore::new(pool.clone(), pool, site, Backend::Postgres);
    tokio::spawn(listen(url.to_string(), super::Store::committed(&store)));
    Ok(store)
}

/// Forward `NOTIFY tidings_events` to the local sequencer. When the listener's
/// connection drops, notifications may be lost; the sequencer's periodic sweep covers
/// that, and we wake it once after reconnecting.
async fn listen(url: String, committed: Arc<Notify>) {
    loop {
        match PgListener::connect(&url).await {
            Ok(mut l) => {
                if l.listen("tidings_events").await.is_ok() {
                    committed.notify_one();
                    while l.recv().await.is_ok() {
                        committed.notify_one();
                    }
                }
                tracing::warn!("lost the PostgreSQL LISTEN connection; reconnecting");
            }
            Err(e) => tracing::warn!(error = %e, "cannot LISTEN on PostgreSQL"),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}
