//! Federation with other servers over ActivityPub, as Mastodon speaks it.
//!
//! - Discovery: `/.well-known/webfinger` (`acct:user@domain`, or an account's profile or
//!   actor URL) answers a JRD naming the actor document; `/.well-known/host-meta` points
//!   there; `/.well-known/nodeinfo` links NodeInfo 2.0 and 2.1 (software `tidings`, usage).
//! - An account's actor document (`Person`) and a notice's `Note` are served at the same
//!   addresses as their pages and API links (`/users/{name}`, `/@{name}`, and each notice's
//!   `uri` and `url`) to a request whose `Accept` asks for ActivityStreams
//!   (`application/activity+json`, or `application/ld+json` with its profile).
//! - Each local account's RSA key pair (2048 bits, as peers expect) is made the first time
//!   it is needed, and kept in the database ([`keys`]).
//! - The push endpoint ([`inbox`]) takes signed activities ([`signature`]) and [`apply`]
//!   carries them out: remote notices ([`remote`] sanitises and shapes them) travel the
//!   event path as local ones do. Accounts of other servers are found by WebFinger and
//!   followed through [`resolve`]. Reading other servers goes through an SSRF-guarded
//!   client ([`fetch`]); what we send waits in a queue in the database and is signed and
//!   delivered by [`deliver`].
//!
//! The JSON-LD shapes are in [`wire`], apart from the handlers. Crates: `rsa` and `sha2`
//! for signatures, `reqwest` (rustls) for HTTP, `ammonia` for remote HTML.
//! `activitypub_federation` (AGPL-3.0, as Tidings) was weighed and not taken: it brings
//! its own actix/axum handlers, queue and data traits, where Tidings needs deliveries in
//! the transaction of each change and remote notices on its own event path.

pub mod apply;
pub mod deliver;
pub mod fetch;
pub mod inbox;
pub mod keys;
pub mod remote;
pub mod resolve;
pub mod signature;
pub mod wire;

use crate::api::Api;
use crate::api::error::{ApiError, ApiResult};
use crate::domain::entities::{Account, Status, Visibility};
use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use serde_json::{Value, json};

/// The media type ActivityPub peers send and expect.
pub const ACTIVITY_JSON: &str = "application/activity+json";

pub fn router() -> Router<Api> {
    Router::new()
        .route("/.well-known/webfinger", get(webfinger))
        .route("/.well-known/host-meta", get(host_meta))
        .route("/.well-known/nodeinfo", get(nodeinfo_links))
        .route("/nodeinfo/2.0", get(nodeinfo_20))
        .route("/nodeinfo/2.1", get(nodeinfo_21))
        .route("/users/{username}/outbox", get(outbox))
        .route("/users/{username}/followers", get(followers))
        .route("/users/{username}/following", get(following))
        .route("/users/{username}/collections/featured", get(featured))
        .merge(inbox::router())
}

/// Does the request ask for ActivityStreams JSON (a server), rather than a page or the
/// Mastodon API's JSON?
pub fn wants_activity(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| {
            accept.split(',').any(|t| {
                let t = t.trim().to_ascii_lowercase();
                t.starts_with(ACTIVITY_JSON)
                    || (t.starts_with("application/ld+json")
                        && t.contains("https://www.w3.org/ns/activitystreams"))
            })
        })
}

/// A JSON document of `content_type`, cacheable for a while by peers.
fn document(content_type: &'static str, body: &Value, max_age: u32) -> Response {
    let mut res = axum::Json(body).into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::VARY, HeaderValue::from_static("Accept"));
    if let Ok(v) = HeaderValue::from_str(&format!("public, max-age={max_age}")) {
        h.insert(header::CACHE_CONTROL, v);
    }
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    res
}

#[derive(Deserialize)]
struct WebfingerQuery {
    resource: Option<String>,
}

/// The local username a WebFinger resource names, if it names one of ours:
/// `acct:name@domain` (or without `acct:`), `{base}/@name`, `{base}/users/name`.
fn username_of<'a>(resource: &'a str, node: &Api) -> Option<&'a str> {
    let site = &node.site;
    if let Some(path) = resource.strip_prefix(site.base_url.as_str()) {
        let name = path
            .strip_prefix("/@")
            .or_else(|| path.strip_prefix("/users/"))?;
        return (!name.is_empty() && !name.contains('/')).then_some(name);
    }
    let acct = resource.strip_prefix("acct:").unwrap_or(resource);
    let acct = acct.strip_prefix('@').unwrap_or(acct);
    let (name, domain) = acct.split_once('@')?;
    (domain.eq_ignore_ascii_case(&site.domain) && !name.is_empty()).then_some(name)
}

async fn webfinger(
    State(node): State<Api>,
    Query(q): Query<WebfingerQuery>,
) -> ApiResult<Response> {
    let resource = q
        .resource
        .filter(|r| !r.is_empty())
        .ok_or_else(|| ApiError::bad_request("resource is required"))?;
    if resource.len() > 512 {
        return Err(ApiError::bad_request("resource is too long"));
    }
    let name = username_of(&resource, &node).ok_or(ApiError::NotFound)?;
    let a = node
        .store
        .account_by_username(name)
        .await?
        .ok_or(ApiError::NotFound)?;
    let account = Account::render(&a, &node.site);
    Ok(document(
        "application/jrd+json; charset=utf-8",
        &wire::webfinger(&account, &node.site),
        3 * 86_400,
    ))
}

async fn host_meta(State(node): State<Api>) -> Response {
    let template = format!(
        "{}/.well-known/webfinger?resource={{uri}}",
        node.site.base_url
    );
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <XRD xmlns=\"http://docs.oasis-open.org/ns/xri/xrd-1.0\">\n  \
         <Link rel=\"lrdd\" template=\"{}\"/>\n</XRD>\n",
        escape_xml(&template)
    );
    (
        [
            (header::CONTENT_TYPE, "application/xrd+xml; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=259200"),
        ],
        body,
    )
        .into_response()
}

fn escape_xml(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

async fn nodeinfo_links(State(node): State<Api>) -> Response {
    let base = &node.site.base_url;
    document(
        "application/json",
        &json!({"links": [
            {"rel": "http://nodeinfo.diaspora.software/ns/schema/2.0", "href": format!("{base}/nodeinfo/2.0")},
            {"rel": "http://nodeinfo.diaspora.software/ns/schema/2.1", "href": format!("{base}/nodeinfo/2.1")},
        ]}),
        1800,
    )
}

async fn nodeinfo(node: &Api, version: &str) -> ApiResult<Response> {
    let stats = node.store.stats(crate::domain::now_micros()).await?;
    let open = crate::moderation::registrations(node).await?
        != crate::domain::moderation::Registrations::Closed;
    let body = wire::nodeinfo(version, &stats, open);
    let profile = format!(
        "application/json; profile=\"http://nodeinfo.diaspora.software/ns/schema/{version}#\""
    );
    let mut res = document("application/json", &body, 1800);
    if let Ok(v) = HeaderValue::from_str(&profile) {
        res.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    Ok(res)
}

async fn nodeinfo_20(State(node): State<Api>) -> ApiResult<Response> {
    nodeinfo(&node, "2.0").await
}

async fn nodeinfo_21(State(node): State<Api>) -> ApiResult<Response> {
    nodeinfo(&node, "2.1").await
}

/// The actor document of local account `username` (its key pair made if it has none).
pub async fn actor(node: &Api, username: &str) -> ApiResult<Response> {
    let a = node
        .store
        .account_by_username(username)
        .await?
        .ok_or(ApiError::NotFound)?;
    let key = keys::ensure(&*node.store, a.id).await?;
    let account = Account::render(&a, &node.site);
    Ok(document(
        ACTIVITY_JSON,
        &wire::person(&account, &a.profile, &key.public_pem, &node.site),
        180,
    ))
}

/// The `Note` of notice `id` by `username`, to a server that asks without signing: only
/// public and unlisted notices, as they are now (a deleted one is gone).
pub async fn note(node: &Api, username: &str, id: crate::domain::StatusId) -> ApiResult<Response> {
    let s = node
        .store
        .status(id, None)
        .await?
        .filter(|s| s.account.username.eq_ignore_ascii_case(username))
        .filter(|s| matches!(s.visibility, Visibility::Public | Visibility::Unlisted))
        .ok_or(ApiError::NotFound)?;
    if s.reblog.is_some() {
        // A reblog is an `Announce` activity, not an object of its own.
        return Err(ApiError::NotFound);
    }
    let (note, _) = note_of(&*node.store, &node.site, &s).await?;
    Ok(document(ACTIVITY_JSON, &note, 60))
}

/// A notice as a `Note` (with the `uri` of the notice it answers, if that is still there),
/// and its `uri`: one rendering for the document, the outbox and deliveries.
pub async fn note_of(
    store: &dyn crate::store::Store,
    site: &crate::domain::Site,
    s: &crate::domain::entities::StatusRecord,
) -> Result<(Value, String), crate::store::StoreError> {
    let parent = match s.in_reply_to_id {
        Some(p) => store
            .status(p, None)
            .await?
            .map(|p| Status::render(&p, site).uri),
        None => None,
    };
    let status = Status::render(s, site);
    Ok((wire::note(&status, parent.as_deref(), site), status.uri))
}

/// A local account named in a collection's path.
async fn owner(node: &Api, username: &str) -> ApiResult<crate::domain::entities::AccountRecord> {
    node.store
        .account_by_username(username)
        .await?
        .ok_or(ApiError::NotFound)
}

#[derive(Deserialize)]
struct OutboxQuery {
    page: Option<String>,
    max_id: Option<String>,
}

/// Notices on a page of the outbox.
const OUTBOX_PAGE: i64 = 20;

/// The account's public and unlisted notices as `Create` activities, newest first, in
/// pages (`?page=true`, then `&max_id=`), as Mastodon pages its outbox.
async fn outbox(
    State(node): State<Api>,
    axum::extract::Path(username): axum::extract::Path<String>,
    Query(q): Query<OutboxQuery>,
) -> ApiResult<Response> {
    let a = owner(&node, &username).await?;
    let id = format!("{}/users/{}/outbox", node.site.base_url, a.username);
    if q.page.as_deref() != Some("true") {
        return Ok(document(
            ACTIVITY_JSON,
            &wire::collection(
                &id,
                a.statuses_count,
                Some(&format!("{id}?page=true")),
                None,
            ),
            180,
        ));
    }
    let max_id =
        crate::api::timelines::cursor_param("max_id", &q.max_id)?.map(crate::domain::StatusId::new);
    let outbox = crate::store::AccountFilter {
        exclude_reblogs: true,
        ..Default::default()
    };
    let list = notices_of(&node, a.id, outbox, max_id, OUTBOX_PAGE).await?;
    let items = notes_of(&node, &list, true).await?;
    let next = (list.len() as i64 == OUTBOX_PAGE)
        .then(|| {
            list.last()
                .map(|s| format!("{id}?page=true&max_id={}", s.id))
        })
        .flatten();
    let here = match &q.max_id {
        Some(m) => format!("{id}?page=true&max_id={m}"),
        None => format!("{id}?page=true"),
    };
    Ok(document(
        ACTIVITY_JSON,
        &wire::collection_page(&here, &id, items, next.as_deref()),
        60,
    ))
}

/// An account's notices as anyone may read them, newest first.
async fn notices_of(
    node: &Api,
    account: crate::domain::AccountId,
    filter: crate::store::AccountFilter,
    max_id: Option<crate::domain::StatusId>,
    limit: i64,
) -> ApiResult<Vec<crate::domain::entities::StatusRecord>> {
    let page = crate::store::Page::before(max_id, limit);
    let which = crate::store::Timeline::Account {
        account_id: account,
        filter,
    };
    Ok(node.store.timeline(&which, page, None).await?)
}

/// Notes of `list` (public and unlisted only), wrapped in `Create` when `as_create`.
async fn notes_of(
    node: &Api,
    list: &[crate::domain::entities::StatusRecord],
    as_create: bool,
) -> ApiResult<Vec<Value>> {
    let mut items = Vec::with_capacity(list.len());
    for s in list
        .iter()
        .filter(|s| matches!(s.visibility, Visibility::Public | Visibility::Unlisted))
    {
        let (note, uri) = note_of(&*node.store, &node.site, s).await?;
        items.push(if as_create {
            wire::activity_of_note("Create", &note, &format!("{uri}/activity"))
        } else {
            note
        });
    }
    Ok(items)
}

/// Followers and following are counted, not listed (as Mastodon answers for an account
/// that hides its network): who follows whom is not ours to hand to every server.
async fn followers(
    State(node): State<Api>,
    axum::extract::Path(username): axum::extract::Path<String>,
) -> ApiResult<Response> {
    let a = owner(&node, &username).await?;
    let remote = node.store.remote_followers(a.id).await?.len() as i64;
    let id = format!("{}/users/{}/followers", node.site.base_url, a.username);
    Ok(document(
        ACTIVITY_JSON,
        &wire::collection(&id, a.followers_count + remote, None, None),
        180,
    ))
}

async fn following(
    State(node): State<Api>,
    axum::extract::Path(username): axum::extract::Path<String>,
) -> ApiResult<Response> {
    let a = owner(&node, &username).await?;
    let id = format!("{}/users/{}/following", node.site.base_url, a.username);
    Ok(document(
        ACTIVITY_JSON,
        &wire::collection(&id, a.following_count, None, None),
        180,
    ))
}

/// The account's pinned notices (public and unlisted), as Notes.
async fn featured(
    State(node): State<Api>,
    axum::extract::Path(username): axum::extract::Path<String>,
) -> ApiResult<Response> {
    let a = owner(&node, &username).await?;
    let pinned = crate::store::AccountFilter {
        pinned: true,
        ..Default::default()
    };
    let list = notices_of(&node, a.id, pinned, None, 20).await?;
    let items = notes_of(&node, &list, false).await?;
    let id = format!(
        "{}/users/{}/collections/featured",
        node.site.base_url, a.username
    );
    Ok(document(
        ACTIVITY_JSON,
        &wire::collection(&id, items.len() as i64, None, Some(items)),
        180,
    ))
}
