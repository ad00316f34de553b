//! Signing in on the web: a first-party cookie session.
//!
//! `POST /auth/sign_in` checks the password as the API's password grant does (same
//! throttle per address and per account) and gives the browser a session: an access
//! token of the built-in app "Tidings web" (scopes `read write follow`), in a cookie that
//! is `HttpOnly`, `SameSite=Lax`, and `Secure` when the site is served over https. The
//! token is stored hashed like every other, so signing out (or revoking it) ends it on
//! every node at once.
//!
//! Every form a signed-in page posts carries a CSRF token derived from the session
//! (a hash of it: a page of another site can neither read the cookie nor compute the
//! token); the sign-in form, before any session, uses a double-submit cookie.

use crate::api::Api;
use crate::api::error::{ApiError, ApiResult};
use crate::api::extract::{hash_token, random_secret};
use crate::domain::entities::AccountRecord;
use crate::passwords::constant_time_eq;
use crate::store::NewApp;
use axum::http::{HeaderMap, HeaderValue};
use sha2::{Digest, Sha256};

pub const SESSION_COOKIE: &str = "tidings_session";
pub const SIGN_IN_CSRF_COOKIE: &str = "tidings_signin";
const WEB_APP: &str = "tidings-web";
pub const WEB_SCOPES: &str = "read write follow";

/// A signed-in reader of a page.
pub struct Session {
    pub secret: String,
    pub token_id: i64,
    pub app_id: Option<i64>,
    pub account: AccountRecord,
}

/// What the templates show of her: who she is, and the CSRF token of her forms.
pub struct SignedIn {
    pub id: String,
    pub username: String,
    pub csrf: String,
}

impl Session {
    pub fn csrf(&self) -> String {
        csrf_of(&self.secret)
    }

    pub fn signed_in(&self) -> SignedIn {
        SignedIn {
            id: self.account.id.to_string(),
            username: self.account.username.clone(),
            csrf: self.csrf(),
        }
    }

    /// Refuse a form without this session's CSRF token (403).
    pub fn check(&self, posted: Option<&str>) -> ApiResult<()> {
        let want = self.csrf();
        match posted {
            Some(p) if constant_time_eq(p.as_bytes(), want.as_bytes()) => Ok(()),
            _ => Err(ApiError::Forbidden(
                "The form has expired or did not come from this site; reload the page".into(),
            )),
        }
    }
}

fn csrf_of(secret: &str) -> String {
    hex::encode(&Sha256::digest(format!("tidings-csrf:{secret}").as_bytes())[..16])
}

pub use crate::api::extract::cookie;

/// The session the request's cookie names, if it is still good.
pub async fn session(node: &Api, headers: &HeaderMap) -> ApiResult<Option<Session>> {
    let Some(secret) = cookie(headers, SESSION_COOKIE).filter(|s| !s.is_empty() && s.len() < 200)
    else {
        return Ok(None);
    };
    let Some(t) = node.store.token(&hash_token(&secret)).await? else {
        return Ok(None);
    };
    Ok(t.account.map(|account| Session {
        secret,
        token_id: t.id,
        app_id: t.app_id,
        account,
    }))
}

/// A `Set-Cookie` for `name` (`value` empty: remove it).
pub fn set_cookie(node: &Api, name: &str, value: &str, path: &str, same_site: &str) -> HeaderValue {
    let secure = if node.site.base_url.starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    let age = if value.is_empty() { "; Max-Age=0" } else { "" };
    HeaderValue::from_str(&format!(
        "{name}={value}; Path={path}; HttpOnly; SameSite={same_site}{secure}{age}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The built-in app the web sessions belong to, made the first time anyone signs in.
pub async fn web_app(node: &Api) -> ApiResult<i64> {
    if let Some(a) = node.store.app_by_client_id(WEB_APP).await? {
        return Ok(a.id);
    }
    let made = node
        .store
        .create_app(NewApp {
            name: "Tidings web".into(),
            website: Some(node.site.base_url.clone()),
            redirect_uris: "urn:ietf:wg:oauth:2.0:oob".into(),
            scopes: WEB_SCOPES.into(),
            client_id: WEB_APP.into(),
            client_secret: random_secret(),
        })
        .await;
    match made {
        Ok(a) => Ok(a.id),
        // Another node made it meanwhile.
        Err(_) => node
            .store
            .app_by_client_id(WEB_APP)
            .await?
            .map(|a| a.id)
            .ok_or_else(|| ApiError::Internal("cannot make the web app".into())),
    }
}
