//! Search: `GET /api/v2/search` (accounts, hashtags, notices) and
//! `GET /api/v1/accounts/search`. Notices are searched in full text over all history
//! (see `crate::store`'s search); accounts and hashtags by prefix. With `resolve=true`,
//! a signed-in reader's query of `user@domain` or an actor's URL is looked up on its
//! server (WebFinger; see `crate::federation::resolve`) and put first.

use super::error::{ApiError, ApiResult};
use super::extract::{MaybeScoped, Query, ReadAccounts, ReadSearch};
use super::timelines::flag;
use crate::api::Api;
use crate::domain::entities::{Account, Status};
use crate::domain::{AccountId, StatusId};
use crate::store::StatusSearch;
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

pub fn router() -> Router<Api> {
    Router::new()
        .route("/api/v2/search", get(search))
        .route("/api/v1/accounts/search", get(accounts))
}

/// Longest query read: enough for any phrase, not a way to make the database work.
const MAX_QUERY_CHARS: usize = 200;

#[derive(Deserialize)]
struct SearchParams {
    q: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    resolve: Option<String>,
    following: Option<String>,
    account_id: Option<String>,
    max_id: Option<String>,
    min_id: Option<String>,
    limit: Option<String>,
    offset: Option<String>,
}

fn number(name: &str, v: &Option<String>, default: i64) -> ApiResult<i64> {
    match v.as_deref() {
        None | Some("") => Ok(default),
        Some(s) => s
            .parse::<i64>()
            .ok()
            .filter(|n| *n >= 0)
            .ok_or_else(|| ApiError::bad_request(format!("Invalid {name}: {s:?}"))),
    }
}

fn query(q: &Option<String>) -> ApiResult<String> {
    let q = q.as_deref().map(str::trim).unwrap_or("");
    if q.is_empty() {
        return Err(ApiError::bad_request("Missing search query (q)"));
    }
    if q.contains('\0') {
        return Err(ApiError::invalid(
            "Validation failed: the query contains a NUL character",
        ));
    }
    Ok(q.chars().take(MAX_QUERY_CHARS).collect())
}

fn tag_json(node: &Api, name: &str) -> Value {
    json!({
        "name": name,
        "url": format!("{}/tags/{name}", node.site.base_url),
        "history": [],
        "following": false,
    })
}

/// The account of another server the query names, looked up there, put first.
async fn resolved_first(
    node: &Api,
    q: &str,
    found: &mut Vec<crate::domain::entities::AccountRecord>,
    limit: i64,
) -> ApiResult<()> {
    if let Some(a) = crate::federation::resolve::from_query(node, q).await? {
        found.retain(|f| f.id != a.id);
        found.insert(0, a);
        found.truncate(limit as usize);
    }
    Ok(())
}

async fn search(
    State(node): State<Api>,
    auth: MaybeScoped<ReadSearch>,
    Query(p): Query<SearchParams>,
) -> ApiResult<Json<Value>> {
    let q = query(&p.q)?;
    let viewer = auth.account_id();
    let limit = number("limit", &p.limit, 20)?.clamp(1, 40);
    let offset = number("offset", &p.offset, 0)?;
    // As Mastodon: only a signed-in reader's search reaches other servers.
    let resolve = flag(&p.resolve)? && viewer.is_some();
    // As Mastodon: paging past the first page needs a signed-in caller.
    if offset > 0 && viewer.is_none() {
        return Err(ApiError::Unauthorized(
            "Search queries pagination is not supported without authentication".into(),
        ));
    }
    let (accounts, hashtags, statuses) = match p.kind.as_deref() {
        None | Some("") => (true, true, true),
        Some("accounts") => (true, false, false),
        Some("hashtags") => (false, true, false),
        Some("statuses") => (false, false, true),
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "Invalid type: {:?}",
                other.chars().take(40).collect::<String>()
            )));
        }
    };
    let following = flag(&p.following)?;
    let following_of = match (following, viewer) {
        (true, Some(v)) => Some(v),
        (true, None) => {
            return Err(ApiError::Unauthorized(
                "This method requires an authenticated user".into(),
            ));
        }
        _ => None,
    };
    let id = super::timelines::cursor_param;
    let mut out = json!({ "accounts": [], "statuses": [], "hashtags": [] });
    // A leading `#` asks for tags, a leading `@` for accounts, as clients send them.
    let words = q.trim_start_matches(['#', '@']);
    if accounts && !q.starts_with('#') {
        let mut found = node
            .store
            .search_accounts(words, following_of, limit, offset)
            .await?;
        if resolve && offset == 0 {
            resolved_first(&node, &q, &mut found, limit).await?;
        }
        out["accounts"] = json!(
            found
                .iter()
                .map(|a| Account::render(a, &node.site))
                .collect::<Vec<_>>()
        );
    }
    if hashtags && !q.starts_with('@') {
        let found = node.store.search_tags(words, limit, offset).await?;
        out["hashtags"] = Value::Array(found.iter().map(|(t, _)| tag_json(&node, t)).collect());
    }
    if statuses {
        let account = match p.account_id.as_deref() {
            None | Some("") => None,
            Some(s) => Some(AccountId::parse(s).ok_or(ApiError::NotFound)?),
        };
        let found = node
            .store
            .search_statuses(
                &StatusSearch {
                    q: q.clone(),
                    account,
                    max_id: id("max_id", &p.max_id)?.map(StatusId::new),
                    min_id: id("min_id", &p.min_id)?.map(StatusId::new),
                    limit,
                    offset,
                },
                viewer,
            )
            .await?;
        out["statuses"] = json!(
            found
                .iter()
                .map(|s| Status::render(s, &node.site))
                .collect::<Vec<_>>()
        );
    }
    Ok(Json(out))
}

async fn accounts(
    State(node): State<Api>,
    auth: MaybeScoped<ReadAccounts>,
    Query(p): Query<SearchParams>,
) -> ApiResult<Json<Vec<Account>>> {
    let q = query(&p.q)?;
    let limit = number("limit", &p.limit, 40)?.clamp(1, 80);
    let offset = number("offset", &p.offset, 0)?;
    let resolve = flag(&p.resolve)? && auth.account_id().is_some();
    let following_of = match (flag(&p.following)?, auth.account_id()) {
        (true, Some(v)) => Some(v),
        (true, None) => {
            return Err(ApiError::Unauthorized(
                "This method requires an authenticated user".into(),
            ));
        }
        _ => None,
    };
    let mut found = node
        .store
        .search_accounts(&q, following_of, limit, offset)
        .await?;
    if resolve && offset == 0 {
        resolved_first(&node, &q, &mut found, limit).await?;
    }
    Ok(Json(
        found
            .iter()
            .map(|a| Account::render(a, &node.site))
            .collect(),
    ))
}
