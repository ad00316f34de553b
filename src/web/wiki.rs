//! Signing in with a wiki account (wiki mode; see [`crate::wiki`] for the design and its
//! threat model):
//!
//! - `GET /auth/wiki/start?return_to=/path` begins a sign-in: a fresh nonce (assertions)
//!   or `state` and PKCE verifier (OAuth) in a signed cookie of this browser, and off to
//!   the wiki.
//! - `GET /auth/wiki/assertion?assertion=…` is where the wiki's `Special:Tidings/sso`
//!   sends her back; `GET /auth/wiki/callback?code=…&state=…` is the OAuth redirect URI.
//! - `GET|POST /auth/wiki/name`: her wiki name is someone else's username here; she
//!   chooses another (never a silent takeover of the other account).
//! - `GET /embed/wiki_users/{id}`: the recent public notices of the account linked to a
//!   wiki user, for her user page on the wiki.

use super::{Layout, PageQuery, back_to, page, plain_layout, render_all, session};
use crate::api::Api;
use crate::api::error::{ApiError, ApiResult};
use crate::api::extract::random_secret;
use crate::domain::validate::Username;
use crate::store::{AccountFilter, StoreError, Timeline};
use crate::wiki::assertion::{self, Refused};
use crate::wiki::{Wiki, WikiUser, oauth, username_for};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

const LOGIN_COOKIE: &str = "tidings_wiki";
const PENDING_COOKIE: &str = "tidings_wiki_pending";
/// How long a sign-in may take between leaving for the wiki and coming back.
const LOGIN_SECS: i64 = 600;

pub fn router() -> axum::Router<Api> {
    use axum::routing::get;
    axum::Router::new()
        .route("/auth/wiki/start", get(start))
        .route("/auth/wiki/assertion", get(assertion_back))
        .route("/auth/wiki/callback", get(oauth_back))
        .route("/auth/wiki/name", get(name_page).post(choose_name))
        .route("/embed/wiki_users/{id}", get(embed_user))
}

fn wiki(node: &Api) -> ApiResult<Arc<Wiki>> {
    node.wiki.clone().ok_or(ApiError::NotFound)
}

fn now_secs() -> i64 {
    crate::domain::now_micros() / 1_000_000
}

/// A sign-in in progress, in this browser's cookie (signed, so she cannot change where
/// it goes or which nonce it expects).
#[derive(Serialize, Deserialize)]
struct Login {
    /// The assertion's nonce, or the OAuth `state`.
    nonce: String,
    /// The PKCE verifier (OAuth only).
    #[serde(default)]
    verifier: Option<String>,
    back: String,
    exp: i64,
}

#[derive(Deserialize)]
struct StartQuery {
    return_to: Option<String>,
    /// `oauth` to use the OAuth extension when both ways are configured.
    via: Option<String>,
}

async fn start(State(node): State<Api>, Query(q): Query<StartQuery>) -> ApiResult<Response> {
    let w = wiki(&node)?;
    let back = back_to(q.return_to.as_deref());
    let nonce = random_secret();
    let use_oauth = w.secret.is_none() || q.via.as_deref() == Some("oauth");
    let (target, verifier) = match (&w.oauth, use_oauth) {
        (Some(c), true) => {
            let verifier = random_secret();
            let url = oauth::authorize_url(&w, c, &callback_uri(&node), &nonce, &verifier);
            (url, Some(verifier))
        }
        _ => {
            let mut u = url::Url::parse(&format!("{}/index.php", w.url))
                .map_err(|e| ApiError::Internal(e.to_string()))?;
            u.query_pairs_mut()
                .append_pair("title", "Special:Tidings/sso")
                .append_pair("nonce", &nonce);
            (u.to_string(), None)
        }
    };
    let login = Login {
        nonce,
        verifier,
        back,
        exp: now_secs() + LOGIN_SECS,
    };
    let cookie = assertion::sign(
        &serde_json::to_vec(&login).unwrap_or_default(),
        &w.cookie_key(),
    );
    let mut res = Redirect::to(&target).into_response();
    let h = res.headers_mut();
    h.insert(
        header::SET_COOKIE,
        session::set_cookie(&node, LOGIN_COOKIE, &cookie, "/auth/wiki", "Lax"),
    );
    h.insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    Ok(res)
}

fn callback_uri(node: &Api) -> String {
    format!("{}/auth/wiki/callback", node.site.base_url)
}

/// The sign-in this browser started, if its cookie is good and fresh.
fn login_of(w: &Wiki, headers: &HeaderMap) -> Result<Login, Refused> {
    let c = session::cookie(headers, LOGIN_COOKIE).ok_or(Refused::Nonce)?;
    let body = assertion::open(&c, &w.cookie_key()).map_err(|_| Refused::Nonce)?;
    let l: Login = serde_json::from_slice(&body).map_err(|_| Refused::Nonce)?;
    if l.exp < now_secs() {
        return Err(Refused::Expired);
    }
    Ok(l)
}

/// The sign-in this browser started, if `nonce` (the assertion's nonce, or the OAuth
/// `state`) is the one it expects.
fn login_answered(w: &Wiki, headers: &HeaderMap, nonce: &str) -> Result<Login, Refused> {
    let login = login_of(w, headers)?;
    if !crate::passwords::constant_time_eq(nonce.as_bytes(), login.nonce.as_bytes()) {
        return Err(Refused::Nonce);
    }
    Ok(login)
}

fn refused(why: impl std::fmt::Display) -> ApiError {
    ApiError::Forbidden(format!("Cannot sign you in: {why}"))
}

#[derive(Deserialize)]
struct AssertionQuery {
    assertion: Option<String>,
}

async fn assertion_back(
    State(node): State<Api>,
    headers: HeaderMap,
    Query(q): Query<AssertionQuery>,
) -> ApiResult<Response> {
    let w = wiki(&node)?;
    let secret = w.secret.as_deref().ok_or(ApiError::NotFound)?;
    let token = q
        .assertion
        .as_deref()
        .ok_or_else(|| ApiError::bad_request("Missing assertion"))?;
    let a = assertion::verify(token, secret, now_secs()).map_err(refused)?;
    let login = login_answered(&w, &headers, &a.nonce).map_err(refused)?;
    // Kept past its expiry by the clock difference other nodes forgive.
    if !node
        .store
        .use_wiki_nonce(&a.nonce, a.expires_at + assertion::SKEW)
        .await?
    {
        return Err(refused(Refused::Replayed));
    }
    sign_in_as(&node, &w, a.user, &login.back, &headers).await
}

#[derive(Deserialize)]
struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

async fn oauth_back(
    State(node): State<Api>,
    headers: HeaderMap,
    Query(q): Query<CallbackQuery>,
) -> ApiResult<Response> {
    let w = wiki(&node)?;
    let client = w.oauth.as_ref().ok_or(ApiError::NotFound)?;
    let state = q.state.as_deref().unwrap_or("");
    let login = login_answered(&w, &headers, state).map_err(|e| match e {
        Refused::Nonce => {
            refused("the answer from the wiki does not belong to this sign-in (state)")
        }
        other => refused(other),
    })?;
    if let Some(e) = q.error {
        return Err(refused(format!("the wiki said {e:.100}")));
    }
    let code = q
        .code
        .as_deref()
        .filter(|c| !c.is_empty() && c.len() < 4096)
        .ok_or_else(|| ApiError::bad_request("Missing code"))?;
    let verifier = login.verifier.as_deref().unwrap_or("");
    let user = oauth::sign_in(&w, client, code, verifier, &callback_uri(&node))
        .await
        .map_err(|e| {
            tracing::warn!(error = %e, "wiki OAuth sign-in failed");
            ApiError::Unavailable("The wiki did not confirm the sign-in; try again".into())
        })?;
    sign_in_as(&node, &w, user, &login.back, &headers).await
}

/// She is `user` on the wiki: bring her account in line (making it at her first visit)
/// and give this browser a session (keeping the one it has, if it is hers: every view of
/// `Special:Tidings` signs her in again, and must not pile up tokens).
async fn sign_in_as(
    node: &Api,
    w: &Wiki,
    user: WikiUser,
    back: &str,
    headers: &HeaderMap,
) -> ApiResult<Response> {
    let standing = w.standing_of(&user);
    let account = match node.store.wiki_account(user.id).await? {
        Some(id) => node.store.apply_wiki_standing(id, &standing).await?,
        None => {
            let name = username_for(&user);
            match create(node, &name, &standing).await? {
                Some(a) => a,
                None => {
                    let p = Pending {
                        user,
                        back: back.to_string(),
                        exp: now_secs() + LOGIN_SECS,
                    };
                    return ask_for_name(node, w, &p, &name, None);
                }
            }
        }
    };
    if let Some(why) = account.standing.refusal() {
        let why = if standing.disable {
            "You are blocked on the wiki".to_string()
        } else {
            why.to_string()
        };
        return Err(ApiError::Forbidden(why));
    }
    let current = session::session(node, headers).await?;
    let mut res = match current {
        Some(s) if s.account.id == account.id => {
            Redirect::to(&super::back_to(Some(back))).into_response()
        }
        _ => super::start_session(node, account.id, back).await?,
    };
    // The address she came by held the assertion: not to be passed on.
    res.headers_mut().insert(
        header::REFERRER_POLICY,
        header::HeaderValue::from_static("no-referrer"),
    );
    Ok(res)
}

/// Make her account as `name`; `None` when the name is not hers to take.
async fn create(
    node: &Api,
    name: &str,
    standing: &crate::store::WikiStanding,
) -> ApiResult<Option<crate::domain::entities::AccountRecord>> {
    if Username::parse_new(name).is_err() {
        return Ok(None);
    }
    match node.store.create_wiki_account(name, standing).await {
        Ok(a) => Ok(Some(a)),
        Err(StoreError::Taken("username")) => Ok(None),
        // Another node linked her meanwhile (two tabs signing in at once).
        Err(StoreError::Taken(_)) => match node.store.wiki_account(standing.wiki_user_id).await? {
            Some(id) => Ok(Some(node.store.apply_wiki_standing(id, standing).await?)),
            None => Err(ApiError::Internal("cannot link the wiki account".into())),
        },
        Err(e) => Err(e.into()),
    }
}

/// Her verified wiki identity while she chooses a name (signed), where she was going,
/// and when this sign-in ends: set once, at the wiki's word, and kept by every form shown
/// again, so the wiki's snapshot of her groups cannot be kept alive.
#[derive(Serialize, Deserialize)]
struct Pending {
    user: WikiUser,
    back: String,
    exp: i64,
}

#[derive(Template)]
#[template(path = "wiki_name.html")]
struct NamePage {
    l: Layout,
    wiki_name: String,
    wiki_user: String,
    taken: String,
    suggestion: String,
    csrf: String,
    problem: Option<String>,
}

/// The name form for `p`, `taken` being the name she cannot have.
fn ask_for_name(
    node: &Api,
    w: &Wiki,
    p: &Pending,
    taken: &str,
    problem: Option<String>,
) -> ApiResult<Response> {
    let user = &p.user;
    let cookie = assertion::sign(&serde_json::to_vec(p).unwrap_or_default(), &w.cookie_key());
    let csrf = csrf_of(&cookie);
    let base: String = taken.chars().take(26).collect();
    let suggestion = format!("{}_{}", base.trim_end_matches('_'), user.id % 1000);
    let status = if problem.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let mut res = page(
        &NamePage {
            l: plain_layout(node, "Choose your name"),
            wiki_name: w.name.clone(),
            wiki_user: user.name.clone(),
            taken: taken.to_string(),
            suggestion,
            csrf,
            problem,
        },
        false,
    )?;
    *res.status_mut() = status;
    let h = res.headers_mut();
    h.insert(
        header::SET_COOKIE,
        session::set_cookie(node, PENDING_COOKIE, &cookie, "/auth/wiki", "Strict"),
    );
    h.insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    Ok(res)
}

/// The CSRF token of the name form: a hash of the pending cookie (which a page of
/// another site can neither read nor compute).
fn csrf_of(cookie: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(&Sha256::digest(format!("tidings-wiki-name:{cookie}").as_bytes())[..16])
}

fn pending_of(w: &Wiki, headers: &HeaderMap) -> ApiResult<(Pending, String)> {
    let expired = || {
        ApiError::Forbidden(
            "This sign-in has expired; go back to the wiki and sign in again".into(),
        )
    };
    let c = session::cookie(headers, PENDING_COOKIE).ok_or_else(expired)?;
    let body = assertion::open(&c, &w.cookie_key()).map_err(|_| expired())?;
    let p: Pending = serde_json::from_slice(&body).map_err(|_| expired())?;
    if p.exp < now_secs() {
        return Err(expired());
    }
    Ok((p, c))
}

async fn name_page(State(node): State<Api>, headers: HeaderMap) -> ApiResult<Response> {
    let w = wiki(&node)?;
    let (p, _) = pending_of(&w, &headers)?;
    let taken = username_for(&p.user);
    ask_for_name(&node, &w, &p, &taken, None)
}

#[derive(Deserialize)]
struct NameForm {
    username: Option<String>,
    authenticity_token: Option<String>,
}

async fn choose_name(
    State(node): State<Api>,
    headers: HeaderMap,
    crate::api::extract::Input(f): crate::api::extract::Input<NameForm>,
) -> ApiResult<Response> {
    let w = wiki(&node)?;
    let (p, cookie) = pending_of(&w, &headers)?;
    let posted = f.authenticity_token.unwrap_or_default();
    if !crate::passwords::constant_time_eq(posted.as_bytes(), csrf_of(&cookie).as_bytes()) {
        return Err(ApiError::Forbidden(
            "The form has expired or did not come from this site; reload it".into(),
        ));
    }
    let user = &p.user;
    let wanted = f.username.unwrap_or_default().trim().to_string();
    if let Err(e) = Username::parse_new(&wanted) {
        return ask_for_name(&node, &w, &p, &wanted, Some(format!("That name {e}.")));
    }
    // Her account was made meanwhile (another tab): this form's snapshot of the wiki is
    // not what signs her in to it; a fresh sign-in from the wiki is.
    if node.store.wiki_account(user.id).await?.is_some() {
        return Err(ApiError::Forbidden(
            "Your account here exists already; sign in again from the wiki".into(),
        ));
    }
    let standing = w.standing_of(user);
    let account = match create(&node, &wanted, &standing).await? {
        Some(a) => a,
        None => {
            let problem = format!("@{wanted} is taken too; choose another.");
            return ask_for_name(&node, &w, &p, &wanted, Some(problem));
        }
    };
    if let Some(why) = account.standing.refusal() {
        return Err(ApiError::Forbidden(why.into()));
    }
    let mut res = super::start_session(&node, account.id, &p.back).await?;
    res.headers_mut().append(
        header::SET_COOKIE,
        session::set_cookie(&node, PENDING_COOKIE, "", "/auth/wiki", "Strict"),
    );
    Ok(res)
}

/// The recent public notices of the account linked to wiki user `id` (for her user
/// page on the wiki); framable by anyone, the same for everyone.
async fn embed_user(
    State(node): State<Api>,
    Path(id): Path<String>,
    Query(q): Query<PageQuery>,
) -> ApiResult<Response> {
    let id: i64 = id.parse().map_err(|_| ApiError::NotFound)?;
    let account_id = node
        .store
        .wiki_account(id)
        .await?
        .ok_or(ApiError::NotFound)?;
    let a = node
        .store
        .account(account_id)
        .await?
        .filter(|a| a.standing.suspended_at.is_none())
        .ok_or(ApiError::NotFound)?;
    let which = Timeline::Account {
        account_id: a.id,
        filter: AccountFilter {
            exclude_replies: true,
            ..Default::default()
        },
    };
    let list = node
        .store
        .timeline(&which, super::page_of(&q)?, None)
        .await?;
    let path = format!("/embed/wiki_users/{id}");
    let mut l = plain_layout(&node, &format!("@{}", a.username));
    l.embed = true;
    page(
        &super::FeedPage {
            l,
            heading: format!("@{}", a.username),
            trends: Vec::new(),
            composer: None,
            notices: render_all(&node, &list),
            older: super::older(&path, &list, &q),
        },
        true,
    )
}

/// In wiki mode, the wiki's pages may frame ours (`Special:Tidings` shows the feed and
/// the composer inside the wiki's skin); every other site still may not.
pub async fn wiki_may_frame(
    State(origin): State<Arc<str>>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    // Only the feeds, their composer's answers and the wiki sign-in itself; every other
    // page (an app's consent above all, password sign-in) stays unframable.
    let path = req.uri().path();
    let framable = path == "/"
        || ["/tags/", "/@", "/search", "/web/", "/auth/wiki/"]
            .iter()
            .any(|p| path.starts_with(p));
    let mut res = next.run(req).await;
    if !framable {
        return res;
    }
    let h = res.headers_mut();
    let csp = h
        .get(header::CONTENT_SECURITY_POLICY)
        .and_then(|v| v.to_str().ok())
        .filter(|v| v.contains("frame-ancestors 'none'"))
        .map(|v| {
            v.replace(
                "frame-ancestors 'none'",
                &format!("frame-ancestors 'self' {origin}"),
            )
        });
    if let Some(v) = csp.and_then(|v| header::HeaderValue::from_str(&v).ok()) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
        h.remove(header::X_FRAME_OPTIONS);
    }
    res
}
