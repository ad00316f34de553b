//! The federation push endpoint: `POST /users/{name}/inbox` and the shared `POST /inbox`.
//!
//! In order, before anything is stored: the body is at most 1 MB (413) and nested at most
//! [`wire::MAX_DEPTH`] deep (400); the request carries an HTTP Signature (401) covering
//! `(request-target)`, `host`, `date` and `digest`, with a `Date` within 12 hours and a
//! `Digest` that matches the body (401); the actor's domain is not blocked (403); the key
//! (`keyId`) is fetched from its server (SSRF-guarded, cached; fetched again once when the
//! cached key fails: key rotation) and verifies the signature (401); the key belongs to
//! the activity's `actor` (401), and the activity's id is on the actor's host (400). An
//! activity whose id was seen before changes nothing twice (202).
//!
//! What each activity then does is [`super::apply`]'s. An activity that fails to apply is
//! forgotten (a re-delivery is applied) and answered with its error.

use super::wire;
use crate::api::Api;
use crate::api::error::{ApiError, ApiResult};
use crate::store::RemoteActor;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::Value;
use std::sync::atomic::Ordering;
use std::time::SystemTime;

/// A cached key is read again after this long (profiles and keys change)…
const KEY_TTL_MICROS: i64 = 24 * 3600 * 1_000_000;
/// …or when a signature fails with it, but not more often than this (a stream of bad
/// signatures must not make us hammer the actor's server).
const REFETCH_AFTER_MICROS: i64 = 60 * 1_000_000;
/// Longest activity or actor id taken.
const MAX_ID: usize = 2048;
/// Key fetches in flight at once, node-wide.
static KEY_FETCHES: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(8);

pub fn router() -> Router<Api> {
    Router::new()
        .route("/users/{username}/inbox", post(personal))
        .route("/inbox", post(shared))
        .layer(DefaultBodyLimit::max(super::fetch::MAX_BODY))
}

async fn personal(
    State(node): State<Api>,
    Path(username): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(e) = node
        .store
        .account_by_username(&username)
        .await
        .map_err(ApiError::from)
        .and_then(|a| a.ok_or(ApiError::NotFound))
    {
        return e.into_response();
    }
    take(&node, &method, &uri, &headers, &body).await
}

async fn shared(
    State(node): State<Api>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    take(&node, &method, &uri, &headers, &body).await
}

async fn take(
    node: &Api,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
    match receive(node, method, uri, headers, body).await {
        Ok(()) => {
            node.metrics.inbox_accepted.fetch_add(1, Ordering::Relaxed);
            StatusCode::ACCEPTED.into_response()
        }
        Err(e) => {
            node.metrics.inbox_refused.fetch_add(1, Ordering::Relaxed);
            // The body is never logged: it is someone else's, and may be hostile.
            tracing::info!(path = %uri.path(), error = %e, "inbox refused an activity");
            e.into_response()
        }
    }
}

fn unauthorized(why: impl std::fmt::Display) -> ApiError {
    ApiError::Unauthorized(why.to_string())
}

async fn receive(
    node: &Api,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> ApiResult<()> {
    let header = |name: &str| -> Option<String> {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let sig =
        header("signature").ok_or_else(|| unauthorized(super::signature::Refused::Unsigned))?;
    let sig = super::signature::parse(&sig).map_err(unauthorized)?;
    let activity = wire::parse_bounded(body)
        .map_err(|e| ApiError::bad_request(format!("Malformed activity: {e}")))?;
    let actor_uri = activity
        .get("actor")
        .and_then(wire::id_of)
        .ok_or_else(|| ApiError::bad_request("The activity has no actor"))?
        .to_string();
    if actor_uri.len() > MAX_ID {
        return Err(ApiError::bad_request("The actor's id is too long"));
    }
    let actor_host =
        host_of(&actor_uri).ok_or_else(|| ApiError::bad_request("The actor is not a URL"))?;
    // Blocked by configuration, or suspended by a moderator (applied as it lands).
    let suspended = node
        .store
        .domain_block_of(&actor_host)
        .await?
        .is_some_and(|b| b.severity == "suspend");
    if node.fetcher.is_blocked(&actor_host) || suspended {
        return Err(ApiError::Forbidden(
            "This server does not take activities from your domain".into(),
        ));
    }
    // Signed for us: a request signed for another server cannot be replayed here.
    if !header("host").is_some_and(|h| h.eq_ignore_ascii_case(&node.site.domain)) {
        return Err(unauthorized("The request was not signed for this server"));
    }
    // The key must be on the actor's own server before anything is fetched.
    if host_of(&sig.key_id).as_deref() != Some(actor_host.as_str()) {
        return Err(unauthorized("The signing key is not on the actor's server"));
    }
    let target = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let req = super::signature::Request {
        method: method.as_str(),
        target,
        header: &header,
        body,
    };
    let signing =
        super::signature::signing_string(&sig, &req, SystemTime::now()).map_err(unauthorized)?;

    // The key: cached, else fetched; a failure with a cached key fetches it once more
    // (key rotation), but not more often than once a minute.
    let cached = node.store.remote_actor(true, &sig.key_id).await?;
    let age = cached
        .as_ref()
        .map(|a| crate::domain::now_micros() - a.fetched_at);
    let actor = match cached {
        Some(a)
            if age.is_some_and(|t| t < KEY_TTL_MICROS)
                && super::signature::verify(&a.public_key_pem, &signing, &sig.signature)
                    .is_ok() =>
        {
            a
        }
        Some(_) if age.is_some_and(|t| t < REFETCH_AFTER_MICROS) => {
            return Err(unauthorized(super::signature::Refused::Invalid));
        }
        _ => {
            let a = fetch_key_owner(node, &sig.key_id).await?;
            super::signature::verify(&a.public_key_pem, &signing, &sig.signature)
                .map_err(unauthorized)?;
            a
        }
    };
    if actor.uri != actor_uri {
        return Err(unauthorized(
            "The signing key does not belong to the activity's actor",
        ));
    }
    let id = activity
        .get("id")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::bad_request("The activity has no id"))?;
    if id.len() > MAX_ID {
        return Err(ApiError::bad_request("The activity's id is too long"));
    }
    if host_of(id).as_deref() != Some(actor_host.as_str()) {
        return Err(ApiError::bad_request(
            "The activity's id is not on its actor's server",
        ));
    }
    if !node.store.first_sight(id).await? {
        return Ok(());
    }
    let applied = super::apply::apply(node, &actor, &activity).await;
    if let Err(e) = &applied {
        // Not applied: a re-delivery must be, so the id is forgotten. A refusal (its
        // object is not the actor's, say) is told to the sender all the same.
        node.store.unsee(id).await?;
        if matches!(e, ApiError::Internal(_)) {
            tracing::warn!(error = %e, actor = %actor.uri, "an inbound activity failed");
        }
    }
    applied
}

use super::resolve::host_of;

/// Read the actor that owns `key_id` (the actor document itself, or a key document that
/// names its `owner`), and keep it. A document counts only as what it says it is when it
/// was read from that very address (redirects stay on its server, and its id is the URL
/// read), and its inboxes are on its own server.
async fn fetch_key_owner(node: &Api, key_id: &str) -> ApiResult<RemoteActor> {
    // What went wrong is logged, not told: the sender learns nothing of what we reach.
    let bad = |e: &dyn std::fmt::Display| {
        tracing::info!(key_id, error = %e, "cannot read a signing key");
        unauthorized("Cannot read the signing key")
    };
    let _turn = KEY_FETCHES.acquire().await.map_err(|e| bad(&e))?;
    let doc_url = key_id.split('#').next().unwrap_or(key_id);
    let mut doc = node
        .fetcher
        .get_json(doc_url, None)
        .await
        .map_err(|e| bad(&e))?;
    let mut read_from = doc_url.to_string();
    if doc.get("inbox").is_none()
        && let Some(owner) = doc.get("owner").and_then(Value::as_str).map(str::to_string)
    {
        if host_of(&owner) != host_of(doc_url) {
            return Err(bad(&"the key's owner is on another server"));
        }
        doc = node
            .fetcher
            .get_json(&owner, None)
            .await
            .map_err(|e| bad(&e))?;
        read_from = owner;
    }
    super::resolve::keep_actor(node, &doc, &read_from, Some(key_id))
        .await
        .map_err(|e| bad(&e))
}
