//! Scheduled notices: kept until their time, then claimed by one node and published
//! through the ordinary path (see `crate::scheduler`).

use super::sql::SqlStore;
use super::*;
use sqlx::Row;

/// A notice waiting for its time: what will be posted, as validated when it was
/// scheduled.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ScheduledParams {
    pub text: String,
    pub spoiler_text: String,
    pub sensitive: bool,
    pub visibility: Visibility,
    pub language: Option<String>,
    pub in_reply_to_id: Option<StatusId>,
    #[serde(default)]
    pub poll: Option<super::NewPoll>,
    #[serde(default)]
    pub media_ids: Vec<i64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ScheduledRecord {
    pub id: i64,
    pub account_id: AccountId,
    /// Microseconds since the epoch.
    pub scheduled_at: i64,
    pub params: ScheduledParams,
}

/// Scheduled notices per account, as on Mastodon.
pub const MAX_SCHEDULED: i64 = 300;

fn scheduled_row(r: &sqlx::any::AnyRow) -> Result<ScheduledRecord> {
    let params: String = r.try_get("params")?;
    Ok(ScheduledRecord {
        id: r.try_get("id")?,
        account_id: r.try_get("account_id")?,
        scheduled_at: r.try_get("scheduled_at")?,
        params: serde_json::from_str(&params)
            .map_err(|e| StoreError::Invalid(format!("stored scheduled notice: {e}")))?,
    })
}

impl SqlStore {
    pub(super) async fn write_scheduled(
        &self,
        account: AccountId,
        at: i64,
        params: &ScheduledParams,
    ) -> Result<ScheduledRecord> {
        let mut w = self.begin_write().await?;
        let n: i64 =
            sqlx::query("SELECT COUNT(*) AS n FROM scheduled_statuses WHERE account_id = $1")
                .bind(account)
                .fetch_one(&mut *w.tx)
                .await?
                .try_get("n")?;
        if n >= MAX_SCHEDULED {
            return Err(StoreError::Invalid(format!(
                "Validation failed: at most {MAX_SCHEDULED} scheduled posts"
            )));
        }
        let id: i64 = sqlx::query(
            "INSERT INTO scheduled_statuses (account_id, scheduled_at, params, created_at) \
             VALUES ($1, $2, $3, $4) RETURNING id",
        )
        .bind(account)
        .bind(at)
        .bind(serde_json::to_string(params).unwrap_or_default())
        .bind(crate::domain::now_micros())
        .fetch_one(&mut *w.tx)
        .await?
        .try_get("id")?;
        self.commit_write(w, false).await?;
        Ok(ScheduledRecord {
            id,
            account_id: account,
            scheduled_at: at,
            params: params.clone(),
        })
    }

    pub(super) async fn read_scheduled(
        &self,
        account: AccountId,
        id: Option<i64>,
        page: CursorPage,
    ) -> Result<Vec<ScheduledRecord>> {
        let mut q = super::queries::Sql::new(
            "SELECT id, account_id, scheduled_at, params FROM scheduled_statuses WHERE account_id = ",
        );
        q.int(account);
        if let Some(id) = id {
            q.push(" AND id = ").int(id);
        }
        if let Some(max) = page.max {
            q.push(" AND id < ").int(max);
        }
        if let Some(since) = page.since.or(page.min) {
            q.push(" AND id > ").int(since);
        }
        q.push(" ORDER BY id DESC LIMIT ").int(page.limit.max(1));
        let mut conn = self.pool.acquire().await?;
        q.build(&conn)
            .fetch_all(conn.db())
            .await?
            .iter()
            .map(scheduled_row)
            .collect()
    }

    pub(super) async fn move_scheduled(
        &self,
        account: AccountId,
        id: i64,
        at: i64,
    ) -> Result<bool> {
        let n = sqlx::query(
            "UPDATE scheduled_statuses SET scheduled_at = $3 WHERE id = $1 AND account_id = $2",
        )
        .bind(id)
        .bind(account)
        .bind(at)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(n > 0)
    }

    pub(super) async fn remove_scheduled(
        &self,
        account: Option<AccountId>,
        id: i64,
    ) -> Result<bool> {
        let q = match account {
            Some(a) => {
                sqlx::query("DELETE FROM scheduled_statuses WHERE id = $1 AND account_id = $2")
                    .bind(id)
                    .bind(a)
            }
            None => sqlx::query("DELETE FROM scheduled_statuses WHERE id = $1").bind(id),
        };
        Ok(q.execute(&self.pool).await?.rows_affected() > 0)
    }

    /// Up to `limit` notices due by `now`, not claimed by a node that is still within its
    /// claim; each is claimed here until `until`, by one conditional update per row, so
    /// two nodes never take the same one.
    pub(super) async fn claim_due_rows(
        &self,
        now: i64,
        until: i64,
        limit: i64,
    ) -> Result<Vec<ScheduledRecord>> {
        let due = sqlx::query(
            "SELECT id, account_id, scheduled_at, params FROM scheduled_statuses \
             WHERE scheduled_at <= $1 AND (claimed_until IS NULL OR claimed_until < $1) \
             ORDER BY scheduled_at, id LIMIT $2",
        )
        .bind(now)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        let mut claimed = Vec::with_capacity(due.len());
        for r in &due {
            let s = scheduled_row(r)?;
            let took = sqlx::query(
                "UPDATE scheduled_statuses SET claimed_until = $2 \
                 WHERE id = $1 AND (claimed_until IS NULL OR claimed_until < $3)",
            )
            .bind(s.id)
            .bind(until)
            .bind(now)
            .execute(&self.pool)
            .await?
            .rows_affected();
            if took == 1 {
                claimed.push(s);
            }
        }
        Ok(claimed)
    }
}
