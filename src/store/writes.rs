//! Writes that readers must see: each one commits its event row with the change. Which
//! event a change writes (its streams, its payload) is the domain's to say
//! ([`crate::domain::announce`]); this module gathers what that needs and writes it.

use super::queries::{self, Sql, encode_mentions, status_select};
use super::sql::{SqlStore, taken};
use super::*;
use crate::domain::entities::{MentionRecord, NotificationType};
use crate::domain::text;
use futures::FutureExt;
use sqlx::AnyConnection;
use sqlx::Row;

/// How long an `Idempotency-Key` names its notice.
const IDEMPOTENCY_MICROS: i64 = 3_600 * 1_000_000;

fn bool_i64(b: bool) -> i64 {
    i64::from(b)
}

/// New posts per author in one batch: (account, how many, when the last was posted).
#[derive(Default)]
struct NewPosts(Vec<(AccountId, i64, i64)>);

impl NewPosts {
    /// Count one more; returns the author's new posts in this batch so far.
    fn add(&mut self, account: AccountId, at: i64) -> i64 {
        match self.0.iter_mut().find(|a| a.0 == account) {
            Some(a) => {
                a.1 += 1;
                a.2 = at;
                a.1
            }
            None => {
                self.0.push((account, 1, at));
                1
            }
        }
    }
}

/// A new notice ready for its row: rendered, its mentions resolved, its reply checked.
struct Prepared<'a> {
    new: &'a NewStatus,
    content: String,
    mentions: Vec<MentionRecord>,
    tags: Vec<String>,
    reply_to_account: Option<AccountId>,
}

/// What a post in a batch comes to: a row to write, or the notice an earlier post with
/// the same `Idempotency-Key` made.
enum Outcome<'a> {
    Write(Prepared<'a>),
    Repeat(Box<StatusRecord>),
}

/// An author's counter bumped by `$2` notices, the last at `$3`.
macro_rules! bump_author {
    () => {
        "UPDATE accounts SET statuses_count = statuses_count + $2, last_status_at = $3 WHERE id = $1"
    };
}
const BUMP_AUTHOR: &str = bump_author!();

impl SqlStore {
    /// Resolve local @mentions and render the text to HTML. Text without mentions costs
    /// no query.
    async fn render(
        &self,
        conn: &mut dyn Conn,
        body: &str,
    ) -> Result<(String, Vec<MentionRecord>, Vec<String>)> {
        let mut mentions = Vec::new();
        for (user, domain) in text::mentions(body) {
            if domain
                .as_deref()
                .is_some_and(|d| !d.eq_ignore_ascii_case(&self.site.domain))
            {
                continue;
            }
            let row = sqlx::query("SELECT id, username FROM accounts WHERE username_lower = $1")
                .bind(user.to_lowercase())
                .fetch_optional(conn.db())
                .await?;
            if let Some(r) = row {
                mentions.push(MentionRecord {
                    id: r.try_get("id")?,
                    username: r.try_get("username")?,
                });
            }
        }
        let base = self.site.base_url.clone();
        let content = text::render_html(body, &base, &|u, _| {
            mentions
                .iter()
                .find(|m| m.username.eq_ignore_ascii_case(u))
                .map(|m| format!("{base}/@{}", m.username))
        });
        Ok((content, mentions, text::tags(body)))
    }

    /// The event a change to `s` writes for its readers, with the author's followers
    /// read here (the domain decides; the store only knows who follows whom).
    async fn posted(&self, conn: &mut dyn Conn, s: &StatusRecord) -> Result<NewEvent> {
        let reach = Self::reach(conn, s).await?;
        Ok(NewEvent::posted(s, &reach, &self.site))
    }

    /// Write a batch of new statuses in one transaction (group commit: see
    /// [`super::batch`]); a lone post is a batch of one. Any error rolls back the whole
    /// batch; the caller then retries the statuses one by one, so one bad post fails
    /// alone.
    ///
    /// Each post is prepared (an `Idempotency-Key` looked up, a reply's parent checked,
    /// mentions resolved — each only when the post has one); then every new row goes in
    /// with one multi-row insert, their tags with another, and all are read back with one
    /// select. Each author's counter is bumped once per batch, as late as it can be, with
    /// the total read back (`RETURNING`), and only then are the answers and event
    /// payloads given their `statuses_count`. On Postgres two batches of one author thus
    /// overlap everything but that last stretch: the second one's `UPDATE` waits for the
    /// first one's commit and then counts from its total, so every answer carries a count
    /// of its own. Authors are bumped in id order, so two batches cannot deadlock.
    pub(super) async fn write_new_statuses(
        &self,
        batch: Arc<[NewStatus]>,
    ) -> Result<Vec<StatusRecord>> {
        let store = self.clone();
        let (records, queued) = self
            .in_write(move |conn: &mut dyn Conn| {
                async move { store.write_posts(conn, &batch).await }.boxed()
            })
            .await?;
        if queued > 0 {
            self.deliveries_waiting.notify_one();
        }
        if let Some(index) = &self.unindexed {
            index.notify_one();
        }
        if let Some(tokens) = &self.tokens {
            tokens.posted(&records);
        }
        Ok(records)
    }

    /// [`Self::write_new_statuses`]'s transaction: the records, how many deliveries it
    /// queued, and whether it wrote events.
    async fn write_posts(
        &self,
        conn: &mut dyn Conn,
        batch: &[NewStatus],
    ) -> Result<((Vec<StatusRecord>, u64), bool)> {
        let mut outcomes = Vec::with_capacity(batch.len());
        for s in batch {
            outcomes.push(self.prepare(conn, s).await?);
        }
        let fresh: Vec<&Prepared> = outcomes
            .iter()
            .filter_map(|o| match o {
                Outcome::Write(p) => Some(p),
                Outcome::Repeat(_) => None,
            })
            .collect();
        let written = self.insert_statuses(conn, &fresh).await?;
        drop(fresh);
        let mut written = written.into_iter();

        let mut records = Vec::with_capacity(batch.len());
        let mut authors = NewPosts::default();
        let mut nth = Vec::with_capacity(batch.len());
        for o in outcomes {
            match o {
                Outcome::Write(_) => {
                    let record = written.next().ok_or(StoreError::NotFound)?;
                    nth.push(authors.add(record.account.id, record.created_at));
                    records.push(record);
                }
                Outcome::Repeat(record) => {
                    nth.push(0);
                    records.push(*record);
                }
            }
        }
        authors.0.sort_unstable_by_key(|a| a.0);
        let mut before = Vec::with_capacity(authors.0.len());
        for (account, n, at) in &authors.0 {
            // SQLite holds `RETURNING`'s rows back in a table of their own until the
            // statement ends; with one writer at a time, reading the total afterwards
            // gives the same number for less (~16,000 instructions of a lone post's
            // ~850,000, callgrind; BENCHMARKS.md, issue 18).
            let total: i64 = if conn.sqlite() {
                sqlx::query(BUMP_AUTHOR)
                    .bind(account)
                    .bind(n)
                    .bind(at)
                    .execute(conn.db())
                    .await?;
                sqlx::query("SELECT statuses_count FROM accounts WHERE id = $1")
                    .bind(account)
                    .fetch_one(conn.db())
                    .await?
                    .try_get("statuses_count")?
            } else {
                sqlx::query(concat!(bump_author!(), " RETURNING statuses_count"))
                    .bind(account)
                    .bind(n)
                    .bind(at)
                    .fetch_one(conn.db())
                    .await?
                    .try_get("statuses_count")?
            };
            before.push((*account, total - n));
        }
        let mut events = Vec::with_capacity(records.len());
        let mut reaches: Vec<(AccountId, super::lists::AuthorReach)> = Vec::new();
        let fresh: Vec<bool> = nth.iter().map(|k| *k != 0).collect();
        // A public notice with a live event's tag enters the event: its feed when the
        // author writes the event, its open contributions otherwise (read once a batch).
        let live = Self::live_events_for(conn, &records, &fresh).await?;
        for (record, k) in records.iter_mut().zip(nth) {
            if k == 0 {
                continue;
            }
            let author = record.account.id;
            record.account.statuses_count =
                before.iter().find(|t| t.0 == author).map_or(0, |t| t.1) + k;
            record.account.last_status_at = Some(record.created_at);
            record.viewer = Some(crate::domain::entities::ViewerState {
                mine: true,
                ..Default::default()
            });
            if !reaches.iter().any(|f| f.0 == author) {
                reaches.push((author, Self::author_reach(conn, author).await?));
            }
            let of = &reaches
                .iter()
                .find(|f| f.0 == author)
                .expect("just added")
                .1;
            let mut reach = Self::reach_for(conn, of, record).await?;
            let entered = live.for_status(record);
            if !entered.is_empty() {
                reach.events = Self::enter_live_events(conn, record, &entered).await?;
            }
            events.push(NewEvent::posted(record, &reach, &self.site));
        }
        // Authors with followers on other servers: one query for the whole batch.
        let federated = self
            .federated_authors(conn, authors.0.iter().map(|a| a.0))
            .await?;
        let mut queued = 0;
        for (record, _) in records.iter().zip(fresh).filter(|(_, f)| *f) {
            if federated.contains(&record.account.id) {
                queued += self.queue_note(conn, "create", record).await?;
            }
            if record.visibility == Visibility::Direct {
                events.extend(self.converse(conn, record).await?);
            }
            // Followers who asked to hear of each new notice (not reblogs, nor replies
            // to others, as on Mastodon). A partial index holds only them.
            let answers_other = record
                .in_reply_to_account_id
                .is_some_and(|a| a != record.account.id);
            if record.visibility != Visibility::Direct && record.reblog.is_none() && !answers_other
            {
                let subscribers: Vec<AccountId> = sqlx::query(
                    "SELECT follower_id FROM follows WHERE target_id = $1 AND notify = 1",
                )
                .bind(record.account.id)
                .fetch_all(conn.db())
                .await?
                .iter()
                .map(|r| r.try_get("follower_id"))
                .collect::<std::result::Result<_, _>>()?;
                for who in subscribers {
                    let told = self
                        .notify(
                            conn,
                            who,
                            NotificationType::Status,
                            &record.account,
                            Some(record),
                        )
                        .await?;
                    events.extend(told);
                }
            }
            for m in &record.mentions {
                let told = self
                    .notify(
                        conn,
                        m.id,
                        NotificationType::Mention,
                        &record.account,
                        Some(record),
                    )
                    .await?;
                events.extend(told);
            }
        }
        self.insert_events(conn, &events).await?;
        Ok(((records, queued), !events.is_empty()))
    }

    /// Look up what a post needs before its row is written.
    async fn prepare<'a>(&self, conn: &mut dyn Conn, s: &'a NewStatus) -> Result<Outcome<'a>> {
        if let Some(key) = &s.idempotency_key {
            let row = sqlx::query(
                "SELECT status_id, created_at FROM idempotency_keys WHERE account_id = $1 AND key = $2",
            )
            .bind(s.account_id)
            .bind(key)
            .fetch_optional(conn.db())
            .await?;
            if let Some(r) = row {
                let (id, at): (StatusId, i64) = (r.try_get("status_id")?, r.try_get("created_at")?);
                // A key holds for an hour (as on Mastodon) and only while its notice
                // exists; after that the same key posts anew.
                let fresh = crate::domain::now_micros() - at < IDEMPOTENCY_MICROS;
                let existing = if fresh {
                    Self::fetch_status(conn, id, Some(s.account_id)).await?
                } else {
                    None
                };
                if let Some(existing) = existing {
                    return Ok(Outcome::Repeat(Box::new(existing)));
                }
                sqlx::query("DELETE FROM idempotency_keys WHERE account_id = $1 AND key = $2")
                    .bind(s.account_id)
                    .bind(key)
                    .execute(conn.db())
                    .await?;
            }
        }
        let reply_to_account = match s.in_reply_to_id {
            Some(parent) => {
                let p = Self::fetch_status(conn, parent, Some(s.account_id)).await?;
                let p = p.ok_or_else(|| {
                    StoreError::Invalid("The post you are trying to reply to does not exist".into())
                })?;
                Some(p.account.id)
            }
            None => None,
        };
        Self::check_media(conn, s.account_id, &s.media_ids).await?;
        let (content, mentions, tags) = match &s.remote {
            Some(r) => (r.content.clone(), r.mentions.clone(), r.tags.clone()),
            None => self.render(conn, &s.text).await?,
        };
        Ok(Outcome::Write(Prepared {
            new: s,
            content,
            mentions,
            tags,
            reply_to_account,
        }))
    }

    /// The one way a notice's row is written: a multi-row insert of the statuses, one of
    /// their tags, one of their idempotency keys, the parents' reply counts, and one read
    /// back of the rows with their authors, in `VALUES` order (both databases number a
    /// multi-row insert's rows in order).
    async fn insert_statuses(
        &self,
        conn: &mut dyn Conn,
        posts: &[&Prepared<'_>],
    ) -> Result<Vec<StatusRecord>> {
        if posts.is_empty() {
            return Ok(Vec::new());
        }
        let now = crate::domain::now_micros();
        let mut q = Sql::new(
            "INSERT INTO statuses (account_id, text, content, spoiler_text, sensitive, visibility, language, \
             in_reply_to_id, in_reply_to_account_id, tags, mentions, has_media, created_at, uri, url) VALUES ",
        );
        for (i, p) in posts.iter().enumerate() {
            let s = p.new;
            q.row(i)
                .int(s.account_id)
                .push(", ")
                .text(&s.text)
                .push(", ")
                .text(&p.content)
                .push(", ")
                .text(&s.spoiler_text)
                .push(", ")
                .int(bool_i64(s.sensitive))
                .push(", ")
                .text(s.visibility.as_str())
                .push(", ")
                .opt_text(s.language.as_deref())
                .push(", ")
                .opt_int(s.in_reply_to_id)
                .push(", ")
                .opt_int(p.reply_to_account)
                .push(", ")
                .text(&p.tags.join(" "))
                .push(", ")
                .text(&encode_mentions(&p.mentions))
                .push(", ")
                .int(i64::from(!s.media_ids.is_empty()))
                .push(", ")
                .int(s.remote.as_ref().map_or(now, |r| r.created_at.min(now)))
                .push(", ")
                .opt_text(s.remote.as_ref().map(|r| r.uri.as_str()))
                .push(", ")
                .opt_text(s.remote.as_ref().map(|r| r.url.as_str()))
                .push(")");
        }
        let ids: Vec<StatusId> = Self::inserted_ids(conn, q)
            .await?
            .into_iter()
            .map(StatusId::new)
            .collect();
        let tagged: Vec<(String, StatusId)> = ids
            .iter()
            .zip(posts)
            .flat_map(|(id, p)| p.tags.iter().map(move |t| (t.clone(), *id)))
            .collect();
        Self::insert_tags(conn, &tagged).await?;
        let mentioned: Vec<(StatusId, AccountId)> = ids
            .iter()
            .zip(posts)
            .flat_map(|(id, p)| p.mentions.iter().map(move |m| (*id, m.id)))
            .collect();
        Self::insert_rows(
            conn,
            "INSERT INTO status_mentions (status_id, account_id) VALUES ",
            &mentioned,
            |q, (id, account)| {
                q.int(*id).push(", ").int(*account);
            },
        )
        .await?;
        let keyed: Vec<(AccountId, &str, StatusId)> = ids
            .iter()
            .zip(posts)
            .filter_map(|(id, p)| {
                let key = p.new.idempotency_key.as_deref()?;
                Some((p.new.account_id, key, *id))
            })
            .collect();
        Self::insert_rows(
            conn,
            "INSERT INTO idempotency_keys (account_id, key, status_id, created_at) VALUES ",
            &keyed,
            |q, (account, key, id)| {
                q.int(*account)
                    .push(", ")
                    .text(key)
                    .push(", ")
                    .int(*id)
                    .push(", ")
                    .int(now);
            },
        )
        .await
        .map_err(|e| match e {
            StoreError::Database(e) => taken("Idempotency-Key")(e),
            other => other,
        })?;
        for (id, p) in ids.iter().zip(posts) {
            if let Some(poll) = &p.new.poll {
                Self::insert_poll(conn, *id, poll, now).await?;
            }
            if !p.new.media_ids.is_empty() {
                Self::take_media(conn, *id, &p.new.media_ids).await?;
            }
        }
        for parent in posts.iter().filter_map(|p| p.new.in_reply_to_id) {
            sqlx::query("UPDATE statuses SET replies_count = replies_count + 1 WHERE id = $1")
                .bind(parent)
                .execute(conn.db())
                .await?;
        }
        let mut q = Sql::new(concat!(status_select!(), " WHERE s.id IN ("));
        q.int_list(&ids).push(")");
        let mut rows = q
            .build(conn)
            .fetch_all(conn.db())
            .await?
            .iter()
            .map(|r| queries::status_row(r).map(|r| r.record))
            .collect::<Result<Vec<_>>>()?;
        rows.sort_by_key(|r| r.id);
        if rows.len() != posts.len() {
            return Err(StoreError::NotFound);
        }
        Self::attach_polls(conn, &mut rows, None).await?;
        let with_media: Vec<StatusId> = ids
            .iter()
            .zip(posts)
            .filter(|(_, p)| !p.new.media_ids.is_empty())
            .map(|(id, _)| *id)
            .collect();
        Self::attach_media(conn, &mut rows, &with_media).await?;
        Ok(rows)
    }

    async fn insert_tags_of(conn: &mut dyn Conn, id: StatusId, tags: &[String]) -> Result<()> {
        let rows: Vec<(String, StatusId)> = tags.iter().map(|t| (t.clone(), id)).collect();
        Self::insert_tags(conn, &rows).await
    }

    pub(super) async fn write_edit(&self, c: StatusChange) -> Result<StatusRecord> {
        let mut w = self.begin_write().await?;
        let conn: &mut AnyConnection = &mut w.tx;
        let before = Self::fetch_status(conn, c.status_id, None)
            .await?
            .ok_or(StoreError::NotFound)?;
        if before.reblog.is_some() {
            return Err(StoreError::Invalid("A reblog cannot be edited".into()));
        }
        let had_edits = sqlx::query("SELECT COUNT(*) FROM status_edits WHERE status_id = $1")
            .bind(c.status_id)
            .fetch_one(conn.db())
            .await?
            .try_get::<i64, _>(0)?
            > 0;
        if !had_edits {
            Self::insert_edit(
                conn,
                c.status_id,
                &before.text,
                &before.content,
                &before.spoiler_text,
                before.sensitive,
                before.created_at,
            )
            .await?;
        }
        let (content, mentions, tags) = match &c.remote {
            Some(r) => (r.content.clone(), r.mentions.clone(), r.tags.clone()),
            None => self.render(conn, &c.text).await?,
        };
        let now = crate::domain::now_micros();
        sqlx::query(
            "UPDATE statuses SET text = $2, content = $3, spoiler_text = $4, sensitive = $5, language = COALESCE($6, language), \
             tags = $7, mentions = $8, edited_at = $9 WHERE id = $1",
        )
        .bind(c.status_id)
        .bind(&c.text)
        .bind(&content)
        .bind(&c.spoiler_text)
        .bind(bool_i64(c.sensitive))
        .bind(&c.language)
        .bind(tags.join(" "))
        .bind(encode_mentions(&mentions))
        .bind(now)
        .execute(conn.db())
        .await?;
        Self::insert_edit(
            conn,
            c.status_id,
            &c.text,
            &content,
            &c.spoiler_text,
            c.sensitive,
            now,
        )
        .await?;
        sqlx::query("DELETE FROM status_tags WHERE status_id = $1")
            .bind(c.status_id)
            .execute(conn.db())
            .await?;
        Self::insert_tags_of(conn, c.status_id, &tags).await?;
        if let Some(ids) = &c.media_ids {
            Self::replace_media(conn, before.account.id, c.status_id, ids).await?;
        }
        for m in &mentions {
            sqlx::query(
                "INSERT INTO status_mentions (status_id, account_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            )
            .bind(c.status_id)
            .bind(m.id)
            .execute(conn.db())
            .await?;
        }
        let after = Self::fetch_status(conn, c.status_id, None)
            .await?
            .ok_or(StoreError::NotFound)?;
        // Its tags may have moved it into or out of live events (before its readers are
        // counted: the events it is in now hear of the edit).
        let mut events = if before.tags == after.tags {
            Vec::new()
        } else {
            self.retag_live(conn, &after).await?
        };
        let reach = Self::reach(conn, &after).await?;
        events.push(NewEvent::edited(&before, &after, &reach, &self.site));
        // Whoever reblogged it shared what it said then: they hear of the change.
        let rebloggers: Vec<AccountId> = sqlx::query(
            "SELECT DISTINCT account_id FROM statuses WHERE reblog_of_id = $1 AND deleted_at IS NULL",
        )
        .bind(c.status_id)
        .fetch_all(conn.db())
        .await?
        .iter()
        .map(|r| r.try_get("account_id"))
        .collect::<std::result::Result<_, _>>()?;
        for who in rebloggers {
            let told = self
                .notify(
                    conn,
                    who,
                    NotificationType::Update,
                    &after.account,
                    Some(&after),
                )
                .await?;
            events.extend(told);
        }
        self.insert_events(conn, &events).await?;
        let queued = self.queue_note(conn, "update", &after).await?;
        self.commit_write(w, true).await?;
        if queued > 0 {
            self.deliveries_waiting.notify_one();
        }
        Ok(after)
    }

    async fn insert_edit(
        conn: &mut dyn Conn,
        id: StatusId,
        text: &str,
        content: &str,
        spoiler: &str,
        sensitive: bool,
        at: i64,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO status_edits (status_id, text, content, spoiler_text, sensitive, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(id)
        .bind(text)
        .bind(content)
        .bind(spoiler)
        .bind(bool_i64(sensitive))
        .bind(at)
        .execute(conn.db())
        .await?;
        Ok(())
    }

    pub(super) async fn write_delete(
        &self,
        id: StatusId,
        audit: Option<&super::Audit>,
    ) -> Result<StatusRecord> {
        let mut w = self.begin_write().await?;
        let conn: &mut AnyConnection = &mut w.tx;
        let s = Self::fetch_status(conn, id, None)
            .await?
            .ok_or(StoreError::NotFound)?;
        self.remove(conn, &s).await?;
        if let Some(a) = audit {
            Self::write_audit(conn, a).await?;
        }
        self.commit_write(w, true).await?;
        Ok(s)
    }

    /// Delete a status and, with it, its reblogs (as Mastodon does).
    async fn remove(&self, conn: &mut dyn Conn, s: &StatusRecord) -> Result<()> {
        if s.reblog.is_none() {
            let reblogs = sqlx::query(
                "SELECT id FROM statuses WHERE reblog_of_id = $1 AND deleted_at IS NULL",
            )
            .bind(s.id)
            .fetch_all(conn.db())
            .await?;
            for r in reblogs {
                let id: StatusId = r.try_get("id")?;
                if let Some(reblog) = Self::fetch_status(conn, id, None).await? {
                    self.remove_one(conn, &reblog).await?;
                }
            }
        }
        self.remove_one(conn, s).await
    }

    /// Mark one status deleted, fix the counters, blank its earlier events, and send
    /// `delete` to every stream that ever carried it.
    ///
    /// History is served as it is now: the `update` and `status.update` events of a
    /// deleted notice keep their positions but lose their payload and streams, so neither
    /// a replay nor a node catching up can serve its text again (an event not yet given a
    /// position gets no stream rows at all). The `delete` goes where the notice goes today
    /// and where any of its events went — a tag an edit removed, a follower who has since
    /// unfollowed — so no open view keeps showing it.
    async fn remove_one(&self, conn: &mut dyn Conn, s: &StatusRecord) -> Result<()> {
        let now = crate::domain::now_micros();
        sqlx::query("UPDATE statuses SET deleted_at = $2 WHERE id = $1")
            .bind(s.id)
            .bind(now)
            .execute(conn.db())
            .await?;
        // Out of every live event, its pins and key marks with it (its `delete` reaches
        // the events' streams through its earlier events, below).
        sqlx::query(
            "UPDATE live_event_statuses SET state = 'removed', pinned_at = NULL, \
             key_label = NULL, keyed_at = NULL WHERE status_id = $1",
        )
        .bind(s.id)
        .execute(conn.db())
        .await?;
        sqlx::query("UPDATE accounts SET statuses_count = statuses_count - 1 WHERE id = $1 AND statuses_count > 0")
            .bind(s.account.id)
            .execute(conn.db())
            .await?;
        if let Some(parent) = s.in_reply_to_id {
            sqlx::query("UPDATE statuses SET replies_count = replies_count - 1 WHERE id = $1 AND replies_count > 0")
                .bind(parent)
                .execute(conn.db())
                .await?;
        }
        if let Some(original) = &s.reblog {
            sqlx::query("UPDATE statuses SET reblogs_count = reblogs_count - 1 WHERE id = $1 AND reblogs_count > 0")
                .bind(original.id)
                .execute(conn.db())
                .await?;
        }
        let earlier = sqlx::query(
            "SELECT streams FROM events WHERE status_id = $1 AND kind <> 'delete' \
             AND kind <> 'notification' AND streams <> ''",
        )
        .bind(s.id)
        .fetch_all(conn.db())
        .await?
        .iter()
        .map(|row| row.try_get::<String, _>("streams"))
        .collect::<std::result::Result<Vec<_>, _>>()?;
        sqlx::query(
            "UPDATE events SET payload = '', streams = '' WHERE status_id = $1 AND kind <> 'delete'",
        )
        .bind(s.id)
        .execute(conn.db())
        .await?;
        // Notifications about it go with it (their events were just blanked).
        sqlx::query("DELETE FROM notifications WHERE status_id = $1")
            .bind(s.id)
            .execute(conn.db())
            .await?;
        let reach = Self::reach(conn, s).await?;
        let event = NewEvent::deleted(s, &reach, earlier.iter().map(String::as_str));
        self.insert_event(conn, event).await?;
        if self.queue_note(conn, "delete", s).await? > 0 {
            // Woken early; the worker finds the job once this transaction commits.
            self.deliveries_waiting.notify_one();
        }
        Ok(())
    }

    /// Add (`on`) or remove a row of a pair table (favourites, follows); true when the
    /// table changed, so counters move only once however often a client repeats itself.
    pub(super) async fn set_pair(
        conn: &mut dyn Conn,
        on: bool,
        insert: &'static str,
        delete: &'static str,
        (a, b): (i64, i64),
    ) -> Result<bool> {
        // Either pair: (account, status) or (follower, target), as the bare ids a pair
        // table holds.
        let q = if on {
            sqlx::query(insert)
                .bind(a)
                .bind(b)
                .bind(crate::domain::now_micros())
        } else {
            sqlx::query(delete).bind(a).bind(b)
        };
        Ok(q.execute(conn.db()).await?.rows_affected() > 0)
    }

    pub(super) async fn write_favourite(
        &self,
        account: AccountId,
        status: StatusId,
        on: bool,
    ) -> Result<StatusRecord> {
        let mut w = self.begin_write().await?;
        let conn: &mut AnyConnection = &mut w.tx;
        let target = Self::fetch_status(conn, status, Some(account))
            .await?
            .ok_or(StoreError::NotFound)?;
        let changed = Self::set_pair(
            conn,
            on,
            "INSERT INTO favourites (account_id, status_id, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            "DELETE FROM favourites WHERE account_id = $1 AND status_id = $2",
            (account.get(), status.get()),
        )
        .await?;
        if changed {
            sqlx::query(
                "UPDATE statuses SET favourites_count = favourites_count + $2 WHERE id = $1",
            )
            .bind(status)
            .bind(if on { 1i64 } else { -1 })
            .execute(conn.db())
            .await?;
            if target.account.remote.is_some() {
                let me = Self::fetch_account(conn, account)
                    .await?
                    .ok_or(StoreError::NotFound)?;
                let kind = if on { "like" } else { "unlike" };
                self.queue_reaction(conn, &me, kind, status, &target)
                    .await?;
            }
        }
        let author = target.account.id;
        let mut told = None;
        if changed && on {
            let me = Self::fetch_account(conn, account)
                .await?
                .ok_or(StoreError::NotFound)?;
            let s = Self::fetch_status(conn, status, None).await?;
            told = self
                .notify(conn, author, NotificationType::Favourite, &me, s.as_ref())
                .await?;
        } else if changed {
            Self::unnotify(
                conn,
                author,
                NotificationType::Favourite,
                account,
                Some(status),
            )
            .await?;
        }
        if let Some(e) = &told {
            self.insert_events(conn, std::slice::from_ref(e)).await?;
        }
        let s = Self::fetch_status(conn, status, Some(account))
            .await?
            .ok_or(StoreError::NotFound)?;
        self.commit_write(w, told.is_some()).await?;
        Ok(s)
    }

    pub(super) async fn write_reblog(
        &self,
        account: AccountId,
        status: StatusId,
        on: bool,
    ) -> Result<StatusRecord> {
        let mut w = self.begin_write().await?;
        let conn: &mut AnyConnection = &mut w.tx;
        let original = Self::fetch_status(conn, status, Some(account))
            .await?
            .ok_or(StoreError::NotFound)?;
        let original = match original.reblog {
            Some(inner) => *inner,
            None => original,
        };
        if original.visibility.is_limited() {
            return Err(StoreError::Forbidden);
        }
        let existing = sqlx::query("SELECT id FROM statuses WHERE account_id = $1 AND reblog_of_id = $2 AND deleted_at IS NULL")
            .bind(account)
            .bind(original.id)
            .fetch_optional(conn.db())
            .await?
            .map(|r| r.try_get::<StatusId, _>("id"))
            .transpose()?;
        let result = match (on, existing) {
            (true, Some(id)) => Self::fetch_status(conn, id, Some(account)).await?,
            (true, None) => {
                let now = crate::domain::now_micros();
                let row = sqlx::query(
                    "INSERT INTO statuses (account_id, text, content, visibility, reblog_of_id, created_at) \
                     VALUES ($1, '', '', $4, $2, $3) RETURNING id",
                )
                .bind(account)
                .bind(original.id)
                .bind(now)
                .bind(Visibility::Public.as_str())
                .fetch_one(conn.db())
                .await?;
                let id: StatusId = row.try_get("id")?;
                sqlx::query("UPDATE statuses SET reblogs_count = reblogs_count + 1 WHERE id = $1")
                    .bind(original.id)
                    .execute(conn.db())
                    .await?;
                sqlx::query("UPDATE accounts SET statuses_count = statuses_count + 1, last_status_at = $2 WHERE id = $1")
                    .bind(account)
                    .bind(now)
                    .execute(conn.db())
                    .await?;
                let r = Self::fetch_status(conn, id, None)
                    .await?
                    .ok_or(StoreError::NotFound)?;
                let mut events = vec![self.posted(conn, &r).await?];
                self.queue_reaction(conn, &r.account, "announce", id, &original)
                    .await?;
                let shared = Self::fetch_status(conn, original.id, None).await?;
                let told = self
                    .notify(
                        conn,
                        original.account.id,
                        NotificationType::Reblog,
                        &r.account,
                        shared.as_ref(),
                    )
                    .await?;
                events.extend(told);
                self.insert_events(conn, &events).await?;
                Self::fetch_status(conn, id, Some(account)).await?
            }
            (false, Some(id)) => {
                let r = Self::fetch_status(conn, id, None)
                    .await?
                    .ok_or(StoreError::NotFound)?;
                self.remove(conn, &r).await?;
                self.queue_reaction(conn, &r.account, "unannounce", id, &original)
                    .await?;
                Self::unnotify(
                    conn,
                    original.account.id,
                    NotificationType::Reblog,
                    account,
                    Some(original.id),
                )
                .await?;
                Self::fetch_status(conn, original.id, Some(account)).await?
            }
            (false, None) => Self::fetch_status(conn, original.id, Some(account)).await?,
        };
        self.commit_write(w, true).await?;
        result.ok_or(StoreError::NotFound)
    }

    /// `follower` follows `target` (`on`) or stops. A locked account is asked, and so is
    /// an account of another server (its `Accept` makes the follow); `send` (an inbox and
    /// an activity: the `Follow` or its `Undo`) is queued in the same transaction.
    pub(super) async fn write_follow(
        &self,
        follower: AccountId,
        target: AccountId,
        on: bool,
        send: Option<(&str, &str)>,
    ) -> Result<Relationship> {
        if follower == target {
            return Err(StoreError::Invalid("You cannot follow yourself".into()));
        }
        let mut w = self.begin_write().await?;
        let conn: &mut AnyConnection = &mut w.tx;
        let whom = Self::fetch_account(conn, target)
            .await?
            .ok_or(StoreError::NotFound)?;
        if on {
            let blocked = sqlx::query(
                "SELECT 1 AS x FROM blocks WHERE (account_id = $1 AND target_id = $2) \
                 OR (account_id = $2 AND target_id = $1)",
            )
            .bind(follower)
            .bind(target)
            .fetch_optional(conn.db())
            .await?;
            if blocked.is_some() {
                return Err(StoreError::Forbidden);
            }
        }
        let me = Self::fetch_account(conn, follower)
            .await?
            .ok_or(StoreError::NotFound)?;
        let now = crate::domain::now_micros();
        if let Some((inbox, activity)) = send {
            Self::queue_raw(conn, follower, inbox, activity, now).await?;
        }
        let remote = whom.remote.is_some();
        // A locked account is asked, not followed: the request waits for her answer.
        if on && (whom.profile.locked || remote) {
            let following =
                sqlx::query("SELECT 1 AS x FROM follows WHERE follower_id = $1 AND target_id = $2")
                    .bind(follower)
                    .bind(target)
                    .fetch_optional(conn.db())
                    .await?;
            if following.is_none() {
                let asked = sqlx::query(
                    "INSERT INTO follow_requests (account_id, target_id, created_at) VALUES ($1, $2, $3) \
                     ON CONFLICT DO NOTHING",
                )
                .bind(follower)
                .bind(target)
                .bind(crate::domain::now_micros())
                .execute(conn.db())
                .await?
                .rows_affected();
                let mut told = None;
                if asked > 0 && !remote {
                    told = self
                        .notify(conn, target, NotificationType::FollowRequest, &me, None)
                        .await?;
                }
                if let Some(e) = &told {
                    self.insert_events(conn, std::slice::from_ref(e)).await?;
                }
                self.commit_write(w, told.is_some()).await?;
                if send.is_some() {
                    self.deliveries_waiting.notify_one();
                }
                return self.relationship(follower, target).await;
            }
        }
        if !on {
            let withdrawn =
                sqlx::query("DELETE FROM follow_requests WHERE account_id = $1 AND target_id = $2")
                    .bind(follower)
                    .bind(target)
                    .execute(conn.db())
                    .await?
                    .rows_affected();
            if withdrawn > 0 {
                Self::unnotify(
                    conn,
                    target,
                    NotificationType::FollowRequest,
                    follower,
                    None,
                )
                .await?;
            }
        }
        let changed = Self::set_pair(
            conn,
            on,
            "INSERT INTO follows (follower_id, target_id, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            "DELETE FROM follows WHERE follower_id = $1 AND target_id = $2",
            (follower.get(), target.get()),
        )
        .await?;
        if changed {
            let d: i64 = if on { 1 } else { -1 };
            sqlx::query("UPDATE accounts SET following_count = following_count + $2 WHERE id = $1")
                .bind(follower)
                .bind(d)
                .execute(conn.db())
                .await?;
            sqlx::query("UPDATE accounts SET followers_count = followers_count + $2 WHERE id = $1")
                .bind(target)
                .bind(d)
                .execute(conn.db())
                .await?;
        }
        let mut told = None;
        if changed && on {
            told = self
                .notify(conn, target, NotificationType::Follow, &me, None)
                .await?;
        } else if changed {
            Self::unnotify(conn, target, NotificationType::Follow, follower, None).await?;
            Self::leave_lists(conn, follower, target).await?;
        }
        if let Some(e) = &told {
            self.insert_events(conn, std::slice::from_ref(e)).await?;
        }
        self.commit_write(w, told.is_some()).await?;
        if send.is_some() {
            self.deliveries_waiting.notify_one();
        }
        self.relationship(follower, target).await
    }
}

impl SqlStore {
    /// `target` answers `requester`'s request to follow her: accepted, the follow is made
    /// (with its counters); either way the request and its notification go.
    pub(super) async fn write_follow_answer(
        &self,
        target: AccountId,
        requester: AccountId,
        accept: bool,
    ) -> Result<Relationship> {
        let mut w = self.begin_write().await?;
        let conn: &mut AnyConnection = &mut w.tx;
        let gone =
            sqlx::query("DELETE FROM follow_requests WHERE account_id = $1 AND target_id = $2")
                .bind(requester)
                .bind(target)
                .execute(conn.db())
                .await?
                .rows_affected();
        if gone == 0 {
            return Err(StoreError::NotFound);
        }
        Self::unnotify(
            conn,
            target,
            NotificationType::FollowRequest,
            requester,
            None,
        )
        .await?;
        if accept {
            let made = sqlx::query(
                "INSERT INTO follows (follower_id, target_id, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            )
            .bind(requester)
            .bind(target)
            .bind(crate::domain::now_micros())
            .execute(conn.db())
            .await?
            .rows_affected();
            if made > 0 {
                sqlx::query(
                    "UPDATE accounts SET following_count = following_count + 1 WHERE id = $1",
                )
                .bind(requester)
                .execute(conn.db())
                .await?;
                sqlx::query(
                    "UPDATE accounts SET followers_count = followers_count + 1 WHERE id = $1",
                )
                .bind(target)
                .execute(conn.db())
                .await?;
            }
        }
        self.commit_write(w, false).await?;
        self.relationship(target, requester).await
    }
}
