//! Full-text search over every notice, and accounts and tags by prefix.
//!
//! SQLite: an FTS5 index, ranked by bm25, that takes new notices after their post has
//! committed, a batch at a time ([`SqlStore::index_for_search`], migration 0026; edits and
//! deletions of what it has taken are kept by a trigger). Postgres: a
//! generated `tsvector` with a GIN index (migration 0007), ranked by `ts_rank`. Both use
//! no stemming (notices come in every language): a word matches as written, accents
//! and case aside on SQLite. Every term must match. Results respect visibility: a
//! private notice is found only by its author, her followers and whoever it mentions; a
//! direct one by its author and whoever it mentions.
//!
//! Ranking is over the newest [`RANK_WINDOW`] matches (below `max_id`, when a client pages
//! back): a rare word is ranked over all history, a common one over its recent uses —
//! ranking all 100,000 uses of a common word took 220–320 ms on a million notices, the
//! window takes a few (BENCHMARKS.md). Older uses of a common word are reached by paging
//! with `max_id`, or by a more specific query.
//!
//! **Why SQLite's index is filled after the commit.** FTS5 flushes what a transaction
//! indexed as a segment of its own when it commits (and merges segments later): in a
//! post's transaction that was ~150,000 instructions of a lone post's ~820,000, with a few
//! more pages to log; twenty notices indexed in one transaction cost a tenth of that each
//! (BENCHMARKS.md, issue 18). So a post only writes its notice; [`keep_index`] indexes
//! what was posted [`GATHER`] later, and a search first takes whatever is still waiting:
//! a notice is found the moment its post is answered, as before. Which notices wait is
//! one number, `statuses_fts_mark.upto`: status ids only grow, and every notice at or below
//! the mark has been taken (a reblog or a deleted notice is skipped), none above it. An
//! edit or a deletion changes the index only for a notice at or below the mark (FTS5
//! must be told exactly the text it indexed); one above it is indexed later as it is then.

use super::lite::Conn;
use super::queries::{self, Sql, account_columns, status_select};
use super::sql::{Backend, SqlStore};
use super::*;
use futures::FutureExt;
use sqlx::Row;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How many of the newest matches are ranked.
pub const RANK_WINDOW: i64 = 1000;

/// How long after a post the index takes it (and whatever is posted meanwhile).
pub const GATHER: Duration = Duration::from_millis(250);
/// How often an idle node looks for notices the index has not taken (written by another
/// path than posting, or left by a failed round).
const IDLE_LOOK: Duration = Duration::from_secs(10);
/// Notices one indexing transaction takes at most (a few milliseconds of the writer).
const INDEX_BATCH: i64 = 256;

/// How long the task waits after indexing failed before it tries again.
const AFTER_FAILURE: Duration = Duration::from_secs(5);

/// Keep SQLite's full-text index up with the notices posted (see the module doc); on
/// Postgres there is nothing to do and this returns at once. Runs until `shutdown`.
pub async fn keep_index(store: Arc<dyn Store>, shutdown: CancellationToken) {
    let Some(posted) = store.posted_unindexed() else {
        return;
    };
    loop {
        // After a post there is something to take; after a quiet spell, perhaps.
        let look_first = tokio::select! {
            _ = posted.notified() => false,
            _ = tokio::time::sleep(IDLE_LOOK) => true,
            _ = shutdown.cancelled() => return,
        };
        tokio::select! {
            _ = tokio::time::sleep(GATHER) => {}
            _ = shutdown.cancelled() => return,
        }
        if let Err(e) = store.index_for_search(look_first).await {
            tracing::warn!(error = %e, "cannot index new notices for search; will retry");
            tokio::select! {
                _ = tokio::time::sleep(AFTER_FAILURE) => {}
                _ = shutdown.cancelled() => return,
            }
        }
    }
}

/// A search for notices.
#[derive(Debug, Clone, Default)]
pub struct StatusSearch {
    pub q: String,
    /// Only notices by this account.
    pub account: Option<AccountId>,
    pub max_id: Option<StatusId>,
    pub min_id: Option<StatusId>,
    pub limit: i64,
    pub offset: i64,
}

/// An FTS5 query that matches every word of `q` as a phrase of its own: the user's text
/// is never read as FTS5 syntax (`"`, `*`, `NEAR`, column filters).
fn fts5_query(q: &str) -> String {
    q.split_whitespace()
        .map(|w| format!("\"{}\"", w.replace('"', "\"\"")))
        .collect::<Vec<_>>()
        .join(" ")
}

/// `prefix%` for `LIKE … ESCAPE '\'`, the user's `%`, `_` and `\` taken literally.
fn like_prefix(p: &str) -> String {
    let mut out = String::with_capacity(p.len() + 1);
    for c in p.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

impl SqlStore {
    /// SQLite: index every notice above the mark, a batch per transaction (see the module
    /// doc). With `look_first`, a read first, so that an index up to date costs no write
    /// (a search; [`keep_index`] woken by a post knows there is something to take). One
    /// indexing at a time: searches that arrive together wait for one, then find nothing
    /// left to take.
    pub(super) async fn index_for_search(&self, look_first: bool) -> Result<()> {
        let Some(indexing) = &self.indexing else {
            return Ok(());
        };
        let _one = indexing.lock().await;
        if look_first {
            let behind: i64 = sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM statuses WHERE id > (SELECT upto FROM statuses_fts_mark))",
            )
            .fetch_one(&self.pool)
            .await?;
            if behind == 0 {
                return Ok(());
            }
        }
        while self.index_batch().await? {}
        Ok(())
    }

    /// One transaction of [`Self::index_for_search`]: whether it took a full batch.
    async fn index_batch(&self) -> Result<bool> {
        self.in_write(|conn: &mut dyn Conn| {
            async move {
                let mark: i64 = sqlx::query_scalar("SELECT upto FROM statuses_fts_mark")
                    .fetch_one(conn.db())
                    .await?;
                let (top, taken): (Option<i64>, i64) = {
                    let r = sqlx::query(
                        "SELECT MAX(id) AS top, COUNT(*) AS taken FROM \
                         (SELECT id FROM statuses WHERE id > $1 ORDER BY id LIMIT $2)",
                    )
                    .bind(mark)
                    .bind(INDEX_BATCH)
                    .fetch_one(conn.db())
                    .await?;
                    (r.try_get("top")?, r.try_get("taken")?)
                };
                let Some(top) = top else {
                    return Ok((false, false));
                };
                sqlx::query(
                    "INSERT INTO statuses_fts (rowid, text, spoiler_text) \
                     SELECT id, text, spoiler_text FROM statuses \
                     WHERE id > $1 AND id <= $2 AND reblog_of_id IS NULL AND deleted_at IS NULL",
                )
                .bind(mark)
                .bind(top)
                .execute(conn.db())
                .await?;
                sqlx::query("UPDATE statuses_fts_mark SET upto = $1")
                    .bind(top)
                    .execute(conn.db())
                    .await?;
                Ok((taken == INDEX_BATCH, false))
            }
            .boxed()
        })
        .await
    }

    pub(super) async fn find_statuses(
        &self,
        s: &StatusSearch,
        viewer: Option<AccountId>,
    ) -> Result<Vec<StatusRecord>> {
        let mut q = Sql::new(status_select!());
        match self.backend {
            Backend::Sqlite => {
                let terms = fts5_query(&s.q);
                if terms.is_empty() {
                    return Ok(Vec::new());
                }
                // What was posted and not indexed yet is found too. Should indexing fail,
                // the search still answers from what the index has.
                if let Err(e) = self.index_for_search(true).await {
                    tracing::warn!(error = %e, "cannot index new notices for search; searching without them");
                }
                q.push(" JOIN statuses_fts ON statuses_fts.rowid = s.id WHERE statuses_fts MATCH ");
                q.text(&terms);
                // FTS5 walks its index newest first without scoring: the window is cheap.
                q.push(
                    " AND statuses_fts.rowid >= (SELECT COALESCE(MIN(w.rowid), 0) FROM \
                     (SELECT rowid FROM statuses_fts WHERE statuses_fts MATCH ",
                );
                q.text(&terms);
                if let Some(max) = s.max_id {
                    q.push(" AND rowid < ").int(max);
                }
                q.push(" ORDER BY rowid DESC LIMIT ")
                    .int(RANK_WINDOW)
                    .push(") AS w)");
            }
            Backend::Postgres => {
                q.push(
                    " WHERE s.id IN (SELECT w.id FROM statuses w \
                         WHERE w.reblog_of_id IS NULL AND w.deleted_at IS NULL \
                         AND w.search @@ plainto_tsquery('simple', ",
                );
                q.text(&s.q);
                q.push(")");
                if let Some(max) = s.max_id {
                    q.push(" AND w.id < ").int(max);
                }
                q.push(" ORDER BY w.id DESC LIMIT ")
                    .int(RANK_WINDOW)
                    .push(")");
            }
        }
        q.push(" AND s.reblog_of_id IS NULL AND s.deleted_at IS NULL AND a.suspended_at IS NULL");
        super::queries::push_visible(&mut q, viewer);
        if let Some(v) = viewer {
            super::hide::push_unhidden(&mut q, "s.account_id", v, crate::domain::now_micros());
        }
        if let Some(a) = s.account {
            q.push(" AND s.account_id = ").int(a);
        }
        if let Some(max) = s.max_id {
            q.push(" AND s.id < ").int(max);
        }
        if let Some(min) = s.min_id {
            q.push(" AND s.id > ").int(min);
        }
        match self.backend {
            Backend::Sqlite => q.push(" ORDER BY statuses_fts.rank, s.id DESC LIMIT "),
            Backend::Postgres => {
                q.push(" ORDER BY ts_rank(s.search, plainto_tsquery('simple', ");
                q.text(&s.q);
                q.push(")) DESC, s.id DESC LIMIT ")
            }
        };
        q.int(s.limit.max(1)).push(" OFFSET ").int(s.offset.max(0));
        let mut conn = self.pool.acquire().await?;
        let rows = q
            .build(&conn)
            .fetch_all(conn.db())
            .await?
            .iter()
            .map(queries::status_row)
            .collect::<Result<Vec<_>>>()?;
        Self::complete(&mut conn, rows, viewer).await
    }

    /// Accounts whose username or display name starts with `prefix` (an `@` and this
    /// server's domain are taken off): an exact username first, then the most followed.
    pub(super) async fn find_accounts(
        &self,
        prefix: &str,
        following_of: Option<AccountId>,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<AccountRecord>> {
        let mut name = prefix.trim().trim_start_matches('@');
        if let Some((user, domain)) = name.split_once('@') {
            if !domain.eq_ignore_ascii_case(&self.site.domain) {
                return Ok(Vec::new());
            }
            name = user;
        }
        let name = name.to_lowercase();
        if name.is_empty() {
            return Ok(Vec::new());
        }
        let mut q = Sql::new(concat!(
            "SELECT ",
            account_columns!("a", ""),
            " FROM accounts a WHERE (a.username_lower LIKE "
        ));
        q.text(&like_prefix(&name))
            .push(" ESCAPE '\\' OR LOWER(a.display_name) LIKE ")
            .text(&like_prefix(&name))
            .push(" ESCAPE '\\') AND a.suspended_at IS NULL");
        if let Some(me) = following_of {
            q.push(" AND a.id IN (SELECT target_id FROM follows WHERE follower_id = ")
                .int(me)
                .push(")");
        }
        q.push(" ORDER BY CASE WHEN a.username_lower = ")
            .text(&name)
            .push(" THEN 0 ELSE 1 END, a.followers_count DESC, a.id LIMIT ")
            .int(limit.max(1))
            .push(" OFFSET ")
            .int(offset.max(0));
        let mut conn = self.pool.acquire().await?;
        q.build(&conn)
            .fetch_all(conn.db())
            .await?
            .iter()
            .map(queries::account_row)
            .collect()
    }

    /// Tags that start with `prefix`, most used first, with how many notices used them.
    pub(super) async fn find_tags(
        &self,
        prefix: &str,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<(String, i64)>> {
        let prefix = crate::domain::text::normalize_tag(prefix);
        if prefix.is_empty() {
            return Ok(Vec::new());
        }
        let mut q = Sql::new("SELECT tag, COUNT(*) AS uses FROM status_tags WHERE tag LIKE ");
        q.text(&like_prefix(&prefix))
            .push(" ESCAPE '\\' GROUP BY tag ORDER BY CASE WHEN tag = ")
            .text(&prefix)
            .push(" THEN 0 ELSE 1 END, uses DESC, tag LIMIT ")
            .int(limit.max(1))
            .push(" OFFSET ")
            .int(offset.max(0));
        let mut conn = self.pool.acquire().await?;
        let mut out = Vec::new();
        for r in q.build(&conn).fetch_all(conn.db()).await? {
            out.push((r.try_get("tag")?, r.try_get("uses")?));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_text_is_never_fts5_syntax() {
        assert_eq!(fts5_query("quake  \"tokyo"), "\"quake\" \"\"\"tokyo\"");
        assert_eq!(fts5_query("a OR b*"), "\"a\" \"OR\" \"b*\"");
        assert_eq!(fts5_query("   "), "");
        assert_eq!(like_prefix("a_b%"), "a\\_b\\%%");
    }
}
