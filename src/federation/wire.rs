//! The JSON-LD documents other servers read, in the shapes Mastodon sends (its actor and
//! status serializers, the WebFinger JRD, NodeInfo 2.0/2.1): plain data in, JSON out.

use crate::domain::Site;
use crate::domain::entities::{Account, Profile, Status, Visibility};
use crate::store::Stats;
use serde_json::{Value, json};

pub const PUBLIC: &str = "https://www.w3.org/ns/activitystreams#Public";
const AS: &str = "https://www.w3.org/ns/activitystreams";
const SECURITY: &str = "https://w3id.org/security/v1";

pub fn webfinger(a: &Account, site: &Site) -> Value {
    json!({
        "subject": format!("acct:{}@{}", a.username, site.domain),
        "aliases": [a.url, a.uri],
        "links": [
            {"rel": "http://webfinger.net/rel/profile-page", "type": "text/html", "href": a.url},
            {"rel": "self", "type": super::ACTIVITY_JSON, "href": a.uri},
            {"rel": "http://webfinger.net/rel/avatar", "href": a.avatar},
        ],
    })
}

pub fn nodeinfo(version: &str, s: &Stats, open_registrations: bool) -> Value {
    let mut software = json!({"name": "tidings", "version": env!("CARGO_PKG_VERSION")});
    let repository = env!("CARGO_PKG_REPOSITORY");
    if version == "2.1" && !repository.is_empty() {
        software["repository"] = json!(repository);
    }
    json!({
        "version": version,
        "software": software,
        "protocols": ["activitypub"],
        "services": {"outbound": [], "inbound": []},
        "usage": {
            "users": {
                "total": s.users,
                "activeMonth": s.active_month,
                "activeHalfyear": s.active_month,
            },
            "localPosts": s.statuses,
        },
        "openRegistrations": open_registrations,
        "metadata": {"nodeName": "Tidings"},
    })
}

/// The `Person` of a local account, with its public key.
pub fn person(a: &Account, profile: &Profile, public_pem: &str, site: &Site) -> Value {
    let id = &a.uri;
    let image = |url: &str| {
        let media_type = if url.ends_with(".png") {
            "image/png"
        } else {
            "image/jpeg"
        };
        json!({"type": "Image", "mediaType": media_type, "url": url})
    };
    let attachment: Vec<Value> = a
        .fields
        .iter()
        .map(|f| json!({"type": "PropertyValue", "name": f.name, "value": f.value}))
        .collect();
    json!({
        "@context": [AS, SECURITY, {
            "manuallyApprovesFollowers": "as:manuallyApprovesFollowers",
            "toot": "http://joinmastodon.org/ns#",
            "featured": {"@id": "toot:featured", "@type": "@id"},
            "discoverable": "toot:discoverable",
            "indexable": "toot:indexable",
            "schema": "http://schema.org#",
            "PropertyValue": "schema:PropertyValue",
            "value": "schema:value",
        }],
        "id": id,
        "type": if a.bot { "Service" } else { "Person" },
        "preferredUsername": a.username,
        "name": a.display_name,
        "summary": a.note,
        "url": a.url,
        "inbox": format!("{id}/inbox"),
        "outbox": format!("{id}/outbox"),
        "followers": format!("{id}/followers"),
        "following": format!("{id}/following"),
        "featured": format!("{id}/collections/featured"),
        "manuallyApprovesFollowers": profile.locked,
        "discoverable": profile.discoverable,
        "indexable": profile.discoverable,
        "published": a.created_at,
        "endpoints": {"sharedInbox": format!("{}/inbox", site.base_url)},
        "publicKey": {"id": format!("{id}#main-key"), "owner": id, "publicKeyPem": public_pem},
        "icon": image(&a.avatar),
        "image": image(&a.header),
        "attachment": attachment,
        "tag": [],
    })
}

/// The actor id of a mentioned account (all are local for now: remote accounts come with
/// the rest of federation).
fn mention_uri(m: &crate::domain::entities::Mention, site: &Site) -> String {
    format!("{}/users/{}", site.base_url, m.username)
}

/// Who a notice is addressed to (`to`, `cc`), as Mastodon addresses it.
pub fn audience(s: &Status, site: &Site) -> (Vec<String>, Vec<String>) {
    let followers = format!("{}/followers", s.account.uri);
    let mentioned: Vec<String> = s.mentions.iter().map(|m| mention_uri(m, site)).collect();
    match s.visibility {
        Visibility::Public => (vec![PUBLIC.into()], [vec![followers], mentioned].concat()),
        Visibility::Unlisted => (vec![followers], [vec![PUBLIC.into()], mentioned].concat()),
        Visibility::Private => (vec![followers], mentioned),
        Visibility::Direct => (mentioned, Vec::new()),
    }
}

/// A notice as a `Note` (`in_reply_to`: the `uri` of the notice it answers).
pub fn note(s: &Status, in_reply_to: Option<&str>, site: &Site) -> Value {
    let (to, cc) = audience(s, site);
    let mut tag: Vec<Value> = s
        .mentions
        .iter()
        .map(|m| json!({"type": "Mention", "href": mention_uri(m, site), "name": format!("@{}@{}", m.username, site.domain)}))
        .collect();
    tag.extend(
        s.tags
            .iter()
            .map(|t| json!({"type": "Hashtag", "href": t.url, "name": format!("#{}", t.name)})),
    );
    let attachment: Vec<Value> = s
        .media_attachments
        .iter()
        .map(|m| {
            let media_type = if m.url.ends_with(".png") {
                "image/png"
            } else {
                "image/jpeg"
            };
            let mut d = json!({
                "type": "Document",
                "mediaType": media_type,
                "url": m.url,
                "name": m.description,
                "blurhash": m.blurhash,
            });
            if let Some(o) = m.meta.get("original") {
                d["width"] = o["width"].clone();
                d["height"] = o["height"].clone();
            }
            d
        })
        .collect();
    let mut note = json!({
        "@context": [AS, {
            "sensitive": "as:sensitive",
            "Hashtag": "as:Hashtag",
            "toot": "http://joinmastodon.org/ns#",
            "blurhash": "toot:blurhash",
        }],
        "id": s.uri,
        "type": "Note",
        "summary": if s.spoiler_text.is_empty() { Value::Null } else { json!(s.spoiler_text) },
        "inReplyTo": in_reply_to,
        "published": s.created_at,
        "url": s.url,
        "attributedTo": s.account.uri,
        "to": to,
        "cc": cc,
        "sensitive": s.sensitive,
        "content": s.content,
        "attachment": attachment,
        "tag": tag,
    });
    if let Some(e) = &s.edited_at {
        note["updated"] = json!(e);
    }
    if let Some(lang) = &s.language {
        note["contentMap"] = json!({ lang.as_str(): s.content });
    }
    note
}

/// Deepest nesting of arrays and objects read from another server (real activities nest
/// five or six deep).
pub const MAX_DEPTH: usize = 32;

/// Parse JSON from another server: at most [`super::fetch::MAX_BODY`] bytes and
/// [`MAX_DEPTH`] levels, checked by a scan before anything is built.
pub fn parse_bounded(body: &[u8]) -> Result<Value, String> {
    if body.len() > super::fetch::MAX_BODY {
        return Err("larger than 1 MB".into());
    }
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for &b in body {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(format!("nested deeper than {MAX_DEPTH} levels"));
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    let v: Value = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    if !v.is_object() {
        return Err("not a JSON object".into());
    }
    Ok(v)
}

/// An id-bearing field: a string, or an object with an `id` (ActivityStreams allows both).
pub fn id_of(v: &Value) -> Option<&str> {
    v.as_str().or_else(|| v.get("id").and_then(Value::as_str))
}

/// `Accept` of a follow, from a local actor.
pub fn accept(actor: &str, follow: &Value, id: &str) -> Value {
    json!({
        "@context": AS,
        "id": id,
        "type": "Accept",
        "actor": actor,
        "object": follow,
    })
}

/// `Accept` (or `Reject`) of `follower`'s `Follow` `follow_id` of local actor `local`: the
/// Follow as understood, not all it carried (a 1 MB Follow must not become a 1 MB Accept,
/// stored and sent again), under an id of its own per Follow (peers ignore an id they have
/// seen: a second follow after an unfollow needs a new Accept).
pub fn answer_follow(accept: bool, local: &str, follow_id: &str, follower: &str) -> Value {
    use sha2::Digest;
    let follow = json!({
        "id": follow_id,
        "type": "Follow",
        "actor": follower,
        "object": local,
    });
    let tag = hex::encode(&sha2::Sha256::digest(follow_id.as_bytes())[..12]);
    if accept {
        self::accept(local, &follow, &format!("{local}#accepts/follows/{tag}"))
    } else {
        reject(local, &follow, &format!("{local}#rejects/follows/{tag}"))
    }
}

/// `Reject` of a follow, from a local actor.
pub fn reject(actor: &str, follow: &Value, id: &str) -> Value {
    json!({
        "@context": AS,
        "id": id,
        "type": "Reject",
        "actor": actor,
        "object": follow,
    })
}

/// `Update` of a local actor's own document (its profile changed).
pub fn update_person(person: &Value) -> Value {
    let actor = person["id"].as_str().unwrap_or_default();
    let mut object = person.clone();
    let context = object
        .as_object_mut()
        .and_then(|o| o.remove("@context"))
        .unwrap_or(json!(AS));
    json!({
        "@context": context,
        "id": format!("{actor}#updates/{}", crate::domain::now_micros()),
        "type": "Update",
        "actor": actor,
        "to": [PUBLIC],
        "object": object,
    })
}

/// A local actor's `Follow` of another server's actor.
pub fn follow(id: &str, actor: &str, object: &str) -> Value {
    json!({
        "@context": AS,
        "id": id,
        "type": "Follow",
        "actor": actor,
        "object": object,
    })
}

/// A local actor's `Like` of a notice.
pub fn like(id: &str, actor: &str, object: &str) -> Value {
    json!({
        "@context": AS,
        "id": id,
        "type": "Like",
        "actor": actor,
        "object": object,
    })
}

/// A local actor's `Announce` (reblog) of a public notice, to everyone and her followers.
pub fn announce(id: &str, actor: &str, object: &str) -> Value {
    json!({
        "@context": AS,
        "id": id,
        "type": "Announce",
        "actor": actor,
        "published": crate::domain::iso8601(crate::domain::now_micros()),
        "to": [PUBLIC],
        "cc": [format!("{actor}/followers")],
        "object": object,
    })
}

/// `Undo` of one of a local actor's activities, embedded.
pub fn undo(id: &str, actor: &str, object: &Value) -> Value {
    let mut inner = object.clone();
    if let Some(o) = inner.as_object_mut() {
        o.remove("@context");
    }
    json!({
        "@context": AS,
        "id": id,
        "type": "Undo",
        "actor": actor,
        "object": inner,
    })
}

/// `Create`, `Update` or `Delete` of a local notice, as an activity with its audience.
pub fn activity_of_note(kind: &str, note: &Value, id: &str) -> Value {
    json!({
        "@context": note.get("@context").cloned().unwrap_or(json!(AS)),
        "id": id,
        "type": kind,
        "actor": note["attributedTo"],
        "published": note.get("updated").or(note.get("published")),
        "to": note["to"],
        "cc": note["cc"],
        "object": note,
    })
}

/// The `Delete` of a notice that is gone: its `Tombstone`.
pub fn delete_of(actor: &str, uri: &str) -> Value {
    json!({
        "@context": AS,
        "id": format!("{uri}#delete"),
        "type": "Delete",
        "actor": actor,
        "to": [PUBLIC],
        "object": {"id": uri, "type": "Tombstone"},
    })
}

/// `Delete` of an actor itself: the account is gone (suspended) here.
pub fn delete_actor(actor: &str) -> Value {
    json!({
        "@context": AS,
        "id": format!("{actor}#delete"),
        "type": "Delete",
        "actor": actor,
        "to": [PUBLIC],
        "object": actor,
    })
}

/// An actor document as we keep it: its inbox and the key `key_id` names.
pub fn remote_actor(doc: &Value, key_id: &str) -> Result<crate::store::RemoteActor, String> {
    let uri = doc
        .get("id")
        .and_then(Value::as_str)
        .ok_or("the actor has no id")?;
    let inbox = doc
        .get("inbox")
        .and_then(Value::as_str)
        .ok_or("the actor has no inbox")?;
    let keys: Vec<&Value> = match doc.get("publicKey") {
        Some(Value::Array(a)) => a.iter().collect(),
        Some(k @ Value::Object(_)) => vec![k],
        _ => Vec::new(),
    };
    let key = keys
        .iter()
        .find(|k| k.get("id").and_then(Value::as_str) == Some(key_id))
        .ok_or("the actor does not publish that key")?;
    if key
        .get("owner")
        .and_then(Value::as_str)
        .is_some_and(|o| o != uri)
    {
        return Err("the key belongs to another actor".into());
    }
    let pem = key
        .get("publicKeyPem")
        .and_then(Value::as_str)
        .ok_or("the key has no publicKeyPem")?;
    let short = |s: &str, n: usize| s.chars().take(n).collect::<String>();
    Ok(crate::store::RemoteActor {
        id: 0,
        uri: short(uri, 2048),
        key_id: short(key_id, 2048),
        public_key_pem: short(pem, 16_384),
        inbox: short(inbox, 2048),
        shared_inbox: doc
            .get("endpoints")
            .and_then(|e| e.get("sharedInbox"))
            .and_then(Value::as_str)
            .map(|s| short(s, 2048)),
        // A handle's characters only (as Mastodon allows them): a name with `@`, spaces
        // or markup must not pass for another account in `name@domain`.
        username: short(
            &doc.get("preferredUsername")
                .and_then(Value::as_str)
                .unwrap_or("")
                .chars()
                .filter(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'))
                .collect::<String>(),
            100,
        ),
        fetched_at: crate::domain::now_micros(),
        account_id: None,
        profile: url::Url::parse(uri)
            .ok()
            .map(|u| Box::new(super::remote::profile(doc, &super::signature::host_of(&u)))),
    })
}

/// An `OrderedCollection`: its size, and its first page or its items.
pub fn collection(id: &str, total: i64, first: Option<&str>, items: Option<Vec<Value>>) -> Value {
    let mut c = json!({
        "@context": AS,
        "id": id,
        "type": "OrderedCollection",
        "totalItems": total,
    });
    if let Some(f) = first {
        c["first"] = json!(f);
    }
    if let Some(items) = items {
        c["orderedItems"] = json!(items);
    }
    c
}

/// One page of an `OrderedCollection`.
pub fn collection_page(id: &str, part_of: &str, items: Vec<Value>, next: Option<&str>) -> Value {
    let mut p = json!({
        "@context": AS,
        "id": id,
        "type": "OrderedCollectionPage",
        "partOf": part_of,
        "orderedItems": items,
    });
    if let Some(n) = next {
        p["next"] = json!(n);
    }
    p
}
