//! Announcements of the administrators: published, changed and withdrawn with the event
//! that tells every open `user` stream, dismissed and reacted to by each account.

use super::sql::SqlStore;
use super::*;
use crate::domain::entities::AnnouncementRecord;
use sqlx::{AnyConnection, Row};

/// A new announcement, or a change to one.
#[derive(Debug, Clone)]
pub struct NewAnnouncement {
    pub text: String,
    pub starts_at: Option<i64>,
    pub ends_at: Option<i64>,
    pub all_day: bool,
}

/// Most distinct emoji one account may put on one announcement (Mastodon's limit).
pub const MAX_REACTIONS_PER_ACCOUNT: i64 = 8;

impl SqlStore {
    pub(super) async fn write_announcement(
        &self,
        a: &NewAnnouncement,
        id: Option<i64>,
    ) -> Result<AnnouncementRecord> {
        let content = crate::domain::text::render_html(&a.text, &self.site.base_url, &|_, _| None);
        let now = crate::domain::now_micros();
        let mut w = self.begin_write().await?;
        let conn: &mut AnyConnection = &mut w.tx;
        let id: i64 = match id {
            None => sqlx::query(
                "INSERT INTO announcements (text, content, starts_at, ends_at, all_day, published_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING id",
            )
            .bind(&a.text)
            .bind(&content)
            .bind(a.starts_at)
            .bind(a.ends_at)
            .bind(i64::from(a.all_day))
            .bind(now)
            .fetch_one(conn.db())
            .await?
            .try_get("id")?,
            Some(id) => {
                let done = sqlx::query(
                    "UPDATE announcements SET text = $2, content = $3, starts_at = $4, ends_at = $5, \
                     all_day = $6, updated_at = $7 WHERE id = $1",
                )
                .bind(id)
                .bind(&a.text)
                .bind(&content)
                .bind(a.starts_at)
                .bind(a.ends_at)
                .bind(i64::from(a.all_day))
                .bind(now)
                .execute(conn.db())
                .await?;
                if done.rows_affected() == 0 {
                    return Err(StoreError::NotFound);
                }
                id
            }
        };
        let record = Self::read_announcements(conn, None, Some(id), true, 0)
            .await?
            .pop()
            .ok_or(StoreError::NotFound)?;
        self.insert_events(conn, &[NewEvent::announced(&record)])
            .await?;
        self.commit_write(w, true).await?;
        Ok(record)
    }

    pub(super) async fn write_unannounce(&self, id: i64) -> Result<bool> {
        let mut w = self.begin_write().await?;
        let conn: &mut AnyConnection = &mut w.tx;
        for delete in [
            "DELETE FROM announcement_reactions WHERE announcement_id = $1",
            "DELETE FROM announcement_dismissals WHERE announcement_id = $1",
        ] {
            sqlx::query(delete).bind(id).execute(conn.db()).await?;
        }
        let gone = sqlx::query("DELETE FROM announcements WHERE id = $1")
            .bind(id)
            .execute(conn.db())
            .await?
            .rows_affected()
            > 0;
        if gone {
            let [announced, reacted] = NewEvent::about_announcement(id);
            sqlx::query(
                "UPDATE events SET payload = '' \
                 WHERE kind IN ('announcement', 'announcement.reaction') \
                 AND ((kind = 'announcement' AND payload LIKE $1) \
                      OR (kind = 'announcement.reaction' AND payload LIKE $2))",
            )
            .bind(announced)
            .bind(reacted)
            .execute(conn.db())
            .await?;
            self.insert_events(conn, &[NewEvent::unannounced(id)])
                .await?;
        }
        self.commit_write(w, gone).await?;
        Ok(gone)
    }

    /// Announcements as `reader` sees them (`None`: as the operator does, all of them):
    /// those in force at `now` (begun, not ended), oldest first, without the ones she
    /// dismissed unless `with_dismissed`. With `only`, that one, whenever it runs.
    pub(super) async fn read_announcements(
        conn: &mut dyn Conn,
        reader: Option<AccountId>,
        only: Option<i64>,
        with_dismissed: bool,
        now: i64,
    ) -> Result<Vec<AnnouncementRecord>> {
        let mut q = super::queries::Sql::new(
            "SELECT a.id AS id, a.content AS content, a.starts_at AS starts_at, a.ends_at AS ends_at, \
             a.all_day AS all_day, a.published_at AS published_at, a.updated_at AS updated_at, ",
        );
        match reader {
            Some(r) => q
                .push("(SELECT COUNT(*) FROM announcement_dismissals d WHERE d.announcement_id = a.id AND d.account_id = ")
                .int(r)
                .push(") AS dismissed"),
            None => q.push("CAST(0 AS BIGINT) AS dismissed"),
        };
        q.push(" FROM announcements a WHERE 1 = 1");
        match only {
            Some(id) => {
                q.push(" AND a.id = ").int(id);
            }
            None if reader.is_some() => {
                q.push(" AND (a.starts_at IS NULL OR a.starts_at <= ")
                    .int(now)
                    .push(") AND (a.ends_at IS NULL OR a.ends_at > ")
                    .int(now)
                    .push(")");
            }
            None => {}
        }
        q.push(" ORDER BY COALESCE(a.starts_at, a.published_at), a.id");
        let rows = q.build(conn).fetch_all(conn.db()).await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let dismissed = r.try_get::<i64, _>("dismissed")? != 0;
            if dismissed && !with_dismissed {
                continue;
            }
            out.push(AnnouncementRecord {
                id: r.try_get("id")?,
                content: r.try_get("content")?,
                starts_at: r.try_get("starts_at")?,
                ends_at: r.try_get("ends_at")?,
                all_day: r.try_get::<i64, _>("all_day")? != 0,
                published_at: r.try_get("published_at")?,
                updated_at: r.try_get("updated_at")?,
                reactions: Vec::new(),
                read: reader.map(|_| dismissed),
            });
        }
        for a in &mut out {
            let rows = sqlx::query(
                "SELECT name, COUNT(*) AS n, MIN(created_at) AS first, \
                 SUM(CASE WHEN account_id = $2 THEN 1 ELSE 0 END) AS mine \
                 FROM announcement_reactions WHERE announcement_id = $1 \
                 GROUP BY name ORDER BY first, name",
            )
            .bind(a.id)
            .bind(reader.map_or(-1, AccountId::get))
            .fetch_all(conn.db())
            .await?;
            for r in rows {
                a.reactions.push((
                    r.try_get("name")?,
                    r.try_get("n")?,
                    r.try_get::<i64, _>("mine")? > 0,
                ));
            }
        }
        Ok(out)
    }

    pub(super) async fn write_dismissal(&self, reader: AccountId, id: i64) -> Result<bool> {
        let mut w = self.begin_write().await?;
        let conn: &mut AnyConnection = &mut w.tx;
        let exists = Self::announcement_exists(conn, id).await?;
        if exists {
            sqlx::query(
                "INSERT INTO announcement_dismissals (announcement_id, account_id) VALUES ($1, $2) \
                 ON CONFLICT DO NOTHING",
            )
            .bind(id)
            .bind(reader)
            .execute(conn.db())
            .await?;
        }
        self.commit_write(w, false).await?;
        Ok(exists)
    }

    /// Add (or take back) `reader`'s emoji `name` on announcement `id`; every stream
    /// learns the new count. Idempotent: a repeat changes nothing and tells no one.
    pub(super) async fn write_reaction(
        &self,
        reader: AccountId,
        id: i64,
        name: &str,
        on: bool,
    ) -> Result<()> {
        let mut w = self.begin_write().await?;
        let conn: &mut AnyConnection = &mut w.tx;
        if !Self::announcement_exists(conn, id).await? {
            return Err(StoreError::NotFound);
        }
        let changed = if on {
            let mine: i64 = sqlx::query(
                "SELECT COUNT(*) AS n FROM announcement_reactions WHERE announcement_id = $1 AND account_id = $2",
            )
            .bind(id)
            .bind(reader)
            .fetch_one(conn.db())
            .await?
            .try_get("n")?;
            let had = sqlx::query(
                "SELECT 1 AS x FROM announcement_reactions WHERE announcement_id = $1 AND account_id = $2 AND name = $3",
            )
            .bind(id)
            .bind(reader)
            .bind(name)
            .fetch_optional(conn.db())
            .await?
            .is_some();
            if !had && mine >= MAX_REACTIONS_PER_ACCOUNT {
                return Err(StoreError::Invalid(format!(
                    "Validation failed: at most {MAX_REACTIONS_PER_ACCOUNT} reactions per announcement"
                )));
            }
            if !had {
                sqlx::query(
                    "INSERT INTO announcement_reactions (announcement_id, account_id, name, created_at) \
                     VALUES ($1, $2, $3, $4)",
                )
                .bind(id)
                .bind(reader)
                .bind(name)
                .bind(crate::domain::now_micros())
                .execute(conn.db())
                .await?;
            }
            !had
        } else {
            sqlx::query(
                "DELETE FROM announcement_reactions WHERE announcement_id = $1 AND account_id = $2 AND name = $3",
            )
            .bind(id)
            .bind(reader)
            .bind(name)
            .execute(conn.db())
            .await?
            .rows_affected()
                > 0
        };
        if changed {
            let count: i64 = sqlx::query(
                "SELECT COUNT(*) AS n FROM announcement_reactions WHERE announcement_id = $1 AND name = $2",
            )
            .bind(id)
            .bind(name)
            .fetch_one(conn.db())
            .await?
            .try_get("n")?;
            self.insert_events(conn, &[NewEvent::reacted(id, name, count)])
                .await?;
        }
        self.commit_write(w, changed).await?;
        Ok(())
    }

    async fn announcement_exists(conn: &mut dyn Conn, id: i64) -> Result<bool> {
        Ok(
            sqlx::query("SELECT 1 AS x FROM announcements WHERE id = $1")
                .bind(id)
                .fetch_optional(conn.db())
                .await?
                .is_some(),
        )
    }

    pub(super) async fn list_announcements(
        &self,
        reader: Option<AccountId>,
        with_dismissed: bool,
    ) -> Result<Vec<AnnouncementRecord>> {
        let mut conn = self.pool.acquire().await?;
        Self::read_announcements(
            &mut conn,
            reader,
            None,
            with_dismissed,
            crate::domain::now_micros(),
        )
        .await
    }
}
