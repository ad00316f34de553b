//! Conversations of direct notices: `GET /api/v1/conversations` (paged by the id of
//! each conversation's latest notice, with `Link`), `POST /api/v1/conversations/:id/read`
//! and `DELETE /api/v1/conversations/:id`. A conversation is its owner's alone: anyone
//! else is answered 404. They arrive live as `conversation` events on the `direct`
//! stream (see `crate::store` and `crate::domain::announce`).

use super::error::{ApiError, ApiResult};
use super::extract::{Query, ReadStatuses, Scoped, WriteConversations, parse_id};
use super::timelines::{TimelineParams, bounds_of, linked};
use crate::api::Api;
use crate::domain::entities::Conversation;
use crate::store::CursorPage;
use axum::extract::{Path, State};
use axum::http::Uri;
use axum::response::Response;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde_json::{Value, json};

pub fn router() -> Router<Api> {
    Router::new()
        .route("/api/v1/conversations", get(list))
        .route("/api/v1/conversations/{id}", delete(remove))
        .route("/api/v1/conversations/{id}/read", post(read))
}

/// Mastodon's page: 20 conversations by default, at most 40.
const DEFAULT_LIMIT: i64 = 20;
const MAX_LIMIT: i64 = 40;

async fn list(
    State(node): State<Api>,
    auth: Scoped<ReadStatuses>,
    Query(p): Query<TimelineParams>,
    uri: Uri,
) -> ApiResult<Response> {
    let me = auth.account()?.id;
    let page = p.cursor_page(DEFAULT_LIMIT, MAX_LIMIT)?;
    let list = node.store.conversations(me, &page, None).await?;
    let bounds = bounds_of(&list, |c| c.last_status.as_ref().map_or(0, |s| s.id.get()));
    let rendered: Vec<Conversation> = list
        .iter()
        .map(|c| Conversation::render(c, &node.site))
        .collect();
    Ok(linked(&rendered, &node.site.base_url, &uri, bounds))
}

async fn read(
    State(node): State<Api>,
    auth: Scoped<WriteConversations>,
    Path(id): Path<String>,
) -> ApiResult<Json<Conversation>> {
    let me = auth.account()?.id;
    let id: i64 = parse_id(&id)?;
    if !node.store.read_conversation(me, id).await? {
        return Err(ApiError::NotFound);
    }
    let one = CursorPage {
        max: None,
        since: None,
        min: None,
        limit: 1,
    };
    let c = node
        .store
        .conversations(me, &one, Some(id))
        .await?
        .pop()
        .ok_or(ApiError::NotFound)?;
    Ok(Json(Conversation::render(&c, &node.site)))
}

async fn remove(
    State(node): State<Api>,
    auth: Scoped<WriteConversations>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let me = auth.account()?.id;
    if !node.store.remove_conversation(me, parse_id(&id)?).await? {
        return Err(ApiError::NotFound);
    }
    Ok(Json(json!({})))
}
