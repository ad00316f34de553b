//! Stories of input from outside, bounded and checked before it is used: whatever a
//! client sends, the answer is a clear error and nothing changes — never a 500, never a
//! notice too big for the readers' queues.

mod common;

use common::{Backend, spawn};
use reqwest::Method;
use serde_json::{Value, json};

on_both_backends!(
    a_content_warning_counts_in_the_character_limit,
    nul_bytes_are_refused_everywhere_with_422,
    a_language_must_be_an_iso_639_code,
    a_long_link_counts_as_23_characters,
    sign_up_refuses_bad_emails_taken_emails_reserved_names_and_user_tokens,
);

async fn a_content_warning_counts_in_the_character_limit(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let ann = app.register("ann").await;
    let post = |body: Value| app.call(Method::POST, "/api/v1/statuses", &ann.token, Some(body));
    let (status, body) = post(json!({"status": "x", "spoiler_text": "w".repeat(1_200_000)})).await;
    assert_eq!(status, 422, "{body}");
    assert!(body["error"].as_str().unwrap().contains("limit"));
    let (status, _) =
        post(json!({"status": "y".repeat(20), "spoiler_text": "w".repeat(490)})).await;
    assert_eq!(status, 422, "490 + 20 is over 500");
    let (status, _) =
        post(json!({"status": "y".repeat(10), "spoiler_text": "w".repeat(490)})).await;
    assert_eq!(status, 200, "490 + 10 is not");
    let (_, statuses) = app
        .get_json(&format!("/api/v1/accounts/{}/statuses", ann.id), None)
        .await;
    assert_eq!(
        statuses.as_array().unwrap().len(),
        1,
        "nothing else was posted"
    );
}

async fn nul_bytes_are_refused_everywhere_with_422(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let ann = app.register("ann").await;
    for body in [
        json!({"status": "ok", "spoiler_text": "cw\u{0}"}),
        json!({"status": "ok", "language": "e\u{0}"}),
        json!({"status": "o\u{0}k"}),
    ] {
        let (status, res) = app
            .call(
                Method::POST,
                "/api/v1/statuses",
                &ann.token,
                Some(body.clone()),
            )
            .await;
        assert_eq!(status, 422, "{body}: {res}");
        assert!(res["error"].is_string());
    }
    let res = app
        .http
        .post(app.url("/api/v1/apps"))
        .json(&json!({"client_name": "a\u{0}b", "redirect_uris": "urn:ietf:wg:oauth:2.0:oob"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422, "client_name");
    let res = app
        .http
        .post(app.url("/oauth/token"))
        .form(&[
            ("grant_type", "password"),
            ("client_id", "x\u{0}"),
            ("username", "a\u{0}n"),
            ("password", "p"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422, "a login name");
    let (status, _) = app
        .get_json("/api/v1/accounts/lookup?acct=ann%00", None)
        .await;
    assert_eq!(status, 422, "lookup");
    let (status, _) = app.get_json("/api/v1/timelines/tag/a%00b", None).await;
    assert!(status == 404 || status == 422, "a tag path: {status}");
    let (_, statuses) = app
        .get_json(&format!("/api/v1/accounts/{}/statuses", ann.id), None)
        .await;
    assert_eq!(statuses, json!([]), "nothing was posted");
}

async fn a_language_must_be_an_iso_639_code(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let ann = app.register("ann").await;
    let (status, _) = app
        .call(
            Method::POST,
            "/api/v1/statuses",
            &ann.token,
            Some(json!({"status": "hi", "language": "english"})),
        )
        .await;
    assert_eq!(status, 422);
    let (status, _) = app
        .call(
            Method::POST,
            "/api/v1/statuses",
            &ann.token,
            Some(json!({"status": "hi", "language": "x".repeat(100_000)})),
        )
        .await;
    assert_eq!(status, 422);
    let (status, s) = app
        .call(
            Method::POST,
            "/api/v1/statuses",
            &ann.token,
            Some(json!({"status": "olá", "language": "pt-BR"})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(s["language"], "pt-BR");
}

async fn a_long_link_counts_as_23_characters(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let ann = app.register("ann").await;
    let (_, instance) = app.get_json("/api/v2/instance", None).await;
    assert_eq!(
        instance["configuration"]["statuses"]["characters_reserved_per_url"],
        23
    );
    let text = format!(
        "{} https://example.org/{}",
        "w".repeat(470),
        "p".repeat(400)
    );
    let (status, body) = app
        .call(
            Method::POST,
            "/api/v1/statuses",
            &ann.token,
            Some(json!({"status": text})),
        )
        .await;
    assert_eq!(status, 200, "470 + 1 + 23 fits in 500: {body}");
}

async fn sign_up_refuses_bad_emails_taken_emails_reserved_names_and_user_tokens(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let ann = app.register("ann").await; // ann@example.org
    let app_token = app.app_token("read write").await;
    let sign_up = |token: String, body: Value| {
        let app = &app;
        async move {
            app.call(Method::POST, "/api/v1/accounts", &token, Some(body))
                .await
        }
    };
    let pw = "correct horse battery";
    for (body, field, code) in [
        (
            json!({"username": "bob", "email": "a@", "password": pw}),
            "email",
            "ERR_INVALID",
        ),
        (
            json!({"username": "bob", "email": format!("{}@example.org", "a".repeat(500_000)), "password": pw}),
            "email",
            "ERR_INVALID",
        ),
        (
            json!({"username": "bob", "email": "ANN@example.org", "password": pw}),
            "email",
            "ERR_TAKEN",
        ),
        (
            json!({"username": "root", "email": "r@example.org", "password": pw}),
            "username",
            "ERR_RESERVED",
        ),
        (
            json!({"username": "admin_", "email": "r@example.org", "password": pw}),
            "username",
            "ERR_RESERVED",
        ),
        (
            json!({"username": "Support", "email": "r@example.org", "password": pw}),
            "username",
            "ERR_RESERVED",
        ),
        (
            json!({"username": "bob", "email": "b@example.org", "password": "p".repeat(129)}),
            "password",
            "ERR_TOO_LONG",
        ),
    ] {
        let (status, res) = sign_up(app_token.clone(), body.clone()).await;
        assert_eq!(status, 422, "{body}: {res}");
        assert_eq!(res["details"][field][0]["error"], code, "{res}");
    }
    let (status, _) = sign_up(
        ann.token.clone(),
        json!({"username": "bob", "email": "b@example.org", "password": pw}),
    )
    .await;
    assert_eq!(status, 403, "a user's token cannot create accounts");
    let (status, _) = sign_up(
        app_token.clone(),
        json!({"username": "bob", "email": "b@example.org", "password": pw}),
    )
    .await;
    assert_eq!(status, 200);
}
