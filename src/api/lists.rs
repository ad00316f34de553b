//! Lists: `/api/v1/lists` (create, read, update, delete), their accounts, the lists an
//! account is on, and `GET /api/v1/timelines/list/:id`. A list is its owner's alone:
//! anyone else is answered 404. The `list` stream is in `api::streaming`.

use super::error::{ApiError, ApiResult};
use super::extract::{Input, Query, ReadLists, Scoped, WriteLists, parse_id};
use super::form::{Flag, Id};
use super::timelines::{TimelineParams, bounds_of, linked, paged};
use crate::api::Api;
use crate::domain::entities::Account;
use crate::domain::{AccountId, ListId};
use crate::store::{AccountList, ListRecord, Timeline};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Uri};
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

pub fn router() -> Router<Api> {
    Router::new()
        .route("/api/v1/lists", get(index).post(create))
        .route("/api/v1/lists/{id}", get(show).put(update).delete(remove))
        .route(
            "/api/v1/lists/{id}/accounts",
            get(members).post(add_members).delete(remove_members),
        )
        .route("/api/v1/accounts/{id}/lists", get(lists_with))
        .route("/api/v1/timelines/list/{id}", get(timeline))
}

/// Longest title, as Mastodon's.
const MAX_TITLE: usize = 256;
const POLICIES: [&str; 3] = ["list", "followed", "none"];

fn list_json(l: &ListRecord) -> Value {
    json!({
        "id": l.id.to_string(),
        "title": l.title,
        "replies_policy": l.replies_policy,
        "exclusive": l.exclusive,
    })
}

/// The caller's own list, or 404.
async fn own(node: &Api, me: AccountId, id: &str) -> ApiResult<ListRecord> {
    let id: ListId = parse_id(id)?;
    node.store
        .list(id)
        .await?
        .filter(|l| l.account_id == me)
        .ok_or(ApiError::NotFound)
}

async fn index(State(node): State<Api>, auth: Scoped<ReadLists>) -> ApiResult<Json<Value>> {
    let me = auth.account()?.id;
    let lists = node.store.lists(me, None).await?;
    Ok(Json(Value::Array(lists.iter().map(list_json).collect())))
}

#[derive(Deserialize)]
struct ListForm {
    title: Option<String>,
    replies_policy: Option<String>,
    exclusive: Option<Flag>,
}

impl ListForm {
    /// Apply to `l` what was given; a bad value is 422.
    fn apply(self, l: &mut ListRecord) -> ApiResult<()> {
        if let Some(t) = self.title {
            let t = t.trim().to_string();
            crate::domain::validate::no_controls("Title", &t)
                .map_err(|e| ApiError::invalid(e.0))?;
            if t.is_empty() || t.chars().count() > MAX_TITLE {
                return Err(ApiError::invalid(format!(
                    "Validation failed: Title must be 1 to {MAX_TITLE} characters"
                )));
            }
            l.title = t;
        }
        if let Some(p) = self.replies_policy.filter(|p| !p.is_empty()) {
            if !POLICIES.contains(&p.as_str()) {
                return Err(ApiError::invalid(
                    "Validation failed: replies_policy is list, followed or none",
                ));
            }
            l.replies_policy = p;
        }
        if let Some(e) = self.exclusive {
            l.exclusive = e.0;
        }
        Ok(())
    }
}

async fn create(
    State(node): State<Api>,
    auth: Scoped<WriteLists>,
    Input(f): Input<ListForm>,
) -> ApiResult<Json<Value>> {
    let me = auth.account()?.id;
    if f.title.as_deref().is_none_or(|t| t.trim().is_empty()) {
        return Err(ApiError::invalid("Validation failed: Title can't be blank"));
    }
    let mut l = ListRecord {
        id: ListId::new(0),
        account_id: me,
        title: String::new(),
        replies_policy: "list".into(),
        exclusive: false,
    };
    f.apply(&mut l)?;
    let saved = node.store.save_list(&l, true).await?;
    Ok(Json(list_json(&saved)))
}

async fn show(
    State(node): State<Api>,
    auth: Scoped<ReadLists>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let l = own(&node, auth.account()?.id, &id).await?;
    Ok(Json(list_json(&l)))
}

async fn update(
    State(node): State<Api>,
    auth: Scoped<WriteLists>,
    Path(id): Path<String>,
    Input(f): Input<ListForm>,
) -> ApiResult<Json<Value>> {
    let mut l = own(&node, auth.account()?.id, &id).await?;
    f.apply(&mut l)?;
    let saved = node.store.save_list(&l, false).await?;
    Ok(Json(list_json(&saved)))
}

async fn remove(
    State(node): State<Api>,
    auth: Scoped<WriteLists>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let l = own(&node, auth.account()?.id, &id).await?;
    node.store.delete_list(l.id).await?;
    Ok(Json(json!({})))
}

async fn members(
    State(node): State<Api>,
    auth: Scoped<ReadLists>,
    Path(id): Path<String>,
    Query(p): Query<TimelineParams>,
    uri: Uri,
) -> ApiResult<Response> {
    let l = own(&node, auth.account()?.id, &id).await?;
    // `limit=0` asks for every member, as on Mastodon.
    let all = p.limit.as_deref() == Some("0");
    let page = if all {
        crate::store::CursorPage {
            limit: crate::store::MAX_LIST_MEMBERS,
            ..Default::default()
        }
    } else {
        p.cursor_page(40, 80)?
    };
    let rows = node
        .store
        .account_list(&AccountList::Members(l.id), page)
        .await?;
    // All members at once come without a `Link`: there is no page beyond.
    let bounds = bounds_of(&rows, |r| r.0).filter(|_| !all);
    let body: Vec<Account> = rows
        .iter()
        .map(|(_, a)| Account::render(a, &node.site))
        .collect();
    Ok(linked(&body, &node.site.base_url, &uri, bounds))
}

#[derive(Deserialize)]
struct MembersForm {
    #[serde(default, alias = "account_ids[]")]
    account_ids: Vec<Id>,
}

fn member_ids(f: MembersForm) -> ApiResult<Vec<AccountId>> {
    Id::accounts(f.account_ids, crate::store::MAX_LIST_MEMBERS as usize)
}

async fn add_members(
    State(node): State<Api>,
    auth: Scoped<WriteLists>,
    Path(id): Path<String>,
    Input(f): Input<MembersForm>,
) -> ApiResult<Json<Value>> {
    let l = own(&node, auth.account()?.id, &id).await?;
    let ids = member_ids(f)?;
    for a in &ids {
        node.store.account(*a).await?.ok_or(ApiError::NotFound)?;
    }
    node.store.set_list_members(&l, &ids, true).await?;
    Ok(Json(json!({})))
}

async fn remove_members(
    State(node): State<Api>,
    auth: Scoped<WriteLists>,
    Path(id): Path<String>,
    Input(f): Input<MembersForm>,
) -> ApiResult<Json<Value>> {
    let l = own(&node, auth.account()?.id, &id).await?;
    let ids = member_ids(f)?;
    node.store.set_list_members(&l, &ids, false).await?;
    Ok(Json(json!({})))
}

async fn lists_with(
    State(node): State<Api>,
    auth: Scoped<ReadLists>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let me = auth.account()?.id;
    let member: AccountId = parse_id(&id)?;
    let lists = node.store.lists(me, Some(member)).await?;
    Ok(Json(Value::Array(lists.iter().map(list_json).collect())))
}

async fn timeline(
    State(node): State<Api>,
    auth: Scoped<ReadLists>,
    Path(id): Path<String>,
    Query(p): Query<TimelineParams>,
    uri: Uri,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let me = auth.account()?.id;
    let list = own(&node, me, &id).await?;
    paged(
        &node,
        &Timeline::List { list },
        &p,
        Some(me),
        &uri,
        &headers,
    )
    .await
}
