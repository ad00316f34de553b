//! Accounts: registration, the signed-in account, profiles, lookup, an account's
//! notices, follow and unfollow.

use super::error::{ApiError, ApiResult};
use super::extract::{
    Input, MaybeScoped, Query, ReadAccounts, ReadFollows, ReadStatuses, Scoped, WriteAccounts,
    WriteBlocks, WriteFollows, WriteMutes, parse_id,
};
use super::form::{Flag, Id};
use super::timelines::{TimelineParams, flag, paged};
use crate::api::Api;
use crate::domain::AccountId;
use crate::domain::entities::{Account, AccountRecord};
use crate::domain::text::normalize_tag;
use crate::store::{AccountFilter, Hide, Relationship, Timeline};
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, Uri};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

pub fn router() -> Router<Api> {
    Router::new()
        .route("/api/v1/accounts", post(register))
        .route(
            "/api/v1/accounts/verify_credentials",
            get(verify_credentials),
        )
        .route("/api/v1/accounts/lookup", get(lookup))
        .route("/api/v1/accounts/relationships", get(relationships))
        .route("/api/v1/accounts/{id}", get(show))
        .route("/api/v1/accounts/{id}/statuses", get(statuses))
        .route("/api/v1/accounts/{id}/follow", post(follow))
        .route("/api/v1/accounts/{id}/unfollow", post(unfollow))
        .route("/api/v1/accounts/{id}/block", post(block))
        .route("/api/v1/accounts/{id}/unblock", post(unblock))
        .route("/api/v1/accounts/{id}/mute", post(mute))
        .route("/api/v1/accounts/{id}/unmute", post(unmute))
}

impl From<crate::accounts::Refusal> for ApiError {
    fn from(r: crate::accounts::Refusal) -> Self {
        use crate::accounts::Refusal;
        match r {
            Refusal::Invalid(errors) => {
                let mut details = serde_json::Map::new();
                for e in &errors {
                    details.insert(
                        e.field.into(),
                        json!([{ "error": e.code, "description": e.description }]),
                    );
                }
                let taken = errors.iter().find(|e| e.code == "ERR_TAKEN");
                let message = match taken {
                    Some(e) if e.field == "email" => {
                        "Validation failed: E-mail has already been taken"
                    }
                    Some(_) => "Validation failed: Username has already been taken",
                    None => "Validation failed",
                };
                ApiError::Unprocessable(message.into(), Some(Value::Object(details)))
            }
            Refusal::Busy(b) => b.into(),
            Refusal::Hashing(e) => ApiError::Internal(e),
            Refusal::Store(e) => e.into(),
        }
    }
}

/// The account named by `login` (username, `@username` or email) if `password` is its
/// password. Throttled per IP address and per account (see [`super::throttle`]); an
/// unknown login costs the same work as a known one.
pub async fn verify_password(
    node: &Api,
    ip: std::net::IpAddr,
    login: &str,
    password: &str,
) -> ApiResult<Option<AccountRecord>> {
    // In wiki mode people sign in with their wiki accounts, unless the operator keeps
    // local passwords too.
    if let Some(w) = node.wiki.as_ref().filter(|w| !w.local_passwords) {
        return Err(ApiError::Forbidden(format!(
            "Passwords are not used here: sign in with your account on {}",
            w.name
        )));
    }
    let t = node.throttles();
    t.check(&t.sign_in_per_ip, ip).await?;
    let login = login.trim().trim_start_matches('@');
    let account = if login.contains('@') {
        node.store.account_by_email(login).await?
    } else {
        node.store.account_by_username(login).await?
    };
    // The same queries and the same hashing whether or not the account exists: an
    // unknown login must not answer faster than a known one.
    let hash = match &account {
        Some(a) => {
            t.check(&t.sign_in_per_account, a.id).await?;
            node.store.password_hash(a.id).await?
        }
        None => {
            node.store.password_hash(AccountId::new(0)).await?;
            None
        }
    };
    let ok = crate::passwords::passwords()
        .verify(password.to_string(), hash)
        .await?;
    // The right password for a suspended or disabled account still opens nothing.
    if let Some(a) = account.as_ref().filter(|_| ok)
        && (a.standing.suspended_at.is_some() || a.standing.disabled)
    {
        return Err(ApiError::Forbidden(
            "Your login is currently disabled".into(),
        ));
    }
    Ok(account.filter(|_| ok))
}

#[derive(Deserialize)]
struct RegisterForm {
    /// Why she wants to join (shown to moderators when sign-ups need approval).
    reason: Option<String>,
    username: Option<String>,
    email: Option<String>,
    password: Option<String>,
}

async fn register(
    State(node): State<Api>,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    auth: Scoped<WriteAccounts>,
    Input(f): Input<RegisterForm>,
) -> ApiResult<Json<Value>> {
    let admission = crate::moderation::admission(&node, peer.ip(), f.email.as_deref()).await?;
    if let crate::moderation::Admission::Refused(why) = admission {
        return Err(ApiError::Forbidden(why.into()));
    }
    let t = node.throttles();
    t.check(&t.sign_ups_per_ip, peer.ip()).await?;
    if auth.0.0.account.is_some() {
        return Err(ApiError::Forbidden(
            "This method requires an app token, not a user's".into(),
        ));
    }
    let account = crate::accounts::create(
        &*node.store,
        crate::accounts::Request {
            username: f.username.as_deref().unwrap_or(""),
            password: f.password.as_deref().unwrap_or(""),
            email: f.email,
            admin: false,
            creator: crate::accounts::Creator::SignUp,
        },
    )
    .await?;
    // Waiting for approval, she may sign in and see her account, nothing more (see
    // `Scoped`); the moderators hear of her either way.
    let pending = admission == crate::moderation::Admission::Pending;
    let reason: Option<String> = f.reason.map(|r| r.chars().take(1000).collect());
    node.store
        .record_sign_up(
            account.id,
            Some(&peer.ip().to_string()),
            reason.as_deref(),
            pending,
        )
        .await?;
    let scopes = auth.0.0.scopes.clone();
    let (secret, token) =
        super::oauth::create_token(&node, auth.0.0.app_id, Some(account.id), &scopes).await?;
    Ok(Json(super::oauth::token_json(&secret, &token)))
}

async fn verify_credentials(
    State(node): State<Api>,
    auth: Scoped<ReadAccounts>,
) -> ApiResult<Json<Value>> {
    let me = auth.account()?;
    let fresh = node.store.account(me.id).await?.ok_or(ApiError::NotFound)?;
    Ok(Json(super::profile::credential_account(&fresh, &node)?))
}

async fn show(
    State(node): State<Api>,
    _auth: MaybeScoped<ReadAccounts>,
    Path(id): Path<String>,
) -> ApiResult<Json<Account>> {
    let a = node
        .store
        .account(parse_id(&id)?)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(Json(Account::render(&a, &node.site)))
}

#[derive(Deserialize)]
struct LookupParams {
    acct: Option<String>,
}

async fn lookup(
    State(node): State<Api>,
    _auth: MaybeScoped<ReadAccounts>,
    Query(p): Query<LookupParams>,
) -> ApiResult<Json<Account>> {
    let acct = p
        .acct
        .ok_or_else(|| ApiError::bad_request("acct is required"))?;
    let acct = acct.trim_start_matches('@');
    let (user, domain) = acct
        .split_once('@')
        .map_or((acct, None), |(u, d)| (u, Some(d)));
    if let Some(d) = domain.filter(|d| !d.eq_ignore_ascii_case(&node.site.domain)) {
        // Another server's: known here, or found through WebFinger.
        let a = crate::federation::resolve::account_by_acct(&node, user, d, true)
            .await?
            .ok_or(ApiError::NotFound)?;
        return Ok(Json(Account::render(&a, &node.site)));
    }
    let a = node
        .store
        .account_by_username(user)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(Json(Account::render(&a, &node.site)))
}

async fn statuses(
    State(node): State<Api>,
    auth: MaybeScoped<ReadStatuses>,
    Path(id): Path<String>,
    Query(p): Query<TimelineParams>,
    uri: Uri,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let id = parse_id(&id)?;
    node.store.account(id).await?.ok_or(ApiError::NotFound)?;
    let filter = AccountFilter {
        only_media: flag(&p.only_media)?,
        pinned: flag(&p.pinned)?,
        exclude_replies: flag(&p.exclude_replies)?,
        exclude_reblogs: flag(&p.exclude_reblogs)?,
        tagged: p
            .tagged
            .as_deref()
            .map(normalize_tag)
            .filter(|t| !t.is_empty()),
    };
    paged(
        &node,
        &Timeline::Account {
            account_id: id,
            filter,
        },
        &p,
        auth.account_id(),
        &uri,
        &headers,
    )
    .await
}

pub fn relationship_json(id: AccountId, r: Relationship) -> Value {
    json!({
        "id": id.to_string(), "following": r.following, "showing_reblogs": r.following, "notifying": r.notifying,
        "languages": null, "followed_by": r.followed_by, "blocking": r.blocking, "blocked_by": r.blocked_by, "muting": r.muting,
        "muting_notifications": r.muting_notifications, "requested": r.requested, "requested_by": r.requested_by, "domain_blocking": false,
        "endorsed": false, "note": ""
    })
}

async fn set_follow(
    node: Api,
    auth: Scoped<WriteFollows>,
    id: String,
    on: bool,
) -> ApiResult<Json<Value>> {
    let me = auth.account()?;
    let target = parse_id(&id)?;
    let rel = crate::federation::resolve::set_follow(&node, me, target, on).await?;
    Ok(Json(relationship_json(target, rel)))
}

/// Mastodon's follow options. `notify`: be told of each new notice (a `status`
/// notification). `reblogs` and `languages` are taken and not applied: Tidings shows
/// every followed account's reblogs, and the relationship says so (`showing_reblogs`).
#[derive(Deserialize, Default)]
struct FollowForm {
    notify: Option<Flag>,
}

async fn follow(
    State(node): State<Api>,
    auth: Scoped<WriteFollows>,
    Path(id): Path<String>,
    Input(f): Input<FollowForm>,
) -> ApiResult<Json<Value>> {
    let me = auth.account()?;
    let target: AccountId = parse_id(&id)?;
    let t = node.throttles();
    t.check(&t.follows_per_account, me.id).await?;
    let rel = crate::federation::resolve::set_follow(&node, me, target, true).await?;
    let me = me.id;
    match f.notify {
        Some(n) if rel.following => {
            node.store.set_follow_notify(me, target, n.0).await?;
            Ok(Json(relationship_json(
                target,
                node.store.relationship(me, target).await?,
            )))
        }
        _ => Ok(Json(relationship_json(target, rel))),
    }
}

async fn unfollow(
    State(node): State<Api>,
    auth: Scoped<WriteFollows>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    set_follow(node, auth, id, false).await
}

async fn hide(node: &Api, me: AccountId, id: &str, how: Hide, on: bool) -> ApiResult<Json<Value>> {
    let target = parse_id(id)?;
    let rel = node.store.set_hide(me, target, how, on).await?;
    Ok(Json(relationship_json(target, rel)))
}

async fn block(
    State(node): State<Api>,
    auth: Scoped<WriteBlocks>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    hide(&node, auth.account()?.id, &id, Hide::Block, true).await
}

async fn unblock(
    State(node): State<Api>,
    auth: Scoped<WriteBlocks>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    hide(&node, auth.account()?.id, &id, Hide::Block, false).await
}

#[derive(Deserialize)]
struct MuteForm {
    notifications: Option<Flag>,
    /// Seconds; 0 or none is for ever.
    duration: Option<Id>,
}

/// Longest mute with an end: Mastodon offers up to about a week in its apps; any
/// positive number of seconds up to a year is taken.
const MAX_MUTE_SECS: i64 = 366 * 86_400;

async fn mute(
    State(node): State<Api>,
    auth: Scoped<WriteMutes>,
    Path(id): Path<String>,
    Input(f): Input<MuteForm>,
) -> ApiResult<Json<Value>> {
    let duration = match Id::given(f.duration) {
        None => 0,
        Some(d) => d
            .parse::<i64>()
            .ok()
            .filter(|d| (0..=MAX_MUTE_SECS).contains(d))
            .ok_or_else(|| {
                ApiError::invalid(format!(
                    "Validation failed: duration is a number of seconds up to {MAX_MUTE_SECS}"
                ))
            })?,
    };
    let how = Hide::Mute {
        notifications: f.notifications.is_none_or(|n| n.0),
        expires_at: (duration > 0).then(|| crate::domain::now_micros() + duration * 1_000_000),
    };
    hide(&node, auth.account()?.id, &id, how, true).await
}

async fn unmute(
    State(node): State<Api>,
    auth: Scoped<WriteMutes>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let how = Hide::Mute {
        notifications: true,
        expires_at: None,
    };
    hide(&node, auth.account()?.id, &id, how, false).await
}

async fn relationships(
    State(node): State<Api>,
    auth: Scoped<ReadFollows>,
    uri: Uri,
) -> ApiResult<Json<Vec<Value>>> {
    let me = auth.account()?.id;
    let mut out = Vec::new();
    for (k, v) in url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes()) {
        if k == "id[]" || k == "id" {
            let id = v
                .parse::<i64>()
                .map(AccountId::new)
                .map_err(|_| ApiError::bad_request(format!("Invalid id: {v:?}")))?;
            out.push(relationship_json(
                id,
                node.store.relationship(me, id).await?,
            ));
        }
    }
    Ok(Json(out))
}
