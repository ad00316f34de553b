//! Scheduled notices: `GET /api/v1/scheduled_statuses` (paged), one by id, moving one
//! (`PUT` with a new `scheduled_at`) and dropping one. They are created by
//! `POST /api/v1/statuses` with `scheduled_at`, and posted by `crate::scheduler`.

use super::error::{ApiError, ApiResult};
use super::extract::{Input, Query, ReadStatuses, Scoped, WriteStatuses, parse_id};
use super::timelines::{TimelineParams, bounds_of, linked};
use crate::api::Api;
use crate::domain::iso8601;
use crate::store::ScheduledRecord;
use axum::extract::{Path, State};
use axum::http::Uri;
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

pub fn router() -> Router<Api> {
    Router::new()
        .route("/api/v1/scheduled_statuses", get(index))
        .route(
            "/api/v1/scheduled_statuses/{id}",
            get(show).put(update).delete(remove),
        )
}

/// `at` (ISO 8601) as microseconds, at least `TIDINGS_SCHEDULE_MIN_AHEAD_SECS` (five
/// minutes, as on Mastodon) from now; else 422.
pub fn time_ahead(node: &Api, at: &str) -> ApiResult<i64> {
    let ahead = node.config.schedule_min_ahead_secs as i64;
    let t = time::OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339)
        .map_err(|_| {
            ApiError::invalid("Validation failed: scheduled_at is not an ISO 8601 time")
        })?;
    let micros = i64::try_from(t.unix_timestamp_nanos() / 1000)
        .map_err(|_| ApiError::invalid("Validation failed: scheduled_at is out of range"))?;
    if micros < crate::domain::now_micros() + ahead * 1_000_000 {
        return Err(ApiError::invalid(format!(
            "Validation failed: Scheduled at must be at least {ahead} seconds in the future"
        )));
    }
    Ok(micros)
}

/// Mastodon's `ScheduledStatus` entity.
pub fn scheduled_json(s: &ScheduledRecord) -> Value {
    let p = &s.params;
    json!({
        "id": s.id.to_string(),
        "scheduled_at": iso8601(s.scheduled_at),
        "params": {
            "text": p.text,
            "spoiler_text": p.spoiler_text,
            "sensitive": p.sensitive,
            "visibility": p.visibility.as_str(),
            "language": p.language,
            "in_reply_to_id": p.in_reply_to_id.map(|i| i.to_string()),
            "media_ids": null,
            "poll": null,
            "scheduled_at": null,
            "idempotency": null,
            "application_id": null,
            "with_rate_limit": false,
        },
        "media_attachments": [],
    })
}

fn id(s: &str) -> ApiResult<i64> {
    parse_id(s)
}

async fn index(
    State(node): State<Api>,
    auth: Scoped<ReadStatuses>,
    Query(p): Query<TimelineParams>,
    uri: Uri,
) -> ApiResult<Response> {
    let me = auth.account()?.id;
    let list = node
        .store
        .scheduled(me, None, p.cursor_page(20, 40)?)
        .await?;
    let body: Vec<Value> = list.iter().map(scheduled_json).collect();
    let bounds = bounds_of(&list, |s| s.id);
    Ok(linked(&body, &node.site.base_url, &uri, bounds))
}

async fn show(
    State(node): State<Api>,
    auth: Scoped<ReadStatuses>,
    Path(sid): Path<String>,
) -> ApiResult<Json<Value>> {
    let me = auth.account()?.id;
    let found = node
        .store
        .scheduled(
            me,
            Some(id(&sid)?),
            crate::store::CursorPage {
                limit: 1,
                ..Default::default()
            },
        )
        .await?;
    let s = found.first().ok_or(ApiError::NotFound)?;
    Ok(Json(scheduled_json(s)))
}

#[derive(Deserialize)]
struct MoveForm {
    scheduled_at: Option<String>,
}

async fn update(
    State(node): State<Api>,
    auth: Scoped<WriteStatuses>,
    Path(sid): Path<String>,
    Input(f): Input<MoveForm>,
) -> ApiResult<Json<Value>> {
    let me = auth.account()?.id;
    let sid = id(&sid)?;
    let at = time_ahead(&node, f.scheduled_at.as_deref().unwrap_or(""))?;
    if !node.store.reschedule(me, sid, at).await? {
        return Err(ApiError::NotFound);
    }
    let found = node
        .store
        .scheduled(
            me,
            Some(sid),
            crate::store::CursorPage {
                limit: 1,
                ..Default::default()
            },
        )
        .await?;
    let s = found.first().ok_or(ApiError::NotFound)?;
    Ok(Json(scheduled_json(s)))
}

async fn remove(
    State(node): State<Api>,
    auth: Scoped<WriteStatuses>,
    Path(sid): Path<String>,
) -> ApiResult<Json<Value>> {
    let me = auth.account()?.id;
    if !node.store.unschedule(Some(me), id(&sid)?).await? {
        return Err(ApiError::NotFound);
    }
    Ok(Json(json!({})))
}
