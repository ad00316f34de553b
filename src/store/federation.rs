//! What federation keeps: each local account's key pair, the remote actors we have read,
//! who of them follows whom here, the activities already received, and the delivery
//! queue (written in the transaction of the change it announces).

use super::sql::{Backend, SqlStore};
use super::*;
use sqlx::{AnyConnection, Row};

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
    "id, uri, key_id, public_key_pem, inbox, shared_inbox, username, fetched_at";

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
        let column = if by == "key_id" { "key_id" } else { "uri" };
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
        let kept = actor_row(&row)?;
        self.commit_write(w, false).await?;
        Ok(kept)
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

    async fn queue_raw(
        conn: &mut AnyConnection,
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
        .execute(&mut *conn)
        .await?;
        Ok(())
    }

    /// Queue `kind` (create, update, delete) of a local notice to the inboxes of its
    /// author's remote followers, one job per shared inbox. Direct notices and reblogs
    /// are not sent (mentions of remote actors and `Announce` come later). Called inside
    /// the transaction that changes the notice.
    pub(super) async fn queue_note(
        &self,
        conn: &mut AnyConnection,
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
        .execute(&mut *conn)
        .await?;
        Ok(done.rows_affected())
    }

    /// Which of `authors` have followers on other servers.
    pub(super) async fn federated_authors(
        &self,
        conn: &mut AnyConnection,
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
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|r| r.try_get::<i64, _>("account_id").map(AccountId::new))
        .collect::<std::result::Result<_, _>>()?)
    }

    /// Record an activity's id: true the first time, false when it was seen before.
    pub(super) async fn write_seen(&self, uri: &str) -> Result<bool> {
        let mut w = self.begin_write().await?;
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
        let mut w = self.begin_write().await?;
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
        let mut w = self.begin_write().await?;
        sqlx::query("DELETE FROM deliveries WHERE id = $1")
            .bind(id)
            .execute(&mut *w.tx)
            .await?;
        self.commit_write(w, false).await
    }

    /// A job failed: try again at `next`.
    pub(super) async fn write_delivery_retry(&self, id: i64, next: i64) -> Result<()> {
        let mut w = self.begin_write().await?;
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
