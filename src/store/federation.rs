//! What federation keeps: each local account's key pair, the remote actors we have read,
//! who of them follows whom here, the activities already received, and the delivery
//! queue (written in the transaction of the change it announces).

use super::sql::{Backend, SqlStore};
use super::*;
use sqlx::Row;

/// An account's key pair, PEM encoded: SPKI public key, PKCS#8 private key.
#[derive(Debug, Clone)]
pub struct KeyPair {
    pub public_pem: String,
    pub private_pem: String,
}

/// An actor of another server, as we last read it.
#[derive(Debug, Clone, PartialEq)]
pub struct RemoteActor {
    pub id: i64,
    pub uri: String,
    pub key_id: String,
    pub public_key_pem: String,
    pub inbox: String,
    pub shared_inbox: Option<String>,
    pub username: String,
    pub fetched_at: i64,
    /// The account it is shown as here (made when it is kept with a profile).
    pub account_id: Option<AccountId>,
    /// What its document says of it, when it was just read (not kept in this row: in
    /// its account's).
    pub profile: Option<Box<RemoteProfile>>,
}

/// A remote actor's profile, as its document says (`summary` sanitised already).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RemoteProfile {
    pub domain: String,
    pub display_name: String,
    pub summary: String,
    pub url: String,
    pub avatar: Option<String>,
    pub header: Option<String>,
    pub locked: bool,
    pub bot: bool,
    pub discoverable: bool,
}

/// One activity to send to one inbox.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub id: i64,
    pub account_id: AccountId,
    pub inbox: String,
    /// `create`, `update`, `delete` (of `status_id`), or `raw` (`body`).
    pub kind: String,
    pub status_id: Option<StatusId>,
    pub status_uri: Option<String>,
    pub body: Option<String>,
    pub attempts: i64,
}

const ACTOR_COLUMNS: &str =
    "id, uri, key_id, public_key_pem, inbox, shared_inbox, username, fetched_at, account_id";

fn actor_row(r: &sqlx::any::AnyRow) -> Result<RemoteActor> {
    Ok(RemoteActor {
        id: r.try_get("id")?,
        uri: r.try_get("uri")?,
        key_id: r.try_get("key_id")?,
        public_key_pem: r.try_get("public_key_pem")?,
        inbox: r.try_get("inbox")?,
        shared_inbox: r.try_get("shared_inbox")?,
        username: r.try_get("username")?,
        fetched_at: r.try_get("fetched_at")?,
        account_id: r
            .try_get::<Option<i64>, _>("account_id")?
            .map(AccountId::new),
        profile: None,
    })
}

impl SqlStore {
    pub(super) async fn read_account_key(&self, account: AccountId) -> Result<Option<KeyPair>> {
        let row = sqlx::query(
            "SELECT public_key_pem, private_key_pem FROM account_keys WHERE account_id = $1",
        )
        .bind(account.get())
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(KeyPair {
                public_pem: r.try_get("public_key_pem")?,
                private_pem: r.try_get("private_key_pem")?,
            })
        })
        .transpose()
    }

    /// Keep `pair` as the account's keys unless it has some already (two nodes made one
    /// at once): the pair that is kept, either way.
    pub(super) async fn write_account_key(
        &self,
        account: AccountId,
        pair: KeyPair,
    ) -> Result<KeyPair> {
        let mut w = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO account_keys (account_id, public_key_pem, private_key_pem, created_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (account_id) DO NOTHING",
        )
        .bind(account.get())
        .bind(&pair.public_pem)
        .bind(&pair.private_pem)
        .bind(crate::domain::now_micros())
        .execute(&mut *w.tx)
        .await?;
        self.commit_write(w, false).await?;
        self.read_account_key(account)
            .await?
            .ok_or(StoreError::NotFound)
    }

    pub(super) async fn read_remote_actor(
        &self,
        by: &str,
        value: &str,
    ) -> Result<Option<RemoteActor>> {
        let column = match by {
            "key_id" => "key_id",
            "account_id" => "account_id",
            _ => "uri",
        };
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {ACTOR_COLUMNS} FROM remote_actors WHERE {column} = $1"
        )))
        .bind(value)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(actor_row).transpose()
    }

    pub(super) async fn write_remote_actor(&self, a: &RemoteActor) -> Result<RemoteActor> {
        let mut w = self.begin_write().await?;
        let account = match &a.profile {
            Some(p) => Some(Self::upsert_remote_account(&mut w.tx, a, p).await?),
            None => None,
        };
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO remote_actors (uri, key_id, public_key_pem, inbox, shared_inbox, username, fetched_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (uri) DO UPDATE SET key_id = $2, public_key_pem = $3, inbox = $4, \
             shared_inbox = $5, username = $6, fetched_at = $7 RETURNING {ACTOR_COLUMNS}"
        )))
        .bind(&a.uri)
        .bind(&a.key_id)
        .bind(&a.public_key_pem)
        .bind(&a.inbox)
        .bind(&a.shared_inbox)
        .bind(&a.username)
        .bind(a.fetched_at)
        .fetch_one(&mut *w.tx)
        .await?;
        let mut kept = actor_row(&row)?;
        if let Some(account) = account {
            sqlx::query("UPDATE remote_actors SET account_id = $2 WHERE id = $1")
                .bind(kept.id)
                .bind(account.get())
                .execute(&mut *w.tx)
                .await?;
            kept.account_id = Some(account);
        }
        self.commit_write(w, false).await?;
        Ok(kept)
    }

    /// The account a remote actor is shown as: made, or brought up to date.
    async fn upsert_remote_account(
        conn: &mut dyn Conn,
        a: &RemoteActor,
        p: &RemoteProfile,
    ) -> Result<AccountId> {
        let mut handle = format!("{}@{}", a.username, p.domain).to_lowercase();
        // `name@domain` is another actor's (it moved to a new id): this one is known by
        // its id instead, which is unique.
        let taken = sqlx::query(
            "SELECT 1 AS x FROM accounts WHERE username_lower = $1 AND (uri IS NULL OR uri <> $2)",
        )
        .bind(&handle)
        .bind(&a.uri)
        .fetch_optional(conn.db())
        .await?;
        if taken.is_some() || a.username.is_empty() {
            handle = a.uri.to_lowercase();
        }
        let username = if a.username.is_empty() {
            "unknown"
        } else {
            &a.username
        };
        let id: i64 = sqlx::query(
            "INSERT INTO accounts (username, username_lower, display_name, note, domain, uri, url, \
             avatar_remote, header_remote, locked, bot, discoverable, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
             ON CONFLICT (uri) WHERE uri IS NOT NULL DO UPDATE SET username = $1, username_lower = $2, \
             display_name = $3, note = $4, domain = $5, url = $7, avatar_remote = $8, header_remote = $9, \
             locked = $10, bot = $11, discoverable = $12 RETURNING id",
        )
        .bind(username)
        .bind(&handle)
        .bind(&p.display_name)
        .bind(&p.summary)
        .bind(&p.domain)
        .bind(&a.uri)
        .bind(&p.url)
        .bind(&p.avatar)
        .bind(&p.header)
        .bind(i64::from(p.locked))
        .bind(i64::from(p.bot))
        .bind(i64::from(p.discoverable))
        .bind(crate::domain::now_micros())
        .fetch_one(conn.db())
        .await?
        .try_get("id")?;
        // An account of a server a moderator blocked is born silenced or suspended, as
        // the block made the others (from the block's time, so lifting it undoes this too).
        for sql in [
            "UPDATE accounts SET silenced_at = (SELECT MIN(b.created_at) FROM domain_blocks b              WHERE b.severity = 'silence' AND (accounts.domain = b.domain OR accounts.domain LIKE '%.' || b.domain))              WHERE id = $1 AND silenced_at IS NULL",
            "UPDATE accounts SET suspended_at = (SELECT MIN(b.created_at) FROM domain_blocks b              WHERE b.severity = 'suspend' AND (accounts.domain = b.domain OR accounts.domain LIKE '%.' || b.domain))              WHERE id = $1 AND suspended_at IS NULL",
        ] {
            sqlx::query(sql).bind(id).execute(conn.db()).await?;
        }
        Ok(AccountId::new(id))
    }

    /// A notice of another server by its uri (deleted ones too: a late `Update` of a
    /// deleted notice must not bring it back).
    pub(super) async fn read_status_by_uri(&self, uri: &str) -> Result<Option<(StatusId, bool)>> {
        let row = sqlx::query("SELECT id, deleted_at FROM statuses WHERE uri = $1")
            .bind(uri)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| {
            Ok((
                StatusId::new(r.try_get("id")?),
                r.try_get::<Option<i64>, _>("deleted_at")?.is_some(),
            ))
        })
        .transpose()
    }

    /// A remote account moved to `target` (`Move`): recorded on the account.
    pub(super) async fn write_moved(&self, account: AccountId, target: &str) -> Result<()> {
        let mut w = self.begin_write().await?;
        sqlx::query("UPDATE accounts SET moved_to = $2 WHERE id = $1")
            .bind(account.get())
            .bind(target)
            .execute(&mut *w.tx)
            .await?;
        self.commit_write(w, false).await
    }

    /// Up to `limit` live notices of an account (newest first): what an actor's
    /// deletion removes, a batch at a time.
    pub(super) async fn read_status_ids_of(
        &self,
        account: AccountId,
        limit: i64,
    ) -> Result<Vec<StatusId>> {
        Ok(sqlx::query(
            "SELECT id FROM statuses WHERE account_id = $1 AND deleted_at IS NULL ORDER BY id DESC LIMIT $2",
        )
        .bind(account.get())
        .bind(limit)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| r.try_get::<i64, _>("id").map(StatusId::new))
        .collect::<std::result::Result<_, _>>()?)
    }

    /// Local accounts following (or asking to follow) `account`.
    pub(super) async fn read_local_followers(&self, account: AccountId) -> Result<Vec<AccountId>> {
        Ok(sqlx::query(
            "SELECT f.follower_id AS id FROM follows f JOIN accounts a ON a.id = f.follower_id \
             WHERE f.target_id = $1 AND a.domain IS NULL \
             UNION SELECT r.account_id AS id FROM follow_requests r WHERE r.target_id = $1",
        )
        .bind(account.get())
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| r.try_get::<i64, _>("id").map(AccountId::new))
        .collect::<std::result::Result<_, _>>()?)
    }

    /// `actor` follows `account`: kept, and `accept` queued to `inbox`, in one transaction.
    pub(super) async fn write_remote_follow(
        &self,
        account: AccountId,
        actor: i64,
        follow_uri: &str,
        inbox: &str,
        accept: &str,
    ) -> Result<()> {
        let now = crate::domain::now_micros();
        let mut w = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO remote_followers (account_id, actor_id, follow_uri, created_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (account_id, actor_id) DO UPDATE SET follow_uri = $3",
        )
        .bind(account.get())
        .bind(actor)
        .bind(follow_uri)
        .bind(now)
        .execute(&mut *w.tx)
        .await?;
        Self::queue_raw(&mut w.tx, account, inbox, accept, now).await?;
        self.commit_write(w, false).await?;
        self.deliveries_waiting.notify_one();
        Ok(())
    }

    pub(super) async fn write_remote_unfollow(
        &self,
        account: AccountId,
        actor: i64,
    ) -> Result<bool> {
        let mut w = self.begin_write().await?;
        let done =
            sqlx::query("DELETE FROM remote_followers WHERE account_id = $1 AND actor_id = $2")
                .bind(account.get())
                .bind(actor)
                .execute(&mut *w.tx)
                .await?;
        self.commit_write(w, false).await?;
        Ok(done.rows_affected() > 0)
    }

    /// Remote actors following `account` (their uris), for its followers collection.
    pub(super) async fn read_remote_followers(&self, account: AccountId) -> Result<Vec<String>> {
        Ok(sqlx::query(
            "SELECT ra.uri FROM remote_followers rf JOIN remote_actors ra ON ra.id = rf.actor_id \
             WHERE rf.account_id = $1 ORDER BY rf.created_at",
        )
        .bind(account.get())
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| r.try_get("uri"))
        .collect::<std::result::Result<_, _>>()?)
    }

    pub(super) async fn queue_raw(
        conn: &mut dyn Conn,
        account: AccountId,
        inbox: &str,
        body: &str,
        now: i64,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO deliveries (account_id, inbox, kind, body, next_attempt_at, created_at) \
             VALUES ($1, $2, 'raw', $3, $4, $4)",
        )
        .bind(account.get())
        .bind(inbox)
        .bind(body)
        .bind(now)
        .execute(conn.db())
        .await?;
        Ok(())
    }

    /// Queue `kind` (create, update, delete) of a local notice to the inboxes of its
    /// author's remote followers, one job per shared inbox. Direct notices and reblogs
    /// are not sent (mentions of remote actors and `Announce` come later). Called inside
    /// the transaction that changes the notice.
    pub(super) async fn queue_note(
        &self,
        conn: &mut dyn Conn,
        kind: &str,
        s: &StatusRecord,
    ) -> Result<u64> {
        if s.reblog.is_some() || s.visibility == Visibility::Direct {
            return Ok(0);
        }
        let now = crate::domain::now_micros();
        let uri = format!(
            "{}/users/{}/statuses/{}",
            self.site.base_url, s.account.username, s.id
        );
        let done = sqlx::query(
            "INSERT INTO deliveries (account_id, inbox, kind, status_id, status_uri, next_attempt_at, created_at) \
             SELECT DISTINCT $1, COALESCE(ra.shared_inbox, ra.inbox), $2, $3, $4, $5, $5 \
             FROM remote_followers rf JOIN remote_actors ra ON ra.id = rf.actor_id \
             WHERE rf.account_id = $1",
        )
        .bind(s.account.id.get())
        .bind(kind)
        .bind(s.id.get())
        .bind(&uri)
        .bind(now)
        .execute(conn.db())
        .await?;
        Ok(done.rows_affected())
    }

    /// Queue `kind` (`like`, `unlike`, `announce`, `unannounce`) by a local `account` of
    /// notice `object`: to the notice's author when she is of another server, and (an
    /// announce, or its undoing) to the account's remote followers, one job per inbox.
    /// `status_id`: the liked notice, or the reblog. Called inside the change's
    /// transaction; how many jobs were queued.
    pub(super) async fn queue_reaction(
        &self,
        conn: &mut dyn Conn,
        account: &crate::domain::entities::AccountRecord,
        kind: &str,
        status_id: StatusId,
        object: &StatusRecord,
    ) -> Result<u64> {
        if account.remote.is_some() {
            return Ok(0);
        }
        let uri = match &object.remote {
            Some(r) => r.0.clone(),
            None => format!(
                "{}/users/{}/statuses/{}",
                self.site.base_url, object.account.username, object.id
            ),
        };
        let to_followers = i64::from(kind.ends_with("announce"));
        let now = crate::domain::now_micros();
        let done = sqlx::query(
            "INSERT INTO deliveries (account_id, inbox, kind, status_id, status_uri, next_attempt_at, created_at) \
             SELECT DISTINCT $1, t.box, $2, $3, $4, $5, $5 FROM (\
             SELECT COALESCE(shared_inbox, inbox) AS box FROM remote_actors WHERE account_id = $6 \
             UNION SELECT COALESCE(ra.shared_inbox, ra.inbox) AS box FROM remote_followers rf \
             JOIN remote_actors ra ON ra.id = rf.actor_id WHERE rf.account_id = $1 AND $7 = 1) t",
        )
        .bind(account.id.get())
        .bind(kind)
        .bind(status_id.get())
        .bind(&uri)
        .bind(now)
        .bind(object.account.id.get())
        .bind(to_followers)
        .execute(conn.db())
        .await?;
        if done.rows_affected() > 0 {
            self.deliveries_waiting.notify_one();
        }
        Ok(done.rows_affected())
    }

    /// Which of `authors` have followers on other servers.
    pub(super) async fn federated_authors(
        &self,
        conn: &mut dyn Conn,
        authors: impl Iterator<Item = AccountId>,
    ) -> Result<Vec<AccountId>> {
        let ids: Vec<String> = authors.map(|a| a.get().to_string()).collect();
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        // Ids are numbers we made; inlined, the statement is the same for both databases.
        Ok(sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT DISTINCT account_id FROM remote_followers WHERE account_id IN ({})",
            ids.join(",")
        )))
        .fetch_all(conn.db())
        .await?
        .iter()
        .map(|r| r.try_get::<i64, _>("account_id").map(AccountId::new))
        .collect::<std::result::Result<_, _>>()?)
    }

    /// Record an activity's id: true the first time, false when it was seen before.
    pub(super) async fn write_seen(&self, uri: &str) -> Result<bool> {
        let mut w = self.begin_write_leaving_tokens().await?;
        let done = sqlx::query(
            "INSERT INTO inbox_seen (activity_uri, seen_at) VALUES ($1, $2) \
             ON CONFLICT (activity_uri) DO NOTHING",
        )
        .bind(uri)
        .bind(crate::domain::now_micros())
        .execute(&mut *w.tx)
        .await?;
        self.commit_write(w, false).await?;
        Ok(done.rows_affected() > 0)
    }

    /// A remote account asks to follow a locked local one (`follow_uri`: its `Follow`):
    /// the request waits for her, and she is told.
    pub(super) async fn write_remote_follow_request(
        &self,
        requester: &crate::domain::entities::AccountRecord,
        target: AccountId,
        follow_uri: &str,
    ) -> Result<()> {
        let mut w = self.begin_write().await?;
        let fresh = sqlx::query(
            "INSERT INTO follow_requests (account_id, target_id, created_at, uri) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (account_id, target_id) DO NOTHING",
        )
        .bind(requester.id.get())
        .bind(target.get())
        .bind(crate::domain::now_micros())
        .bind(follow_uri)
        .execute(&mut *w.tx)
        .await?
        .rows_affected()
            > 0;
        let mut told = None;
        if fresh {
            told = self
                .notify(
                    &mut w.tx,
                    target,
                    crate::domain::entities::NotificationType::FollowRequest,
                    requester,
                    None,
                )
                .await?;
        } else {
            sqlx::query(
                "UPDATE follow_requests SET uri = $3 WHERE account_id = $1 AND target_id = $2",
            )
            .bind(requester.id.get())
            .bind(target.get())
            .bind(follow_uri)
            .execute(&mut *w.tx)
            .await?;
        }
        if let Some(e) = &told {
            self.insert_events(&mut w.tx, std::slice::from_ref(e))
                .await?;
        }
        self.commit_write(w, told.is_some()).await
    }

    /// The `Follow` id of a remote account's request to follow `target`, if it asks.
    pub(super) async fn read_follow_request_uri(
        &self,
        requester: AccountId,
        target: AccountId,
    ) -> Result<Option<Option<String>>> {
        let row =
            sqlx::query("SELECT uri FROM follow_requests WHERE account_id = $1 AND target_id = $2")
                .bind(requester.get())
                .bind(target.get())
                .fetch_optional(&self.pool)
                .await?;
        row.map(|r| r.try_get::<Option<String>, _>("uri"))
            .transpose()
            .map_err(Into::into)
    }

    pub(super) async fn write_forget_seen(&self, before: i64) -> Result<u64> {
        let mut w = self.begin_write_leaving_tokens().await?;
        let done = sqlx::query("DELETE FROM inbox_seen WHERE seen_at < $1")
            .bind(before)
            .execute(&mut *w.tx)
            .await?;
        self.commit_write(w, false).await?;
        Ok(done.rows_affected())
    }

    /// Queue an activity about a local account itself to its remote followers' inboxes:
    /// `profile` (`Update{Person}`, its document rendered when sent) or `delete_actor`
    /// (`Delete` of the actor: a suspension).
    pub(super) async fn queue_actor(
        conn: &mut dyn Conn,
        account: AccountId,
        kind: &'static str,
    ) -> Result<u64> {
        let now = crate::domain::now_micros();
        let done = sqlx::query(
            "INSERT INTO deliveries (account_id, inbox, kind, next_attempt_at, created_at) \
             SELECT DISTINCT $1, COALESCE(ra.shared_inbox, ra.inbox), $3, $2, $2 \
             FROM remote_followers rf JOIN remote_actors ra ON ra.id = rf.actor_id \
             WHERE rf.account_id = $1",
        )
        .bind(account.get())
        .bind(now)
        .bind(kind)
        .execute(conn.db())
        .await?;
        Ok(done.rows_affected())
    }

    pub(super) async fn write_unseen(&self, uri: &str) -> Result<()> {
        let mut w = self.begin_write_leaving_tokens().await?;
        sqlx::query("DELETE FROM inbox_seen WHERE activity_uri = $1")
            .bind(uri)
            .execute(&mut *w.tx)
            .await?;
        self.commit_write(w, false).await
    }

    /// Take up to `limit` jobs that are due, each for `lease` microseconds: no other
    /// worker (on any node) takes them meanwhile. On Postgres `FOR UPDATE SKIP LOCKED`
    /// keeps two nodes off one job; on SQLite the single writer does.
    pub(super) async fn claim_deliveries(
        &self,
        now: i64,
        limit: i64,
        lease: i64,
    ) -> Result<Vec<Delivery>> {
        let lock = if self.backend == Backend::Postgres {
            " FOR UPDATE SKIP LOCKED"
        } else {
            ""
        };
        let mut w = self.begin_write_leaving_tokens().await?;
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE deliveries SET locked_until = $2 WHERE id IN (\
             SELECT id FROM deliveries WHERE next_attempt_at <= $1 AND locked_until <= $1 \
             ORDER BY next_attempt_at LIMIT $3{lock}) \
             RETURNING id, account_id, inbox, kind, status_id, status_uri, body, attempts"
        )))
        .bind(now)
        .bind(now + lease)
        .bind(limit)
        .fetch_all(&mut *w.tx)
        .await?;
        self.commit_write(w, false).await?;
        rows.iter()
            .map(|r| {
                Ok(Delivery {
                    id: r.try_get("id")?,
                    account_id: AccountId::new(r.try_get("account_id")?),
                    inbox: r.try_get("inbox")?,
                    kind: r.try_get("kind")?,
                    status_id: r.try_get::<Option<i64>, _>("status_id")?.map(StatusId::new),
                    status_uri: r.try_get("status_uri")?,
                    body: r.try_get("body")?,
                    attempts: r
                        .try_get::<i32, _>("attempts")
                        .map(i64::from)
                        .or_else(|_| r.try_get::<i64, _>("attempts"))?,
                })
            })
            .collect()
    }

    /// A job is done (sent, or given up): gone from the queue.
    pub(super) async fn write_delivery_done(&self, id: i64) -> Result<()> {
        let mut w = self.begin_write_leaving_tokens().await?;
        sqlx::query("DELETE FROM deliveries WHERE id = $1")
            .bind(id)
            .execute(&mut *w.tx)
            .await?;
        self.commit_write(w, false).await
    }

    /// A job failed: try again at `next`.
    pub(super) async fn write_delivery_retry(&self, id: i64, next: i64) -> Result<()> {
        let mut w = self.begin_write_leaving_tokens().await?;
        sqlx::query(
            "UPDATE deliveries SET attempts = attempts + 1, next_attempt_at = $2, locked_until = 0 WHERE id = $1",
        )
        .bind(id)
        .bind(next)
        .execute(&mut *w.tx)
        .await?;
        self.commit_write(w, false).await
    }

    /// An inbox is gone for good (410): its actors follow no one here any more.
    pub(super) async fn write_inbox_gone(&self, inbox: &str) -> Result<u64> {
        let mut w = self.begin_write().await?;
        let done = sqlx::query(
            "DELETE FROM remote_followers WHERE actor_id IN \
             (SELECT id FROM remote_actors WHERE inbox = $1)",
        )
        .bind(inbox)
        .execute(&mut *w.tx)
        .await?;
        self.commit_write(w, false).await?;
        Ok(done.rows_affected())
    }

    pub(super) async fn read_delivery_depth(&self) -> Result<i64> {
        Ok(sqlx::query("SELECT COUNT(*) AS n FROM deliveries")
            .fetch_one(&self.pool)
            .await?
            .try_get("n")?)
    }
}
