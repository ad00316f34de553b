//! HTTP: the Mastodon-compatible REST API, OAuth, and the streaming endpoints.
//!
//! Handlers talk to the `Store`, `Bus` and `Hub` of a [`Node`]; they never hold a pool
//! or write SQL. Every error leaves as a status code and `{"error": "…"}`.

pub mod accounts;
pub mod error;
pub mod extract;
pub mod instance;
pub mod limits;
pub mod oauth;
pub mod statuses;
pub mod streaming;
pub mod throttle;
pub mod timelines;

use crate::Node;
use axum::Router;
use axum::response::IntoResponse;
use error::ApiError;
use tower_http::cors::CorsLayer;
use tower_http::trace::TraceLayer;

pub fn router(node: Node) -> Router {
    Router::new()
        .merge(oauth::router())
        .merge(accounts::router())
        .merge(statuses::router())
        .merge(timelines::router())
        .merge(instance::router())
        .merge(streaming::router())
        .fallback(|| async { ApiError::NotFound.into_response() })
        .method_not_allowed_fallback(|| async {
            (axum::http::StatusCode::METHOD_NOT_ALLOWED, axum::Json(serde_json::json!({"error": "Method not allowed"})))
        })
        // Spans name the path only: the query may carry `access_token`.
        .layer(TraceLayer::new_for_http().make_span_with(|req: &axum::http::Request<_>| {
            tracing::info_span!("http", method = %req.method(), path = %req.uri().path())
        }))
        .layer(CorsLayer::permissive())
        .with_state(node)
}
