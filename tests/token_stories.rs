//! A token in use, and what changes it: each change holds from the next request on, though
//! the embedded node keeps the token it has just read (`src/store/token_cache.rs`).

mod common;

use common::{Backend, spawn};
use reqwest::Method;
use serde_json::json;
use std::time::Duration;

on_both_backends!(
    a_token_in_use_is_refused_the_moment_it_is_revoked,
    a_suspended_reporter_is_refused_at_her_next_request,
    a_default_visibility_changed_holds_for_the_very_next_post,
);

/// `verify_credentials` with `token`: the status and the body.
async fn me(app: &common::TestApp, token: &str) -> (u16, serde_json::Value) {
    app.get_json("/api/v1/accounts/verify_credentials", Some(token))
        .await
}

/// `user`'s token, used a few times (so that a node keeping tokens keeps this one).
async fn in_use(app: &common::TestApp, token: &str) {
    for _ in 0..3 {
        assert_eq!(me(app, token).await.0, 200, "the token works");
    }
}

async fn a_token_in_use_is_refused_the_moment_it_is_revoked(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let ann = app.register("ann").await;
    let grant = app.grant(&ann, "read write").await;
    in_use(&app, &grant.token).await;
    app.revoke(&grant).await;
    let (status, body) = me(&app, &grant.token).await;
    assert_eq!(status, 401, "a revoked token: {body}");
    // Her other token (the sign-up's) still works.
    in_use(&app, &ann.token).await;
}

async fn a_suspended_reporter_is_refused_at_her_next_request(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let boss = app.staff("boss", "admin").await;
    let ann = app.register("ann").await;
    in_use(&app, &ann.token).await;
    assert_eq!(app.admin_action(&boss, &ann, "suspend", "spam").await, 200);
    let (status, body) = app
        .call(
            Method::POST,
            "/api/v1/statuses",
            &ann.token,
            Some(json!({"status": "one more"})),
        )
        .await;
    assert_eq!(status, 401, "a suspended account's token: {body}");
}

async fn a_default_visibility_changed_holds_for_the_very_next_post(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let ann = app.register("ann").await;
    assert_eq!(app.post(&ann, "first").await["visibility"], "public");
    let (status, _) = app
        .call(
            Method::PATCH,
            "/api/v1/accounts/update_credentials",
            &ann.token,
            Some(json!({"source": {"privacy": "unlisted"}})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(app.post(&ann, "second").await["visibility"], "unlisted");
}

/// What another process writes to the embedded database (`tidings admin suspend`, here
/// straight in the file) reaches a token in use within a second (`FRESH_FOR`), not never.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_sqlite_a_suspension_written_from_outside_reaches_a_token_in_use_soon() {
    let app = spawn(Backend::Sqlite).await.expect("SQLite is always here");
    let ann = app.register("ann").await;
    in_use(&app, &ann.token).await;
    app.write_in_database(format!(
        "UPDATE accounts SET suspended_at = {} WHERE id = {}",
        tidings::domain::now_micros(),
        ann.id
    ))
    .await;
    common::eventually(
        "the suspension to reach her token",
        Duration::from_secs(5),
        || async { (me(&app, &ann.token).await.0 == 401).then_some(()) },
    )
    .await;
}
