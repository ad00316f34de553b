//! What a change tells its readers: the event it writes, with the streams it goes to and
//! the payload they receive.
//!
//! Every routing decision lives here, next to the words it is about, so that the store
//! only gathers the facts a decision needs (who follows the author, where a notice's
//! earlier events went) and writes the result in the same transaction as the change.

use super::StreamKey;
use super::entities::{
    Announcement, AnnouncementRecord, Conversation, ConversationRecord, Notification,
    NotificationRecord, Status, StatusRecord, Visibility,
};
use super::event::{EventKind, split_streams};
use super::ids::StatusId;
use super::{AccountId, ListId, Site};

/// The stream key of announcements. No one subscribes to it: the hub delivers its events
/// to every `user` stream, and a `user` stream's replay includes it (see
/// `crate::stream::hub` and `crate::store`), so they cost one row, not one per account.
pub const ANNOUNCEMENTS: &str = "announcements";

/// Who receives a notice besides the public streams: the home streams of the author's
/// followers, and the streams of the lists that carry her (the store finds both; see
/// `crate::store`).
#[derive(Debug, Clone, Default)]
pub struct Reach {
    pub followers: Vec<AccountId>,
    pub lists: Vec<ListId>,
    /// The slugs of the live events whose curated feed carries it.
    pub events: Vec<String>,
}

/// An event as written by a change: no position yet (the sequencer gives it one).
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    pub kind: EventKind,
    /// What readers receive (see [`super::Event::payload`]).
    pub payload: String,
    /// Stream keys (see [`super::StreamKey::key`]).
    pub streams: Vec<String>,
    /// The notice the event is about, and its author: what lets a deletion find the
    /// notice's earlier events, and a home-stream replay re-check whether its reader may
    /// still see it.
    pub status_id: Option<StatusId>,
    pub author_id: Option<AccountId>,
}

impl NewEvent {
    /// A new notice, or a reblog, for everyone who should see it arrive.
    pub fn posted(s: &StatusRecord, reach: &Reach, site: &Site) -> NewEvent {
        NewEvent::about(
            s,
            EventKind::Update,
            Status::payload(s, site),
            audience(s, reach),
        )
    }

    /// An edit reaches where the notice goes now and where it went before: readers of
    /// a tag the edit removed must see the correction too.
    pub fn edited(
        before: &StatusRecord,
        after: &StatusRecord,
        reach: &Reach,
        site: &Site,
    ) -> NewEvent {
        let mut streams = audience(before, reach);
        merge(&mut streams, audience(after, reach));
        NewEvent::about(
            after,
            EventKind::StatusUpdate,
            Status::payload(after, site),
            streams,
        )
    }

    /// A deletion reaches where the notice goes today and every stream any of its
    /// earlier events went to (`earlier`: their stored stream lists) — a tag an edit
    /// removed, a follower who has since unfollowed — so that no open view keeps it.
    pub fn deleted<'a>(
        s: &StatusRecord,
        reach: &Reach,
        earlier: impl IntoIterator<Item = &'a str>,
    ) -> NewEvent {
        let mut streams = audience(s, reach);
        for list in earlier {
            merge(
                &mut streams,
                split_streams(list).iter().map(|k| k.to_string()),
            );
        }
        NewEvent::about(s, EventKind::Delete, s.id.to_string(), streams)
    }

    /// A notification, for its account's `user` and `user:notification` streams. It is
    /// about its notice (if any), so deleting the notice blanks it from history too.
    pub fn notified(n: &NotificationRecord, recipient: AccountId, site: &Site) -> NewEvent {
        NewEvent {
            kind: EventKind::Notification,
            payload: Notification::payload(n, site),
            streams: vec![
                StreamKey::User(recipient).key(),
                StreamKey::UserNotification(recipient).key(),
            ],
            status_id: n.status.as_ref().map(|s| s.id),
            author_id: None,
        }
    }

    /// A direct notice joined a conversation: for that participant's `direct` stream.
    /// About its notice, so deleting the notice blanks it from history.
    pub fn conversation(c: &ConversationRecord, s: &StatusRecord, site: &Site) -> NewEvent {
        NewEvent {
            kind: EventKind::Conversation,
            payload: Conversation::payload(c, site),
            streams: vec![StreamKey::Direct(c.owner.id).key()],
            status_id: Some(s.id),
            author_id: Some(s.account.id),
        }
    }

    /// An announcement published or changed: for every signed-in reader's `user`
    /// stream, which the hub finds by [`ANNOUNCEMENTS`].
    pub fn announced(a: &AnnouncementRecord) -> NewEvent {
        let mut everyone = a.clone();
        everyone.read = None;
        NewEvent::to_everyone(
            EventKind::Announcement,
            serde_json::to_string(&Announcement::render(&everyone)).unwrap_or_default(),
        )
    }

    /// The count of emoji `name` on announcement `id` is now `count`.
    pub fn reacted(id: i64, name: &str, count: i64) -> NewEvent {
        NewEvent::to_everyone(
            EventKind::AnnouncementReaction,
            // `announcement_id` first: how a withdrawal finds the events to blank (see
            // [`NewEvent::about_announcement`]).
            format!(
                r#"{{"announcement_id":"{id}","name":{},"count":{count}}}"#,
                serde_json::to_string(name).unwrap_or_default()
            ),
        )
    }

    /// Announcement `id` was withdrawn.
    pub fn unannounced(id: i64) -> NewEvent {
        NewEvent::to_everyone(EventKind::AnnouncementDelete, id.to_string())
    }

    /// How the payloads of announcement `id`'s events begin (the `Announcement`'s `id`
    /// and the reaction's `announcement_id` come first), as SQL `LIKE` patterns: what
    /// a withdrawal blanks, so that replay serves none of it.
    pub fn about_announcement(id: i64) -> [String; 2] {
        [
            format!(r#"{{"id":"{id}",%"#),
            format!(r#"{{"announcement_id":"{id}",%"#),
        ]
    }

    fn to_everyone(kind: EventKind, payload: String) -> NewEvent {
        NewEvent {
            kind,
            payload,
            streams: vec![ANNOUNCEMENTS.to_string()],
            status_id: None,
            author_id: None,
        }
    }

    /// Whom an account no longer sees changed: every node's open streams of hers learn
    /// her whole new list. For no reader.
    pub fn hidden(h: &crate::domain::event::Hidden) -> NewEvent {
        NewEvent {
            kind: EventKind::Hidden,
            payload: serde_json::to_string(h).unwrap_or_default(),
            streams: Vec::new(),
            status_id: None,
            author_id: None,
        }
    }

    /// A moderator withdrew a notice (its author suspended or silenced): a `delete` for
    /// `streams`, the streams its events went to. The notice itself stays, hidden by the
    /// reads, so that lifting the suspension restores it.
    pub fn withdrawn(id: StatusId, author: AccountId, streams: Vec<String>) -> NewEvent {
        NewEvent {
            kind: EventKind::Delete,
            payload: id.to_string(),
            streams,
            status_id: Some(id),
            author_id: Some(author),
        }
    }

    /// A token was revoked: no stream, but every node learns it and closes the token's
    /// open streams.
    /// `who` (an account id or a domain) changed standing: see [`EventKind::Standing`].
    pub fn standing(who: String) -> NewEvent {
        NewEvent {
            kind: EventKind::Standing,
            payload: who,
            streams: vec![crate::domain::event::STANDING.to_string()],
            status_id: None,
            author_id: None,
        }
    }

    pub fn revoked(token_id: i64) -> NewEvent {
        NewEvent {
            kind: EventKind::Revoke,
            payload: token_id.to_string(),
            streams: Vec::new(),
            status_id: None,
            author_id: None,
        }
    }

    fn about(s: &StatusRecord, kind: EventKind, payload: String, streams: Vec<String>) -> Self {
        NewEvent {
            kind,
            payload,
            streams,
            status_id: Some(s.id),
            author_id: Some(s.account.id),
        }
    }
}

fn merge(into: &mut Vec<String>, more: impl IntoIterator<Item = String>) {
    for k in more {
        if !into.contains(&k) {
            into.push(k);
        }
    }
}

/// The streams of a notice as it stands. Direct notices go only to the homes of those
/// who may see them. Public notices go to the public and tag
/// streams; a reblog goes only to home streams (as on Mastodon, the public timelines
/// carry originals). A public notice of ours also goes to `public:local` and
/// `hashtag:local:…`; one of another server to `public:remote`.
fn audience(s: &StatusRecord, reach: &Reach) -> Vec<String> {
    let followers = &reach.followers;
    let mut keys = Vec::new();
    if s.visibility == Visibility::Direct {
        // As on Mastodon: the author's home, and the homes of those it mentions who
        // follow her; everyone it mentions hears of it by notification and on her
        // `direct` stream (see [`NewEvent::conversation`]).
        let mut users: Vec<AccountId> = std::iter::once(s.account.id)
            .chain(
                s.mentions
                    .iter()
                    .map(|m| m.id)
                    .filter(|m| followers.contains(m)),
            )
            .collect();
        users.sort_unstable();
        users.dedup();
        keys.extend(users.into_iter().map(|u| StreamKey::User(u).key()));
        return keys;
    }
    // A silenced author's notices reach her followers, not the public streams.
    if s.visibility == Visibility::Public && s.reblog.is_none() && !s.account.standing.limited() {
        let local = s.account.remote.is_none();
        keys.push("public".to_string());
        keys.push(
            if local {
                "public:local"
            } else {
                "public:remote"
            }
            .to_string(),
        );
        for t in &s.tags {
            keys.push(format!("hashtag:{t}"));
            if local {
                keys.push(format!("hashtag:local:{t}"));
            }
        }
    }
    let author = s.account.remote.is_none().then_some(s.account.id);
    let mut users: Vec<AccountId> = author
        .into_iter()
        .chain(followers.iter().copied())
        .chain(s.mentions.iter().map(|m| m.id))
        .collect();
    users.sort_unstable();
    users.dedup();
    keys.extend(users.into_iter().map(|u| format!("user:{u}")));
    keys.extend(reach.lists.iter().map(|l| StreamKey::List(*l).key()));
    keys.extend(reach.events.iter().map(|e| super::live::stream_key(e)));
    keys
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::entities::{AccountRecord, MentionRecord};

    fn notice(visibility: Visibility) -> StatusRecord {
        StatusRecord {
            id: StatusId::new(7),
            account: AccountRecord {
                id: AccountId::new(1),
                username: "alice".into(),
                display_name: String::new(),
                note: String::new(),
                created_at: 0,
                standing: Default::default(),
                statuses_count: 1,
                followers_count: 2,
                following_count: 0,
                last_status_at: None,
                profile: Default::default(),
                remote: None,
            },
            text: "#x".into(),
            content: String::new(),
            spoiler_text: String::new(),
            sensitive: false,
            visibility,
            language: None,
            in_reply_to_id: None,
            in_reply_to_account_id: None,
            reblog: None,
            created_at: 0,
            edited_at: None,
            replies_count: 0,
            reblogs_count: 0,
            favourites_count: 0,
            tags: vec!["x".into()],
            poll: None,
            media: Vec::new(),
            mentions: vec![MentionRecord {
                id: AccountId::new(3),
                username: "carol".into(),
            }],
            viewer: None,
            remote: None,
        }
    }

    #[test]
    fn unlisted_notices_reach_only_user_streams() {
        let s = notice(Visibility::Unlisted);
        let site = Site::new("http://x.test");
        let e = NewEvent::posted(
            &s,
            &Reach {
                followers: vec![AccountId::new(2), AccountId::new(3)],
                lists: vec![ListId::new(9)],
                events: Vec::new(),
            },
            &site,
        );
        assert_eq!(e.streams, vec!["user:1", "user:2", "user:3", "list:9"]);
        let public = NewEvent::posted(
            &notice(Visibility::Public),
            &Reach {
                followers: vec![AccountId::new(2)],
                lists: vec![],
                events: vec!["vote".into()],
            },
            &site,
        );
        assert_eq!(
            public.streams,
            vec![
                "public",
                "public:local",
                "hashtag:x",
                "hashtag:local:x",
                "user:1",
                "user:2",
                "user:3",
                "event:vote"
            ]
        );
    }

    #[test]
    fn a_direct_notice_reaches_only_its_author_and_mentioned_followers() {
        let s = notice(Visibility::Direct);
        let site = Site::new("http://x.test");
        let reach = |followers: Vec<i64>| Reach {
            followers: followers.into_iter().map(AccountId::new).collect(),
            lists: vec![ListId::new(9)],
            events: Vec::new(),
        };
        // Carol (3) is mentioned and follows: her home too; Bob (2) follows, unnamed.
        let e = NewEvent::posted(&s, &reach(vec![2, 3]), &site);
        assert_eq!(e.streams, vec!["user:1", "user:3"]);
        // Carol does not follow: only the author's home (she has the notification).
        let e = NewEvent::posted(&s, &reach(vec![2]), &site);
        assert_eq!(e.streams, vec!["user:1"]);
    }

    #[test]
    fn a_delete_reaches_every_stream_an_earlier_event_went_to() {
        let s = notice(Visibility::Private);
        let e = NewEvent::deleted(&s, &Reach::default(), ["hashtag:old user:9", ""]);
        assert_eq!(e.kind, EventKind::Delete);
        assert_eq!(e.payload, "7");
        assert_eq!(e.streams, vec!["user:1", "user:3", "hashtag:old", "user:9"]);
    }
}
