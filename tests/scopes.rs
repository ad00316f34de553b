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

/// Who may call a route.
#[derive(Clone, Copy, Debug)]
enum Needs {
    /// Anyone; no scope.
    Nobody,
    /// A token with this scope.
    Token(&'static str),
    /// Anyone; but a token, if presented, must carry this scope.
    IfToken(&'static str),
}

/// (method, path with `{status}`/`{account}` placeholders, what it needs). The paths are
/// the router's, so that `every_route_is_listed` can compare.
const ROUTES: &[(&str, &str, Needs)] = &[
    ("POST", "/api/v1/apps", Needs::Nobody),
    ("POST", "/oauth/token", Needs::Nobody),
    ("POST", "/oauth/revoke", Needs::Nobody),
    ("GET", "/oauth/authorize", Needs::Nobody),
    (
        "GET",
        "/.well-known/oauth-authorization-server",
        Needs::Nobody,
    ),
    ("POST", "/api/v1/accounts", Needs::Token("write:accounts")),
    (
        "GET",
        "/api/v1/accounts/verify_credentials",
        Needs::Token("read:accounts"),
    ),
    (
        "GET",
        "/api/v1/accounts/lookup",
        Needs::IfToken("read:accounts"),
    ),
    (
        "GET",
        "/api/v1/accounts/relationships",
        Needs::Token("read:follows"),
    ),
    (
        "GET",
        "/api/v1/accounts/{id}",
        Needs::IfToken("read:accounts"),
    ),
    (
        "GET",
        "/api/v1/accounts/{id}/statuses",
        Needs::IfToken("read:statuses"),
    ),
    (
        "POST",
        "/api/v1/accounts/{id}/follow",
        Needs::Token("write:follows"),
    ),
    (
        "POST",
        "/api/v1/accounts/{id}/unfollow",
        Needs::Token("write:follows"),
    ),
    ("POST", "/api/v1/statuses", Needs::Token("write:statuses")),
    (
        "GET",
        "/api/v1/statuses/{id}",
        Needs::IfToken("read:statuses"),
    ),
    (
        "PUT",
        "/api/v1/statuses/{id}",
        Needs::Token("write:statuses"),
    ),
    (
        "GET",
        "/api/v1/statuses/{id}/history",
        Needs::IfToken("read:statuses"),
    ),
    (
        "GET",
        "/api/v1/statuses/{id}/source",
        Needs::Token("read:statuses"),
    ),
    (
        "POST",
        "/api/v1/statuses/{id}/favourite",
        Needs::Token("write:favourites"),
    ),
    (
        "POST",
        "/api/v1/statuses/{id}/unfavourite",
        Needs::Token("write:favourites"),
    ),
    (
        "POST",
        "/api/v1/statuses/{id}/reblog",
        Needs::Token("write:statuses"),
    ),
    (
        "POST",
        "/api/v1/statuses/{id}/unreblog",
        Needs::Token("write:statuses"),
    ),
    (
        "GET",
        "/api/v1/statuses/{id}/context",
        Needs::IfToken("read:statuses"),
    ),
    (
        "GET",
        "/api/v1/statuses/{id}/reblogged_by",
        Needs::IfToken("read:statuses"),
    ),
    (
        "GET",
        "/api/v1/statuses/{id}/favourited_by",
        Needs::IfToken("read:statuses"),
    ),
    (
        "POST",
        "/api/v1/statuses/{id}/bookmark",
        Needs::Token("write:bookmarks"),
    ),
    (
        "POST",
        "/api/v1/statuses/{id}/unbookmark",
        Needs::Token("write:bookmarks"),
    ),
    (
        "POST",
        "/api/v1/statuses/{id}/pin",
        Needs::Token("write:accounts"),
    ),
    (
        "POST",
        "/api/v1/statuses/{id}/unpin",
        Needs::Token("write:accounts"),
    ),
    (
        "GET",
        "/api/v1/accounts/{id}/followers",
        Needs::IfToken("read:accounts"),
    ),
    (
        "GET",
        "/api/v1/accounts/{id}/following",
        Needs::IfToken("read:accounts"),
    ),
    ("GET", "/api/v1/favourites", Needs::Token("read:favourites")),
    ("GET", "/api/v1/bookmarks", Needs::Token("read:bookmarks")),
    (
        "GET",
        "/api/v1/notifications",
        Needs::Token("read:notifications"),
    ),
    (
        "GET",
        "/api/v1/notifications/{id}",
        Needs::Token("read:notifications"),
    ),
    (
        "POST",
        "/api/v1/notifications/{id}/dismiss",
        Needs::Token("write:notifications"),
    ),
    (
        "POST",
        "/api/v1/notifications/clear",
        Needs::Token("write:notifications"),
    ),
    (
        "GET",
        "/api/v2/notifications/policy",
        Needs::Token("read:notifications"),
    ),
    ("GET", "/api/v2/search", Needs::IfToken("read:search")),
    (
        "GET",
        "/api/v1/accounts/search",
        Needs::IfToken("read:accounts"),
    ),
    (
        "GET",
        "/api/v1/timelines/public",
        Needs::IfToken("read:statuses"),
    ),
    (
        "GET",
        "/api/v1/timelines/tag/{hashtag}",
        Needs::IfToken("read:statuses"),
    ),
    (
        "GET",
        "/api/v1/timelines/home",
        Needs::Token("read:statuses"),
    ),
    ("GET", "/api/v1/preferences", Needs::Token("read:accounts")),
    (
        "POST",
        "/api/v1/accounts/{id}/block",
        Needs::Token("write:blocks"),
    ),
    (
        "POST",
        "/api/v1/accounts/{id}/unblock",
        Needs::Token("write:blocks"),
    ),
    (
        "POST",
        "/api/v1/accounts/{id}/mute",
        Needs::Token("write:mutes"),
    ),
    (
        "POST",
        "/api/v1/accounts/{id}/unmute",
        Needs::Token("write:mutes"),
    ),
    (
        "PATCH",
        "/api/v1/accounts/update_credentials",
        Needs::Token("write:accounts"),
    ),
    ("GET", "/api/v1/markers", Needs::Token("read:statuses")),
    ("POST", "/api/v1/markers", Needs::Token("write:statuses")),
    ("GET", "/api/v1/trends", Needs::Nobody),
    ("GET", "/api/v1/trends/tags", Needs::Nobody),
    ("GET", "/api/v1/trends/statuses", Needs::Nobody),
    ("GET", "/api/v1/trends/links", Needs::Nobody),
    (
        "GET",
        "/api/v1/apps/verify_credentials",
        Needs::Token("read"),
    ),
    ("GET", "/api/v1/custom_emojis", Needs::Nobody),
    ("GET", "/api/v1/instance/rules", Needs::Nobody),
    ("GET", "/api/v1/directory", Needs::Nobody),
    ("GET", "/api/v1/announcements", Needs::Token("read")),
    ("GET", "/api/v1/filters", Needs::Token("read:filters")),
    ("GET", "/api/v2/filters", Needs::Token("read:filters")),
    ("POST", "/api/v2/filters", Needs::Token("write:filters")),
    ("GET", "/api/v2/filters/{id}", Needs::Token("read:filters")),
    ("PUT", "/api/v2/filters/{id}", Needs::Token("write:filters")),
    (
        "GET",
        "/api/v2/filters/{id}/keywords",
        Needs::Token("read:filters"),
    ),
    (
        "POST",
        "/api/v2/filters/{id}/keywords",
        Needs::Token("write:filters"),
    ),
    (
        "GET",
        "/api/v2/filters/keywords/{id}",
        Needs::Token("read:filters"),
    ),
    (
        "PUT",
        "/api/v2/filters/keywords/{id}",
        Needs::Token("write:filters"),
    ),
    (
        "DELETE",
        "/api/v2/filters/keywords/{id}",
        Needs::Token("write:filters"),
    ),
    (
        "GET",
        "/api/v2/filters/{id}/statuses",
        Needs::Token("read:filters"),
    ),
    (
        "POST",
        "/api/v2/filters/{id}/statuses",
        Needs::Token("write:filters"),
    ),
    (
        "GET",
        "/api/v2/filters/statuses/{id}",
        Needs::Token("read:filters"),
    ),
    (
        "DELETE",
        "/api/v2/filters/statuses/{id}",
        Needs::Token("write:filters"),
    ),
    (
        "DELETE",
        "/api/v2/filters/{id}",
        Needs::Token("write:filters"),
    ),
    ("GET", "/api/v1/lists", Needs::Token("read:lists")),
    ("POST", "/api/v2/media", Needs::Token("write:media")),
    ("POST", "/api/v1/media", Needs::Token("write:media")),
    ("GET", "/api/v1/media/{id}", Needs::Token("write:media")),
    ("PUT", "/api/v1/media/{id}", Needs::Token("write:media")),
    ("GET", "/media/{key}", Needs::Nobody),
    ("GET", "/api/v1/polls/{id}", Needs::IfToken("read:statuses")),
    (
        "POST",
        "/api/v1/polls/{id}/votes",
        Needs::Token("write:statuses"),
    ),
    (
        "GET",
        "/api/v1/scheduled_statuses",
        Needs::Token("read:statuses"),
    ),
    (
        "GET",
        "/api/v1/scheduled_statuses/{id}",
        Needs::Token("read:statuses"),
    ),
    (
        "PUT",
        "/api/v1/scheduled_statuses/{id}",
        Needs::Token("write:statuses"),
    ),
    (
        "DELETE",
        "/api/v1/scheduled_statuses/{id}",
        Needs::Token("write:statuses"),
    ),
    ("POST", "/api/v1/lists", Needs::Token("write:lists")),
    ("GET", "/api/v1/lists/{id}", Needs::Token("read:lists")),
    ("PUT", "/api/v1/lists/{id}", Needs::Token("write:lists")),
    (
        "GET",
        "/api/v1/lists/{id}/accounts",
        Needs::Token("read:lists"),
    ),
    (
        "POST",
        "/api/v1/lists/{id}/accounts",
        Needs::Token("write:lists"),
    ),
    (
        "DELETE",
        "/api/v1/lists/{id}/accounts",
        Needs::Token("write:lists"),
    ),
    ("DELETE", "/api/v1/lists/{id}", Needs::Token("write:lists")),
    (
        "GET",
        "/api/v1/timelines/list/{id}",
        Needs::Token("read:lists"),
    ),
    (
        "GET",
        "/api/v1/accounts/{id}/lists",
        Needs::Token("read:lists"),
    ),
    (
        "GET",
        "/api/v1/accounts/{id}/featured_tags",
        Needs::IfToken("read:accounts"),
    ),
    (
        "GET",
        "/api/v1/featured_tags",
        Needs::IfToken("read:accounts"),
    ),
    ("GET", "/api/v1/followed_tags", Needs::Token("read:follows")),
    (
        "GET",
        "/api/v1/follow_requests",
        Needs::Token("read:follows"),
    ),
    (
        "POST",
        "/api/v1/follow_requests/{id}/authorize",
        Needs::Token("write:follows"),
    ),
    (
        "POST",
        "/api/v1/follow_requests/{id}/reject",
        Needs::Token("write:follows"),
    ),
    ("GET", "/api/v1/domain_blocks", Needs::Token("read:follows")),
    (
        "GET",
        "/api/v1/conversations",
        Needs::Token("read:statuses"),
    ),
    (
        "POST",
        "/api/v1/conversations/{id}/read",
        Needs::Token("write:conversations"),
    ),
    (
        "DELETE",
        "/api/v1/conversations/{id}",
        Needs::Token("write:conversations"),
    ),
    (
        "POST",
        "/api/v1/announcements/{id}/dismiss",
        Needs::Token("write:accounts"),
    ),
    (
        "PUT",
        "/api/v1/announcements/{id}/reactions/{name}",
        Needs::Token("write:favourites"),
    ),
    (
        "DELETE",
        "/api/v1/announcements/{id}/reactions/{name}",
        Needs::Token("write:favourites"),
    ),
    (
        "POST",
        "/api/v1/admin/announcements",
        Needs::Token("admin:write"),
    ),
    (
        "PUT",
        "/api/v1/admin/announcements/{id}",
        Needs::Token("admin:write"),
    ),
    (
        "DELETE",
        "/api/v1/admin/announcements/{id}",
        Needs::Token("admin:write"),
    ),
    ("GET", "/api/v1/mutes", Needs::Token("read:mutes")),
    ("GET", "/api/v1/blocks", Needs::Token("read:blocks")),
    ("GET", "/avatars/original/missing.png", Needs::Nobody),
    ("GET", "/headers/original/missing.png", Needs::Nobody),
    ("GET", "/thumbnail.png", Needs::Nobody),
    ("GET", "/favicon.ico", Needs::Nobody),
    ("GET", "/@{username}", Needs::IfToken("read:accounts")),
    ("GET", "/users/{username}", Needs::IfToken("read:accounts")),
    ("GET", "/@{username}/{id}", Needs::IfToken("read:statuses")),
    (
        "GET",
        "/users/{username}/statuses/{id}",
        Needs::IfToken("read:statuses"),
    ),
    ("GET", "/tags/{tag}", Needs::Nobody),
    ("GET", "/", Needs::Nobody),
    ("GET", "/embed/tags/{tag}", Needs::Nobody),
    ("GET", "/events", Needs::Nobody),
    ("GET", "/events/{slug}", Needs::Nobody),
    ("GET", "/embed/events/{slug}", Needs::Nobody),
    ("GET", "/search", Needs::Nobody),
    ("GET", "/assets/{file}", Needs::Nobody),
    ("GET", "/embed.js", Needs::Nobody),
    ("GET", "/tidings.js", Needs::Nobody),
    // Federation's discovery: public documents (federation_stories).
    ("GET", "/.well-known/webfinger", Needs::Nobody),
    ("GET", "/.well-known/host-meta", Needs::Nobody),
    ("GET", "/.well-known/nodeinfo", Needs::Nobody),
    ("GET", "/nodeinfo/2.0", Needs::Nobody),
    ("GET", "/nodeinfo/2.1", Needs::Nobody),
    // The push endpoint: HTTP Signatures, not tokens (federation_stories).
    ("POST", "/users/{username}/inbox", Needs::Nobody),
    ("POST", "/inbox", Needs::Nobody),
    ("GET", "/users/{username}/outbox", Needs::Nobody),
    ("GET", "/users/{username}/followers", Needs::Nobody),
    ("GET", "/users/{username}/following", Needs::Nobody),
    (
        "GET",
        "/users/{username}/collections/featured",
        Needs::Nobody,
    ),
    // The web's own session and CSRF checks: web_stories.
    ("GET", "/auth/sign_in", Needs::Nobody),
    ("POST", "/auth/sign_in", Needs::Nobody),
    ("GET", "/auth/sign_up", Needs::Nobody),
    ("POST", "/auth/sign_up", Needs::Nobody),
    ("POST", "/auth/sign_out", Needs::Nobody),
    ("POST", "/web/statuses", Needs::Nobody),
    ("POST", "/web/statuses/{id}/delete", Needs::Nobody),
    ("POST", "/web/statuses/{id}/edit", Needs::Nobody),
    // Feeds (public, like the pages): feed_stories.
    ("GET", "/local.atom", Needs::Nobody),
    ("GET", "/local.rss", Needs::Nobody),
    // Wiki sign-in (404 unless wiki mode): wiki_stories.
    ("GET", "/auth/wiki/start", Needs::Nobody),
    ("GET", "/auth/wiki/assertion", Needs::Nobody),
    ("GET", "/auth/wiki/callback", Needs::Nobody),
    ("GET", "/auth/wiki/name", Needs::Nobody),
    ("POST", "/auth/wiki/name", Needs::Nobody),
    ("GET", "/embed/wiki_users/{id}", Needs::Nobody),
    ("GET", "/api/v1/instance", Needs::Nobody),
    ("GET", "/api/v2/instance", Needs::Nobody),
    ("GET", "/api/v1/instance/peers", Needs::Nobody),
    ("GET", "/api/v1/instance/activity", Needs::Nobody),
    ("GET", "/health", Needs::Nobody),
    ("GET", "/health/live", Needs::Nobody),
    ("GET", "/health/ready", Needs::Nobody),
    ("GET", "/api/v1/streaming/health", Needs::Nobody),
    // Open, or behind TIDINGS_METRICS_TOKEN (limits_stories).
    ("GET", "/metrics", Needs::Nobody),
    // Streams: public ones need no scope, `user` needs read:statuses (the_home_stream_…).
    ("GET", "/api/v1/streaming", Needs::Nobody),
    ("GET", "/api/v1/streaming/{*stream}", Needs::Nobody),
    // Moderation (moderation_stories); suspending and deleting Bob come last.
    ("POST", "/api/v1/reports", Needs::Token("write:reports")),
    (
        "GET",
        "/api/v1/admin/accounts",
        Needs::Token("admin:read:accounts"),
    ),
    (
        "GET",
        "/api/v2/admin/accounts",
        Needs::Token("admin:read:accounts"),
    ),
    (
        "GET",
        "/api/v1/admin/accounts/{id}",
        Needs::Token("admin:read:accounts"),
    ),
    (
        "POST",
        "/api/v1/admin/accounts/{id}/role",
        Needs::Token("admin:write:accounts"),
    ),
    (
        "POST",
        "/api/v1/admin/accounts/{id}/{undo}",
        Needs::Token("admin:write:accounts"),
    ),
    (
        "POST",
        "/api/v1/admin/accounts/suspend",
        Needs::Token("admin:write:accounts"),
    ),
    (
        "GET",
        "/api/v1/admin/reports",
        Needs::Token("admin:read:reports"),
    ),
    (
        "GET",
        "/api/v1/admin/reports/{id}",
        Needs::Token("admin:read:reports"),
    ),
    (
        "POST",
        "/api/v1/admin/reports/{id}/{change}",
        Needs::Token("admin:write:reports"),
    ),
    (
        "GET",
        "/api/v1/admin/domain_blocks",
        Needs::Token("admin:read:domain_blocks"),
    ),
    (
        "POST",
        "/api/v1/admin/domain_blocks",
        Needs::Token("admin:write:domain_blocks"),
    ),
    (
        "GET",
        "/api/v1/admin/domain_blocks/{id}",
        Needs::Token("admin:read:domain_blocks"),
    ),
    (
        "PUT",
        "/api/v1/admin/domain_blocks/{id}",
        Needs::Token("admin:write:domain_blocks"),
    ),
    (
        "DELETE",
        "/api/v1/admin/domain_blocks/{id}",
        Needs::Token("admin:write:domain_blocks"),
    ),
    (
        "GET",
        "/api/v1/admin/domain_allows",
        Needs::Token("admin:read:domain_allows"),
    ),
    (
        "POST",
        "/api/v1/admin/domain_allows",
        Needs::Token("admin:write:domain_allows"),
    ),
    (
        "GET",
        "/api/v1/admin/domain_allows/{id}",
        Needs::Token("admin:read:domain_allows"),
    ),
    (
        "DELETE",
        "/api/v1/admin/domain_allows/{id}",
        Needs::Token("admin:write:domain_allows"),
    ),
    (
        "GET",
        "/api/v1/admin/email_domain_blocks",
        Needs::Token("admin:read:email_domain_blocks"),
    ),
    (
        "POST",
        "/api/v1/admin/email_domain_blocks",
        Needs::Token("admin:write:email_domain_blocks"),
    ),
    (
        "GET",
        "/api/v1/admin/email_domain_blocks/{id}",
        Needs::Token("admin:read:email_domain_blocks"),
    ),
    (
        "DELETE",
        "/api/v1/admin/email_domain_blocks/{id}",
        Needs::Token("admin:write:email_domain_blocks"),
    ),
    (
        "GET",
        "/api/v1/admin/ip_blocks",
        Needs::Token("admin:read:ip_blocks"),
    ),
    (
        "POST",
        "/api/v1/admin/ip_blocks",
        Needs::Token("admin:write:ip_blocks"),
    ),
    (
        "GET",
        "/api/v1/admin/ip_blocks/{id}",
        Needs::Token("admin:read:ip_blocks"),
    ),
    (
        "DELETE",
        "/api/v1/admin/ip_blocks/{id}",
        Needs::Token("admin:write:ip_blocks"),
    ),
    ("GET", "/api/v1/admin/audit_log", Needs::Token("admin:read")),
    ("GET", "/api/v1/admin/settings", Needs::Token("admin:read")),
    ("PUT", "/api/v1/admin/settings", Needs::Token("admin:write")),
    (
        "POST",
        "/api/v1/admin/accounts/{id}/action",
        Needs::Token("admin:write:accounts"),
    ),
    (
        "DELETE",
        "/api/v1/admin/accounts/{id}",
        Needs::Token("admin:write:accounts"),
    ),
    // Live events ("ev", made by alice, fed by #x); deleted last of them.
    (
        "GET",
        "/api/v1/tidings/events",
        Needs::IfToken("read:statuses"),
    ),
    (
        "POST",
        "/api/v1/tidings/events",
        Needs::Token("write:statuses"),
    ),
    (
        "GET",
        "/api/v1/tidings/events/{slug}",
        Needs::IfToken("read:statuses"),
    ),
    (
        "PATCH",
        "/api/v1/tidings/events/{slug}",
        Needs::Token("write:statuses"),
    ),
    (
        "PUT",
        "/api/v1/tidings/events/{slug}",
        Needs::Token("write:statuses"),
    ),
    (
        "GET",
        "/api/v1/tidings/events/{slug}/timeline",
        Needs::IfToken("read:statuses"),
    ),
    (
        "GET",
        "/api/v1/tidings/events/{slug}/key_events",
        Needs::IfToken("read:statuses"),
    ),
    (
        "GET",
        "/api/v1/tidings/events/{slug}/contributions",
        Needs::IfToken("read:statuses"),
    ),
    (
        "POST",
        "/api/v1/tidings/events/{slug}/statuses/{id}/{action}",
        Needs::Token("write:statuses"),
    ),
    (
        "GET",
        "/api/v1/tidings/events/{slug}/{role}",
        Needs::IfToken("read:statuses"),
    ),
    (
        "POST",
        "/api/v1/tidings/events/{slug}/{role}",
        Needs::Token("write:statuses"),
    ),
    (
        "DELETE",
        "/api/v1/tidings/events/{slug}/{role}",
        Needs::Token("write:statuses"),
    ),
    (
        "DELETE",
        "/api/v1/tidings/events/{slug}",
        Needs::Token("write:statuses"),
    ),
    // Deleting last, so that the notice is there for everything above.
    (
        "DELETE",
        "/api/v1/statuses/{id}",
        Needs::Token("write:statuses"),
    ),
];

/// Scopes that cover nothing any route needs, for the "wrong scope" token.
const UNRELATED: &str = "profile push";

#[test]
fn every_route_is_listed() {
    let mut missing = Vec::new();
    let src = concat!(env!("CARGO_MANIFEST_DIR"), "/src");
    let files = ["api", "web", "federation"]
        .iter()
        .flat_map(|d| walk(&std::path::Path::new(src).join(d)));
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for part in text.split(".route(").skip(1) {
            let path = part.trim_start().trim_start_matches('"');
            let path = &path[..path.find('"').unwrap()];
            if !ROUTES.iter().any(|r| r.1 == path) {
                missing.push(format!("{path} ({})", file.display()));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "routes without a scope entry: {missing:?}"
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
    for &(method, path, needs) in ROUTES {
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
