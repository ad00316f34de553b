//! Blocks of servers (applied to their accounts as they land, undone when lifted),
//! allowed domains, e-mail domain and address blocks, and run-time settings.

use super::moderation::{Audit, like_escaped};
use super::queries::Sql;
use super::sql::SqlStore;
use super::*;
use crate::domain::moderation::{AccessRule, DomainBlock};
use sqlx::{AnyConnection, Row};

/// The columns [`domain_block_row`] reads.
macro_rules! domain_block_columns {
    () => {
        "id, domain, severity, reject_media, reject_reports, private_comment, public_comment, \
         obfuscate, created_at"
    };
}

impl SqlStore {
    pub(super) async fn read_domain_blocks(&self, id: Option<i64>) -> Result<Vec<DomainBlock>> {
        let mut s = Sql::new(concat!(
            "SELECT ",
            domain_block_columns!(),
            " FROM domain_blocks"
        ));
        if let Some(id) = id {
            s.push(" WHERE id = ").int(id);
        }
        s.push(" ORDER BY id DESC");
        let mut conn = self.pool.acquire().await?;
        let rows = s.build(&conn).fetch_all(conn.db()).await?;
        rows.iter().map(domain_block_row).collect()
    }

    /// Create (`b.id == 0`) or change a domain block, and apply it to the accounts of
    /// that server: suspended or silenced from the block's time (which is how lifting it
    /// finds exactly those it suspended), with their notices withdrawn from open screens.
    pub(super) async fn write_domain_block(
        &self,
        b: &DomainBlock,
        audit: &Audit,
    ) -> Result<DomainBlock> {
        let mut w = self.begin_write().await?;
        let conn: &mut AnyConnection = &mut w.tx;
        let now = crate::domain::now_micros();
        let id: i64 = if b.id == 0 {
            sqlx::query(
                "INSERT INTO domain_blocks (domain, severity, reject_media, reject_reports, private_comment, \
                 public_comment, obfuscate, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
            )
            .bind(&b.domain)
            .bind(&b.severity)
            .bind(i64::from(b.reject_media))
            .bind(i64::from(b.reject_reports))
            .bind(&b.private_comment)
            .bind(&b.public_comment)
            .bind(i64::from(b.obfuscate))
            .bind(now)
            .fetch_one(conn.db())
            .await
            .map_err(super::sql::taken("domain"))?
            .try_get("id")?
        } else {
            let before = Self::domain_block_in(conn, b.id)
                .await?
                .ok_or(StoreError::NotFound)?;
            Self::lift_domain(conn, &before).await?;
            sqlx::query(
                "UPDATE domain_blocks SET severity = $2, reject_media = $3, reject_reports = $4, \
                 private_comment = $5, public_comment = $6, obfuscate = $7 WHERE id = $1",
            )
            .bind(b.id)
            .bind(&b.severity)
            .bind(i64::from(b.reject_media))
            .bind(i64::from(b.reject_reports))
            .bind(&b.private_comment)
            .bind(&b.public_comment)
            .bind(i64::from(b.obfuscate))
            .execute(conn.db())
            .await?;
            b.id
        };
        let block = Self::domain_block_in(conn, id)
            .await?
            .ok_or(StoreError::NotFound)?;
        let column = match block.severity.as_str() {
            "suspend" => Some("suspended_at"),
            "silence" => Some("silenced_at"),
            _ => None,
        };
        let mut events = Vec::new();
        if let Some(column) = column {
            let accounts: Vec<AccountId> = sqlx::query(
                "SELECT id FROM accounts WHERE domain = $1 OR domain LIKE $2 ESCAPE '\\'",
            )
            .bind(&block.domain)
            .bind(format!("%.{}", like_escaped(&block.domain)))
            .fetch_all(conn.db())
            .await?
            .iter()
            .map(|r| r.try_get("id"))
            .collect::<std::result::Result<_, _>>()?;
            for a in accounts {
                let sql =
                    format!("UPDATE accounts SET {column} = $2 WHERE id = $1 AND {column} IS NULL");
                let changed = sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(a)
                    .bind(block.created_at)
                    .execute(conn.db())
                    .await?
                    .rows_affected();
                if changed > 0 {
                    events.extend(Self::withdrawals(conn, a, column == "silenced_at").await?);
                }
            }
        }
        Self::write_audit(conn, audit).await?;
        events.push(NewEvent::standing(block.domain.clone()));
        self.insert_events(conn, &events).await?;
        self.commit_write(w, true).await?;
        Ok(block)
    }

    async fn domain_block_in(conn: &mut dyn Conn, id: i64) -> Result<Option<DomainBlock>> {
        let row = sqlx::query(concat!(
            "SELECT ",
            domain_block_columns!(),
            " FROM domain_blocks WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(conn.db())
        .await?;
        row.as_ref().map(domain_block_row).transpose()
    }

    /// Undo what a block did to its server's accounts (those suspended or silenced at
    /// the block's time, not by a moderator's own act).
    async fn lift_domain(conn: &mut dyn Conn, b: &DomainBlock) -> Result<()> {
        for sql in [
            "UPDATE accounts SET suspended_at = NULL WHERE suspended_at = $3 AND (domain = $1 OR domain LIKE $2 ESCAPE '\\')",
            "UPDATE accounts SET silenced_at = NULL WHERE silenced_at = $3 AND (domain = $1 OR domain LIKE $2 ESCAPE '\\')",
        ] {
            sqlx::query(sql)
                .bind(&b.domain)
                .bind(format!("%.{}", like_escaped(&b.domain)))
                .bind(b.created_at)
                .execute(conn.db())
                .await?;
        }
        Ok(())
    }

    pub(super) async fn write_domain_unblock(&self, id: i64, audit: &Audit) -> Result<DomainBlock> {
        let mut w = self.begin_write().await?;
        let conn: &mut AnyConnection = &mut w.tx;
        let b = Self::domain_block_in(conn, id)
            .await?
            .ok_or(StoreError::NotFound)?;
        Self::lift_domain(conn, &b).await?;
        sqlx::query("DELETE FROM domain_blocks WHERE id = $1")
            .bind(id)
            .execute(conn.db())
            .await?;
        Self::write_audit(conn, audit).await?;
        self.insert_events(conn, &[NewEvent::standing(b.domain.clone())])
            .await?;
        self.commit_write(w, true).await?;
        Ok(b)
    }

    /// The block that covers `domain` (itself or a parent domain), if any.
    pub(super) async fn read_domain_block_of(&self, domain: &str) -> Result<Option<DomainBlock>> {
        let blocks = self.read_domain_blocks(None).await?;
        let domain = domain.to_ascii_lowercase();
        Ok(blocks
            .into_iter()
            .filter(|b| crate::domain::moderation::domain_covers(&b.domain, &domain))
            .max_by_key(|b| b.severity == "suspend"))
    }

    pub(super) async fn read_access_rules(
        &self,
        kind: &str,
        id: Option<i64>,
    ) -> Result<Vec<AccessRule>> {
        let mut s = Sql::new(
            "SELECT id, kind, value, severity, comment, expires_at, created_at FROM access_rules WHERE kind = ",
        );
        s.text(kind);
        if let Some(id) = id {
            s.push(" AND id = ").int(id);
        }
        s.push(" ORDER BY id DESC");
        let mut conn = self.pool.acquire().await?;
        let rows = s.build(&conn).fetch_all(conn.db()).await?;
        rows.iter()
            .map(|r| {
                Ok(AccessRule {
                    id: r.try_get("id")?,
                    kind: r.try_get("kind")?,
                    value: r.try_get("value")?,
                    severity: r.try_get("severity")?,
                    comment: r.try_get("comment")?,
                    expires_at: r.try_get("expires_at")?,
                    created_at: r.try_get("created_at")?,
                })
            })
            .collect()
    }

    pub(super) async fn write_access_rule(
        &self,
        rule: &AccessRule,
        audit: &Audit,
    ) -> Result<AccessRule> {
        let mut w = self.begin_write().await?;
        let conn: &mut AnyConnection = &mut w.tx;
        let id: i64 = sqlx::query(
            "INSERT INTO access_rules (kind, value, severity, comment, expires_at, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(&rule.kind)
        .bind(&rule.value)
        .bind(&rule.severity)
        .bind(&rule.comment)
        .bind(rule.expires_at)
        .bind(crate::domain::now_micros())
        .fetch_one(conn.db())
        .await
        .map_err(super::sql::taken(if rule.kind == "ip_block" {
            "ip"
        } else {
            "domain"
        }))?
        .try_get("id")?;
        Self::write_audit(conn, audit).await?;
        self.commit_write(w, false).await?;
        let mut rule = rule.clone();
        rule.id = id;
        Ok(rule)
    }

    pub(super) async fn write_access_rule_removal(
        &self,
        kind: &str,
        id: i64,
        audit: &Audit,
    ) -> Result<()> {
        let mut w = self.begin_write().await?;
        let done = sqlx::query("DELETE FROM access_rules WHERE kind = $1 AND id = $2")
            .bind(kind)
            .bind(id)
            .execute(&mut *w.tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Self::write_audit(&mut w.tx, audit).await?;
        self.commit_write(w, false).await
    }

    pub(super) async fn read_setting(&self, name: &str) -> Result<Option<String>> {
        let row = sqlx::query("SELECT value FROM settings WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.try_get("value")).transpose()?)
    }

    pub(super) async fn write_setting(&self, name: &str, value: &str, audit: &Audit) -> Result<()> {
        let mut w = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO settings (name, value) VALUES ($1, $2) \
             ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        )
        .bind(name)
        .bind(value)
        .execute(&mut *w.tx)
        .await?;
        Self::write_audit(&mut w.tx, audit).await?;
        self.commit_write(w, false).await
    }
}

fn domain_block_row(r: &sqlx::any::AnyRow) -> Result<DomainBlock> {
    Ok(DomainBlock {
        id: r.try_get("id")?,
        domain: r.try_get("domain")?,
        severity: r.try_get("severity")?,
        reject_media: r.try_get::<i64, _>("reject_media")? != 0,
        reject_reports: r.try_get::<i64, _>("reject_reports")? != 0,
        private_comment: r.try_get("private_comment")?,
        public_comment: r.try_get("public_comment")?,
        obfuscate: r.try_get::<i64, _>("obfuscate")? != 0,
        created_at: r.try_get("created_at")?,
    })
}
