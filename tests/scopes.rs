//! Every route with the scope it needs. A token without that scope is refused (403), an
//! anonymous caller of a route that needs a token is 401, and a token with exactly that
//! scope gets past the check. A route added without an entry here fails
//! `every_route_is_listed`.

mod common;

use common::{Backend, SseReader, spawn, ws_connect, ws_next, ws_send};
use reqwest::Method;
use serde_json::{Value, json};

on_both_backends!(
    each_route_demands_its_scope,
    the_home_stream_needs_read_statuses
);

// The table of routes is the code's own (it makes the OpenAPI document): what this file
// checks is what the document says.
use tidings::api::openapi::{Needs, ROUTES};

/// Scopes that cover nothing any route needs, for the "wrong scope" token.
const UNRELATED: &str = "profile push";

/// The router's routes, read from the source: every `.route("path", get(…).post(…))` in
/// `src/api`, `src/web` and `src/federation`, as (method, path) pairs.
fn served_routes() -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    let src = concat!(env!("CARGO_MANIFEST_DIR"), "/src");
    let files = ["api", "web", "federation"]
        .iter()
        .flat_map(|d| walk(&std::path::Path::new(src).join(d)));
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for part in text.split(".route(").skip(1) {
            let rest = part.trim_start().trim_start_matches('"');
            let end = rest.find('"').unwrap();
            let path = &rest[..end];
            // The method router: up to the `)` that closes `.route(`.
            let mut depth = 1;
            let mut close = rest.len();
            for (i, c) in rest[end..].char_indices() {
                match c {
                    '(' => depth += 1,
                    ')' => {
                        depth -= 1;
                        if depth == 0 {
                            close = end + i;
                            break;
                        }
                    }
                    _ => {}
                }
            }
            let handlers = &rest[end..close];
            for m in ["get", "post", "put", "patch", "delete"] {
                let call = format!("{m}(");
                let found = handlers.match_indices(&call).any(|(i, _)| {
                    i == 0 || !handlers[..i].ends_with(|c: char| c.is_alphanumeric() || c == '_')
                });
                if found {
                    out.push((
                        m.to_uppercase(),
                        path.to_string(),
                        file.display().to_string(),
                    ));
                }
            }
        }
    }
    out
}

/// The table (and so the OpenAPI document) and the router name the same routes.
#[test]
fn every_route_is_listed() {
    let served = served_routes();
    assert!(served.len() > 150, "the source scan found {}", served.len());
    let missing: Vec<String> = served
        .iter()
        .filter(|(m, p, _)| !ROUTES.iter().any(|r| r.method == m && r.path == p))
        .map(|(m, p, f)| format!("{m} {p} ({f})"))
        .collect();
    assert!(
        missing.is_empty(),
        "routes the router serves that the table does not list: {missing:?}"
    );
    let stale: Vec<String> = ROUTES
        .iter()
        .filter(|r| !served.iter().any(|(m, p, _)| m == r.method && p == r.path))
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert!(
        stale.is_empty(),
        "routes the table lists that the router does not serve: {stale:?}"
    );
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
    out
}

async fn each_route_demands_its_scope(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let (alice, bob) = (app.register("alice").await, app.register("bob").await);
    let wrong = app.user_token(&alice, UNRELATED).await;
    let notice = app.post(&alice, "a notice to act on #x").await;
    let (sid, aid) = (notice["id"].as_str().unwrap(), bob.id.as_str());
    let asked = app
        .post_with(
            &bob,
            json!({"status": "a poll", "poll": {"options": ["a", "b"], "expires_in": 600}}),
        )
        .await;
    let pid = asked["poll"]["id"].as_str().unwrap();
    let (status, _) = app
        .call(
            Method::POST,
            "/api/v1/tidings/events",
            &alice.token,
            Some(json!({"slug": "ev", "title": "An event", "tags": ["x"]})),
        )
        .await;
    assert_eq!(status, 200, "an event to act on");
    for r in ROUTES {
        let (method, path, needs) = (r.method, r.path, r.needs);
        if path.starts_with("/api/v1/streaming") && path != "/api/v1/streaming/health" {
            continue;
        }
        let concrete = path
            .replace("{id}/follow", &format!("{aid}/follow"))
            .replace("{id}/unfollow", &format!("{aid}/unfollow"))
            .replace("{id}/block", &format!("{aid}/block"))
            .replace("{id}/unblock", &format!("{aid}/unblock"))
            .replace("{id}/mute", &format!("{aid}/mute"))
            .replace("{id}/unmute", &format!("{aid}/unmute"))
            .replace("accounts/{id}", &format!("accounts/{aid}"))
            .replace("polls/{id}", &format!("polls/{pid}"))
            .replace("{id}", sid)
            .replace("{slug}", "ev")
            .replace("{role}", "contributors")
            .replace("{action}", "pin")
            .replace("{hashtag}", "x")
            .replace("{tag}", "x")
            .replace("{name}", "%F0%9F%8E%89")
            .replace("{username}", "alice")
            .replace("lookup", "lookup?acct=bob")
            .replace("search", "search?q=notice")
            .replace("relationships", &format!("relationships?id[]={aid}"));
        let method: Method = method.parse().unwrap();
        let body = match path {
            "/api/v1/statuses" => Some(json!({"status": "scoped post"})),
            "/api/v1/statuses/{id}" if method == Method::PUT => Some(json!({"status": "edited"})),
            "/api/v1/admin/accounts/{id}/action" => Some(json!({"type": "suspend"})),
            _ => None,
        };
        let call = |token: Option<String>| {
            let mut req = app.http.request(method.clone(), app.url(&concrete));
            if let Some(t) = token {
                req = req.bearer_auth(t);
            }
            if let Some(b) = &body {
                req = req.json(b);
            }
            async move { req.send().await.unwrap().status().as_u16() }
        };
        match needs {
            Needs::Nobody => {}
            Needs::Token(scope) | Needs::IfToken(scope) => {
                assert_eq!(
                    call(Some(wrong.clone())).await,
                    403,
                    "{method} {path} with {UNRELATED:?}"
                );
                let anonymous = call(None).await;
                if matches!(needs, Needs::Token(_)) {
                    assert_eq!(anonymous, 401, "{method} {path} without a token");
                } else {
                    assert!(anonymous < 400, "{method} {path} anonymously: {anonymous}");
                }
                // Signing up takes an app token; everything else a user's.
                let right = if path == "/api/v1/accounts" {
                    app.app_token(scope).await
                } else if scope.starts_with("admin:") {
                    // Administration takes an administrator, with a token that says so.
                    app.make_admin(&alice).await;
                    let all = format!("read write follow push profile {scope}");
                    app.grant_with(&alice, &all, scope).await.token
                } else {
                    app.user_token(&alice, scope).await
                };
                let status = call(Some(right)).await;
                assert!(
                    status != 401 && status != 403,
                    "{method} {path} with {scope}: {status}"
                );
            }
        }
    }
}

async fn the_home_stream_needs_read_statuses(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let alice = app.register("alice").await;
    let secret = app
        .post_with(
            &alice,
            json!({"status": "followers only", "visibility": "private"}),
        )
        .await;
    let sid = secret["id"].as_str().unwrap();
    for scopes in ["profile", "push", "follow", "write:favourites"] {
        let t = app.user_token(&alice, scopes).await;
        let (status, _) = app
            .get_json(&format!("/api/v1/statuses/{sid}"), Some(&t))
            .await;
        assert_eq!(status, 403, "a private notice with {scopes}");
        let (status, _) = app
            .get_json(&format!("/api/v1/accounts/{}/statuses", alice.id), Some(&t))
            .await;
        assert_eq!(status, 403, "an account's notices with {scopes}");
        let (status, _, _) =
            SseReader::open(&app, "/api/v1/streaming/user", Some("0"), Some(&t)).await;
        assert_eq!(status, 401, "the user stream over SSE with {scopes}");
        let mut ws = ws_connect(&app, Some(&t)).await;
        ws_send(
            &mut ws,
            json!({"type": "subscribe", "stream": "user", "last_event_id": "0"}),
        )
        .await;
        let frame: Value = ws_next(&mut ws, common::WAIT).await.expect("an answer");
        assert_eq!(
            frame["status"], 401,
            "the user stream over WebSocket with {scopes}: {frame}"
        );
    }
    let t = app.user_token(&alice, "read:statuses").await;
    let (status, _, _) = SseReader::open(&app, "/api/v1/streaming/user", Some("0"), Some(&t)).await;
    assert_eq!(status, 200);
}
