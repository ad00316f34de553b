//! A reader filters what she does not want to see: a warned notice carries the filter
//! that matched it, a hidden one is left out, in the contexts she chose.

mod common;

use common::{Backend, WAIT, spawn, sse_replay, ws_connect, ws_next, ws_send};
use reqwest::Method;
use serde_json::{Value, json};

on_both_backends!(
    filters_warn_hide_and_respect_their_contexts,
    filters_apply_to_open_streams_and_their_replay
);

fn texts(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|s| s["content"].as_str().unwrap().to_string())
        .collect()
}

async fn filters_warn_hide_and_respect_their_contexts(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let (reader, ann) = (app.register("reader").await, app.register("ann").await);
    app.follow(&reader, &ann, true).await;
    app.post(&ann, "Match spoilers ahead!").await;
    app.post(&ann, "Gory details of the crash").await;
    app.post(&ann, "Spoilerish but fine").await;
    let plain = app.post(&ann, "Turnout figures").await;

    // Created as JSON: warn about spoilers (whole word) at home.
    let (s, warn) = app
        .call(
            Method::POST,
            "/api/v2/filters",
            &reader.token,
            Some(
                json!({"title": "Sport", "context": ["home"], "filter_action": "warn",
                        "keywords_attributes": [{"keyword": "spoilers", "whole_word": true}]}),
            ),
        )
        .await;
    assert_eq!(s, 200, "{warn}");
    assert_eq!(warn["keywords"][0]["keyword"], "spoilers");
    // Created as a form: hide gore, at home and in public timelines.
    let res = app
        .http
        .post(app.url("/api/v2/filters"))
        .bearer_auth(&reader.token)
        .form(&[
            ("title", "Gore"),
            ("context[]", "home"),
            ("context[]", "public"),
            ("filter_action", "hide"),
            ("keywords_attributes[][keyword]", "gory"),
            ("keywords_attributes[][whole_word]", "true"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let hide: Value = res.json().await.unwrap();
    assert_eq!(hide["context"], json!(["home", "public"]));
    assert_eq!(hide["keywords"][0]["keyword"], "gory");

    let (_, home) = app
        .get_json("/api/v1/timelines/home", Some(&reader.token))
        .await;
    let shown = texts(&home);
    assert_eq!(shown.len(), 3, "{shown:?}");
    assert!(!shown.iter().any(|t| t.contains("Gory")));
    let warned: Vec<&Value> = home
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s.get("filtered").is_some())
        .collect();
    assert_eq!(warned.len(), 1, "a whole word is not found inside another");
    assert_eq!(warned[0]["filtered"][0]["filter"]["title"], "Sport");
    assert_eq!(
        warned[0]["filtered"][0]["keyword_matches"],
        json!(["spoilers"])
    );
    // Other readers and other contexts are untouched.
    let (_, theirs) = app.get_json("/api/v1/timelines/public", None).await;
    assert_eq!(texts(&theirs).len(), 4);
    let (_, profile) = app
        .get_json(
            &format!("/api/v1/accounts/{}/statuses", ann.id),
            Some(&reader.token),
        )
        .await;
    assert_eq!(
        texts(&profile).len(),
        4,
        "the account context was not chosen"
    );

    // A notice named by the filter, then the filter changed and its keyword removed.
    let wid = warn["id"].as_str().unwrap();
    let (s, fs) = app
        .call(
            Method::POST,
            &format!("/api/v2/filters/{wid}/statuses"),
            &reader.token,
            Some(json!({"status_id": plain["id"]})),
        )
        .await;
    assert_eq!(s, 200, "{fs}");
    let (_, home) = app
        .get_json("/api/v1/timelines/home", Some(&reader.token))
        .await;
    let named = home
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == plain["id"])
        .unwrap();
    assert_eq!(named["filtered"][0]["status_matches"], json!([plain["id"]]));
    let kid = warn["keywords"][0]["id"].as_str().unwrap();
    let (s, changed) = app
        .call(
            Method::PUT,
            &format!("/api/v2/filters/{wid}"),
            &reader.token,
            Some(json!({"title": "Sport results", "keywords_attributes": [{"id": kid, "_destroy": true}]})),
        )
        .await;
    assert_eq!(s, 200, "{changed}");
    assert_eq!(changed["title"], "Sport results");
    assert_eq!(changed["keywords"], json!([]));
    // v1 clients see one entry per keyword.
    let (_, v1) = app.get_json("/api/v1/filters", Some(&reader.token)).await;
    assert_eq!(v1.as_array().unwrap().len(), 1);
    assert_eq!(v1[0]["phrase"], "gory");
    assert_eq!(v1[0]["irreversible"], true);

    // Others' filters are not found; bad input changes nothing.
    let hid = hide["id"].as_str().unwrap();
    assert_eq!(
        app.get_json(&format!("/api/v2/filters/{hid}"), Some(&ann.token))
            .await
            .0,
        404
    );
    for body in [
        json!({"title": "", "context": ["home"]}),
        json!({"title": "x", "context": ["everywhere"]}),
        json!({"title": "x", "context": ["home"], "filter_action": "delete"}),
        json!({"title": "x"}),
    ] {
        let (s, _) = app
            .call(
                Method::POST,
                "/api/v2/filters",
                &reader.token,
                Some(body.clone()),
            )
            .await;
        assert_eq!(s, 422, "{body}");
    }
    let (_, all) = app.get_json("/api/v2/filters", Some(&reader.token)).await;
    assert_eq!(all.as_array().unwrap().len(), 2);
    // In the notifications context: a mention that matches a hide filter is not listed,
    // though the notice is in her home (a context the filter does not name).
    let (s, noise) = app
        .call(
            Method::POST,
            "/api/v2/filters",
            &reader.token,
            Some(
                json!({"title": "Noise", "context": ["notifications"], "filter_action": "hide",
                        "keywords_attributes": [{"keyword": "giveaway"}]}),
            ),
        )
        .await;
    assert_eq!(s, 200);
    app.post(&ann, "@reader giveaway inside!").await;
    app.post(&ann, "@reader the count is in").await;
    let (_, n) = app
        .get_json("/api/v1/notifications?types[]=mention", Some(&reader.token))
        .await;
    let said: Vec<&str> = n
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["status"]["content"].as_str().unwrap())
        .collect();
    assert_eq!(said.len(), 1, "{said:?}");
    assert!(said[0].contains("count is in"));
    let nid = noise["id"].as_str().unwrap();
    let (s, _) = app
        .call(
            Method::DELETE,
            &format!("/api/v2/filters/{nid}"),
            &reader.token,
            None,
        )
        .await;
    assert_eq!(s, 200);
    let (s, _) = app
        .call(
            Method::DELETE,
            &format!("/api/v2/filters/{hid}"),
            &reader.token,
            None,
        )
        .await;
    assert_eq!(s, 200);
    let (_, home) = app
        .get_json("/api/v1/timelines/home", Some(&reader.token))
        .await;
    assert_eq!(texts(&home).len(), 6, "deleted, it hides nothing");
}

/// On a stream as on Mastodon: a notice a filter warns of arrives with `filtered` (for
/// her alone: another reader of the same stream gets it plain), one it hides does not
/// arrive, and replay says the same.
async fn filters_apply_to_open_streams_and_their_replay(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let (reader, other, ann) = (
        app.register("reader").await,
        app.register("other").await,
        app.register("ann").await,
    );
    app.follow(&reader, &ann, true).await;
    for body in [
        json!({"title": "Sport", "context": ["home", "public"], "filter_action": "warn",
               "keywords_attributes": [{"keyword": "score", "whole_word": true}]}),
        json!({"title": "Gore", "context": ["public"], "filter_action": "hide",
               "keywords_attributes": [{"keyword": "gory"}]}),
    ] {
        let (s, f) = app
            .call(Method::POST, "/api/v2/filters", &reader.token, Some(body))
            .await;
        assert_eq!(s, 200, "{f}");
    }
    let mut mine = ws_connect(&app, Some(&reader.token)).await;
    let mut theirs = ws_connect(&app, Some(&other.token)).await;
    for stream in ["user", "public"] {
        ws_send(&mut mine, json!({"type": "subscribe", "stream": stream})).await;
    }
    ws_send(
        &mut theirs,
        json!({"type": "subscribe", "stream": "public"}),
    )
    .await;
    app.until_counter("tidings_subscriptions", 3).await;

    app.post(&ann, "Gory details of the crash").await;
    app.post(&ann, "Final score: 3 to 1").await;
    let last = app.post(&ann, "Turnout figures").await;

    // Hers: the gory one only at home (the hide filter is for public timelines), the
    // score marked on both, the last plain.
    let mut got = Vec::new();
    loop {
        let f = ws_next(&mut mine, WAIT).await.expect("frames in time");
        let s: Value = serde_json::from_str(f["payload"].as_str().unwrap()).unwrap();
        let stream = f["stream"][0].as_str().unwrap().to_string();
        let text = s["content"].as_str().unwrap().to_string();
        let filtered: Vec<String> = s["filtered"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|r| r["filter"]["title"].as_str().unwrap().to_string())
                    .collect()
            })
            .unwrap_or_default();
        if stream == "public" && s["id"] == last["id"] {
            got.push((stream, text, filtered));
            break;
        }
        got.push((stream, text, filtered));
    }
    let seen = |stream: &str, word: &str| {
        got.iter()
            .filter(|g| g.0 == stream && g.1.contains(word))
            .map(|g| g.2.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(seen("user", "Gory"), vec![Vec::<String>::new()], "{got:?}");
    assert!(
        seen("public", "Gory").is_empty(),
        "hidden in public: {got:?}"
    );
    assert_eq!(seen("user", "score"), vec![vec!["Sport".to_string()]]);
    assert_eq!(seen("public", "score"), vec![vec!["Sport".to_string()]]);
    assert_eq!(seen("public", "Turnout"), vec![Vec::<String>::new()]);

    // Theirs: everything, plain.
    for want in ["Gory", "score", "Turnout"] {
        let f = ws_next(&mut theirs, WAIT).await.expect("frames in time");
        let s: Value = serde_json::from_str(f["payload"].as_str().unwrap()).unwrap();
        assert!(s["content"].as_str().unwrap().contains(want), "{s}");
        assert!(
            s.get("filtered")
                .is_none_or(|v| v.is_null() || v == &json!([])),
            "{s}"
        );
    }

    // Replay of the public stream says the same as the live one.
    let events = sse_replay(&app, "/api/v1/streaming/public", "0", Some(&reader.token)).await;
    let payloads: Vec<Value> = events
        .iter()
        .filter(|e| e.event == "update")
        .map(|e| serde_json::from_str(&e.data).unwrap())
        .collect();
    assert_eq!(payloads.len(), 2, "{events:?}");
    assert_eq!(payloads[0]["filtered"][0]["filter"]["title"], "Sport");
    assert_eq!(
        payloads[0]["filtered"][0]["keyword_matches"],
        json!(["score"])
    );
    assert!(payloads[1].get("filtered").is_none_or(|v| v.is_null()));
}
