//! Stories of OAuth refusing what RFC 6749, RFC 7636 and RFC 8252 refuse: redirect URIs a
//! browser would run, a code redeemed without its redirect URI, a PKCE challenge without
//! a method, a sign-in form posted from another site or framed by one.

mod common;

use common::{Backend, spawn};
use serde_json::json;

on_both_backends!(
    only_safe_redirect_uris_can_be_registered,
    the_sign_in_page_refuses_framing_and_forged_posts,
    a_code_needs_its_redirect_uri_and_pkce_needs_s256,
);

async fn only_safe_redirect_uris_can_be_registered(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let register = |uri: &str| {
        let req = app
            .http
            .post(app.url("/api/v1/apps"))
            .json(&json!({"client_name": "c", "redirect_uris": uri}));
        async move { req.send().await.unwrap().status().as_u16() }
    };
    for bad in [
        "javascript:alert(document.cookie)",
        "data:text/html,<script>alert(1)</script>",
        "http://evil.example/cb",
        "vbscript:x",
        "not a uri",
    ] {
        assert_eq!(register(bad).await, 422, "{bad}");
    }
    for good in [
        "https://client.example/cb",
        "http://127.0.0.1:4000/cb",
        "http://localhost/cb",
        "com.example.app:/oauth",
        "urn:ietf:wg:oauth:2.0:oob",
    ] {
        assert_eq!(register(good).await, 200, "{good}");
    }
}

/// A web client registered with `https://client.example/cb`: its id and secret.
async fn client(app: &common::TestApp) -> (String, String) {
    app.create_app("https://client.example/cb", "read").await
}

async fn the_sign_in_page_refuses_framing_and_forged_posts(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    app.register("dina").await;
    let (id, _) = client(&app).await;
    let id = id.as_str();
    let page = app
        .http
        .get(app.url(&format!("/oauth/authorize?response_type=code&client_id={id}&redirect_uri=https://client.example/cb&scope=read")))
        .send()
        .await
        .unwrap();
    assert_eq!(page.headers()["x-frame-options"], "DENY");
    assert!(
        page.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'")
    );
    let (cookie, csrf) = common::csrf_of(page).await;
    let post = |cookie: Option<&str>, token: Option<&str>| {
        let mut form = vec![
            ("response_type", "code"),
            ("client_id", id),
            ("redirect_uri", "https://client.example/cb"),
            ("scope", "read"),
            ("username", "dina"),
            ("password", "correct horse battery"),
        ];
        if let Some(t) = token {
            form.push(("authenticity_token", t));
        }
        let mut req = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
            .post(app.url("/oauth/authorize"))
            .form(&form);
        if let Some(c) = cookie {
            req = req.header("cookie", c);
        }
        async move { req.send().await.unwrap().status().as_u16() }
    };
    assert_eq!(post(None, None).await, 403, "no token");
    assert_eq!(
        post(None, Some(&csrf)).await,
        403,
        "a token without its cookie (another site)"
    );
    assert_eq!(
        post(Some("tidings_csrf=forged"), Some("forged2")).await,
        403,
        "mismatch"
    );
    assert_eq!(post(Some(&cookie), Some(&csrf)).await, 303, "the real form");
}

async fn a_code_needs_its_redirect_uri_and_pkce_needs_s256(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    app.register("dina").await;
    let (id, secret) = client(&app).await;
    let page_url = |extra: &str| {
        app.url(&format!("/oauth/authorize?response_type=code&client_id={id}&redirect_uri=https://client.example/cb&scope=read{extra}"))
    };
    // A challenge without a method means `plain` (RFC 7636 §4.3): refused.
    let res = app
        .http
        .get(page_url("&code_challenge=abc"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let (cookie, csrf) = common::csrf_of(app.http.get(page_url("")).send().await.unwrap()).await;
    let res = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(app.url("/oauth/authorize"))
        .header("cookie", cookie)
        .form(&[
            ("response_type", "code"),
            ("client_id", id.as_str()),
            ("redirect_uri", "https://client.example/cb"),
            ("scope", "read"),
            ("username", "dina"),
            ("password", "correct horse battery"),
            ("authenticity_token", csrf.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let location = url::Url::parse(res.headers()["location"].to_str().unwrap()).unwrap();
    let code = location
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    let redeem = |with_uri: bool| {
        let mut form = vec![
            ("grant_type", "authorization_code".to_string()),
            ("client_id", id.clone()),
            ("client_secret", secret.clone()),
            ("code", code.clone()),
        ];
        if with_uri {
            form.push(("redirect_uri", "https://client.example/cb".into()));
        }
        let req = app.http.post(app.url("/oauth/token")).form(&form);
        async move { req.send().await.unwrap().status().as_u16() }
    };
    assert_eq!(redeem(false).await, 400, "no redirect_uri");
}
