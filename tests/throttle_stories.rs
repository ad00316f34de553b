//! Stories of the sign-in, sign-up and app-registration throttles: an attacker guessing
//! passwords is stopped with Mastodon's 429 and its headers; a real user is not locked
//! out by someone else's address.

mod common;

use common::{Backend, TestApp, spawn_with};
use serde_json::{Value, json};

on_both_backends!(
    guessing_passwords_from_one_address_is_stopped_with_429,
    guessing_one_accounts_password_from_many_addresses_is_stopped,
    signing_up_and_registering_apps_are_throttled_per_address,
);

async fn app_credentials(app: &TestApp) -> (String, String) {
    app.create_app(common::OOB, "read").await
}

/// A password grant from `from` (a loopback source address); the answer.
async fn sign_in(
    app: &TestApp,
    from: &str,
    (id, secret): &(String, String),
    user: &str,
    password: &str,
) -> reqwest::Response {
    let http = reqwest::Client::builder()
        .local_address(from.parse::<std::net::IpAddr>().unwrap())
        .build()
        .unwrap();
    http.post(app.url("/oauth/token"))
        .form(&[
            ("grant_type", "password"),
            ("client_id", id),
            ("client_secret", secret),
            ("username", user),
            ("password", password),
            ("scope", "read"),
        ])
        .send()
        .await
        .unwrap()
}

async fn guessing_passwords_from_one_address_is_stopped_with_429(b: Backend) {
    let Some(app) = spawn_with(b, |c| c.sign_in_attempts_per_ip = 5).await else {
        return;
    };
    // The harness raised the limit for stories; this one wants the real thing.
    let alice = app.register("alice").await;
    let creds = app_credentials(&app).await;
    for i in 0..5 {
        let who = if i % 2 == 0 { "alice" } else { "nobody" };
        let res = sign_in(&app, "127.0.0.1", &creds, who, "wrong guess").await;
        assert_eq!(res.status(), 400, "attempt {i} is checked");
    }
    let res = sign_in(&app, "127.0.0.1", &creds, "alice", "correct horse battery").await;
    assert_eq!(
        res.status(),
        429,
        "the sixth attempt is refused, even a right one"
    );
    let h = res.headers();
    assert!(
        h.get("retry-after")
            .unwrap()
            .to_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            >= 1
    );
    assert_eq!(h.get("x-ratelimit-limit").unwrap(), "5");
    assert_eq!(h.get("x-ratelimit-remaining").unwrap(), "0");
    assert!(h.get("x-ratelimit-reset").is_some());
    let body: Value = res.json().await.unwrap();
    assert!(body["error"].is_string());
    // Another address is not held back by the first one's guesses.
    let res = sign_in(
        &app,
        "127.0.0.2",
        &creds,
        &alice.username,
        "correct horse battery",
    )
    .await;
    assert_eq!(res.status(), 200);
}

async fn guessing_one_accounts_password_from_many_addresses_is_stopped(b: Backend) {
    let Some(app) = spawn_with(b, |c| c.sign_in_attempts_per_account = 3).await else {
        return;
    };
    app.register("alice").await;
    app.register("bob").await;
    let creds = app_credentials(&app).await;
    for i in 0..3 {
        let from = format!("127.0.0.{}", 10 + i);
        let res = sign_in(&app, &from, &creds, "alice", "wrong guess").await;
        assert_eq!(res.status(), 400);
    }
    let res = sign_in(&app, "127.0.0.20", &creds, "alice", "wrong guess").await;
    assert_eq!(
        res.status(),
        429,
        "alice's account is protected from a botnet"
    );
    let res = sign_in(&app, "127.0.0.20", &creds, "bob", "correct horse battery").await;
    assert_eq!(res.status(), 200, "bob is not");
}

async fn signing_up_and_registering_apps_are_throttled_per_address(b: Backend) {
    let Some(app) = spawn_with(b, |c| {
        c.sign_ups_per_ip = 2;
        c.apps_per_ip = 4;
    })
    .await
    else {
        return;
    };
    let token = app.app_token("read write").await; // app 1
    let mut statuses = Vec::new();
    for i in 0..3 {
        let res = app
            .http
            .post(app.url("/api/v1/accounts"))
            .bearer_auth(&token)
            .json(&json!({"username": format!("new{i}"), "password": "correct horse battery", "agreement": true}))
            .send()
            .await
            .unwrap();
        statuses.push(res.status().as_u16());
    }
    assert_eq!(statuses, [200, 200, 429]);
    let (mut last, mut refused) = (0, false);
    for _ in 0..4 {
        let res = app
            .http
            .post(app.url("/api/v1/apps"))
            .json(&json!({"client_name": "spam", "redirect_uris": "urn:ietf:wg:oauth:2.0:oob"}))
            .send()
            .await
            .unwrap();
        last = res.status().as_u16();
        refused |= last == 429;
    }
    assert!(
        refused && last == 429,
        "the fifth app from one address is refused"
    );
}
