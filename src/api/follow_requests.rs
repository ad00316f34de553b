//! Follow requests of a locked account: `GET /api/v1/follow_requests` (paged), and
//! `POST /api/v1/follow_requests/:account_id/authorize` or `/reject`.

use super::error::ApiResult;
use super::extract::{Query, ReadFollows, Scoped, WriteFollows, parse_id};
use super::timelines::{TimelineParams, link_header};
use crate::api::Api;
use crate::domain::AccountId;
use crate::domain::entities::Account;
use crate::store::AccountList;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, Uri, header};
use axum::response::{IntoResponse, Response};
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
    let link = match (rows.first(), rows.last()) {
        (Some(f), Some(l)) => Some(link_header(&node.site.base_url, &uri, f.0, l.0)),
        _ => None,
    };
    let body: Vec<Account> = rows
        .iter()
        .map(|(_, a)| Account::render(a, &node.site))
        .collect();
    let mut res = Json(body).into_response();
    if let Some(v) = link.and_then(|l| HeaderValue::from_str(&l).ok()) {
        res.headers_mut().insert(header::LINK, v);
    }
    Ok(res)
}

async fn answer(node: &Api, me: AccountId, id: &str, accept: bool) -> ApiResult<Json<Value>> {
    let requester: AccountId = parse_id(id)?;
    let rel = node
        .store
        .answer_follow_request(me, requester, accept)
        .await?;
    Ok(Json(super::accounts::relationship_json(requester, rel)))
}

async fn authorize(
    State(node): State<Api>,
    auth: Scoped<WriteFollows>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    answer(&node, auth.account()?.id, &id, true).await
}

async fn reject(
    State(node): State<Api>,
    auth: Scoped<WriteFollows>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    answer(&node, auth.account()?.id, &id, false).await
}
