//! Lists: an account's curated sets of accounts it follows, each with a timeline and a
//! stream. Whom a notice reaches (its [`Reach`]) is gathered here: the author's followers
//! and the lists that carry her, as each list's replies policy allows.

use super::sql::SqlStore;
use super::*;
use crate::domain::announce::Reach;
use sqlx::{AnyConnection, Row};

/// A list as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct ListRecord {
    pub id: ListId,
    pub account_id: AccountId,
    pub title: String,
    /// `list`, `followed` or `none`: which replies by members the list shows.
    pub replies_policy: String,
    pub exclusive: bool,
}

/// Lists per account, as Mastodon bounds them.
pub const MAX_LISTS: i64 = 50;
/// Members per list.
pub const MAX_LIST_MEMBERS: i64 = 500;

/// Everything about an author that decides whom her notices reach, read once per author
/// per batch of posts.
pub(super) struct AuthorReach {
    followers: Vec<AccountId>,
    /// (list, replies policy, owner)
    lists: Vec<(ListId, String, AccountId)>,
    /// Owners of exclusive lists she is on: her notices stay out of their home.
    exclusive_owners: Vec<AccountId>,
}

fn list_row(r: &sqlx::any::AnyRow) -> Result<ListRecord> {
    Ok(ListRecord {
        id: r.try_get("id")?,
        account_id: r.try_get("account_id")?,
        title: r.try_get("title")?,
        replies_policy: r.try_get("replies_policy")?,
        exclusive: r.try_get::<i64, _>("exclusive")? != 0,
    })
}

impl SqlStore {
    pub(super) async fn author_reach(
        conn: &mut dyn Conn,
        author: AccountId,
    ) -> Result<AuthorReach> {
        let followers = Self::followers(conn, author).await?;
        let rows = sqlx::query(
            "SELECT l.id AS id, l.replies_policy AS policy, l.account_id AS owner, l.exclusive AS ex \
             FROM list_accounts la JOIN lists l ON l.id = la.list_id WHERE la.account_id = $1",
        )
        .bind(author)
        .fetch_all(conn.db())
        .await?;
        let mut lists = Vec::with_capacity(rows.len());
        let mut exclusive_owners = Vec::new();
        for r in rows {
            let owner: AccountId = r.try_get("owner")?;
            if r.try_get::<i64, _>("ex")? != 0 && owner != author {
                exclusive_owners.push(owner);
            }
            lists.push((r.try_get("id")?, r.try_get("policy")?, owner));
        }
        Ok(AuthorReach {
            followers,
            lists,
            exclusive_owners,
        })
    }

    /// Whom `s` reaches, given its author's [`AuthorReach`]. A reply reaches a list only
    /// as the list's policy allows: `none`, never; `list`, when it answers a member;
    /// `followed`, when it answers someone the list's owner follows (or the owner).
    pub(super) async fn reach_for(
        conn: &mut dyn Conn,
        ar: &AuthorReach,
        s: &StatusRecord,
    ) -> Result<Reach> {
        let followers = ar
            .followers
            .iter()
            .copied()
            .filter(|f| !ar.exclusive_owners.contains(f))
            .collect();
        let answered = s.in_reply_to_account_id.filter(|r| *r != s.account.id);
        let mut lists = Vec::with_capacity(ar.lists.len());
        for (list, policy, owner) in &ar.lists {
            let Some(r) = answered else {
                lists.push(*list);
                continue;
            };
            let shown =
                match policy.as_str() {
                    "none" => false,
                    "followed" => r == *owner
                        || sqlx::query(
                            "SELECT 1 AS x FROM follows WHERE follower_id = $1 AND target_id = $2",
                        )
                        .bind(owner)
                        .bind(r)
                        .fetch_optional(conn.db())
                        .await?
                        .is_some(),
                    _ => sqlx::query(
                        "SELECT 1 AS x FROM list_accounts WHERE list_id = $1 AND account_id = $2",
                    )
                    .bind(list)
                    .bind(r)
                    .fetch_optional(conn.db())
                    .await?
                    .is_some(),
                };
            if shown {
                lists.push(*list);
            }
        }
        Ok(Reach {
            followers,
            lists,
            events: Vec::new(),
        })
    }

    /// Whom `s` reaches now.
    pub(super) async fn reach(conn: &mut dyn Conn, s: &StatusRecord) -> Result<Reach> {
        let ar = Self::author_reach(conn, s.account.id).await?;
        let mut reach = Self::reach_for(conn, &ar, s).await?;
        // The live events whose feed carries it hear of its edits (not while its author is
        // silenced: the event is a public place). Only a public original can be in a feed:
        // a boost, or any other notice, costs no query.
        if super::live::enters_events(s) {
            reach.events = Self::curated_in(conn, s.id).await?;
        }
        Ok(reach)
    }

    pub(super) async fn read_lists(
        &self,
        owner: AccountId,
        member: Option<AccountId>,
    ) -> Result<Vec<ListRecord>> {
        let q = match member {
            None => sqlx::query(
                "SELECT id, account_id, title, replies_policy, exclusive FROM lists \
                 WHERE account_id = $1 ORDER BY id",
            )
            .bind(owner),
            Some(m) => sqlx::query(
                "SELECT l.id AS id, l.account_id AS account_id, l.title AS title, \
                 l.replies_policy AS replies_policy, l.exclusive AS exclusive \
                 FROM lists l JOIN list_accounts la ON la.list_id = l.id \
                 WHERE l.account_id = $1 AND la.account_id = $2 ORDER BY l.id",
            )
            .bind(owner)
            .bind(m),
        };
        q.fetch_all(&self.pool)
            .await?
            .iter()
            .map(list_row)
            .collect()
    }

    pub(super) async fn read_list(&self, id: ListId) -> Result<Option<ListRecord>> {
        let row = sqlx::query(
            "SELECT id, account_id, title, replies_policy, exclusive FROM lists WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(list_row).transpose()
    }

    pub(super) async fn write_list(&self, l: &ListRecord, create: bool) -> Result<ListRecord> {
        let mut w = self.begin_write().await?;
        let conn: &mut AnyConnection = &mut w.tx;
        let id: ListId = if create {
            let n: i64 = sqlx::query("SELECT COUNT(*) AS n FROM lists WHERE account_id = $1")
                .bind(l.account_id)
                .fetch_one(conn.db())
                .await?
                .try_get("n")?;
            if n >= MAX_LISTS {
                return Err(StoreError::Invalid(format!(
                    "Validation failed: at most {MAX_LISTS} lists"
                )));
            }
            sqlx::query(
                "INSERT INTO lists (account_id, title, replies_policy, exclusive, created_at) \
                 VALUES ($1, $2, $3, $4, $5) RETURNING id",
            )
            .bind(l.account_id)
            .bind(&l.title)
            .bind(&l.replies_policy)
            .bind(i64::from(l.exclusive))
            .bind(crate::domain::now_micros())
            .fetch_one(conn.db())
            .await?
            .try_get("id")?
        } else {
            sqlx::query(
                "UPDATE lists SET title = $2, replies_policy = $3, exclusive = $4 WHERE id = $1",
            )
            .bind(l.id)
            .bind(&l.title)
            .bind(&l.replies_policy)
            .bind(i64::from(l.exclusive))
            .execute(conn.db())
            .await?;
            l.id
        };
        self.commit_write(w, false).await?;
        self.read_list(id).await?.ok_or(StoreError::NotFound)
    }

    pub(super) async fn remove_list(&self, id: ListId) -> Result<()> {
        let mut w = self.begin_write().await?;
        let conn: &mut AnyConnection = &mut w.tx;
        sqlx::query("DELETE FROM list_accounts WHERE list_id = $1")
            .bind(id)
            .execute(conn.db())
            .await?;
        sqlx::query("DELETE FROM lists WHERE id = $1")
            .bind(id)
            .execute(conn.db())
            .await?;
        self.commit_write(w, false).await
    }

    /// Add (`on`) or remove members. The list's owner must follow whom she adds.
    pub(super) async fn write_members(
        &self,
        list: &ListRecord,
        members: &[AccountId],
        on: bool,
    ) -> Result<()> {
        let mut w = self.begin_write().await?;
        let conn: &mut AnyConnection = &mut w.tx;
        for m in members {
            if on {
                let follows = sqlx::query(
                    "SELECT 1 AS x FROM follows WHERE follower_id = $1 AND target_id = $2",
                )
                .bind(list.account_id)
                .bind(m)
                .fetch_optional(conn.db())
                .await?;
                if follows.is_none() {
                    return Err(StoreError::Invalid(
                        "Validation failed: you must follow an account to add it to a list".into(),
                    ));
                }
                sqlx::query(
                    "INSERT INTO list_accounts (list_id, account_id, created_at) VALUES ($1, $2, $3) \
                     ON CONFLICT DO NOTHING",
                )
                .bind(list.id)
                .bind(m)
                .bind(crate::domain::now_micros())
                .execute(conn.db())
                .await?;
            } else {
                sqlx::query("DELETE FROM list_accounts WHERE list_id = $1 AND account_id = $2")
                    .bind(list.id)
                    .bind(m)
                    .execute(conn.db())
                    .await?;
            }
        }
        if on {
            let n: i64 = sqlx::query("SELECT COUNT(*) AS n FROM list_accounts WHERE list_id = $1")
                .bind(list.id)
                .fetch_one(conn.db())
                .await?
                .try_get("n")?;
            if n > MAX_LIST_MEMBERS {
                return Err(StoreError::Invalid(format!(
                    "Validation failed: at most {MAX_LIST_MEMBERS} accounts in a list"
                )));
            }
        }
        self.commit_write(w, false).await
    }

    /// An unfollow (or a block) takes the account off the follower's lists.
    pub(super) async fn leave_lists(
        conn: &mut dyn Conn,
        owner: AccountId,
        member: AccountId,
    ) -> Result<()> {
        sqlx::query(
            "DELETE FROM list_accounts WHERE account_id = $2 \
             AND list_id IN (SELECT id FROM lists WHERE account_id = $1)",
        )
        .bind(owner)
        .bind(member)
        .execute(conn.db())
        .await?;
        Ok(())
    }
}
