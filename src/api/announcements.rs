//! Announcements: what the administrators tell everyone. Mastodon's reading side —
//! `GET /api/v1/announcements`, `POST /:id/dismiss`, `PUT`/`DELETE /:id/reactions/:name`
//! — and, since Mastodon makes them only in its web admin, a Tidings extension for
//! administrators: `POST /api/v1/admin/announcements`, `PUT` and `DELETE
//! /api/v1/admin/announcements/:id` (token scope `admin:write`; the operator's shell has
//! `tidings admin announce`). Each change reaches every open `user` stream as
//! `announcement`, `announcement.reaction` or `announcement.delete`.

use super::error::{ApiError, ApiResult};
use super::extract::{
    AdminWrite, Input, Query, Read, Scoped, WriteAccounts, WriteFavourites, parse_id,
};
use super::form::Flag;
use crate::api::Api;
use crate::domain::entities::Announcement;
use crate::store::NewAnnouncement;
use axum::extract::{Path, State};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

pub fn router() -> Router<Api> {
    Router::new()
        .route("/api/v1/announcements", get(list))
        .route("/api/v1/announcements/{id}/dismiss", post(dismiss))
        .route(
            "/api/v1/announcements/{id}/reactions/{name}",
            put(add_reaction).delete(remove_reaction),
        )
        .route("/api/v1/admin/announcements", post(create))
        .route(
            "/api/v1/admin/announcements/{id}",
            put(update).delete(withdraw),
        )
}

/// Longest announcement text, in characters.
pub const MAX_TEXT: usize = 5000;

#[derive(Deserialize)]
struct ListParams {
    with_dismissed: Option<Flag>,
}

async fn list(
    State(node): State<Api>,
    auth: Scoped<Read>,
    Query(p): Query<ListParams>,
) -> ApiResult<Json<Vec<Announcement>>> {
    let me = auth.account()?.id;
    let with_dismissed = p.with_dismissed.is_some_and(|f| f.0);
    let list = node.store.announcements(Some(me), with_dismissed).await?;
    Ok(Json(list.iter().map(Announcement::render).collect()))
}

async fn dismiss(
    State(node): State<Api>,
    auth: Scoped<WriteAccounts>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let me = auth.account()?.id;
    if !node.store.dismiss_announcement(me, parse_id(&id)?).await? {
        return Err(ApiError::NotFound);
    }
    Ok(Json(json!({})))
}

/// A reaction is one Unicode emoji (Tidings has no custom emoji): a short run of
/// symbols with no letter, space or control character, and no ASCII but a keycap's base
/// (`#`, `*`, a digit, as in 1️⃣).
fn emoji(name: &str) -> ApiResult<&str> {
    let chars = name.chars().count();
    let ok = (1..=16).contains(&chars)
        && !name.is_ascii()
        && name.chars().all(|c| {
            !c.is_alphabetic()
                && !c.is_whitespace()
                && !c.is_control()
                && (!c.is_ascii() || matches!(c, '#' | '*' | '0'..='9'))
        });
    if ok {
        Ok(name)
    } else {
        Err(ApiError::invalid(
            "Validation failed: Name is not a recognized emoji",
        ))
    }
}

async fn react(
    node: &Api,
    me: crate::domain::AccountId,
    id: &str,
    name: &str,
    on: bool,
) -> ApiResult<Json<Value>> {
    let name = emoji(name)?;
    node.store.react(me, parse_id(id)?, name, on).await?;
    Ok(Json(json!({})))
}

async fn add_reaction(
    State(node): State<Api>,
    auth: Scoped<WriteFavourites>,
    Path((id, name)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    react(&node, auth.account()?.id, &id, &name, true).await
}

async fn remove_reaction(
    State(node): State<Api>,
    auth: Scoped<WriteFavourites>,
    Path((id, name)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    react(&node, auth.account()?.id, &id, &name, false).await
}

#[derive(Deserialize)]
struct AnnouncementForm {
    text: Option<String>,
    starts_at: Option<String>,
    ends_at: Option<String>,
    all_day: Option<Flag>,
}

/// An ISO 8601 time as microseconds; empty is none.
pub(crate) fn time_of(field: &str, v: Option<&str>) -> ApiResult<Option<i64>> {
    match v {
        None | Some("") => Ok(None),
        Some(s) => {
            let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
                .map_err(|_| {
                    ApiError::invalid(format!(
                        "Validation failed: {field} is not an ISO 8601 time"
                    ))
                })?;
            i64::try_from(t.unix_timestamp_nanos() / 1000)
                .map(Some)
                .map_err(|_| {
                    ApiError::invalid(format!("Validation failed: {field} is out of range"))
                })
        }
    }
}

impl AnnouncementForm {
    fn check(self) -> ApiResult<NewAnnouncement> {
        let text = self.text.unwrap_or_default().trim().to_string();
        crate::domain::validate::no_controls("Text", &text).map_err(|e| ApiError::invalid(e.0))?;
        if text.is_empty() || text.chars().count() > MAX_TEXT {
            return Err(ApiError::invalid(format!(
                "Validation failed: Text must be 1 to {MAX_TEXT} characters"
            )));
        }
        let starts_at = time_of("starts_at", self.starts_at.as_deref())?;
        let ends_at = time_of("ends_at", self.ends_at.as_deref())?;
        if let (Some(s), Some(e)) = (starts_at, ends_at)
            && e <= s
        {
            return Err(ApiError::invalid(
                "Validation failed: ends_at must be after starts_at",
            ));
        }
        Ok(NewAnnouncement {
            text,
            starts_at,
            ends_at,
            all_day: self.all_day.is_some_and(|f| f.0),
        })
    }
}

/// An administrator with a token for `admin:write`; anyone else 403.
async fn administrator(auth: &Scoped<AdminWrite>) -> ApiResult<()> {
    if auth.account()?.standing.role.administers() {
        Ok(())
    } else {
        Err(ApiError::Forbidden("This action is not allowed".into()))
    }
}

async fn create(
    State(node): State<Api>,
    auth: Scoped<AdminWrite>,
    Input(f): Input<AnnouncementForm>,
) -> ApiResult<Json<Announcement>> {
    administrator(&auth).await?;
    let a = node.store.announce(&f.check()?, None).await?;
    Ok(Json(Announcement::render(&a)))
}

async fn update(
    State(node): State<Api>,
    auth: Scoped<AdminWrite>,
    Path(id): Path<String>,
    Input(f): Input<AnnouncementForm>,
) -> ApiResult<Json<Announcement>> {
    administrator(&auth).await?;
    let id: i64 = parse_id(&id)?;
    let a = node.store.announce(&f.check()?, Some(id)).await?;
    Ok(Json(Announcement::render(&a)))
}

async fn withdraw(
    State(node): State<Api>,
    auth: Scoped<AdminWrite>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    administrator(&auth).await?;
    if !node.store.unannounce(parse_id(&id)?).await? {
        return Err(ApiError::NotFound);
    }
    Ok(Json(json!({})))
}
