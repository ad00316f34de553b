//! What an inbound activity does here, once [`super::inbox`] has checked its signature,
//! its actor and its id. Each change goes through the store's own writes, so a remote
//! notice travels the path a local one does: into the database with its event, given a
//! position, and out to `public`, `public:remote`, the tag streams and the home streams
//! of its local followers, with the same replay and resume.
//!
//! - `Follow` of a local account: kept, `Accept` queued in the same transaction; a locked
//!   account is asked (a follow request, answered as a local one is); `Reject` when she
//!   blocked the actor; `Undo` of it.
//! - `Accept`/`Reject` of a local account's `Follow`: the follow is made, or dropped.
//! - `Create` of a `Note` (`Article`, `Page`, `Question` read as one) by its actor: kept
//!   when someone here follows the actor, it mentions someone here, or it answers a
//!   notice here; otherwise acknowledged and dropped (a server does not keep what none
//!   of its readers asked for). Its HTML is sanitised ([`super::remote`]).
//! - `Update` of a note (an edit, with history) or of the actor (its profile, read again
//!   from its server); `Delete` of a note, or of the actor itself (its notices deleted,
//!   its follows undone).
//! - `Like` and `Announce` of a notice here (a favourite, a reblog) and their `Undo`.
//! - `Block` of a local account (kept as a block: follows both ways end); `Move`
//!   (recorded on the account).

use super::remote;
use super::resolve::{account_of, host_of};
use super::wire;
use crate::api::Api;
use crate::api::error::{ApiError, ApiResult};
use crate::domain::StatusId;
use crate::domain::entities::{AccountRecord, MentionRecord, Visibility};
use crate::store::{Hide, NewStatus, RemoteActor, StatusChange, StoreError};
use serde_json::Value;

/// Most notices an actor's `Delete` removes at once (the rest stay until a later one:
/// a huge account must not hold the inbox for minutes).
const ACTOR_DELETE_LIMIT: i64 = 2_000;

pub async fn apply(node: &Api, actor: &RemoteActor, activity: &Value) -> ApiResult<()> {
    // A suspended account's activities are taken and dropped (a moderator's act here,
    // or a block of its server): nothing of it comes back through the inbox.
    if let Some(id) = actor.account_id
        && let Some(a) = node.store.account(id).await?
        && a.standing.suspended_at.is_some()
    {
        tracing::debug!(actor = %actor.uri, "activity of a suspended account dropped");
        return Ok(());
    }
    match activity.get("type").and_then(Value::as_str).unwrap_or("") {
        "Follow" => follow(node, actor, activity).await,
        "Undo" => undo(node, actor, activity).await,
        "Accept" => answer(node, actor, activity, true).await,
        "Reject" => answer(node, actor, activity, false).await,
        "Create" => create(node, actor, activity).await,
        "Update" => update(node, actor, activity).await,
        "Delete" => delete(node, actor, activity).await,
        "Like" => like(node, actor, activity, true).await,
        "Announce" => announce(node, actor, activity, true).await,
        "Block" => block(node, actor, activity).await,
        "Move" => moved(node, actor, activity).await,
        other => {
            tracing::debug!(kind = other, actor = %actor.uri, "activity acknowledged, not applied");
            Ok(())
        }
    }
}

/// The local account an actor uri of ours names.
async fn local_account(node: &Api, uri: &str) -> ApiResult<Option<AccountRecord>> {
    let prefix = format!("{}/users/", node.site.base_url);
    let Some(name) = uri
        .strip_prefix(&prefix)
        .filter(|n| !n.contains(['/', '#']))
    else {
        return Ok(None);
    };
    Ok(node.store.account_by_username(name).await?)
}

/// The notice `uri` names: one of ours (by its `uri` or `url`), or a remote one we keep.
async fn status_of(node: &Api, uri: &str) -> ApiResult<Option<StatusId>> {
    if let Some(path) = uri.strip_prefix(&node.site.base_url) {
        let id = path
            .strip_prefix("/users/")
            .and_then(|p| p.split_once("/statuses/"))
            .map(|(_, id)| id)
            .or_else(|| {
                path.strip_prefix("/@")
                    .and_then(|p| p.split_once('/'))
                    .map(|(_, id)| id)
            });
        return Ok(id.and_then(|i| i.parse::<i64>().ok()).map(StatusId::new));
    }
    Ok(match node.store.status_by_uri(uri).await? {
        Some((id, false)) => Some(id),
        _ => None,
    })
}

/// The embedded object, or `None` when the activity names it by id only.
fn embedded(activity: &Value) -> Option<&Value> {
    activity.get("object").filter(|o| o.is_object())
}

fn object_id(activity: &Value) -> &str {
    activity.get("object").and_then(wire::id_of).unwrap_or("")
}

async fn follow(node: &Api, actor: &RemoteActor, activity: &Value) -> ApiResult<()> {
    let Some(account) = local_account(node, object_id(activity)).await? else {
        return Err(ApiError::NotFound);
    };
    let follow_id = activity["id"].as_str().unwrap_or_default();
    let local = format!("{}/users/{}", node.site.base_url, account.username);
    let them = account_of(node, actor).await?;
    if node.store.relationship(account.id, them.id).await?.blocking {
        // She blocked it: told no, and nothing is kept.
        let reject = wire::answer_follow(false, &local, follow_id, &actor.uri);
        node.store
            .queue_activity(account.id, &actor.inbox, &reject.to_string())
            .await?;
        return Ok(());
    }
    if account.profile.locked {
        // Her approval is needed: a request, as a local one would be (her answer sends
        // the Accept or Reject; see [`super::resolve::answer_remote_request`]).
        node.store
            .remote_follow_request(&them, account.id, follow_id)
            .await?;
        return Ok(());
    }
    let accept = wire::answer_follow(true, &local, follow_id, &actor.uri);
    node.store
        .remote_follow(
            account.id,
            actor.id,
            follow_id,
            &actor.inbox,
            &accept.to_string(),
        )
        .await?;
    Ok(())
}

async fn undo(node: &Api, actor: &RemoteActor, activity: &Value) -> ApiResult<()> {
    // The undone activity, embedded (as Mastodon and Fedify send it); by id alone we do
    // not know what it was, and nothing changes.
    let Some(object) = embedded(activity) else {
        return Ok(());
    };
    if object.get("actor").and_then(wire::id_of) != Some(actor.uri.as_str()) {
        return Err(ApiError::bad_request(
            "The undone activity is not the actor's",
        ));
    }
    match object.get("type").and_then(Value::as_str) {
        Some("Follow") => {
            let target = object.get("object").and_then(wire::id_of).unwrap_or("");
            if let Some(account) = local_account(node, target).await? {
                node.store.remote_unfollow(account.id, actor.id).await?;
            }
            Ok(())
        }
        Some("Like") => like(node, actor, object, false).await,
        Some("Announce") => announce(node, actor, object, false).await,
        Some("Block") => {
            let target = object.get("object").and_then(wire::id_of).unwrap_or("");
            if let Some(account) = local_account(node, target).await? {
                let me = account_of(node, actor).await?;
                node.store
                    .set_hide(me.id, account.id, Hide::Block, false)
                    .await?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// `Accept` or `Reject` of a local account's `Follow` of the actor.
async fn answer(node: &Api, actor: &RemoteActor, activity: &Value, accept: bool) -> ApiResult<()> {
    // The Follow embedded (its actor is ours), or its id, which we made:
    // `{our actor}#follows/…`.
    let follower_uri = match embedded(activity) {
        Some(f) => f
            .get("actor")
            .and_then(wire::id_of)
            .unwrap_or("")
            .to_string(),
        None => object_id(activity)
            .split_once("#follows/")
            .map(|(a, _)| a.to_string())
            .unwrap_or_default(),
    };
    if let Some(f) = embedded(activity)
        && f.get("object").and_then(wire::id_of) != Some(actor.uri.as_str())
    {
        return Err(ApiError::bad_request(
            "The answered follow is not of the actor",
        ));
    }
    let Some(me) = local_account(node, &follower_uri).await? else {
        return Ok(());
    };
    let them = account_of(node, actor).await?;
    match node
        .store
        .answer_follow_request(them.id, me.id, accept)
        .await
    {
        Ok(_) => Ok(()),
        // No request waits: a Reject of a follow already made ends it; anything else is
        // a repeat.
        Err(StoreError::NotFound) if !accept => {
            node.store.set_follow(me.id, them.id, false).await?;
            Ok(())
        }
        Err(StoreError::NotFound) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// The `Note` an activity carries, embedded or fetched from its origin (the actor's
/// server).
async fn note_object(node: &Api, actor: &RemoteActor, activity: &Value) -> ApiResult<Value> {
    let object = match embedded(activity) {
        Some(o) => o.clone(),
        None => {
            let id = object_id(activity);
            if host_of(id) != host_of(&actor.uri) {
                return Err(ApiError::bad_request(
                    "The object is not on its actor's server",
                ));
            }
            node.fetcher.get_json(id, None).await.map_err(|e| {
                tracing::info!(id, error = %e, "cannot read an activity's object");
                ApiError::bad_request("Cannot read the activity's object")
            })?
        }
    };
    let id = object.get("id").and_then(Value::as_str).unwrap_or("");
    if host_of(id) != host_of(&actor.uri) {
        return Err(ApiError::bad_request(
            "The object's id is not on its actor's server",
        ));
    }
    Ok(object)
}

/// The local accounts a note mentions (by their actor ids).
async fn local_mentions(node: &Api, mentioned: &[String]) -> ApiResult<Vec<MentionRecord>> {
    let mut out: Vec<MentionRecord> = Vec::new();
    for uri in mentioned {
        if let Some(a) = local_account(node, uri).await?
            && !out.iter().any(|m| m.id == a.id)
        {
            out.push(MentionRecord {
                id: a.id,
                username: a.username,
            });
        }
    }
    Ok(out)
}

async fn create(node: &Api, actor: &RemoteActor, activity: &Value) -> ApiResult<()> {
    let object = note_object(node, actor, activity).await?;
    if !remote::is_note(object.get("type").and_then(Value::as_str).unwrap_or("")) {
        return Ok(());
    }
    // Whether anyone here asked for it is learnt first, from what is cheap to read: most
    // notes of a busy network are for other servers, and are dropped before their HTML
    // is parsed.
    let uri = object.get("id").and_then(Value::as_str).unwrap_or("");
    if node.store.status_by_uri(uri).await?.is_some() {
        return Ok(());
    }
    let author = account_of(node, actor).await?;
    let mentions = local_mentions(node, &remote::mention_hrefs(&object)).await?;
    let parent = match object.get("inReplyTo").and_then(wire::id_of) {
        Some(uri) => status_of(node, uri).await?,
        None => None,
    };
    let followed = !node.store.local_followers(author.id).await?.is_empty();
    if !followed && mentions.is_empty() && parent.is_none() {
        tracing::debug!(actor = %actor.uri, "a note no one here follows, dropped");
        return Ok(());
    }
    let followers = format!("{}/followers", actor.uri);
    let mut inbound = remote::note(&object, &actor.uri, Some(&followers))
        .map_err(|e| ApiError::bad_request(format!("Malformed note: {e}")))?;
    inbound.note.mentions = mentions;
    if inbound.visibility == Visibility::Direct && inbound.note.mentions.is_empty() {
        return Ok(());
    }
    let mut new = NewStatus {
        account_id: author.id,
        text: inbound.text,
        spoiler_text: inbound.spoiler_text,
        sensitive: inbound.sensitive,
        visibility: inbound.visibility,
        language: inbound.language,
        in_reply_to_id: parent,
        idempotency_key: None,
        poll: None,
        media_ids: Vec::new(),
        remote: Some(Box::new(inbound.note)),
    };
    match node.store.create_status(new.clone()).await {
        Ok(_) => Ok(()),
        Err(StoreError::Invalid(_)) if parent.is_some() => {
            // Its parent is not one the author may see here: kept as a notice of its own.
            new.in_reply_to_id = None;
            node.store.create_status(new).await?;
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

/// The actor's own notice that `uri` names, if we keep it.
async fn own_status(
    node: &Api,
    author: &AccountRecord,
    uri: &str,
) -> ApiResult<Option<crate::domain::entities::StatusRecord>> {
    let Some((id, false)) = node.store.status_by_uri(uri).await? else {
        return Ok(None);
    };
    let s = node.store.status(id, None).await?;
    Ok(s.filter(|s| s.account.id == author.id))
}

async fn update(node: &Api, actor: &RemoteActor, activity: &Value) -> ApiResult<()> {
    let object = note_object(node, actor, activity).await?;
    let kind = object.get("type").and_then(Value::as_str).unwrap_or("");
    if object.get("id").and_then(Value::as_str) == Some(actor.uri.as_str()) {
        // Its profile: read again from its server, not taken from the activity.
        super::resolve::actor_by_uri(node, &actor.uri).await?;
        return Ok(());
    }
    if !remote::is_note(kind) {
        return Ok(());
    }
    let followers = format!("{}/followers", actor.uri);
    let mut inbound = remote::note(&object, &actor.uri, Some(&followers))
        .map_err(|e| ApiError::bad_request(format!("Malformed note: {e}")))?;
    let author = account_of(node, actor).await?;
    // A note we never kept (or deleted) stays unkept.
    let Some(s) = own_status(node, &author, &inbound.note.uri).await? else {
        return Ok(());
    };
    inbound.note.mentions = local_mentions(node, &inbound.mentioned).await?;
    node.store
        .edit_status(StatusChange {
            status_id: s.id,
            text: inbound.text,
            spoiler_text: inbound.spoiler_text,
            sensitive: inbound.sensitive,
            language: inbound.language,
            media_ids: None,
            remote: Some(Box::new(inbound.note)),
        })
        .await?;
    Ok(())
}

async fn delete(node: &Api, actor: &RemoteActor, activity: &Value) -> ApiResult<()> {
    let id = object_id(activity);
    if id == actor.uri {
        return actor_deleted(node, actor).await;
    }
    if host_of(id) != host_of(&actor.uri) {
        return Err(ApiError::bad_request(
            "The object is not on its actor's server",
        ));
    }
    let Some(author) = actor.account_id else {
        return Ok(());
    };
    let Some(author) = node.store.account(author).await? else {
        return Ok(());
    };
    if let Some(s) = own_status(node, &author, id).await? {
        node.store.delete_status(s.id, None).await?;
    }
    Ok(())
}

/// The actor is gone: its notices are deleted (readers' views drop them live), no one
/// here follows it any more, and it follows no one here.
async fn actor_deleted(node: &Api, actor: &RemoteActor) -> ApiResult<()> {
    let Some(account) = actor.account_id else {
        node.store.inbox_gone(&actor.inbox).await?;
        return Ok(());
    };
    for id in node
        .store
        .status_ids_of(account, ACTOR_DELETE_LIMIT)
        .await?
    {
        match node.store.delete_status(id, None).await {
            Ok(_) | Err(StoreError::NotFound) => {}
            Err(e) => return Err(e.into()),
        }
    }
    for follower in node.store.local_followers(account).await? {
        node.store.set_follow(follower, account, false).await?;
    }
    node.store.inbox_gone(&actor.inbox).await?;
    Ok(())
}

/// `Like` (`on`) of a notice here, or its `Undo`: a favourite by the actor's account.
async fn like(node: &Api, actor: &RemoteActor, activity: &Value, on: bool) -> ApiResult<()> {
    let Some(status) = status_of(node, object_id(activity)).await? else {
        return Ok(());
    };
    let me = account_of(node, actor).await?;
    match node.store.set_favourite(me.id, status, on).await {
        Ok(_) | Err(StoreError::NotFound | StoreError::Forbidden) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// `Announce` (`on`) of a notice here, or its `Undo`: a reblog by the actor's account,
/// for the home streams of those who follow it here.
async fn announce(node: &Api, actor: &RemoteActor, activity: &Value, on: bool) -> ApiResult<()> {
    let Some(status) = status_of(node, object_id(activity)).await? else {
        return Ok(());
    };
    let me = account_of(node, actor).await?;
    match node.store.set_reblog(me.id, status, on).await {
        Ok(_) | Err(StoreError::NotFound | StoreError::Forbidden | StoreError::Invalid(_)) => {
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

async fn block(node: &Api, actor: &RemoteActor, activity: &Value) -> ApiResult<()> {
    let Some(target) = local_account(node, object_id(activity)).await? else {
        return Ok(());
    };
    let me = account_of(node, actor).await?;
    node.store
        .set_hide(me.id, target.id, Hide::Block, true)
        .await?;
    node.store.remote_unfollow(target.id, actor.id).await?;
    Ok(())
}

/// `Move`: recorded on the account (its followers here are not moved along).
async fn moved(node: &Api, actor: &RemoteActor, activity: &Value) -> ApiResult<()> {
    if object_id(activity) != actor.uri {
        return Err(ApiError::bad_request("Only an actor can move itself"));
    }
    let target = activity
        .get("target")
        .and_then(wire::id_of)
        .filter(|t| t.len() <= 2048 && url::Url::parse(t).is_ok())
        .ok_or_else(|| ApiError::bad_request("The move names no target"))?;
    let me = account_of(node, actor).await?;
    node.store.set_moved(me.id, target).await?;
    Ok(())
}
