//! What other servers send, made safe and shaped for the store: their HTML sanitised,
//! an actor's profile, and a `Note` as a [`RemoteNote`] with its visibility, tags and the
//! accounts it names.
//!
//! Remote HTML is hostile. It goes through `ammonia` (a well-kept sanitiser built on
//! html5ever's parser) with an allow-list close to what Mastodon keeps: paragraphs, line
//! breaks, links (http and https only, made `nofollow noopener noreferrer`), inline
//! emphasis, code, quotes and lists; classes only those Mastodon's own markup uses
//! (mentions, hashtags, `invisible`/`ellipsis` link parts). No script, style, image,
//! form or event attribute survives.

use crate::domain::entities::Visibility;
use crate::domain::text;
use crate::store::{RemoteNote, RemoteProfile};
use serde_json::Value;
use std::collections::HashSet;
use std::sync::LazyLock;

/// Longest content taken (a notice of 500 characters is a few KB of HTML; this leaves
/// room for long-form servers and refuses a megabyte of markup).
pub const MAX_CONTENT: usize = 64 * 1024;
/// Most tags and mentions read from one notice.
const MAX_TAGS: usize = 32;

static SANITIZER: LazyLock<ammonia::Builder<'static>> = LazyLock::new(|| {
    let mut b = ammonia::Builder::empty();
    b.add_tags([
        "p",
        "br",
        "a",
        "span",
        "em",
        "strong",
        "b",
        "i",
        "u",
        "s",
        "del",
        "code",
        "pre",
        "blockquote",
        "ul",
        "ol",
        "li",
    ])
    .add_tag_attributes("a", ["href"])
    .add_allowed_classes("a", ["mention", "hashtag", "u-url", "h-card"])
    .add_allowed_classes("span", ["h-card", "invisible", "ellipsis"])
    .url_schemes(HashSet::from(["http", "https"]))
    .link_rel(Some("nofollow noopener noreferrer"))
    .set_tag_attribute_value("a", "target", "_blank");
    b
});

/// Remote HTML as it may be shown here.
pub fn sanitize(html: &str) -> String {
    SANITIZER.clean(html).to_string()
}

/// The words of remote HTML, for search and for a notice's `text`: tags dropped, line
/// breaks and paragraphs kept as new lines, entities decoded.
pub fn plain_text(html: &str) -> String {
    let spaced = html
        .replace("<br>", "\n")
        .replace("<br/>", "\n")
        .replace("<br />", "\n")
        .replace("</p>", "</p>\n\n");
    let bare = ammonia::Builder::empty().clean(&spaced).to_string();
    let decoded = bare
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&nbsp;", " ")
        .replace("&amp;", "&");
    decoded.trim().to_string()
}

fn str_of<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

/// The first URL of a `url`/`icon`-like field: a string, a `Link`/`Image` object, or a
/// list of them.
fn url_of(v: Option<&Value>) -> Option<String> {
    let one = match v? {
        Value::Array(a) => a.first()?,
        other => other,
    };
    let u = match one {
        Value::String(s) => s.as_str(),
        Value::Object(_) => {
            // An `Image` names its `url` (itself a string or a `Link`); a `Link` its `href`.
            if let Some(inner) = one.get("url").filter(|u| !u.is_string()) {
                return url_of(Some(inner));
            }
            str_of(one, "url").or_else(|| str_of(one, "href"))?
        }
        _ => return None,
    };
    let parsed = url::Url::parse(u).ok()?;
    (matches!(parsed.scheme(), "http" | "https") && u.len() <= 2048).then(|| u.to_string())
}

fn short(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

/// An actor document's profile (`domain`: its host, as handles name it).
pub fn profile(doc: &Value, domain: &str) -> RemoteProfile {
    RemoteProfile {
        domain: domain.to_string(),
        display_name: short(str_of(doc, "name").unwrap_or(""), 100),
        summary: sanitize(&short(str_of(doc, "summary").unwrap_or(""), 8 * 1024)),
        url: url_of(doc.get("url"))
            .or_else(|| str_of(doc, "id").map(str::to_string))
            .unwrap_or_default(),
        avatar: url_of(doc.get("icon")),
        header: url_of(doc.get("image")),
        locked: doc
            .get("manuallyApprovesFollowers")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        bot: matches!(str_of(doc, "type"), Some("Service" | "Application")),
        discoverable: doc
            .get("discoverable")
            .and_then(Value::as_bool)
            .unwrap_or(false),
    }
}

/// The ids of an addressing field (`to`, `cc`): one id, an object with one, or a list.
pub fn addressed(v: Option<&Value>) -> Vec<String> {
    let Some(v) = v else { return Vec::new() };
    let items: Vec<&Value> = match v {
        Value::Array(a) => a.iter().take(256).collect(),
        other => vec![other],
    };
    items
        .into_iter()
        .filter_map(super::wire::id_of)
        .map(|s| s.to_string())
        .collect()
}

/// Is this the public collection, in any of the forms peers send it?
fn is_public(id: &str) -> bool {
    matches!(id, super::wire::PUBLIC | "as:Public" | "Public")
}

/// A notice's visibility from its addressing, as Mastodon reads it: public when `to`
/// names the public collection, unlisted when `cc` does, followers-only when either names
/// the author's followers, else direct.
pub fn visibility(to: &[String], cc: &[String], followers: Option<&str>) -> Visibility {
    if to.iter().any(|t| is_public(t)) {
        Visibility::Public
    } else if cc.iter().any(|t| is_public(t)) {
        Visibility::Unlisted
    } else if followers.is_some_and(|f| to.iter().chain(cc).any(|t| t == f)) {
        Visibility::Private
    } else {
        Visibility::Direct
    }
}

/// A `Note` as it comes, checked and shaped; what it names is resolved by the caller.
#[derive(Debug)]
pub struct Inbound {
    pub note: RemoteNote,
    pub text: String,
    pub spoiler_text: String,
    pub sensitive: bool,
    pub visibility: Visibility,
    pub language: Option<String>,
    pub in_reply_to: Option<String>,
    /// Actor ids of its `Mention` tags.
    pub mentioned: Vec<String>,
    pub to: Vec<String>,
    pub cc: Vec<String>,
}

/// Object types read as notices.
pub fn is_note(kind: &str) -> bool {
    matches!(kind, "Note" | "Article" | "Page" | "Question")
}

/// The actor ids a note's `Mention` tags name (cheap: read before anything is sanitised,
/// to learn whether anyone here is named).
pub fn mention_hrefs(object: &Value) -> Vec<String> {
    let list: Vec<&Value> = match object.get("tag") {
        Some(Value::Array(a)) => a.iter().take(4 * MAX_TAGS).collect(),
        Some(other) => vec![other],
        None => Vec::new(),
    };
    list.into_iter()
        .filter(|t| str_of(t, "type") == Some("Mention"))
        .filter_map(|t| str_of(t, "href"))
        .take(MAX_TAGS)
        .map(str::to_string)
        .collect()
}

fn has_hashtags(object: &Value) -> bool {
    match object.get("tag") {
        Some(Value::Array(a)) => a.iter().any(|t| str_of(t, "type") == Some("Hashtag")),
        Some(t) => str_of(t, "type") == Some("Hashtag"),
        None => false,
    }
}

/// Read `object` (a `Note` by `actor`, whose followers collection is `followers`).
pub fn note(object: &Value, actor: &str, followers: Option<&str>) -> Result<Inbound, String> {
    let id = str_of(object, "id").ok_or("the note has no id")?;
    if id.len() > 2048 {
        return Err("the note's id is too long".into());
    }
    if object.get("attributedTo").and_then(|a| match a {
        Value::Array(list) => list.iter().find_map(super::wire::id_of),
        other => super::wire::id_of(other),
    }) != Some(actor)
    {
        return Err("the note is not attributed to the activity's actor".into());
    }
    let raw = str_of(object, "content").unwrap_or("");
    if raw.len() > MAX_CONTENT {
        return Err("the note's content is too long".into());
    }
    let mut content = sanitize(raw);
    // An `Article` has a title: shown first, as Mastodon shows it.
    if str_of(object, "type") == Some("Article")
        && let Some(name) = str_of(object, "name").filter(|n| !n.is_empty())
    {
        let mut title = String::new();
        text::escape_html(&short(name, 200), &mut title);
        content = format!("<p><strong>{title}</strong></p>{content}");
    }
    let to = addressed(object.get("to"));
    let cc = addressed(object.get("cc"));
    let mut tags = Vec::new();
    let mentioned = mention_hrefs(object);
    if let Some(list) = object.get("tag") {
        let list: Vec<&Value> = match list {
            Value::Array(a) => a.iter().collect(),
            other => vec![other],
        };
        for t in list.into_iter().take(4 * MAX_TAGS) {
            match str_of(t, "type") {
                Some("Hashtag") if tags.len() < MAX_TAGS => {
                    let name = text::normalize_tag(str_of(t, "name").unwrap_or(""));
                    if text::is_tag(&name) && name.len() <= 100 && !tags.contains(&name) {
                        tags.push(name);
                    }
                }
                _ => {}
            }
        }
    }
    let plain = plain_text(&content);
    if !has_hashtags(object) {
        // Some servers send no `Hashtag` tags: the words of the text name them then.
        tags = text::tags(&plain)
            .into_iter()
            .filter(|t| text::is_tag(t) && t.len() <= 100)
            .take(MAX_TAGS)
            .collect();
    }
    let published = str_of(object, "published")
        .and_then(|p| {
            time::OffsetDateTime::parse(p, &time::format_description::well_known::Rfc3339).ok()
        })
        .map(|t| (t.unix_timestamp_nanos() / 1000) as i64)
        .unwrap_or_else(crate::domain::now_micros);
    let language = object
        .get("contentMap")
        .and_then(Value::as_object)
        .and_then(|m| m.keys().next())
        .filter(|l| l.len() <= 16 && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
        .cloned();
    let spoiler_text = short(str_of(object, "summary").unwrap_or(""), 1000);
    Ok(Inbound {
        text: plain,
        sensitive: object
            .get("sensitive")
            .and_then(Value::as_bool)
            .unwrap_or(false)
            || !spoiler_text.is_empty(),
        spoiler_text: plain_text(&spoiler_text),
        visibility: visibility(&to, &cc, followers),
        language,
        in_reply_to: object
            .get("inReplyTo")
            .and_then(super::wire::id_of)
            .map(str::to_string),
        note: RemoteNote {
            uri: id.to_string(),
            url: url_of(object.get("url")).unwrap_or_else(|| id.to_string()),
            content,
            mentions: Vec::new(),
            tags,
            created_at: published,
        },
        mentioned,
        to,
        cc,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn scripts_and_handlers_do_not_survive() {
        let dirty = r#"<p onclick="x()">Hi <script>alert(1)</script><a href="javascript:alert(1)">j</a> <a href="https://ok.example/" class="mention evil">@ok</a><img src=x onerror=alert(1)><style>p{}</style></p>"#;
        let clean = sanitize(dirty);
        assert!(!clean.contains("script"), "{clean}");
        assert!(!clean.contains("onclick"), "{clean}");
        assert!(!clean.contains("onerror"), "{clean}");
        assert!(!clean.contains("javascript"), "{clean}");
        assert!(!clean.contains("<img"), "{clean}");
        assert!(!clean.contains("evil"), "{clean}");
        assert!(clean.contains(r#"href="https://ok.example/""#), "{clean}");
        assert!(clean.contains("nofollow"), "{clean}");
        assert_eq!(plain_text("<p>a &amp; b</p><p>c<br>d</p>"), "a & b\n\nc\nd");
    }

    #[test]
    fn an_actor_cannot_pass_for_another_handle() {
        let doc = json!({
            "id": "https://p.example/users/a", "type": "Person", "inbox": "https://p.example/inbox",
            "preferredUsername": "admin@ours.example <b>x</b>", "name": "A", "summary": "<script>x</script>hi",
            "icon": {"type": "Image", "url": "javascript:alert(1)"},
            "publicKey": {"id": "https://p.example/users/a#main-key", "owner": "https://p.example/users/a",
                          "publicKeyPem": "PEM"},
        });
        let a =
            super::super::wire::remote_actor(&doc, "https://p.example/users/a#main-key").unwrap();
        assert_eq!(a.username, "adminours.examplebxb");
        let p = a.profile.unwrap();
        assert_eq!(p.domain, "p.example");
        assert_eq!(p.summary, "hi");
        assert_eq!(p.avatar, None);
    }

    #[test]
    fn addressing_gives_visibility() {
        let f = "https://p.example/users/a/followers";
        let v = |to: &[&str], cc: &[&str]| {
            let s = |l: &[&str]| l.iter().map(|x| x.to_string()).collect::<Vec<_>>();
            visibility(&s(to), &s(cc), Some(f))
        };
        assert_eq!(v(&["as:Public"], &[]), Visibility::Public);
        assert_eq!(v(&[f], &[super::super::wire::PUBLIC]), Visibility::Unlisted);
        assert_eq!(v(&[f], &[]), Visibility::Private);
        assert_eq!(v(&["https://x.example/users/b"], &[]), Visibility::Direct);
    }

    #[test]
    fn a_note_is_read_and_checked() {
        let actor = "https://p.example/users/a";
        let n = json!({
            "id": "https://p.example/notes/1", "type": "Note", "attributedTo": actor,
            "content": "<p>Hello #Quake</p>", "to": "https://www.w3.org/ns/activitystreams#Public",
            "published": "2026-11-29T10:00:00Z",
            "tag": [{"type": "Hashtag", "name": "#Quake"}, {"type": "Hashtag", "name": "#bad:tag"},
                    {"type": "Mention", "href": "https://t.example/users/bob"}],
        });
        let i = note(&n, actor, None).unwrap();
        assert_eq!(i.note.tags, vec!["quake"]);
        assert_eq!(i.mentioned, vec!["https://t.example/users/bob"]);
        assert_eq!(i.visibility, Visibility::Public);
        assert_eq!(i.text, "Hello #Quake");
        assert_eq!(i.note.created_at, 1_795_946_400_000_000);
        assert!(note(&n, "https://p.example/users/other", None).is_err());
    }
}
