//! The OpenAPI document (`/api/openapi.json`): valid OpenAPI 3.1 by a real validator
//! (`openapi-spec-validator`, in the Python of `TIDINGS_TEST_PYTHON`), naming every route
//! of the table the router is checked against (`tests/scopes.rs`), and true of real
//! answers: a node's answers to a day's worth of activity conform to the schemas the
//! document gives them (`jsonschema`, 2020-12).

mod common;

use common::{Backend, TestApp, spawn};
use reqwest::Method;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};
use tidings::api::openapi::ROUTES;

/// Python with the validator, or `None` (a loud skip; a failure under `CI=true`).
fn python() -> Option<String> {
    let python = std::env::var("TIDINGS_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let has = std::process::Command::new(&python)
        .args(["-c", "import openapi_spec_validator, jsonschema"])
        .status()
        .is_ok_and(|s| s.success());
    if has {
        return Some(python);
    }
    let what = "openapi-spec-validator is not installed in TIDINGS_TEST_PYTHON \
                (pip install openapi-spec-validator)";
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("CI=true but {what}");
    }
    eprintln!("\n*** SKIPPED: {what} ***\n");
    None
}

fn png() -> Vec<u8> {
    let img = image::RgbImage::from_fn(64, 48, |x, y| image::Rgb([x as u8 * 4, y as u8 * 5, 90]));
    let mut out = std::io::Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(img)
        .write_to(&mut out, image::ImageFormat::Png)
        .unwrap();
    out.into_inner()
}

async fn ok(app: &TestApp, method: Method, path: &str, token: &str, body: Value) -> Value {
    let (status, v) = app.call(method.clone(), path, token, Some(body)).await;
    assert_eq!(status, 200, "{method} {path}: {v}");
    v
}

async fn the_document_is_valid_and_true_of_real_answers(b: Backend) {
    let Some(app) = spawn(b).await else { return };

    // Every route of the table is in the document, with its method and security.
    let (status, doc) = app.get_json("/api/openapi.json", None).await;
    assert_eq!(status, 200);
    assert_eq!(doc["openapi"], "3.1.0");
    for r in ROUTES {
        let path = r.path.replace("{*stream}", "public");
        let op = &doc["paths"][&path][r.method.to_ascii_lowercase()];
        assert!(op.is_object(), "{} {} is not described", r.method, r.path);
        assert!(op["summary"].as_str().is_some_and(|s| !s.is_empty()));
    }
    let home = &doc["paths"]["/api/v1/timelines/home"]["get"];
    assert_eq!(home["security"], json!([{"OAuth2": ["read:statuses"]}]));
    assert_eq!(
        home["responses"]["200"]["content"]["application/json"]["schema"]["items"]["$ref"],
        "#/components/schemas/Status"
    );
    for field in ["id", "content", "account", "visibility", "edited_at"] {
        assert!(
            doc["components"]["schemas"]["Status"]["properties"][field].is_object(),
            "Status.{field} is derived from the type"
        );
    }

    // A day's activity, so that the answers carry what the schemas describe: boosts,
    // polls, images, edits, mentions, conversations, filters, announcements, an event.
    let (alice, bob) = (app.register("alice").await, app.register("bob").await);
    app.make_admin(&alice).await;
    app.follow(&bob, &alice, true).await;
    let res = app
        .http
        .post(app.url("/api/v2/media"))
        .bearer_auth(&alice.token)
        .multipart(
            Form::new()
                .part("file", Part::bytes(png()).file_name("p.png"))
                .text("description", "The count"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    let media: Value = res.json().await.unwrap();
    let mid = media["id"].as_str().unwrap().to_string();
    let notice = app
        .post_with(
            &alice,
            json!({"status": "Results at 9 #vote", "media_ids": [mid]}),
        )
        .await;
    let sid = notice["id"].as_str().unwrap().to_string();
    let poll = app
        .post_with(
            &alice,
            json!({"status": "Who wins? #vote", "poll": {"options": ["A", "B"], "expires_in": 600}}),
        )
        .await;
    let pid = poll["poll"]["id"].as_str().unwrap().to_string();
    ok(
        &app,
        Method::POST,
        &format!("/api/v1/polls/{pid}/votes"),
        &bob.token,
        json!({"choices": [0]}),
    )
    .await;
    ok(
        &app,
        Method::PUT,
        &format!("/api/v1/statuses/{sid}"),
        &alice.token,
        json!({"status": "Results at 10 #vote", "media_ids": [mid]}),
    )
    .await;
    ok(
        &app,
        Method::POST,
        &format!("/api/v1/statuses/{sid}/reblog"),
        &bob.token,
        json!({}),
    )
    .await;
    ok(
        &app,
        Method::POST,
        &format!("/api/v1/statuses/{sid}/favourite"),
        &bob.token,
        json!({}),
    )
    .await;
    ok(
        &app,
        Method::POST,
        &format!("/api/v1/statuses/{sid}/bookmark"),
        &bob.token,
        json!({}),
    )
    .await;
    app.post_with(
        &bob,
        json!({"status": "@alice thanks", "in_reply_to_id": sid}),
    )
    .await;
    app.post_with(
        &bob,
        json!({"status": "@alice a word in private", "visibility": "direct"}),
    )
    .await;
    ok(&app, Method::POST, "/api/v2/filters", &bob.token, json!({"title": "Spoilers", "context": ["home"], "filter_action": "warn", "keywords_attributes": [{"keyword": "finale"}]})).await;
    let admin = app
        .grant_with(
            &alice,
            "read write follow push profile admin:write",
            "admin:write",
        )
        .await
        .token;
    ok(
        &app,
        Method::POST,
        "/api/v1/admin/announcements",
        &admin,
        json!({"text": "Polls close at 8"}),
    )
    .await;
    ok(
        &app,
        Method::POST,
        "/api/v1/tidings/events",
        &alice.token,
        json!({"slug": "vote", "title": "Vote", "tags": ["vote"], "state": "live"}),
    )
    .await;
    app.post(&alice, "Turnout 60% #vote").await;

    let Some(python) = python() else { return };
    // Bob's view (his home has the boost, his bookmarks and filters), then Alice's (her
    // notifications and her upload).
    let bobs = [
        "/api/v1/timelines/public".to_string(),
        "/api/v1/timelines/home".into(),
        "/api/v1/timelines/tag/vote".into(),
        "/api/v1/accounts/verify_credentials".into(),
        format!("/api/v1/accounts/{}", alice.id),
        format!("/api/v1/accounts/{}/statuses", alice.id),
        format!("/api/v1/accounts/{}/followers", alice.id),
        format!("/api/v1/statuses/{sid}"),
        format!("/api/v1/statuses/{sid}/context"),
        format!("/api/v1/statuses/{sid}/history"),
        format!("/api/v1/statuses/{sid}/favourited_by"),
        format!("/api/v1/polls/{pid}"),
        "/api/v1/conversations".into(),
        "/api/v1/announcements".into(),
        "/api/v2/filters".into(),
        "/api/v1/bookmarks".into(),
        "/api/v1/favourites".into(),
        "/api/v1/trends/statuses".into(),
        "/api/v1/tidings/events".into(),
        "/api/v1/tidings/events/vote".into(),
        "/api/v1/tidings/events/vote/timeline".into(),
        "/api/v1/tidings/events/vote/editors".into(),
    ];
    let alices = [
        format!("/api/v1/media/{mid}"),
        "/api/v1/notifications".to_string(),
        "/api/v1/conversations".into(),
    ];
    for (token, paths) in [(&bob.token, &bobs[..]), (&alice.token, &alices[..])] {
        let out = std::process::Command::new(&python)
            .arg(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/openapi/check.py"
            ))
            .arg(&app.base)
            .arg(token)
            .args(paths)
            .output()
            .expect("run the checker");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let report: Value = serde_json::from_str(&stdout).unwrap();
        assert_eq!(report["checked"].as_array().unwrap().len(), paths.len());
        // The answers were not empty: the schemas met real entities.
        for c in report["checked"].as_array().unwrap() {
            assert!(
                c["items"].is_null() || c["items"].as_u64().unwrap() > 0,
                "{c}"
            );
        }
    }
}

on_both_backends!(the_document_is_valid_and_true_of_real_answers);
