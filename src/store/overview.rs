//! What a client reads at start-up and around the edges: counts for the instance,
//! trending tags and notices, and where a reader left off (markers).

use super::queries::{self, Sql, status_select};
use super::sql::SqlStore;
use super::*;
use sqlx::Row;

/// How much of a day one microsecond is.
const DAY_MICROS: i64 = 86_400 * 1_000_000;

/// A tag's use over the last days, newest day first: (day start in seconds, notices, accounts).
#[derive(Debug, Clone)]
pub struct TagTrend {
    pub tag: String,
    pub days: Vec<(i64, i64, i64)>,
}

/// Counts for the instance entities.
#[derive(Debug, Clone, Copy, Default)]
pub struct Stats {
    pub users: i64,
    pub statuses: i64,
    /// Accounts that posted in the last 30 days.
    pub active_month: i64,
}

/// One week of Mastodon's instance activity.
#[derive(Debug, Clone, Default)]
pub struct Activity {
    /// When it begins (microseconds).
    pub week: i64,
    pub statuses: i64,
    pub logins: i64,
    pub registrations: i64,
}

/// Where an account left off in one timeline.
#[derive(Debug, Clone)]
pub struct Marker {
    pub timeline: String,
    pub last_read_id: i64,
    pub version: i64,
    pub updated_at: i64,
}

impl SqlStore {
    pub(super) async fn read_stats(&self, now: i64) -> Result<Stats> {
        let row = sqlx::query(
            // SUM is NUMERIC on Postgres: cast back to what both read as i64.
            "SELECT COUNT(*) AS users, CAST(COALESCE(SUM(statuses_count), 0) AS BIGINT) AS statuses, \
             CAST(COALESCE(SUM(CASE WHEN last_status_at >= $1 THEN 1 ELSE 0 END), 0) AS BIGINT) AS active \
             FROM accounts WHERE domain IS NULL",
        )
        .bind(now - 30 * DAY_MICROS)
        .fetch_one(&self.pool)
        .await?;
        Ok(Stats {
            users: row.try_get("users")?,
            statuses: row.try_get("statuses")?,
            active_month: row.try_get("active")?,
        })
    }

    /// Tags of the last week's public notices, the most widely used (by accounts) first,
    /// with their use per day.
    /// Per week from `first_week` (microseconds; seven-day weeks), how many notices were
    /// posted and are still there, how many accounts signed in (were given a token) and
    /// how many signed up: Mastodon's instance activity.
    pub(super) async fn read_activity(&self, first_week: i64, weeks: i64) -> Result<Vec<Activity>> {
        const WEEK: i64 = 7 * 86_400 * 1_000_000;
        let mut out: Vec<Activity> = (0..weeks)
            .map(|w| Activity {
                week: first_week + w * WEEK,
                ..Default::default()
            })
            .collect();
        let mut conn = self.pool.acquire().await?;
        for (metric, sql) in [
            (
                0,
                "SELECT (created_at - $1) / $2 AS w, COUNT(*) AS n FROM statuses \
                 WHERE created_at >= $1 AND deleted_at IS NULL AND uri IS NULL GROUP BY (created_at - $1) / $2",
            ),
            (
                1,
                "SELECT (created_at - $1) / $2 AS w, COUNT(DISTINCT account_id) AS n FROM tokens \
                 WHERE created_at >= $1 AND account_id IS NOT NULL GROUP BY (created_at - $1) / $2",
            ),
            (
                2,
                "SELECT (created_at - $1) / $2 AS w, COUNT(*) AS n FROM accounts \
                 WHERE created_at >= $1 AND domain IS NULL GROUP BY (created_at - $1) / $2",
            ),
        ] {
            for r in sqlx::query(sql)
                .bind(first_week)
                .bind(WEEK)
                .fetch_all(conn.db())
                .await?
            {
                let (w, n): (i64, i64) = (r.try_get("w")?, r.try_get("n")?);
                if let Some(a) = usize::try_from(w).ok().and_then(|w| out.get_mut(w)) {
                    match metric {
                        0 => a.statuses = n,
                        1 => a.logins = n,
                        _ => a.registrations = n,
                    }
                }
            }
        }
        Ok(out)
    }

    pub(super) async fn read_trending_tags(&self, limit: i64, now: i64) -> Result<Vec<TagTrend>> {
        let today = now - now.rem_euclid(DAY_MICROS);
        let since = today - 6 * DAY_MICROS;
        let rows = sqlx::query(
            "SELECT t.tag AS tag, (s.created_at - $2) / $3 AS day, COUNT(*) AS uses, \
                    COUNT(DISTINCT s.account_id) AS accounts \
             FROM statuses s JOIN status_tags t ON t.status_id = s.id \
             WHERE s.created_at >= $1 AND s.visibility = 'public' AND s.reblog_of_id IS NULL \
               AND s.deleted_at IS NULL \
             GROUP BY 1, 2",
        )
        .bind(since)
        .bind(since)
        .bind(DAY_MICROS)
        .fetch_all(&self.pool)
        .await?;
        let mut trends: Vec<(TagTrend, i64)> = Vec::new();
        for r in rows {
            let tag: String = r.try_get("tag")?;
            let day: i64 = r.try_get("day")?;
            let (uses, accounts): (i64, i64) = (r.try_get("uses")?, r.try_get("accounts")?);
            let at = match trends.iter().position(|t| t.0.tag == tag) {
                Some(i) => i,
                None => {
                    trends.push((
                        TagTrend {
                            tag,
                            days: (0..7)
                                .map(|d| ((today - d * DAY_MICROS) / 1_000_000, 0, 0))
                                .collect(),
                        },
                        0,
                    ));
                    trends.len() - 1
                }
            };
            // `day` counts from the oldest of the seven; the list is newest first.
            if let Some(slot) = trends[at].0.days.get_mut((6 - day).clamp(0, 6) as usize) {
                slot.1 += uses;
                slot.2 += accounts;
            }
            trends[at].1 += accounts;
        }
        trends.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.tag.cmp(&b.0.tag)));
        Ok(trends
            .into_iter()
            .take(limit.max(0) as usize)
            .map(|t| t.0)
            .collect())
    }

    /// The day's most shared and favourited public notices.
    pub(super) async fn read_trending_statuses(
        &self,
        limit: i64,
        offset: i64,
        now: i64,
    ) -> Result<Vec<StatusRecord>> {
        let mut q = Sql::new(concat!(
            status_select!(),
            " WHERE s.visibility = 'public' AND s.reblog_of_id IS NULL AND s.deleted_at IS NULL \
             AND s.created_at >= "
        ));
        q.int(now - DAY_MICROS)
            .push(
                " AND s.reblogs_count + s.favourites_count > 0 \
                   ORDER BY s.reblogs_count + s.favourites_count DESC, s.id DESC LIMIT ",
            )
            .int(limit.max(1))
            .push(" OFFSET ")
            .int(offset.max(0));
        let mut conn = self.pool.acquire().await?;
        let rows = q
            .build(&conn)
            .fetch_all(conn.db())
            .await?
            .iter()
            .map(queries::status_row)
            .collect::<Result<Vec<_>>>()?;
        Self::complete(&mut conn, rows, None).await
    }

    pub(super) async fn read_markers(&self, account: AccountId) -> Result<Vec<Marker>> {
        let rows = sqlx::query(
            "SELECT timeline, last_read_id, version, updated_at FROM markers WHERE account_id = $1",
        )
        .bind(account)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Marker {
                    timeline: r.try_get("timeline")?,
                    last_read_id: r.try_get("last_read_id")?,
                    version: r.try_get("version")?,
                    updated_at: r.try_get("updated_at")?,
                })
            })
            .collect()
    }

    pub(super) async fn write_marker(
        &self,
        account: AccountId,
        timeline: &str,
        last_read_id: i64,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO markers (account_id, timeline, last_read_id, version, updated_at) \
             VALUES ($1, $2, $3, 1, $4) \
             ON CONFLICT (account_id, timeline) DO UPDATE SET last_read_id = $3, \
             version = markers.version + 1, updated_at = $4",
        )
        .bind(account)
        .bind(timeline)
        .bind(last_read_id)
        .bind(crate::domain::now_micros())
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
