//! Media attachments: uploaded by an account, attached to one notice of hers when she
//! posts it, read with the notices that carry them (one query per page, and only when a
//! page has any); and the files themselves when the database keeps them.

use super::queries::Sql;
use super::sql::SqlStore;
use super::*;
use crate::domain::entities::MediaRecord;
use sqlx::Row;

/// Attachments per notice, as on Mastodon.
pub const MAX_MEDIA: usize = 4;

const MEDIA_COLUMNS: &str = "id, account_id, status_id, file_key, preview_key, width, height, \
    preview_width, preview_height, blurhash, description, focus_x, focus_y";

fn media_row(r: &sqlx::any::AnyRow) -> Result<MediaRecord> {
    Ok(MediaRecord {
        id: r.try_get("id")?,
        account_id: r.try_get("account_id")?,
        status_id: r.try_get("status_id")?,
        file_key: r.try_get("file_key")?,
        preview_key: r.try_get("preview_key")?,
        width: r.try_get::<i64, _>("width")? as u32,
        height: r.try_get::<i64, _>("height")? as u32,
        preview_width: r.try_get::<i64, _>("preview_width")? as u32,
        preview_height: r.try_get::<i64, _>("preview_height")? as u32,
        blurhash: r.try_get("blurhash")?,
        description: r.try_get("description")?,
        focus: (r.try_get("focus_x")?, r.try_get("focus_y")?),
    })
}

impl SqlStore {
    pub(super) async fn attach_media(
        conn: &mut dyn Conn,
        list: &mut [StatusRecord],
        with_media: &[StatusId],
    ) -> Result<()> {
        if with_media.is_empty() {
            return Ok(());
        }
        let mut q = Sql::new(
            "SELECT id, account_id, status_id, file_key, preview_key, width, height, \
            preview_width, preview_height, blurhash, description, focus_x, focus_y \
            FROM media_attachments WHERE status_id IN (",
        );
        q.int_list(with_media).push(") ORDER BY id");
        let found: Vec<MediaRecord> = q
            .build(conn)
            .fetch_all(conn.db())
            .await?
            .iter()
            .map(media_row)
            .collect::<Result<_>>()?;
        let of = |id: StatusId| -> Vec<MediaRecord> {
            found
                .iter()
                .filter(|m| m.status_id == Some(id))
                .cloned()
                .collect()
        };
        for s in list.iter_mut() {
            s.media = of(s.id);
            if let Some(r) = s.reblog.as_mut() {
                r.media = of(r.id);
            }
        }
        Ok(())
    }

    /// Check that `ids` are `account`'s and free, before a notice takes them.
    pub(super) async fn check_media(
        conn: &mut dyn Conn,
        account: AccountId,
        ids: &[i64],
    ) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        if ids.len() > MAX_MEDIA {
            return Err(StoreError::Invalid(format!(
                "Validation failed: at most {MAX_MEDIA} media attachments"
            )));
        }
        let mut q = Sql::new(
            "SELECT COUNT(*) AS n FROM media_attachments WHERE status_id IS NULL AND account_id = ",
        );
        q.int(account).push(" AND id IN (").int_list(ids).push(")");
        let n: i64 = q.build(conn).fetch_one(conn.db()).await?.try_get("n")?;
        let mut unique = ids.to_vec();
        unique.sort_unstable();
        unique.dedup();
        if n != unique.len() as i64 || unique.len() != ids.len() {
            return Err(StoreError::Invalid(
                "Validation failed: media_ids are not yours to attach (or already attached)".into(),
            ));
        }
        Ok(())
    }

    /// Make `ids` the images of `author`'s notice `status`: each must be hers and either
    /// on it already or not on any notice. The ones it no longer has are deleted, so
    /// their files are no longer served.
    pub(super) async fn replace_media(
        conn: &mut dyn Conn,
        author: AccountId,
        status: StatusId,
        ids: &[i64],
    ) -> Result<()> {
        let mut unique = ids.to_vec();
        unique.sort_unstable();
        unique.dedup();
        if unique.len() != ids.len() || ids.len() > MAX_MEDIA {
            return Err(StoreError::Invalid(format!(
                "Validation failed: at most {MAX_MEDIA} media attachments, each once"
            )));
        }
        if !ids.is_empty() {
            let mut q = Sql::new("SELECT COUNT(*) AS n FROM media_attachments WHERE account_id = ");
            q.int(author)
                .push(" AND (status_id IS NULL OR status_id = ")
                .int(status)
                .push(") AND id IN (")
                .int_list(ids)
                .push(")");
            let n: i64 = q.build(conn).fetch_one(conn.db()).await?.try_get("n")?;
            if n != ids.len() as i64 {
                return Err(StoreError::Invalid(
                    "Validation failed: media_ids are not yours to attach (or already attached)"
                        .into(),
                ));
            }
        }
        let mut q = Sql::new("DELETE FROM media_attachments WHERE status_id = ");
        q.int(status);
        if !ids.is_empty() {
            q.push(" AND id NOT IN (").int_list(ids).push(")");
        }
        q.build(conn).execute(conn.db()).await?;
        if !ids.is_empty() {
            let mut q = Sql::new("UPDATE media_attachments SET status_id = ");
            q.int(status).push(" WHERE id IN (").int_list(ids).push(")");
            q.build(conn).execute(conn.db()).await?;
        }
        sqlx::query("UPDATE statuses SET has_media = $2 WHERE id = $1")
            .bind(status)
            .bind(i64::from(!ids.is_empty()))
            .execute(conn.db())
            .await?;
        Ok(())
    }

    /// Give `ids` to notice `status`.
    pub(super) async fn take_media(
        conn: &mut dyn Conn,
        status: StatusId,
        ids: &[i64],
    ) -> Result<()> {
        let mut q = Sql::new("UPDATE media_attachments SET status_id = ");
        q.int(status)
            .push(" WHERE status_id IS NULL AND id IN (")
            .int_list(ids)
            .push(")");
        let n = q.build(conn).execute(conn.db()).await?.rows_affected();
        if n != ids.len() as u64 {
            return Err(StoreError::Invalid(
                "Validation failed: media_ids are not yours to attach (or already attached)".into(),
            ));
        }
        Ok(())
    }

    pub(super) async fn write_media(&self, m: &MediaRecord) -> Result<MediaRecord> {
        let id: i64 = sqlx::query(
            "INSERT INTO media_attachments (account_id, file_key, preview_key, width, height, \
             preview_width, preview_height, blurhash, description, focus_x, focus_y, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id",
        )
        .bind(m.account_id)
        .bind(&m.file_key)
        .bind(&m.preview_key)
        .bind(i64::from(m.width))
        .bind(i64::from(m.height))
        .bind(i64::from(m.preview_width))
        .bind(i64::from(m.preview_height))
        .bind(&m.blurhash)
        .bind(&m.description)
        .bind(m.focus.0)
        .bind(m.focus.1)
        .bind(crate::domain::now_micros())
        .fetch_one(&self.pool)
        .await?
        .try_get("id")?;
        self.read_media(id).await?.ok_or(StoreError::NotFound)
    }

    pub(super) async fn read_media(&self, id: i64) -> Result<Option<MediaRecord>> {
        let q = format!("SELECT {MEDIA_COLUMNS} FROM media_attachments WHERE id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(q))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(media_row).transpose()
    }

    pub(super) async fn write_media_text(
        &self,
        id: i64,
        description: Option<&str>,
        focus: Option<(f64, f64)>,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE media_attachments SET description = COALESCE($2, description), \
             focus_x = COALESCE($3, focus_x), focus_y = COALESCE($4, focus_y) WHERE id = $1",
        )
        .bind(id)
        .bind(description)
        .bind(focus.map(|f| f.0))
        .bind(focus.map(|f| f.1))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub(super) async fn read_media_file_live(&self, key: &str) -> Result<bool> {
        let row = sqlx::query(
            "SELECT 1 AS x FROM media_attachments m LEFT JOIN statuses s ON s.id = m.status_id \
             WHERE (m.file_key = $1 OR m.preview_key = $1) AND s.deleted_at IS NULL \
             UNION ALL SELECT 1 FROM accounts WHERE avatar_key = $1 \
             UNION ALL SELECT 1 FROM accounts WHERE header_key = $1",
        )
        .bind(key)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.is_some())
    }

    pub(super) async fn write_blob(
        &self,
        key: &str,
        content_type: &str,
        bytes: Vec<u8>,
    ) -> Result<()> {
        sqlx::query("INSERT INTO media_blobs (file_key, content_type, bytes) VALUES ($1, $2, $3)")
            .bind(key)
            .bind(content_type)
            .bind(bytes)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub(super) async fn read_blob(&self, key: &str) -> Result<Option<(String, Vec<u8>)>> {
        let row = sqlx::query("SELECT content_type, bytes FROM media_blobs WHERE file_key = $1")
            .bind(key)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| Ok((r.try_get("content_type")?, r.try_get("bytes")?)))
            .transpose()
    }
}
