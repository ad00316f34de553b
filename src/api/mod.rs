//! HTTP: the Mastodon-compatible REST API, OAuth, and the streaming endpoints.
//!
//! Handlers talk to the `Store`, `Bus` and `Hub` of a [`Node`]; they never hold a pool
//! or write SQL. Every error leaves as a status code and `{"error": "…"}`.

pub mod accounts;
pub mod admin;
pub mod announcements;
pub mod conversations;
pub mod error;
pub mod extract;
pub mod extras;
pub mod filters;
pub mod follow_requests;
pub mod form;
pub mod instance;
pub mod limits;
pub mod links;
pub mod lists;
pub mod live;
pub mod media;
pub mod notifications;
pub mod oauth;
pub mod openapi;
pub mod polls;
pub mod profile;
pub mod scheduled;
pub mod search;
pub mod social;
pub mod statuses;
pub mod streaming;
pub mod throttle;
pub mod timelines;

use crate::Node;
use axum::Router;
use axum::response::IntoResponse;
use error::ApiError;
use std::sync::Arc;
use tower_http::cors::CorsLayer;
use tower_http::trace::TraceLayer;

/// What the HTTP layer holds: the node (core services), and the policy that belongs to
/// HTTP alone — caps per address and account on streams, rate limits on sign-in, sign-up
/// and app registration. Handlers see the node through it (`Deref`), so they read
/// `node.store` as before; the node itself knows nothing of HTTP policy.
#[derive(Clone)]
pub struct Api(Arc<ApiParts>);

pub struct ApiParts {
    node: Node,
    /// Where uploaded media is kept (see `crate::media::storage_for`).
    media: Arc<dyn crate::media::MediaStorage>,
    limits: Arc<limits::Limits>,
    throttles: throttle::Throttles,
}

impl Api {
    pub fn new(node: Node) -> Self {
        Api(Arc::new(ApiParts {
            media: crate::media::storage_for(&node.config, node.store.clone()),
            limits: Arc::new(limits::Limits::new(&node.config)),
            throttles: throttle::Throttles::new(&node.config, node.rate.clone()),
            node,
        }))
    }

    pub fn node(&self) -> &Node {
        &self.0.node
    }

    /// Caps on concurrent streams per address and per account.
    pub fn limits(&self) -> &Arc<limits::Limits> {
        &self.0.limits
    }

    pub fn media_storage(&self) -> &Arc<dyn crate::media::MediaStorage> {
        &self.0.media
    }

    pub fn throttles(&self) -> &throttle::Throttles {
        &self.0.throttles
    }
}

impl std::ops::Deref for Api {
    type Target = Node;
    fn deref(&self) -> &Node {
        &self.0.node
    }
}

pub fn router(node: Node) -> Router {
    let api = Api::new(node);
    let framer: Option<Arc<str>> = api.wiki.as_ref().map(|w| Arc::from(w.origin()));
    let router = Router::new()
        .route("/api/openapi.json", axum::routing::get(openapi::serve))
        .merge(oauth::router())
        .merge(accounts::router())
        .merge(statuses::router())
        .merge(notifications::router())
        .merge(social::router())
        .merge(search::router())
        .merge(extras::router())
        .merge(links::router())
        .merge(crate::federation::router())
        .merge(crate::web::router())
        .merge(profile::router())
        .merge(lists::router())
        .merge(live::router())
        .merge(announcements::router())
        .merge(conversations::router())
        .merge(scheduled::router())
        .merge(polls::router())
        .merge(media::router())
        .merge(filters::router())
        .merge(follow_requests::router())
        .merge(timelines::router())
        .merge(instance::router())
        .merge(admin::router())
        .merge(streaming::router())
        .fallback(|| async { ApiError::NotFound.into_response() })
        .method_not_allowed_fallback(|| async {
            (
                axum::http::StatusCode::METHOD_NOT_ALLOWED,
                axum::Json(serde_json::json!({"error": "Method not allowed"})),
            )
        });
    // In wiki mode, the wiki may frame our pages.
    let router = match framer {
        Some(origin) => router.layer(axum::middleware::from_fn_with_state(
            origin,
            crate::web::wiki::wiki_may_frame,
        )),
        None => router,
    };
    router
        // An answer to a request that carried a token may hold what only its holder may
        // see (private notices, relationships): no shared cache may keep it.
        .layer(axum::middleware::from_fn(private_to_token_holders))
        .layer(axum::middleware::from_fn_with_state(
            api.clone(),
            rate_limited,
        ))
        // Spans name the path only: the query may carry `access_token`. At debug level
        // (`RUST_LOG=info,tidings::api=debug` turns them on): at info, formatting each
        // request's span was ~16 % of a do-nothing request's instructions (BENCHMARKS.md,
        // issue 18), and the node logs its warnings without them.
        .layer(TraceLayer::new_for_http().make_span_with(|req: &axum::http::Request<_>| {
            tracing::debug_span!("http", method = %req.method(), path = %req.uri().path())
        }))
        .layer(CorsLayer::permissive())
        .layer(axum::middleware::from_fn_with_state(
            api.metrics.clone(),
            |axum::extract::State(metrics): axum::extract::State<Arc<crate::metrics::Metrics>>,
             req: axum::extract::Request,
             next: axum::middleware::Next| async move {
                let started = std::time::Instant::now();
                let res = next.run(req).await;
                metrics.http_request.observe(started.elapsed().as_secs_f64());
                res
            },
        ))
        .with_state(api)
}

/// The REST API's limit per token (or, without one, per address), counted for every
/// request under `/api/` but the streams (which have their own): past it, 429 and the
/// handler never runs; within it, the answer carries `X-RateLimit-*`.
async fn rate_limited(
    axum::extract::State(api): axum::extract::State<Api>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let path = req.uri().path();
    if !path.starts_with("/api/") || path.starts_with("/api/v1/streaming") {
        return next.run(req).await;
    }
    let (mut parts, body) = req.into_parts();
    let t = api.throttles();
    // A token counts as itself only when it is one: a made-up token is counted with its
    // address, so inventing tokens buys no fresh budget. The lookup is the one the
    // handler would make; it is handed on (`LookedUp`).
    let token = extract::token_from_parts(&parts);
    let known = match &token {
        Some(secret) => match api.store.token(&extract::hash_token(secret)).await {
            Ok(found) => {
                let known = found.is_some();
                parts.extensions.insert(extract::LookedUp(found));
                known
            }
            Err(e) => return ApiError::from(e).into_response(),
        },
        None => false,
    };
    let verdict = match (&token, known) {
        (Some(secret), true) => t.check(&t.api_per_token, throttle::token_key(secret)).await,
        _ => match parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        {
            Some(peer) => t.check(&t.api_per_ip, peer.0.ip()).await,
            None => Ok(None),
        },
    };
    match verdict {
        Err(e) => e.into_response(),
        Ok(v) => {
            let mut res = next
                .run(axum::extract::Request::from_parts(parts, body))
                .await;
            if let Some(v) = v
                && !res.headers().contains_key("x-ratelimit-limit")
            {
                throttle::set_headers(res.headers_mut(), &v);
            }
            res
        }
    }
}

/// An answer to a request that carried a token may hold what only its holder may see
/// (private notices, relationships): no shared cache may keep it.
async fn private_to_token_holders(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let (parts, body) = req.into_parts();
    let had_token = extract::token_from_parts(&parts).is_some();
    let mut res = next
        .run(axum::extract::Request::from_parts(parts, body))
        .await;
    if had_token {
        res.headers_mut()
            .entry(axum::http::header::CACHE_CONTROL)
            .or_insert(axum::http::HeaderValue::from_static("private"));
    }
    res
}
