//! Filters: kept per account with their keywords and notices; read whole (an account has
//! few), written a part at a time. Whose a part is, the API checks from the whole.

use super::sql::SqlStore;
use super::*;
use crate::domain::filters::{FilterRecord, KeywordRecord};
use sqlx::Row;

/// Filters per account, and keywords per filter.
pub const MAX_FILTERS: usize = 100;
pub const MAX_KEYWORDS: usize = 100;

impl SqlStore {
    pub(super) async fn read_filters(&self, account: AccountId) -> Result<Vec<FilterRecord>> {
        let mut conn = self.pool.acquire().await?;
        let rows = sqlx::query(
            "SELECT id, title, contexts, action, expires_at FROM filters WHERE account_id = $1 ORDER BY id",
        )
        .bind(account)
        .fetch_all(conn.db())
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let contexts: String = r.try_get("contexts")?;
            out.push(FilterRecord {
                id: r.try_get("id")?,
                title: r.try_get("title")?,
                contexts: contexts.split_whitespace().map(str::to_string).collect(),
                action: r.try_get("action")?,
                expires_at: r.try_get("expires_at")?,
                keywords: Vec::new(),
                statuses: Vec::new(),
            });
        }
        if out.is_empty() {
            return Ok(out);
        }
        for r in sqlx::query(
            "SELECT k.id AS id, k.filter_id AS filter_id, k.keyword AS keyword, k.whole_word AS whole_word \
             FROM filter_keywords k JOIN filters f ON f.id = k.filter_id WHERE f.account_id = $1 ORDER BY k.id",
        )
        .bind(account)
        .fetch_all(conn.db())
        .await?
        {
            let fid: i64 = r.try_get("filter_id")?;
            if let Some(f) = out.iter_mut().find(|f| f.id == fid) {
                f.keywords.push(KeywordRecord {
                    id: r.try_get("id")?,
                    keyword: r.try_get("keyword")?,
                    whole_word: r.try_get::<i64, _>("whole_word")? != 0,
                });
            }
        }
        for r in sqlx::query(
            "SELECT s.id AS id, s.filter_id AS filter_id, s.status_id AS status_id \
             FROM filter_statuses s JOIN filters f ON f.id = s.filter_id WHERE f.account_id = $1 ORDER BY s.id",
        )
        .bind(account)
        .fetch_all(conn.db())
        .await?
        {
            let fid: i64 = r.try_get("filter_id")?;
            if let Some(f) = out.iter_mut().find(|f| f.id == fid) {
                f.statuses.push((r.try_get("id")?, r.try_get("status_id")?));
            }
        }
        Ok(out)
    }

    /// Create (`f.id` 0, with its keywords) or update a filter's own fields; its id.
    pub(super) async fn write_filter(&self, account: AccountId, f: &FilterRecord) -> Result<i64> {
        let mut w = self.begin_write().await?;
        let conn = &mut *w.tx;
        let id = if f.id == 0 {
            let n: i64 = sqlx::query("SELECT COUNT(*) AS n FROM filters WHERE account_id = $1")
                .bind(account)
                .fetch_one(conn.db())
                .await?
                .try_get("n")?;
            if n as usize >= MAX_FILTERS {
                return Err(StoreError::Invalid(format!(
                    "Validation failed: at most {MAX_FILTERS} filters"
                )));
            }
            let id: i64 = sqlx::query(
                "INSERT INTO filters (account_id, title, contexts, action, expires_at, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
            )
            .bind(account)
            .bind(&f.title)
            .bind(f.contexts.join(" "))
            .bind(&f.action)
            .bind(f.expires_at)
            .bind(crate::domain::now_micros())
            .fetch_one(conn.db())
            .await?
            .try_get("id")?;
            for k in &f.keywords {
                sqlx::query("INSERT INTO filter_keywords (filter_id, keyword, whole_word) VALUES ($1, $2, $3)")
                    .bind(id)
                    .bind(&k.keyword)
                    .bind(i64::from(k.whole_word))
                    .execute(conn.db())
                    .await?;
            }
            id
        } else {
            sqlx::query(
                "UPDATE filters SET title = $3, contexts = $4, action = $5, expires_at = $6 \
                 WHERE id = $1 AND account_id = $2",
            )
            .bind(f.id)
            .bind(account)
            .bind(&f.title)
            .bind(f.contexts.join(" "))
            .bind(&f.action)
            .bind(f.expires_at)
            .execute(conn.db())
            .await?;
            f.id
        };
        self.commit_write(w, false).await?;
        Ok(id)
    }

    pub(super) async fn remove_filter(&self, id: i64) -> Result<()> {
        let mut w = self.begin_write().await?;
        for q in [
            "DELETE FROM filter_keywords WHERE filter_id = $1",
            "DELETE FROM filter_statuses WHERE filter_id = $1",
            "DELETE FROM filters WHERE id = $1",
        ] {
            sqlx::query(q).bind(id).execute(&mut *w.tx).await?;
        }
        self.commit_write(w, false).await
    }

    /// Add (`id` 0) or change a keyword of filter `filter`; its id.
    pub(super) async fn write_keyword(&self, filter: i64, k: &KeywordRecord) -> Result<i64> {
        if k.id == 0 {
            let n: i64 =
                sqlx::query("SELECT COUNT(*) AS n FROM filter_keywords WHERE filter_id = $1")
                    .bind(filter)
                    .fetch_one(&self.pool)
                    .await?
                    .try_get("n")?;
            if n as usize >= MAX_KEYWORDS {
                return Err(StoreError::Invalid(format!(
                    "Validation failed: at most {MAX_KEYWORDS} keywords"
                )));
            }
            Ok(sqlx::query(
                "INSERT INTO filter_keywords (filter_id, keyword, whole_word) VALUES ($1, $2, $3) RETURNING id",
            )
            .bind(filter)
            .bind(&k.keyword)
            .bind(i64::from(k.whole_word))
            .fetch_one(&self.pool)
            .await?
            .try_get("id")?)
        } else {
            sqlx::query("UPDATE filter_keywords SET keyword = $2, whole_word = $3 WHERE id = $1")
                .bind(k.id)
                .bind(&k.keyword)
                .bind(i64::from(k.whole_word))
                .execute(&self.pool)
                .await?;
            Ok(k.id)
        }
    }

    pub(super) async fn remove_filter_part(
        &self,
        keyword: Option<i64>,
        status: Option<i64>,
    ) -> Result<()> {
        if let Some(k) = keyword {
            sqlx::query("DELETE FROM filter_keywords WHERE id = $1")
                .bind(k)
                .execute(&self.pool)
                .await?;
        }
        if let Some(s) = status {
            sqlx::query("DELETE FROM filter_statuses WHERE id = $1")
                .bind(s)
                .execute(&self.pool)
                .await?;
        }
        Ok(())
    }

    pub(super) async fn write_filter_status(&self, filter: i64, status: StatusId) -> Result<i64> {
        Ok(sqlx::query(
            "INSERT INTO filter_statuses (filter_id, status_id) VALUES ($1, $2) RETURNING id",
        )
        .bind(filter)
        .bind(status)
        .fetch_one(&self.pool)
        .await?
        .try_get("id")?)
    }
}
