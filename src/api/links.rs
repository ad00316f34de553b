//! The addresses our entities link to: `url` and `uri` of accounts and notices,
//! `/tags/{tag}`, and the default avatar and header images. Each answers with the entity
//! as JSON (a notice only to whoever may see it) — `crate::web` serves the same `url`s as
//! pages to browsers — and the images as a small PNG with long cache headers.

use super::error::{ApiError, ApiResult};
use super::extract::{MaybeScoped, ReadAccounts, ReadStatuses, parse_id};
use crate::api::Api;
use crate::domain::StatusId;
use crate::domain::entities::{Account, Status};
use crate::domain::text::normalize_tag;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

/// A flat grey square: every account's avatar and header until profiles have images.
const MISSING_PNG: &[u8] = include_bytes!("../../assets/missing.png");

pub fn router() -> Router<Api> {
    Router::new()
        .route("/avatars/original/missing.png", get(missing))
        .route("/headers/original/missing.png", get(missing))
        .route("/thumbnail.png", get(missing))
        .route("/favicon.ico", get(missing))
        .route("/users/{username}", get(account_or_actor))
        .route("/users/{username}/statuses/{id}", get(status_or_note))
}

async fn missing() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "image/png"),
            (header::CACHE_CONTROL, "public, max-age=604800, immutable"),
        ],
        MISSING_PNG,
    )
}

/// A server asking for ActivityStreams gets the actor document; anyone else the account.
async fn account_or_actor(
    State(node): State<Api>,
    auth: MaybeScoped<ReadAccounts>,
    Path(username): Path<String>,
    headers: axum::http::HeaderMap,
) -> ApiResult<axum::response::Response> {
    if crate::federation::wants_activity(&headers) {
        return crate::federation::actor(&node, &username).await;
    }
    account(State(node), auth, Path(username))
        .await
        .map(IntoResponse::into_response)
}

/// A server asking for ActivityStreams gets the `Note`; anyone else the status.
async fn status_or_note(
    State(node): State<Api>,
    auth: MaybeScoped<ReadStatuses>,
    Path((username, id)): Path<(String, String)>,
    headers: axum::http::HeaderMap,
) -> ApiResult<axum::response::Response> {
    if crate::federation::wants_activity(&headers) {
        return crate::federation::note(&node, &username, parse_id(&id)?).await;
    }
    status(State(node), auth, Path((username, id)))
        .await
        .map(IntoResponse::into_response)
}

pub(crate) async fn account(
    State(node): State<Api>,
    _auth: MaybeScoped<ReadAccounts>,
    Path(username): Path<String>,
) -> ApiResult<Json<Account>> {
    let a = node
        .store
        .account_by_username(&username)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(Json(Account::render(&a, &node.site)))
}

pub(crate) async fn status(
    State(node): State<Api>,
    auth: MaybeScoped<ReadStatuses>,
    Path((username, id)): Path<(String, String)>,
) -> ApiResult<Json<Status>> {
    let id: StatusId = parse_id(&id)?;
    let viewer = auth.account_id();
    let s = node
        .store
        .status(id, viewer)
        .await?
        .ok_or(ApiError::NotFound)?;
    if !s.account.username.eq_ignore_ascii_case(&username) {
        return Err(ApiError::NotFound);
    }
    super::statuses::visible_to(&node, &s, viewer).await?;
    Ok(Json(Status::render(&s, &node.site)))
}

pub(crate) async fn tag(
    State(node): State<Api>,
    Path(tag): Path<String>,
) -> ApiResult<Json<Value>> {
    let name = normalize_tag(&tag);
    if !crate::domain::text::is_tag(&name) {
        return Err(ApiError::NotFound);
    }
    Ok(Json(json!({
        "name": name,
        "url": format!("{}/tags/{name}", node.site.base_url),
        "history": [],
        "following": false,
    })))
}
