//! Threads and the lists around accounts and notices: a notice's context, followers and
//! following, favourites and bookmarks, who favourited or reblogged a notice; bookmarks
//! and pins. Lists are paged newest first by when their row was made (Mastodon pages them
//! by a row id it does not show; here the row's time, in microseconds, is that cursor).

use super::queries::{self, Sql, account_columns, status_select};
use super::sql::SqlStore;
use super::*;
use sqlx::{AnyConnection, Row};

/// Mastodon's bounds on a thread: signed in, up to 4,096 each way; anonymous, 40
/// ancestors and 60 descendants at most 20 replies deep.
const CONTEXT_LIMIT: usize = 4_096;
const ANONYMOUS_ANCESTORS: usize = 40;
const ANONYMOUS_DESCENDANTS: usize = 60;
const ANONYMOUS_DEPTH: usize = 20;

impl SqlStore {
    /// Keep what `viewer` may see: public and unlisted notices; private ones of her
    /// own, of accounts she follows, or that mention her; direct ones of her own or
    /// that mention her (see [`Visibility::shows`]).
    pub(super) async fn keep_visible(
        conn: &mut dyn Conn,
        list: Vec<StatusRecord>,
        viewer: Option<AccountId>,
    ) -> Result<Vec<StatusRecord>> {
        let limited: Vec<&StatusRecord> = list
            .iter()
            .filter(|s| s.visibility.is_limited() && Some(s.account.id) != viewer)
            .collect();
        let hidden = match viewer {
            Some(v) => Self::read_hidden(conn, v).await?,
            None => Vec::new(),
        };
        let mut followed = Vec::new();
        let mut mentioning = Vec::new();
        if let (Some(v), false) = (viewer, limited.is_empty()) {
            let authors: Vec<AccountId> = limited.iter().map(|s| s.account.id).collect();
            let mut q = Sql::new("SELECT target_id FROM follows WHERE follower_id = ");
            q.int(v)
                .push(" AND target_id IN (")
                .int_list(&authors)
                .push(")");
            for r in q.build(conn).fetch_all(conn.db()).await? {
                followed.push(r.try_get::<AccountId, _>("target_id")?);
            }
            mentioning = Self::mentioning(conn, v, limited.iter().map(|s| s.id)).await?;
        }
        Ok(list
            .into_iter()
            .filter(|s| {
                s.visibility.shows(
                    Some(s.account.id) == viewer,
                    followed.contains(&s.account.id),
                    mentioning.contains(&s.id),
                ) && !hidden.contains(&s.account.id)
            })
            .collect())
    }

    /// Which of `ids` mention `viewer` (by the `status_mentions` rows, which keep a
    /// mention an edit removed: whoever was told may still read it).
    pub(super) async fn mentioning(
        conn: &mut dyn Conn,
        viewer: AccountId,
        ids: impl Iterator<Item = StatusId>,
    ) -> Result<Vec<StatusId>> {
        let ids: Vec<StatusId> = ids.collect();
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut q = Sql::new("SELECT status_id FROM status_mentions WHERE account_id = ");
        q.int(viewer)
            .push(" AND status_id IN (")
            .int_list(&ids)
            .push(")");
        q.build(conn)
            .fetch_all(conn.db())
            .await?
            .iter()
            .map(|r| r.try_get::<StatusId, _>("status_id").map_err(Into::into))
            .collect()
    }

    pub(super) async fn statuses_by_id(
        conn: &mut dyn Conn,
        ids: &[StatusId],
        viewer: Option<AccountId>,
    ) -> Result<Vec<StatusRecord>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut q = Sql::new(concat!(status_select!(), " WHERE s.id IN ("));
        q.int_list(ids).push(")");
        let rows = q
            .build(conn)
            .fetch_all(conn.db())
            .await?
            .iter()
            .map(queries::status_row)
            .collect::<Result<Vec<_>>>()?;
        let found = Self::complete(conn, rows, viewer).await?;
        let found = Self::keep_visible(conn, found, viewer).await?;
        // In the order asked for.
        Ok(ids
            .iter()
            .filter_map(|id| found.iter().find(|s| s.id == *id).cloned())
            .collect())
    }

    pub(super) async fn read_context(
        &self,
        id: StatusId,
        viewer: Option<AccountId>,
    ) -> Result<(Vec<StatusRecord>, Vec<StatusRecord>)> {
        let mut conn = self.pool.acquire().await?;
        let Some(me) = Self::fetch_status(&mut conn, id, viewer).await? else {
            return Err(StoreError::NotFound);
        };
        let (up, down, depth) = match viewer {
            Some(_) => (CONTEXT_LIMIT, CONTEXT_LIMIT, CONTEXT_LIMIT),
            None => (ANONYMOUS_ANCESTORS, ANONYMOUS_DESCENDANTS, ANONYMOUS_DEPTH),
        };
        // Ancestors: up the chain of replies, one notice at a time (a chain, not a tree).
        let mut ancestors = Vec::new();
        let mut parent = me.in_reply_to_id;
        while let Some(p) = parent {
            if ancestors.len() >= up {
                break;
            }
            match Self::fetch_status(&mut conn, p, viewer).await? {
                Some(s) => {
                    parent = s.in_reply_to_id;
                    ancestors.push(s);
                }
                None => break,
            }
        }
        ancestors.reverse();
        let ancestors = Self::keep_visible(&mut conn, ancestors, viewer).await?;

        // Descendants: down the tree a level at a time (one query per level), then in
        // thread order: each reply followed by its own replies.
        let mut edges: Vec<(StatusId, StatusId)> = Vec::new(); // (parent, reply)
        let mut level = vec![id];
        for _ in 0..depth {
            if level.is_empty() || edges.len() >= down {
                break;
            }
            let mut q = Sql::new(
                "SELECT id, in_reply_to_id FROM statuses WHERE deleted_at IS NULL AND in_reply_to_id IN (",
            );
            q.int_list(&level).push(") ORDER BY id LIMIT ");
            q.int((down - edges.len()) as i64);
            let mut next = Vec::new();
            for r in q.build(&conn).fetch_all(conn.db()).await? {
                let (reply, parent): (StatusId, StatusId) =
                    (r.try_get("id")?, r.try_get("in_reply_to_id")?);
                edges.push((parent, reply));
                next.push(reply);
            }
            level = next;
        }
        let mut order = Vec::with_capacity(edges.len());
        let mut stack: Vec<StatusId> = edges
            .iter()
            .filter(|e| e.0 == id)
            .map(|e| e.1)
            .rev()
            .collect();
        while let Some(s) = stack.pop() {
            order.push(s);
            stack.extend(edges.iter().filter(|e| e.0 == s).map(|e| e.1).rev());
        }
        let descendants = Self::statuses_by_id(&mut conn, &order, viewer).await?;
        Ok((ancestors, descendants))
    }

    pub(super) async fn read_account_list(
        &self,
        which: &AccountList,
        page: CursorPage,
    ) -> Result<Vec<(i64, AccountRecord)>> {
        let (head, id): (&'static str, i64) = match which {
            AccountList::Followers(a) => (
                concat!(
                    "SELECT x.created_at AS cursor, ",
                    account_columns!("a", ""),
                    " FROM follows x JOIN accounts a ON a.id = x.follower_id WHERE x.target_id = "
                ),
                a.get(),
            ),
            AccountList::Following(a) => (
                concat!(
                    "SELECT x.created_at AS cursor, ",
                    account_columns!("a", ""),
                    " FROM follows x JOIN accounts a ON a.id = x.target_id WHERE x.follower_id = "
                ),
                a.get(),
            ),
            AccountList::FavouritedBy(s) => (
                concat!(
                    "SELECT x.created_at AS cursor, ",
                    account_columns!("a", ""),
                    " FROM favourites x JOIN accounts a ON a.id = x.account_id WHERE x.status_id = "
                ),
                s.get(),
            ),
            AccountList::Members(l) => (
                concat!(
                    "SELECT x.created_at AS cursor, ",
                    account_columns!("a", ""),
                    " FROM list_accounts x JOIN accounts a ON a.id = x.account_id WHERE x.list_id = "
                ),
                l.get(),
            ),
            AccountList::FollowRequests(a) => (
                concat!(
                    "SELECT x.created_at AS cursor, ",
                    account_columns!("a", ""),
                    " FROM follow_requests x JOIN accounts a ON a.id = x.account_id WHERE x.target_id = "
                ),
                a.get(),
            ),
            AccountList::Blocks(a) => (
                concat!(
                    "SELECT x.created_at AS cursor, ",
                    account_columns!("a", ""),
                    " FROM blocks x JOIN accounts a ON a.id = x.target_id WHERE x.account_id = "
                ),
                a.get(),
            ),
            AccountList::Mutes(a) => (
                concat!(
                    "SELECT x.created_at AS cursor, ",
                    account_columns!("a", ""),
                    " FROM mutes x JOIN accounts a ON a.id = x.target_id WHERE x.account_id = "
                ),
                a.get(),
            ),
            AccountList::RebloggedBy(s) => (
                concat!(
                    "SELECT x.created_at AS cursor, ",
                    account_columns!("a", ""),
                    " FROM statuses x JOIN accounts a ON a.id = x.account_id \
                     WHERE x.deleted_at IS NULL AND x.reblog_of_id = "
                ),
                s.get(),
            ),
        };
        let mut q = Sql::new(head);
        q.int(id);
        if let AccountList::Mutes(_) = which {
            q.push(" AND (x.expires_at IS NULL OR x.expires_at > ")
                .int(crate::domain::now_micros())
                .push(")");
        }
        let ascending = page.bounds(&mut q, "x.created_at");
        let mut conn = self.pool.acquire().await?;
        let mut out = Vec::new();
        for r in q.build(&conn).fetch_all(conn.db()).await? {
            out.push((r.try_get("cursor")?, queries::account_row(&r)?));
        }
        if ascending {
            out.reverse();
        }
        Ok(out)
    }

    pub(super) async fn read_status_list(
        &self,
        which: &StatusList,
        page: CursorPage,
    ) -> Result<Vec<(i64, StatusRecord)>> {
        let (head, account) = match which {
            StatusList::Favourites(a) => (
                "SELECT x.created_at AS cursor, x.status_id AS sid FROM favourites x WHERE x.account_id = ",
                *a,
            ),
            StatusList::Bookmarks(a) => (
                "SELECT x.created_at AS cursor, x.status_id AS sid FROM bookmarks x WHERE x.account_id = ",
                *a,
            ),
        };
        let mut q = Sql::new(head);
        q.int(account);
        let ascending = page.bounds(&mut q, "x.created_at");
        let mut conn = self.pool.acquire().await?;
        let mut rows: Vec<(i64, StatusId)> = Vec::new();
        for r in q.build(&conn).fetch_all(conn.db()).await? {
            rows.push((r.try_get("cursor")?, r.try_get("sid")?));
        }
        if ascending {
            rows.reverse();
        }
        let ids: Vec<StatusId> = rows.iter().map(|r| r.1).collect();
        let found = Self::statuses_by_id(&mut conn, &ids, Some(account)).await?;
        Ok(rows
            .into_iter()
            .filter_map(|(c, id)| Some((c, found.iter().find(|s| s.id == id)?.clone())))
            .collect())
    }

    /// Bookmark or pin (`table`), or undo it; the notice as the account now sees it.
    pub(super) async fn write_mark(
        &self,
        mark: Mark,
        account: AccountId,
        status: StatusId,
        on: bool,
    ) -> Result<StatusRecord> {
        let mut w = self.begin_write().await?;
        let conn: &mut AnyConnection = &mut w.tx;
        let s = Self::fetch_status(conn, status, Some(account))
            .await?
            .ok_or(StoreError::NotFound)?;
        let (insert, delete) = match mark {
            Mark::Bookmark => (
                "INSERT INTO bookmarks (account_id, status_id, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                "DELETE FROM bookmarks WHERE account_id = $1 AND status_id = $2",
            ),
            Mark::Pin => {
                if s.account.id != account || s.reblog.is_some() {
                    return Err(StoreError::Invalid(
                        "Validation failed: only your own notices can be pinned".into(),
                    ));
                }
                if on && s.visibility == Visibility::Direct {
                    return Err(StoreError::Invalid(
                        "Validation failed: direct messages cannot be pinned".into(),
                    ));
                }
                if on && !s.viewer.is_some_and(|v| v.pinned) {
                    let pinned: i64 =
                        sqlx::query("SELECT COUNT(*) AS n FROM pins WHERE account_id = $1")
                            .bind(account)
                            .fetch_one(conn.db())
                            .await?
                            .try_get("n")?;
                    if pinned >= MAX_PINS {
                        return Err(StoreError::Invalid(format!(
                            "Validation failed: you have already pinned the maximum number of posts ({MAX_PINS})"
                        )));
                    }
                }
                (
                    "INSERT INTO pins (account_id, status_id, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                    "DELETE FROM pins WHERE account_id = $1 AND status_id = $2",
                )
            }
        };
        Self::set_pair(conn, on, insert, delete, (account.get(), status.get())).await?;
        let s = Self::fetch_status(conn, status, Some(account))
            .await?
            .ok_or(StoreError::NotFound)?;
        self.commit_write(w, false).await?;
        Ok(s)
    }
}

/// Pins per account, as on Mastodon.
pub const MAX_PINS: i64 = 5;

impl CursorPage {
    /// Append the page's bounds on `column` and its order and limit; true when the rows
    /// come oldest first (from `min`) and must be turned around.
    fn bounds(&self, q: &mut Sql, column: &'static str) -> bool {
        if let Some(max) = self.max {
            q.push(" AND ").push(column).push(" < ").int(max);
        }
        if let Some(since) = self.since {
            q.push(" AND ").push(column).push(" > ").int(since);
        }
        if let Some(min) = self.min {
            q.push(" AND ").push(column).push(" > ").int(min);
        }
        q.push(" ORDER BY ").push(column);
        let ascending = self.min.is_some();
        q.push(if ascending {
            " ASC LIMIT "
        } else {
            " DESC LIMIT "
        });
        q.int(self.limit.max(1));
        ascending
    }
}
