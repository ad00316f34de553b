//! Finding accounts of other servers: by handle through WebFinger (`user@host`, as
//! `/api/v1/accounts/lookup` and `/api/v2/search?resolve=true` ask), or by actor id. An
//! actor read is kept (its key, inboxes and profile) and shown as a remote account.
//!
//! A document counts only as what it says it is when it was read from that very address
//! (redirects stay on its server and its `id` is the URL read), and its inboxes are on its
//! own server. Every fetch goes through the SSRF-guarded [`super::fetch::Fetcher`].

use super::wire;
use crate::api::Api;
use crate::api::error::{ApiError, ApiResult};
use crate::domain::entities::AccountRecord;
use crate::store::RemoteActor;
use serde_json::Value;

/// A known remote account is read again after this long (profiles change).
const PROFILE_TTL_MICROS: i64 = 24 * 3600 * 1_000_000;
/// Fetches for lookups in flight at once, node-wide (a search box must not become a
/// crawler).
static LOOKUPS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(8);

/// `host[:port]` of a URL.
pub fn host_of(u: &str) -> Option<String> {
    let u = url::Url::parse(u).ok()?;
    Some(super::signature::host_of(&u))
}

/// What went wrong is logged, not told: the asker learns nothing of what we reach.
fn unreachable(what: &str, e: &dyn std::fmt::Display) -> ApiError {
    tracing::info!(what, error = %e, "cannot read a remote actor");
    ApiError::NotFound
}

/// Keep the actor document `doc`, read from `read_from`, with the key `key_id` (its
/// first key when `None`).
pub async fn keep_actor(
    node: &Api,
    doc: &Value,
    read_from: &str,
    key_id: Option<&str>,
) -> Result<RemoteActor, String> {
    let first_key = match doc.get("publicKey") {
        Some(Value::Array(a)) => a.first().and_then(|k| k.get("id")).and_then(Value::as_str),
        Some(k) => k.get("id").and_then(Value::as_str),
        None => None,
    };
    let key_id = key_id
        .or(first_key)
        .ok_or("the actor publishes no key")?
        .to_string();
    let a = wire::remote_actor(doc, &key_id)?;
    if a.uri != read_from {
        return Err("the actor's id is not where it was read from".into());
    }
    let on_host = |u: &str| host_of(u) == host_of(&a.uri);
    if !on_host(&a.inbox) || a.shared_inbox.as_deref().is_some_and(|u| !on_host(u)) {
        return Err("the actor's inbox is on another server".into());
    }
    node.store
        .put_remote_actor(&a)
        .await
        .map_err(|e| e.to_string())
}

/// Read (again) the actor at `uri` and keep it.
pub async fn actor_by_uri(node: &Api, uri: &str) -> ApiResult<RemoteActor> {
    if host_of(uri).is_none_or(|h| h.eq_ignore_ascii_case(&node.site.domain)) {
        return Err(ApiError::NotFound);
    }
    let _turn = LOOKUPS.acquire().await.map_err(|e| unreachable(uri, &e))?;
    let doc = node
        .fetcher
        .get_json(uri, None)
        .await
        .map_err(|e| unreachable(uri, &e))?;
    keep_actor(node, &doc, uri, None)
        .await
        .map_err(|e| unreachable(uri, &e))
}

/// The account an actor is shown as (read from its server when we kept only its key).
pub async fn account_of(node: &Api, actor: &RemoteActor) -> ApiResult<AccountRecord> {
    let actor = match actor.account_id {
        Some(_) => actor.clone(),
        None => actor_by_uri(node, &actor.uri).await?,
    };
    let id = actor.account_id.ok_or(ApiError::NotFound)?;
    node.store.account(id).await?.ok_or(ApiError::NotFound)
}

/// `me` follows `target` (`on`) or stops. A local target is the store's alone; a remote
/// one is asked with a `Follow` (the relationship says `requested` until its `Accept`
/// arrives), or told with `Undo{Follow}`, queued in the same transaction.
pub async fn set_follow(
    node: &Api,
    me: &AccountRecord,
    target: crate::domain::AccountId,
    on: bool,
) -> ApiResult<crate::store::Relationship> {
    let whom = node
        .store
        .account(target)
        .await?
        .ok_or(ApiError::NotFound)?;
    let Some(remote) = &whom.remote else {
        return Ok(node.store.set_follow(me.id, target, on).await?);
    };
    let rel = node.store.relationship(me.id, target).await?;
    if (on && rel.following) || (!on && !rel.following && !rel.requested) {
        return Ok(rel);
    }
    let actor = node
        .store
        .remote_actor(false, &remote.uri)
        .await?
        .ok_or(ApiError::NotFound)?;
    let me_uri = format!("{}/users/{}", node.site.base_url, me.username);
    // A fresh id each time: peers ignore an id they have seen.
    let follow_id = format!(
        "{me_uri}#follows/{}/{}",
        target,
        crate::domain::now_micros()
    );
    let follow = wire::follow(&follow_id, &me_uri, &remote.uri);
    let activity = if on {
        follow
    } else {
        wire::undo(&format!("{follow_id}/undo"), &me_uri, &follow)
    };
    Ok(node
        .store
        .follow_remote(me.id, target, on, &actor.inbox, &activity.to_string())
        .await?)
}

/// The remote account a search names — `user@domain` (with or without `@`) or an actor's
/// URL — found now (`resolve=true` in a search of a signed-in reader).
pub async fn from_query(node: &Api, q: &str) -> ApiResult<Option<AccountRecord>> {
    let q = q.trim();
    if q.starts_with("https://") || q.starts_with("http://") {
        if host_of(q).is_none_or(|h| h.eq_ignore_ascii_case(&node.site.domain)) {
            return Ok(None);
        }
        return match actor_by_uri(node, q).await {
            Ok(a) => Ok(match a.account_id {
                Some(id) => node.store.account(id).await?,
                None => None,
            }),
            Err(_) => Ok(None),
        };
    }
    let acct = q.strip_prefix('@').unwrap_or(q);
    match acct.split_once('@') {
        Some((user, domain)) if !domain.eq_ignore_ascii_case(&node.site.domain) => {
            account_by_acct(node, user, domain, true).await
        }
        _ => Ok(None),
    }
}

/// `me` (locked) answers remote account `them`'s request to follow her: `Accept` (it
/// becomes a remote follower, in the same transaction as the queued `Accept`) or `Reject`.
pub async fn answer_remote_request(
    node: &Api,
    me: &AccountRecord,
    them: &AccountRecord,
    accept: bool,
) -> ApiResult<crate::store::Relationship> {
    let uri = them
        .remote
        .as_ref()
        .map(|r| r.uri.clone())
        .unwrap_or_default();
    let follow_id = node
        .store
        .follow_request_uri(them.id, me.id)
        .await?
        .ok_or(ApiError::NotFound)?
        .unwrap_or_else(|| format!("{uri}#follows/{}", me.id));
    let actor = node
        .store
        .remote_actor(false, &uri)
        .await?
        .ok_or(ApiError::NotFound)?;
    // The request and its notification go; a remote follower is kept apart from `follows`.
    node.store
        .answer_follow_request(me.id, them.id, false)
        .await?;
    let local = format!("{}/users/{}", node.site.base_url, me.username);
    let answer = wire::answer_follow(accept, &local, &follow_id, &actor.uri).to_string();
    if accept {
        node.store
            .remote_follow(me.id, actor.id, &follow_id, &actor.inbox, &answer)
            .await?;
    } else {
        node.store
            .queue_activity(me.id, &actor.inbox, &answer)
            .await?;
    }
    Ok(node.store.relationship(me.id, them.id).await?)
}

/// The account `user@domain` of another server: known, or found through WebFinger.
pub async fn account_by_acct(
    node: &Api,
    user: &str,
    domain: &str,
    resolve: bool,
) -> ApiResult<Option<AccountRecord>> {
    let domain = domain.trim_end_matches('.').to_ascii_lowercase();
    let ok_name = |s: &str| {
        !s.is_empty()
            && s.len() <= 100
            && s.chars()
                .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'))
    };
    let ok_domain = !domain.is_empty()
        && domain.len() <= 253
        && domain
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':'));
    if !ok_name(user) || !ok_domain {
        return Ok(None);
    }
    let known = node
        .store
        .remote_account(&format!("{user}@{domain}"))
        .await?;
    if let Some(a) = &known {
        let fresh = node
            .store
            .remote_actor(false, a.remote.as_ref().map_or("", |r| r.uri.as_str()))
            .await?
            .is_some_and(|r| crate::domain::now_micros() - r.fetched_at < PROFILE_TTL_MICROS);
        if fresh || !resolve {
            return Ok(known);
        }
    }
    if !resolve {
        return Ok(None);
    }
    if node.fetcher.is_blocked(&domain) {
        return Ok(None);
    }
    let Some(actor_uri) = webfinger(node, user, &domain).await else {
        return Ok(known);
    };
    if host_of(&actor_uri).as_deref() != Some(domain.as_str()) {
        tracing::info!(%actor_uri, %domain, "WebFinger named an actor on another server");
        return Ok(known);
    }
    match actor_by_uri(node, &actor_uri).await {
        Ok(a) => Ok(match a.account_id {
            Some(id) => node.store.account(id).await?,
            None => None,
        }),
        Err(_) => Ok(known),
    }
}

/// The actor id WebFinger names for `acct:user@domain`. Over https; over http as well
/// only where private addresses are allowed (tests on loopback).
async fn webfinger(node: &Api, user: &str, domain: &str) -> Option<String> {
    let _turn = LOOKUPS.acquire().await.ok()?;
    let schemes: &[&str] = if node.fetcher.allows_private() {
        &["https", "http"]
    } else {
        &["https"]
    };
    for scheme in schemes {
        let mut url =
            url::Url::parse(&format!("{scheme}://{domain}/.well-known/webfinger")).ok()?;
        url.query_pairs_mut()
            .append_pair("resource", &format!("acct:{user}@{domain}"));
        match node.fetcher.get_jrd(url.as_str()).await {
            Ok(jrd) => {
                let links = jrd.get("links").and_then(Value::as_array)?;
                return links
                    .iter()
                    .find(|l| {
                        l.get("rel").and_then(Value::as_str) == Some("self")
                            && l.get("type").and_then(Value::as_str).is_some_and(|t| {
                                t.starts_with(super::ACTIVITY_JSON)
                                    || t.starts_with("application/ld+json")
                            })
                    })
                    .and_then(|l| l.get("href"))
                    .and_then(Value::as_str)
                    .map(str::to_string);
            }
            Err(e) => tracing::info!(%url, error = %e, "WebFinger failed"),
        }
    }
    None
}
