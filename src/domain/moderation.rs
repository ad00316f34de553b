//! The words of moderation: roles, an account's standing, the actions a moderator takes,
//! reports and domain blocks — their names on Mastodon's wire and what each allows.
//!
//! Mastodon's roles carry permission bits; Tidings has the four fixed roles the issue
//! names, and maps each to the bits Mastodon's admin entities report (`role.permissions`),
//! so that tools reading those bits see what the role allows.

use serde::Serialize;

/// What an account may do beyond posting and reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    #[default]
    User,
    /// Reports, suspensions, silences, notice removals, blocks of domains and addresses.
    Moderator,
    /// Everything a moderator does, and settings, roles, announcements.
    Admin,
    /// The operator's own account: an administrator no one else can demote.
    Owner,
}

impl Role {
    pub fn parse(s: &str) -> Option<Role> {
        match s.to_ascii_lowercase().as_str() {
            "user" => Some(Role::User),
            "moderator" => Some(Role::Moderator),
            "admin" | "administrator" => Some(Role::Admin),
            "owner" => Some(Role::Owner),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Moderator => "moderator",
            Role::Admin => "admin",
            Role::Owner => "owner",
        }
    }

    /// Moderation: reports, accounts, notices, domain and address blocks, the audit log.
    pub fn moderates(self) -> bool {
        self >= Role::Moderator
    }

    /// Settings, roles, announcements, registrations.
    pub fn administers(self) -> bool {
        self >= Role::Admin
    }

    /// Mastodon's `UserRole` permission bits this role stands for: `administrator` (bit
    /// 0, which grants all) for administrators; for moderators, the moderation bits (audit
    /// log 2, dashboard 3, reports 4, federation 5, blocks 7, taxonomies 8, appeals 9,
    /// users 10).
    pub fn permissions(self) -> u64 {
        const MODERATION: u64 =
            (1 << 2) | (1 << 3) | (1 << 4) | (1 << 5) | (1 << 7) | (1 << 8) | (1 << 9) | (1 << 10);
        match self {
            Role::User => 0,
            Role::Moderator => MODERATION,
            Role::Admin | Role::Owner => (1 << 23) - 1,
        }
    }

    /// The ids of Mastodon's default roles (everyone -99, Moderator 1, Admin 2, Owner 3),
    /// so that clients keying on them see familiar ids.
    pub fn id(self) -> i64 {
        match self {
            Role::User => -99,
            Role::Moderator => 1,
            Role::Admin => 2,
            Role::Owner => 3,
        }
    }

    /// The display name Mastodon gives its default roles.
    pub fn title(self) -> &'static str {
        match self {
            Role::User => "",
            Role::Moderator => "Moderator",
            Role::Admin => "Admin",
            Role::Owner => "Owner",
        }
    }
}

/// An account's standing with the moderators. Times are microseconds.
#[derive(Debug, Clone, PartialEq)]
pub struct Standing {
    pub role: Role,
    /// Gone from every timeline, stream, search and replay; cannot sign in. Reversible
    /// for 30 days ([`SUSPENSION_KEPT_DAYS`]).
    pub suspended_at: Option<i64>,
    /// Out of public timelines, tag pages and public streams; followers still see her.
    pub silenced_at: Option<i64>,
    /// Her media is always marked sensitive.
    pub sensitized_at: Option<i64>,
    /// May not sign in; her tokens stop working.
    pub disabled: bool,
    /// False while a sign-up waits for a moderator's approval: she may not post.
    pub approved: bool,
    /// Set when the wiki her account comes from says she may not post (she still reads,
    /// follows and favourites).
    pub posting_bar: Option<PostingBar>,
}

/// Why a wiki account may not post.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PostingBar {
    /// Not (yet) in the wiki group that may post (`autoconfirmed` by default).
    WikiGroup,
    /// Blocked on the wiki.
    WikiBlocked,
}

impl PostingBar {
    pub fn as_str(self) -> &'static str {
        match self {
            PostingBar::WikiGroup => "wiki_group",
            PostingBar::WikiBlocked => "wiki_blocked",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "wiki_group" => Some(PostingBar::WikiGroup),
            "wiki_blocked" => Some(PostingBar::WikiBlocked),
            _ => None,
        }
    }

    /// What she is told when she tries.
    pub fn message(self) -> &'static str {
        match self {
            PostingBar::WikiGroup => {
                "Posting is open to the wiki's auto-confirmed editors; your wiki account is                  not one yet (make a few edits on the wiki and try again later)"
            }
            PostingBar::WikiBlocked => {
                "You are blocked on the wiki, so you cannot post here while the block lasts"
            }
        }
    }
}

impl Default for Standing {
    fn default() -> Self {
        Standing {
            role: Role::User,
            suspended_at: None,
            silenced_at: None,
            sensitized_at: None,
            disabled: false,
            approved: true,
            posting_bar: None,
        }
    }
}

impl Standing {
    /// May use the API as herself: not suspended, disabled or waiting for approval.
    pub fn functional(&self) -> bool {
        self.suspended_at.is_none() && !self.disabled && self.approved
    }

    /// Why she may not put anything before readers (post, edit, boost, upload): her
    /// standing's [`refusal`](Self::refusal), or the wiki's bar; `None` when she may.
    pub fn posting_refusal(&self) -> Option<&'static str> {
        self.refusal().or(self.posting_bar.map(PostingBar::message))
    }

    /// Why she may not act, in Mastodon's words, or `None` when she may.
    pub fn refusal(&self) -> Option<&'static str> {
        if self.suspended_at.is_some() || self.disabled {
            Some("Your login is currently disabled")
        } else if !self.approved {
            Some("Your login is currently pending approval")
        } else {
            None
        }
    }

    /// Kept out of public places (silenced or suspended).
    pub fn limited(&self) -> bool {
        self.silenced_at.is_some() || self.suspended_at.is_some()
    }
}

/// How long a suspension can be undone with everything restored; after it, the operator
/// may delete the account for good.
pub const SUSPENSION_KEPT_DAYS: i64 = 30;

/// A moderator's action on an account (`POST /api/v1/admin/accounts/:id/action`'s
/// `type`, and the undoing routes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountAction {
    /// A warning only (recorded, nothing changes).
    None,
    Sensitive,
    Disable,
    Silence,
    Suspend,
    Unsensitive,
    Enable,
    Unsilence,
    Unsuspend,
    Approve,
}

impl AccountAction {
    /// The action a moderator names in `type`, or `None` for an unknown one (422).
    pub fn parse(s: &str) -> Option<AccountAction> {
        Some(match s {
            "none" => AccountAction::None,
            "sensitive" => AccountAction::Sensitive,
            "disable" => AccountAction::Disable,
            "silence" => AccountAction::Silence,
            "suspend" => AccountAction::Suspend,
            _ => return None,
        })
    }

    /// Its name in the audit log (Mastodon's verbs).
    pub fn as_str(self) -> &'static str {
        match self {
            AccountAction::None => "warn",
            AccountAction::Sensitive => "sensitive",
            AccountAction::Disable => "disable",
            AccountAction::Silence => "silence",
            AccountAction::Suspend => "suspend",
            AccountAction::Unsensitive => "unsensitive",
            AccountAction::Enable => "enable",
            AccountAction::Unsilence => "unsilence",
            AccountAction::Unsuspend => "unsuspend",
            AccountAction::Approve => "approve",
        }
    }
}

/// Why a report was filed (Mastodon's categories).
pub fn report_category(s: &str) -> Option<&'static str> {
    ["spam", "legal", "violation", "other"]
        .into_iter()
        .find(|c| *c == s)
}

/// Longest report comment Mastodon accepts.
pub const REPORT_COMMENT_MAX: usize = 1000;

/// What a domain block does to a server's accounts.
pub fn domain_severity(s: &str) -> Option<&'static str> {
    ["noop", "silence", "suspend"].into_iter().find(|c| *c == s)
}

/// What an IP block does (Mastodon's severities).
pub fn ip_severity(s: &str) -> Option<&'static str> {
    ["sign_up_requires_approval", "sign_up_block", "no_access"]
        .into_iter()
        .find(|c| *c == s)
}

/// How people join, switched at run time by an administrator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Registrations {
    Open,
    /// Sign-ups wait for a moderator (`approval_required`).
    Approved,
    Closed,
}

impl Registrations {
    /// Mastodon's setting names: `open`, `approved`, `none`.
    pub fn parse(s: &str) -> Option<Registrations> {
        match s {
            "open" => Some(Registrations::Open),
            "approved" | "approval" => Some(Registrations::Approved),
            "none" | "closed" => Some(Registrations::Closed),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Registrations::Open => "open",
            Registrations::Approved => "approved",
            Registrations::Closed => "none",
        }
    }
}

/// A domain as blocks hold it: lowercase, no trailing dot, no scheme or path; `None`
/// for something that is not a host name.
pub fn normalize_domain(s: &str) -> Option<String> {
    let d = s.trim().trim_end_matches('.').to_ascii_lowercase();
    let ok = !d.is_empty()
        && d.len() <= 253
        && d.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '*' || c == ':')
        });
    ok.then_some(d)
}

/// Whether `domain` is `blocked` or one of its subdomains.
pub fn domain_covers(blocked: &str, domain: &str) -> bool {
    domain == blocked
        || domain
            .strip_suffix(blocked)
            .is_some_and(|rest| rest.ends_with('.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_ordered_by_what_they_allow() {
        assert!(!Role::User.moderates());
        assert!(Role::Moderator.moderates() && !Role::Moderator.administers());
        assert!(Role::Admin.administers() && Role::Owner.administers());
        assert_eq!(Role::parse("Moderator"), Some(Role::Moderator));
        assert_eq!(Role::parse("root"), None);
        assert_eq!(Role::Admin.permissions() & 1, 1);
        assert_eq!(Role::Moderator.permissions() & 1, 0);
    }

    #[test]
    fn a_block_covers_its_subdomains_only() {
        assert!(domain_covers("spam.example", "spam.example"));
        assert!(domain_covers("spam.example", "a.spam.example"));
        assert!(!domain_covers("spam.example", "notspam.example"));
        assert_eq!(
            normalize_domain(" Spam.Example. ").as_deref(),
            Some("spam.example")
        );
        assert_eq!(normalize_domain("http://x/y"), None);
        assert_eq!(normalize_domain(""), None);
    }

    #[test]
    fn unknown_actions_are_refused() {
        assert_eq!(
            AccountAction::parse("suspend"),
            Some(AccountAction::Suspend)
        );
        assert_eq!(AccountAction::parse("explode"), None);
        assert_eq!(AccountAction::parse("unsuspend"), None);
    }
}

/// An account as moderators see it: with how she signed up.
#[derive(Debug, Clone)]
pub struct AdminAccountRecord {
    pub account: super::entities::AccountRecord,
    pub email: Option<String>,
    pub sign_up_ip: Option<String>,
    pub reason: Option<String>,
}

/// A report, with the accounts it names.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportRecord {
    pub id: i64,
    /// Who filed it.
    pub account: super::entities::AccountRecord,
    pub target: super::entities::AccountRecord,
    pub status_ids: Vec<super::StatusId>,
    pub rule_ids: Vec<String>,
    pub comment: String,
    pub category: String,
    pub forwarded: bool,
    pub assigned: Option<super::entities::AccountRecord>,
    pub action_taken_by: Option<super::entities::AccountRecord>,
    pub action_taken_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// One line of the audit log.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditRecord {
    pub id: i64,
    /// Who acted (`None`: the operator at a shell).
    pub by: Option<(super::AccountId, String)>,
    pub action: String,
    pub target_type: String,
    pub target_id: String,
    pub target_name: String,
    pub reason: String,
    pub created_at: i64,
}

/// A blocked (or limited) server.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DomainBlock {
    pub id: i64,
    pub domain: String,
    pub severity: String,
    pub reject_media: bool,
    pub reject_reports: bool,
    pub private_comment: Option<String>,
    pub public_comment: Option<String>,
    pub obfuscate: bool,
    pub created_at: i64,
}

/// An allowed domain, a blocked e-mail domain or a blocked sign-up address.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AccessRule {
    pub id: i64,
    /// `domain_allow`, `email_domain_block` or `ip_block`.
    pub kind: String,
    pub value: String,
    pub severity: String,
    pub comment: String,
    pub expires_at: Option<i64>,
    pub created_at: i64,
}

pub mod render {
    //! Mastodon's admin entities as JSON (`Admin::Account`, `Admin::Report`, …) and the
    //! `Report` a user gets back.
    use super::super::entities::{Account, Status, StatusRecord};
    use super::super::{Site, iso8601};
    use super::*;
    use serde_json::{Value, json};

    /// The role as `Admin::Account` shows it (Mastodon dumps its role row there: numeric
    /// id and permissions).
    pub fn role(r: Role) -> Value {
        json!({
            "id": r.id(),
            "name": r.title(),
            "color": "",
            "position": r.id().max(0) * 100,
            "permissions": r.permissions(),
            "highlighted": r.moderates(),
        })
    }

    pub fn admin_account(a: &AdminAccountRecord, site: &Site) -> Value {
        let s = &a.account.standing;
        let ip = a.sign_up_ip.clone();
        json!({
            "id": a.account.id.to_string(),
            "username": a.account.username,
            "domain": a.account.remote.as_ref().map(|r| r.domain.clone()),
            "created_at": iso8601(a.account.created_at),
            "email": a.email.clone().unwrap_or_default(),
            "ip": ip,
            "ips": ip.iter().map(|ip| json!({"ip": ip, "used_at": iso8601(a.account.created_at)})).collect::<Vec<_>>(),
            "locale": a.account.profile.language.clone().unwrap_or_default(),
            "invite_request": a.reason,
            "role": role(s.role),
            "confirmed": true,
            "approved": s.approved,
            "disabled": s.disabled,
            "silenced": s.silenced_at.is_some(),
            "suspended": s.suspended_at.is_some(),
            "sensitized": s.sensitized_at.is_some(),
            "account": Account::render(&a.account, site),
            "created_by_application_id": null,
            "invited_by_account_id": null,
        })
    }

    /// The `Report` entity its author sees.
    pub fn report(r: &ReportRecord, site: &Site) -> Value {
        json!({
            "id": r.id.to_string(),
            "action_taken": r.action_taken_at.is_some(),
            "action_taken_at": r.action_taken_at.map(iso8601),
            "category": r.category,
            "comment": r.comment,
            "forwarded": r.forwarded,
            "created_at": iso8601(r.created_at),
            "status_ids": r.status_ids.iter().map(|i| i.to_string()).collect::<Vec<_>>(),
            "rule_ids": r.rule_ids,
            "target_account": Account::render(&r.target, site),
        })
    }

    /// `Admin::Report`, with the reported notices that still exist.
    pub fn admin_report(
        r: &ReportRecord,
        statuses: &[StatusRecord],
        accounts: &dyn Fn(&super::super::entities::AccountRecord) -> Value,
        site: &Site,
    ) -> Value {
        json!({
            "id": r.id.to_string(),
            "action_taken": r.action_taken_at.is_some(),
            "action_taken_at": r.action_taken_at.map(iso8601),
            "category": r.category,
            "comment": r.comment,
            "forwarded": r.forwarded,
            "created_at": iso8601(r.created_at),
            "updated_at": iso8601(r.updated_at),
            "account": accounts(&r.account),
            "target_account": accounts(&r.target),
            "assigned_account": r.assigned.as_ref().map(accounts),
            "action_taken_by_account": r.action_taken_by.as_ref().map(accounts),
            "statuses": statuses.iter().map(|s| Status::render(s, site)).collect::<Vec<_>>(),
            "rules": r.rule_ids.iter().map(|id| json!({"id": id, "text": ""})).collect::<Vec<_>>(),
        })
    }

    pub fn domain_block(b: &DomainBlock) -> Value {
        json!({
            "id": b.id.to_string(),
            "domain": b.domain,
            "digest": hex_sha256(&b.domain),
            "created_at": iso8601(b.created_at),
            "severity": b.severity,
            "reject_media": b.reject_media,
            "reject_reports": b.reject_reports,
            "private_comment": b.private_comment,
            "public_comment": b.public_comment,
            "obfuscate": b.obfuscate,
        })
    }

    /// `Admin::DomainAllow`, `Admin::EmailDomainBlock` or `Admin::IpBlock`.
    pub fn access_rule(r: &AccessRule) -> Value {
        match r.kind.as_str() {
            "ip_block" => json!({
                "id": r.id.to_string(),
                "ip": r.value,
                "severity": r.severity,
                "comment": r.comment,
                "created_at": iso8601(r.created_at),
                "expires_at": r.expires_at.map(iso8601),
            }),
            "email_domain_block" => json!({
                "id": r.id.to_string(),
                "domain": r.value,
                "created_at": iso8601(r.created_at),
                "history": [],
            }),
            _ => json!({
                "id": r.id.to_string(),
                "domain": r.value,
                "created_at": iso8601(r.created_at),
            }),
        }
    }

    /// A line of the audit log (a Tidings extension: Mastodon shows its log only on its
    /// web pages).
    pub fn audit(a: &AuditRecord) -> Value {
        json!({
            "id": a.id.to_string(),
            "account_id": a.by.as_ref().map(|(id, _)| id.to_string()),
            "username": a.by.as_ref().map(|(_, name)| name.clone()),
            "action": a.action,
            "target_type": a.target_type,
            "target_id": a.target_id,
            "target_name": a.target_name,
            "reason": a.reason,
            "created_at": iso8601(a.created_at),
        })
    }

    fn hex_sha256(s: &str) -> String {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(s.as_bytes()))
    }
}
