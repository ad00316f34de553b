//! Follow requests of a locked account: `GET /api/v1/follow_requests` (paged), and
//! `POST /api/v1/follow_requests/:account_id/authorize` or `/reject`.

use super::error::{ApiError, ApiResult};
use super::extract::{Query, ReadFollows, Scoped, WriteFollows, parse_id};
use super::timelines::{TimelineParams, bounds_of, linked};
use crate::api::Api;
use crate::domain::AccountId;
use crate::domain::entities::{Account, AccountRecord};
use crate::store::AccountList;
use axum::extract::{Path, State};
use axum::http::Uri;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::Value;

pub fn router() -> Router<Api> {
    Router::new()
        .route("/api/v1/follow_requests", get(index))
        .route("/api/v1/follow_requests/{id}/authorize", post(authorize))
        .route("/api/v1/follow_requests/{id}/reject", post(reject))
}

async fn index(
    State(node): State<Api>,
    auth: Scoped<ReadFollows>,
    Query(p): Query<TimelineParams>,
    uri: Uri,
) -> ApiResult<Response> {
    let me = auth.account()?.id;
    let rows = node
        .store
        .account_list(&AccountList::FollowRequests(me), p.cursor_page(40, 80)?)
        .await?;
    let body: Vec<Account> = rows
        .iter()
        .map(|(_, a)| Account::render(a, &node.site))
        .collect();
    let bounds = bounds_of(&rows, |r| r.0);
    Ok(linked(&body, &node.site.base_url, &uri, bounds))
}

async fn answer(node: &Api, me: &AccountRecord, id: &str, accept: bool) -> ApiResult<Json<Value>> {
    let requester: AccountId = parse_id(id)?;
    let them = node
        .store
        .account(requester)
        .await?
        .ok_or(ApiError::NotFound)?;
    let rel = if them.remote.is_some() {
        // Its server hears the answer.
        crate::federation::resolve::answer_remote_request(node, me, &them, accept).await?
    } else {
        node.store
            .answer_follow_request(me.id, requester, accept)
            .await?
    };
    Ok(Json(super::accounts::relationship_json(requester, rel)))
}

async fn authorize(
    State(node): State<Api>,
    auth: Scoped<WriteFollows>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    answer(&node, auth.account()?, &id, true).await
}

async fn reject(
    State(node): State<Api>,
    auth: Scoped<WriteFollows>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    answer(&node, auth.account()?, &id, false).await
}
