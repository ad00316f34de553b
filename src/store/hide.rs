//! Blocks and mutes. A block hides two accounts from each other and ends their follows;
//! a mute hides the muted from the muter (and, unless told otherwise, her notifications),
//! until it expires. Each change writes a `tidings.hidden` event per account whose view
//! changed, carrying her whole new list, so that her open streams on every node apply it
//! at once (see `crate::stream::hub::Screen`); reads apply the same rule in SQL.

use super::queries::Sql;
use super::sql::SqlStore;
use super::*;
use crate::domain::event::Hidden;
use sqlx::{AnyConnection, Row};

/// What is blocked or muted, and how.
#[derive(Debug, Clone, Copy)]
pub enum Hide {
    Block,
    Mute {
        /// Also hide her notifications (Mastodon's default).
        notifications: bool,
        /// When the mute ends (microseconds), if it does.
        expires_at: Option<i64>,
    },
}

/// `AND <column> NOT IN (…)`: the accounts `viewer` does not see, as of `now`.
pub(super) fn push_unhidden(q: &mut Sql, column: &'static str, viewer: AccountId, now: i64) {
    q.push(" AND ").push(column);
    q.push(" NOT IN (SELECT target_id FROM blocks WHERE account_id = ")
        .int(viewer);
    q.push(" UNION SELECT account_id FROM blocks WHERE target_id = ")
        .int(viewer);
    q.push(" UNION SELECT target_id FROM mutes WHERE account_id = ")
        .int(viewer);
    q.push(" AND (expires_at IS NULL OR expires_at > ")
        .int(now)
        .push("))");
}

impl SqlStore {
    pub(super) async fn read_hidden(
        conn: &mut dyn Conn,
        account: AccountId,
    ) -> Result<Vec<AccountId>> {
        let rows = sqlx::query(
            "SELECT target_id AS id FROM blocks WHERE account_id = $1 \
             UNION SELECT account_id FROM blocks WHERE target_id = $1 \
             UNION SELECT target_id FROM mutes WHERE account_id = $1 \
               AND (expires_at IS NULL OR expires_at > $2)",
        )
        .bind(account)
        .bind(crate::domain::now_micros())
        .fetch_all(conn.db())
        .await?;
        rows.iter().map(|r| Ok(r.try_get("id")?)).collect()
    }

    /// Does `recipient` hear of what `from` does? Not if either blocked the other, nor
    /// if she muted `from` with his notifications.
    pub(super) async fn hears_from(
        conn: &mut dyn Conn,
        recipient: AccountId,
        from: AccountId,
    ) -> Result<bool> {
        let row = sqlx::query(
            "SELECT 1 AS x FROM blocks WHERE (account_id = $1 AND target_id = $2) \
                OR (account_id = $2 AND target_id = $1) \
             UNION SELECT 1 FROM mutes WHERE account_id = $1 AND target_id = $2 \
                AND notifications = 1 AND (expires_at IS NULL OR expires_at > $3)",
        )
        .bind(recipient)
        .bind(from)
        .bind(crate::domain::now_micros())
        .fetch_optional(conn.db())
        .await?;
        Ok(row.is_none())
    }

    pub(super) async fn write_hide(
        &self,
        account: AccountId,
        target: AccountId,
        how: Hide,
        on: bool,
    ) -> Result<Relationship> {
        if account == target {
            return Err(StoreError::Invalid(
                "Validation failed: you cannot do that to yourself".into(),
            ));
        }
        let mut w = self.begin_write().await?;
        let conn: &mut AnyConnection = &mut w.tx;
        Self::fetch_account(conn, target)
            .await?
            .ok_or(StoreError::NotFound)?;
        let now = crate::domain::now_micros();
        let changed = match (how, on) {
            (Hide::Block, true) => {
                let n = sqlx::query(
                    "INSERT INTO blocks (account_id, target_id, created_at) VALUES ($1, $2, $3) \
                     ON CONFLICT DO NOTHING",
                )
                .bind(account)
                .bind(target)
                .bind(now)
                .execute(conn.db())
                .await?
                .rows_affected();
                // A block ends the follows both ways (counters with them).
                for (follower, followed) in [(account, target), (target, account)] {
                    let gone = sqlx::query(
                        "DELETE FROM follows WHERE follower_id = $1 AND target_id = $2",
                    )
                    .bind(follower)
                    .bind(followed)
                    .execute(conn.db())
                    .await?
                    .rows_affected();
                    if gone > 0 {
                        Self::leave_lists(conn, follower, followed).await?;
                        sqlx::query("UPDATE accounts SET following_count = following_count - 1 WHERE id = $1 AND following_count > 0")
                            .bind(follower)
                            .execute(conn.db())
                            .await?;
                        sqlx::query("UPDATE accounts SET followers_count = followers_count - 1 WHERE id = $1 AND followers_count > 0")
                            .bind(followed)
                            .execute(conn.db())
                            .await?;
                    }
                }
                n > 0
            }
            (Hide::Block, false) => {
                sqlx::query("DELETE FROM blocks WHERE account_id = $1 AND target_id = $2")
                    .bind(account)
                    .bind(target)
                    .execute(conn.db())
                    .await?
                    .rows_affected()
                    > 0
            }
            (
                Hide::Mute {
                    notifications,
                    expires_at,
                },
                true,
            ) => {
                sqlx::query(
                    "INSERT INTO mutes (account_id, target_id, notifications, expires_at, created_at) \
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (account_id, target_id) \
                     DO UPDATE SET notifications = $3, expires_at = $4",
                )
                .bind(account)
                .bind(target)
                .bind(i64::from(notifications))
                .bind(expires_at)
                .bind(now)
                .execute(conn.db())
                .await?;
                true
            }
            (Hide::Mute { .. }, false) => {
                sqlx::query("DELETE FROM mutes WHERE account_id = $1 AND target_id = $2")
                    .bind(account)
                    .bind(target)
                    .execute(conn.db())
                    .await?
                    .rows_affected()
                    > 0
            }
        };
        if changed {
            // Whose view changed: the muter's; with a block, both accounts'.
            let mut views = vec![account];
            if matches!(how, Hide::Block) {
                views.push(target);
            }
            let mut events = Vec::with_capacity(views.len());
            for v in views {
                let hidden = Self::read_hidden(conn, v).await?;
                events.push(NewEvent::hidden(&Hidden { account: v, hidden }));
            }
            self.insert_events(conn, &events).await?;
        }
        self.commit_write(w, changed).await?;
        self.relationship(account, target).await
    }
}
