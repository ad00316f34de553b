//! Accounts linked to a wiki's users (wiki mode): creating one at a first sign-in,
//! bringing its standing in line with what the wiki says, the re-check queue, and the
//! sign-in nonces already used.

use super::moderation::Audit;
use super::sql::SqlStore;
use super::*;
use crate::domain::moderation::Role;
use sqlx::{AnyConnection, Row};

/// What the wiki says of a user, as Tidings applies it (see `crate::wiki::Wiki::standing_of`).
#[derive(Debug, Clone, PartialEq)]
pub struct WikiStanding {
    pub wiki_user_id: i64,
    pub name: String,
    pub groups: Vec<String>,
    pub blocked: bool,
    pub editcount: i64,
    /// Why she may not post, if she may not.
    pub posting_bar: Option<crate::domain::moderation::PostingBar>,
    /// A member of a moderator group.
    pub moderator: bool,
    /// Her account is to be disabled (blocked, and the operator says a block takes all).
    pub disable: bool,
}

/// A linked account waiting for its re-check, with what was applied last time.
#[derive(Debug, Clone)]
pub struct WikiLink {
    pub account_id: AccountId,
    pub wiki_user_id: i64,
    pub wiki_name: String,
    pub groups: Vec<String>,
    pub blocked: bool,
    pub posting_bar: Option<crate::domain::moderation::PostingBar>,
    pub role: Role,
    pub moderator_by_wiki: bool,
    pub disabled_by_wiki: bool,
    /// Staff set her role here; the wiki's groups no longer change it.
    pub role_pinned: bool,
}

impl WikiLink {
    /// Whether applying `s` would change nothing (then the re-check only marks the link
    /// checked, many at once, instead of a write transaction per account). Edit counts
    /// are not compared: they change with every edit and decide nothing.
    pub fn in_line_with(&self, s: &WikiStanding) -> bool {
        self.wiki_name == s.name
            && self.groups == s.groups
            && self.blocked == s.blocked
            && self.posting_bar == s.posting_bar
            && self.disabled_by_wiki == s.disable
            && (self.role_pinned
                || if s.moderator {
                    self.role != Role::User
                } else {
                    !self.moderator_by_wiki
                })
    }
}

impl SqlStore {
    pub(super) async fn read_wiki_account(&self, wiki_user_id: i64) -> Result<Option<AccountId>> {
        let row = sqlx::query("SELECT account_id FROM wiki_links WHERE wiki_user_id = $1")
            .bind(wiki_user_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.try_get("account_id")).transpose()?)
    }

    /// A new account named `username` (no password: she signs in through the wiki),
    /// linked to her wiki user, in one transaction; `Taken("username")` on a clash, and
    /// nothing is written.
    pub(super) async fn write_wiki_account(
        &self,
        username: &str,
        s: &WikiStanding,
    ) -> Result<AccountRecord> {
        let mut w = self.begin_write().await?;
        let conn: &mut AnyConnection = &mut w.tx;
        let now = crate::domain::now_micros();
        let id: AccountId = sqlx::query(
            "INSERT INTO accounts (username, username_lower, display_name, password_hash, is_admin, role, \
             created_at) VALUES ($1, $2, $3, NULL, 0, 'user', $4) RETURNING id",
        )
        .bind(username)
        .bind(username.to_lowercase())
        .bind(&s.name)
        .bind(now)
        .fetch_one(conn.db())
        .await
        .map_err(super::sql::taken("username"))?
        .try_get("id")?;
        sqlx::query(
            "INSERT INTO wiki_links (account_id, wiki_user_id, wiki_name, checked_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(id)
        .bind(s.wiki_user_id)
        .bind(&s.name)
        .bind(now)
        .execute(conn.db())
        .await
        .map_err(super::sql::taken("wiki_user"))?;
        self.commit_in_line(w, id, s, now).await
    }

    pub(super) async fn write_wiki_standing(
        &self,
        account: AccountId,
        s: &WikiStanding,
    ) -> Result<AccountRecord> {
        let w = self.begin_write().await?;
        self.commit_in_line(w, account, s, crate::domain::now_micros())
            .await
    }

    /// Bring `account` in line with `s` in `w` (with the events that makes), commit, and
    /// read her back.
    async fn commit_in_line(
        &self,
        mut w: super::sql::WriteTx<'_>,
        account: AccountId,
        s: &WikiStanding,
        now: i64,
    ) -> Result<AccountRecord> {
        let conn: &mut AnyConnection = &mut w.tx;
        let events = Self::bring_in_line(conn, account, s, now).await?;
        self.insert_events(conn, &events).await?;
        let a = Self::fetch_account(conn, account)
            .await?
            .ok_or(StoreError::NotFound)?;
        self.commit_write(w, !events.is_empty()).await?;
        Ok(a)
    }

    /// Record `s` on her link and make her account say the same: posting bar, a
    /// moderator role the wiki gave (or takes back), a disable the wiki's block made (or
    /// lifts). A role staff set in Tidings (`role_pinned`, even a demotion) and a
    /// moderator's own disable or enable are left alone.
    async fn bring_in_line(
        conn: &mut dyn Conn,
        account: AccountId,
        s: &WikiStanding,
        now: i64,
    ) -> Result<Vec<NewEvent>> {
        let row = sqlx::query(
            "SELECT a.role, a.disabled, l.moderator_by_wiki, l.disabled_by_wiki, l.role_pinned FROM accounts a \
             JOIN wiki_links l ON l.account_id = a.id WHERE a.id = $1",
        )
        .bind(account)
        .fetch_optional(conn.db())
        .await?
        .ok_or(StoreError::NotFound)?;
        let role = Role::parse(&row.try_get::<String, _>("role")?).unwrap_or_default();
        let disabled = row.try_get::<i64, _>("disabled")? != 0;
        let mut moderator_by_wiki = row.try_get::<i64, _>("moderator_by_wiki")? != 0;
        let mut disabled_by_wiki = row.try_get::<i64, _>("disabled_by_wiki")? != 0;
        let role_pinned = row.try_get::<i64, _>("role_pinned")? != 0;
        let name = s.name.clone();
        let mut audits = Vec::new();
        let new_role = if role_pinned {
            None
        } else if s.moderator && role == Role::User {
            moderator_by_wiki = true;
            audits.push("wiki_grant_moderator");
            Some(Role::Moderator)
        } else if !s.moderator && moderator_by_wiki {
            moderator_by_wiki = false;
            // Only the role the wiki gave goes; one raised in Tidings since stays.
            (role == Role::Moderator).then(|| {
                audits.push("wiki_revoke_moderator");
                Role::User
            })
        } else {
            None
        };
        if let Some(r) = new_role {
            sqlx::query("UPDATE accounts SET role = $2, is_admin = $3 WHERE id = $1")
                .bind(account)
                .bind(r.as_str())
                .bind(i64::from(r.administers()))
                .execute(conn.db())
                .await?;
        }
        let mut events = Vec::new();
        if s.disable && !disabled {
            disabled_by_wiki = true;
            audits.push("wiki_disable");
            sqlx::query("UPDATE accounts SET disabled = 1 WHERE id = $1")
                .bind(account)
                .execute(conn.db())
                .await?;
            events = Self::close_sessions(conn, account, false).await?;
        } else if !s.disable && disabled_by_wiki {
            disabled_by_wiki = false;
            if disabled {
                audits.push("wiki_enable");
                sqlx::query("UPDATE accounts SET disabled = 0 WHERE id = $1")
                    .bind(account)
                    .execute(conn.db())
                    .await?;
            }
        }
        sqlx::query("UPDATE accounts SET posting_bar = $2 WHERE id = $1")
            .bind(account)
            .bind(s.posting_bar.map(|b| b.as_str()))
            .execute(conn.db())
            .await?;
        sqlx::query(
            "UPDATE wiki_links SET wiki_name = $2, groups = $3, blocked = $4, editcount = $5, \
             moderator_by_wiki = $6, disabled_by_wiki = $7, checked_at = $8 WHERE account_id = $1",
        )
        .bind(account)
        .bind(&s.name)
        .bind(s.groups.join(" "))
        .bind(i64::from(s.blocked))
        .bind(s.editcount)
        .bind(i64::from(moderator_by_wiki))
        .bind(i64::from(disabled_by_wiki))
        .bind(now)
        .execute(conn.db())
        .await?;
        for action in audits {
            let audit = Audit::new(None, action, "Account", account, name.clone())
                .because(Some("the wiki's groups or blocks"));
            Self::write_audit(conn, &audit).await?;
        }
        Ok(events)
    }

    pub(super) async fn read_wiki_links_due(
        &self,
        before: i64,
        limit: i64,
    ) -> Result<Vec<WikiLink>> {
        let rows = sqlx::query(
            "SELECT l.account_id, l.wiki_user_id, l.wiki_name, l.groups, l.blocked, l.moderator_by_wiki, \
             l.disabled_by_wiki, l.role_pinned, a.posting_bar, a.role FROM wiki_links l JOIN accounts a ON a.id = l.account_id \
             WHERE l.checked_at < $1 ORDER BY l.checked_at LIMIT $2",
        )
        .bind(before)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(WikiLink {
                    account_id: r.try_get("account_id")?,
                    wiki_user_id: r.try_get("wiki_user_id")?,
                    wiki_name: r.try_get("wiki_name")?,
                    groups: r
                        .try_get::<String, _>("groups")?
                        .split_whitespace()
                        .map(str::to_string)
                        .collect(),
                    blocked: r.try_get::<i64, _>("blocked")? != 0,
                    posting_bar: r
                        .try_get::<Option<String>, _>("posting_bar")?
                        .as_deref()
                        .and_then(crate::domain::moderation::PostingBar::parse),
                    role: Role::parse(&r.try_get::<String, _>("role")?).unwrap_or_default(),
                    moderator_by_wiki: r.try_get::<i64, _>("moderator_by_wiki")? != 0,
                    disabled_by_wiki: r.try_get::<i64, _>("disabled_by_wiki")? != 0,
                    role_pinned: r.try_get::<i64, _>("role_pinned")? != 0,
                })
            })
            .collect()
    }

    pub(super) async fn write_wiki_checked(&self, accounts: &[AccountId], at: i64) -> Result<()> {
        if accounts.is_empty() {
            return Ok(());
        }
        let mut s = super::queries::Sql::new("UPDATE wiki_links SET checked_at = ");
        s.int(at)
            .push(" WHERE account_id IN (")
            .int_list(accounts)
            .push(")");
        let mut conn = self.pool.acquire().await?;
        s.build(&conn).execute(conn.db()).await?;
        Ok(())
    }

    /// Record `nonce` as used until `expires_at` (Unix seconds); false if it already was.
    pub(super) async fn write_wiki_nonce(&self, nonce: &str, expires_at: i64) -> Result<bool> {
        let now = crate::domain::now_micros() / 1_000_000;
        sqlx::query("DELETE FROM wiki_nonces WHERE expires_at < $1")
            .bind(now)
            .execute(&self.pool)
            .await?;
        match sqlx::query("INSERT INTO wiki_nonces (nonce, expires_at) VALUES ($1, $2)")
            .bind(nonce)
            .bind(expires_at)
            .execute(&self.pool)
            .await
        {
            Ok(_) => Ok(true),
            Err(sqlx::Error::Database(d)) if d.is_unique_violation() => Ok(false),
            Err(e) => Err(e.into()),
        }
    }
}
