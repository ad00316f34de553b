//! Atom and RSS feeds of the public timelines, read by a real feed parser (Python's
//! `feedparser`, in the Python of `TIDINGS_TEST_PYTHON`): what was deleted is gone, a
//! correction is there with its time, old entries page back with `max_id`, and a reader
//! that polls with the validators gets `304 Not Modified` until something changes.

mod common;

use common::{Backend, TestApp, spawn};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// What feedparser saw in each of `paths`, or `None` (a loud skip; a failure under
/// `CI=true`) where it is not installed.
fn parse(app: &TestApp, paths: &[&str]) -> Option<Vec<Value>> {
    let python = std::env::var("TIDINGS_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let has = std::process::Command::new(&python)
        .args(["-c", "import feedparser"])
        .status()
        .is_ok_and(|s| s.success());
    if !has {
        let what = "feedparser is not installed in TIDINGS_TEST_PYTHON (pip install feedparser)";
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("CI=true but {what}");
        }
        eprintln!("\n*** SKIPPED: {what} ***\n");
        return None;
    }
    let out = std::process::Command::new(&python)
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/feeds/read.py"))
        .args(paths.iter().map(|p| app.url(p)))
        .output()
        .expect("run feedparser");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(serde_json::from_slice(&out.stdout).expect("feedparser's report"))
}

async fn get(app: &TestApp, path: &str, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut req = app.http.get(app.url(path));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.send().await.unwrap()
}

async fn a_feed_reader_follows_the_story_as_it_is_now(backend: Backend) {
    let Some(app) = spawn(backend).await else {
        return;
    };
    let reporter = app.register("reporter").await;
    let first = app.post(&reporter, "Polls open at seven #election").await;
    let wrong = app.post(&reporter, "Turnout at 40% #election").await;
    let gone = app.post(&reporter, "A rumour, never mind #election").await;
    let _elsewhere = app.post(&reporter, "Lunch break").await;
    // A correction and a deletion.
    let res = app
        .http
        .put(app.url(&format!(
            "/api/v1/statuses/{}",
            wrong["id"].as_str().unwrap()
        )))
        .bearer_auth(&reporter.token)
        .json(&json!({"status": "Turnout at 46% (corrected) #election"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let res = app
        .http
        .delete(app.url(&format!(
            "/api/v1/statuses/{}",
            gone["id"].as_str().unwrap()
        )))
        .bearer_auth(&reporter.token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);

    // Types and validators.
    for (path, mime) in [
        ("/tags/election.atom", "application/atom+xml"),
        ("/tags/election.rss", "application/rss+xml"),
        ("/@reporter.atom", "application/atom+xml"),
        ("/local.rss", "application/rss+xml"),
    ] {
        let res = get(&app, path, &[]).await;
        assert_eq!(res.status(), StatusCode::OK, "{path}");
        let ct = res.headers()["content-type"].to_str().unwrap().to_string();
        assert!(ct.starts_with(mime), "{path}: {ct}");
        assert!(res.headers().contains_key("etag") && res.headers().contains_key("last-modified"));
    }

    let Some(feeds) = parse(
        &app,
        &[
            "/tags/election.atom",
            "/tags/election.rss",
            "/@reporter.atom",
            "/local.rss",
        ],
    ) else {
        return;
    };
    for f in &feeds {
        assert!(!f["bozo"].as_bool().unwrap(), "{f}");
    }
    let (atom, rss, profile, local) = (&feeds[0], &feeds[1], &feeds[2], &feeds[3]);
    assert_eq!(atom["version"], "atom10");
    assert_eq!(rss["version"], "rss20");
    let texts = |f: &Value| -> Vec<String> {
        f["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["content"].as_str().unwrap_or("").to_string())
            .collect()
    };
    for f in [atom, rss] {
        let t = texts(f);
        assert_eq!(t.len(), 2, "{f}");
        assert!(
            t[0].contains("46% (corrected)"),
            "newest first, corrected: {t:?}"
        );
        assert!(t[1].contains("Polls open at seven"), "{t:?}");
        assert!(
            !t.iter().any(|c| c.contains("rumour") || c.contains("40%")),
            "{t:?}"
        );
        assert!(
            f["link"].as_str().unwrap().ends_with("/tags/election"),
            "{f}"
        );
    }
    // Ids are the notices' URIs; an edited entry is updated after it was published.
    let corrected = &atom["entries"][0];
    assert_eq!(corrected["id"], wrong["uri"]);
    assert_eq!(corrected["link"], wrong["url"]);
    assert!(corrected["updated"].as_str().unwrap() > corrected["published"].as_str().unwrap());
    assert_eq!(atom["entries"][1]["id"], first["uri"]);
    assert!(corrected["author"].as_str().unwrap().contains("@reporter"));
    // The account's feed and the local one hold her other notice too.
    assert_eq!(texts(profile).len(), 3);
    assert!(texts(local).iter().any(|t| t.contains("Lunch break")));

    // Polling: the same feed is 304 by ETag; a change makes it new.
    let res = get(&app, "/tags/election.atom", &[]).await;
    let etag = res.headers()["etag"].to_str().unwrap().to_string();
    let modified = res.headers()["last-modified"].to_str().unwrap().to_string();
    let again = get(&app, "/tags/election.atom", &[("if-none-match", &etag)]).await;
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(again.headers()["etag"].to_str().unwrap(), etag);
    let res = app
        .http
        .delete(app.url(&format!(
            "/api/v1/statuses/{}",
            first["id"].as_str().unwrap()
        )))
        .bearer_auth(&reporter.token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let changed = get(&app, "/tags/election.atom", &[("if-none-match", &etag)]).await;
    assert_eq!(
        changed.status(),
        StatusCode::OK,
        "a deletion changes the feed"
    );
    assert!(
        !changed
            .text()
            .await
            .unwrap()
            .contains("Polls open at seven")
    );
    // The deleted notice was not the newest: the feed's date did not move, and a reader
    // asking by date still gets the feed without it.
    let by_date = get(
        &app,
        "/tags/election.atom",
        &[("if-modified-since", &modified)],
    )
    .await;
    assert_eq!(
        by_date.headers()["last-modified"].to_str().unwrap(),
        modified
    );
    assert_eq!(
        by_date.status(),
        StatusCode::OK,
        "a date cannot see a deletion"
    );
    assert!(
        !by_date
            .text()
            .await
            .unwrap()
            .contains("Polls open at seven")
    );

    // Old entries page back.
    let Some(paged) = parse(&app, &["/@reporter.atom?limit=1"]) else {
        return;
    };
    let next = paged[0]["links"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["rel"] == "next")
        .expect("a next link")["href"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(next.contains("max_id="), "{next}");
    let path = next.strip_prefix(&app.base).unwrap().to_string();
    let older = parse(&app, &[&path]).unwrap();
    assert_eq!(older[0]["entries"].as_array().unwrap().len(), 1);
    assert_ne!(older[0]["entries"][0]["id"], paged[0]["entries"][0]["id"]);

    // The pages say where their feeds are; unknown feeds are 404s.
    let page = get(&app, "/tags/election", &[("accept", "text/html")]).await;
    let html = page.text().await.unwrap();
    assert!(
        html.contains(r#"<link rel="alternate" type="application/atom+xml""#),
        "{html}"
    );
    assert!(html.contains(r#"href="/tags/election.rss""#));
    for path in ["/@nobody.atom", "/tags/no%20tag.rss"] {
        assert_eq!(
            get(&app, path, &[]).await.status(),
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
}

/// A live event's feed carries its curated notices as they are now: a correction with
/// its time, a deletion and a removal from the event gone, an open contribution absent.
async fn an_event_feed_is_the_curated_feed_as_it_is_now(backend: Backend) {
    let Some(app) = spawn(backend).await else {
        return;
    };
    let editor = app.register("editor").await;
    let citizen = app.register("citizen").await;
    let (status, _) = app
        .call(
            reqwest::Method::POST,
            "/api/v1/tidings/events",
            &editor.token,
            Some(json!({"slug": "summit", "title": "The summit", "tags": ["summit"], "state": "live"})),
        )
        .await;
    assert_eq!(status, 200);
    app.post(&editor, "Leaders arrive #summit").await;
    let fixed = app.post(&editor, "Talks start at 9 #summit").await;
    let gone = app.post(&editor, "Wrong room #summit").await;
    let featured_then_removed = app.post(&citizen, "Seen from the street #summit").await;
    let _open = app.post(&citizen, "Also here #summit").await;
    let id = |v: &Value| v["id"].as_str().unwrap().to_string();
    let call = |path: String, body: Option<Value>, method: reqwest::Method| {
        let (app, token) = (&app, editor.token.clone());
        async move { app.call(method, &path, &token, body).await.0 }
    };
    let ev = "/api/v1/tidings/events/summit";
    let f = id(&featured_then_removed);
    assert_eq!(
        call(
            format!("{ev}/statuses/{f}/feature"),
            None,
            reqwest::Method::POST
        )
        .await,
        200
    );
    assert_eq!(
        call(
            format!("{ev}/statuses/{f}/unfeature"),
            None,
            reqwest::Method::POST
        )
        .await,
        200
    );
    assert_eq!(
        call(
            format!("/api/v1/statuses/{}", id(&fixed)),
            Some(json!({"status": "Talks start at 10 #summit"})),
            reqwest::Method::PUT
        )
        .await,
        200
    );
    assert_eq!(
        call(
            format!("/api/v1/statuses/{}", id(&gone)),
            None,
            reqwest::Method::DELETE
        )
        .await,
        200
    );
    let Some(feeds) = parse(&app, &["/events/summit.atom", "/events/summit.rss"]) else {
        return;
    };
    for f in &feeds {
        assert!(!f["bozo"].as_bool().unwrap(), "{f}");
        assert!(f["title"].as_str().unwrap().contains("The summit"), "{f}");
        let contents: Vec<&str> = f["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["content"].as_str().unwrap())
            .collect();
        assert_eq!(contents.len(), 2, "{contents:?}");
        assert!(contents[0].contains("Talks start at 10"), "{contents:?}");
        assert!(contents[1].contains("Leaders arrive"), "{contents:?}");
    }
    let atom = &feeds[0]["entries"][0];
    assert_ne!(
        atom["updated"], atom["published"],
        "the correction's time: {atom}"
    );
    let page = get(&app, "/events/summit", &[("accept", "text/html")]).await;
    let html = page.text().await.unwrap();
    assert!(html.contains(r#"href="/events/summit.atom""#), "{html}");
    assert_eq!(
        get(&app, "/events/nothing.atom", &[]).await.status(),
        StatusCode::NOT_FOUND
    );
}

on_both_backends!(
    a_feed_reader_follows_the_story_as_it_is_now,
    an_event_feed_is_the_curated_feed_as_it_is_now
);
