//! Storage: the [`Store`] trait, and its SQLite and Postgres implementations.
//!
//! Both backends share one set of portable SQL ([`sql::SqlStore`], on sqlx's `Any`
//! driver with runtime queries, so neither needs a live database to build); what differs
//! lives in [`sqlite`] and [`postgres`]: how to connect, their own migrations, how
//! writers are serialised, and how the sequencer is woken and kept unique.
//!
//! Every change readers must see writes an *event row* in the same transaction as the
//! change, with its stream keys and its payload rendered once. The row has no position
//! yet; the sequencer gives positions afterwards (see `crate::sequencer`).
//!
//! This module must not know HTTP or Redis.

mod announcements;
mod batch;
mod blocks;
mod conversations;
mod federation;
mod filters;
mod hide;
mod lease;
mod lists;
mod lite;
pub(crate) use lite::Conn;
mod live;
mod media;
mod moderation;
mod notify;
mod overview;
mod polls;
mod postgres;
mod queries;
mod reads;
mod reports;
mod scheduled;
mod search;
mod social;
mod sql;
mod sqlite;
mod token_cache;
mod types;
mod wiki;
mod writes;

/// How long the embedded node may believe a token it has read: what a change written by
/// another process (`tidings admin`) may take to reach a token in use (see `token_cache`).
pub use token_cache::FRESH_FOR as TOKENS_FRESH_FOR;

use crate::domain::announce::NewEvent;
use crate::domain::entities::{
    AccountRecord, EditRecord, NotificationRecord, StatusRecord, Visibility,
};
use crate::domain::live::{KeyEventRecord, LiveEventRecord, LiveRole, LiveState};
use crate::domain::moderation::{
    AccessRule, AccountAction, AdminAccountRecord, AuditRecord, DomainBlock, ReportRecord, Role,
};
use crate::domain::{AccountId, Event, ListId, Position, Site, StatusId};
use async_trait::async_trait;
pub use moderation::{AdminAccountQuery, Audit, WITHDRAWN_NOTICES};
pub use reports::{NewReport, ReportChange, ReportQuery};
use std::sync::Arc;
use tokio::sync::Notify;
pub use wiki::{WikiLink, WikiStanding};

pub use announcements::{MAX_REACTIONS_PER_ACCOUNT, NewAnnouncement};
pub use federation::{Delivery, KeyPair, RemoteActor, RemoteProfile};
pub use filters::{MAX_FILTERS, MAX_KEYWORDS};
pub use hide::Hide;
pub use lists::{ListRecord, MAX_LIST_MEMBERS, MAX_LISTS};
pub use live::{Curation, LivePart};
pub use media::MAX_MEDIA;
pub use notify::NotificationQuery;
pub use overview::{Activity, Marker, Stats, TagTrend};
pub use polls::NewPoll;
pub use scheduled::{MAX_SCHEDULED, ScheduledParams, ScheduledRecord};
pub use search::{StatusSearch, keep_index};
pub use social::MAX_PINS;
pub use sql::SqlStore;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// A unique value is taken; names the field.
    #[error("{0} is already taken")]
    Taken(&'static str),
    #[error("{0}")]
    Invalid(String),
    #[error("forbidden")]
    Forbidden,
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AppRecord {
    pub id: i64,
    pub name: String,
    pub website: Option<String>,
    pub redirect_uris: String,
    pub scopes: String,
    pub client_id: String,
    pub client_secret: String,
}

pub struct NewApp {
    pub name: String,
    pub website: Option<String>,
    pub redirect_uris: String,
    pub scopes: String,
    pub client_id: String,
    pub client_secret: String,
}

#[derive(Debug, Clone)]
pub struct TokenRecord {
    pub id: i64,
    pub app_id: Option<i64>,
    pub scopes: String,
    pub created_at: i64,
    pub account: Option<AccountRecord>,
}

pub struct NewToken {
    pub token_hash: String,
    pub app_id: Option<i64>,
    pub account_id: Option<AccountId>,
    pub scopes: String,
}

pub struct NewAuthCode {
    pub code_hash: String,
    pub app_id: i64,
    pub account_id: AccountId,
    pub redirect_uri: String,
    pub scopes: String,
    pub code_challenge: Option<String>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AuthCodeRecord {
    pub app_id: i64,
    #[sqlx(try_from = "i64")]
    pub account_id: AccountId,
    pub redirect_uri: String,
    pub scopes: String,
    pub code_challenge: Option<String>,
    pub created_at: i64,
}

/// A change to a profile: each `Some` field is set, the others are kept.
#[derive(Debug, Clone, Default)]
pub struct ProfileChange {
    pub display_name: Option<String>,
    /// (as written, rendered to HTML)
    pub note: Option<(String, String)>,
    pub bot: Option<bool>,
    pub discoverable: Option<bool>,
    pub fields: Option<Vec<(String, String)>>,
    pub locked: Option<bool>,
    pub privacy: Option<Visibility>,
    pub sensitive: Option<bool>,
    /// `Some(None)` clears it.
    pub language: Option<Option<String>>,
    /// New pictures, by media key (already stored).
    pub avatar_key: Option<String>,
    pub header_key: Option<String>,
}

pub struct NewAccount {
    pub username: String,
    pub email: Option<String>,
    pub password_hash: String,
    pub is_admin: bool,
}

#[derive(Debug, Clone, Copy, Default)]
pub struct Relationship {
    pub following: bool,
    pub followed_by: bool,
    pub blocking: bool,
    pub blocked_by: bool,
    pub muting: bool,
    pub muting_notifications: bool,
    /// A follow request waits for the other's answer.
    pub requested: bool,
    pub requested_by: bool,
    /// She is told of each new notice of the other (a `status` notification).
    pub notifying: bool,
}

/// A validated notice, ready to be written.
#[derive(Clone)]
pub struct NewStatus {
    pub account_id: AccountId,
    pub text: String,
    pub spoiler_text: String,
    pub sensitive: bool,
    pub visibility: Visibility,
    pub language: Option<String>,
    pub in_reply_to_id: Option<StatusId>,
    pub idempotency_key: Option<String>,
    pub poll: Option<NewPoll>,
    /// Uploaded images of the author's, not attached yet.
    pub media_ids: Vec<i64>,
    /// A notice of another server, as it came (see [`RemoteNote`]): stored as rendered
    /// there, not rendered here.
    pub remote: Option<Box<RemoteNote>>,
}

/// What another server's `Note` comes to: its ids, its HTML (sanitised already), and what
/// it names here.
#[derive(Debug, Clone, Default)]
pub struct RemoteNote {
    pub uri: String,
    pub url: String,
    pub content: String,
    /// Local accounts it mentions.
    pub mentions: Vec<crate::domain::entities::MentionRecord>,
    pub tags: Vec<String>,
    /// When it was published (microseconds).
    pub created_at: i64,
}

pub struct StatusChange {
    pub status_id: StatusId,
    pub text: String,
    pub spoiler_text: String,
    pub sensitive: bool,
    pub language: Option<String>,
    /// Its images from now on, when they change: those it keeps and new uploads of its
    /// author's. Those it no longer has are deleted (no longer served).
    pub media_ids: Option<Vec<i64>>,
    /// A remote notice's new content (`text` is then its plain text).
    pub remote: Option<Box<RemoteNote>>,
}

/// Which timeline to read.
#[derive(Debug, Clone)]
pub enum Timeline {
    Public {
        local: bool,
        remote: bool,
    },
    Tag {
        tag: String,
        local: bool,
        remote: bool,
    },
    Home {
        account_id: AccountId,
    },
    /// A list's timeline (its owner's: the API checks).
    List {
        list: ListRecord,
    },
    Account {
        account_id: AccountId,
        filter: AccountFilter,
    },
    /// A live event's feed, pinned notices or open contributions (see
    /// `crate::domain::live`).
    Event {
        event_id: i64,
        part: LivePart,
    },
}

/// Accounts listed around an account or a notice.
#[derive(Debug, Clone, Copy)]
pub enum AccountList {
    Followers(AccountId),
    Following(AccountId),
    FavouritedBy(StatusId),
    RebloggedBy(StatusId),
    /// The accounts on a list.
    Members(ListId),
    /// Who asks to follow the account.
    FollowRequests(AccountId),
    /// Whom the account blocked.
    Blocks(AccountId),
    /// Whom the account muted (expired mutes are not listed).
    Mutes(AccountId),
}

/// Notices an account keeps.
#[derive(Debug, Clone, Copy)]
pub enum StatusList {
    Favourites(AccountId),
    Bookmarks(AccountId),
}

/// What an account can mark a notice with, for itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    Bookmark,
    /// On its own profile (its own notices only, [`MAX_PINS`] at most).
    Pin,
}

/// Paging of a list by an opaque cursor (see `social`): rows before `max`, after `since`,
/// or the first ones after `min`.
#[derive(Debug, Clone, Copy, Default)]
pub struct CursorPage {
    pub max: Option<i64>,
    pub since: Option<i64>,
    pub min: Option<i64>,
    pub limit: i64,
}

/// What a profile's notices are narrowed to (Mastodon's parameters of
/// `GET /api/v1/accounts/:id/statuses`).
#[derive(Debug, Clone, Default)]
pub struct AccountFilter {
    /// Only notices with images attached.
    pub only_media: bool,
    pub pinned: bool,
    pub exclude_replies: bool,
    pub exclude_reblogs: bool,
    pub tagged: Option<String>,
}

/// Paging by status id, as Mastodon's `max_id`, `since_id`, `min_id`, `limit`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Page {
    pub max_id: Option<StatusId>,
    pub since_id: Option<StatusId>,
    pub min_id: Option<StatusId>,
    pub limit: i64,
}

impl Page {
    /// The newest `limit`, older than `max_id` when given.
    pub fn before(max_id: Option<StatusId>, limit: i64) -> Page {
        Page {
            max_id,
            since_id: None,
            min_id: None,
            limit,
        }
    }
}

/// The right to give positions: held by one sequencer at a time.
#[async_trait]
pub trait SequencerLease: Send {
    /// Give the next positions to up to `limit` committed, unpositioned events, in one
    /// transaction; return them in position order.
    async fn assign(&mut self, limit: i64) -> Result<Vec<Event>>;
    /// The highest position known to have been handed to the bus.
    async fn published_upto(&mut self) -> Result<Position>;
    async fn mark_published(&mut self, position: Position) -> Result<()>;
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    async fn create_app(&self, app: NewApp) -> Result<AppRecord>;
    async fn app_by_client_id(&self, client_id: &str) -> Result<Option<AppRecord>>;
    async fn create_token(&self, token: NewToken) -> Result<TokenRecord>;
    async fn token(&self, token_hash: &str) -> Result<Option<TokenRecord>>;
    async fn revoke_token(&self, token_hash: &str, app_id: i64) -> Result<()>;
    async fn create_auth_code(&self, code: NewAuthCode) -> Result<()>;
    /// Return and delete an authorization code: each code is usable once.
    async fn take_auth_code(&self, code_hash: &str) -> Result<Option<AuthCodeRecord>>;

    async fn create_account(&self, account: NewAccount) -> Result<AccountRecord>;
    async fn account(&self, id: AccountId) -> Result<Option<AccountRecord>>;
    /// A local account by its username.
    async fn account_by_username(&self, username: &str) -> Result<Option<AccountRecord>>;
    /// An account of another server by its handle, `name@domain`.
    async fn remote_account(&self, acct: &str) -> Result<Option<AccountRecord>>;
    async fn account_by_email(&self, email: &str) -> Result<Option<AccountRecord>>;
    async fn update_profile(&self, id: AccountId, change: ProfileChange) -> Result<AccountRecord>;
    /// An account's lists; with `member`, those of them `member` is on.
    async fn lists(&self, owner: AccountId, member: Option<AccountId>) -> Result<Vec<ListRecord>>;
    async fn list(&self, id: ListId) -> Result<Option<ListRecord>>;
    /// Create (`create`) or update a list.
    async fn save_list(&self, list: &ListRecord, create: bool) -> Result<ListRecord>;
    async fn delete_list(&self, id: ListId) -> Result<()>;
    /// Add (`on`) or remove accounts; the owner must follow whom she adds.
    async fn set_list_members(
        &self,
        list: &ListRecord,
        members: &[AccountId],
        on: bool,
    ) -> Result<()>;

    async fn create_media(
        &self,
        media: &crate::domain::entities::MediaRecord,
    ) -> Result<crate::domain::entities::MediaRecord>;
    async fn media(&self, id: i64) -> Result<Option<crate::domain::entities::MediaRecord>>;
    async fn describe_media(
        &self,
        id: i64,
        description: Option<&str>,
        focus: Option<(f64, f64)>,
    ) -> Result<()>;
    /// Does `key` name a file of an upload not yet attached, or of a notice not deleted?
    async fn media_file_live(&self, key: &str) -> Result<bool>;
    /// A media file, when the database keeps them (see `crate::media::DbStorage`).
    async fn put_blob(&self, key: &str, content_type: &str, bytes: Vec<u8>) -> Result<()>;
    async fn blob(&self, key: &str) -> Result<Option<(String, Vec<u8>)>>;

    /// An account's filters, whole.
    async fn filters(
        &self,
        account: AccountId,
    ) -> Result<Vec<crate::domain::filters::FilterRecord>>;
    /// Create (id 0, with its keywords) or update a filter's own fields; its id.
    async fn save_filter(
        &self,
        account: AccountId,
        filter: &crate::domain::filters::FilterRecord,
    ) -> Result<i64>;
    async fn delete_filter(&self, id: i64) -> Result<()>;
    /// Add (id 0) or change a keyword; its id.
    async fn save_filter_keyword(
        &self,
        filter: i64,
        keyword: &crate::domain::filters::KeywordRecord,
    ) -> Result<i64>;
    async fn add_filter_status(&self, filter: i64, status: StatusId) -> Result<i64>;
    /// Remove a keyword or a filtered notice by its id.
    async fn remove_filter_part(&self, keyword: Option<i64>, status: Option<i64>) -> Result<()>;

    /// Vote in a poll; the notice as the voter now sees it.
    async fn vote(&self, poll: i64, account: AccountId, choices: &[u32]) -> Result<StatusRecord>;
    /// A poll's notice (with the poll), as `viewer` sees it.
    async fn poll(&self, poll: i64, viewer: Option<AccountId>) -> Result<Option<StatusRecord>>;

    /// Keep a notice to be posted at `at` (microseconds).
    async fn schedule(
        &self,
        account: AccountId,
        at: i64,
        params: &ScheduledParams,
    ) -> Result<ScheduledRecord>;
    /// An account's scheduled notices (one, with `id`), newest first.
    async fn scheduled(
        &self,
        account: AccountId,
        id: Option<i64>,
        page: CursorPage,
    ) -> Result<Vec<ScheduledRecord>>;
    /// Move a scheduled notice to `at`; false when it is not hers (or gone).
    async fn reschedule(&self, account: AccountId, id: i64, at: i64) -> Result<bool>;
    /// Drop a scheduled notice (hers, or any with `None`: once published).
    async fn unschedule(&self, account: Option<AccountId>, id: i64) -> Result<bool>;
    /// Claim up to `limit` due notices for this node until `until` (see `crate::scheduler`).
    async fn claim_due(&self, now: i64, until: i64, limit: i64) -> Result<Vec<ScheduledRecord>>;

    /// Authorize (`accept`) or reject `requester`'s request to follow `target`.
    async fn answer_follow_request(
        &self,
        target: AccountId,
        requester: AccountId,
        accept: bool,
    ) -> Result<Relationship>;

    /// Block or mute `target` (`on`), or undo it.
    async fn set_hide(
        &self,
        account: AccountId,
        target: AccountId,
        how: Hide,
        on: bool,
    ) -> Result<Relationship>;
    /// Whom `account` does not see: blocked, muted (unexpired), or who blocked her.
    async fn hidden_authors(&self, account: AccountId) -> Result<Vec<AccountId>>;
    async fn password_hash(&self, account_id: AccountId) -> Result<Option<String>>;
    async fn set_follow(
        &self,
        follower: AccountId,
        target: AccountId,
        on: bool,
    ) -> Result<Relationship>;
    async fn relationship(&self, account: AccountId, other: AccountId) -> Result<Relationship>;
    /// Whether `follower` is told of `target`'s new notices; false when she does not
    /// follow her (yet).
    async fn set_follow_notify(
        &self,
        follower: AccountId,
        target: AccountId,
        notify: bool,
    ) -> Result<bool>;
    /// Tell the voters and the author of each poll that has ended and not yet been told
    /// of; how many polls that was. Any node may call it: each poll is told once.
    async fn tell_ended_polls(&self, now: i64, limit: i64) -> Result<usize>;

    async fn create_status(&self, status: NewStatus) -> Result<StatusRecord>;
    async fn status(&self, id: StatusId, viewer: Option<AccountId>)
    -> Result<Option<StatusRecord>>;
    /// Publish an announcement, or change one (`id`); every open `user` stream hears.
    async fn announce(
        &self,
        a: &NewAnnouncement,
        id: Option<i64>,
    ) -> Result<crate::domain::entities::AnnouncementRecord>;
    /// Withdraw an announcement; false when there is none of that id.
    async fn unannounce(&self, id: i64) -> Result<bool>;
    /// Announcements in force as `reader` sees them; for the operator (`None`), all.
    async fn announcements(
        &self,
        reader: Option<AccountId>,
        with_dismissed: bool,
    ) -> Result<Vec<crate::domain::entities::AnnouncementRecord>>;
    /// `reader` dismissed announcement `id`; false when there is none of that id.
    async fn dismiss_announcement(&self, reader: AccountId, id: i64) -> Result<bool>;
    /// Add or take back `reader`'s emoji on announcement `id`.
    async fn react(&self, reader: AccountId, id: i64, name: &str, on: bool) -> Result<()>;
    /// A local account's federation key pair, if it has one yet.
    async fn account_key(&self, account: AccountId) -> Result<Option<KeyPair>>;
    /// Keep `pair` as the account's key pair unless it has one; the pair kept.
    async fn put_account_key(&self, account: AccountId, pair: KeyPair) -> Result<KeyPair>;
    /// A remote actor we have read, by its key's id (`by_key_id`) or its uri.
    async fn remote_actor(&self, by_key_id: bool, value: &str) -> Result<Option<RemoteActor>>;
    /// Keep (or refresh) a remote actor; the row kept.
    async fn put_remote_actor(&self, actor: &RemoteActor) -> Result<RemoteActor>;
    /// Remote `actor` follows `account` (by `follow_uri`): kept, and `accept` queued to
    /// `inbox`, in one transaction.
    async fn remote_follow(
        &self,
        account: AccountId,
        actor: i64,
        follow_uri: &str,
        inbox: &str,
        accept: &str,
    ) -> Result<()>;
    /// Remote `actor` no longer follows `account`; false when it did not.
    async fn remote_unfollow(&self, account: AccountId, actor: i64) -> Result<bool>;
    /// The uris of `account`'s remote followers.
    async fn remote_followers(&self, account: AccountId) -> Result<Vec<String>>;
    /// A local account follows (asks to follow: the `Accept` makes it) a remote account,
    /// or stops; `activity` (the `Follow` or its `Undo`) is queued to `inbox` in the same
    /// transaction.
    async fn follow_remote(
        &self,
        follower: AccountId,
        target: AccountId,
        on: bool,
        inbox: &str,
        activity: &str,
    ) -> Result<Relationship>;
    /// A remote notice's id by its uri, and whether it was deleted.
    async fn status_by_uri(&self, uri: &str) -> Result<Option<(StatusId, bool)>>;
    /// A remote account announced it moved to `target`.
    async fn set_moved(&self, account: AccountId, target: &str) -> Result<()>;
    /// Up to `limit` of an account's notices that are not deleted, newest first.
    async fn status_ids_of(&self, account: AccountId, limit: i64) -> Result<Vec<StatusId>>;
    /// Local accounts that follow `account`, or ask to.
    async fn local_followers(&self, account: AccountId) -> Result<Vec<AccountId>>;
    /// Record an inbound activity's id: true the first time it is seen.
    async fn first_sight(&self, activity_uri: &str) -> Result<bool>;
    /// Forget an activity's id: applying it failed, and a re-delivery must be applied.
    async fn unsee(&self, activity_uri: &str) -> Result<()>;
    /// Forget the ids of activities seen before `before` (peers stop re-delivering
    /// after about two days); how many went.
    async fn forget_seen(&self, before: i64) -> Result<u64>;
    /// A remote account asks to follow locked `target` with the `Follow` `follow_uri`.
    async fn remote_follow_request(
        &self,
        requester: &AccountRecord,
        target: AccountId,
        follow_uri: &str,
    ) -> Result<()>;
    /// Whether `requester` asks to follow `target`, and with which `Follow` (remote).
    async fn follow_request_uri(
        &self,
        requester: AccountId,
        target: AccountId,
    ) -> Result<Option<Option<String>>>;
    /// Queue an activity (rendered) from a local account to one inbox.
    async fn queue_activity(&self, account: AccountId, inbox: &str, body: &str) -> Result<()>;
    /// Take due deliveries for `lease` µs (no other worker takes them meanwhile).
    async fn claim_deliveries(&self, now: i64, limit: i64, lease: i64) -> Result<Vec<Delivery>>;
    /// A delivery was made, or given up: remove it.
    async fn delivery_done(&self, id: i64) -> Result<()>;
    /// A delivery failed: count the attempt, try again at `next`.
    async fn delivery_retry(&self, id: i64, next: i64) -> Result<()>;
    /// An inbox answered 410 Gone: its actors follow no one here any more.
    async fn inbox_gone(&self, inbox: &str) -> Result<u64>;
    /// Deliveries waiting, for `/metrics`.
    async fn delivery_depth(&self) -> Result<i64>;
    /// Woken when this node queued deliveries.
    fn deliveries_waiting(&self) -> std::sync::Arc<tokio::sync::Notify>;
    /// `owner`'s conversations of direct notices, newest first (with `only`, just that
    /// one).
    async fn conversations(
        &self,
        owner: AccountId,
        page: &CursorPage,
        only: Option<i64>,
    ) -> Result<Vec<crate::domain::entities::ConversationRecord>>;
    /// Mark one of `owner`'s conversations read; false when she has none of that id.
    async fn read_conversation(&self, owner: AccountId, id: i64) -> Result<bool>;
    /// Remove one of `owner`'s conversations; false when she has none of that id.
    async fn remove_conversation(&self, owner: AccountId, id: i64) -> Result<bool>;
    /// Whether `viewer` may see `s` (see [`Visibility::shows`]).
    async fn may_see(&self, s: &StatusRecord, viewer: Option<AccountId>) -> Result<bool>;
    async fn edit_status(&self, change: StatusChange) -> Result<StatusRecord>;
    /// Delete a notice; `audit`: a moderator removes someone else's.
    async fn delete_status(&self, id: StatusId, audit: Option<Audit>) -> Result<StatusRecord>;
    async fn status_history(&self, id: StatusId) -> Result<Vec<EditRecord>>;
    async fn set_favourite(
        &self,
        account: AccountId,
        status: StatusId,
        on: bool,
    ) -> Result<StatusRecord>;
    /// Reblog (returns the reblog, wrapping the original) or undo (returns the original).
    async fn set_reblog(
        &self,
        account: AccountId,
        status: StatusId,
        on: bool,
    ) -> Result<StatusRecord>;
    async fn timeline(
        &self,
        which: &Timeline,
        page: Page,
        viewer: Option<AccountId>,
    ) -> Result<Vec<StatusRecord>>;

    /// A notice's thread: its ancestors (oldest first) and its descendants (in thread
    /// order), as `viewer` may see them; bounded as Mastodon bounds them.
    async fn context(
        &self,
        id: StatusId,
        viewer: Option<AccountId>,
    ) -> Result<(Vec<StatusRecord>, Vec<StatusRecord>)>;
    /// A page of accounts (with their cursors).
    async fn account_list(
        &self,
        which: &AccountList,
        page: CursorPage,
    ) -> Result<Vec<(i64, AccountRecord)>>;
    /// A page of an account's favourites or bookmarks (with their cursors).
    async fn status_list(
        &self,
        which: &StatusList,
        page: CursorPage,
    ) -> Result<Vec<(i64, StatusRecord)>>;
    /// Bookmark or pin a notice (`on`), or undo it.
    async fn set_mark(
        &self,
        mark: Mark,
        account: AccountId,
        status: StatusId,
        on: bool,
    ) -> Result<StatusRecord>;

    /// Notices matching every word of `q`, best first, as `viewer` may see them.
    async fn search_statuses(
        &self,
        q: &StatusSearch,
        viewer: Option<AccountId>,
    ) -> Result<Vec<StatusRecord>>;
    /// Accounts by username or display-name prefix.
    async fn search_accounts(
        &self,
        prefix: &str,
        following_of: Option<AccountId>,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<AccountRecord>>;
    /// Tags by prefix, with how many notices used each.
    async fn search_tags(
        &self,
        prefix: &str,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<(String, i64)>>;

    /// Counts of accounts and notices on this server, as of `now`.
    async fn stats(&self, now: i64) -> Result<Stats>;
    /// `weeks` weeks of activity from `first_week` on (see [`Activity`]).
    async fn activity(&self, first_week: i64, weeks: i64) -> Result<Vec<Activity>>;
    async fn app(&self, id: i64) -> Result<Option<AppRecord>>;
    /// The week's trending tags as of `now` (microseconds).
    async fn trending_tags(&self, limit: i64, now: i64) -> Result<Vec<TagTrend>>;
    /// The day's most shared public notices as of `now`.
    async fn trending_statuses(
        &self,
        limit: i64,
        offset: i64,
        now: i64,
    ) -> Result<Vec<StatusRecord>>;
    async fn markers(&self, account: AccountId) -> Result<Vec<Marker>>;
    async fn set_marker(&self, account: AccountId, timeline: &str, last_read_id: i64)
    -> Result<()>;

    /// An account's notifications, newest first (or oldest first from `min_id`); those
    /// about a notice that is gone are gone too.
    async fn notifications(
        &self,
        account: AccountId,
        q: &NotificationQuery,
    ) -> Result<Vec<NotificationRecord>>;
    async fn notification(&self, account: AccountId, id: i64)
    -> Result<Option<NotificationRecord>>;
    /// Dismiss one of an account's notifications, or (`None`) all of them; how many went.
    async fn dismiss_notifications(&self, account: AccountId, id: Option<i64>) -> Result<u64>;

    /// The highest position given so far.
    async fn head_position(&self) -> Result<Position>;
    /// The highest position of stream `key` (0 if it has none).
    async fn stream_head(&self, key: &str) -> Result<Position>;
    /// Events of one stream with a position above `after`, in position order.
    async fn stream_events(&self, stream: &str, after: Position, limit: i64) -> Result<Vec<Event>>;
    /// All events with `after < position <= upto`, in position order.
    async fn events_between(
        &self,
        after: Position,
        upto: Position,
        limit: i64,
    ) -> Result<Vec<Event>>;
    /// Notified after each local commit that wrote events (and, on Postgres, on each
    /// `NOTIFY` from other nodes).
    fn committed(&self) -> Arc<Notify>;
    /// SQLite: notified after each post, whose notice the full-text index takes a little
    /// later ([`search::keep_index`]); `None` where the index is kept in the row
    /// (Postgres).
    fn posted_unindexed(&self) -> Option<Arc<Notify>> {
        None
    }
    /// SQLite: index the notices posted since the index last took any (a search does so
    /// itself first); with `look_first`, only after a read shows there are some.
    /// Postgres: nothing to do.
    async fn index_for_search(&self, _look_first: bool) -> Result<()> {
        Ok(())
    }
    /// Events this node wrote that its hub has not routed yet (see
    /// [`crate::stream::heads`]).
    fn unrouted(&self) -> Arc<crate::stream::heads::Unrouted>;
    /// Try to become the sequencer; `None` when another holds the lease.
    async fn sequencer_lease(&self) -> Result<Option<Box<dyn SequencerLease>>>;
    /// Is the database reachable?
    async fn ping(&self) -> Result<()>;

    // Moderation (see `moderation`): every write takes its audit line.
    /// Change an account's standing; the events that make it felt go in the same write.
    async fn moderate(
        &self,
        target: AccountId,
        action: AccountAction,
        audit: Audit,
    ) -> Result<AccountRecord>;
    async fn set_role(&self, target: AccountId, role: Role, audit: Audit) -> Result<AccountRecord>;
    /// Refuse a pending sign-up (the account goes); `Forbidden` unless pending.
    async fn reject_account(&self, target: AccountId, audit: Audit) -> Result<()>;
    /// Delete a suspended account's data; `Forbidden` unless suspended.
    async fn purge_account(&self, target: AccountId, audit: Audit) -> Result<()>;
    async fn admin_accounts(
        &self,
        q: &AdminAccountQuery,
        only: Option<AccountId>,
    ) -> Result<Vec<AdminAccountRecord>>;
    /// Record where and why she signed up; `pending`: she waits for approval. Tells the
    /// moderators (`admin.sign_up`).
    async fn record_sign_up(
        &self,
        account: AccountId,
        ip: Option<&str>,
        reason: Option<&str>,
        pending: bool,
    ) -> Result<()>;
    async fn create_report(&self, report: NewReport) -> Result<ReportRecord>;
    async fn reports(&self, q: &ReportQuery) -> Result<Vec<ReportRecord>>;
    async fn report(&self, id: i64) -> Result<Option<ReportRecord>>;
    async fn change_report(
        &self,
        id: i64,
        change: ReportChange,
        audit: Audit,
    ) -> Result<ReportRecord>;
    /// Every domain block, or the one with `id`.
    async fn domain_blocks(&self, id: Option<i64>) -> Result<Vec<DomainBlock>>;
    /// The block covering `domain` or a parent of it (the strictest), if any.
    async fn domain_block_of(&self, domain: &str) -> Result<Option<DomainBlock>>;
    /// Create (`id == 0`) or change a block; applied to that server's accounts at once.
    async fn save_domain_block(&self, block: DomainBlock, audit: Audit) -> Result<DomainBlock>;
    async fn remove_domain_block(&self, id: i64, audit: Audit) -> Result<DomainBlock>;
    async fn access_rules(&self, kind: &str, id: Option<i64>) -> Result<Vec<AccessRule>>;
    async fn add_access_rule(&self, rule: AccessRule, audit: Audit) -> Result<AccessRule>;
    async fn remove_access_rule(&self, kind: &str, id: i64, audit: Audit) -> Result<()>;
    async fn setting(&self, name: &str) -> Result<Option<String>>;
    async fn set_setting(&self, name: &str, value: &str, audit: Audit) -> Result<()>;
    async fn audit_log(&self, max_id: Option<i64>, limit: i64) -> Result<Vec<AuditRecord>>;

    // Wiki mode (`crate::wiki`).
    /// The account linked to the wiki's user `wiki_user_id`.
    async fn wiki_account(&self, wiki_user_id: i64) -> Result<Option<AccountId>>;
    /// A new passwordless account named `username`, linked to her wiki user and in line
    /// with `standing`; `Taken("username")` when the name is someone else's.
    async fn create_wiki_account(
        &self,
        username: &str,
        standing: &WikiStanding,
    ) -> Result<AccountRecord>;
    /// Bring a linked account in line with what the wiki says of her now.
    async fn apply_wiki_standing(
        &self,
        account: AccountId,
        standing: &WikiStanding,
    ) -> Result<AccountRecord>;
    /// Linked accounts last checked before `before` (microseconds), oldest first.
    async fn wiki_links_due(&self, before: i64, limit: i64) -> Result<Vec<WikiLink>>;
    /// Mark links checked at `at` without changing them.
    async fn touch_wiki_links(&self, accounts: &[AccountId], at: i64) -> Result<()>;
    /// Record a sign-in nonce as used until `expires_at` (Unix seconds); false when it
    /// had been used already (on any node).
    async fn use_wiki_nonce(&self, nonce: &str, expires_at: i64) -> Result<bool>;

    // Live events (see `crate::domain::live`).
    async fn live_event(&self, slug: &str) -> Result<Option<LiveEventRecord>>;
    /// Whether there is an event of that slug (one indexed read: a stream's subscribe
    /// asks it).
    async fn live_event_exists(&self, slug: &str) -> Result<bool>;
    /// Events newest first, by state and title words (`q`), below `max_id`.
    async fn live_events(
        &self,
        state: Option<LiveState>,
        q: Option<&str>,
        max_id: Option<i64>,
        limit: i64,
    ) -> Result<Vec<LiveEventRecord>>;
    /// Create (`create`; the creator becomes its editor; `Taken("slug")`) or update an
    /// event; its readers hear `event.update`.
    async fn save_live_event(&self, e: &LiveEventRecord, create: bool) -> Result<LiveEventRecord>;
    async fn delete_live_event(&self, e: &LiveEventRecord) -> Result<()>;
    async fn live_members(&self, event: i64) -> Result<Vec<(AccountRecord, LiveRole)>>;
    async fn live_role(&self, event: i64, account: AccountId) -> Result<Option<LiveRole>>;
    /// Give accounts a role in an event (`on`) or take it away.
    async fn set_live_members(
        &self,
        event: i64,
        accounts: &[AccountId],
        role: LiveRole,
        on: bool,
    ) -> Result<()>;
    /// An editor features, removes, pins or marks a notice; the notice.
    async fn curate(
        &self,
        e: &LiveEventRecord,
        status: StatusId,
        change: Curation,
    ) -> Result<StatusRecord>;
    /// The event's key events as they stand, newest first.
    async fn key_events(&self, event: i64) -> Result<Vec<KeyEventRecord>>;
}

/// Open the store named by a `sqlite:` or `postgres:` URL and run its migrations.
pub async fn open(url: &str, site: Site) -> anyhow::Result<Arc<dyn Store>> {
    open_with(url, site, None).await
}

/// [`open`] with at most `connections` in the pool (`None`: the backend's default;
/// `TIDINGS_DATABASE_CONNECTIONS`).
pub async fn open_with(
    url: &str,
    site: Site,
    connections: Option<u32>,
) -> anyhow::Result<Arc<dyn Store>> {
    sqlx::any::install_default_drivers();
    let store = if url.starts_with("sqlite:") {
        sqlite::open(url, site, connections.unwrap_or(8)).await?
    } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        postgres::open(url, site, connections.unwrap_or(32)).await?
    } else {
        anyhow::bail!("DATABASE_URL must start with sqlite: or postgres:, got {url:?}");
    };
    Ok(Arc::new(store))
}
