//! Notifications: written in the transaction of what caused them (with the event that
//! carries each one live to its account's streams), undone with it, and read back paged.

use super::queries::{self, Sql, account_columns, status_select};
use super::sql::SqlStore;
use super::*;
use crate::domain::entities::{NotificationRecord, NotificationType};
use sqlx::Row;

/// Which notifications to read, as Mastodon's `types[]`, `exclude_types[]` and paging by
/// notification id.
#[derive(Debug, Clone, Default)]
pub struct NotificationQuery {
    /// Only these (all when empty).
    pub types: Vec<NotificationType>,
    pub exclude: Vec<NotificationType>,
    /// Only those from this account.
    pub from: Option<AccountId>,
    pub max_id: Option<i64>,
    pub since_id: Option<i64>,
    pub min_id: Option<i64>,
    pub limit: i64,
}

impl SqlStore {
    /// Record that `recipient` should hear of something `from` did, and return the event
    /// that tells her live. Nobody is told of what they did themselves.
    pub(super) async fn notify(
        &self,
        conn: &mut dyn Conn,
        recipient: AccountId,
        kind: NotificationType,
        from: &AccountRecord,
        status: Option<&StatusRecord>,
    ) -> Result<Option<NewEvent>> {
        if recipient == from.id {
            return Ok(None);
        }
        self.notify_even_self(conn, recipient, kind, from, status)
            .await
    }

    /// [`SqlStore::notify`], also when she did it herself: her own poll ended.
    pub(super) async fn notify_even_self(
        &self,
        conn: &mut dyn Conn,
        recipient: AccountId,
        kind: NotificationType,
        from: &AccountRecord,
        status: Option<&StatusRecord>,
    ) -> Result<Option<NewEvent>> {
        if recipient != from.id && !Self::hears_from(conn, recipient, from.id).await? {
            return Ok(None);
        }
        let now = crate::domain::now_micros();
        let id: i64 = sqlx::query(
            "INSERT INTO notifications (account_id, from_account_id, type, status_id, created_at) \
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(recipient)
        .bind(from.id)
        .bind(kind.as_str())
        .bind(status.map(|s| s.id))
        .bind(now)
        .fetch_one(conn.db())
        .await?
        .try_get("id")?;
        let n = NotificationRecord {
            id,
            kind,
            created_at: now,
            account: from.clone(),
            status: status.cloned(),
            report: None,
        };
        Ok(Some(NewEvent::notified(&n, recipient, &self.site)))
    }

    /// Take back a notification whose cause was undone (an unfollow, an unfavourite).
    pub(super) async fn unnotify(
        conn: &mut dyn Conn,
        recipient: AccountId,
        kind: NotificationType,
        from: AccountId,
        status: Option<StatusId>,
    ) -> Result<()> {
        sqlx::query(
            "DELETE FROM notifications WHERE account_id = $1 AND type = $2 AND from_account_id = $3 \
             AND (status_id = $4 OR ($4 IS NULL AND status_id IS NULL))",
        )
        .bind(recipient)
        .bind(kind.as_str())
        .bind(from)
        .bind(status)
        .execute(conn.db())
        .await?;
        Ok(())
    }

    pub(super) async fn read_notifications(
        &self,
        account: AccountId,
        q: &NotificationQuery,
        only: Option<i64>,
    ) -> Result<Vec<NotificationRecord>> {
        let mut s = Sql::new(concat!(
            "SELECT n.id AS n_id, n.type AS n_type, n.status_id AS n_status_id, n.created_at AS n_created_at, \
             n.report_id AS n_report_id, ",
            account_columns!("a", "from_"),
            " FROM notifications n JOIN accounts a ON a.id = n.from_account_id WHERE n.account_id = "
        ));
        s.int(account);
        if let Some(id) = only {
            s.push(" AND n.id = ").int(id);
        }
        if !q.types.is_empty() {
            s.push(" AND n.type IN (");
            for (i, t) in q.types.iter().enumerate() {
                if i > 0 {
                    s.push(", ");
                }
                s.text(t.as_str());
            }
            s.push(")");
        }
        // Not from whom she blocked or who blocked her, nor whom she muted with his
        // notifications.
        s.push(" AND n.from_account_id NOT IN (SELECT target_id FROM blocks WHERE account_id = ")
            .int(account)
            .push(" UNION SELECT account_id FROM blocks WHERE target_id = ")
            .int(account)
            .push(" UNION SELECT target_id FROM mutes WHERE notifications = 1 AND account_id = ")
            .int(account)
            .push(" AND (expires_at IS NULL OR expires_at > ")
            .int(crate::domain::now_micros())
            .push("))");
        // Nothing from a suspended account.
        s.push(" AND a.suspended_at IS NULL");
        if let Some(from) = q.from {
            s.push(" AND n.from_account_id = ").int(from);
        }
        for t in &q.exclude {
            s.push(" AND n.type <> ").text(t.as_str());
        }
        if let Some(max) = q.max_id {
            s.push(" AND n.id < ").int(max);
        }
        if let Some(since) = q.since_id {
            s.push(" AND n.id > ").int(since);
        }
        let ascending = q.min_id.is_some();
        if let Some(min) = q.min_id {
            s.push(" AND n.id > ").int(min);
        }
        s.push(if ascending {
            " ORDER BY n.id ASC LIMIT "
        } else {
            " ORDER BY n.id DESC LIMIT "
        });
        s.int(q.limit.max(1));
        let mut conn = self.pool.acquire().await?;
        let rows = s.build(&conn).fetch_all(conn.db()).await?;
        let mut found = Vec::with_capacity(rows.len());
        for r in &rows {
            let kind: String = r.try_get("n_type")?;
            let Some(kind) = NotificationType::parse(&kind) else {
                continue;
            };
            found.push((
                r.try_get::<i64, _>("n_id")?,
                kind,
                r.try_get::<i64, _>("n_created_at")?,
                r.try_get::<Option<StatusId>, _>("n_status_id")?,
                queries::account_from(r)?,
                r.try_get::<Option<i64>, _>("n_report_id")?,
            ));
        }
        if ascending {
            found.reverse();
        }
        // The notices, as the account sees them, in one read; a notification whose
        // notice is gone is gone with it.
        let ids: Vec<StatusId> = found.iter().filter_map(|f| f.3).collect();
        let mut statuses = Vec::new();
        if !ids.is_empty() {
            let mut s = Sql::new(concat!(status_select!(), " WHERE s.id IN ("));
            s.int_list(&ids).push(")");
            let rows = s
                .build(&conn)
                .fetch_all(conn.db())
                .await?
                .iter()
                .map(queries::status_row)
                .collect::<Result<Vec<_>>>()?;
            statuses = Self::complete(&mut conn, rows, Some(account)).await?;
        }
        let mut reports = Vec::new();
        for id in found.iter().filter_map(|f| f.5) {
            if let Some(r) = Self::fetch_report(&mut conn, id).await? {
                reports.push(r);
            }
        }
        Ok(found
            .into_iter()
            .filter_map(|(id, kind, created_at, status_id, from, report_id)| {
                let status = match status_id {
                    Some(sid) => Some(statuses.iter().find(|s| s.id == sid)?.clone()),
                    None => None,
                };
                let report = match report_id {
                    Some(rid) => Some(Box::new(reports.iter().find(|r| r.id == rid)?.clone())),
                    None => None,
                };
                Some(NotificationRecord {
                    id,
                    kind,
                    created_at,
                    account: from,
                    status,
                    report,
                })
            })
            .collect())
    }
}
