//! The pages, read as a browser with JavaScript off would: the live feed, a tag's event
//! page, a profile, a thread with its corrections, search, and the embed — escaped,
//! framed only where meant to be, and showing only what anyone may read.

mod common;

use common::{Backend, spawn};
use reqwest::Method;
use serde_json::json;

on_both_backends!(pages_show_the_news_without_javascript);

async fn html(app: &common::TestApp, path: &str) -> (u16, reqwest::header::HeaderMap, String) {
    let res = app
        .http
        .get(app.url(path))
        .header("accept", "text/html,application/xhtml+xml")
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    (status, headers, res.text().await.unwrap())
}

async fn pages_show_the_news_without_javascript(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let (ann, bob) = (app.register("ann").await, app.register("bob").await);
    let (s, _) = app
        .call(
            Method::PATCH,
            "/api/v1/accounts/update_credentials",
            &bob.token,
            Some(json!({"display_name": "<b onclick=x>Bob</b>"})),
        )
        .await;
    assert_eq!(s, 200);
    let first = app
        .post(
            &ann,
            "Polls close at 8 pm #election <script>alert(1)</script>",
        )
        .await;
    let id = first["id"].as_str().unwrap().to_string();
    let (s, _) = app
        .call(
            Method::PUT,
            &format!("/api/v1/statuses/{id}"),
            &ann.token,
            Some(json!({"status": "Polls close at 9 pm #election <script>alert(1)</script>"})),
        )
        .await;
    assert_eq!(s, 200);
    app.post_with(
        &bob,
        json!({"status": "Thanks for the correction", "in_reply_to_id": id}),
    )
    .await;
    let private = app
        .post_with(
            &ann,
            json!({"status": "followers only #election", "visibility": "private"}),
        )
        .await;
    let private_id = private["id"].as_str().unwrap();

    // The live front page.
    let (s, h, body) = html(&app, "/").await;
    assert_eq!(s, 200);
    assert!(h["content-type"].to_str().unwrap().starts_with("text/html"));
    let csp = h["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert!(csp.contains("frame-ancestors 'none'"));
    assert_eq!(h["x-frame-options"], "DENY");
    assert!(body.contains("Polls close at 9 pm"), "{body}");
    assert!(!body.contains("<script>alert"), "author markup is escaped");
    assert!(body.contains("&lt;script&gt;"));
    assert!(!body.contains("<b onclick"), "display names are escaped");
    assert!(!body.contains("followers only"));
    assert!(body.contains(r#"data-stream="public:local""#));
    assert!(body.contains("/assets/live-"), "the live client is linked");

    // A tag's event page.
    let (s, _, body) = html(&app, "/tags/Election").await;
    assert_eq!(s, 200);
    assert!(body.contains("Polls close at 9 pm"));
    assert!(body.contains(r#"data-tag="election""#));
    assert!(!body.contains("followers only"));
    let (s, _, _) = html(&app, "/tags/no%20such").await;
    assert_eq!(s, 404);

    // A profile, and one notice with its thread and its correction visible as one.
    let (s, _, body) = html(&app, "/@ann").await;
    assert_eq!(s, 200);
    assert!(body.contains("Polls close at 9 pm"));
    assert!(!body.contains("followers only"));
    let (s, _, body) = html(&app, &format!("/@ann/{id}")).await;
    assert_eq!(s, 200);
    assert!(
        body.contains("Thanks for the correction"),
        "replies are shown"
    );
    assert!(body.contains("edited"), "the edit is marked");
    assert!(
        body.contains("Polls close at 8 pm"),
        "the earlier version is visible"
    );
    let (s, _, _) = html(&app, &format!("/@ann/{private_id}")).await;
    assert_eq!(s, 404, "a private notice has no public page");
    let (s, _, _) = html(&app, &format!("/@bob/{id}")).await;
    assert_eq!(s, 404, "a notice lives under its author");
    // The same address still answers an API client with JSON.
    let (s, v) = app.get_json(&format!("/@ann/{id}"), None).await;
    assert_eq!((s, v["id"].as_str()), (200, Some(id.as_str())));

    // Search over all history.
    let (s, _, body) = html(&app, "/search?q=polls").await;
    assert_eq!(s, 200);
    assert!(body.contains("Polls close at 9 pm"));
    let (_, _, body) = html(&app, "/search?q=%23elec").await;
    assert!(body.contains("/tags/election"), "tags by prefix");
    let (s, _, _) = html(&app, "/search?q=x&offset=-1").await;
    assert_eq!(s, 400);

    // The embed may be framed anywhere; it has no site header.
    let (s, h, body) = html(&app, "/embed/tags/election").await;
    assert_eq!(s, 200);
    assert!(h.get("x-frame-options").is_none());
    assert!(
        h["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("frame-ancestors *")
    );
    assert!(body.contains("Polls close at 9 pm"));
    assert!(!body.contains("class=\"top\""));

    // Static files: hashed names, cached for a year, revalidated by ETag, gzipped.
    let css = body
        .split("href=\"")
        .find_map(|p| p.split('"').next().filter(|u| u.ends_with(".css")))
        .expect("a stylesheet")
        .to_string();
    let res = app.http.get(app.url(&css)).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("immutable")
    );
    let etag = res.headers()["etag"].clone();
    let res = app
        .http
        .get(app.url(&css))
        .header("if-none-match", etag)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 304);
    let res = app
        .http
        .get(app.url(&css))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["content-encoding"], "gzip");
    let res = app
        .http
        .get(app.url("/assets/nope.css"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
}
