//! What clients ask for at start-up and around the edges: preferences, markers, trends,
//! the app behind a token, and the lists of features Tidings does not have yet, which
//! answer as a Mastodon server with the feature switched off would — an empty list — so
//! that a client's start-up does not stop at a 404.

use super::error::{ApiError, ApiResult};
use super::extract::{
    Input, MaybeScoped, Query, Read, ReadAccounts, ReadFollows, ReadStatuses, Scoped, WriteStatuses,
};
use super::form::Id;
use crate::api::Api;
use crate::domain::entities::Status;
use crate::domain::{iso8601, now_micros};
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

pub fn router() -> Router<Api> {
    Router::new()
        .route("/api/v1/preferences", get(preferences))
        .route("/api/v1/markers", get(markers).post(set_markers))
        .route("/api/v1/trends", get(trending_tags))
        .route("/api/v1/trends/tags", get(trending_tags))
        .route("/api/v1/trends/statuses", get(trending_statuses))
        .route("/api/v1/trends/links", get(empty_public))
        .route("/api/v1/apps/verify_credentials", get(app))
        .route("/api/v1/custom_emojis", get(empty_public))
        .route("/api/v1/instance/rules", get(empty_public))
        .route("/api/v1/directory", get(empty_public))
        .route("/api/v1/accounts/{id}/featured_tags", get(empty_accounts))
        .route("/api/v1/featured_tags", get(empty_accounts))
        .route("/api/v1/followed_tags", get(empty_follows))
        .route("/api/v1/domain_blocks", get(empty_follows))
}

fn empty() -> Json<Value> {
    Json(json!([]))
}

async fn empty_public() -> Json<Value> {
    empty()
}
async fn empty_accounts(_auth: MaybeScoped<ReadAccounts>) -> Json<Value> {
    empty()
}
async fn empty_follows(_auth: Scoped<ReadFollows>) -> Json<Value> {
    empty()
}

async fn preferences(_auth: Scoped<ReadAccounts>) -> Json<Value> {
    Json(json!({
        "posting:default:visibility": "public",
        "posting:default:sensitive": false,
        "posting:default:language": null,
        "reading:expand:media": "default",
        "reading:expand:spoilers": false,
    }))
}

/// The timelines a marker may be set for.
const TIMELINES: [&str; 2] = ["home", "notifications"];

#[derive(Deserialize)]
struct MarkerParams {
    #[serde(default, alias = "timeline[]")]
    timeline: Vec<String>,
}

async fn markers(
    State(node): State<Api>,
    auth: Scoped<ReadStatuses>,
    Query(p): Query<MarkerParams>,
) -> ApiResult<Json<Value>> {
    let me = auth.account()?.id;
    markers_json(&node, me, |t| {
        p.timeline.is_empty() || p.timeline.iter().any(|w| w == t)
    })
    .await
}

/// Mastodon's `Marker` entities of `me`, keyed by timeline, for the timelines `wanted`.
async fn markers_json(
    node: &Api,
    me: crate::domain::AccountId,
    wanted: impl Fn(&str) -> bool,
) -> ApiResult<Json<Value>> {
    let mut out = serde_json::Map::new();
    for m in node.store.markers(me).await? {
        if wanted(&m.timeline) {
            out.insert(
                m.timeline.clone(),
                json!({
                    "last_read_id": m.last_read_id.to_string(),
                    "version": m.version,
                    "updated_at": iso8601(m.updated_at),
                }),
            );
        }
    }
    Ok(Json(Value::Object(out)))
}

#[derive(Deserialize)]
struct MarkerIn {
    last_read_id: Option<Id>,
}

/// `home[last_read_id]=…` as a form, `{"home": {"last_read_id": …}}` as JSON.
#[derive(Deserialize)]
struct SetMarkers {
    home: Option<MarkerIn>,
    notifications: Option<MarkerIn>,
    #[serde(rename = "home[last_read_id]")]
    home_form: Option<Id>,
    #[serde(rename = "notifications[last_read_id]")]
    notifications_form: Option<Id>,
}

async fn set_markers(
    State(node): State<Api>,
    auth: Scoped<WriteStatuses>,
    Input(f): Input<SetMarkers>,
) -> ApiResult<Json<Value>> {
    let me = auth.account()?.id;
    let given = [
        (
            TIMELINES[0],
            f.home_form.or(f.home.and_then(|m| m.last_read_id)),
        ),
        (
            TIMELINES[1],
            f.notifications_form
                .or(f.notifications.and_then(|m| m.last_read_id)),
        ),
    ];
    let mut set = Vec::new();
    for (timeline, id) in given {
        let Some(id) = Id::given(id) else { continue };
        let id = id.parse::<i64>().ok().filter(|i| *i > 0).ok_or_else(|| {
            ApiError::invalid(format!(
                "Validation failed: {timeline} last_read_id is not an id"
            ))
        })?;
        set.push((timeline, id));
    }
    if set.is_empty() {
        return Err(ApiError::invalid(
            "Validation failed: give home[last_read_id] or notifications[last_read_id]",
        ));
    }
    for (timeline, id) in &set {
        node.store.set_marker(me, timeline, *id).await?;
    }
    markers_json(&node, me, |t| set.iter().any(|(w, _)| *w == t)).await
}

#[derive(Deserialize)]
struct TrendParams {
    limit: Option<String>,
    offset: Option<String>,
}

fn bounded(v: &Option<String>, name: &str, default: i64, max: i64) -> ApiResult<i64> {
    match v.as_deref() {
        None | Some("") => Ok(default),
        Some(s) => s
            .parse::<i64>()
            .ok()
            .filter(|n| *n >= 0)
            .map(|n| n.min(max))
            .ok_or_else(|| ApiError::bad_request(format!("Invalid {name}: {s:?}"))),
    }
}

/// Tags used by the most accounts over the last week, with their use per day (Mastodon's
/// `Tag` with `history`). At most 20, as on Mastodon.
async fn trending_tags(
    State(node): State<Api>,
    Query(p): Query<TrendParams>,
) -> ApiResult<Json<Value>> {
    let limit = bounded(&p.limit, "limit", 10, 20)?.max(1);
    let offset = bounded(&p.offset, "offset", 0, 20)?;
    let trends = node.store.trending_tags(20, now_micros()).await?;
    Ok(Json(Value::Array(
        trends
            .iter()
            .skip(offset as usize)
            .take(limit as usize)
            .map(|t| {
                json!({
                    "name": t.tag,
                    "url": format!("{}/tags/{}", node.site.base_url, t.tag),
                    "history": t.days.iter().map(|(day, uses, accounts)| json!({
                        "day": day.to_string(),
                        "uses": uses.to_string(),
                        "accounts": accounts.to_string(),
                    })).collect::<Vec<_>>(),
                    "following": false,
                })
            })
            .collect(),
    )))
}

async fn trending_statuses(
    State(node): State<Api>,
    Query(p): Query<TrendParams>,
) -> ApiResult<Json<Vec<Status>>> {
    let limit = bounded(&p.limit, "limit", 20, 40)?.max(1);
    let offset = bounded(&p.offset, "offset", 0, 1000)?;
    let list = node
        .store
        .trending_statuses(limit, offset, now_micros())
        .await?;
    Ok(Json(
        list.iter().map(|s| Status::render(s, &node.site)).collect(),
    ))
}

/// The app a token was issued to (a user's token or an app-only one).
async fn app(State(node): State<Api>, auth: MaybeScoped<Read>) -> ApiResult<Json<Value>> {
    let token = auth.0.0.as_ref().ok_or_else(ApiError::unauthorized)?;
    let app = match token.0.app_id {
        Some(id) => node.store.app(id).await?,
        None => None,
    }
    .ok_or_else(|| ApiError::Unauthorized("This token belongs to no app".into()))?;
    Ok(Json(json!({
        "id": app.id.to_string(),
        "name": app.name,
        "website": app.website,
        "scopes": app.scopes.split_whitespace().collect::<Vec<_>>(),
        "redirect_uris": app.redirect_uris.split_whitespace().collect::<Vec<_>>(),
        "redirect_uri": app.redirect_uris,
    })))
}
