//! Request extractors that answer bad input with a JSON error: the caller's token,
//! request bodies in any of Mastodon's encodings, query strings.

use super::error::{ApiError, ApiResult};
use crate::Node;
use crate::api::Api;
use crate::domain::AccountId;
use crate::domain::entities::AccountRecord;
use crate::store::TokenRecord;
use axum::extract::{FromRequest, FromRequestParts, Multipart, Request};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

/// Tokens are stored as the hex SHA-256 of the token.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A random secret for tokens, client secrets and codes.
/// The value of cookie `name` in a request.
pub fn cookie(headers: &axum::http::HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

pub fn random_secret() -> String {
    use base64::Engine;
    let bytes: [u8; 32] = rand::random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// An authenticated caller: a valid token, with or without an account.
#[derive(Debug, Clone)]
pub struct Auth(pub TokenRecord);

impl Auth {
    /// The signed-in account, or 401 for an app-only token.
    pub fn account(&self) -> ApiResult<&AccountRecord> {
        self.0.account.as_ref().ok_or_else(|| {
            ApiError::Unauthorized("This method requires an authenticated user".into())
        })
    }

    /// 403 unless the token's scopes cover `scope` (`write` covers `write:statuses`).
    pub fn require(&self, scope: &str) -> ApiResult<()> {
        if scopes_cover(&self.0.scopes, scope) {
            Ok(())
        } else {
            Err(ApiError::Forbidden(
                "This action is outside the authorized scopes".into(),
            ))
        }
    }
}

pub fn scopes_cover(granted: &str, wanted: &str) -> bool {
    // The legacy `follow` scope stands for the relationship scopes.
    let legacy_follow = matches!(wanted, "read:follows" | "write:follows");
    // A scope covers those below it: `read` covers `read:statuses`, `admin:read` covers
    // `admin:read:accounts`.
    granted.split_whitespace().any(|g| {
        g == wanted
            || wanted
                .strip_prefix(g)
                .is_some_and(|rest| rest.starts_with(':'))
            || (legacy_follow && g == "follow")
    })
}

/// The token from `Authorization: Bearer`, the `access_token` query parameter or (for
/// WebSocket) `Sec-WebSocket-Protocol`.
pub fn token_from_parts(parts: &Parts) -> Option<String> {
    if let Some(h) = parts
        .headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        let t = h
            .strip_prefix("Bearer ")
            .or_else(|| h.strip_prefix("bearer "))
            .unwrap_or(h)
            .trim();
        if !t.is_empty() {
            return Some(t.to_string());
        }
    }
    if let Some(q) = parts.uri.query() {
        for (k, v) in url::form_urlencoded::parse(q.as_bytes()) {
            if k == "access_token" && !v.is_empty() {
                return Some(v.into_owned());
            }
        }
    }
    let protocol = parts
        .headers
        .get("sec-websocket-protocol")
        .and_then(|v| v.to_str().ok())
        .filter(|_| parts.uri.path().starts_with("/api/v1/streaming"))?;
    let t = protocol.split(',').next().unwrap_or("").trim();
    (!t.is_empty()).then(|| t.to_string())
}

/// An optional caller: no token is fine, an invalid one is 401. Not an extractor of its
/// own: routes take [`Scoped`] or [`MaybeScoped`], so that the scope a route needs is
/// part of its type and cannot be forgotten.
pub struct MaybeAuth(pub Option<Auth>);

impl MaybeAuth {
    pub fn account_id(&self) -> Option<AccountId> {
        self.0
            .as_ref()
            .and_then(|a| a.0.account.as_ref())
            .map(|a| a.id)
    }

    /// The caller's token, if the request carried one; an unknown token is 401. Read
    /// once per request: the API's rate limit looks it up first and leaves it here
    /// ([`LookedUp`]).
    pub async fn from_parts(parts: &Parts, node: &Node) -> ApiResult<Self> {
        let Some(token) = token_from_parts(parts) else {
            return Ok(MaybeAuth(None));
        };
        let found = match parts.extensions.get::<LookedUp>() {
            Some(LookedUp(found)) => found.clone(),
            None => node.store.token(&hash_token(&token)).await?,
        };
        match found {
            Some(t) => Ok(MaybeAuth(Some(Auth(t)))),
            None => Err(ApiError::unauthorized()),
        }
    }
}

/// The request's token as the store knows it (`None`: unknown), looked up once by the
/// rate limit (see `crate::api`) and read again by [`MaybeAuth::from_parts`].
#[derive(Clone)]
pub struct LookedUp(pub Option<TokenRecord>);

/// A scope a route needs, as Mastodon names it. A token's broader scope covers it
/// (`read` covers `read:statuses`; the legacy `follow` covers `read:follows` and
/// `write:follows`).
pub trait Scope: Send + Sync + 'static {
    const NAME: &'static str;
}

macro_rules! scopes {
    ($($(#[$doc:meta])* $name:ident = $scope:literal;)*) => {
        $($(#[$doc])* pub struct $name; impl Scope for $name { const NAME: &'static str = $scope; })*
    };
}

scopes! {
    ReadAccounts = "read:accounts";
    ReadStatuses = "read:statuses";
    ReadFollows = "read:follows";
    ReadFilters = "read:filters";
    ReadLists = "read:lists";
    ReadMutes = "read:mutes";
    ReadBlocks = "read:blocks";
    /// Mastodon asks for the bare `read` scope here (announcements, preferences of
    /// reading, …); a granular token of any `read:*` kind does not cover it.
    Read = "read";
    ReadNotifications = "read:notifications";
    ReadBookmarks = "read:bookmarks";
    ReadFavourites = "read:favourites";
    ReadSearch = "read:search";
    WriteAccounts = "write:accounts";
    WriteStatuses = "write:statuses";
    WriteFavourites = "write:favourites";
    WriteFollows = "write:follows";
    WriteBlocks = "write:blocks";
    WriteLists = "write:lists";
    WriteMedia = "write:media";
    WriteFilters = "write:filters";
    WriteMutes = "write:mutes";
    WriteNotifications = "write:notifications";
    WriteBookmarks = "write:bookmarks";
    WriteConversations = "write:conversations";
    WriteReports = "write:reports";
    /// Mastodon's administration scopes; the account must be staff too (see
    /// `crate::api::admin`).
    AdminWrite = "admin:write";
    AdminRead = "admin:read";
    AdminReadAccounts = "admin:read:accounts";
    AdminWriteAccounts = "admin:write:accounts";
    AdminReadReports = "admin:read:reports";
    AdminWriteReports = "admin:write:reports";
    AdminReadDomainBlocks = "admin:read:domain_blocks";
    AdminWriteDomainBlocks = "admin:write:domain_blocks";
    AdminReadDomainAllows = "admin:read:domain_allows";
    AdminWriteDomainAllows = "admin:write:domain_allows";
    AdminReadEmailDomainBlocks = "admin:read:email_domain_blocks";
    AdminWriteEmailDomainBlocks = "admin:write:email_domain_blocks";
    AdminReadIpBlocks = "admin:read:ip_blocks";
    AdminWriteIpBlocks = "admin:write:ip_blocks";
}

/// A caller whose token covers scope `S`: no token is 401, a token without `S` is 403.
pub struct Scoped<S: Scope>(pub Auth, std::marker::PhantomData<S>);

impl<S: Scope> std::ops::Deref for Scoped<S> {
    type Target = Auth;
    fn deref(&self) -> &Auth {
        &self.0
    }
}

impl<S: Scope> FromRequestParts<Api> for Scoped<S> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, node: &Api) -> ApiResult<Self> {
        let auth = MaybeAuth::from_parts(parts, node)
            .await?
            .0
            .ok_or_else(ApiError::unauthorized)?;
        auth.require(S::NAME)?;
        // A sign-up waiting for approval may see her own account, nothing more (a
        // suspended or disabled account's tokens do not get this far).
        if let Some(why) = auth.0.account.as_ref().and_then(|a| a.standing.refusal())
            && S::NAME != "read:accounts"
        {
            return Err(ApiError::Forbidden(why.into()));
        }
        Ok(Scoped(auth, std::marker::PhantomData))
    }
}

/// A caller who may be anonymous; but a token, when one is presented, must cover `S`
/// (Mastodon's `authorize_if_got_token!`), else 403.
pub struct MaybeScoped<S: Scope>(pub MaybeAuth, std::marker::PhantomData<S>);

impl<S: Scope> MaybeScoped<S> {
    pub fn account(&self) -> Option<&AccountRecord> {
        self.0.0.as_ref().and_then(|a| a.0.account.as_ref())
    }

    pub fn account_id(&self) -> Option<AccountId> {
        self.0.account_id()
    }
}

impl<S: Scope> FromRequestParts<Api> for MaybeScoped<S> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, node: &Api) -> ApiResult<Self> {
        let auth = MaybeAuth::from_parts(parts, node).await?;
        if let Some(a) = &auth.0 {
            a.require(S::NAME)?;
        }
        Ok(MaybeScoped(auth, std::marker::PhantomData))
    }
}

/// A reader of the streaming endpoints. Public streams need no scope (as on Mastodon);
/// the `user` stream is the home timeline and needs `read:statuses`, `user:notification`
/// needs `read:notifications` (see [`Reader`]).
pub struct StreamCaller(pub MaybeAuth);

/// Who opens a stream: her account, and which of its own streams her token may read.
#[derive(Debug, Clone, Copy, Default)]
pub struct Reader {
    account: Option<AccountId>,
    /// `read:statuses`: the `user` stream (the home timeline).
    statuses: bool,
    /// `read:notifications`: the `user:notification` stream.
    notifications: bool,
}

impl Reader {
    /// The account, when the token may read any of its streams: a token that may not
    /// reads only what an anonymous reader may.
    pub fn signed_in(&self) -> Option<AccountId> {
        self.account.filter(|_| self.statuses || self.notifications)
    }

    /// The account whose stream `name` (a wire name, `:` or `/` separated) this reader
    /// may open, if its token covers that stream's scope.
    pub fn for_stream(&self, name: &str) -> Option<AccountId> {
        let notifications = name == "user:notification" || name == "user/notification";
        let allowed = if notifications {
            self.notifications
        } else {
            self.statuses
        };
        self.account.filter(|_| allowed)
    }
}

impl StreamCaller {
    pub fn reader(&self) -> Reader {
        match self.0.0.as_ref() {
            None => Reader::default(),
            Some(a) => Reader {
                account: a.0.account.as_ref().map(|a| a.id),
                statuses: scopes_cover(&a.0.scopes, "read:statuses"),
                notifications: scopes_cover(&a.0.scopes, "read:notifications"),
            },
        }
    }

    /// The id of the token the caller presented: its streams end when it is revoked.
    pub fn token_id(&self) -> Option<i64> {
        self.0.0.as_ref().map(|a| a.0.id)
    }
}

impl FromRequestParts<Api> for StreamCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, node: &Api) -> ApiResult<Self> {
        if token_from_parts(parts).is_none()
            && let Some(secret) = cookie(&parts.headers, crate::web::session::SESSION_COOKIE)
                .filter(|s| !s.is_empty() && s.len() < 200)
        {
            // A page's own stream, signed in by its session cookie. Browsers send cookies
            // with a WebSocket from any site, so the request must come from our pages
            // (cross-site WebSocket hijacking); a request with no `Origin` is no browser's.
            if !same_origin(parts, node) {
                return Err(ApiError::Forbidden(
                    "A stream opened with this site's session cookie must come from its pages"
                        .into(),
                ));
            }
            let token = node.store.token(&hash_token(&secret)).await?;
            return Ok(StreamCaller(MaybeAuth(token.map(Auth))));
        }
        Ok(StreamCaller(MaybeAuth::from_parts(parts, node).await?))
    }
}

/// Does the request's `Origin` (if any) name this site: its configured address, or the
/// host the request was sent to?
fn same_origin(parts: &Parts, node: &Api) -> bool {
    let Some(origin) = parts.headers.get(axum::http::header::ORIGIN) else {
        return true;
    };
    let Ok(origin) = origin.to_str() else {
        return false;
    };
    let origin = origin.trim_end_matches('/');
    if origin.eq_ignore_ascii_case(node.site.base_url.trim_end_matches('/')) {
        return true;
    }
    let host = parts
        .headers
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    // The host asked for, with our own scheme (an http page may not speak for https).
    let scheme = if node.site.base_url.starts_with("https://") {
        "https://"
    } else {
        "http://"
    };
    let bare = origin.strip_prefix(scheme).unwrap_or("");
    !host.is_empty() && bare.eq_ignore_ascii_case(host)
}

/// A query string decoded into `T`; a bad one is 400 with a JSON error.
pub struct Query<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> ApiResult<Self> {
        let q = parts.uri.query().unwrap_or("");
        if url::form_urlencoded::parse(q.as_bytes())
            .any(|(k, v)| k.contains('\0') || v.contains('\0'))
        {
            return Err(ApiError::invalid(
                "Validation failed: the query contains a NUL character",
            ));
        }
        serde_html_form::from_str(q)
            .map(Query)
            .map_err(|e| ApiError::bad_request(format!("Invalid query: {e}")))
    }
}

/// What a multipart file field reads as (its bytes are not read).
pub const FILE_GIVEN: &str = "(file)";

/// A request body as JSON, `application/x-www-form-urlencoded` or `multipart/form-data`
/// (Mastodon accepts all three), decoded into `T`'s typed fields (see [`super::form`]).
/// Malformed JSON is 400; a field of the wrong type, or a NUL character anywhere, 422.
pub struct Input<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Input<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> ApiResult<Self> {
        read_input(req, state, &[]).await.map(|(t, _)| Input(t))
    }
}

/// [`Input`] that also keeps the bytes of the multipart files named in `F::FILES` (the
/// route's body limit bounds them); other files read as [`FILE_GIVEN`].
pub struct InputFiles<T, F: FileFields>(
    pub T,
    pub Vec<(String, bytes::Bytes)>,
    pub std::marker::PhantomData<F>,
);

/// The file fields an [`InputFiles`] keeps.
pub trait FileFields: Send + Sync + 'static {
    const FILES: &'static [&'static str];
}

impl<T: DeserializeOwned, F: FileFields, S: Send + Sync> FromRequest<S> for InputFiles<T, F> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> ApiResult<Self> {
        read_input(req, state, F::FILES)
            .await
            .map(|(t, files)| InputFiles(t, files, std::marker::PhantomData))
    }
}

async fn read_input<T: DeserializeOwned, S: Send + Sync>(
    req: Request,
    state: &S,
    keep: &[&str],
) -> ApiResult<(T, Vec<(String, bytes::Bytes)>)> {
    let mut files = Vec::new();
    {
        let ctype = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase();
        // No field of ours may hold a NUL; refused before any of them is used (Postgres
        // cannot store it, and a batch of posts would fail for one).
        let nul = || ApiError::invalid("Validation failed: a field contains a NUL character");
        let invalid =
            |e: &dyn std::fmt::Display| ApiError::invalid(format!("Validation failed: {e}"));
        if ctype.starts_with("application/json") {
            let bytes = body_bytes(req, state).await?;
            let text = match bytes.iter().position(|b| !b.is_ascii_whitespace()) {
                None => &b"{}"[..],
                Some(i) if bytes[i] == b'{' => &bytes[..],
                Some(_) => return Err(ApiError::bad_request("The body must be an object")),
            };
            if json_has_nul(text) {
                return Err(nul());
            }
            return serde_json::from_slice(text)
                .map(|t| (t, files))
                .map_err(|e| {
                    if e.is_data() {
                        invalid(&e)
                    } else {
                        ApiError::bad_request(format!("Malformed JSON: {e}"))
                    }
                });
        }
        let form: Vec<u8> = if ctype.starts_with("multipart/form-data") {
            let mut mp = Multipart::from_request(req, state)
                .await
                .map_err(|e| ApiError::bad_request(format!("Malformed multipart body: {e}")))?;
            let mut pairs = Vec::new();
            while let Some(field) = mp
                .next_field()
                .await
                .map_err(|e| ApiError::bad_request(format!("Malformed multipart body: {e}")))?
            {
                let name = field.name().unwrap_or("").to_string();
                // A file is not read here: its field arrives as [`FILE_GIVEN`], and the
                // handler says what it makes of it (until media is stored, a 422).
                if field.file_name().is_some() {
                    if keep.contains(&name.as_str()) {
                        let bytes = field.bytes().await.map_err(|e| {
                            ApiError::bad_request(format!("Malformed multipart body: {e}"))
                        })?;
                        files.push((name.clone(), bytes));
                    }
                    pairs.push((name, FILE_GIVEN.to_string()));
                    continue;
                }
                let text = field
                    .text()
                    .await
                    .map_err(|e| ApiError::bad_request(format!("Malformed multipart body: {e}")))?;
                pairs.push((name, text));
            }
            url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(pairs)
                .finish()
                .into_bytes()
        } else {
            body_bytes(req, state).await?.to_vec()
        };
        if url::form_urlencoded::parse(&form).any(|(k, v)| k.contains('\0') || v.contains('\0')) {
            return Err(nul());
        }
        serde_html_form::from_bytes(&form)
            .map(|t| (t, files))
            .map_err(|e| invalid(&e))
    }
}

async fn body_bytes<S: Send + Sync>(req: Request, state: &S) -> ApiResult<axum::body::Bytes> {
    axum::body::Bytes::from_request(req, state)
        .await
        .map_err(|e| ApiError::bad_request(format!("Cannot read the body: {e}")))
}

/// Does a JSON text hold an escaped NUL (`\u0000`)? A raw one is not valid JSON. An
/// escape is one when an odd number of backslashes stands before the `u`.
fn json_has_nul(text: &[u8]) -> bool {
    text.windows(6).enumerate().any(|(i, w)| {
        w == b"\\u0000" && text[..i].iter().rev().take_while(|b| **b == b'\\').count() % 2 == 0
    })
}

/// Parse a path id; a non-numeric id is simply not found, as in Mastodon.
pub fn parse_id<T: From<i64>>(s: &str) -> ApiResult<T> {
    s.parse::<i64>()
        .ok()
        .filter(|i| *i > 0)
        .map(T::from)
        .ok_or(ApiError::NotFound)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broad_scopes_cover_granular_ones() {
        assert!(scopes_cover("read write", "write:statuses"));
        assert!(scopes_cover("write:statuses", "write:statuses"));
        assert!(!scopes_cover("read", "write:statuses"));
        assert!(!scopes_cover("write:accounts", "write:statuses"));
        assert!(scopes_cover("follow", "write:follows"));
        assert!(!scopes_cover("follow", "read:statuses"));
        assert!(!scopes_cover("profile push", "read:statuses"));
    }

    #[test]
    fn escaped_nuls_are_found_and_escaped_backslashes_are_not_nuls() {
        assert!(json_has_nul(br#"{"a":"x\u0000"}"#));
        assert!(json_has_nul(br#"{"a":"\\\u0000"}"#));
        assert!(!json_has_nul(br#"{"a":"\\u0000"}"#));
        assert!(!json_has_nul(br#"{"a":"u0000"}"#));
    }
}
