//! Records read from the store, and their rendering as Mastodon API entities.
//!
//! Shapes follow Mastodon's documented entities (ids as strings, ISO 8601 times) so
//! that existing clients parse them unmodified.

use super::validate::Invalid;
use super::{AccountId, Site, StatusId, iso8601};
use serde::Serialize;

#[derive(Debug, Clone, PartialEq)]
pub struct AccountRecord {
    pub id: AccountId,
    pub username: String,
    pub display_name: String,
    pub note: String,
    pub created_at: i64,
    /// Role and moderation state (see [`super::moderation`]).
    pub standing: super::moderation::Standing,
    pub statuses_count: i64,
    pub followers_count: i64,
    pub following_count: i64,
    pub last_status_at: Option<i64>,
    pub profile: Profile,
    /// Set for an account of another server (see `crate::federation`).
    pub remote: Option<Box<RemoteAccount>>,
}

/// Where an account of another server lives: its domain, actor id, profile page and
/// pictures (which stay on its server).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RemoteAccount {
    pub domain: String,
    pub uri: String,
    pub url: String,
    pub avatar: Option<String>,
    pub header: Option<String>,
    /// The account it moved to (`Move`), as announced.
    pub moved_to: Option<String>,
}

/// What an account says of itself beyond its names, and its posting defaults.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Profile {
    /// The note as its owner wrote it (`note` holds it rendered).
    pub note_source: String,
    /// Follows wait for her approval.
    pub locked: bool,
    pub bot: bool,
    pub discoverable: bool,
    /// Up to four (name, value) pairs, as written.
    pub fields: Vec<(String, String)>,
    /// Visibility of a new notice that names none.
    pub privacy: Visibility,
    pub sensitive: bool,
    pub language: Option<String>,
    /// Her pictures, by media key (served at `/media/{key}`); none: the default ones.
    pub avatar_key: Option<String>,
    pub header_key: Option<String>,
}

/// A profile field as Mastodon shows it: the value rendered as safe HTML.
#[derive(Serialize, schemars::JsonSchema)]
pub struct Field {
    pub name: String,
    pub value: String,
    pub verified_at: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MentionRecord {
    pub id: AccountId,
    pub username: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct StatusRecord {
    pub id: StatusId,
    pub account: AccountRecord,
    pub text: String,
    pub content: String,
    pub spoiler_text: String,
    pub sensitive: bool,
    pub visibility: Visibility,
    pub language: Option<String>,
    pub in_reply_to_id: Option<StatusId>,
    pub in_reply_to_account_id: Option<AccountId>,
    pub reblog: Option<Box<StatusRecord>>,
    pub created_at: i64,
    pub edited_at: Option<i64>,
    pub replies_count: i64,
    pub reblogs_count: i64,
    pub favourites_count: i64,
    pub tags: Vec<String>,
    pub mentions: Vec<MentionRecord>,
    /// What the viewer did to this notice; `None` when rendered for nobody in
    /// particular (streaming payloads, anonymous readers).
    pub viewer: Option<ViewerState>,
    pub poll: Option<PollRecord>,
    pub media: Vec<MediaRecord>,
    /// A remote notice's own `uri` and `url` (a local one's are made from its id).
    pub remote: Option<Box<(String, String)>>,
}

/// An uploaded image.
#[derive(Debug, Clone, PartialEq)]
pub struct MediaRecord {
    pub id: i64,
    pub account_id: AccountId,
    pub status_id: Option<StatusId>,
    pub file_key: String,
    pub preview_key: String,
    pub width: u32,
    pub height: u32,
    pub preview_width: u32,
    pub preview_height: u32,
    pub blurhash: String,
    pub description: String,
    pub focus: (f64, f64),
}

/// Mastodon's `MediaAttachment` entity (images).
#[derive(Serialize, schemars::JsonSchema)]
pub struct MediaAttachment {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub url: String,
    pub preview_url: String,
    pub remote_url: Option<String>,
    pub preview_remote_url: Option<String>,
    pub text_url: Option<String>,
    pub meta: serde_json::Value,
    pub description: Option<String>,
    pub blurhash: String,
}

impl MediaAttachment {
    pub fn render(m: &MediaRecord, site: &Site) -> Self {
        let size = |w: u32, h: u32| {
            serde_json::json!({
                "width": w, "height": h, "size": format!("{w}x{h}"),
                "aspect": f64::from(w) / f64::from(h.max(1)),
            })
        };
        MediaAttachment {
            id: m.id.to_string(),
            kind: "image",
            url: format!("{}/media/{}", site.base_url, m.file_key),
            preview_url: format!("{}/media/{}", site.base_url, m.preview_key),
            remote_url: None,
            preview_remote_url: None,
            text_url: None,
            meta: serde_json::json!({
                "original": size(m.width, m.height),
                "small": size(m.preview_width, m.preview_height),
                "focus": {"x": m.focus.0, "y": m.focus.1},
            }),
            description: (!m.description.is_empty()).then(|| m.description.clone()),
            blurhash: m.blurhash.clone(),
        }
    }
}

/// A notice's poll with its counts as they stand.
#[derive(Debug, Clone, PartialEq)]
pub struct PollRecord {
    pub id: i64,
    /// Microseconds since the epoch.
    pub expires_at: i64,
    pub multiple: bool,
    pub hide_totals: bool,
    /// (title, votes)
    pub options: Vec<(String, i64)>,
    pub votes_count: i64,
    pub voters_count: i64,
    /// The viewer's choices; `None` when rendered for nobody in particular.
    pub own_votes: Option<Vec<u32>>,
}

impl PollRecord {
    /// A poll known by id only, until its options and counts are read.
    pub fn unloaded(id: i64) -> Self {
        PollRecord {
            id,
            expires_at: 0,
            multiple: false,
            hide_totals: false,
            options: Vec::new(),
            votes_count: 0,
            voters_count: 0,
            own_votes: None,
        }
    }
}

/// Mastodon's `Poll` entity.
#[derive(Serialize, schemars::JsonSchema)]
pub struct Poll {
    pub id: String,
    pub expires_at: String,
    pub expired: bool,
    pub multiple: bool,
    pub votes_count: i64,
    pub voters_count: Option<i64>,
    pub options: Vec<PollOption>,
    pub emojis: [(); 0],
    #[serde(skip_serializing_if = "Option::is_none")]
    pub voted: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub own_votes: Option<Vec<u32>>,
}

#[derive(Serialize, schemars::JsonSchema)]
pub struct PollOption {
    pub title: String,
    /// Hidden (null) until the poll ends when its author asked for hidden totals.
    pub votes_count: Option<i64>,
}

impl Poll {
    pub fn render(p: &PollRecord, now: i64) -> Self {
        let expired = now >= p.expires_at;
        let show = !p.hide_totals || expired;
        Poll {
            id: p.id.to_string(),
            expires_at: iso8601(p.expires_at),
            expired,
            multiple: p.multiple,
            votes_count: p.votes_count,
            voters_count: p.multiple.then_some(p.voters_count),
            options: p
                .options
                .iter()
                .map(|(title, n)| PollOption {
                    title: title.clone(),
                    votes_count: show.then_some(*n),
                })
                .collect(),
            emojis: [],
            voted: p.own_votes.as_ref().map(|v| !v.is_empty()),
            own_votes: p.own_votes.clone(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ViewerState {
    pub favourited: bool,
    pub reblogged: bool,
    pub bookmarked: bool,
    /// Pinned to the viewer's profile (only her own notices can be).
    pub pinned: bool,
    /// The viewer wrote it.
    pub mine: bool,
}

/// Who may see a notice.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, Default, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Visibility {
    #[default]
    Public,
    Unlisted,
    Private,
    /// Only the author and the accounts it mentions.
    Direct,
}

impl Visibility {
    /// Parse what a client sent, with the error it is answered with.
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        match s {
            "public" => Ok(Visibility::Public),
            "unlisted" => Ok(Visibility::Unlisted),
            "private" => Ok(Visibility::Private),
            "direct" => Ok(Visibility::Direct),
            _ => Err(Invalid(format!(
                "Validation failed: unknown visibility {s:?}"
            ))),
        }
    }

    /// As stored; `None` for a value no version of Tidings wrote.
    pub fn from_stored(s: &str) -> Option<Self> {
        Self::parse(s).ok()
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Visibility::Public => "public",
            Visibility::Unlisted => "unlisted",
            Visibility::Private => "private",
            Visibility::Direct => "direct",
        }
    }

    /// Only some accounts may see it: followers (private) or those mentioned (both).
    pub fn is_limited(self) -> bool {
        matches!(self, Visibility::Private | Visibility::Direct)
    }

    /// Whether `viewer` may see a notice of this visibility, given what is known of
    /// her: whether she wrote it, follows its author, is mentioned in it. A mentioned
    /// account sees a private notice too, as on Mastodon.
    pub fn shows(self, own: bool, follows_author: bool, mentioned: bool) -> bool {
        match self {
            Visibility::Public | Visibility::Unlisted => true,
            Visibility::Private => own || follows_author || mentioned,
            Visibility::Direct => own || mentioned,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct EditRecord {
    pub text: String,
    pub content: String,
    pub spoiler_text: String,
    pub sensitive: bool,
    pub created_at: i64,
}

#[derive(Serialize, schemars::JsonSchema)]
pub struct Account {
    pub id: String,
    pub username: String,
    pub acct: String,
    pub display_name: String,
    pub locked: bool,
    pub bot: bool,
    pub discoverable: bool,
    pub group: bool,
    pub created_at: String,
    pub note: String,
    pub url: String,
    pub uri: String,
    pub avatar: String,
    pub avatar_static: String,
    pub header: String,
    pub header_static: String,
    pub followers_count: i64,
    pub following_count: i64,
    pub statuses_count: i64,
    pub last_status_at: Option<String>,
    pub emojis: [(); 0],
    pub fields: Vec<Field>,
    /// Present (true) only for a suspended account, as on Mastodon.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suspended: Option<bool>,
    /// Present (true) only for a silenced account.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limited: Option<bool>,
}

impl Account {
    pub fn render(a: &AccountRecord, site: &Site) -> Self {
        let picture = |key: &Option<String>, missing: &str| match key {
            Some(k) => format!("{}/media/{k}", site.base_url),
            None => format!("{}/{missing}/original/missing.png", site.base_url),
        };
        let mut avatar = picture(&a.profile.avatar_key, "avatars");
        let mut header = picture(&a.profile.header_key, "headers");
        let (acct, url, uri) = match &a.remote {
            None => (
                a.username.clone(),
                format!("{}/@{}", site.base_url, a.username),
                format!("{}/users/{}", site.base_url, a.username),
            ),
            Some(r) => {
                if let Some(p) = &r.avatar {
                    avatar = p.clone();
                }
                if let Some(p) = &r.header {
                    header = p.clone();
                }
                (
                    format!("{}@{}", a.username, r.domain),
                    r.url.clone(),
                    r.uri.clone(),
                )
            }
        };
        Account {
            id: a.id.to_string(),
            username: a.username.clone(),
            acct,
            display_name: a.display_name.clone(),
            locked: a.profile.locked,
            bot: a.profile.bot,
            discoverable: a.profile.discoverable,
            group: false,
            created_at: iso8601(a.created_at),
            note: a.note.clone(),
            url,
            uri,
            avatar_static: avatar.clone(),
            avatar,
            header_static: header.clone(),
            header,
            followers_count: a.followers_count,
            following_count: a.following_count,
            statuses_count: a.statuses_count,
            last_status_at: a.last_status_at.map(|t| iso8601(t)[..10].to_string()),
            emojis: [],
            fields: a
                .profile
                .fields
                .iter()
                .map(|(name, value)| Field {
                    name: {
                        let mut out = String::new();
                        super::text::escape_html(name, &mut out);
                        out
                    },
                    // One line, as Mastodon renders a field: no paragraph around it.
                    value: {
                        let html = super::text::render_html(value, &site.base_url, &|_, _| None);
                        match html
                            .strip_prefix("<p>")
                            .and_then(|h| h.strip_suffix("</p>"))
                        {
                            Some(inner) if !inner.contains("<p>") => inner.to_string(),
                            _ => html,
                        }
                    },
                    verified_at: None,
                })
                .collect(),
            suspended: None,
            limited: a.standing.silenced_at.map(|_| true),
        }
        .blanked_if(a.standing.suspended_at.is_some())
    }

    /// A suspended account shows its names only (as on Mastodon): no note, fields,
    /// pictures or counts.
    fn blanked_if(mut self, suspended: bool) -> Self {
        if suspended {
            self.suspended = Some(true);
            self.limited = None;
            self.display_name = String::new();
            self.note = String::new();
            self.fields.clear();
            self.followers_count = 0;
            self.following_count = 0;
            self.statuses_count = 0;
            self.last_status_at = None;
        }
        self
    }
}

#[derive(Serialize, schemars::JsonSchema)]
pub struct Tag {
    pub name: String,
    pub url: String,
}

#[derive(Serialize, schemars::JsonSchema)]
pub struct Mention {
    pub id: String,
    pub username: String,
    pub url: String,
    pub acct: String,
}

#[derive(Serialize, schemars::JsonSchema)]
pub struct Status {
    pub id: String,
    pub uri: String,
    pub url: String,
    pub created_at: String,
    pub account: Account,
    pub content: String,
    pub visibility: Visibility,
    pub sensitive: bool,
    pub spoiler_text: String,
    pub media_attachments: Vec<MediaAttachment>,
    pub application: Option<()>,
    pub mentions: Vec<Mention>,
    pub tags: Vec<Tag>,
    pub emojis: [(); 0],
    pub reblogs_count: i64,
    pub favourites_count: i64,
    pub replies_count: i64,
    pub in_reply_to_id: Option<String>,
    pub in_reply_to_account_id: Option<String>,
    pub reblog: Option<Box<Status>>,
    pub poll: Option<Poll>,
    pub card: Option<()>,
    pub language: Option<String>,
    /// Plain source text: only in answers to the author (delete-and-redraft, source).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    pub edited_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub favourited: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reblogged: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub muted: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bookmarked: Option<bool>,
    /// Only in answers to the notice's author.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pinned: Option<bool>,
    /// The reader's filters that matched it (see `crate::domain::filters`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filtered: Option<Vec<super::filters::FilterResult>>,
}

impl Status {
    pub fn render(s: &StatusRecord, site: &Site) -> Self {
        let base = &site.base_url;
        let v = s.viewer;
        Status {
            id: s.id.to_string(),
            uri: match &s.remote {
                Some(r) => r.0.clone(),
                None => format!("{base}/users/{}/statuses/{}", s.account.username, s.id),
            },
            url: match &s.remote {
                Some(r) => r.1.clone(),
                None => format!("{base}/@{}/{}", s.account.username, s.id),
            },
            created_at: iso8601(s.created_at),
            account: Account::render(&s.account, site),
            content: s.content.clone(),
            visibility: s.visibility,
            sensitive: s.sensitive,
            spoiler_text: s.spoiler_text.clone(),
            media_attachments: s
                .media
                .iter()
                .map(|m| MediaAttachment::render(m, site))
                .collect(),
            application: None,
            mentions: s
                .mentions
                .iter()
                .map(|m| Mention {
                    id: m.id.to_string(),
                    username: m.username.clone(),
                    url: format!("{base}/@{}", m.username),
                    acct: m.username.clone(),
                })
                .collect(),
            tags: s
                .tags
                .iter()
                .map(|t| Tag {
                    name: t.clone(),
                    url: format!("{base}/tags/{t}"),
                })
                .collect(),
            emojis: [],
            reblogs_count: s.reblogs_count,
            favourites_count: s.favourites_count,
            replies_count: s.replies_count,
            in_reply_to_id: s.in_reply_to_id.map(|i| i.to_string()),
            in_reply_to_account_id: s.in_reply_to_account_id.map(|i| i.to_string()),
            reblog: s.reblog.as_ref().map(|r| Box::new(Status::render(r, site))),
            poll: s
                .poll
                .as_ref()
                .map(|p| Poll::render(p, super::now_micros())),
            card: None,
            language: s.language.clone(),
            text: None,
            edited_at: s.edited_at.map(iso8601),
            favourited: v.map(|v| v.favourited),
            reblogged: v.map(|v| v.reblogged),
            muted: v.map(|_| false),
            bookmarked: v.map(|v| v.bookmarked),
            pinned: v.filter(|v| v.mine).map(|v| v.pinned),
            filtered: None,
        }
    }

    /// The one-line JSON used as a streaming payload and stored with the event.
    pub fn payload(s: &StatusRecord, site: &Site) -> String {
        let mut anonymous = s.clone();
        anonymous.viewer = None;
        if let Some(p) = anonymous.poll.as_mut() {
            p.own_votes = None;
        }
        serde_json::to_string(&Status::render(&anonymous, site)).unwrap_or_default()
    }
}

#[derive(Serialize, schemars::JsonSchema)]
pub struct StatusEdit {
    pub content: String,
    pub spoiler_text: String,
    pub sensitive: bool,
    pub created_at: String,
    pub account: Account,
    pub media_attachments: [(); 0],
    pub emojis: [(); 0],
}

impl StatusEdit {
    pub fn render(e: &EditRecord, account: &AccountRecord, site: &Site) -> Self {
        StatusEdit {
            content: e.content.clone(),
            spoiler_text: e.spoiler_text.clone(),
            sensitive: e.sensitive,
            created_at: iso8601(e.created_at),
            account: Account::render(account, site),
            media_attachments: [],
            emojis: [],
        }
    }
}

/// What a notification tells its account (Mastodon's `type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum NotificationType {
    /// Someone mentioned the account.
    Mention,
    /// Someone followed the account.
    Follow,
    /// Someone favourited the account's notice.
    Favourite,
    /// Someone reblogged the account's notice.
    Reblog,
    /// A notice the account reblogged was edited.
    Update,
    /// Someone asked to follow the (locked) account.
    #[serde(rename = "follow_request")]
    FollowRequest,
    /// An account she follows with notifications on posted.
    Status,
    /// A poll she voted in or made has ended.
    Poll,
    /// For moderators: someone signed up.
    #[serde(rename = "admin.sign_up")]
    AdminSignUp,
    /// For moderators: someone filed a report.
    #[serde(rename = "admin.report")]
    AdminReport,
}

impl NotificationType {
    pub const ALL: [NotificationType; 10] = [
        NotificationType::Mention,
        NotificationType::Follow,
        NotificationType::Favourite,
        NotificationType::Reblog,
        NotificationType::Update,
        NotificationType::FollowRequest,
        NotificationType::Status,
        NotificationType::Poll,
        NotificationType::AdminSignUp,
        NotificationType::AdminReport,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            NotificationType::Mention => "mention",
            NotificationType::Follow => "follow",
            NotificationType::Favourite => "favourite",
            NotificationType::Reblog => "reblog",
            NotificationType::Update => "update",
            NotificationType::FollowRequest => "follow_request",
            NotificationType::Status => "status",
            NotificationType::Poll => "poll",
            NotificationType::AdminSignUp => "admin.sign_up",
            NotificationType::AdminReport => "admin.report",
        }
    }

    /// A type as stored or as a client names it; `None` for one Tidings never makes
    /// (Mastodon's `quote`, `severed_relationships`, …: filtering by them finds nothing).
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct NotificationRecord {
    pub id: i64,
    pub kind: NotificationType,
    pub created_at: i64,
    /// Who did it.
    pub account: AccountRecord,
    pub status: Option<StatusRecord>,
    /// The report an `admin.report` is about.
    pub report: Option<Box<super::moderation::ReportRecord>>,
}

/// Mastodon's `Notification` entity (ungrouped).
#[derive(Serialize, schemars::JsonSchema)]
pub struct Notification {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: NotificationType,
    pub group_key: String,
    pub created_at: String,
    pub account: Account,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<Status>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report: Option<serde_json::Value>,
}

impl Notification {
    pub fn render(n: &NotificationRecord, site: &Site) -> Self {
        Notification {
            id: n.id.to_string(),
            kind: n.kind,
            group_key: format!("ungrouped-{}", n.id),
            created_at: iso8601(n.created_at),
            account: Account::render(&n.account, site),
            status: n.status.as_ref().map(|s| Status::render(s, site)),
            report: n
                .report
                .as_ref()
                .map(|r| super::moderation::render::report(r, site)),
        }
    }

    /// The one-line JSON of a `notification` streaming event (the notice as anyone
    /// sees it: no viewer flags).
    pub fn payload(n: &NotificationRecord, site: &Site) -> String {
        let mut anonymous = n.clone();
        if let Some(s) = anonymous.status.as_mut() {
            s.viewer = None;
        }
        serde_json::to_string(&Notification::render(&anonymous, site)).unwrap_or_default()
    }
}

/// One account's conversation of direct notices, as stored.
#[derive(Debug, Clone)]
pub struct ConversationRecord {
    pub id: i64,
    pub unread: bool,
    /// The other participants; none when she wrote only to herself.
    pub accounts: Vec<AccountRecord>,
    /// The latest notice still standing.
    pub last_status: Option<StatusRecord>,
    /// Whose conversation it is (Mastodon lists her when no one else takes part).
    pub owner: AccountRecord,
}

/// Mastodon's `Conversation` entity.
#[derive(Serialize, schemars::JsonSchema)]
pub struct Conversation {
    pub id: String,
    pub unread: bool,
    pub accounts: Vec<Account>,
    pub last_status: Option<Status>,
}

impl Conversation {
    pub fn render(c: &ConversationRecord, site: &Site) -> Self {
        let accounts = if c.accounts.is_empty() {
            std::slice::from_ref(&c.owner)
        } else {
            &c.accounts[..]
        };
        Conversation {
            id: c.id.to_string(),
            unread: c.unread,
            accounts: accounts.iter().map(|a| Account::render(a, site)).collect(),
            last_status: c.last_status.as_ref().map(|s| Status::render(s, site)),
        }
    }

    /// The one-line JSON of a `conversation` streaming event (no viewer flags: it is
    /// written once, as the notice is posted).
    pub fn payload(c: &ConversationRecord, site: &Site) -> String {
        let mut plain = c.clone();
        if let Some(s) = plain.last_status.as_mut() {
            s.viewer = None;
        }
        serde_json::to_string(&Conversation::render(&plain, site)).unwrap_or_default()
    }
}

/// An announcement of the administrators, as stored, with its reactions as the reader
/// sees them.
#[derive(Debug, Clone)]
pub struct AnnouncementRecord {
    pub id: i64,
    pub content: String,
    pub starts_at: Option<i64>,
    pub ends_at: Option<i64>,
    pub all_day: bool,
    pub published_at: i64,
    pub updated_at: i64,
    /// (emoji, count, whether the reader reacted with it), first used first.
    pub reactions: Vec<(String, i64, bool)>,
    /// Whether the reader dismissed it; `None` for everyone (a stream event).
    pub read: Option<bool>,
}

/// Mastodon's `Reaction` of an announcement (Unicode emoji only: Tidings has no custom
/// emoji, so no `url`).
#[derive(Serialize, schemars::JsonSchema)]
pub struct Reaction {
    pub name: String,
    pub count: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub me: Option<bool>,
}

/// Mastodon's `Announcement` entity.
#[derive(Serialize, schemars::JsonSchema)]
pub struct Announcement {
    pub id: String,
    pub content: String,
    pub starts_at: Option<String>,
    pub ends_at: Option<String>,
    pub all_day: bool,
    pub published_at: String,
    pub updated_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read: Option<bool>,
    pub mentions: Vec<serde_json::Value>,
    pub statuses: Vec<serde_json::Value>,
    pub tags: Vec<serde_json::Value>,
    pub emojis: Vec<serde_json::Value>,
    pub reactions: Vec<Reaction>,
}

impl Announcement {
    pub fn render(a: &AnnouncementRecord) -> Self {
        let personal = a.read.is_some();
        Announcement {
            id: a.id.to_string(),
            content: a.content.clone(),
            starts_at: a.starts_at.map(iso8601),
            ends_at: a.ends_at.map(iso8601),
            all_day: a.all_day,
            published_at: iso8601(a.published_at),
            updated_at: iso8601(a.updated_at),
            read: a.read,
            mentions: Vec::new(),
            statuses: Vec::new(),
            tags: Vec::new(),
            emojis: Vec::new(),
            reactions: a
                .reactions
                .iter()
                .map(|(name, count, me)| Reaction {
                    name: name.clone(),
                    count: *count,
                    me: personal.then_some(*me),
                })
                .collect(),
        }
    }
}

/// Mastodon's `Context`: the thread around a notice.
#[derive(Serialize, schemars::JsonSchema)]
pub struct Context {
    pub ancestors: Vec<Status>,
    pub descendants: Vec<Status>,
}
