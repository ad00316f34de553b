//! Instance information (`/api/v1/instance`, `/api/v2/instance`) and `/health`.

use crate::Node;
use crate::config::Registrations;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

pub fn router() -> Router<Node> {
    Router::new()
        .route("/api/v1/instance", get(v1))
        .route("/api/v2/instance", get(v2))
        .route("/health", get(health))
        .route("/metrics", get(metrics))
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

fn statuses_config(node: &Node) -> Value {
    json!({ "max_characters": node.config.max_chars, "max_media_attachments": 0, "characters_reserved_per_url": 23 })
}

async fn v1(State(node): State<Node>) -> Json<Value> {
    Json(json!({
        "uri": node.site.domain,
        "title": node.config.title,
        "short_description": "A live microblogging server",
        "description": "A live microblogging server",
        "email": "",
        "version": version(),
        "urls": { "streaming_api": streaming_url(&node) },
        "stats": { "user_count": 0, "status_count": 0, "domain_count": 0 },
        "thumbnail": null,
        "languages": ["en"],
        "registrations": node.config.registrations == Registrations::Open,
        "approval_required": false,
        "invites_enabled": false,
        "configuration": {
            "statuses": statuses_config(&node),
            "accounts": { "max_featured_tags": 0 },
        },
        "contact_account": null,
        "rules": [],
    }))
}

async fn v2(State(node): State<Node>) -> Json<Value> {
    let access = if node.config.anonymous_streams {
        "public"
    } else {
        "authenticated"
    };
    Json(json!({
        "domain": node.site.domain,
        "title": node.config.title,
        "version": version(),
        "description": "A live microblogging server",
        "usage": { "users": { "active_month": 0 } },
        "thumbnail": { "url": format!("{}/thumbnail.png", node.site.base_url) },
        "languages": ["en"],
        "configuration": {
            "urls": { "streaming": streaming_url(&node) },
            "accounts": { "max_featured_tags": 0, "max_pinned_statuses": 0 },
            "statuses": statuses_config(&node),
            "media_attachments": { "supported_mime_types": [] },
            "timelines_access": {
                "live_feeds": { "local": access, "remote": access },
                "hashtag_feeds": { "local": access, "remote": access },
                "trending_link_feeds": { "local": "disabled", "remote": "disabled" },
            },
        },
        "registrations": { "enabled": node.config.registrations == Registrations::Open, "approval_required": false, "message": null },
        "contact": { "email": "", "account": null },
        "rules": [],
        "api_versions": { "mastodon": 2 },
    }))
}

async fn health(State(node): State<Node>) -> impl IntoResponse {
    let db = node.store.ping().await.is_ok();
    let bus = node.bus.is_up();
    let body = json!({
        "status": if db && bus { "ok" } else { "degraded" },
        "database": if db { "ok" } else { "unreachable" },
        "bus": { "kind": node.bus.name(), "state": if bus { "ok" } else { "down" } },
        "position": node.hub.stats.last_position.load(std::sync::atomic::Ordering::Relaxed).to_string(),
    });
    let code = if db && bus {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(body))
}

async fn metrics(State(node): State<Node>) -> impl IntoResponse {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        node.metrics.render(&node.hub),
    )
}
