//! Notifications: `GET /api/v1/notifications` (paged, with `types[]` and
//! `exclude_types[]`), one by id, dismiss and clear, and v2's policy (Tidings filters
//! nobody's notifications, so the policy is Mastodon's default: accept all).
//!
//! They arrive live as `notification` events on the `user` and `user:notification`
//! streams (see `crate::domain::announce`).

use super::error::{ApiError, ApiResult};
use super::extract::{Query, ReadNotifications, Scoped, WriteNotifications, parse_id};
use super::timelines::{bounds_of, cursor_param as cursor, linked};
use crate::api::Api;
use crate::domain::AccountId;
use crate::domain::entities::{Notification, NotificationType};
use crate::store::NotificationQuery;
use axum::extract::{Path, State};
use axum::http::Uri;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

pub fn router() -> Router<Api> {
    Router::new()
        .route("/api/v1/notifications", get(list))
        .route("/api/v1/notifications/clear", post(clear))
        .route("/api/v1/notifications/{id}", get(one))
        .route("/api/v1/notifications/{id}/dismiss", post(dismiss))
        .route("/api/v2/notifications/policy", get(policy))
}

#[derive(Deserialize)]
struct ListParams {
    max_id: Option<String>,
    since_id: Option<String>,
    min_id: Option<String>,
    limit: Option<String>,
    #[serde(default, alias = "types[]")]
    types: Vec<String>,
    #[serde(default, alias = "exclude_types[]")]
    exclude_types: Vec<String>,
    account_id: Option<String>,
}

/// Mastodon's default page is 40 notifications, at most 80.
const DEFAULT_LIMIT: i64 = 40;
const MAX_LIMIT: i64 = 80;

/// Types a client names that Tidings never makes (`admin.sign_up`, `quote`, …)
/// are valid names that match nothing; a name no Mastodon version knows is 400.
fn types(names: &[String]) -> ApiResult<(Vec<NotificationType>, bool)> {
    const KNOWN_ELSEWHERE: [&str; 4] = [
        "severed_relationships",
        "moderation_warning",
        "quote",
        "quoted_update",
    ];
    let mut out = Vec::new();
    let mut any_unmade = false;
    for n in names {
        match NotificationType::parse(n) {
            Some(t) => out.push(t),
            None if KNOWN_ELSEWHERE.contains(&n.as_str()) => any_unmade = true,
            None => {
                return Err(ApiError::bad_request(format!(
                    "Invalid notification type: {:?}",
                    n.chars().take(40).collect::<String>()
                )));
            }
        }
    }
    Ok((out, any_unmade))
}

async fn list(
    State(node): State<Api>,
    auth: Scoped<ReadNotifications>,
    Query(p): Query<ListParams>,
    uri: Uri,
) -> ApiResult<Response> {
    let me = auth.account()?.id;
    let limit = match p.limit.as_deref() {
        None | Some("") => DEFAULT_LIMIT,
        Some(s) => s
            .parse::<i64>()
            .map_err(|_| ApiError::bad_request(format!("Invalid limit: {s:?}")))?,
    }
    .clamp(1, MAX_LIMIT);
    let (wanted, asked_for_unmade) = types(&p.types)?;
    let (exclude, _) = types(&p.exclude_types)?;
    let from = match p.account_id.as_deref() {
        None | Some("") => None,
        Some(s) => Some(AccountId::parse(s).ok_or(ApiError::NotFound)?),
    };
    // Only types Tidings never makes were asked for: nothing can match.
    let list = if wanted.is_empty() && asked_for_unmade {
        Vec::new()
    } else {
        node.store
            .notifications(
                me,
                &NotificationQuery {
                    types: wanted,
                    exclude,
                    from,
                    max_id: cursor("max_id", &p.max_id)?,
                    since_id: cursor("since_id", &p.since_id)?,
                    min_id: cursor("min_id", &p.min_id)?,
                    limit,
                },
            )
            .await?
    };
    // Her filters of the `notifications` context: `hide` drops a notification about a
    // notice they match, `warn` marks the notice.
    let filters = node.store.filters(me).await?;
    let now = crate::domain::now_micros();
    let mut rendered: Vec<Notification> = Vec::with_capacity(list.len());
    for n in &list {
        let mut r = Notification::render(n, &node.site);
        if let (Some(s), Some(out), false) = (&n.status, r.status.as_mut(), filters.is_empty()) {
            let (results, hide) = crate::domain::filters::apply(&filters, s, "notifications", now);
            if hide {
                continue;
            }
            if !results.is_empty() {
                out.filtered = Some(results);
            }
        }
        rendered.push(r);
    }
    // Paged by what was read, so a hidden notification does not shift the cursors.
    let bounds = bounds_of(&list, |n| n.id);
    Ok(linked(&rendered, &node.site.base_url, &uri, bounds))
}

async fn one(
    State(node): State<Api>,
    auth: Scoped<ReadNotifications>,
    Path(id): Path<String>,
) -> ApiResult<Json<Notification>> {
    let me = auth.account()?.id;
    let n = node
        .store
        .notification(me, parse_id(&id)?)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(Json(Notification::render(&n, &node.site)))
}

async fn dismiss(
    State(node): State<Api>,
    auth: Scoped<WriteNotifications>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let me = auth.account()?.id;
    let gone = node
        .store
        .dismiss_notifications(me, Some(parse_id(&id)?))
        .await?;
    if gone == 0 {
        return Err(ApiError::NotFound);
    }
    Ok(Json(json!({})))
}

async fn clear(
    State(node): State<Api>,
    auth: Scoped<WriteNotifications>,
) -> ApiResult<Json<Value>> {
    let me = auth.account()?.id;
    node.store.dismiss_notifications(me, None).await?;
    Ok(Json(json!({})))
}

/// Mastodon 4.3's notification policy, at its defaults: nothing is filtered.
async fn policy(_auth: Scoped<ReadNotifications>) -> Json<Value> {
    Json(json!({
        "for_not_following": "accept",
        "for_not_followers": "accept",
        "for_new_accounts": "accept",
        "for_private_mentions": "accept",
        "for_limited_accounts": "accept",
        "summary": { "pending_requests_count": 0, "pending_notifications_count": 0 }
    }))
}
