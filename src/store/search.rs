//! Full-text search over every notice, and accounts and tags by prefix.
//!
//! SQLite: an FTS5 index kept by triggers (migration 0006), ranked by bm25. Postgres: a
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

use super::queries::{self, Sql, account_columns, status_select};
use super::sql::{Backend, SqlStore};
use super::*;
use sqlx::Row;

/// How many of the newest matches are ranked.
pub const RANK_WINDOW: i64 = 1000;

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
