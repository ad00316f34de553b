//! Moderation's writes and reads: an account's standing changed with the events that
//! make it felt at once on every node, reports, domain and address blocks, run-time
//! settings, and the audit log — every moderator's act written in the same transaction
//! as the act.
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
use crate::domain::moderation::{
    AccessRule, AccountAction, AdminAccountRecord, AuditRecord, DomainBlock, ReportRecord, Role,
};
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

pub struct NewReport {
    pub account: AccountId,
    pub target: AccountId,
    pub status_ids: Vec<StatusId>,
    pub rule_ids: Vec<String>,
    pub comment: String,
    pub category: String,
    pub forward: bool,
}

#[derive(Debug, Clone, Copy)]
pub enum ReportChange {
    AssignTo(AccountId),
    Unassign,
    Resolve(AccountId),
    Reopen,
}

#[derive(Debug, Clone, Default)]
pub struct ReportQuery {
    pub resolved: Option<bool>,
    pub account_id: Option<AccountId>,
    pub target_account_id: Option<AccountId>,
    pub max_id: Option<i64>,
    pub since_id: Option<i64>,
    pub min_id: Option<i64>,
    pub limit: i64,
}

impl SqlStore {
    pub(super) async fn write_audit(conn: &mut AnyConnection, a: &Audit) -> Result<()> {
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
        .execute(&mut *conn)
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
        let set: Option<&'static str> = match action {
            AccountAction::None => None,
            AccountAction::Sensitive => Some("sensitized_at = $2"),
            AccountAction::Silence => Some("silenced_at = $2"),
            AccountAction::Suspend => Some("suspended_at = $2"),
            AccountAction::Disable => Some("disabled = 1, updated = $2"),
            AccountAction::Unsensitive => Some("sensitized_at = NULL, updated = $2"),
            AccountAction::Unsilence => Some("silenced_at = NULL, updated = $2"),
            AccountAction::Unsuspend => Some("suspended_at = NULL, updated = $2"),
            AccountAction::Enable => Some("disabled = 0, updated = $2"),
            AccountAction::Approve => Some("approved = 1, updated = $2"),
        };
        if let Some(set) = set {
            // `updated` is not a column: each statement must use `$2` on Postgres, so the
            // ones that need no time compare it instead (always true).
            let sql = format!("UPDATE accounts SET {set} WHERE id = $1")
                .replace(", updated = $2 WHERE id = $1", " WHERE id = $1 AND $2 > 0");
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(target)
                .bind(now)
                .execute(&mut *conn)
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
        Self::write_audit(conn, audit).await?;
        Self::insert_events(conn, &events).await?;
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
    async fn close_sessions(
        conn: &mut AnyConnection,
        account: AccountId,
        delete: bool,
    ) -> Result<Vec<NewEvent>> {
        let ids: Vec<i64> = sqlx::query("SELECT id FROM tokens WHERE account_id = $1")
            .bind(account)
            .fetch_all(&mut *conn)
            .await?
            .iter()
            .map(|r| r.try_get("id"))
            .collect::<std::result::Result<_, _>>()?;
        if delete {
            sqlx::query("DELETE FROM tokens WHERE account_id = $1")
                .bind(account)
                .execute(&mut *conn)
                .await?;
            sqlx::query("DELETE FROM auth_codes WHERE account_id = $1")
                .bind(account)
                .execute(&mut *conn)
                .await?;
        }
        Ok(ids.into_iter().map(NewEvent::revoked).collect())
    }

    /// `delete` events for the account's newest notices, and (not `public_only`) for
    /// others' reblogs of them, on every stream their events went to — only the public
    /// and tag streams when `public_only` (a silence). Reblogs' earlier events are
    /// blanked: their payload carries her notice, and a replay must not serve it.
    async fn withdrawals(
        conn: &mut AnyConnection,
        account: AccountId,
        public_only: bool,
    ) -> Result<Vec<NewEvent>> {
        let own: Vec<i64> = sqlx::query(
            "SELECT id FROM statuses WHERE account_id = $1 AND deleted_at IS NULL \
             ORDER BY id DESC LIMIT $2",
        )
        .bind(account)
        .bind(WITHDRAWN_NOTICES)
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|r| r.try_get("id"))
        .collect::<std::result::Result<_, _>>()?;
        if own.is_empty() {
            return Ok(Vec::new());
        }
        let mut about: Vec<(i64, AccountId)> = own.iter().map(|id| (*id, account)).collect();
        if !public_only {
            let mut q = Sql::new(
                "SELECT id, account_id FROM statuses WHERE deleted_at IS NULL AND reblog_of_id IN (",
            );
            q.int_list(&own).push(")");
            let mut reblogs = Vec::new();
            for r in q.build(conn).fetch_all(&mut *conn).await? {
                let id: i64 = r.try_get("id")?;
                reblogs.push(id);
                about.push((id, r.try_get("account_id")?));
            }
            if !reblogs.is_empty() {
                let mut blank = Sql::new(
                    "UPDATE events SET payload = '', streams = '' WHERE kind <> 'delete' AND status_id IN (",
                );
                blank.int_list(&reblogs).push(")");
                // Their streams are read before they are blanked.
                let mut read = Sql::new(
                    "SELECT status_id, streams FROM events WHERE kind IN ('update', 'status.update') \
                     AND streams <> '' AND status_id IN (",
                );
                read.int_list(&reblogs).push(")");
                let rows = read.build(conn).fetch_all(&mut *conn).await?;
                let mut reblog_streams: Vec<(i64, String)> = Vec::new();
                for r in rows {
                    reblog_streams.push((r.try_get("status_id")?, r.try_get("streams")?));
                }
                blank.build(conn).execute(&mut *conn).await?;
                let mut out = Self::withdrawal_events(&about, &reblog_streams, false);
                out.extend(Self::own_withdrawals(conn, &own, account, false).await?);
                return Ok(out);
            }
        }
        Self::own_withdrawals(conn, &own, account, public_only).await
    }

    async fn own_withdrawals(
        conn: &mut AnyConnection,
        own: &[i64],
        account: AccountId,
        public_only: bool,
    ) -> Result<Vec<NewEvent>> {
        let mut read = Sql::new(
            "SELECT status_id, streams FROM events WHERE kind IN ('update', 'status.update') \
             AND streams <> '' AND status_id IN (",
        );
        read.int_list(own).push(")");
        let mut streams: Vec<(i64, String)> = Vec::new();
        for r in read.build(conn).fetch_all(&mut *conn).await? {
            streams.push((r.try_get("status_id")?, r.try_get("streams")?));
        }
        let about: Vec<(i64, AccountId)> = own.iter().map(|id| (*id, account)).collect();
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
        .execute(&mut *conn)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Self::write_audit(conn, audit).await?;
        let a = Self::fetch_account(conn, target)
            .await?
            .ok_or(StoreError::NotFound)?;
        self.commit_write(w, false).await?;
        Ok(a)
    }

    /// Refuse a sign-up waiting for approval: the account is removed (its name freed).
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
        for table in [
            "DELETE FROM notifications WHERE from_account_id = $1 OR account_id = $1",
            "DELETE FROM reports WHERE account_id = $1 OR target_account_id = $1",
            "DELETE FROM accounts WHERE id = $1",
        ] {
            sqlx::query(table).bind(target).execute(&mut *conn).await?;
        }
        Self::write_audit(conn, audit).await?;
        Self::insert_events(conn, &events).await?;
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
        .execute(&mut *conn)
        .await?;
        sqlx::query(
            "UPDATE statuses SET deleted_at = $2 WHERE deleted_at IS NULL AND (account_id = $1 \
             OR reblog_of_id IN (SELECT id FROM statuses WHERE account_id = $1))",
        )
        .bind(target)
        .bind(now)
        .execute(&mut *conn)
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
            sqlx::query(q).bind(target).execute(&mut *conn).await?;
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
        let rows = s.build(&conn).fetch_all(&mut *conn).await?;
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

    /// File a report; every moderator hears of it (`admin.report`, live on her streams).
    pub(super) async fn write_report(&self, r: NewReport) -> Result<ReportRecord> {
        let mut w = self.begin_write().await?;
        let conn: &mut AnyConnection = &mut w.tx;
        let now = crate::domain::now_micros();
        let ids = r
            .status_ids
            .iter()
            .map(|i| i.to_string())
            .collect::<Vec<_>>()
            .join(" ");
        let id: i64 = sqlx::query(
            "INSERT INTO reports (account_id, target_account_id, status_ids, rule_ids, comment, category, \
             forwarded, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) RETURNING id",
        )
        .bind(r.account)
        .bind(r.target)
        .bind(ids)
        .bind(r.rule_ids.join(" "))
        .bind(&r.comment)
        .bind(&r.category)
        .bind(i64::from(r.forward))
        .bind(now)
        .fetch_one(&mut *conn)
        .await?
        .try_get("id")?;
        let report = Self::fetch_report(conn, id)
            .await?
            .ok_or(StoreError::NotFound)?;
        let events = self
            .tell_moderators(
                conn,
                crate::domain::entities::NotificationType::AdminReport,
                &report.account,
                Some(&report),
            )
            .await?;
        Self::insert_events(conn, &events).await?;
        self.commit_write(w, !events.is_empty()).await?;
        Ok(report)
    }

    /// Notify every moderator (not suspended or disabled) of a sign-up or a report.
    pub(super) async fn tell_moderators(
        &self,
        conn: &mut AnyConnection,
        kind: crate::domain::entities::NotificationType,
        from: &AccountRecord,
        report: Option<&ReportRecord>,
    ) -> Result<Vec<NewEvent>> {
        let staff: Vec<AccountId> = sqlx::query(
            "SELECT id FROM accounts WHERE role <> 'user' AND domain IS NULL \
             AND suspended_at IS NULL AND disabled = 0",
        )
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|r| r.try_get("id"))
        .collect::<std::result::Result<_, _>>()?;
        let now = crate::domain::now_micros();
        let mut events = Vec::new();
        for to in staff.into_iter().filter(|s| *s != from.id) {
            let id: i64 = sqlx::query(
                "INSERT INTO notifications (account_id, from_account_id, type, report_id, created_at) \
                 VALUES ($1, $2, $3, $4, $5) RETURNING id",
            )
            .bind(to)
            .bind(from.id)
            .bind(kind.as_str())
            .bind(report.map(|r| r.id))
            .bind(now)
            .fetch_one(&mut *conn)
            .await?
            .try_get("id")?;
            let n = crate::domain::entities::NotificationRecord {
                id,
                kind,
                created_at: now,
                account: from.clone(),
                status: None,
                report: report.map(|r| Box::new(r.clone())),
            };
            events.push(NewEvent::notified(&n, to, &self.site));
        }
        Ok(events)
    }

    pub(super) async fn fetch_report(
        conn: &mut AnyConnection,
        id: i64,
    ) -> Result<Option<ReportRecord>> {
        let row = sqlx::query(
            "SELECT id, account_id, target_account_id, status_ids, rule_ids, comment, category, forwarded, \
             assigned_account_id, action_taken_by_account_id, action_taken_at, created_at, updated_at \
             FROM reports WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
        let Some(r) = row else { return Ok(None) };
        let reporter = Self::fetch_account(conn, r.try_get("account_id")?).await?;
        let target = Self::fetch_account(conn, r.try_get("target_account_id")?).await?;
        let (Some(reporter), Some(target)) = (reporter, target) else {
            return Ok(None);
        };
        let mut assigned = None;
        if let Some(a) = r.try_get::<Option<AccountId>, _>("assigned_account_id")? {
            assigned = Self::fetch_account(conn, a).await?;
        }
        let mut taken_by = None;
        if let Some(a) = r.try_get::<Option<AccountId>, _>("action_taken_by_account_id")? {
            taken_by = Self::fetch_account(conn, a).await?;
        }
        Ok(Some(ReportRecord {
            id,
            account: reporter,
            target,
            status_ids: r
                .try_get::<String, _>("status_ids")?
                .split_whitespace()
                .filter_map(|s| s.parse().ok())
                .map(StatusId::new)
                .collect(),
            rule_ids: r
                .try_get::<String, _>("rule_ids")?
                .split_whitespace()
                .map(str::to_string)
                .collect(),
            comment: r.try_get("comment")?,
            category: r.try_get("category")?,
            forwarded: r.try_get::<i64, _>("forwarded")? != 0,
            assigned,
            action_taken_by: taken_by,
            action_taken_at: r.try_get("action_taken_at")?,
            created_at: r.try_get("created_at")?,
            updated_at: r.try_get("updated_at")?,
        }))
    }

    pub(super) async fn read_reports(&self, q: &ReportQuery) -> Result<Vec<ReportRecord>> {
        let mut s = Sql::new("SELECT id FROM reports WHERE 1 = 1");
        match q.resolved {
            Some(true) => {
                s.push(" AND action_taken_at IS NOT NULL");
            }
            Some(false) => {
                s.push(" AND action_taken_at IS NULL");
            }
            None => {}
        }
        if let Some(a) = q.account_id {
            s.push(" AND account_id = ").int(a);
        }
        if let Some(a) = q.target_account_id {
            s.push(" AND target_account_id = ").int(a);
        }
        if let Some(m) = q.max_id {
            s.push(" AND id < ").int(m);
        }
        if let Some(m) = q.since_id {
            s.push(" AND id > ").int(m);
        }
        let ascending = q.min_id.is_some();
        if let Some(m) = q.min_id {
            s.push(" AND id > ").int(m);
        }
        s.push(if ascending {
            " ORDER BY id ASC LIMIT "
        } else {
            " ORDER BY id DESC LIMIT "
        });
        s.int(q.limit.max(1));
        let mut conn = self.pool.acquire().await?;
        let ids: Vec<i64> = s
            .build(&conn)
            .fetch_all(&mut *conn)
            .await?
            .iter()
            .map(|r| r.try_get("id"))
            .collect::<std::result::Result<_, _>>()?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(r) = Self::fetch_report(&mut conn, id).await? {
                out.push(r);
            }
        }
        if ascending {
            out.reverse();
        }
        Ok(out)
    }

    pub(super) async fn write_report_change(
        &self,
        id: i64,
        change: ReportChange,
        audit: &Audit,
    ) -> Result<ReportRecord> {
        let mut w = self.begin_write().await?;
        let conn: &mut AnyConnection = &mut w.tx;
        let now = crate::domain::now_micros();
        let q = match change {
            ReportChange::AssignTo(a) => {
                sqlx::query("UPDATE reports SET assigned_account_id = $2, updated_at = $3 WHERE id = $1")
                    .bind(id)
                    .bind(Some(a))
            }
            ReportChange::Unassign => sqlx::query(
                "UPDATE reports SET assigned_account_id = $2, updated_at = $3 WHERE id = $1",
            )
            .bind(id)
            .bind(None::<AccountId>),
            ReportChange::Resolve(a) => sqlx::query(
                "UPDATE reports SET action_taken_by_account_id = $2, action_taken_at = $3, updated_at = $3 WHERE id = $1",
            )
            .bind(id)
            .bind(Some(a)),
            ReportChange::Reopen => sqlx::query(
                "UPDATE reports SET action_taken_by_account_id = $2, action_taken_at = NULL, updated_at = $3 WHERE id = $1",
            )
            .bind(id)
            .bind(None::<AccountId>),
        };
        if q.bind(now).execute(&mut *conn).await?.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Self::write_audit(conn, audit).await?;
        let r = Self::fetch_report(conn, id)
            .await?
            .ok_or(StoreError::NotFound)?;
        self.commit_write(w, false).await?;
        Ok(r)
    }

    pub(super) async fn read_domain_blocks(&self, id: Option<i64>) -> Result<Vec<DomainBlock>> {
        let mut s = Sql::new(
            "SELECT id, domain, severity, reject_media, reject_reports, private_comment, public_comment, \
             obfuscate, created_at FROM domain_blocks",
        );
        if let Some(id) = id {
            s.push(" WHERE id = ").int(id);
        }
        s.push(" ORDER BY id DESC");
        let mut conn = self.pool.acquire().await?;
        let rows = s.build(&conn).fetch_all(&mut *conn).await?;
        rows.iter()
            .map(|r| {
                Ok(DomainBlock {
                    id: r.try_get("id")?,
                    domain: r.try_get("domain")?,
                    severity: r.try_get("severity")?,
                    reject_media: r.try_get::<i64, _>("reject_media")? != 0,
                    reject_reports: r.try_get::<i64, _>("reject_reports")? != 0,
                    private_comment: r.try_get("private_comment")?,
                    public_comment: r.try_get("public_comment")?,
                    obfuscate: r.try_get::<i64, _>("obfuscate")? != 0,
                    created_at: r.try_get("created_at")?,
                })
            })
            .collect()
    }

    /// Create (`b.id == 0`) or change a domain block, and apply it to the accounts of
    /// that server: suspended or silenced from the block's time (which is how lifting it
    /// finds exactly those it suspended), with their notices withdrawn from open screens.
    pub(super) async fn write_domain_block(
        &self,
        b: &DomainBlock,
        audit: &Audit,
    ) -> Result<DomainBlock> {
        let mut w = self.begin_write().await?;
        let conn: &mut AnyConnection = &mut w.tx;
        let now = crate::domain::now_micros();
        let id: i64 = if b.id == 0 {
            sqlx::query(
                "INSERT INTO domain_blocks (domain, severity, reject_media, reject_reports, private_comment, \
                 public_comment, obfuscate, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
            )
            .bind(&b.domain)
            .bind(&b.severity)
            .bind(i64::from(b.reject_media))
            .bind(i64::from(b.reject_reports))
            .bind(&b.private_comment)
            .bind(&b.public_comment)
            .bind(i64::from(b.obfuscate))
            .bind(now)
            .fetch_one(&mut *conn)
            .await
            .map_err(super::sql::taken("domain"))?
            .try_get("id")?
        } else {
            let before = Self::domain_block_in(conn, b.id)
                .await?
                .ok_or(StoreError::NotFound)?;
            Self::lift_domain(conn, &before).await?;
            sqlx::query(
                "UPDATE domain_blocks SET severity = $2, reject_media = $3, reject_reports = $4, \
                 private_comment = $5, public_comment = $6, obfuscate = $7 WHERE id = $1",
            )
            .bind(b.id)
            .bind(&b.severity)
            .bind(i64::from(b.reject_media))
            .bind(i64::from(b.reject_reports))
            .bind(&b.private_comment)
            .bind(&b.public_comment)
            .bind(i64::from(b.obfuscate))
            .execute(&mut *conn)
            .await?;
            b.id
        };
        let block = Self::domain_block_in(conn, id)
            .await?
            .ok_or(StoreError::NotFound)?;
        let column = match block.severity.as_str() {
            "suspend" => Some("suspended_at"),
            "silence" => Some("silenced_at"),
            _ => None,
        };
        let mut events = Vec::new();
        if let Some(column) = column {
            let accounts: Vec<AccountId> = sqlx::query(
                "SELECT id FROM accounts WHERE domain = $1 OR domain LIKE $2 ESCAPE '\\'",
            )
            .bind(&block.domain)
            .bind(format!("%.{}", like_escaped(&block.domain)))
            .fetch_all(&mut *conn)
            .await?
            .iter()
            .map(|r| r.try_get("id"))
            .collect::<std::result::Result<_, _>>()?;
            for a in accounts {
                let sql =
                    format!("UPDATE accounts SET {column} = $2 WHERE id = $1 AND {column} IS NULL");
                let changed = sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(a)
                    .bind(block.created_at)
                    .execute(&mut *conn)
                    .await?
                    .rows_affected();
                if changed > 0 {
                    events.extend(Self::withdrawals(conn, a, column == "silenced_at").await?);
                }
            }
        }
        Self::write_audit(conn, audit).await?;
        Self::insert_events(conn, &events).await?;
        self.commit_write(w, !events.is_empty()).await?;
        Ok(block)
    }

    async fn domain_block_in(conn: &mut AnyConnection, id: i64) -> Result<Option<DomainBlock>> {
        let row = sqlx::query(
            "SELECT id, domain, severity, reject_media, reject_reports, private_comment, public_comment, \
             obfuscate, created_at FROM domain_blocks WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
        row.map(|r| {
            Ok(DomainBlock {
                id: r.try_get("id")?,
                domain: r.try_get("domain")?,
                severity: r.try_get("severity")?,
                reject_media: r.try_get::<i64, _>("reject_media")? != 0,
                reject_reports: r.try_get::<i64, _>("reject_reports")? != 0,
                private_comment: r.try_get("private_comment")?,
                public_comment: r.try_get("public_comment")?,
                obfuscate: r.try_get::<i64, _>("obfuscate")? != 0,
                created_at: r.try_get("created_at")?,
            })
        })
        .transpose()
    }

    /// Undo what a block did to its server's accounts (those suspended or silenced at
    /// the block's time, not by a moderator's own act).
    async fn lift_domain(conn: &mut AnyConnection, b: &DomainBlock) -> Result<()> {
        for sql in [
            "UPDATE accounts SET suspended_at = NULL WHERE suspended_at = $3 AND (domain = $1 OR domain LIKE $2 ESCAPE '\\')",
            "UPDATE accounts SET silenced_at = NULL WHERE silenced_at = $3 AND (domain = $1 OR domain LIKE $2 ESCAPE '\\')",
        ] {
            sqlx::query(sql)
                .bind(&b.domain)
                .bind(format!("%.{}", like_escaped(&b.domain)))
                .bind(b.created_at)
                .execute(&mut *conn)
                .await?;
        }
        Ok(())
    }

    pub(super) async fn write_domain_unblock(&self, id: i64, audit: &Audit) -> Result<DomainBlock> {
        let mut w = self.begin_write().await?;
        let conn: &mut AnyConnection = &mut w.tx;
        let b = Self::domain_block_in(conn, id)
            .await?
            .ok_or(StoreError::NotFound)?;
        Self::lift_domain(conn, &b).await?;
        sqlx::query("DELETE FROM domain_blocks WHERE id = $1")
            .bind(id)
            .execute(&mut *conn)
            .await?;
        Self::write_audit(conn, audit).await?;
        self.commit_write(w, false).await?;
        Ok(b)
    }

    /// The block that covers `domain` (itself or a parent domain), if any.
    pub(super) async fn read_domain_block_of(&self, domain: &str) -> Result<Option<DomainBlock>> {
        let blocks = self.read_domain_blocks(None).await?;
        let domain = domain.to_ascii_lowercase();
        Ok(blocks
            .into_iter()
            .filter(|b| crate::domain::moderation::domain_covers(&b.domain, &domain))
            .max_by_key(|b| b.severity == "suspend"))
    }

    pub(super) async fn read_access_rules(
        &self,
        kind: &str,
        id: Option<i64>,
    ) -> Result<Vec<AccessRule>> {
        let mut s = Sql::new(
            "SELECT id, kind, value, severity, comment, expires_at, created_at FROM access_rules WHERE kind = ",
        );
        s.text(kind);
        if let Some(id) = id {
            s.push(" AND id = ").int(id);
        }
        s.push(" ORDER BY id DESC");
        let mut conn = self.pool.acquire().await?;
        let rows = s.build(&conn).fetch_all(&mut *conn).await?;
        rows.iter()
            .map(|r| {
                Ok(AccessRule {
                    id: r.try_get("id")?,
                    kind: r.try_get("kind")?,
                    value: r.try_get("value")?,
                    severity: r.try_get("severity")?,
                    comment: r.try_get("comment")?,
                    expires_at: r.try_get("expires_at")?,
                    created_at: r.try_get("created_at")?,
                })
            })
            .collect()
    }

    pub(super) async fn write_access_rule(
        &self,
        rule: &AccessRule,
        audit: &Audit,
    ) -> Result<AccessRule> {
        let mut w = self.begin_write().await?;
        let conn: &mut AnyConnection = &mut w.tx;
        let id: i64 = sqlx::query(
            "INSERT INTO access_rules (kind, value, severity, comment, expires_at, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(&rule.kind)
        .bind(&rule.value)
        .bind(&rule.severity)
        .bind(&rule.comment)
        .bind(rule.expires_at)
        .bind(crate::domain::now_micros())
        .fetch_one(&mut *conn)
        .await
        .map_err(super::sql::taken(if rule.kind == "ip_block" {
            "ip"
        } else {
            "domain"
        }))?
        .try_get("id")?;
        Self::write_audit(conn, audit).await?;
        self.commit_write(w, false).await?;
        let mut rule = rule.clone();
        rule.id = id;
        Ok(rule)
    }

    pub(super) async fn write_access_rule_removal(
        &self,
        kind: &str,
        id: i64,
        audit: &Audit,
    ) -> Result<()> {
        let mut w = self.begin_write().await?;
        let done = sqlx::query("DELETE FROM access_rules WHERE kind = $1 AND id = $2")
            .bind(kind)
            .bind(id)
            .execute(&mut *w.tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Self::write_audit(&mut w.tx, audit).await?;
        self.commit_write(w, false).await
    }

    pub(super) async fn read_setting(&self, name: &str) -> Result<Option<String>> {
        let row = sqlx::query("SELECT value FROM settings WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.try_get("value")).transpose()?)
    }

    pub(super) async fn write_setting(&self, name: &str, value: &str, audit: &Audit) -> Result<()> {
        let mut w = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO settings (name, value) VALUES ($1, $2) \
             ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        )
        .bind(name)
        .bind(value)
        .execute(&mut *w.tx)
        .await?;
        Self::write_audit(&mut w.tx, audit).await?;
        self.commit_write(w, false).await
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
        let rows = s.build(&conn).fetch_all(&mut *conn).await?;
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
        .execute(&mut *conn)
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
        Self::insert_events(conn, &events).await?;
        self.commit_write(w, !events.is_empty()).await
    }
}

/// `LIKE`'s wildcards taken literally (with `ESCAPE '\'`).
fn like_escaped(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}
