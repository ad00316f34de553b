//! Portable SQL text and row decoding shared by both backends.
//!
//! Placeholders are `$N`, which PostgreSQL and SQLite both accept. Every query text is
//! a literal; dynamic parts go through [`Sql`] binds, never string formatting.

use super::{AppRecord, AuthCodeRecord, Result, TokenRecord};
use crate::domain::entities::{AccountRecord, EditRecord, MentionRecord, StatusRecord};
use crate::domain::event::{Event, EventKind, split_streams};
use sqlx::Row;
use sqlx::any::AnyRow;

macro_rules! account_columns {
    ($a:literal) => {
        concat!(
            $a,
            ".id, ",
            $a,
            ".username, ",
            $a,
            ".display_name, ",
            $a,
            ".note, ",
            $a,
            ".created_at, ",
            $a,
            ".is_admin, ",
            $a,
            ".statuses_count, ",
            $a,
            ".followers_count, ",
            $a,
            ".following_count, ",
            $a,
            ".last_status_at"
        )
    };
}
pub(crate) use account_columns;

/// Status columns (19) followed by the author's account columns (10).
macro_rules! status_select {
    () => {
        concat!(
            "SELECT s.id, s.account_id, s.text, s.content, s.spoiler_text, s.sensitive, s.visibility, \
             s.language, s.in_reply_to_id, s.in_reply_to_account_id, s.reblog_of_id, s.tags, s.mentions, \
             s.replies_count, s.reblogs_count, s.favourites_count, s.created_at, s.edited_at, s.deleted_at, ",
            $crate::store::queries::account_columns!("a"),
            " FROM statuses s JOIN accounts a ON a.id = s.account_id"
        )
    };
}
pub(crate) use status_select;

pub const SELECT_ACCOUNT_BY_ID: &str = concat!(
    "SELECT ",
    account_columns!("a"),
    " FROM accounts a WHERE a.id = $1"
);
pub const SELECT_ACCOUNT_BY_USERNAME: &str = concat!(
    "SELECT ",
    account_columns!("a"),
    " FROM accounts a WHERE a.username_lower = $1"
);
pub const SELECT_ACCOUNT_BY_EMAIL: &str = concat!(
    "SELECT ",
    account_columns!("a"),
    // Stored lowercased: compared as is, so the unique index answers.
    " FROM accounts a WHERE a.email = $1"
);
pub const SELECT_STATUS_BY_ID: &str = concat!(status_select!(), " WHERE s.id = $1");
pub const SELECT_TOKEN: &str = concat!(
    "SELECT t.id, t.app_id, t.scopes, t.created_at, ",
    account_columns!("a"),
    " FROM tokens t LEFT JOIN accounts a ON a.id = t.account_id WHERE t.token_hash = $1"
);

pub fn account_at(row: &AnyRow, at: usize) -> Result<AccountRecord> {
    Ok(AccountRecord {
        id: row.try_get(at)?,
        username: row.try_get(at + 1)?,
        display_name: row.try_get(at + 2)?,
        note: row.try_get(at + 3)?,
        created_at: row.try_get(at + 4)?,
        is_admin: row.try_get::<i64, _>(at + 5)? != 0,
        statuses_count: row.try_get(at + 6)?,
        followers_count: row.try_get(at + 7)?,
        following_count: row.try_get(at + 8)?,
        last_status_at: row.try_get(at + 9)?,
    })
}

/// A status row as read, before its reblog target is attached.
pub struct StatusRow {
    pub record: StatusRecord,
    pub reblog_of_id: Option<i64>,
    pub deleted: bool,
}

pub fn status_row(row: &AnyRow) -> Result<StatusRow> {
    let mentions: String = row.try_get(12)?;
    let tags: String = row.try_get(11)?;
    let record = StatusRecord {
        id: row.try_get(0)?,
        account: account_at(row, 19)?,
        text: row.try_get(2)?,
        content: row.try_get(3)?,
        spoiler_text: row.try_get(4)?,
        sensitive: row.try_get::<i64, _>(5)? != 0,
        visibility: row.try_get(6)?,
        language: row.try_get(7)?,
        in_reply_to_id: row.try_get(8)?,
        in_reply_to_account_id: row.try_get(9)?,
        reblog: None,
        created_at: row.try_get(16)?,
        edited_at: row.try_get(17)?,
        replies_count: row.try_get(13)?,
        reblogs_count: row.try_get(14)?,
        favourites_count: row.try_get(15)?,
        tags: tags
            .split(' ')
            .filter(|t| !t.is_empty())
            .map(str::to_string)
            .collect(),
        mentions: decode_mentions(&mentions),
        viewer: None,
    };
    Ok(StatusRow {
        record,
        reblog_of_id: row.try_get(10)?,
        deleted: row.try_get::<Option<i64>, _>(18)?.is_some(),
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
                id: id.parse().ok()?,
                username: name.to_string(),
            })
        })
        .collect()
}

pub fn event_row(row: &AnyRow) -> Result<Event> {
    let kind: String = row.try_get(1)?;
    let payload: String = row.try_get(2)?;
    let streams: String = row.try_get(3)?;
    Ok(Event {
        position: row.try_get(0)?,
        kind: EventKind::parse(&kind).unwrap_or(EventKind::Update),
        payload: payload.into(),
        streams: split_streams(&streams),
        committed_at: row.try_get(4)?,
    })
}

pub fn app_row(row: &AnyRow) -> Result<AppRecord> {
    Ok(AppRecord {
        id: row.try_get(0)?,
        name: row.try_get(1)?,
        website: row.try_get(2)?,
        redirect_uris: row.try_get(3)?,
        scopes: row.try_get(4)?,
        client_id: row.try_get(5)?,
        client_secret: row.try_get(6)?,
    })
}

pub fn token_row(row: &AnyRow) -> Result<TokenRecord> {
    let account_id: Option<i64> = row.try_get(4)?;
    Ok(TokenRecord {
        id: row.try_get(0)?,
        app_id: row.try_get(1)?,
        scopes: row.try_get(2)?,
        created_at: row.try_get(3)?,
        account: match account_id {
            Some(_) => Some(account_at(row, 4)?),
            None => None,
        },
    })
}

pub fn auth_code_row(row: &AnyRow) -> Result<AuthCodeRecord> {
    Ok(AuthCodeRecord {
        app_id: row.try_get(0)?,
        account_id: row.try_get(1)?,
        redirect_uri: row.try_get(2)?,
        scopes: row.try_get(3)?,
        code_challenge: row.try_get(4)?,
        created_at: row.try_get(5)?,
    })
}

pub fn edit_row(row: &AnyRow) -> Result<EditRecord> {
    Ok(EditRecord {
        text: row.try_get(0)?,
        content: row.try_get(1)?,
        spoiler_text: row.try_get(2)?,
        sensitive: row.try_get::<i64, _>(3)? != 0,
        created_at: row.try_get(4)?,
    })
}

/// A query assembled from literal fragments and bound values, numbering placeholders
/// `$1, $2, …` (sqlx's `QueryBuilder` on `Any` writes `?`, which Postgres rejects).
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

    pub fn int(&mut self, v: i64) -> &mut Self {
        self.placeholder(Arg::Int(v))
    }

    pub fn text(&mut self, v: &str) -> &mut Self {
        self.placeholder(Arg::Text(v.to_string()))
    }

    pub fn opt_text(&mut self, v: Option<&str>) -> &mut Self {
        self.placeholder(Arg::OptText(v.map(str::to_string)))
    }

    /// Opens row `i` of a multi-row `VALUES` list: `(`, or `, (` after the first.
    pub fn row(&mut self, i: usize) -> &mut Self {
        self.push(if i == 0 { "(" } else { ", (" })
    }

    /// `$a, $b, …` for a non-empty list.
    pub fn int_list(&mut self, vs: &[i64]) -> &mut Self {
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
        conn: &sqlx::AnyConnection,
    ) -> sqlx::query::Query<'static, sqlx::Any, sqlx::any::AnyArguments> {
        let sqlite = conn.backend_name() == "SQLite";
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
            };
        }
        q
    }
}
