//! Moderation's writes and reads of accounts: an account's standing and role changed with
//! the events that make it felt at once on every node, sign-ups recorded, the moderators'
//! list of accounts, and the audit log — every moderator's act written in the same
//! transaction as the act (reports: `reports`; blocks and settings: `blocks`).
//!
//! How a suspension is felt (the events travel the ordinary path: sequencer, bus, every
//! node's hub): each of her tokens is deleted and a `tidings.revoke` closes its open
//! streams; her newest notices ([`WITHDRAWN_NOTICES`]) and others' reblogs of them get a
//! `delete` on every stream their events went to. Nothing of hers is deleted: reads
//! leave out a suspended author's notices (see [`SqlStore::complete`] and the replay
//! queries), so lifting the suspension restores them. A silence withdraws the notices
//! from the public and tag streams only; a disable closes her streams and her tokens stop
//! working while it lasts.

use super::queries::{self, Sql, account_columns};
use super::sql::SqlStore;
use super::*;
use crate::domain::moderation::{AccountAction, AdminAccountRecord, AuditRecord, Role};
use sqlx::{AnyConnection, Row};

/// How many of an account's newest notices a suspension or silence withdraws from open
/// screens with a `delete` (older ones are long off every screen; reads leave them out).
pub const WITHDRAWN_NOTICES: i64 = 1000;

/// One moderator's act, for the audit log.
#[derive(Debug, Clone)]
pub struct Audit {
    /// Who acted; `None`: the operator at a shell.
    pub by: Option<AccountId>,
    pub action: String,
    pub target_type: &'static str,
    pub target_id: String,
    pub target_name: String,
    pub reason: String,
}

impl Audit {
    pub fn new(
        by: Option<AccountId>,
        action: impl Into<String>,
        target_type: &'static str,
        target_id: impl ToString,
        target_name: impl Into<String>,
    ) -> Self {
        Audit {
            by,
            action: action.into(),
            target_type,
            target_id: target_id.to_string(),
            target_name: target_name.into(),
            reason: String::new(),
        }
    }

    pub fn because(mut self, reason: Option<&str>) -> Self {
        self.reason = reason.unwrap_or_default().to_string();
        self
    }
}

/// Which accounts a moderator lists (Mastodon's filters of both versions).
#[derive(Debug, Clone, Default)]
pub struct AdminAccountQuery {
    /// `Some(true)`: local only; `Some(false)`: remote only.
    pub local: Option<bool>,
    /// `active`, `pending`, `disabled`, `silenced`, `suspended`, `sensitized`.
    pub status: Option<String>,
    pub username: Option<String>,
    pub display_name: Option<String>,
    pub email: Option<String>,
    pub ip: Option<String>,
    pub domain: Option<String>,
    /// Moderators and administrators only.
    pub staff: bool,
    /// Signed up in this window (microseconds), for spam waves.
    pub created_after: Option<i64>,
    pub created_before: Option<i64>,
    pub max_id: Option<i64>,
    pub since_id: Option<i64>,
    pub min_id: Option<i64>,
    pub limit: i64,
}

impl SqlStore {
    pub(super) async fn write_audit(conn: &mut dyn Conn, a: &Audit) -> Result<()> {
        sqlx::query(
            "INSERT INTO audit_log (account_id, action, target_type, target_id, target_name, reason, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(a.by)
        .bind(&a.action)
        .bind(a.target_type)
        .bind(&a.target_id)
        .bind(&a.target_name)
        .bind(&a.reason)
        .bind(crate::domain::now_micros())
        .execute(conn.db())
        .await?;
        Ok(())
    }

    /// Change an account's standing, with the events that make it felt and the audit
    /// line, in one transaction.
    pub(super) async fn write_moderation(
        &self,
        target: AccountId,
        action: AccountAction,
        audit: &Audit,
    ) -> Result<AccountRecord> {
        let mut w = self.begin_write().await?;
        let conn: &mut AnyConnection = &mut w.tx;
        let before = Self::fetch_account(conn, target)
            .await?
            .ok_or(StoreError::NotFound)?;
        let now = crate::domain::now_micros();
        // (statement, whether it takes the time as `$2`)
        let change: Option<(&'static str, bool)> = match action {
            AccountAction::None => None,
            AccountAction::Sensitive => {
                Some(("UPDATE accounts SET sensitized_at = $2 WHERE id = $1", true))
            }
            AccountAction::Silence => {
                Some(("UPDATE accounts SET silenced_at = $2 WHERE id = $1", true))
            }
            AccountAction::Suspend => {
                Some(("UPDATE accounts SET suspended_at = $2 WHERE id = $1", true))
            }
            AccountAction::Disable => {
                Some(("UPDATE accounts SET disabled = 1 WHERE id = $1", false))
            }
            AccountAction::Unsensitive => Some((
                "UPDATE accounts SET sensitized_at = NULL WHERE id = $1",
                false,
            )),
            AccountAction::Unsilence => Some((
                "UPDATE accounts SET silenced_at = NULL WHERE id = $1",
                false,
            )),
            AccountAction::Unsuspend => Some((
                "UPDATE accounts SET suspended_at = NULL WHERE id = $1",
                false,
            )),
            AccountAction::Enable => {
                Some(("UPDATE accounts SET disabled = 0 WHERE id = $1", false))
            }
            AccountAction::Approve => {
                Some(("UPDATE accounts SET approved = 1 WHERE id = $1", false))
            }
        };
        if let Some((sql, timed)) = change {
            let q = sqlx::query(sql).bind(target);
            let q = if timed { q.bind(now) } else { q };
            q.execute(conn.db()).await?;
        }
        // A moderator's own disable or enable is hers: lifting a wiki block later does not
        // undo it (see `store::wiki`).
        if matches!(action, AccountAction::Disable | AccountAction::Enable) {
            sqlx::query("UPDATE wiki_links SET disabled_by_wiki = 0 WHERE account_id = $1")
                .bind(target)
                .execute(conn.db())
                .await?;
        }
        let mut events = Vec::new();
        let mut queued = 0;
        match action {
            AccountAction::Suspend if before.standing.suspended_at.is_none() => {
                events.extend(Self::close_sessions(conn, target, true).await?);
                events.extend(Self::withdrawals(conn, target, false).await?);
                if before.remote.is_none() {
                    queued = Self::queue_actor(conn, target, "delete_actor").await?;
                }
            }
            AccountAction::Disable if !before.standing.disabled => {
                events.extend(Self::close_sessions(conn, target, false).await?);
            }
            AccountAction::Silence if before.standing.silenced_at.is_none() => {
                events.extend(Self::withdrawals(conn, target, true).await?);
            }
            AccountAction::Unsuspend if before.remote.is_none() => {
                queued = Self::queue_actor(conn, target, "profile").await?;
            }
            _ => {}
        }
        // Public places change with a suspension or silence and with their lifting:
        // pollers' unchanged pages are no longer unchanged (`crate::stream::heads`).
        let standing_changed = match action {
            AccountAction::Suspend => before.standing.suspended_at.is_none(),
            AccountAction::Unsuspend => before.standing.suspended_at.is_some(),
            AccountAction::Silence => before.standing.silenced_at.is_none(),
            AccountAction::Unsilence => before.standing.silenced_at.is_some(),
            _ => false,
        };
        if standing_changed {
            events.push(NewEvent::standing(target.to_string()));
        }
        Self::write_audit(conn, audit).await?;
        self.insert_events(conn, &events).await?;
        let after = Self::fetch_account(conn, target)
            .await?
            .ok_or(StoreError::NotFound)?;
        self.commit_write(w, !events.is_empty()).await?;
        if queued > 0 {
            self.deliveries_waiting.notify_one();
        }
        Ok(after)
    }

    /// A `tidings.revoke` for each of her tokens (closing its streams on every node);
    /// `delete`: the tokens go too (a suspension), else they stop working while her
    /// standing says so (a disable) and work again after.
    pub(super) async fn close_sessions(
        conn: &mut dyn Conn,
        account: AccountId,
        delete: bool,
    ) -> Result<Vec<NewEvent>> {
        let ids: Vec<i64> = sqlx::query("SELECT id FROM tokens WHERE account_id = $1")
            .bind(account)
            .fetch_all(conn.db())
            .await?
            .iter()
            .map(|r| r.try_get("id"))
            .collect::<std::result::Result<_, _>>()?;
        if delete {
            sqlx::query("DELETE FROM tokens WHERE account_id = $1")
                .bind(account)
                .execute(conn.db())
                .await?;
            sqlx::query("DELETE FROM auth_codes WHERE account_id = $1")
                .bind(account)
                .execute(conn.db())
                .await?;
        }
        Ok(ids.into_iter().map(NewEvent::revoked).collect())
    }

    /// `delete` events for the account's newest notices, and (not `public_only`) for
    /// others' reblogs of them, on every stream their events went to — only the public
    /// and tag streams when `public_only` (a silence). The earlier events of those reblogs
    /// and of notifications about her notices are blanked: their payloads carry her
    /// notice, and a replay must not serve it.
    pub(super) async fn withdrawals(
        conn: &mut dyn Conn,
        account: AccountId,
        public_only: bool,
    ) -> Result<Vec<NewEvent>> {
        let own: Vec<i64> = sqlx::query(
            "SELECT id FROM statuses WHERE account_id = $1 AND deleted_at IS NULL \
             ORDER BY id DESC LIMIT $2",
        )
        .bind(account)
        .bind(WITHDRAWN_NOTICES)
        .fetch_all(conn.db())
        .await?
        .iter()
        .map(|r| r.try_get("id"))
        .collect::<std::result::Result<_, _>>()?;
        if own.is_empty() {
            return Ok(Vec::new());
        }
        let mut about: Vec<(i64, AccountId)> = own.iter().map(|id| (*id, account)).collect();
        let mut reblogs = Vec::new();
        if !public_only {
            let mut q = Sql::new(
                "SELECT id, account_id FROM statuses WHERE deleted_at IS NULL AND reblog_of_id IN (",
            );
            q.int_list(&own).push(")");
            for r in q.build(conn).fetch_all(conn.db()).await? {
                let id: i64 = r.try_get("id")?;
                reblogs.push(id);
                about.push((id, r.try_get("account_id")?));
            }
        }
        let ids: Vec<i64> = about.iter().map(|(id, _)| *id).collect();
        let mut read = Sql::new(
            "SELECT status_id, streams FROM events WHERE kind IN ('update', 'status.update') \
             AND streams <> '' AND status_id IN (",
        );
        read.int_list(&ids).push(")");
        let mut streams: Vec<(i64, String)> = Vec::new();
        for r in read.build(conn).fetch_all(conn.db()).await? {
            streams.push((r.try_get("status_id")?, r.try_get("streams")?));
        }
        if !public_only {
            let mut blank = Sql::new(
                "UPDATE events SET payload = '', streams = '' WHERE kind = 'notification' AND status_id IN (",
            );
            blank.int_list(&own).push(")");
            blank.build(conn).execute(conn.db()).await?;
        }
        if !reblogs.is_empty() {
            let mut blank = Sql::new(
                "UPDATE events SET payload = '', streams = '' WHERE kind <> 'delete' AND status_id IN (",
            );
            blank.int_list(&reblogs).push(")");
            blank.build(conn).execute(conn.db()).await?;
        }
        Ok(Self::withdrawal_events(&about, &streams, public_only))
    }

    fn withdrawal_events(
        about: &[(i64, AccountId)],
        streams: &[(i64, String)],
        public_only: bool,
    ) -> Vec<NewEvent> {
        let mut out = Vec::new();
        for (id, author) in about {
            let mut keys: Vec<String> = Vec::new();
            for (_, list) in streams.iter().filter(|(s, _)| s == id) {
                for k in crate::domain::event::split_streams(list) {
                    let public = !(k.starts_with("user:")
                        || k.starts_with("list:")
                        || k.starts_with("direct:"));
                    if (public || !public_only) && !keys.iter().any(|x| **x == *k) {
                        keys.push(k.to_string());
                    }
                }
            }
            if !keys.is_empty() {
                out.push(NewEvent::withdrawn(StatusId::new(*id), *author, keys));
            }
        }
        out
    }

    pub(super) async fn write_role(
        &self,
        target: AccountId,
        role: Role,
        audit: &Audit,
    ) -> Result<AccountRecord> {
        let mut w = self.begin_write().await?;
        let conn: &mut AnyConnection = &mut w.tx;
        let done = sqlx::query(
            "UPDATE accounts SET role = $2, is_admin = $3 WHERE id = $1 AND domain IS NULL",
        )
        .bind(target)
        .bind(role.as_str())
        .bind(i64::from(role.administers()))
        .execute(conn.db())
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        // A role given here is kept: the wiki's groups no longer raise or lower her.
        sqlx::query(
            "UPDATE wiki_links SET role_pinned = 1, moderator_by_wiki = 0 WHERE account_id = $1",
        )
        .bind(target)
        .execute(conn.db())
        .await?;
        Self::write_audit(conn, audit).await?;
        let a = Self::fetch_account(conn, target)
            .await?
            .ok_or(StoreError::NotFound)?;
        self.commit_write(w, false).await?;
        Ok(a)
    }

    /// Refuse a sign-up waiting for approval: the account is left as a suspended,
    /// emptied row under a name no one can type (rows elsewhere may name it: follows,
    /// mentions, uploads), and its name is free for someone else.
    pub(super) async fn write_reject(&self, target: AccountId, audit: &Audit) -> Result<()> {
        let mut w = self.begin_write().await?;
        let conn: &mut AnyConnection = &mut w.tx;
        let a = Self::fetch_account(conn, target)
            .await?
            .ok_or(StoreError::NotFound)?;
        if a.standing.approved || a.remote.is_some() {
            return Err(StoreError::Forbidden);
        }
        let events = Self::close_sessions(conn, target, true).await?;
        for q in [
            "DELETE FROM notifications WHERE from_account_id = $1 OR account_id = $1",
            "DELETE FROM follows WHERE follower_id = $1 OR target_id = $1",
            "DELETE FROM follow_requests WHERE account_id = $1 OR target_id = $1",
        ] {
            sqlx::query(q).bind(target).execute(conn.db()).await?;
        }
        sqlx::query(
            "UPDATE accounts SET username_lower = '-rejected-' || CAST(id AS TEXT), email = NULL, \
             password_hash = NULL, display_name = '', note = '', note_source = '', fields = '[]', \
             suspended_at = $2 WHERE id = $1",
        )
        .bind(target)
        .bind(crate::domain::now_micros())
        .execute(conn.db())
        .await?;
        Self::write_audit(conn, audit).await?;
        self.insert_events(conn, &events).await?;
        self.commit_write(w, !events.is_empty()).await
    }

    /// Delete a suspended account's data for good: its notices (each with its `delete`),
    /// relationships, profile and password. The row stays, suspended, so the name is
    /// never taken by someone else (as on Mastodon).
    pub(super) async fn write_purge(&self, target: AccountId, audit: &Audit) -> Result<()> {
        let mut w = self.begin_write().await?;
        let conn: &mut AnyConnection = &mut w.tx;
        let a = Self::fetch_account(conn, target)
            .await?
            .ok_or(StoreError::NotFound)?;
        if a.standing.suspended_at.is_none() {
            return Err(StoreError::Forbidden);
        }
        let now = crate::domain::now_micros();
        sqlx::query(
            "UPDATE events SET payload = '', streams = '' WHERE kind <> 'delete' AND status_id IN \
             (SELECT id FROM statuses WHERE account_id = $1 OR reblog_of_id IN \
              (SELECT id FROM statuses WHERE account_id = $1))",
        )
        .bind(target)
        .execute(conn.db())
        .await?;
        sqlx::query(
            "UPDATE statuses SET deleted_at = $2 WHERE deleted_at IS NULL AND (account_id = $1 \
             OR reblog_of_id IN (SELECT id FROM statuses WHERE account_id = $1))",
        )
        .bind(target)
        .bind(now)
        .execute(conn.db())
        .await?;
        for q in [
            "DELETE FROM follows WHERE follower_id = $1 OR target_id = $1",
            "DELETE FROM follow_requests WHERE account_id = $1 OR target_id = $1",
            "DELETE FROM favourites WHERE account_id = $1",
            "DELETE FROM bookmarks WHERE account_id = $1",
            "DELETE FROM notifications WHERE from_account_id = $1 OR account_id = $1",
            "DELETE FROM remote_followers WHERE account_id = $1",
            "UPDATE accounts SET display_name = '', note = '', note_source = '', fields = '[]', \
             password_hash = NULL, email = NULL, avatar_key = NULL, header_key = NULL, \
             statuses_count = 0, followers_count = 0, following_count = 0 WHERE id = $1",
        ] {
            sqlx::query(q).bind(target).execute(conn.db()).await?;
        }
        Self::write_audit(conn, audit).await?;
        self.commit_write(w, false).await
    }

    pub(super) async fn read_admin_accounts(
        &self,
        q: &AdminAccountQuery,
        only: Option<AccountId>,
    ) -> Result<Vec<AdminAccountRecord>> {
        let mut s = Sql::new(concat!(
            "SELECT ",
            account_columns!("a", ""),
            ", a.email AS admin_email, a.sign_up_ip AS admin_ip, a.sign_up_reason AS admin_reason \
             FROM accounts a WHERE 1 = 1"
        ));
        if let Some(id) = only {
            s.push(" AND a.id = ").int(id);
        }
        match q.local {
            Some(true) => {
                s.push(" AND a.domain IS NULL");
            }
            Some(false) => {
                s.push(" AND a.domain IS NOT NULL");
            }
            None => {}
        }
        match q.status.as_deref() {
            Some("active") => {
                s.push(" AND a.suspended_at IS NULL AND a.disabled = 0 AND a.approved = 1");
            }
            Some("pending") => {
                s.push(" AND a.approved = 0");
            }
            Some("disabled") => {
                s.push(" AND a.disabled = 1");
            }
            Some("silenced") => {
                s.push(" AND a.silenced_at IS NOT NULL");
            }
            Some("suspended") => {
                s.push(" AND a.suspended_at IS NOT NULL");
            }
            Some("sensitized") => {
                s.push(" AND a.sensitized_at IS NOT NULL");
            }
            _ => {}
        }
        if let Some(u) = &q.username {
            s.push(" AND a.username_lower LIKE ")
                .text(&format!("{}%", like_escaped(&u.to_lowercase())))
                .push(" ESCAPE '\\'");
        }
        if let Some(d) = &q.display_name {
            s.push(" AND LOWER(a.display_name) LIKE ")
                .text(&format!("%{}%", like_escaped(&d.to_lowercase())))
                .push(" ESCAPE '\\'");
        }
        if let Some(e) = &q.email {
            s.push(" AND a.email LIKE ")
                .text(&format!("%{}%", like_escaped(&e.to_lowercase())))
                .push(" ESCAPE '\\'");
        }
        if let Some(ip) = &q.ip {
            s.push(" AND a.sign_up_ip = ").text(ip);
        }
        if let Some(d) = &q.domain {
            s.push(" AND a.domain = ").text(&d.to_lowercase());
        }
        if q.staff {
            s.push(" AND a.role <> 'user'");
        }
        if let Some(t) = q.created_after {
            s.push(" AND a.created_at >= ").int(t);
        }
        if let Some(t) = q.created_before {
            s.push(" AND a.created_at <= ").int(t);
        }
        if let Some(m) = q.max_id {
            s.push(" AND a.id < ").int(m);
        }
        if let Some(m) = q.since_id {
            s.push(" AND a.id > ").int(m);
        }
        let ascending = q.min_id.is_some();
        if let Some(m) = q.min_id {
            s.push(" AND a.id > ").int(m);
        }
        s.push(if ascending {
            " ORDER BY a.id ASC LIMIT "
        } else {
            " ORDER BY a.id DESC LIMIT "
        });
        s.int(q.limit.max(1));
        let mut conn = self.pool.acquire().await?;
        let rows = s.build(&conn).fetch_all(conn.db()).await?;
        let mut out = rows
            .iter()
            .map(|r| {
                Ok(AdminAccountRecord {
                    account: queries::account_row(r)?,
                    email: r.try_get("admin_email")?,
                    sign_up_ip: r.try_get("admin_ip")?,
                    reason: r.try_get("admin_reason")?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        if ascending {
            out.reverse();
        }
        Ok(out)
    }

    pub(super) async fn read_audit_log(
        &self,
        max_id: Option<i64>,
        limit: i64,
    ) -> Result<Vec<AuditRecord>> {
        let mut s = Sql::new(
            "SELECT l.id, l.account_id, a.username, l.action, l.target_type, l.target_id, l.target_name, \
             l.reason, l.created_at FROM audit_log l LEFT JOIN accounts a ON a.id = l.account_id WHERE 1 = 1",
        );
        if let Some(m) = max_id {
            s.push(" AND l.id < ").int(m);
        }
        s.push(" ORDER BY l.id DESC LIMIT ").int(limit.max(1));
        let mut conn = self.pool.acquire().await?;
        let rows = s.build(&conn).fetch_all(conn.db()).await?;
        rows.iter()
            .map(|r| {
                let by: Option<AccountId> = r.try_get("account_id")?;
                let name: Option<String> = r.try_get("username")?;
                Ok(AuditRecord {
                    id: r.try_get("id")?,
                    by: by.map(|id| (id, name.unwrap_or_default())),
                    action: r.try_get("action")?,
                    target_type: r.try_get("target_type")?,
                    target_id: r.try_get("target_id")?,
                    target_name: r.try_get("target_name")?,
                    reason: r.try_get("reason")?,
                    created_at: r.try_get("created_at")?,
                })
            })
            .collect()
    }

    /// Where she signed up from and why, and whether she waits for approval; with
    /// `pending`, every moderator hears of the sign-up (`admin.sign_up`).
    pub(super) async fn write_sign_up(
        &self,
        account: AccountId,
        ip: Option<&str>,
        reason: Option<&str>,
        pending: bool,
    ) -> Result<()> {
        let mut w = self.begin_write().await?;
        let conn: &mut AnyConnection = &mut w.tx;
        sqlx::query(
            "UPDATE accounts SET sign_up_ip = $2, sign_up_reason = $3, approved = $4 WHERE id = $1",
        )
        .bind(account)
        .bind(ip)
        .bind(reason)
        .bind(i64::from(!pending))
        .execute(conn.db())
        .await?;
        let a = Self::fetch_account(conn, account)
            .await?
            .ok_or(StoreError::NotFound)?;
        let events = self
            .tell_moderators(
                conn,
                crate::domain::entities::NotificationType::AdminSignUp,
                &a,
                None,
            )
            .await?;
        self.insert_events(conn, &events).await?;
        self.commit_write(w, !events.is_empty()).await
    }
}

/// `LIKE`'s wildcards taken literally (with `ESCAPE '\'`).
pub(super) fn like_escaped(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}
