//! Portable SQL text and row decoding shared by both backends.
//!
//! Placeholders are `$N`, which PostgreSQL and SQLite both accept. Every query text is
//! a literal; dynamic parts go through [`Sql`] binds, never string formatting.

use super::{Result, StoreError, TokenRecord};
use crate::domain::entities::{AccountRecord, EditRecord, MentionRecord, StatusRecord, Visibility};
use crate::domain::event::{Event, EventKind, Position, split_streams};
use crate::domain::{AccountId, StatusId};
use sqlx::Row;
use sqlx::any::AnyRow;

/// An account's columns of table alias `$t`, each named `$p` + its column name (so that
/// a row holding several tables' columns is still read by name).
macro_rules! account_columns {
    ($t:literal, $p:literal) => {
        concat!(
            $t,
            ".id AS ",
            $p,
            "id, ",
            $t,
            ".username AS ",
            $p,
            "username, ",
            $t,
            ".display_name AS ",
            $p,
            "display_name, ",
            $t,
            ".note AS ",
            $p,
            "note, ",
            $t,
            ".created_at AS ",
            $p,
            "created_at, ",
            $t,
            ".role AS ",
            $p,
            "role, ",
            $t,
            ".suspended_at AS ",
            $p,
            "suspended_at, ",
            $t,
            ".silenced_at AS ",
            $p,
            "silenced_at, ",
            $t,
            ".sensitized_at AS ",
            $p,
            "sensitized_at, ",
            $t,
            ".disabled AS ",
            $p,
            "disabled, ",
            $t,
            ".approved AS ",
            $p,
            "approved, ",
            $t,
            ".posting_bar AS ",
            $p,
            "posting_bar, ",
            $t,
            ".statuses_count AS ",
            $p,
            "statuses_count, ",
            $t,
            ".followers_count AS ",
            $p,
            "followers_count, ",
            $t,
            ".following_count AS ",
            $p,
            "following_count, ",
            $t,
            ".last_status_at AS ",
            $p,
            "last_status_at, ",
            $t,
            ".note_source AS ",
            $p,
            "note_source, ",
            $t,
            ".locked AS ",
            $p,
            "locked, ",
            $t,
            ".bot AS ",
            $p,
            "bot, ",
            $t,
            ".discoverable AS ",
            $p,
            "discoverable, ",
            $t,
            ".fields AS ",
            $p,
            "fields, ",
            $t,
            ".privacy AS ",
            $p,
            "privacy, ",
            $t,
            ".sensitive AS ",
            $p,
            "sensitive, ",
            $t,
            ".language AS ",
            $p,
            "language, ",
            $t,
            ".avatar_key AS ",
            $p,
            "avatar_key, ",
            $t,
            ".header_key AS ",
            $p,
            "header_key, ",
            $t,
            ".domain AS ",
            $p,
            "domain, ",
            $t,
            ".uri AS ",
            $p,
            "uri, ",
            $t,
            ".url AS ",
            $p,
            "url, ",
            $t,
            ".avatar_remote AS ",
            $p,
            "avatar_remote, ",
            $t,
            ".header_remote AS ",
            $p,
            "header_remote, ",
            $t,
            ".moved_to AS ",
            $p,
            "moved_to",
        )
    };
}
pub(crate) use account_columns;

/// Reads the columns [`account_columns!`] named with prefix `$p`.
macro_rules! account_named {
    ($row:expr, $p:literal) => {{
        let row = $row;
        Ok::<_, sqlx::Error>(AccountRecord {
            id: row.try_get(concat!($p, "id"))?,
            username: row.try_get(concat!($p, "username"))?,
            display_name: row.try_get(concat!($p, "display_name"))?,
            note: row.try_get(concat!($p, "note"))?,
            created_at: row.try_get(concat!($p, "created_at"))?,
            standing: crate::domain::moderation::Standing {
                role: crate::domain::moderation::Role::parse(
                    &row.try_get::<String, _>(concat!($p, "role"))?,
                )
                .unwrap_or_default(),
                suspended_at: row.try_get(concat!($p, "suspended_at"))?,
                silenced_at: row.try_get(concat!($p, "silenced_at"))?,
                sensitized_at: row.try_get(concat!($p, "sensitized_at"))?,
                disabled: row.try_get::<i64, _>(concat!($p, "disabled"))? != 0,
                approved: row.try_get::<i64, _>(concat!($p, "approved"))? != 0,
                posting_bar: row
                    .try_get::<Option<String>, _>(concat!($p, "posting_bar"))?
                    .as_deref()
                    .and_then(crate::domain::moderation::PostingBar::parse),
            },
            statuses_count: row.try_get(concat!($p, "statuses_count"))?,
            followers_count: row.try_get(concat!($p, "followers_count"))?,
            following_count: row.try_get(concat!($p, "following_count"))?,
            last_status_at: row.try_get(concat!($p, "last_status_at"))?,
            profile: crate::domain::entities::Profile {
                note_source: row.try_get(concat!($p, "note_source"))?,
                locked: row.try_get::<i64, _>(concat!($p, "locked"))? != 0,
                bot: row.try_get::<i64, _>(concat!($p, "bot"))? != 0,
                discoverable: row.try_get::<i64, _>(concat!($p, "discoverable"))? != 0,
                fields: serde_json::from_str(&row.try_get::<String, _>(concat!($p, "fields"))?)
                    .unwrap_or_default(),
                privacy: Visibility::from_stored(
                    &row.try_get::<String, _>(concat!($p, "privacy"))?,
                )
                .unwrap_or(Visibility::Public),
                sensitive: row.try_get::<i64, _>(concat!($p, "sensitive"))? != 0,
                language: row.try_get(concat!($p, "language"))?,
                avatar_key: row.try_get(concat!($p, "avatar_key"))?,
                header_key: row.try_get(concat!($p, "header_key"))?,
            },
            remote: match row.try_get::<Option<String>, _>(concat!($p, "domain"))? {
                None => None,
                Some(domain) => Some(Box::new(crate::domain::entities::RemoteAccount {
                    domain,
                    uri: row
                        .try_get::<Option<String>, _>(concat!($p, "uri"))?
                        .unwrap_or_default(),
                    url: row
                        .try_get::<Option<String>, _>(concat!($p, "url"))?
                        .unwrap_or_default(),
                    avatar: row.try_get(concat!($p, "avatar_remote"))?,
                    header: row.try_get(concat!($p, "header_remote"))?,
                    moved_to: row.try_get(concat!($p, "moved_to"))?,
                })),
            },
        })
    }};
}

/// A status's columns (as named in `statuses`) and its author's (prefixed `author_`).
macro_rules! status_select {
    () => {
        concat!(
            "SELECT s.id, s.text, s.content, s.spoiler_text, s.sensitive, s.visibility, \
             s.language, s.in_reply_to_id, s.in_reply_to_account_id, s.reblog_of_id, s.tags, s.mentions, \
             s.replies_count, s.reblogs_count, s.favourites_count, s.created_at, s.edited_at, s.deleted_at, \
             s.poll_id, s.has_media, s.uri, s.url, ",
            $crate::store::queries::account_columns!("a", "author_"),
            " FROM statuses s JOIN accounts a ON a.id = s.account_id"
        )
    };
}
pub(crate) use status_select;

pub const SELECT_ACCOUNT_BY_ID: &str = concat!(
    "SELECT ",
    account_columns!("a", ""),
    " FROM accounts a WHERE a.id = $1"
);
pub const SELECT_ACCOUNT_BY_USERNAME: &str = concat!(
    "SELECT ",
    account_columns!("a", ""),
    // Local accounts only: a remote account's `username_lower` is `name@domain`, and a
    // name from a URL (`/users/x@y`) must never reach one.
    " FROM accounts a WHERE a.username_lower = $1 AND a.domain IS NULL"
);
pub const SELECT_REMOTE_ACCOUNT: &str = concat!(
    "SELECT ",
    account_columns!("a", ""),
    " FROM accounts a WHERE a.username_lower = $1 AND a.domain IS NOT NULL"
);
pub const SELECT_ACCOUNT_BY_EMAIL: &str = concat!(
    "SELECT ",
    account_columns!("a", ""),
    // Stored lowercased: compared as is, so the unique index answers.
    " FROM accounts a WHERE a.email = $1"
);
pub const SELECT_STATUS_BY_ID: &str = concat!(status_select!(), " WHERE s.id = $1");
pub const SELECT_TOKEN: &str = concat!(
    "SELECT t.id, t.app_id, t.scopes, t.created_at, ",
    account_columns!("a", "account_"),
    " FROM tokens t LEFT JOIN accounts a ON a.id = t.account_id WHERE t.token_hash = $1",
    // A disabled or suspended account's tokens do not work (a disable keeps them, so
    // they work again once she is enabled).
    " AND (t.account_id IS NULL OR (a.suspended_at IS NULL AND a.disabled = 0))"
);
/// The columns [`event_row`] reads, of an `events` row aliased `e`.
macro_rules! event_columns {
    () => {
        "e.position, e.kind, e.payload, e.streams, e.created_at, e.author_id, e.id"
    };
}
pub(crate) use event_columns;

/// The account a notification is from (columns prefixed `from_`).
pub fn account_from(row: &AnyRow) -> Result<AccountRecord> {
    Ok(account_named!(row, "from_")?)
}

/// An account read with [`account_columns!`] and no prefix.
pub fn account_row(row: &AnyRow) -> Result<AccountRecord> {
    Ok(account_named!(row, "")?)
}

/// A status row as read, before its reblog target is attached.
pub struct StatusRow {
    pub record: StatusRecord,
    pub reblog_of_id: Option<StatusId>,
    pub deleted: bool,
    pub has_media: bool,
}

pub fn status_row(row: &AnyRow) -> Result<StatusRow> {
    let mentions: String = row.try_get("mentions")?;
    let tags: String = row.try_get("tags")?;
    let visibility: String = row.try_get("visibility")?;
    let record = StatusRecord {
        id: row.try_get("id")?,
        account: account_named!(row, "author_")?,
        text: row.try_get("text")?,
        content: row.try_get("content")?,
        spoiler_text: row.try_get("spoiler_text")?,
        sensitive: row.try_get::<i64, _>("sensitive")? != 0,
        visibility: Visibility::from_stored(&visibility).ok_or_else(|| {
            StoreError::Invalid(format!("stored visibility {visibility:?} is unknown"))
        })?,
        language: row.try_get("language")?,
        in_reply_to_id: row.try_get("in_reply_to_id")?,
        in_reply_to_account_id: row.try_get("in_reply_to_account_id")?,
        reblog: None,
        created_at: row.try_get("created_at")?,
        edited_at: row.try_get("edited_at")?,
        replies_count: row.try_get("replies_count")?,
        reblogs_count: row.try_get("reblogs_count")?,
        favourites_count: row.try_get("favourites_count")?,
        tags: tags
            .split(' ')
            .filter(|t| !t.is_empty())
            .map(str::to_string)
            .collect(),
        mentions: decode_mentions(&mentions),
        viewer: None,
        // Filled in by `SqlStore::attach_polls`.
        poll: row
            .try_get::<Option<i64>, _>("poll_id")?
            .map(crate::domain::entities::PollRecord::unloaded),
        // Filled in by `SqlStore::attach_media` when `has_media` says there is some.
        media: Vec::new(),
        remote: match row.try_get::<Option<String>, _>("uri")? {
            Some(uri) => {
                let url = row.try_get::<Option<String>, _>("url")?;
                Some(Box::new((uri.clone(), url.unwrap_or(uri))))
            }
            None => None,
        },
    };
    Ok(StatusRow {
        has_media: row.try_get::<i64, _>("has_media")? != 0,
        record,
        reblog_of_id: row.try_get("reblog_of_id")?,
        deleted: row.try_get::<Option<i64>, _>("deleted_at")?.is_some(),
    })
}

/// Mentions are stored as `id:username` pairs separated by spaces.
pub fn encode_mentions(m: &[MentionRecord]) -> String {
    m.iter()
        .map(|m| format!("{}:{}", m.id, m.username))
        .collect::<Vec<_>>()
        .join(" ")
}

fn decode_mentions(s: &str) -> Vec<MentionRecord> {
    s.split(' ')
        .filter_map(|p| {
            let (id, name) = p.split_once(':')?;
            Some(MentionRecord {
                id: AccountId::new(id.parse().ok()?),
                username: name.to_string(),
            })
        })
        .collect()
}

/// A position read from the database.
pub fn position_of(p: i64) -> Result<Position> {
    Position::new(p).ok_or_else(|| StoreError::Invalid(format!("stored position {p} is negative")))
}

/// An event read with [`event_columns!`].
pub fn event_row(row: &AnyRow) -> Result<Event> {
    let kind: String = row.try_get("kind")?;
    let payload: String = row.try_get("payload")?;
    let streams: String = row.try_get("streams")?;
    Ok(Event {
        position: position_of(row.try_get("position")?)?,
        kind: EventKind::parse(&kind)
            .ok_or_else(|| StoreError::Invalid(format!("stored event kind {kind:?} is unknown")))?,
        payload: payload.into(),
        streams: split_streams(&streams),
        committed_at: row.try_get("created_at")?,
        author: row.try_get("author_id")?,
        id: row.try_get("id")?,
    })
}

pub fn token_row(row: &AnyRow) -> Result<TokenRecord> {
    let account_id: Option<i64> = row.try_get("account_id")?;
    Ok(TokenRecord {
        id: row.try_get("id")?,
        app_id: row.try_get("app_id")?,
        scopes: row.try_get("scopes")?,
        created_at: row.try_get("created_at")?,
        account: match account_id {
            Some(_) => Some(account_named!(row, "account_")?),
            None => None,
        },
    })
}

pub fn edit_row(row: &AnyRow) -> Result<EditRecord> {
    Ok(EditRecord {
        text: row.try_get("text")?,
        content: row.try_get("content")?,
        spoiler_text: row.try_get("spoiler_text")?,
        sensitive: row.try_get::<i64, _>("sensitive")? != 0,
        created_at: row.try_get("created_at")?,
    })
}

/// A query assembled from literal fragments and bound values, numbering placeholders
/// `$1, $2, …` (sqlx's `QueryBuilder` on `Any` writes `?`, which Postgres rejects).
/// The SQL form of [`crate::domain::entities::Visibility::shows`] for notices aliased
/// `s`: ` AND (…)`. Without a viewer, public and unlisted notices only.
pub fn push_visible(q: &mut Sql, viewer: Option<AccountId>) {
    q.push(" AND (s.visibility IN ('public', 'unlisted')");
    if let Some(v) = viewer {
        q.push(" OR s.account_id = ").int(v);
        q.push(" OR (s.visibility = 'private' AND EXISTS (SELECT 1 FROM follows f WHERE f.follower_id = ")
            .int(v)
            .push(" AND f.target_id = s.account_id))");
        q.push(" OR EXISTS (SELECT 1 FROM status_mentions sm WHERE sm.status_id = s.id AND sm.account_id = ")
            .int(v)
            .push(")");
    }
    q.push(")");
}

/// Only literal fragments are appended as text; every value is bound.
#[derive(Default)]
pub struct Sql {
    /// The statement, with [`SLOT`] where each value goes.
    text: String,
    args: Vec<Arg>,
}

/// Marks a value's place in [`Sql::text`] until [`Sql::build`] knows the database. SQL
/// fragments are literals written here and never hold it.
const SLOT: char = '\u{1}';

enum Arg {
    Int(i64),
    Text(String),
    OptText(Option<String>),
    OptInt(Option<i64>),
}

impl Sql {
    pub fn new(fragment: &'static str) -> Self {
        Sql {
            text: fragment.to_string(),
            args: Vec::new(),
        }
    }

    pub fn push(&mut self, fragment: &'static str) -> &mut Self {
        self.text.push_str(fragment);
        self
    }

    fn placeholder(&mut self, a: Arg) -> &mut Self {
        self.args.push(a);
        self.text.push(SLOT);
        self
    }

    /// An integer, or an id or position (bound as the `BIGINT` it is stored as).
    pub fn int(&mut self, v: impl Into<i64>) -> &mut Self {
        self.placeholder(Arg::Int(v.into()))
    }

    pub fn text(&mut self, v: &str) -> &mut Self {
        self.placeholder(Arg::Text(v.to_string()))
    }

    pub fn opt_int(&mut self, v: Option<impl Into<i64>>) -> &mut Self {
        self.placeholder(Arg::OptInt(v.map(Into::into)))
    }

    pub fn opt_text(&mut self, v: Option<&str>) -> &mut Self {
        self.placeholder(Arg::OptText(v.map(str::to_string)))
    }

    /// Opens row `i` of a multi-row `VALUES` list: `(`, or `, (` after the first.
    pub fn row(&mut self, i: usize) -> &mut Self {
        self.push(if i == 0 { "(" } else { ", (" })
    }

    /// `$a, $b, …` for a non-empty list.
    pub fn int_list<T: Copy + Into<i64>>(&mut self, vs: &[T]) -> &mut Self {
        for (i, v) in vs.iter().enumerate() {
            if i > 0 {
                self.text.push_str(", ");
            }
            self.int(*v);
        }
        self
    }

    /// The query for the database behind `conn`, with its values moved into the binds (a
    /// batch's payloads are not copied again). Placeholders are `$1, $2, …` on Postgres
    /// and `?` on SQLite: SQLite keeps named parameters (`$1` is a name there) in a list it
    /// searches at parse and at bind time, once per parameter — quadratic in a multi-row
    /// insert's 2,816 parameters for 256 notices (`sqlite3_bind_parameter_name` was a
    /// quarter of the server's CPU while posting). `?` it numbers in order.
    pub fn build(
        self,
        conn: &(impl super::Conn + ?Sized),
    ) -> sqlx::query::Query<'static, sqlx::Any, sqlx::any::AnyArguments> {
        let sqlite = conn.sqlite();
        let mut text = String::with_capacity(self.text.len() + 6 * self.args.len());
        for (i, part) in self.text.split(SLOT).enumerate() {
            if i > 0 {
                if sqlite {
                    text.push('?');
                } else {
                    text.push('$');
                    text.push_str(&i.to_string());
                }
            }
            text.push_str(part);
        }
        let mut q = sqlx::query(sqlx::AssertSqlSafe(text));
        for a in self.args {
            q = match a {
                Arg::Int(v) => q.bind(v),
                Arg::Text(v) => q.bind(v),
                Arg::OptText(v) => q.bind(v),
                Arg::OptInt(v) => q.bind(v),
            };
        }
        q
    }
}
