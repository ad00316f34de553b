//! Timeline reads: one query for a page of statuses, one for reblog targets, two for
//! the viewer's flags; never a query per status.

use super::queries::{self, Sql, status_select};
use super::sql::SqlStore;
use super::*;

impl SqlStore {
    pub(super) async fn read_timeline(
        &self,
        which: &Timeline,
        page: Page,
        viewer: Option<AccountId>,
    ) -> Result<Vec<StatusRecord>> {
        let mut qb = Sql::new(status_select!());
        match which {
            Timeline::Public { local, remote } | Timeline::Tag { local, remote, .. } => {
                if let Timeline::Tag { tag, .. } = which {
                    qb.push(" JOIN status_tags t ON t.status_id = s.id WHERE t.tag = ");
                    qb.text(tag);
                    qb.push(" AND ");
                } else {
                    qb.push(" WHERE ");
                }
                // Silenced and suspended authors stay out of the public places.
                qb.push(
                    "s.visibility = 'public' AND s.reblog_of_id IS NULL \
                     AND a.silenced_at IS NULL AND a.suspended_at IS NULL",
                );
                // `local`: ours only; `remote`: other servers' only.
                if *local && !*remote {
                    qb.push(" AND a.domain IS NULL");
                } else if *remote && !*local {
                    qb.push(" AND a.domain IS NOT NULL");
                }
            }
            Timeline::Home { account_id } => {
                qb.push(" WHERE (s.account_id = ");
                qb.int(*account_id);
                qb.push(" OR s.account_id IN (SELECT target_id FROM follows WHERE follower_id = ");
                qb.int(*account_id);
                qb.push("))");
                // Members of her exclusive lists are read there, not here.
                qb.push(" AND (s.account_id = ");
                qb.int(*account_id);
                qb.push(
                    " OR s.account_id NOT IN (SELECT la.account_id FROM list_accounts la \
                     JOIN lists l ON l.id = la.list_id WHERE l.exclusive = 1 AND l.account_id = ",
                );
                qb.int(*account_id);
                qb.push("))");
                // Direct notices only of her own or to her.
                queries::push_visible(&mut qb, Some(*account_id));
            }
            Timeline::List { list } => {
                qb.push(
                    " WHERE s.account_id IN (SELECT account_id FROM list_accounts WHERE list_id = ",
                );
                qb.int(list.id);
                qb.push(") AND s.visibility <> 'direct'");
                // Members are followed by the owner: all but direct notices are hers to see.
                match list.replies_policy.as_str() {
                    "none" => {
                        qb.push(" AND (s.in_reply_to_id IS NULL OR s.in_reply_to_account_id = s.account_id)");
                    }
                    "followed" => {
                        qb.push(" AND (s.in_reply_to_account_id IS NULL OR s.in_reply_to_account_id = s.account_id OR s.in_reply_to_account_id = ");
                        qb.int(list.account_id);
                        qb.push(" OR s.in_reply_to_account_id IN (SELECT target_id FROM follows WHERE follower_id = ");
                        qb.int(list.account_id);
                        qb.push("))");
                    }
                    _ => {
                        qb.push(" AND (s.in_reply_to_account_id IS NULL OR s.in_reply_to_account_id = s.account_id OR s.in_reply_to_account_id IN (SELECT account_id FROM list_accounts WHERE list_id = ");
                        qb.int(list.id);
                        qb.push("))");
                    }
                }
            }
            Timeline::Account { account_id, filter } => {
                qb.push(" WHERE s.account_id = ");
                qb.int(*account_id);
                queries::push_visible(&mut qb, viewer);
                if filter.pinned {
                    qb.push(" AND s.id IN (SELECT p.status_id FROM pins p WHERE p.account_id = ");
                    qb.int(*account_id);
                    qb.push(")");
                }
                // As Mastodon: a reply to oneself (a thread) is not a reply here.
                if filter.exclude_replies {
                    qb.push(" AND (s.in_reply_to_id IS NULL OR s.in_reply_to_account_id = s.account_id)");
                }
                if filter.only_media {
                    qb.push(" AND s.has_media = 1");
                }
                if filter.exclude_reblogs {
                    qb.push(" AND s.reblog_of_id IS NULL");
                }
                if let Some(tag) = &filter.tagged {
                    qb.push(" AND EXISTS (SELECT 1 FROM status_tags t WHERE t.status_id = s.id AND t.tag = ");
                    qb.text(tag);
                    qb.push(")");
                }
            }
            Timeline::Event { event_id, part } => {
                qb.push(
                    " JOIN live_event_statuses les ON les.status_id = s.id WHERE les.event_id = ",
                );
                qb.int(*event_id);
                qb.push(match part {
                    LivePart::Curated => " AND les.state = 'curated'",
                    LivePart::Pinned => " AND les.state = 'curated' AND les.pinned_at IS NOT NULL",
                    LivePart::Keyed => " AND les.state = 'curated' AND les.key_label IS NOT NULL",
                    LivePart::Open => " AND les.state = 'open'",
                });
                // A public place: as the tag pages, nothing of silenced authors.
                qb.push(" AND s.visibility = 'public' AND a.silenced_at IS NULL");
            }
        }
        qb.push(" AND s.deleted_at IS NULL AND a.suspended_at IS NULL");
        // What the reader blocked or muted, or who blocked her, is not in her timelines
        // (a profile she opens still shows its own notices).
        if let (Some(v), false) = (viewer, matches!(which, Timeline::Account { .. })) {
            super::hide::push_unhidden(&mut qb, "s.account_id", v, crate::domain::now_micros());
        }
        if let Some(max) = page.max_id {
            qb.push(" AND s.id < ");
            qb.int(max);
        }
        if let Some(since) = page.since_id {
            qb.push(" AND s.id > ");
            qb.int(since);
        }
        // `min_id` pages from just above it (oldest first), then we flip to newest first.
        let ascending = page.min_id.is_some();
        if let Some(min) = page.min_id {
            qb.push(" AND s.id > ");
            qb.int(min);
        }
        qb.push(if ascending {
            " ORDER BY s.id ASC LIMIT "
        } else {
            " ORDER BY s.id DESC LIMIT "
        });
        qb.int(page.limit);
        let mut conn = self.pool.acquire().await?;
        let rows = qb.build(&conn).fetch_all(conn.db()).await?;
        let mut rows = rows
            .iter()
            .map(queries::status_row)
            .collect::<Result<Vec<_>>>()?;
        if ascending {
            rows.reverse();
        }
        Self::complete(&mut conn, rows, viewer).await
    }
}
