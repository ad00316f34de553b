//! Apps and OAuth 2: `POST /api/v1/apps`, `POST /oauth/token` (password,
//! client_credentials, authorization_code with optional PKCE), `POST /oauth/revoke`, the
//! sign-in page at `/oauth/authorize`, and RFC 8414 metadata.

use super::accounts::verify_password;
use super::error::{ApiError, ApiResult};
use super::extract::{Input, Query, hash_token, random_secret};
use super::form::Words;
use crate::Node;
use crate::api::Api;
use crate::domain::AccountId;
use crate::domain::text::escape_html;
use crate::passwords::constant_time_eq;
use crate::store::{AppRecord, NewApp, NewAuthCode, NewToken, TokenRecord};
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use std::net::SocketAddr;

pub const OOB: &str = "urn:ietf:wg:oauth:2.0:oob";
const CODE_LIFETIME_MICROS: i64 = 10 * 60 * 1_000_000;
const TOP_SCOPES: [&str; 5] = ["read", "write", "follow", "push", "profile"];

pub fn router() -> Router<Api> {
    Router::new()
        .route("/api/v1/apps", post(create_app))
        .route("/oauth/token", post(token))
        .route("/oauth/revoke", post(revoke))
        .route("/oauth/authorize", get(authorize_page).post(authorize))
        .route("/.well-known/oauth-authorization-server", get(metadata))
}

/// RFC 6749 error body: `{"error": code, "error_description": …}`.
fn oauth_error(status: StatusCode, code: &str, description: &str) -> Response {
    (
        status,
        Json(json!({ "error": code, "error_description": description })),
    )
        .into_response()
}

fn valid_scopes(s: &str) -> bool {
    s.split_whitespace().all(|sc| {
        TOP_SCOPES.contains(&sc)
            || sc
                .strip_prefix("read:")
                .or_else(|| sc.strip_prefix("write:"))
                .is_some_and(|r| !r.is_empty())
            || sc
                .strip_prefix("admin:read")
                .or_else(|| sc.strip_prefix("admin:write"))
                .is_some_and(|r| r.is_empty() || r.len() > 1 && r.starts_with(':'))
    })
}

/// Every requested scope must be covered by the app's registered scopes.
fn scopes_within(requested: &str, allowed: &str) -> bool {
    requested
        .split_whitespace()
        .all(|s| super::extract::scopes_cover(allowed, s))
}

/// A redirect URI an app may register: `https`, `http` to a loopback address (native
/// apps, RFC 8252 §7.3), an app's private scheme (`com.example.app:/cb`, §7.1), or the
/// out-of-band URN. Never `javascript:`, `data:` and the like, which a browser would run.
fn acceptable_redirect(u: &str) -> bool {
    if u == OOB {
        return true;
    }
    let Ok(url) = url::Url::parse(u) else {
        return false;
    };
    match url.scheme() {
        "https" => url.host().is_some(),
        "http" => match url.host() {
            Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            None => false,
        },
        "javascript" | "data" | "vbscript" | "file" | "about" | "blob" | "filesystem" | "ws"
        | "wss" | "ftp" => false,
        _ => url.fragment().is_none(),
    }
}

#[derive(Deserialize)]
struct AppForm {
    client_name: Option<String>,
    #[serde(default, alias = "redirect_uris[]")]
    redirect_uris: Words,
    #[serde(default, alias = "scopes[]")]
    scopes: Option<Words>,
    website: Option<String>,
}

fn app_json(app: &AppRecord, with_secret: bool) -> serde_json::Value {
    let uris: Vec<&str> = app.redirect_uris.split_whitespace().collect();
    let mut v = json!({
        "id": app.id.to_string(),
        "name": app.name,
        "website": app.website,
        "scopes": app.scopes.split_whitespace().collect::<Vec<_>>(),
        "redirect_uri": app.redirect_uris.split_whitespace().collect::<Vec<_>>().join("\n"),
        "redirect_uris": uris,
        "vapid_key": "",
    });
    if with_secret {
        v["client_id"] = json!(app.client_id);
        v["client_secret"] = json!(app.client_secret);
        v["client_secret_expires_at"] = json!(0);
    }
    v
}

async fn create_app(
    State(node): State<Api>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Input(f): Input<AppForm>,
) -> ApiResult<Json<serde_json::Value>> {
    let t = node.throttles();
    t.check(&t.apps_per_ip, peer.ip()).await?;
    let name = f
        .client_name
        .filter(|n| !n.trim().is_empty())
        .ok_or_else(|| ApiError::invalid("Validation failed: Application name can't be blank"))?;
    let uris = f.redirect_uris.0;
    if uris.is_empty() {
        return Err(ApiError::invalid(
            "Validation failed: Redirect URI can't be blank",
        ));
    }
    if let Some(bad) = uris.iter().find(|u| !acceptable_redirect(u)) {
        return Err(ApiError::invalid(format!(
            "Validation failed: Redirect URI must be https, http on loopback, an app's own scheme or {OOB}: {}",
            bad.chars().take(100).collect::<String>()
        )));
    }
    let scopes = f
        .scopes
        .map(|s| s.joined())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "read".into());
    if !valid_scopes(&scopes) {
        return Err(ApiError::invalid("Validation failed: Scopes are not valid"));
    }
    let app = node
        .store
        .create_app(NewApp {
            name,
            website: f.website.filter(|w| !w.is_empty()),
            redirect_uris: uris.join(" "),
            scopes,
            client_id: random_secret(),
            client_secret: random_secret(),
        })
        .await?;
    Ok(Json(app_json(&app, true)))
}

#[derive(Deserialize, Default)]
struct TokenForm {
    grant_type: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    code: Option<String>,
    redirect_uri: Option<String>,
    #[serde(default, alias = "scope[]")]
    scope: Option<Words>,
    username: Option<String>,
    password: Option<String>,
    code_verifier: Option<String>,
    token: Option<String>,
}

/// Client credentials from the form or from HTTP Basic.
fn client_credentials(headers: &HeaderMap, f: &TokenForm) -> Option<(String, String)> {
    if let (Some(id), Some(secret)) = (&f.client_id, &f.client_secret) {
        return Some((id.clone(), secret.clone()));
    }
    let h = headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Basic ")?;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(h.trim())
        .ok()?;
    let s = String::from_utf8(raw).ok()?;
    let (id, secret) = s.split_once(':')?;
    Some((id.to_string(), secret.to_string()))
}

async fn authenticate_client(
    node: &Api,
    headers: &HeaderMap,
    f: &TokenForm,
) -> Result<AppRecord, Response> {
    let Some((id, secret)) = client_credentials(headers, f) else {
        return Err(oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Client authentication failed: no client credentials",
        ));
    };
    match node.store.app_by_client_id(&id).await {
        Ok(Some(app)) if constant_time_eq(app.client_secret.as_bytes(), secret.as_bytes()) => {
            Ok(app)
        }
        Ok(_) => Err(oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Client authentication failed due to unknown client",
        )),
        Err(e) => Err(ApiError::from(e).into_response()),
    }
}

async fn token(
    State(node): State<Api>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Input(f): Input<TokenForm>,
) -> Response {
    match issue_token(&node, peer.ip(), &headers, f).await {
        Ok(r) | Err(r) => r,
    }
}

async fn issue_token(
    node: &Api,
    ip: std::net::IpAddr,
    headers: &HeaderMap,
    f: TokenForm,
) -> Result<Response, Response> {
    let app = authenticate_client(node, headers, &f).await?;
    let requested = f
        .scope
        .as_ref()
        .map(Words::joined)
        .filter(|s| !s.is_empty());
    let (account_id, scopes) = match f.grant_type.as_deref() {
        Some("client_credentials") => (None, requested.unwrap_or_else(|| "read".into())),
        Some("password") => {
            let (Some(user), Some(pass)) = (f.username.as_deref(), f.password.as_deref()) else {
                return Err(oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "username and password are required",
                ));
            };
            let account = verify_password(node, ip, user, pass)
                .await
                .map_err(IntoResponse::into_response)?;
            let Some(account) = account else {
                return Err(oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "The user credentials were incorrect",
                ));
            };
            (Some(account.id), requested.unwrap_or_else(|| "read".into()))
        }
        Some("authorization_code") => {
            let code = f.code.as_deref().unwrap_or("");
            let invalid = || {
                oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "The authorization code is invalid, expired or already used",
                )
            };
            let rec = node
                .store
                .take_auth_code(&hash_token(code))
                .await
                .map_err(|e| ApiError::from(e).into_response())?;
            let Some(rec) = rec else {
                return Err(invalid());
            };
            let fresh = crate::domain::now_micros() - rec.created_at < CODE_LIFETIME_MICROS;
            // RFC 6749 §4.1.3: the redirect URI of the request, again (Doorkeeper, and
            // so Mastodon, always asks for it).
            let same_uri = f.redirect_uri.as_deref() == Some(rec.redirect_uri.as_str());
            if rec.app_id != app.id
                || !fresh
                || !same_uri
                || !pkce_ok(rec.code_challenge.as_deref(), f.code_verifier.as_deref())
            {
                return Err(invalid());
            }
            (Some(rec.account_id), rec.scopes)
        }
        _ => {
            return Err(oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "Supported: authorization_code, password, client_credentials",
            ));
        }
    };
    if !valid_scopes(&scopes) || !scopes_within(&scopes, &app.scopes) {
        return Err(oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            "The requested scope is invalid, unknown, or malformed",
        ));
    }
    let (secret, t) = create_token(node, Some(app.id), account_id, &scopes)
        .await
        .map_err(IntoResponse::into_response)?;
    Ok(Json(token_json(&secret, &t)).into_response())
}

fn pkce_ok(challenge: Option<&str>, verifier: Option<&str>) -> bool {
    match (challenge, verifier) {
        (None, _) => true,
        (Some(c), Some(v)) => {
            let digest = Sha256::digest(v.as_bytes());
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest) == c
        }
        (Some(_), None) => false,
    }
}

pub async fn create_token(
    node: &Node,
    app_id: Option<i64>,
    account_id: Option<AccountId>,
    scopes: &str,
) -> ApiResult<(String, TokenRecord)> {
    let secret = random_secret();
    let t = node
        .store
        .create_token(NewToken {
            token_hash: hash_token(&secret),
            app_id,
            account_id,
            scopes: scopes.to_string(),
        })
        .await?;
    Ok((secret, t))
}

/// Mastodon's Token entity.
pub fn token_json(secret: &str, t: &TokenRecord) -> serde_json::Value {
    json!({
        "access_token": secret,
        "token_type": "Bearer",
        "scope": t.scopes,
        "created_at": t.created_at / 1_000_000,
    })
}

async fn revoke(
    State(node): State<Api>,
    headers: HeaderMap,
    Input(f): Input<TokenForm>,
) -> Response {
    let app = match authenticate_client(&node, &headers, &f).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let Some(token) = f.token.as_deref() else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "token is required",
        );
    };
    match node.store.revoke_token(&hash_token(token), app.id).await {
        Ok(()) => Json(json!({})).into_response(),
        Err(e) => ApiError::from(e).into_response(),
    }
}

#[derive(Deserialize, Default)]
struct AuthorizeForm {
    response_type: Option<String>,
    client_id: Option<String>,
    redirect_uri: Option<String>,
    #[serde(default, alias = "scope[]")]
    scope: Option<Words>,
    state: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
    username: Option<String>,
    password: Option<String>,
    /// The sign-in form's CSRF token; must equal the [`CSRF_COOKIE`] set with the page.
    authenticity_token: Option<String>,
}

/// Double-submit CSRF: the page sets this cookie and puts the same random value in the
/// form; a form posted from another site cannot read the cookie to copy it.
const CSRF_COOKIE: &str = "tidings_csrf";

fn csrf_cookie(headers: &HeaderMap) -> Option<String> {
    super::extract::cookie(headers, CSRF_COOKIE)
}

/// The headers every sign-in page carries: no framing (clickjacking), no caching, and
/// the CSRF cookie. Its form may post only here, and be answered with a redirect to the
/// app's (registered, checked) `redirect`: Chromium and Safari hold a form's redirects to
/// `form-action` too, and would stop the code on its way to the app.
fn page_headers(node: &Node, token: &str, redirect: &str) -> [(header::HeaderName, String); 4] {
    let secure = if node.site.base_url.starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    // An http(s) redirect is allowed by its origin, an app's own scheme (`myapp://…`) by
    // the scheme; the out-of-band one stays here.
    let to = match url::Url::parse(redirect) {
        Ok(u) if redirect != OOB => match u.scheme() {
            "http" | "https" => format!(" {}", u.origin().ascii_serialization()),
            scheme => format!(" {scheme}:"),
        },
        _ => String::new(),
    };
    [
        (
            header::CONTENT_SECURITY_POLICY,
            format!("frame-ancestors 'none'; form-action 'self'{to}"),
        ),
        (header::X_FRAME_OPTIONS, "DENY".into()),
        (header::CACHE_CONTROL, "no-store".into()),
        (
            header::SET_COOKIE,
            format!("{CSRF_COOKIE}={token}; Path=/oauth; HttpOnly; SameSite=Strict{secure}"),
        ),
    ]
}

/// Check the client and redirect URI of an authorization request.
async fn check_request(
    node: &Node,
    f: &AuthorizeForm,
) -> Result<(AppRecord, String, String), ApiError> {
    if f.response_type.as_deref() != Some("code") {
        return Err(ApiError::bad_request("response_type must be code"));
    }
    let app = node
        .store
        .app_by_client_id(f.client_id.as_deref().unwrap_or(""))
        .await?
        .ok_or_else(|| ApiError::bad_request("Unknown client_id"))?;
    let redirect = f.redirect_uri.clone().unwrap_or_else(|| {
        app.redirect_uris
            .split_whitespace()
            .next()
            .unwrap_or(OOB)
            .to_string()
    });
    if !app.redirect_uris.split_whitespace().any(|u| u == redirect) {
        return Err(ApiError::bad_request(
            "redirect_uri is not registered for this app",
        ));
    }
    let scopes = f
        .scope
        .as_ref()
        .map(Words::joined)
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "read".into());
    if !valid_scopes(&scopes) || !scopes_within(&scopes, &app.scopes) {
        return Err(ApiError::bad_request("The requested scope is invalid"));
    }
    // RFC 7636 §4.3: no method means `plain`, which we refuse.
    if f.code_challenge.is_some() && f.code_challenge_method.as_deref() != Some("S256") {
        return Err(ApiError::bad_request(
            "Only the S256 code_challenge_method is supported",
        ));
    }
    Ok((app, redirect, scopes))
}

/// How the person on the authorization page shows who she is.
enum Who {
    /// Username and password.
    Password,
    /// She is signed in on this site's pages already (named): one click.
    Session(String),
    /// Wiki mode without passwords: sign in on the wiki first (its name, and the
    /// address that starts that sign-in and comes back here).
    Wiki(String, String),
}

fn sign_in_page(
    f: &AuthorizeForm,
    app_name: &str,
    scopes: &str,
    csrf: &str,
    problem: Option<&str>,
    who: &Who,
) -> Html<String> {
    let mut hidden = String::new();
    for (k, v) in [
        ("authenticity_token", &Some(csrf.to_string())),
        ("response_type", &f.response_type),
        ("client_id", &f.client_id),
        ("redirect_uri", &f.redirect_uri),
        ("scope", &Some(scopes.to_string())),
        ("state", &f.state),
        ("code_challenge", &f.code_challenge),
        ("code_challenge_method", &f.code_challenge_method),
    ] {
        if let Some(v) = v {
            hidden.push_str("<input type=\"hidden\" name=\"");
            hidden.push_str(k);
            hidden.push_str("\" value=\"");
            escape_html(v, &mut hidden);
            hidden.push_str("\">");
        }
    }
    let mut name = String::new();
    escape_html(app_name, &mut name);
    let mut scope_html = String::new();
    escape_html(scopes, &mut scope_html);
    let problem = problem
        .map(|p| format!("<p class=\"error\" role=\"alert\">{p}</p>"))
        .unwrap_or_default();
    let form = match who {
        Who::Password => format!(
            "<form method=\"post\" action=\"/oauth/authorize\">{hidden}\
             <label>Username <input name=\"username\" autocomplete=\"username\" required></label>\
             <label>Password <input name=\"password\" type=\"password\" autocomplete=\"current-password\" required></label>\
             <button type=\"submit\">Authorize</button></form>"
        ),
        Who::Session(user) => {
            let mut u = String::new();
            escape_html(user, &mut u);
            format!(
                "<form method=\"post\" action=\"/oauth/authorize\">{hidden}\
                 <p>You are signed in as <strong>@{u}</strong>.</p>\
                 <button type=\"submit\" id=\"authorize\">Authorize</button></form>"
            )
        }
        Who::Wiki(wiki, start) => {
            let (mut w, mut href) = (String::new(), String::new());
            escape_html(wiki, &mut w);
            escape_html(start, &mut href);
            format!(
                "<p><a id=\"wiki-sign-in\" href=\"{href}\">Sign in with your account on {w}</a></p>"
            )
        }
    };
    Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\">\
         <title>Sign in — Tidings</title></head><body><main><h1>Sign in</h1>\
         <p><strong>{name}</strong> asks to use your account ({scope_html}).</p>{problem}{form}</main></body></html>"
    ))
}

async fn authorize_page(
    State(node): State<Api>,
    headers: HeaderMap,
    uri: axum::http::Uri,
    Query(f): Query<AuthorizeForm>,
) -> ApiResult<Response> {
    let (app, redirect, scopes) = check_request(&node, &f).await?;
    let (who, csrf) = who_is_here(&node, &headers, &uri).await?;
    Ok((
        page_headers(&node, &csrf, &redirect),
        sign_in_page(&f, &app.name, &scopes, &csrf, None, &who),
    )
        .into_response())
}

/// Who the authorization page is talking to — a signed-in reader of our pages, someone
/// to send to the wiki first (wiki mode), or someone with a password — and the form's
/// CSRF token: for a session, the session's own (which a page of another origin cannot
/// compute even if it can set cookies for this site), else a fresh double-submit one.
async fn who_is_here(
    node: &Api,
    headers: &HeaderMap,
    uri: &axum::http::Uri,
) -> ApiResult<(Who, String)> {
    if let Some(s) = crate::web::session::session(node, headers).await?
        && s.account.standing.functional()
    {
        let csrf = s.csrf();
        return Ok((Who::Session(s.account.username), csrf));
    }
    let who = match node.wiki.as_ref().filter(|w| !w.local_passwords) {
        Some(w) => {
            let here = uri
                .path_and_query()
                .map_or("/oauth/authorize", |p| p.as_str());
            let start = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("return_to", here)
                .finish();
            Who::Wiki(w.name.clone(), format!("/auth/wiki/start?{start}"))
        }
        None => Who::Password,
    };
    Ok((who, random_secret()))
}

async fn authorize(
    State(node): State<Api>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Input(f): Input<AuthorizeForm>,
) -> ApiResult<Response> {
    let (app, redirect, scopes) = check_request(&node, &f).await?;
    let posted = f.authenticity_token.as_deref().unwrap_or("");
    if posted.is_empty() || csrf_cookie(&headers).as_deref() != Some(posted) {
        return Err(ApiError::Forbidden(
            "The sign-in form has expired or did not come from this server; reload it".into(),
        ));
    }
    // Signed in on our pages already (and the form is hers: its CSRF token matched), and
    // no password typed: she authorizes as herself with one click.
    let session = match f.username.as_deref() {
        None | Some("") => match crate::web::session::session(&node, &headers).await? {
            Some(s) if s.account.standing.functional() => {
                s.check(Some(posted))?;
                Some(s.account)
            }
            _ => None,
        },
        Some(_) => None,
    };
    let account = match session {
        Some(a) => Some(a),
        None => {
            verify_password(
                &node,
                peer.ip(),
                f.username.as_deref().unwrap_or(""),
                f.password.as_deref().unwrap_or(""),
            )
            .await?
        }
    };
    let Some(account) = account else {
        let csrf = random_secret();
        return Ok((
            StatusCode::UNAUTHORIZED,
            page_headers(&node, &csrf, &redirect),
            sign_in_page(
                &f,
                &app.name,
                &scopes,
                &csrf,
                Some("Invalid username or password."),
                &Who::Password,
            ),
        )
            .into_response());
    };
    let code = random_secret();
    node.store
        .create_auth_code(NewAuthCode {
            code_hash: hash_token(&code),
            app_id: app.id,
            account_id: account.id,
            redirect_uri: redirect.clone(),
            scopes,
            code_challenge: f.code_challenge.clone(),
        })
        .await?;
    if redirect == OOB {
        return Ok(Html(format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Authorization code</title></head>\
             <body><main><h1>Authorization code</h1><p>Copy this code into the application:</p><code id=\"code\">{code}</code></main></body></html>"
        ))
        .into_response());
    }
    let mut target = url::Url::parse(&redirect)
        .map_err(|_| ApiError::bad_request("redirect_uri is not a URL"))?;
    target.query_pairs_mut().append_pair("code", &code);
    if let Some(s) = &f.state {
        target.query_pairs_mut().append_pair("state", s);
    }
    Ok(Redirect::to(target.as_str()).into_response())
}

async fn metadata(State(node): State<Api>) -> Json<serde_json::Value> {
    let base = &node.site.base_url;
    Json(json!({
        "issuer": format!("{base}/"),
        "authorization_endpoint": format!("{base}/oauth/authorize"),
        "token_endpoint": format!("{base}/oauth/token"),
        "revocation_endpoint": format!("{base}/oauth/revoke"),
        "app_registration_endpoint": format!("{base}/api/v1/apps"),
        "scopes_supported": ["read", "write", "follow", "push", "profile", "read:accounts", "read:statuses", "write:accounts", "write:statuses", "write:follows", "write:favourites"],
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "password", "client_credentials"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "code_challenge_methods_supported": ["S256"],
        "service_documentation": "https://docs.joinmastodon.org/",
    }))
}
