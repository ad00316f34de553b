//! Streams a reader may subscribe to, their wire names, and their internal keys.
//!
//! A key is a short string naming one routable stream: `public`, `public:local`,
//! `public:remote`, `hashtag:<tag>`, `hashtag:local:<tag>`, `user:<account id>`,
//! `user:notification:<account id>`, `list:<list id>`, `direct:<account id>`,
//! `event:<slug>` (a live event's curated feed, see `crate::domain::live`). The
//! store records each event's keys; the hub routes by key; replay filters by key.

use super::text::{is_tag, normalize_tag};
use super::{AccountId, ListId};

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum StreamKey {
    Public,
    PublicLocal,
    PublicRemote,
    Hashtag(String),
    HashtagLocal(String),
    User(AccountId),
    /// Only the notifications of the account.
    UserNotification(AccountId),
    /// One of the account's lists (whose it is, the API checks).
    List(ListId),
    /// The account's conversations of direct notices.
    Direct(AccountId),
    /// A live event's curated feed, by its slug (whether it exists, the API checks).
    Event(String),
}

#[derive(Debug, PartialEq, Eq)]
pub enum StreamError {
    Unknown,
    MissingTag,
    MissingList,
    MissingEvent,
    /// A tag with characters no tag has (`:`, spaces, punctuation).
    InvalidTag,
    NeedsToken,
}

impl StreamError {
    pub fn message(&self) -> &'static str {
        match self {
            StreamError::Unknown => "Unknown stream type",
            StreamError::MissingTag => "No tag for stream provided",
            StreamError::MissingList => "No list for stream provided",
            StreamError::MissingEvent => "No event for stream provided",
            StreamError::InvalidTag => "Tags are made of letters, digits and underscores",
            StreamError::NeedsToken => "This stream requires an access token",
        }
    }
}

impl StreamKey {
    /// Parse a Mastodon wire name (`hashtag:local`, or the SSE path form `hashtag/local`)
    /// with its `tag`, `list` or `event` parameter. `account` is the caller's account,
    /// needed for `user`, `user:notification`, `list` and `direct`.
    pub fn parse(
        name: &str,
        tag: Option<&str>,
        list: Option<&str>,
        event: Option<&str>,
        account: Option<AccountId>,
    ) -> Result<Self, StreamError> {
        let name = name.replace('/', ":");
        let tag = || {
            let t = tag
                .map(normalize_tag)
                .filter(|t| !t.is_empty())
                .ok_or(StreamError::MissingTag)?;
            if is_tag(&t) {
                Ok(t)
            } else {
                Err(StreamError::InvalidTag)
            }
        };
        match name.as_str() {
            "public" => Ok(StreamKey::Public),
            "public:local" => Ok(StreamKey::PublicLocal),
            "public:remote" => Ok(StreamKey::PublicRemote),
            "hashtag" => Ok(StreamKey::Hashtag(tag()?)),
            "hashtag:local" => Ok(StreamKey::HashtagLocal(tag()?)),
            "user" => account.map(StreamKey::User).ok_or(StreamError::NeedsToken),
            "user:notification" => account
                .map(StreamKey::UserNotification)
                .ok_or(StreamError::NeedsToken),
            "direct" => account
                .map(StreamKey::Direct)
                .ok_or(StreamError::NeedsToken),
            "list" => {
                account.ok_or(StreamError::NeedsToken)?;
                list.and_then(ListId::parse)
                    .map(StreamKey::List)
                    .ok_or(StreamError::MissingList)
            }
            "event" => event
                .filter(|e| super::live::is_slug(e))
                .map(|e| StreamKey::Event(e.to_string()))
                .ok_or(StreamError::MissingEvent),
            _ => Err(StreamError::Unknown),
        }
    }

    pub fn key(&self) -> String {
        match self {
            StreamKey::Public => "public".into(),
            StreamKey::PublicLocal => "public:local".into(),
            StreamKey::PublicRemote => "public:remote".into(),
            StreamKey::Hashtag(t) => format!("hashtag:{t}"),
            StreamKey::HashtagLocal(t) => format!("hashtag:local:{t}"),
            StreamKey::User(id) => format!("user:{id}"),
            StreamKey::UserNotification(id) => format!("user:notification:{id}"),
            StreamKey::List(id) => format!("list:{id}"),
            StreamKey::Direct(id) => format!("direct:{id}"),
            StreamKey::Event(slug) => super::live::stream_key(slug),
        }
    }

    /// The `stream` array of a WebSocket frame: `["hashtag","x"]`, `["public"]`.
    pub fn wire_name(&self) -> Vec<String> {
        match self {
            StreamKey::Public => vec!["public".into()],
            StreamKey::PublicLocal => vec!["public:local".into()],
            StreamKey::PublicRemote => vec!["public:remote".into()],
            StreamKey::Hashtag(t) => vec!["hashtag".into(), t.clone()],
            StreamKey::HashtagLocal(t) => vec!["hashtag:local".into(), t.clone()],
            StreamKey::User(_) => vec!["user".into()],
            StreamKey::UserNotification(_) => vec!["user:notification".into()],
            StreamKey::List(id) => vec!["list".into(), id.to_string()],
            StreamKey::Direct(_) => vec!["direct".into()],
            StreamKey::Event(slug) => vec!["event".into(), slug.clone()],
        }
    }

    /// Inverse of [`StreamKey::key`], used by the hub to name frames.
    pub fn from_key(key: &str) -> Option<Self> {
        if let Some(t) = key.strip_prefix("hashtag:local:") {
            return Some(StreamKey::HashtagLocal(t.to_string()));
        }
        if let Some(t) = key.strip_prefix("hashtag:") {
            return Some(StreamKey::Hashtag(t.to_string()));
        }
        if let Some(id) = key.strip_prefix("list:") {
            return ListId::parse(id).map(StreamKey::List);
        }
        if let Some(slug) = key.strip_prefix("event:") {
            return Some(StreamKey::Event(slug.to_string()));
        }
        if let Some(id) = key.strip_prefix("direct:") {
            return AccountId::parse(id).map(StreamKey::Direct);
        }
        if let Some(id) = key.strip_prefix("user:notification:") {
            return AccountId::parse(id).map(StreamKey::UserNotification);
        }
        if let Some(id) = key.strip_prefix("user:") {
            return AccountId::parse(id).map(StreamKey::User);
        }
        match key {
            "public" => Some(StreamKey::Public),
            "public:local" => Some(StreamKey::PublicLocal),
            "public:remote" => Some(StreamKey::PublicRemote),
            _ => None,
        }
    }

    pub fn is_public(&self) -> bool {
        !matches!(
            self,
            StreamKey::User(_)
                | StreamKey::UserNotification(_)
                | StreamKey::List(_)
                | StreamKey::Direct(_)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names_round_trip_through_keys() {
        for (name, tag) in [
            ("public", None),
            ("public:local", None),
            ("hashtag", Some("Rust")),
            ("hashtag/local", Some("x")),
        ] {
            let s = StreamKey::parse(name, tag, None, None, None).unwrap();
            assert_eq!(StreamKey::from_key(&s.key()), Some(s));
        }
        assert_eq!(
            StreamKey::parse("hashtag", Some("#Rust"), None, None, None)
                .unwrap()
                .key(),
            "hashtag:rust"
        );
        assert_eq!(
            StreamKey::parse("user", None, None, None, None),
            Err(StreamError::NeedsToken)
        );
        assert_eq!(
            StreamKey::parse("nope", None, None, None, None),
            Err(StreamError::Unknown)
        );
        assert_eq!(
            StreamKey::parse("hashtag", None, None, None, None),
            Err(StreamError::MissingTag)
        );
        for bad in ["local:foo", "a b", "x-y", "#"] {
            assert!(
                StreamKey::parse("hashtag", Some(bad), None, None, None).is_err(),
                "{bad} is no tag"
            );
        }
    }
}
