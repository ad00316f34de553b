//! Polls: written with their notice, read with it (one query for a page's polls, one
//! for their options, one for the viewer's votes), and voted on. A vote changes the
//! counts every reader sees, so it writes a `status.update` event with the notice as it
//! now stands.

use super::queries::Sql;
use super::sql::SqlStore;
use super::*;
use crate::domain::entities::{NotificationType, PollRecord};
use sqlx::{AnyConnection, Row};

/// A poll to be written with its notice.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct NewPoll {
    pub options: Vec<String>,
    /// Seconds from posting.
    pub expires_in: i64,
    pub multiple: bool,
    pub hide_totals: bool,
}

impl SqlStore {
    /// Write `poll` for notice `status` and point the notice at it.
    pub(super) async fn insert_poll(
        conn: &mut dyn Conn,
        status: StatusId,
        poll: &NewPoll,
        now: i64,
    ) -> Result<()> {
        let id: i64 = sqlx::query(
            "INSERT INTO polls (status_id, expires_at, multiple, hide_totals, created_at) \
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(status)
        .bind(now + poll.expires_in * 1_000_000)
        .bind(i64::from(poll.multiple))
        .bind(i64::from(poll.hide_totals))
        .bind(now)
        .fetch_one(conn.db())
        .await?
        .try_get("id")?;
        let rows: Vec<(i64, &str)> = poll
            .options
            .iter()
            .enumerate()
            .map(|(i, t)| (i as i64, t.as_str()))
            .collect();
        Self::insert_rows(
            conn,
            "INSERT INTO poll_options (poll_id, idx, title) VALUES ",
            &rows,
            |q, (i, t)| {
                q.int(id).push(", ").int(*i).push(", ").text(t);
            },
        )
        .await?;
        sqlx::query("UPDATE statuses SET poll_id = $2 WHERE id = $1")
            .bind(status)
            .bind(id)
            .execute(conn.db())
            .await?;
        Ok(())
    }

    /// Fill in the polls of `list` (and of the notices they reblog), with `viewer`'s
    /// votes when there is a viewer.
    pub(super) async fn attach_polls(
        conn: &mut dyn Conn,
        list: &mut [StatusRecord],
        viewer: Option<AccountId>,
    ) -> Result<()> {
        let mut ids: Vec<i64> = Vec::new();
        for s in list.iter() {
            ids.extend(s.poll.as_ref().map(|p| p.id));
            ids.extend(
                s.reblog
                    .as_ref()
                    .and_then(|r| r.poll.as_ref())
                    .map(|p| p.id),
            );
        }
        if ids.is_empty() {
            return Ok(());
        }
        let mut loaded: Vec<PollRecord> = Vec::new();
        let mut q = Sql::new(
            "SELECT id, expires_at, multiple, hide_totals, votes_count, voters_count FROM polls WHERE id IN (",
        );
        q.int_list(&ids).push(")");
        for r in q.build(conn).fetch_all(conn.db()).await? {
            loaded.push(PollRecord {
                id: r.try_get("id")?,
                expires_at: r.try_get("expires_at")?,
                multiple: r.try_get::<i64, _>("multiple")? != 0,
                hide_totals: r.try_get::<i64, _>("hide_totals")? != 0,
                options: Vec::new(),
                votes_count: r.try_get("votes_count")?,
                voters_count: r.try_get("voters_count")?,
                own_votes: viewer.map(|_| Vec::new()),
            });
        }
        let mut q =
            Sql::new("SELECT poll_id, title, votes_count FROM poll_options WHERE poll_id IN (");
        q.int_list(&ids).push(") ORDER BY poll_id, idx");
        for r in q.build(conn).fetch_all(conn.db()).await? {
            let pid: i64 = r.try_get("poll_id")?;
            if let Some(p) = loaded.iter_mut().find(|p| p.id == pid) {
                p.options
                    .push((r.try_get("title")?, r.try_get("votes_count")?));
            }
        }
        if let Some(v) = viewer {
            let mut q = Sql::new("SELECT poll_id, choice FROM poll_votes WHERE account_id = ");
            q.int(v)
                .push(" AND poll_id IN (")
                .int_list(&ids)
                .push(") ORDER BY choice");
            for r in q.build(conn).fetch_all(conn.db()).await? {
                let pid: i64 = r.try_get("poll_id")?;
                let choice: i64 = r.try_get("choice")?;
                if let Some(p) = loaded.iter_mut().find(|p| p.id == pid) {
                    p.own_votes.get_or_insert_with(Vec::new).push(choice as u32);
                }
            }
        }
        let fill = |slot: &mut Option<PollRecord>| {
            if let Some(p) = slot.as_mut()
                && let Some(l) = loaded.iter().find(|l| l.id == p.id)
            {
                *p = l.clone();
            }
        };
        for s in list.iter_mut() {
            fill(&mut s.poll);
            if let Some(r) = s.reblog.as_mut() {
                fill(&mut r.poll);
            }
        }
        Ok(())
    }

    /// `account` votes `choices` in poll `poll`; the notice as she now sees it.
    pub(super) async fn write_vote(
        &self,
        poll: i64,
        account: AccountId,
        choices: &[u32],
    ) -> Result<StatusRecord> {
        let mut w = self.begin_write().await?;
        let conn: &mut AnyConnection = &mut w.tx;
        let row = sqlx::query("SELECT status_id, expires_at, multiple FROM polls WHERE id = $1")
            .bind(poll)
            .fetch_optional(conn.db())
            .await?
            .ok_or(StoreError::NotFound)?;
        let status: StatusId = row.try_get("status_id")?;
        let now = crate::domain::now_micros();
        if now >= row.try_get::<i64, _>("expires_at")? {
            return Err(StoreError::Invalid(
                "Validation failed: The poll has already ended".into(),
            ));
        }
        let multiple = row.try_get::<i64, _>("multiple")? != 0;
        let options: i64 = sqlx::query("SELECT COUNT(*) AS n FROM poll_options WHERE poll_id = $1")
            .bind(poll)
            .fetch_one(conn.db())
            .await?
            .try_get("n")?;
        let mut choices = choices.to_vec();
        choices.sort_unstable();
        choices.dedup();
        if choices.is_empty()
            || (!multiple && choices.len() > 1)
            || choices.iter().any(|c| i64::from(*c) >= options)
        {
            return Err(StoreError::Invalid(
                "Validation failed: choices are not options of this poll".into(),
            ));
        }
        let voted =
            sqlx::query("SELECT 1 AS x FROM poll_votes WHERE poll_id = $1 AND account_id = $2")
                .bind(poll)
                .bind(account)
                .fetch_optional(conn.db())
                .await?;
        if voted.is_some() {
            return Err(StoreError::Invalid(
                "Validation failed: You have already voted on this poll".into(),
            ));
        }
        for c in &choices {
            sqlx::query(
                "INSERT INTO poll_votes (poll_id, account_id, choice, created_at) VALUES ($1, $2, $3, $4)",
            )
            .bind(poll)
            .bind(account)
            .bind(i64::from(*c))
            .bind(now)
            .execute(conn.db())
            .await?;
            sqlx::query(
                "UPDATE poll_options SET votes_count = votes_count + 1 WHERE poll_id = $1 AND idx = $2",
            )
            .bind(poll)
            .bind(i64::from(*c))
            .execute(conn.db())
            .await?;
        }
        sqlx::query(
            "UPDATE polls SET votes_count = votes_count + $2, voters_count = voters_count + 1 WHERE id = $1",
        )
        .bind(poll)
        .bind(choices.len() as i64)
        .execute(conn.db())
        .await?;
        // Everyone reading the notice sees the new counts.
        let s = Self::fetch_status(conn, status, None)
            .await?
            .ok_or(StoreError::NotFound)?;
        let reach = Self::reach(conn, &s).await?;
        self.insert_event(conn, NewEvent::edited(&s, &s, &reach, &self.site))
            .await?;
        let mine = Self::fetch_status(conn, status, Some(account))
            .await?
            .ok_or(StoreError::NotFound)?;
        self.commit_write(w, true).await?;
        Ok(mine)
    }

    /// A poll and its notice, as `viewer` sees them.
    pub(super) async fn read_poll(
        &self,
        poll: i64,
        viewer: Option<AccountId>,
    ) -> Result<Option<StatusRecord>> {
        let mut conn = self.pool.acquire().await?;
        let row = sqlx::query("SELECT status_id FROM polls WHERE id = $1")
            .bind(poll)
            .fetch_optional(conn.db())
            .await?;
        let Some(row) = row else { return Ok(None) };
        Self::fetch_status(&mut conn, row.try_get("status_id")?, viewer).await
    }

    /// Tell each poll's voters and its author that it ended (see
    /// [`Store::tell_ended_polls`]). A poll is marked told by a conditional update, so of
    /// two nodes at it only one tells; a poll whose notice is gone is marked and told
    /// to no one.
    pub(super) async fn write_ended_polls(&self, now: i64, limit: i64) -> Result<usize> {
        let mut w = self.begin_write_leaving_tokens().await?;
        let conn: &mut AnyConnection = &mut w.tx;
        let due: Vec<(i64, StatusId)> = sqlx::query(
            "SELECT id, status_id FROM polls WHERE ended_told = 0 AND expires_at <= $1 \
             ORDER BY expires_at LIMIT $2",
        )
        .bind(now)
        .bind(limit)
        .fetch_all(conn.db())
        .await?
        .iter()
        .map(|r| Ok((r.try_get("id")?, r.try_get("status_id")?)))
        .collect::<Result<_>>()?;
        let mut events = Vec::new();
        let mut told = 0;
        for (poll, status) in due {
            let mine =
                sqlx::query("UPDATE polls SET ended_told = 1 WHERE id = $1 AND ended_told = 0")
                    .bind(poll)
                    .execute(conn.db())
                    .await?
                    .rows_affected();
            if mine == 0 {
                continue;
            }
            told += 1;
            let Some(s) = Self::fetch_status(conn, status, None).await? else {
                continue;
            };
            let voters: Vec<AccountId> =
                sqlx::query("SELECT DISTINCT account_id FROM poll_votes WHERE poll_id = $1")
                    .bind(poll)
                    .fetch_all(conn.db())
                    .await?
                    .iter()
                    .map(|r| r.try_get("account_id"))
                    .collect::<std::result::Result<_, _>>()?;
            for who in voters
                .into_iter()
                .filter(|v| *v != s.account.id)
                .chain(std::iter::once(s.account.id))
            {
                let e = self
                    .notify_even_self(conn, who, NotificationType::Poll, &s.account, Some(&s))
                    .await?;
                events.extend(e);
            }
        }
        self.insert_events(conn, &events).await?;
        self.commit_write(w, !events.is_empty()).await?;
        Ok(told)
    }
}
