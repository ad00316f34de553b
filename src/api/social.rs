//! Threads and the lists around accounts and notices: `GET /api/v1/statuses/:id/context`,
//! `/reblogged_by`, `/favourited_by`; bookmarks and pins; an account's followers and
//! following; the caller's favourites and bookmarks. Lists are paged with a `Link` header
//! whose cursors are opaque, as on Mastodon.

use super::error::{ApiError, ApiResult};
use super::extract::{
    MaybeScoped, ReadAccounts, ReadBlocks, ReadBookmarks, ReadFavourites, ReadMutes, ReadStatuses,
    Scoped, WriteAccounts, WriteBookmarks, parse_id,
};
use super::timelines::{TimelineParams, bounds_of, linked};
use crate::api::Api;
use crate::domain::entities::{Account, Context, Status};
use crate::domain::{AccountId, StatusId};
use crate::store::{AccountList, Mark, StatusList};
use axum::extract::{Path, State};
use axum::http::Uri;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;

pub fn router() -> Router<Api> {
    Router::new()
        .route("/api/v1/statuses/{id}/context", get(context))
        .route("/api/v1/statuses/{id}/reblogged_by", get(reblogged_by))
        .route("/api/v1/statuses/{id}/favourited_by", get(favourited_by))
        .route("/api/v1/statuses/{id}/bookmark", post(bookmark))
        .route("/api/v1/statuses/{id}/unbookmark", post(unbookmark))
        .route("/api/v1/statuses/{id}/pin", post(pin))
        .route("/api/v1/statuses/{id}/unpin", post(unpin))
        .route("/api/v1/accounts/{id}/followers", get(followers))
        .route("/api/v1/accounts/{id}/following", get(following))
        .route("/api/v1/favourites", get(favourites))
        .route("/api/v1/bookmarks", get(bookmarks))
        .route("/api/v1/mutes", get(mutes))
        .route("/api/v1/blocks", get(blocks))
}

/// A page of (cursor, entity) rows as JSON, with its `Link`.
fn page<T: Serialize>(base: &str, uri: &Uri, items: Vec<(i64, T)>) -> Response {
    let bounds = bounds_of(&items, |i| i.0);
    let body: Vec<T> = items.into_iter().map(|i| i.1).collect();
    linked(&body, base, uri, bounds)
}

async fn context(
    State(node): State<Api>,
    auth: MaybeScoped<ReadStatuses>,
    Path(id): Path<String>,
) -> ApiResult<Json<Context>> {
    let id: StatusId = parse_id(&id)?;
    let viewer = auth.account_id();
    let s = node
        .store
        .status(id, viewer)
        .await?
        .ok_or(ApiError::NotFound)?;
    super::statuses::visible_to(&node, &s, viewer).await?;
    let (ancestors, descendants) = node.store.context(id, viewer).await?;
    Ok(Json(Context {
        ancestors: super::filters::render_filtered(&node, viewer, "thread", &ancestors).await?,
        descendants: super::filters::render_filtered(&node, viewer, "thread", &descendants).await?,
    }))
}

async fn who(
    node: Api,
    viewer: Option<AccountId>,
    id: String,
    p: TimelineParams,
    uri: Uri,
    list: fn(StatusId) -> AccountList,
) -> ApiResult<Response> {
    let id: StatusId = parse_id(&id)?;
    let s = node
        .store
        .status(id, viewer)
        .await?
        .ok_or(ApiError::NotFound)?;
    super::statuses::visible_to(&node, &s, viewer).await?;
    let of = s.reblog.as_ref().map_or(s.id, |r| r.id);
    accounts_page(node, list(of), p, uri).await
}

async fn reblogged_by(
    State(node): State<Api>,
    auth: MaybeScoped<ReadStatuses>,
    Path(id): Path<String>,
    super::extract::Query(p): super::extract::Query<TimelineParams>,
    uri: Uri,
) -> ApiResult<Response> {
    let viewer = auth.account_id();
    who(node, viewer, id, p, uri, AccountList::RebloggedBy).await
}

async fn favourited_by(
    State(node): State<Api>,
    auth: MaybeScoped<ReadStatuses>,
    Path(id): Path<String>,
    super::extract::Query(p): super::extract::Query<TimelineParams>,
    uri: Uri,
) -> ApiResult<Response> {
    let viewer = auth.account_id();
    who(node, viewer, id, p, uri, AccountList::FavouritedBy).await
}

async fn mark(node: &Api, me: AccountId, id: &str, m: Mark, on: bool) -> ApiResult<Json<Status>> {
    let id: StatusId = parse_id(id)?;
    let s = node
        .store
        .status(id, Some(me))
        .await?
        .ok_or(ApiError::NotFound)?;
    super::statuses::visible_to(node, &s, Some(me)).await?;
    let s = node.store.set_mark(m, me, id, on).await?;
    Ok(Json(Status::render(&s, &node.site)))
}

async fn bookmark(
    State(node): State<Api>,
    auth: Scoped<WriteBookmarks>,
    Path(id): Path<String>,
) -> ApiResult<Json<Status>> {
    mark(&node, auth.account()?.id, &id, Mark::Bookmark, true).await
}

async fn unbookmark(
    State(node): State<Api>,
    auth: Scoped<WriteBookmarks>,
    Path(id): Path<String>,
) -> ApiResult<Json<Status>> {
    mark(&node, auth.account()?.id, &id, Mark::Bookmark, false).await
}

async fn pin(
    State(node): State<Api>,
    auth: Scoped<WriteAccounts>,
    Path(id): Path<String>,
) -> ApiResult<Json<Status>> {
    mark(&node, auth.account()?.id, &id, Mark::Pin, true).await
}

async fn unpin(
    State(node): State<Api>,
    auth: Scoped<WriteAccounts>,
    Path(id): Path<String>,
) -> ApiResult<Json<Status>> {
    mark(&node, auth.account()?.id, &id, Mark::Pin, false).await
}

async fn graph(
    node: Api,
    id: String,
    p: TimelineParams,
    uri: Uri,
    list: fn(AccountId) -> AccountList,
) -> ApiResult<Response> {
    let id: AccountId = parse_id(&id)?;
    node.store.account(id).await?.ok_or(ApiError::NotFound)?;
    accounts_page(node, list(id), p, uri).await
}

async fn followers(
    State(node): State<Api>,
    _auth: MaybeScoped<ReadAccounts>,
    Path(id): Path<String>,
    super::extract::Query(p): super::extract::Query<TimelineParams>,
    uri: Uri,
) -> ApiResult<Response> {
    graph(node, id, p, uri, AccountList::Followers).await
}

async fn following(
    State(node): State<Api>,
    _auth: MaybeScoped<ReadAccounts>,
    Path(id): Path<String>,
    super::extract::Query(p): super::extract::Query<TimelineParams>,
    uri: Uri,
) -> ApiResult<Response> {
    graph(node, id, p, uri, AccountList::Following).await
}

async fn kept(node: Api, which: StatusList, p: TimelineParams, uri: Uri) -> ApiResult<Response> {
    let rows = node
        .store
        .status_list(&which, p.cursor_page(20, 40)?)
        .await?;
    let rendered = rows
        .into_iter()
        .map(|(c, s)| (c, Status::render(&s, &node.site)))
        .collect();
    Ok(page(&node.site.base_url, &uri, rendered))
}

async fn favourites(
    State(node): State<Api>,
    auth: Scoped<ReadFavourites>,
    super::extract::Query(p): super::extract::Query<TimelineParams>,
    uri: Uri,
) -> ApiResult<Response> {
    let me = auth.account()?.id;
    kept(node, StatusList::Favourites(me), p, uri).await
}

async fn bookmarks(
    State(node): State<Api>,
    auth: Scoped<ReadBookmarks>,
    super::extract::Query(p): super::extract::Query<TimelineParams>,
    uri: Uri,
) -> ApiResult<Response> {
    let me = auth.account()?.id;
    kept(node, StatusList::Bookmarks(me), p, uri).await
}

/// A page of accounts, with its `Link`.
async fn accounts_page(
    node: Api,
    list: AccountList,
    p: TimelineParams,
    uri: Uri,
) -> ApiResult<Response> {
    let rows = node
        .store
        .account_list(&list, p.cursor_page(40, 80)?)
        .await?;
    let rendered = rows
        .into_iter()
        .map(|(c, a)| (c, Account::render(&a, &node.site)))
        .collect();
    Ok(page(&node.site.base_url, &uri, rendered))
}

async fn mutes(
    State(node): State<Api>,
    auth: Scoped<ReadMutes>,
    super::extract::Query(p): super::extract::Query<TimelineParams>,
    uri: Uri,
) -> ApiResult<Response> {
    let me = auth.account()?.id;
    accounts_page(node, AccountList::Mutes(me), p, uri).await
}

async fn blocks(
    State(node): State<Api>,
    auth: Scoped<ReadBlocks>,
    super::extract::Query(p): super::extract::Query<TimelineParams>,
    uri: Uri,
) -> ApiResult<Response> {
    let me = auth.account()?.id;
    accounts_page(node, AccountList::Blocks(me), p, uri).await
}
