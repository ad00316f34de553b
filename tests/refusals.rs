//! Stories of bad input: every refusal has the right status and `{"error": …}`, and
//! changes nothing.

mod common;

use common::{Backend, spawn, spawn_with};
use serde_json::{Value, json};

on_both_backends!(
    bad_notices_are_refused_and_change_nothing,
    requests_without_a_valid_token_are_refused,
    bad_registrations_name_the_field,
    closed_registrations_are_refused,
);

async fn public_count(app: &common::TestApp) -> usize {
    app.get_json("/api/v1/timelines/public?limit=40", None)
        .await
        .1
        .as_array()
        .unwrap()
        .len()
}

async fn assert_error(res: reqwest::Response, status: u16) -> Value {
    assert_eq!(res.status().as_u16(), status);
    let body: Value = res.json().await.expect("a JSON error body");
    assert!(
        body["error"].as_str().is_some_and(|e| !e.is_empty()),
        "error message in {body}"
    );
    body
}

async fn bad_notices_are_refused_and_change_nothing(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let ann = app.register("ann").await;
    app.post(&ann, "the one good notice").await;
    let post = |body: reqwest::Body, ctype: &'static str| {
        app.http
            .post(app.url("/api/v1/statuses"))
            .bearer_auth(&ann.token)
            .header("content-type", ctype)
            .body(body)
            .send()
    };
    assert_error(
        post(json!({"status": ""}).to_string().into(), "application/json")
            .await
            .unwrap(),
        422,
    )
    .await;
    assert_error(
        post(
            json!({"status": "   \n "}).to_string().into(),
            "application/json",
        )
        .await
        .unwrap(),
        422,
    )
    .await;
    let long = "x".repeat(501);
    let body = assert_error(
        post(
            json!({ "status": long }).to_string().into(),
            "application/json",
        )
        .await
        .unwrap(),
        422,
    )
    .await;
    assert!(body["error"].as_str().unwrap().contains("500"));
    assert_error(
        post("{\"status\": ".into(), "application/json")
            .await
            .unwrap(),
        400,
    )
    .await;
    assert_error(post("[1,2]".into(), "application/json").await.unwrap(), 400).await;
    assert_error(
        post(
            json!({"status": "x", "visibility": "everyone"})
                .to_string()
                .into(),
            "application/json",
        )
        .await
        .unwrap(),
        422,
    )
    .await;
    assert_error(
        post(
            json!({"status": "x", "in_reply_to_id": "987654"})
                .to_string()
                .into(),
            "application/json",
        )
        .await
        .unwrap(),
        404,
    )
    .await;
    assert_error(
        post(
            json!({"status": "x", "sensitive": "perhaps"})
                .to_string()
                .into(),
            "application/json",
        )
        .await
        .unwrap(),
        422,
    )
    .await;
    assert_error(
        post("status=".into(), "application/x-www-form-urlencoded")
            .await
            .unwrap(),
        422,
    )
    .await;
    assert_eq!(public_count(&app).await, 1, "nothing was posted");

    // Form bodies work like JSON ones.
    let ok = post(
        "status=form+post&visibility=unlisted&sensitive=true".into(),
        "application/x-www-form-urlencoded",
    )
    .await
    .unwrap();
    assert_eq!(ok.status(), 200);
    let s: Value = ok.json().await.unwrap();
    assert_eq!(
        (s["visibility"].as_str(), s["sensitive"].as_bool()),
        (Some("unlisted"), Some(true))
    );

    for path in [
        "/api/v1/statuses/123456",
        "/api/v1/statuses/abc",
        "/api/v1/accounts/999999",
        "/api/v1/nothing-here",
    ] {
        assert_error(app.http.get(app.url(path)).send().await.unwrap(), 404).await;
    }
    for q in ["max_id=abc", "limit=many", "since_id=1e9", "local=maybe"] {
        assert_error(
            app.http
                .get(app.url(&format!("/api/v1/timelines/public?{q}")))
                .send()
                .await
                .unwrap(),
            400,
        )
        .await;
    }
    let edit = app
        .http
        .put(app.url(&format!("/api/v1/statuses/{}", s["id"].as_str().unwrap())))
        .bearer_auth(&ann.token)
        .json(&json!({"status": ""}))
        .send()
        .await
        .unwrap();
    assert_error(edit, 422).await;
    let (_, unchanged) = app
        .get_json(
            &format!("/api/v1/statuses/{}", s["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert!(
        unchanged["edited_at"].is_null(),
        "a refused edit changes nothing"
    );
}

async fn requests_without_a_valid_token_are_refused(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let ann = app.register("ann").await;
    assert_error(
        app.http
            .post(app.url("/api/v1/statuses"))
            .json(&json!({"status": "hi"}))
            .send()
            .await
            .unwrap(),
        401,
    )
    .await;
    assert_error(
        app.http
            .post(app.url("/api/v1/statuses"))
            .bearer_auth("forged")
            .json(&json!({"status": "hi"}))
            .send()
            .await
            .unwrap(),
        401,
    )
    .await;
    assert_error(
        app.http
            .get(app.url("/api/v1/timelines/home"))
            .send()
            .await
            .unwrap(),
        401,
    )
    .await;
    assert_error(
        app.http
            .post(app.url(&format!("/api/v1/accounts/{}/follow", ann.id)))
            .send()
            .await
            .unwrap(),
        401,
    )
    .await;
    assert_error(
        app.http
            .post(app.url(&format!("/api/v1/accounts/{}/follow", ann.id)))
            .bearer_auth(&ann.token)
            .send()
            .await
            .unwrap(),
        422,
    )
    .await;
    assert_error(
        app.http
            .post(app.url("/oauth/token"))
            .form(&[
                ("grant_type", "password"),
                ("client_id", "nope"),
                ("client_secret", "nope"),
            ])
            .send()
            .await
            .unwrap(),
        401,
    )
    .await;
    assert_error(
        app.http
            .post(app.url("/api/v1/apps"))
            .json(&json!({"client_name": "x"}))
            .send()
            .await
            .unwrap(),
        422,
    )
    .await;
    assert_eq!(public_count(&app).await, 0);
}

async fn bad_registrations_name_the_field(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    app.register("taken").await;
    let token = app.app_token("read write").await;
    let reg = |body: Value| {
        app.http
            .post(app.url("/api/v1/accounts"))
            .bearer_auth(&token)
            .json(&body)
            .send()
    };
    let e = assert_error(
        reg(json!({"username": "Taken", "password": "long enough pw", "email": "a@b.c"}))
            .await
            .unwrap(),
        422,
    )
    .await;
    assert_eq!(e["details"]["username"][0]["error"], "ERR_TAKEN");
    let e = assert_error(
        reg(json!({"username": "no spaces", "password": "short"}))
            .await
            .unwrap(),
        422,
    )
    .await;
    assert!(e["details"]["username"].is_array() && e["details"]["password"].is_array());
    assert_error(
        app.http
            .post(app.url("/api/v1/accounts"))
            .json(&json!({"username": "x"}))
            .send()
            .await
            .unwrap(),
        401,
    )
    .await;
}

async fn closed_registrations_are_refused(b: Backend) {
    let Some(app) = spawn_with(b, |c| {
        c.registrations = tidings::config::Registrations::Closed
    })
    .await
    else {
        return;
    };
    let token = app.app_token("read write").await;
    let res = app
        .http
        .post(app.url("/api/v1/accounts"))
        .bearer_auth(&token)
        .json(&json!({"username": "newbie", "password": "long enough pw"}))
        .send()
        .await
        .unwrap();
    assert_error(res, 403).await;
    let (_, v2) = app.get_json("/api/v2/instance", None).await;
    assert_eq!(v2["registrations"]["enabled"], false);
    assert!(
        v2["version"]
            .as_str()
            .unwrap()
            .starts_with("4.3.0 (compatible; Tidings ")
    );
    assert!(
        v2["configuration"]["urls"]["streaming"]
            .as_str()
            .unwrap()
            .starts_with("ws://")
    );
}
