//! Instance information (`/api/v1/instance`, `/api/v2/instance`) and `/health`.

use crate::Node;
use crate::api::Api;
use crate::api::error::ApiResult;
use crate::domain::moderation::Registrations;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

pub fn router() -> Router<Api> {
    Router::new()
        .route("/api/v1/instance", get(v1))
        .route("/api/v2/instance", get(v2))
        .route("/api/v1/instance/peers", get(peers))
        .route("/api/v1/instance/activity", get(activity))
        .route("/health", get(health))
        .route("/health/live", get(|| async { "OK" }))
        .route("/health/ready", get(health))
        .route("/metrics", get(metrics))
}

/// The servers this one knows: none until federation arrives.
async fn peers() -> Json<Value> {
    Json(json!([]))
}

/// The last twelve weeks, this one first, each from Monday 00:00 UTC; numbers as strings,
/// as Mastodon's.
async fn activity(State(node): State<Api>) -> ApiResult<Json<Value>> {
    const WEEKS: i64 = 12;
    let now = time::OffsetDateTime::now_utc();
    let monday =
        now.date() - time::Duration::days(i64::from(now.weekday().number_days_from_monday()));
    let this_week = monday.midnight().assume_utc().unix_timestamp() * 1_000_000;
    let first = this_week - (WEEKS - 1) * 7 * 86_400 * 1_000_000;
    let weeks = node.store.activity(first, WEEKS).await?;
    Ok(Json(Value::Array(
        weeks
            .iter()
            .rev()
            .map(|w| {
                json!({
                    "week": (w.week / 1_000_000).to_string(),
                    "statuses": w.statuses.to_string(),
                    "logins": w.logins.to_string(),
                    "registrations": w.registrations.to_string(),
                })
            })
            .collect(),
    )))
}

/// Mastodon API version we follow, then ours: clients parse the leading version.
pub fn version() -> String {
    format!("4.3.0 (compatible; Tidings {})", env!("CARGO_PKG_VERSION"))
}

fn streaming_url(node: &Node) -> String {
    let base = &node.site.base_url;
    base.replacen("https://", "wss://", 1)
        .replacen("http://", "ws://", 1)
}

fn polls_config() -> Value {
    use crate::api::statuses::{
        POLL_MAX_EXPIRATION, POLL_MAX_OPTION_CHARS, POLL_MAX_OPTIONS, POLL_MIN_EXPIRATION,
    };
    json!({
        "max_options": POLL_MAX_OPTIONS,
        "max_characters_per_option": POLL_MAX_OPTION_CHARS,
        "min_expiration": POLL_MIN_EXPIRATION,
        "max_expiration": POLL_MAX_EXPIRATION,
    })
}

fn statuses_config(node: &Node) -> Value {
    json!({ "max_characters": node.config.max_chars, "max_media_attachments": crate::store::MAX_MEDIA, "characters_reserved_per_url": 23 })
}

async fn v1(State(node): State<Api>) -> ApiResult<Json<Value>> {
    let stats = node.store.stats(crate::domain::now_micros()).await?;
    let mode = crate::moderation::registrations(&node).await?;
    Ok(Json(json!({
        "uri": node.site.domain,
        "title": node.config.title,
        "short_description": "A live microblogging server",
        "description": "A live microblogging server",
        "email": "",
        "version": version(),
        "urls": { "streaming_api": streaming_url(&node) },
        "stats": { "user_count": stats.users, "status_count": stats.statuses, "domain_count": 0 },
        "thumbnail": null,
        "languages": ["en"],
        "registrations": mode != Registrations::Closed,
        "approval_required": mode == Registrations::Approved,
        "invites_enabled": false,
        "configuration": {
            "statuses": statuses_config(&node),
            "polls": polls_config(),
            "accounts": { "max_featured_tags": 0 },
        },
        "contact_account": null,
        "rules": [],
    })))
}

async fn v2(State(node): State<Api>) -> ApiResult<Json<Value>> {
    let stats = node.store.stats(crate::domain::now_micros()).await?;
    let mode = crate::moderation::registrations(&node).await?;
    let access = if node.config.anonymous_streams {
        "public"
    } else {
        "authenticated"
    };
    Ok(Json(json!({
        "domain": node.site.domain,
        "title": node.config.title,
        "version": version(),
        "description": "A live microblogging server",
        "usage": { "users": { "active_month": stats.active_month } },
        "thumbnail": { "url": format!("{}/thumbnail.png", node.site.base_url) },
        "languages": ["en"],
        "configuration": {
            "urls": { "streaming": streaming_url(&node) },
            "accounts": { "max_featured_tags": 0, "max_pinned_statuses": crate::store::MAX_PINS },
            "statuses": statuses_config(&node),
            "polls": polls_config(),
            "media_attachments": {
                "supported_mime_types": crate::media::MIME_TYPES,
                "image_size_limit": crate::media::MAX_BYTES,
                "image_matrix_limit": crate::media::MAX_PIXELS,
                "video_size_limit": 0,
                "video_frame_rate_limit": 0,
                "video_matrix_limit": 0,
                "description_limit": 1500,
            },
            "timelines_access": {
                "live_feeds": { "local": access, "remote": access },
                "hashtag_feeds": { "local": access, "remote": access },
                "trending_link_feeds": { "local": "disabled", "remote": "disabled" },
            },
        },
        "registrations": {
            "enabled": mode != Registrations::Closed,
            "approval_required": mode == Registrations::Approved,
            "message": null,
        },
        "contact": { "email": "", "account": null },
        "rules": [],
        "api_versions": { "mastodon": 2 },
    })))
}

/// Readiness (`/health` and `/health/ready`): 200 while this node can serve — the database
/// answers and it is not shutting down. A bus that is down is reported but does not make
/// the node unready: posting and reading go on (readers are served from the database),
/// and a load balancer taking every node out at once because Redis blinked would be worse.
/// Liveness is `/health/live`: the process answers.
async fn health(State(node): State<Api>) -> impl IntoResponse {
    let db = node.store.ping().await.is_ok();
    let bus = node.bus.is_up();
    let stopping = node.shutdown.is_cancelled();
    let body = json!({
        "status": if stopping { "stopping" } else if !db { "unavailable" } else if bus { "ok" } else { "degraded" },
        "database": if db { "ok" } else { "unreachable" },
        "bus": { "kind": node.bus.name(), "state": if bus { "ok" } else { "down" } },
        "position": node.hub.routed_upto().to_string(),
    });
    let code = if db && !stopping {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(body))
}

/// Prometheus text; behind a bearer token when `TIDINGS_METRICS_TOKEN` is set.
async fn metrics(
    State(node): State<Api>,
    headers: axum::http::HeaderMap,
) -> axum::response::Response {
    if let Some(want) = &node.config.metrics_token {
        let given = headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        let ok = given.is_some_and(|g| {
            use sha2::Digest;
            // Compared as digests, so the time taken says nothing about the token.
            sha2::Sha256::digest(g.as_bytes()) == sha2::Sha256::digest(want.as_bytes())
        });
        if !ok {
            return crate::api::error::ApiError::unauthorized().into_response();
        }
    }
    (
        [(
            axum::http::header::CONTENT_TYPE,
            prometheus_client::encoding::prometheus_text::CONTENT_TYPE,
        )],
        node.metrics.render(&node.hub, node.bus.is_up()),
    )
        .into_response()
}
