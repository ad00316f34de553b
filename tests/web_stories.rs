//! The pages, read as a browser with JavaScript off would: the live feed, a tag's event
//! page, a profile, a thread with its corrections, search, and the embed — escaped,
//! framed only where meant to be, and showing only what anyone may read.

mod common;

use common::{Backend, csrf_of, spawn, spawn_with};
use reqwest::Method;
use serde_json::json;

on_both_backends!(
    pages_show_the_news_without_javascript,
    a_reporter_signs_in_posts_and_deletes_from_the_page,
    a_newcomer_signs_up_and_posts_a_photo_from_the_page
);

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

    // Pages are gzipped for clients that take it.
    let res = app
        .http
        .get(app.url("/"))
        .header("accept", "text/html")
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["content-encoding"], "gzip");

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

/// The form token in a page (the first one).
fn form_token(html: &str) -> String {
    let marker = "name=\"authenticity_token\" value=\"";
    let at = html.find(marker).expect("a form with a CSRF token") + marker.len();
    html[at..].split('"').next().unwrap().to_string()
}

async fn a_reporter_signs_in_posts_and_deletes_from_the_page(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let ann = app.register("ann").await;
    let bob = app.register("bob").await;
    let theirs = app.post(&bob, "Bob's own notice").await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let form = |cookie: &str, pairs: &[(&str, &str)]| {
        http.post(app.url(""))
            .header("cookie", cookie.to_string())
            .form(
                &pairs
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect::<Vec<_>>(),
            )
    };
    let post = |path: &str, cookie: &str, pairs: &[(&str, &str)]| {
        let req = form(cookie, pairs);
        let mut req = req.build().unwrap();
        *req.url_mut() = reqwest::Url::parse(&app.url(path)).unwrap();
        http.execute(req)
    };

    // Sign in: a CSRF token and cookie first; a wrong password is told on the page.
    let page = http.get(app.url("/auth/sign_in")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let (signin_cookie, token) = csrf_of(page).await;
    let res = post(
        "/auth/sign_in",
        &signin_cookie,
        &[
            ("authenticity_token", "forged"),
            ("username", "ann"),
            ("password", "correct horse battery"),
        ],
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 403, "a forged form is refused");
    let res = post(
        "/auth/sign_in",
        &signin_cookie,
        &[
            ("authenticity_token", &token),
            ("username", "ann"),
            ("password", "wrong"),
        ],
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 401);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("Invalid username or password")
    );
    let res = post(
        "/auth/sign_in",
        &signin_cookie,
        &[
            ("authenticity_token", &token),
            ("username", "ann"),
            ("password", "correct horse battery"),
        ],
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 303);
    let set = res.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(set.starts_with("tidings_session="), "{set}");
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Lax"),
        "{set}"
    );
    let session = set.split(';').next().unwrap().to_string();

    // The composer, signed in.
    let home = |cookie: String| {
        let http = http.clone();
        let url = app.url("/");
        async move {
            http.get(url)
                .header("accept", "text/html")
                .header("cookie", cookie)
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap()
        }
    };
    let body = home(session.clone()).await;
    assert!(
        body.contains("Signed in as <strong>@ann</strong>"),
        "{body}"
    );
    let csrf = form_token(&body);

    // A post without the session's token changes nothing; with it, it goes out.
    let res = post(
        "/web/statuses",
        &session,
        &[("authenticity_token", "nope"), ("status", "forged post")],
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 403);
    let res = post(
        "/web/statuses",
        "",
        &[("authenticity_token", &csrf), ("status", "no session")],
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 401);
    let res = post(
        "/web/statuses",
        &session,
        &[
            ("authenticity_token", &csrf),
            ("back", "/"),
            ("status", "Counting starts now #election"),
            ("visibility", "public"),
        ],
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/");
    let (_, mine) = app
        .get_json(&format!("/api/v1/accounts/{}/statuses", ann.id), None)
        .await;
    assert!(
        mine[0]["content"]
            .as_str()
            .unwrap()
            .contains("Counting starts now")
    );
    let id = mine[0]["id"].as_str().unwrap().to_string();
    for p in ["forged post", "no session"] {
        assert!(!home(session.clone()).await.contains(p));
    }

    // A refused post shows the server's reason next to the text, which is kept.
    let long = "x".repeat(600);
    let res = post(
        "/web/statuses",
        &session,
        &[
            ("authenticity_token", &csrf),
            ("back", "/tags/election"),
            ("status", &long),
        ],
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 422);
    let body = res.text().await.unwrap();
    assert!(body.contains("role=\"alert\""), "{body}");
    assert!(body.contains(&long), "the draft is kept");
    // An offsite `back` is not followed.
    let res = post(
        "/web/statuses",
        &session,
        &[
            ("authenticity_token", &csrf),
            ("back", "//evil.example/x"),
            ("status", "fine"),
        ],
    )
    .await
    .unwrap();
    assert_eq!(res.headers()["location"], "/");

    // Correct it from its page: the earlier version stays visible; a refused correction
    // says why, with her words kept; no one else may correct it.
    let thread = format!("/@ann/{id}");
    let page = http
        .get(app.url(&thread))
        .header("accept", "text/html")
        .header("cookie", session.clone())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Correct this notice"), "{page}");
    let res = post(
        &format!("/web/statuses/{id}/edit"),
        &session,
        &[
            ("authenticity_token", &csrf),
            ("status", "Counting started at 7:58 #election"),
        ],
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], thread.as_str());
    let res = app
        .http
        .get(app.url(&thread))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    let body = res.text().await.unwrap();
    assert!(body.contains("Counting started at 7:58"));
    assert!(
        body.contains("Counting starts now"),
        "the earlier version is shown"
    );
    let res = post(
        &format!("/web/statuses/{id}/edit"),
        &session,
        &[("authenticity_token", &csrf), ("status", &long)],
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 422);
    assert!(res.text().await.unwrap().contains(&long));
    let bob_thread = theirs["id"].as_str().unwrap();
    let res = post(
        &format!("/web/statuses/{bob_thread}/edit"),
        &session,
        &[("authenticity_token", &csrf), ("status", "not mine")],
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 404);

    // Delete her own; another's is not hers to delete.
    let res = post(
        &format!("/web/statuses/{}/delete", theirs["id"].as_str().unwrap()),
        &session,
        &[("authenticity_token", &csrf)],
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 404);
    let res = post(
        &format!("/web/statuses/{id}/delete"),
        &session,
        &[("authenticity_token", &csrf), ("back", "/")],
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 303);
    let (s, _) = app.get_json(&format!("/api/v1/statuses/{id}"), None).await;
    assert_eq!(s, 404);

    // Signing out ends the session for good.
    let res = post("/auth/sign_out", &session, &[("authenticity_token", &csrf)])
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert!(
        res.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    let body = home(session.clone()).await;
    assert!(body.contains("/auth/sign_in") && !body.contains("Signed in as"));
    let res = post(
        "/web/statuses",
        &session,
        &[("authenticity_token", &csrf), ("status", "after sign-out")],
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 401);
}

/// A small JPEG, as a phone's camera would send (only smaller).
fn photo() -> Vec<u8> {
    let img = image::RgbImage::from_fn(64, 48, |x, y| {
        image::Rgb([(x * 4) as u8, (y * 5) as u8, 90])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(img)
        .write_to(&mut out, image::ImageFormat::Jpeg)
        .unwrap();
    out.into_inner()
}

async fn a_newcomer_signs_up_and_posts_a_photo_from_the_page(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    app.register("ann").await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let sign_up = |cookie: String, pairs: Vec<(&'static str, String)>| {
        http.post(app.url("/auth/sign_up"))
            .header("cookie", cookie)
            .form(&pairs)
            .send()
    };
    let page = http.get(app.url("/auth/sign_in")).send().await.unwrap();
    assert!(
        page.text().await.unwrap().contains("/auth/sign_up"),
        "sign-in links to sign-up"
    );
    let page = http.get(app.url("/auth/sign_up")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let (cookie, token) = csrf_of(page).await;
    let form = |username: &str, password: &str, csrf: &str| {
        vec![
            ("authenticity_token", csrf.to_string()),
            ("username", username.to_string()),
            ("email", format!("{username}@example.org")),
            ("password", password.to_string()),
        ]
    };
    let res = sign_up(cookie.clone(), form("carol", "long enough pass", "forged"))
        .await
        .unwrap();
    assert_eq!(res.status(), 403, "a forged form is refused");
    // A name taken, a bad name, a short password: told on the page, with what she typed.
    for (name, password, says) in [
        ("ann", "long enough pass", "taken"),
        ("no spaces", "long enough pass", "Username"),
        ("carol", "short", "Password"),
    ] {
        let res = sign_up(cookie.clone(), form(name, password, &token))
            .await
            .unwrap();
        assert_eq!(res.status(), 422, "{name}");
        let body = res.text().await.unwrap();
        assert!(
            body.contains("role=\"alert\"") && body.contains(says),
            "{says}: {body}"
        );
        assert!(
            body.contains(&format!("value=\"{name}\"")),
            "the name is kept"
        );
    }
    let (s, found) = app
        .get_json("/api/v1/accounts/lookup?acct=carol", None)
        .await;
    assert_eq!(s, 404, "nothing was made: {found}");
    let res = sign_up(cookie.clone(), form("carol", "long enough pass", &token))
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let set = res.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(
        set.starts_with("tidings_session=") && set.contains("HttpOnly"),
        "{set}"
    );
    let session = set.split(';').next().unwrap().to_string();
    let body = http
        .get(app.url("/"))
        .header("accept", "text/html")
        .header("cookie", session.clone())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        body.contains("Signed in as <strong>@carol</strong>"),
        "{body}"
    );
    assert!(body.contains("enctype=\"multipart/form-data\""));
    let csrf = form_token(&body);

    // A photo with its description, from the composer's form.
    let post = |parts: reqwest::multipart::Form| {
        http.post(app.url("/web/statuses"))
            .header("cookie", session.clone())
            .multipart(parts)
            .send()
    };
    let text_part = |k: &'static str, v: &str| (k, v.to_string());
    let fields = |status: &str| {
        [
            text_part("authenticity_token", &csrf),
            text_part("back", "/"),
            text_part("status", status),
            text_part("visibility", "public"),
            text_part("description", "Queue outside the polling station"),
        ]
    };
    let mut parts = reqwest::multipart::Form::new();
    for (k, v) in fields("The queue at noon #election") {
        parts = parts.text(k, v);
    }
    parts = parts.part(
        "file",
        reqwest::multipart::Part::bytes(photo())
            .file_name("queue.jpg")
            .mime_str("image/jpeg")
            .unwrap(),
    );
    let res = post(parts).await.unwrap();
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
    let (_, carol) = app
        .get_json("/api/v1/accounts/lookup?acct=carol", None)
        .await;
    let statuses = format!(
        "/api/v1/accounts/{}/statuses",
        carol["id"].as_str().unwrap()
    );
    let (_, mine) = app.get_json(&statuses, None).await;
    assert_eq!(mine.as_array().unwrap().len(), 1);
    let media = &mine[0]["media_attachments"];
    assert_eq!(media.as_array().unwrap().len(), 1, "{mine}");
    assert_eq!(media[0]["description"], "Queue outside the polling station");
    let (_, h, page) = html(
        &app,
        &format!("/@carol/{}", mine[0]["id"].as_str().unwrap()),
    )
    .await;
    assert_eq!(
        h["content-type"].to_str().unwrap().split(';').next(),
        Some("text/html")
    );
    assert!(
        page.contains("alt=\"Queue outside the polling station\""),
        "{page}"
    );

    // An empty file field (no photo chosen) posts text alone; a file that is no image
    // is refused next to the text, and nothing is posted.
    let mut parts = reqwest::multipart::Form::new();
    for (k, v) in fields("Text alone") {
        parts = parts.text(k, v);
    }
    parts = parts.part(
        "file",
        reqwest::multipart::Part::bytes(Vec::new()).file_name(""),
    );
    assert_eq!(post(parts).await.unwrap().status(), 303);
    let mut parts = reqwest::multipart::Form::new();
    for (k, v) in fields("Not a photo") {
        parts = parts.text(k, v);
    }
    parts = parts.part(
        "file",
        reqwest::multipart::Part::bytes(b"#!/bin/sh\necho hi\n".to_vec())
            .file_name("x.jpg")
            .mime_str("image/jpeg")
            .unwrap(),
    );
    let res = post(parts).await.unwrap();
    assert_eq!(res.status(), 422);
    let body = res.text().await.unwrap();
    assert!(
        body.contains("role=\"alert\"") && body.contains("Not a photo"),
        "{body}"
    );
    let (_, mine) = app.get_json(&statuses, None).await;
    let texts: Vec<&str> = mine
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["content"].as_str().unwrap())
        .collect();
    assert_eq!(texts.len(), 2, "{texts:?}");
    assert!(texts[0].contains("Text alone"));

    // Her page's stream, signed in by the cookie, is hers; the same cookie sent by
    // another site's page is refused (cross-site WebSocket hijacking).
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let ws_with = |origin: &str| {
        let mut req = app
            .ws_url("/api/v1/streaming")
            .into_client_request()
            .unwrap();
        req.headers_mut().insert("cookie", session.parse().unwrap());
        req.headers_mut().insert("origin", origin.parse().unwrap());
        tokio_tungstenite::connect_async(req)
    };
    match ws_with("https://evil.example").await {
        Err(tokio_tungstenite::tungstenite::Error::Http(r)) => assert_eq!(r.status(), 403),
        other => panic!(
            "a cross-site cookie WebSocket must be refused: {:?}",
            other.map(|_| ())
        ),
    }
    let (mut ws, _) = ws_with(&app.base).await.expect("same origin");
    common::ws_send(&mut ws, json!({"type": "subscribe", "stream": "user"})).await;
    tokio::time::sleep(common::QUIET).await;
    let mut parts = reqwest::multipart::Form::new();
    for (k, v) in fields("Seen on my own stream") {
        parts = parts.text(k, v);
    }
    assert_eq!(post(parts).await.unwrap().status(), 303);
    let frame = common::ws_next(&mut ws, common::WAIT)
        .await
        .expect("an update on the user stream");
    assert_eq!(frame["event"], "update");
    assert!(
        frame["payload"]
            .as_str()
            .unwrap()
            .contains("Seen on my own stream")
    );

    // Closed registrations: the page says so, and a form is refused.
    let Some(closed) = spawn_with(b, |c| {
        c.registrations = tidings::config::Registrations::Closed
    })
    .await
    else {
        return;
    };
    let page = http.get(closed.url("/auth/sign_up")).send().await.unwrap();
    assert_eq!(page.status(), 403);
    assert!(
        page.text()
            .await
            .unwrap()
            .contains("not taking new accounts")
    );
    // A matching cookie and field, as a script would send them.
    let res = http
        .post(closed.url("/auth/sign_up"))
        .header("cookie", "tidings_signin=abc")
        .form(&form("dave", "long enough pass", "abc"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let (s, _) = closed
        .get_json("/api/v1/accounts/lookup?acct=dave", None)
        .await;
    assert_eq!(s, 404);
    let body = http
        .get(closed.url("/auth/sign_in"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!body.contains("/auth/sign_up"), "no link to a closed door");
}
