//! The OpenAPI 3.1 description of the HTTP API, at `GET /api/openapi.json`: the
//! Mastodon-compatible REST API, Tidings' extensions (live events), the streaming
//! endpoints, the pages, feeds and federation endpoints.
//!
//! It is made from the code, so that it cannot drift:
//! - the paths, methods and security from [`routes::ROUTES`], the table of every route with
//!   the scope it needs; `tests/scopes.rs` checks, against a running node, that each route
//!   demands exactly that scope and that the router serves exactly the routes listed;
//! - the entity schemas from the Rust types the API serialises (`Status`, `Account`,
//!   `LiveEvent`, …), derived with `schemars` (JSON Schema 2020-12, the dialect of
//!   OpenAPI 3.1), so that a field added to an entity is in the document.
//!
//! CI validates the document with `openapi-spec-validator` and checks real answers of a
//! node against the schemas it names (`tests/openapi_stories.rs`). What the table cannot
//! say — every query parameter of every route — is left to the summaries and README; the
//! paging parameters of paged lists and every path parameter are described. The streaming
//! protocol (events, positions, resume, reset, close codes) is `docs/streaming.md`, which
//! the document names.

mod routes;

pub use routes::ROUTES;

use crate::api::Api;
use crate::domain::Site;
use axum::extract::State;
use schemars::generate::{Contract, SchemaSettings};
use serde_json::{Map, Value, json};

/// Who may call a route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Needs {
    /// Anyone; no scope (a token, if sent, is not looked at for a scope).
    Nobody,
    /// A token with this scope (401 without one, 403 with a token that lacks it).
    Token(&'static str),
    /// Anyone; but a token, if sent, must carry this scope.
    IfToken(&'static str),
}

/// What a route answers with when it succeeds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    /// One entity (a schema name of [`schemas`]).
    One(&'static str),
    /// A list of entities, paged with `max_id`, `since_id`, `min_id`, `limit` and `Link`.
    Many(&'static str),
    /// JSON whose shape the summary and README describe.
    Json,
    /// An HTML page.
    Html,
    /// A page to a browser, JSON to anything else.
    Page,
    /// ActivityPub JSON (`application/activity+json`), or a page to a browser.
    Activity,
    /// Atom or RSS.
    Feed,
    /// A file.
    Binary,
    Text,
    /// `303 See Other` (forms and sign-in steps).
    Redirect,
    /// `202 Accepted` (an inbox).
    Accepted,
    /// `101 Switching Protocols`.
    WebSocket,
    /// `text/event-stream`.
    Sse,
}

#[derive(Clone, Copy, Debug)]
pub struct Route {
    pub method: &'static str,
    pub path: &'static str,
    pub needs: Needs,
    pub summary: &'static str,
    pub answer: Answer,
}

pub const fn route(
    method: &'static str,
    path: &'static str,
    needs: Needs,
    summary: &'static str,
    answer: Answer,
) -> Route {
    Route {
        method,
        path,
        needs,
        summary,
        answer,
    }
}

/// The streams `GET /api/v1/streaming/{*stream}` serves, as the document lists them.
const SSE_STREAMS: [&str; 10] = [
    "public",
    "public/local",
    "public/remote",
    "hashtag",
    "hashtag/local",
    "user",
    "user/notification",
    "list",
    "direct",
    "event",
];

/// Every scope a token may carry, for the OAuth 2.0 security scheme.
const SCOPES: [(&str, &str); 12] = [
    ("read", "Read everything of the account's"),
    ("write", "Change everything of the account's"),
    ("follow", "Follows, blocks and mutes (legacy)"),
    ("push", "Web push (accepted, unused)"),
    ("profile", "Read the signed-in account only"),
    ("admin:read", "Read moderation data (staff)"),
    ("admin:write", "Moderate (staff)"),
    ("read:statuses", "Timelines, notices, streams"),
    ("write:statuses", "Post, edit, delete, boost; live events"),
    ("read:accounts", "Accounts"),
    ("write:accounts", "The account's profile, pins"),
    ("read:notifications", "Notifications"),
];

/// The entity schemas, derived from the types the API serialises, with `Error`.
fn schemas() -> Map<String, Value> {
    use crate::domain::entities as e;
    let mut generator = SchemaSettings::draft2020_12()
        .with(|s| {
            s.definitions_path = "/components/schemas".into();
            s.contract = Contract::Serialize;
            s.meta_schema = None;
        })
        .into_generator();
    generator.subschema_for::<e::Status>();
    generator.subschema_for::<e::Account>();
    generator.subschema_for::<e::StatusEdit>();
    generator.subschema_for::<e::Notification>();
    generator.subschema_for::<e::Conversation>();
    generator.subschema_for::<e::Announcement>();
    generator.subschema_for::<e::Context>();
    generator.subschema_for::<e::Poll>();
    generator.subschema_for::<e::MediaAttachment>();
    generator.subschema_for::<crate::domain::filters::Filter>();
    generator.subschema_for::<crate::domain::filters::FilterKeyword>();
    generator.subschema_for::<crate::domain::filters::FilterStatus>();
    generator.subschema_for::<crate::domain::live::LiveEvent>();
    let mut all = generator.take_definitions(true);
    all.insert(
        "Error".into(),
        json!({
            "type": "object",
            "properties": {"error": {"type": "string"}},
            "required": ["error"],
        }),
    );
    all
}

fn operation_id(method: &str, path: &str) -> String {
    let mut id = method.to_ascii_lowercase();
    for part in path.split('/').filter(|p| !p.is_empty()) {
        id.push('_');
        id.extend(
            part.chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }),
        );
    }
    if path == "/" {
        id.push_str("_root");
    }
    id
}

/// What part of the API a path belongs to, for the document's tags.
fn tag_of(path: &str) -> &'static str {
    if path.starts_with("/api/v1/tidings/") {
        "Live events"
    } else if path.starts_with("/api/v1/streaming") {
        "Streaming"
    } else if path.starts_with("/api/v1/admin") || path.starts_with("/api/v2/admin") {
        "Administration"
    } else if path.starts_with("/api/") || path.starts_with("/oauth") {
        "Mastodon API"
    } else if path.starts_with("/users/")
        || path.starts_with("/inbox")
        || path.starts_with("/.well-known")
        || path.starts_with("/nodeinfo")
    {
        "Federation"
    } else if path.ends_with(".atom") || path.ends_with(".rss") {
        "Feeds"
    } else if path.starts_with("/health") || path == "/metrics" {
        "Operations"
    } else {
        "Pages"
    }
}

fn content(media: &[&str], schema: Value) -> Value {
    let mut m = Map::new();
    for t in media {
        m.insert((*t).into(), json!({"schema": schema.clone()}));
    }
    Value::Object(m)
}

fn answer(a: Answer) -> (String, Value) {
    let ok = |description: &str, body: Value| {
        let mut r = json!({"description": description});
        if !body.is_null() {
            r["content"] = body;
        }
        r
    };
    let entity = |name: &str| json!({"$ref": format!("#/components/schemas/{name}")});
    match a {
        Answer::One(name) => (
            "200".into(),
            ok("OK", content(&["application/json"], entity(name))),
        ),
        Answer::Many(name) => {
            let mut r = ok(
                "A page, newest first",
                content(
                    &["application/json"],
                    json!({"type": "array", "items": entity(name)}),
                ),
            );
            r["headers"] = json!({
                "Link": {
                    "description": "`next` (older) and `prev` (newer) pages, the query kept",
                    "schema": {"type": "string"},
                }
            });
            ("200".into(), r)
        }
        Answer::Json => (
            "200".into(),
            ok("OK", content(&["application/json"], json!({}))),
        ),
        Answer::Html => (
            "200".into(),
            ok("A page", content(&["text/html"], json!({"type": "string"}))),
        ),
        Answer::Page => (
            "200".into(),
            ok(
                "A page to a browser (Accept: text/html), JSON otherwise",
                content(&["text/html", "application/json"], json!({})),
            ),
        ),
        Answer::Activity => (
            "200".into(),
            ok(
                "ActivityPub JSON, or a page to a browser",
                content(&["application/activity+json", "text/html"], json!({})),
            ),
        ),
        Answer::Feed => (
            "200".into(),
            ok(
                "The feed (ETag and Last-Modified; 304 to a matching If-None-Match)",
                content(
                    &["application/atom+xml", "application/rss+xml"],
                    json!({"type": "string"}),
                ),
            ),
        ),
        Answer::Binary => (
            "200".into(),
            ok(
                "The file",
                content(
                    &["application/octet-stream"],
                    json!({"type": "string", "contentMediaType": "application/octet-stream"}),
                ),
            ),
        ),
        Answer::Text => (
            "200".into(),
            ok("OK", content(&["text/plain"], json!({"type": "string"}))),
        ),
        Answer::Redirect => ("303".into(), ok("On to the next page", Value::Null)),
        Answer::Accepted => ("202".into(), ok("Taken; applied in order", Value::Null)),
        Answer::WebSocket => (
            "101".into(),
            ok(
                "A WebSocket: subscribe with {\"type\":\"subscribe\",\"stream\":…}; frames \
                 {\"stream\",\"event\",\"payload\",\"id\"} (see docs/streaming.md)",
                Value::Null,
            ),
        ),
        Answer::Sse => (
            "200".into(),
            ok(
                "Server-Sent Events: `event:`, `data:`, `id: <position>`; resume with Last-Event-ID",
                content(&["text/event-stream"], json!({"type": "string"})),
            ),
        ),
    }
}

fn error(description: &str) -> Value {
    json!({
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    })
}

fn security(needs: Needs) -> Value {
    match needs {
        Needs::Nobody => json!([]),
        Needs::Token(s) => json!([{"OAuth2": [s]}]),
        // No token at all, or one with the scope.
        Needs::IfToken(s) => json!([{}, {"OAuth2": [s]}]),
    }
}

fn operation(r: &Route, path: &str) -> Value {
    let mut op = json!({
        "operationId": operation_id(r.method, path),
        "summary": r.summary,
        "tags": [tag_of(path)],
        "security": security(r.needs),
    });
    let mut params = Vec::new();
    for part in path.split('/') {
        if let Some(name) = part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
            params.push(json!({
                "name": name, "in": "path", "required": true, "schema": {"type": "string"},
            }));
        } else if let Some(name) = part.strip_prefix("@{").and_then(|p| p.strip_suffix('}')) {
            params.push(json!({
                "name": name, "in": "path", "required": true, "schema": {"type": "string"},
            }));
        }
    }
    if matches!(r.answer, Answer::Many(_)) {
        for (name, what) in [
            ("max_id", "Older than this id"),
            ("since_id", "Newer than this id"),
            ("min_id", "Just above this id, oldest first"),
            ("limit", "How many (default 20, at most 40)"),
        ] {
            params.push(json!({
                "name": name, "in": "query", "required": false, "description": what,
                "schema": {"type": "string"},
            }));
        }
    }
    if r.answer == Answer::Sse {
        for (name, what) in [
            ("tag", "The hashtag of a hashtag stream"),
            ("list", "The list of a list stream"),
            ("event", "The slug of a live event's stream"),
            (
                "last_event_id",
                "Resume after this position (or the Last-Event-ID header)",
            ),
        ] {
            params.push(json!({
                "name": name, "in": "query", "required": false, "description": what,
                "schema": {"type": "string"},
            }));
        }
    }
    if !params.is_empty() {
        op["parameters"] = Value::Array(params);
    }
    if matches!(r.method, "POST" | "PUT" | "PATCH") {
        op["requestBody"] = json!({
            "required": false,
            "description": "The fields the summary names, as JSON, a form or multipart",
            "content": content(
                &["application/json", "application/x-www-form-urlencoded", "multipart/form-data"],
                json!({"type": "object"}),
            ),
        });
    }
    let (code, ok) = answer(r.answer);
    let mut responses = Map::new();
    responses.insert(code, ok);
    if r.path.starts_with("/api/") || r.path.starts_with("/oauth") {
        responses.insert("400".into(), error("A malformed request"));
        if !matches!(r.needs, Needs::Nobody) {
            responses.insert("401".into(), error("No token, or one that is not valid"));
            responses.insert(
                "403".into(),
                error("The token lacks the scope, or the account may not"),
            );
        }
        if path.contains('{') {
            responses.insert("404".into(), error("Not found"));
        }
        if matches!(r.method, "POST" | "PUT" | "PATCH" | "DELETE") {
            responses.insert("422".into(), error("Invalid input; nothing was changed"));
        }
        responses.insert("429".into(), error("Rate limited (Retry-After)"));
    }
    op["responses"] = Value::Object(responses);
    op
}

/// The document, for this node's address.
pub fn document(site: &Site) -> Value {
    let mut paths: Map<String, Value> = Map::new();
    for r in ROUTES {
        let expanded: Vec<String> = if r.path.contains("{*stream}") {
            SSE_STREAMS
                .iter()
                .map(|s| r.path.replace("{*stream}", s))
                .collect()
        } else {
            vec![r.path.to_string()]
        };
        for path in expanded {
            let item = paths.entry(path.clone()).or_insert_with(|| json!({}));
            item[r.method.to_ascii_lowercase()] = operation(r, &path);
        }
    }
    let scopes: Map<String, Value> = SCOPES
        .iter()
        .map(|(s, d)| ((*s).to_string(), Value::String((*d).into())))
        .chain(ROUTES.iter().filter_map(|r| match r.needs {
            Needs::Token(s) | Needs::IfToken(s) => {
                Some((s.to_string(), Value::String(format!("Scope {s}"))))
            }
            Needs::Nobody => None,
        }))
        .fold(Map::new(), |mut m, (k, v)| {
            m.entry(k).or_insert(v);
            m
        });
    let base = &site.base_url;
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Tidings",
            "version": env!("CARGO_PKG_VERSION"),
            "summary": "A live microblogging server: the Mastodon client API, streaming with positions and resume, live events",
            "description": "Mastodon-compatible REST API (ids are strings, errors are {\"error\": \"…\"}) with Tidings' extensions. The streaming protocol — events, positions, resume, reset, close codes — is described in docs/streaming.md of the source.",
            "license": {"name": "AGPL-3.0-or-later", "identifier": "AGPL-3.0-or-later"},
        },
        "servers": [{"url": base}],
        "tags": [
            {"name": "Mastodon API"}, {"name": "Live events"}, {"name": "Streaming"},
            {"name": "Administration"}, {"name": "Federation"}, {"name": "Feeds"},
            {"name": "Pages"}, {"name": "Operations"},
        ],
        "paths": paths,
        "components": {
            "schemas": schemas(),
            "securitySchemes": {
                "OAuth2": {
                    "type": "oauth2",
                    "description": "Bearer tokens (Authorization header, or access_token for streams)",
                    "flows": {
                        "authorizationCode": {
                            "authorizationUrl": format!("{base}/oauth/authorize"),
                            "tokenUrl": format!("{base}/oauth/token"),
                            "scopes": scopes.clone(),
                        },
                        "password": {
                            "tokenUrl": format!("{base}/oauth/token"),
                            "scopes": scopes.clone(),
                        },
                        "clientCredentials": {
                            "tokenUrl": format!("{base}/oauth/token"),
                            "scopes": scopes,
                        },
                    },
                },
            },
        },
    })
}

/// `GET /api/openapi.json`: made once per node address (the document never changes while
/// a node runs) and served from memory.
pub async fn serve(State(node): State<Api>) -> axum::response::Response {
    use axum::response::IntoResponse;
    static MADE: std::sync::LazyLock<dashmap::DashMap<String, bytes::Bytes>> =
        std::sync::LazyLock::new(dashmap::DashMap::new);
    let body = MADE
        .entry(node.site.base_url.clone())
        .or_insert_with(|| {
            bytes::Bytes::from(serde_json::to_vec(&document(&node.site)).unwrap_or_default())
        })
        .clone();
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response()
}
