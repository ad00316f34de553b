//! Reports: filed with the notification that tells every moderator live, read, and
//! worked (assigned, resolved, reopened) with their audit lines.

use super::moderation::Audit;
use super::queries::Sql;
use super::sql::SqlStore;
use super::*;
use crate::domain::moderation::ReportRecord;
use sqlx::{AnyConnection, Row};

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
        .fetch_one(conn.db())
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
        self.insert_events(conn, &events).await?;
        self.commit_write(w, !events.is_empty()).await?;
        Ok(report)
    }

    /// Notify every moderator (not suspended or disabled) of a sign-up or a report.
    pub(super) async fn tell_moderators(
        &self,
        conn: &mut dyn Conn,
        kind: crate::domain::entities::NotificationType,
        from: &AccountRecord,
        report: Option<&ReportRecord>,
    ) -> Result<Vec<NewEvent>> {
        let staff: Vec<AccountId> = sqlx::query(
            "SELECT id FROM accounts WHERE role <> 'user' AND domain IS NULL \
             AND suspended_at IS NULL AND disabled = 0",
        )
        .fetch_all(conn.db())
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
            .fetch_one(conn.db())
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

    pub(super) async fn fetch_report(conn: &mut dyn Conn, id: i64) -> Result<Option<ReportRecord>> {
        let row = sqlx::query(
            "SELECT id, account_id, target_account_id, status_ids, rule_ids, comment, category, forwarded, \
             assigned_account_id, action_taken_by_account_id, action_taken_at, created_at, updated_at \
             FROM reports WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(conn.db())
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
            .fetch_all(conn.db())
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
        if q.bind(now).execute(conn.db()).await?.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Self::write_audit(conn, audit).await?;
        let r = Self::fetch_report(conn, id)
            .await?
            .ok_or(StoreError::NotFound)?;
        self.commit_write(w, false).await?;
        Ok(r)
    }
}
