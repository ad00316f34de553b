//! Conversations of direct notices (Mastodon's account conversations).
//!
//! A direct notice is filed, in the transaction that posts it, into one conversation per
//! participant — its author and every account it mentions who hears from her (no block,
//! no mute with notifications) — keyed by the thread it belongs to: a reply goes where
//! its parent went, a new notice starts its own. Each participant's `direct` stream gets
//! a `conversation` event then. The latest notice of a conversation is read from its
//! standing notices, so a deleted one drops out by itself and a conversation whose
//! notices are all gone is not listed.

use super::queries::{self, Sql, account_columns};
use super::sql::SqlStore;
use super::*;
use crate::domain::entities::ConversationRecord;
use sqlx::{AnyConnection, Row};

impl SqlStore {
    /// File the new direct notice `s` into its participants' conversations; the events
    /// that tell their `direct` streams.
    pub(super) async fn converse(
        &self,
        conn: &mut dyn Conn,
        s: &StatusRecord,
    ) -> Result<Vec<NewEvent>> {
        let root: StatusId = match s.in_reply_to_id {
            None => s.id,
            Some(parent) => sqlx::query(
                "SELECT c.root_id FROM conversation_statuses cs \
                 JOIN conversations c ON c.id = cs.conversation_id \
                 WHERE cs.status_id = $1 LIMIT 1",
            )
            .bind(parent)
            .fetch_optional(conn.db())
            .await?
            .map(|r| r.try_get::<StatusId, _>("root_id"))
            .transpose()?
            .unwrap_or(parent),
        };
        let author = s.account.id;
        let mut people = vec![author];
        for m in &s.mentions {
            if !people.contains(&m.id) && Self::hears_from(conn, m.id, author).await? {
                people.push(m.id);
            }
        }
        let mut events = Vec::with_capacity(people.len());
        for &who in &people {
            let unread = who != author;
            let existing = sqlx::query(
                "SELECT id, participant_ids FROM conversations WHERE account_id = $1 AND root_id = $2",
            )
            .bind(who)
            .bind(root)
            .fetch_optional(conn.db())
            .await?;
            let mut others: Vec<AccountId> = match &existing {
                Some(r) => parse_ids(&r.try_get::<String, _>("participant_ids")?),
                None => Vec::new(),
            };
            for p in &people {
                if *p != who && !others.contains(p) {
                    others.push(*p);
                }
            }
            let listed = others
                .iter()
                .map(|a| a.to_string())
                .collect::<Vec<_>>()
                .join(" ");
            let id: i64 = match existing {
                Some(r) => {
                    let id: i64 = r.try_get("id")?;
                    sqlx::query(
                        "UPDATE conversations SET participant_ids = $2, unread = $3 WHERE id = $1",
                    )
                    .bind(id)
                    .bind(&listed)
                    .bind(i64::from(unread))
                    .execute(conn.db())
                    .await?;
                    id
                }
                None => sqlx::query(
                    "INSERT INTO conversations (account_id, root_id, participant_ids, unread) \
                     VALUES ($1, $2, $3, $4) RETURNING id",
                )
                .bind(who)
                .bind(root)
                .bind(&listed)
                .bind(i64::from(unread))
                .fetch_one(conn.db())
                .await?
                .try_get("id")?,
            };
            sqlx::query(
                "INSERT INTO conversation_statuses (conversation_id, status_id) VALUES ($1, $2)",
            )
            .bind(id)
            .bind(s.id)
            .execute(conn.db())
            .await?;
            let owner = if who == author {
                s.account.clone()
            } else {
                Self::fetch_account(conn, who)
                    .await?
                    .ok_or(StoreError::NotFound)?
            };
            let record = ConversationRecord {
                id,
                unread,
                accounts: Self::accounts_by_id(conn, &others).await?,
                last_status: Some(s.clone()),
                owner,
            };
            events.push(NewEvent::conversation(&record, s, &self.site));
        }
        Ok(events)
    }

    /// `owner`'s conversations, newest latest notice first, paged by that notice's id;
    /// with `only`, just that one.
    pub(super) async fn read_conversations(
        &self,
        owner: AccountId,
        page: &CursorPage,
        only: Option<i64>,
    ) -> Result<Vec<ConversationRecord>> {
        let mut conn = self.pool.acquire().await?;
        let conn: &mut AnyConnection = &mut conn;
        let mut q = Sql::new(
            "SELECT c.id AS id, c.unread AS unread, c.participant_ids AS participant_ids, \
             MAX(cs.status_id) AS last_id \
             FROM conversations c \
             JOIN conversation_statuses cs ON cs.conversation_id = c.id \
             JOIN statuses s ON s.id = cs.status_id AND s.deleted_at IS NULL \
             WHERE c.account_id = ",
        );
        q.int(owner);
        if let Some(id) = only {
            q.push(" AND c.id = ").int(id);
        }
        q.push(" GROUP BY c.id, c.unread, c.participant_ids HAVING 1 = 1");
        if let Some(max) = page.max {
            q.push(" AND MAX(cs.status_id) < ").int(max);
        }
        if let Some(since) = page.since {
            q.push(" AND MAX(cs.status_id) > ").int(since);
        }
        if let Some(min) = page.min {
            q.push(" AND MAX(cs.status_id) > ").int(min);
        }
        q.push(if page.min.is_some() {
            " ORDER BY last_id ASC LIMIT "
        } else {
            " ORDER BY last_id DESC LIMIT "
        })
        .int(page.limit);
        let mut found = Vec::new();
        for r in q.build(conn).fetch_all(conn.db()).await? {
            found.push((
                r.try_get::<i64, _>("id")?,
                r.try_get::<i64, _>("unread")? != 0,
                parse_ids(&r.try_get::<String, _>("participant_ids")?),
                StatusId::new(r.try_get::<i64, _>("last_id")?),
            ));
        }
        if page.min.is_some() {
            found.reverse();
        }
        let last: Vec<StatusId> = found.iter().map(|f| f.3).collect();
        let statuses = Self::statuses_by_id(conn, &last, Some(owner)).await?;
        let mut people: Vec<AccountId> = found.iter().flat_map(|f| f.2.clone()).collect();
        people.sort_unstable();
        people.dedup();
        let accounts = Self::accounts_by_id(conn, &people).await?;
        let me = Self::fetch_account(conn, owner)
            .await?
            .ok_or(StoreError::NotFound)?;
        Ok(found
            .into_iter()
            .map(|(id, unread, others, last)| ConversationRecord {
                id,
                unread,
                accounts: others
                    .iter()
                    .filter_map(|o| accounts.iter().find(|a| a.id == *o).cloned())
                    .collect(),
                last_status: statuses.iter().find(|s| s.id == last).cloned(),
                owner: me.clone(),
            })
            .collect())
    }

    /// Mark `owner`'s conversation read; false when she has none of that id.
    pub(super) async fn write_conversation_read(&self, owner: AccountId, id: i64) -> Result<bool> {
        let done =
            sqlx::query("UPDATE conversations SET unread = 0 WHERE id = $1 AND account_id = $2")
                .bind(id)
                .bind(owner)
                .execute(&self.pool)
                .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Remove `owner`'s conversation (hers alone: the others keep theirs, and a new
    /// notice in the thread starts it again); false when she has none of that id.
    pub(super) async fn write_conversation_removed(
        &self,
        owner: AccountId,
        id: i64,
    ) -> Result<bool> {
        let mut w = self.begin_write().await?;
        let conn: &mut AnyConnection = &mut w.tx;
        let mine =
            sqlx::query("SELECT 1 AS x FROM conversations WHERE id = $1 AND account_id = $2")
                .bind(id)
                .bind(owner)
                .fetch_optional(conn.db())
                .await?
                .is_some();
        if mine {
            sqlx::query("DELETE FROM conversation_statuses WHERE conversation_id = $1")
                .bind(id)
                .execute(conn.db())
                .await?;
            sqlx::query("DELETE FROM conversations WHERE id = $1")
                .bind(id)
                .execute(conn.db())
                .await?;
        }
        self.commit_write(w, false).await?;
        Ok(mine)
    }

    /// Accounts by id, in no particular order.
    pub(super) async fn accounts_by_id(
        conn: &mut dyn Conn,
        ids: &[AccountId],
    ) -> Result<Vec<AccountRecord>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut q = Sql::new(concat!(
            "SELECT ",
            account_columns!("a", ""),
            " FROM accounts a WHERE a.id IN ("
        ));
        q.int_list(ids).push(")");
        q.build(conn)
            .fetch_all(conn.db())
            .await?
            .iter()
            .map(queries::account_row)
            .collect()
    }
}

fn parse_ids(s: &str) -> Vec<AccountId> {
    s.split_whitespace()
        .filter_map(|p| p.parse().ok().map(AccountId::new))
        .collect()
}
