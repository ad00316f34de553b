//! Live events (see `crate::domain::live`): the events, their tags and people, and the
//! place of each notice in them. Every change that readers see writes its stream event
//! in the same transaction.

use super::queries::{self, Sql};
use super::sql::SqlStore;
use super::*;
use crate::domain::live::{
    KeyEventRecord, LiveEventRecord, LiveNews, LivePlace, LiveRole, LiveState, MAX_PINNED,
};
use sqlx::{AnyConnection, Row, any::AnyRow};

/// What an editor does to a notice of an event.
#[derive(Debug, Clone, PartialEq)]
pub enum Curation {
    /// Into the curated feed (an open contribution, or any notice tagged for it).
    Feature,
    /// Out of the event, the notice itself untouched.
    Remove,
    Pin(bool),
    /// Mark as a key event with this label, or (`None`) unmark.
    Key(Option<String>),
}

/// Which of an event's notices a timeline shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LivePart {
    Curated,
    Pinned,
    /// Curated notices marked as key events.
    Keyed,
    Open,
}

const EVENT_SELECT: &str = "SELECT e.id, e.slug, e.title, e.description, e.state, \
     e.starts_at, e.ends_at, e.created_by, e.created_at, e.updated_at FROM live_events e";

fn event_row(r: &AnyRow) -> Result<LiveEventRecord> {
    let state: String = r.try_get("state")?;
    Ok(LiveEventRecord {
        id: r.try_get("id")?,
        slug: r.try_get("slug")?,
        title: r.try_get("title")?,
        description: r.try_get("description")?,
        state: LiveState::parse(&state)
            .ok_or_else(|| StoreError::Invalid(format!("stored event state {state:?}")))?,
        starts_at: r.try_get("starts_at")?,
        ends_at: r.try_get("ends_at")?,
        tags: Vec::new(),
        created_by: r.try_get("created_by")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

impl SqlStore {
    /// Fill in the events' tags (one query for all of them).
    async fn with_tags(
        conn: &mut dyn Conn,
        mut events: Vec<LiveEventRecord>,
    ) -> Result<Vec<LiveEventRecord>> {
        if events.is_empty() {
            return Ok(events);
        }
        let ids: Vec<i64> = events.iter().map(|e| e.id).collect();
        let mut q = Sql::new("SELECT event_id, tag FROM live_event_tags WHERE event_id IN (");
        q.int_list(&ids);
        q.push(") ORDER BY tag");
        for r in q.build(conn).fetch_all(conn.db()).await? {
            let id: i64 = r.try_get("event_id")?;
            if let Some(e) = events.iter_mut().find(|e| e.id == id) {
                e.tags.push(r.try_get("tag")?);
            }
        }
        Ok(events)
    }

    pub(super) async fn read_live_event(&self, slug: &str) -> Result<Option<LiveEventRecord>> {
        let mut conn = self.pool.acquire().await?;
        Self::live_event_in(&mut conn, slug).await
    }

    async fn live_event_in(conn: &mut dyn Conn, slug: &str) -> Result<Option<LiveEventRecord>> {
        let row = sqlx::query(concat!(
            "SELECT e.id, e.slug, e.title, e.description, e.state, e.starts_at, e.ends_at, ",
            "e.created_by, e.created_at, e.updated_at FROM live_events e WHERE e.slug = $1"
        ))
        .bind(slug)
        .fetch_optional(conn.db())
        .await?;
        let Some(row) = row else { return Ok(None) };
        Ok(Self::with_tags(conn, vec![event_row(&row)?]).await?.pop())
    }

    pub(super) async fn read_live_events(
        &self,
        state: Option<LiveState>,
        q: Option<&str>,
        max_id: Option<i64>,
        limit: i64,
    ) -> Result<Vec<LiveEventRecord>> {
        let mut conn = self.pool.acquire().await?;
        let mut sql = Sql::new(EVENT_SELECT);
        sql.push(" WHERE 1 = 1");
        if let Some(s) = state {
            sql.push(" AND e.state = ");
            sql.text(s.as_str());
        }
        if let Some(q) = q.map(str::to_lowercase).filter(|q| !q.is_empty()) {
            // Title words, as people remember them ("election"); `%` and `_` are literal.
            let pattern = format!(
                "%{}%",
                q.replace('\\', "\\\\")
                    .replace('%', "\\%")
                    .replace('_', "\\_")
            );
            sql.push(" AND (LOWER(e.title) LIKE ");
            sql.text(&pattern);
            sql.push(" ESCAPE '\\' OR e.slug LIKE ");
            sql.text(&pattern);
            sql.push(" ESCAPE '\\')");
        }
        if let Some(max) = max_id {
            sql.push(" AND e.id < ");
            sql.int(max);
        }
        sql.push(" ORDER BY e.id DESC LIMIT ");
        sql.int(limit);
        let rows = sql.build(&conn).fetch_all(conn.db()).await?;
        let events = rows.iter().map(event_row).collect::<Result<Vec<_>>>()?;
        Self::with_tags(&mut conn, events).await
    }

    /// Create (`create`: the creator becomes its first editor) or update an event and
    /// its tags; its readers hear of the change.
    pub(super) async fn write_live_event(
        &self,
        e: &LiveEventRecord,
        create: bool,
    ) -> Result<LiveEventRecord> {
        let mut w = self.begin_write().await?;
        let conn: &mut AnyConnection = &mut w.tx;
        let now = crate::domain::now_micros();
        let id: i64 = if create {
            let id: i64 = sqlx::query(
                "INSERT INTO live_events (slug, title, description, state, starts_at, ends_at, \
                 created_by, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) RETURNING id",
            )
            .bind(&e.slug)
            .bind(&e.title)
            .bind(&e.description)
            .bind(e.state.as_str())
            .bind(e.starts_at)
            .bind(e.ends_at)
            .bind(e.created_by)
            .bind(now)
            .fetch_one(conn.db())
            .await
            .map_err(super::sql::taken("slug"))?
            .try_get("id")?;
            sqlx::query(
                "INSERT INTO live_event_members (event_id, account_id, role) VALUES ($1, $2, 'editor')",
            )
            .bind(id)
            .bind(e.created_by)
            .execute(conn.db())
            .await?;
            id
        } else {
            // The state moves only forward, checked against the row as it is now (two
            // editors at once cannot move an ended event back).
            let mut q = Sql::new("UPDATE live_events SET title = ");
            q.text(&e.title);
            q.push(", description = ");
            q.text(&e.description);
            q.push(", state = ");
            q.text(e.state.as_str());
            q.push(", starts_at = ");
            q.opt_int(e.starts_at);
            q.push(", ends_at = ");
            q.opt_int(e.ends_at);
            q.push(", updated_at = ");
            q.int(now);
            q.push(" WHERE id = ");
            q.int(e.id);
            q.push(" AND state IN (");
            for (i, from) in e.state.reached_from().iter().enumerate() {
                if i > 0 {
                    q.push(", ");
                }
                q.text(from.as_str());
            }
            q.push(")");
            let changed = q.build(conn).execute(conn.db()).await?.rows_affected();
            if changed == 0 {
                return Err(StoreError::Invalid(format!(
                    "Validation failed: the event cannot become {} now",
                    e.state.as_str()
                )));
            }
            sqlx::query("DELETE FROM live_event_tags WHERE event_id = $1")
                .bind(e.id)
                .execute(conn.db())
                .await?;
            e.id
        };
        for t in &e.tags {
            sqlx::query(
                "INSERT INTO live_event_tags (event_id, tag) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            )
            .bind(id)
            .bind(t)
            .execute(conn.db())
            .await?;
        }
        let saved = Self::live_event_in(conn, &e.slug)
            .await?
            .ok_or(StoreError::NotFound)?;
        let news = [LiveNews::changed(&saved, &self.site)];
        self.insert_events(conn, &news).await?;
        self.commit_write(w, true).await?;
        Ok(saved)
    }

    /// Delete an event: its feed, tags and people go; the notices stay. Its own events
    /// (`event.*`) are blanked from the log, so that a later event of the same slug does
    /// not replay them; its notices' events are left out by the replay's check that a
    /// notice is in the feed.
    pub(super) async fn remove_live_event(&self, e: &LiveEventRecord) -> Result<()> {
        let mut w = self.begin_write().await?;
        let conn: &mut AnyConnection = &mut w.tx;
        for table in [
            "DELETE FROM live_event_statuses WHERE event_id = $1",
            "DELETE FROM live_event_members WHERE event_id = $1",
            "DELETE FROM live_event_tags WHERE event_id = $1",
            "DELETE FROM live_events WHERE id = $1",
        ] {
            sqlx::query(table).bind(e.id).execute(conn.db()).await?;
        }
        sqlx::query(
            "UPDATE events SET payload = '', streams = '' WHERE kind LIKE 'event.%' \
             AND id IN (SELECT event_id FROM event_streams WHERE stream = $1)",
        )
        .bind(e.stream())
        .execute(conn.db())
        .await?;
        self.commit_write(w, false).await?;
        Ok(())
    }

    pub(super) async fn read_live_members(
        &self,
        event: i64,
    ) -> Result<Vec<(AccountRecord, LiveRole)>> {
        let rows = sqlx::query(concat!(
            "SELECT m.role AS live_role, ",
            queries::account_columns!("a", ""),
            " FROM live_event_members m JOIN accounts a ON a.id = m.account_id \
             WHERE m.event_id = $1 AND a.suspended_at IS NULL ORDER BY a.id"
        ))
        .bind(event)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let role: String = r.try_get("live_role")?;
                Ok((
                    queries::account_row(r)?,
                    LiveRole::parse(&role).unwrap_or(LiveRole::Contributor),
                ))
            })
            .collect()
    }

    pub(super) async fn read_live_role(
        &self,
        event: i64,
        account: AccountId,
    ) -> Result<Option<LiveRole>> {
        let row = sqlx::query(
            "SELECT role FROM live_event_members WHERE event_id = $1 AND account_id = $2",
        )
        .bind(event)
        .bind(account)
        .fetch_optional(&self.pool)
        .await?;
        Ok(match row {
            Some(r) => LiveRole::parse(&r.try_get::<String, _>("role")?),
            None => None,
        })
    }

    /// Give `accounts` the role (`Some`), or take theirs away. An event keeps at least
    /// one editor.
    pub(super) async fn write_live_members(
        &self,
        event: i64,
        accounts: &[AccountId],
        role: LiveRole,
        on: bool,
    ) -> Result<()> {
        let mut w = self.begin_write().await?;
        let conn: &mut AnyConnection = &mut w.tx;
        for a in accounts {
            if on {
                // An editor made a contributor stays an editor (editors contribute too); a
                // contributor made an editor is promoted.
                sqlx::query(
                    "INSERT INTO live_event_members (event_id, account_id, role) VALUES ($1, $2, $3) \
                     ON CONFLICT (event_id, account_id) DO UPDATE SET role = $3 \
                     WHERE live_event_members.role = 'contributor'",
                )
                .bind(event)
                .bind(a)
                .bind(role.as_str())
                .execute(conn.db())
                .await?;
            } else {
                sqlx::query(
                    "DELETE FROM live_event_members WHERE event_id = $1 AND account_id = $2 AND role = $3",
                )
                .bind(event)
                .bind(a)
                .bind(role.as_str())
                .execute(conn.db())
                .await?;
            }
        }
        let counts = sqlx::query(
            "SELECT COUNT(*) AS n, SUM(CASE WHEN role = 'editor' THEN 1 ELSE 0 END) AS editors \
             FROM live_event_members WHERE event_id = $1",
        )
        .bind(event)
        .fetch_one(conn.db())
        .await?;
        let n: i64 = counts.try_get("n")?;
        let editors: Option<i64> = counts.try_get("editors")?;
        if editors.unwrap_or(0) == 0 {
            return Err(StoreError::Invalid(
                "Validation failed: an event keeps at least one editor".into(),
            ));
        }
        if n > crate::domain::live::MAX_MEMBERS as i64 {
            return Err(StoreError::Invalid(format!(
                "Validation failed: at most {} contributors and editors",
                crate::domain::live::MAX_MEMBERS
            )));
        }
        self.commit_write(w, false).await?;
        Ok(())
    }

    /// Where a notice stands in an event, if it is in it.
    async fn live_place(
        conn: &mut dyn Conn,
        event: i64,
        status: StatusId,
    ) -> Result<Option<(LivePlace, bool, bool)>> {
        let row = sqlx::query(
            "SELECT state, pinned_at, key_label FROM live_event_statuses \
             WHERE event_id = $1 AND status_id = $2",
        )
        .bind(event)
        .bind(status)
        .fetch_optional(conn.db())
        .await?;
        let Some(r) = row else { return Ok(None) };
        let state: String = r.try_get("state")?;
        Ok(Some((
            LivePlace::parse(&state).unwrap_or(LivePlace::Removed),
            r.try_get::<Option<i64>, _>("pinned_at")?.is_some(),
            r.try_get::<Option<String>, _>("key_label")?.is_some(),
        )))
    }

    /// An editor's change to a notice of the event, with what its readers hear.
    pub(super) async fn write_curation(
        &self,
        e: &LiveEventRecord,
        status: StatusId,
        change: Curation,
    ) -> Result<StatusRecord> {
        let mut w = self.begin_write().await?;
        let conn: &mut AnyConnection = &mut w.tx;
        // Only public and unlisted notices exist here: an editor learns nothing of others.
        let s = Self::fetch_status(conn, status, None)
            .await?
            .filter(|s| {
                matches!(
                    s.visibility,
                    crate::domain::entities::Visibility::Public
                        | crate::domain::entities::Visibility::Unlisted
                )
            })
            .ok_or(StoreError::NotFound)?;
        let place = Self::live_place(conn, e.id, status).await?;
        let curated = matches!(place, Some((LivePlace::Curated, _, _)));
        let now = crate::domain::now_micros();
        let mut news = Vec::new();
        match change {
            Curation::Feature => {
                let tagged = s.visibility == crate::domain::entities::Visibility::Public
                    && s.reblog.is_none()
                    && s.tags.iter().any(|t| e.tags.contains(t));
                if !tagged {
                    return Err(StoreError::Invalid(
                        "Validation failed: the notice is not a public notice tagged for this event"
                            .into(),
                    ));
                }
                if s.account.standing.limited() {
                    return Err(StoreError::Invalid(
                        "Validation failed: its author is silenced here".into(),
                    ));
                }
                if !curated {
                    sqlx::query(
                        "INSERT INTO live_event_statuses (event_id, status_id, state, added_at) \
                         VALUES ($1, $2, 'curated', $3) \
                         ON CONFLICT (event_id, status_id) DO UPDATE SET state = 'curated'",
                    )
                    .bind(e.id)
                    .bind(status)
                    .bind(now)
                    .execute(conn.db())
                    .await?;
                    news.push(LiveNews::featured(&e.slug, &s, &self.site));
                }
            }
            Curation::Remove => {
                if place.is_none() {
                    return Err(StoreError::NotFound);
                }
                let (_, pinned, keyed) = place.expect("checked");
                sqlx::query(
                    "UPDATE live_event_statuses SET state = 'removed', pinned_at = NULL, \
                     key_label = NULL, keyed_at = NULL WHERE event_id = $1 AND status_id = $2",
                )
                .bind(e.id)
                .bind(status)
                .execute(conn.db())
                .await?;
                if curated {
                    if pinned {
                        news.push(LiveNews::pinned(&e.slug, &s, false));
                    }
                    if keyed {
                        news.push(LiveNews::keyed(&e.slug, &s, None));
                    }
                    news.push(LiveNews::removed(&e.slug, &s));
                }
            }
            Curation::Pin(on) => {
                let Some((_, pinned, _)) = place.filter(|_| curated) else {
                    return Err(StoreError::Invalid(
                        "Validation failed: only notices in the event's feed can be pinned".into(),
                    ));
                };
                if on && !pinned {
                    let n: i64 = sqlx::query(
                        "SELECT COUNT(*) AS n FROM live_event_statuses les \
                         JOIN statuses s ON s.id = les.status_id \
                         JOIN accounts a ON a.id = s.account_id \
                         WHERE les.event_id = $1 AND les.pinned_at IS NOT NULL \
                         AND s.deleted_at IS NULL AND a.suspended_at IS NULL",
                    )
                    .bind(e.id)
                    .fetch_one(conn.db())
                    .await?
                    .try_get("n")?;
                    if n >= MAX_PINNED as i64 {
                        return Err(StoreError::Invalid(format!(
                            "Validation failed: at most {MAX_PINNED} notices are pinned at once"
                        )));
                    }
                }
                if on != pinned {
                    sqlx::query(
                        "UPDATE live_event_statuses SET pinned_at = $3 \
                         WHERE event_id = $1 AND status_id = $2",
                    )
                    .bind(e.id)
                    .bind(status)
                    .bind(on.then_some(now))
                    .execute(conn.db())
                    .await?;
                    news.push(LiveNews::pinned(&e.slug, &s, on));
                }
            }
            Curation::Key(label) => {
                let Some((_, _, keyed)) = place.filter(|_| curated) else {
                    return Err(StoreError::Invalid(
                        "Validation failed: only notices in the event's feed can be key events"
                            .into(),
                    ));
                };
                if label.is_some() || keyed {
                    sqlx::query(
                        "UPDATE live_event_statuses SET key_label = $3, keyed_at = $4 \
                         WHERE event_id = $1 AND status_id = $2",
                    )
                    .bind(e.id)
                    .bind(status)
                    .bind(label.as_deref())
                    .bind(label.as_ref().map(|_| now))
                    .execute(conn.db())
                    .await?;
                    let key = label.map(|label| KeyEventRecord {
                        status_id: status,
                        label,
                        at: now,
                    });
                    news.push(LiveNews::keyed(&e.slug, &s, key.as_ref()));
                }
            }
        }
        self.insert_events(conn, &news).await?;
        self.commit_write(w, !news.is_empty()).await?;
        Ok(s)
    }

    /// An event's key events as they stand: curated notices that are still there,
    /// newest first.
    pub(super) async fn read_key_events(&self, event: i64) -> Result<Vec<KeyEventRecord>> {
        let rows = sqlx::query(
            "SELECT les.status_id, les.key_label, les.keyed_at FROM live_event_statuses les \
             JOIN statuses s ON s.id = les.status_id JOIN accounts a ON a.id = s.account_id \
             WHERE les.event_id = $1 AND les.state = 'curated' AND les.key_label IS NOT NULL \
             AND s.deleted_at IS NULL AND a.suspended_at IS NULL AND a.silenced_at IS NULL \
             ORDER BY les.keyed_at DESC LIMIT 200",
        )
        .bind(event)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(KeyEventRecord {
                    status_id: r.try_get("status_id")?,
                    label: r.try_get("key_label")?,
                    at: r.try_get("keyed_at")?,
                })
            })
            .collect()
    }

    /// Which open live events the new notices of a batch enter, read once for the batch:
    /// one query of the events fed by any of their tags (none when no notice has a tag),
    /// and one of who writes them, only when some matched. `fresh[i]` says whether
    /// `records[i]` was written by this batch (not an `Idempotency-Key` repeat).
    pub(super) async fn live_events_for(
        conn: &mut dyn Conn,
        records: &[StatusRecord],
        fresh: &[bool],
    ) -> Result<LiveMatches> {
        let mut tags: Vec<&str> = records
            .iter()
            .zip(fresh)
            .filter(|(s, f)| **f && enters_events(s))
            .flat_map(|(s, _)| s.tags.iter().map(String::as_str))
            .collect();
        tags.sort_unstable();
        tags.dedup();
        let mut m = LiveMatches::default();
        if tags.is_empty() {
            return Ok(m);
        }
        let mut q = Sql::new(
            "SELECT e.id, e.slug, t.tag FROM live_events e \
             JOIN live_event_tags t ON t.event_id = e.id \
             WHERE e.state <> 'ended' AND t.tag IN (",
        );
        for (i, t) in tags.iter().enumerate() {
            if i > 0 {
                q.push(", ");
            }
            q.text(t);
        }
        q.push(")");
        for r in q.build(conn).fetch_all(conn.db()).await? {
            m.events
                .push((r.try_get("id")?, r.try_get("slug")?, r.try_get("tag")?));
        }
        if m.events.is_empty() {
            return Ok(m);
        }
        let mut ids: Vec<i64> = m.events.iter().map(|e| e.0).collect();
        ids.sort_unstable();
        ids.dedup();
        let mut authors: Vec<i64> = records.iter().map(|s| s.account.id.get()).collect();
        authors.sort_unstable();
        authors.dedup();
        let mut q =
            Sql::new("SELECT event_id, account_id FROM live_event_members WHERE event_id IN (");
        q.int_list(&ids);
        q.push(") AND account_id IN (");
        q.int_list(&authors);
        q.push(")");
        for r in q.build(conn).fetch_all(conn.db()).await? {
            m.writers
                .push((r.try_get("event_id")?, r.try_get("account_id")?));
        }
        Ok(m)
    }

    /// An edit may change a notice's tags: it enters the open events its tags now feed
    /// (straight into the feed when its author writes them: an `update` for their readers)
    /// and leaves those none of its tags feed any more (a `delete` for their readers, with
    /// its pin and key mark). What it says to the events' readers.
    pub(super) async fn retag_live(
        &self,
        conn: &mut dyn Conn,
        s: &StatusRecord,
    ) -> Result<Vec<NewEvent>> {
        let mut news = Vec::new();
        let gone = sqlx::query(
            "SELECT les.event_id, le.slug, les.state, les.pinned_at, les.key_label \
             FROM live_event_statuses les JOIN live_events le ON le.id = les.event_id \
             WHERE les.status_id = $1 AND les.state <> 'removed' AND NOT EXISTS \
             (SELECT 1 FROM live_event_tags t JOIN status_tags st ON st.tag = t.tag \
              WHERE t.event_id = les.event_id AND st.status_id = les.status_id)",
        )
        .bind(s.id)
        .fetch_all(conn.db())
        .await?;
        for r in &gone {
            let (event, slug): (i64, String) = (r.try_get("event_id")?, r.try_get("slug")?);
            // Forgotten, not marked removed: the tag back, it enters again (an editor's
            // removal is kept).
            sqlx::query("DELETE FROM live_event_statuses WHERE event_id = $1 AND status_id = $2")
                .bind(event)
                .bind(s.id)
                .execute(conn.db())
                .await?;
            if r.try_get::<String, _>("state")? == "curated" {
                if r.try_get::<Option<i64>, _>("pinned_at")?.is_some() {
                    news.push(LiveNews::pinned(&slug, s, false));
                }
                if r.try_get::<Option<String>, _>("key_label")?.is_some() {
                    news.push(LiveNews::keyed(&slug, s, None));
                }
                news.push(LiveNews::removed(&slug, s));
            }
        }
        let matches = Self::live_events_for(conn, std::slice::from_ref(s), &[true]).await?;
        for (event, slug, writer) in matches.for_status(s) {
            let known = sqlx::query(
                "SELECT 1 AS x FROM live_event_statuses WHERE event_id = $1 AND status_id = $2",
            )
            .bind(event)
            .bind(s.id)
            .fetch_optional(conn.db())
            .await?
            .is_some();
            if known {
                continue;
            }
            Self::enter_live_events(conn, s, &[(event, slug.clone(), writer)]).await?;
            if writer {
                news.push(LiveNews::featured(&slug, s, &self.site));
            }
        }
        Ok(news)
    }

    /// Record a new notice in the events it entered (see [`Self::live_events_for`]);
    /// the slugs of those whose feed it went into.
    pub(super) async fn enter_live_events(
        conn: &mut dyn Conn,
        s: &StatusRecord,
        events: &[(i64, String, bool)],
    ) -> Result<Vec<String>> {
        let mut curated = Vec::new();
        for (id, slug, writer) in events {
            sqlx::query(
                "INSERT INTO live_event_statuses (event_id, status_id, state, added_at) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
            )
            .bind(id)
            .bind(s.id)
            .bind(if *writer { "curated" } else { "open" })
            .bind(s.created_at)
            .execute(conn.db())
            .await?;
            if *writer {
                curated.push(slug.clone());
            }
        }
        Ok(curated)
    }

    /// The slugs of the events whose feed carries `s` now (edits reach them).
    pub(super) async fn curated_in(conn: &mut dyn Conn, s: StatusId) -> Result<Vec<String>> {
        let rows = sqlx::query(
            "SELECT e.slug FROM live_event_statuses les JOIN live_events e ON e.id = les.event_id \
             WHERE les.status_id = $1 AND les.state = 'curated'",
        )
        .bind(s)
        .fetch_all(conn.db())
        .await?;
        rows.iter()
            .map(|r| Ok(r.try_get::<String, _>("slug")?))
            .collect()
    }
}

/// Whether a notice may be in live events: public, not a boost, its author not silenced,
/// and tagged (a notice whose tags an edit removed has left them: see `retag_live`).
pub(super) fn enters_events(s: &StatusRecord) -> bool {
    !s.tags.is_empty()
        && s.visibility == crate::domain::entities::Visibility::Public
        && s.reblog.is_none()
        && !s.account.standing.limited()
}

/// The open events a batch's tags feed, and which of the batch's authors write them.
#[derive(Default)]
pub(super) struct LiveMatches {
    /// (event id, slug, tag).
    events: Vec<(i64, String, String)>,
    /// (event id, account id).
    writers: Vec<(i64, i64)>,
}

impl LiveMatches {
    /// The events `s` enters: (event id, slug, whether it goes straight into the feed).
    pub(super) fn for_status(&self, s: &StatusRecord) -> Vec<(i64, String, bool)> {
        let mut out: Vec<(i64, String, bool)> = Vec::new();
        if self.events.is_empty() || !enters_events(s) {
            return out;
        }
        for (id, slug, tag) in &self.events {
            if s.tags.contains(tag) && !out.iter().any(|o| o.0 == *id) {
                let writer = self
                    .writers
                    .iter()
                    .any(|w| w.0 == *id && w.1 == s.account.id.get());
                out.push((*id, slug.clone(), writer));
            }
        }
        out
    }
}
