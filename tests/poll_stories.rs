//! Live polls: a reporter asks, readers vote, and every open view sees the counts move.

mod common;

use common::{Backend, WAIT, spawn, ws_connect, ws_next, ws_send};
use reqwest::Method;
use serde_json::{Value, json};

on_both_backends!(readers_vote_and_everyone_sees_the_counts_move);

async fn readers_vote_and_everyone_sees_the_counts_move(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let (ann, bob, cat) = (
        app.register("ann").await,
        app.register("bob").await,
        app.register("cat").await,
    );
    // As JSON.
    let n = app
        .post_with(
            &ann,
            json!({"status": "Who wins the district?", "poll": {"options": ["Red", "Blue", "Too close"], "expires_in": 3600}}),
        )
        .await;
    let poll = &n["poll"];
    assert_eq!(poll["options"].as_array().unwrap().len(), 3, "{n}");
    assert_eq!(poll["options"][0]["title"], "Red");
    assert_eq!(poll["options"][0]["votes_count"], 0);
    assert_eq!(poll["expired"], false);
    assert_eq!(poll["multiple"], false);
    let pid = poll["id"].as_str().unwrap().to_string();
    // As a form, with several choices allowed and totals hidden until the end.
    let res = app
        .http
        .post(app.url("/api/v1/statuses"))
        .bearer_auth(&ann.token)
        .form(&[
            ("status", "Which issues matter?"),
            ("poll[options][]", "Rent"),
            ("poll[options][]", "Transport"),
            ("poll[expires_in]", "600"),
            ("poll[multiple]", "true"),
            ("poll[hide_totals]", "true"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let multi: Value = res.json().await.unwrap();
    assert_eq!(multi["poll"]["multiple"], true);
    assert!(
        multi["poll"]["options"][0]["votes_count"].is_null(),
        "{multi}"
    );

    // A reader watching the public stream sees the counts change as votes come in.
    let mut ws = ws_connect(&app, None).await;
    ws_send(&mut ws, json!({"type": "subscribe", "stream": "public"})).await;
    app.until_counter("tidings_subscriptions", 1).await;
    let (s, voted) = app
        .call(
            Method::POST,
            &format!("/api/v1/polls/{pid}/votes"),
            &bob.token,
            Some(json!({"choices": ["1"]})),
        )
        .await;
    assert_eq!(s, 200, "{voted}");
    assert_eq!(voted["voted"], true);
    assert_eq!(voted["own_votes"], json!([1]));
    assert_eq!(voted["options"][1]["votes_count"], 1);
    let f = loop {
        let f = ws_next(&mut ws, WAIT)
            .await
            .expect("a status.update in time");
        if f["event"] == "status.update" {
            break f;
        }
    };
    let s: Value = serde_json::from_str(f["payload"].as_str().unwrap()).unwrap();
    assert_eq!(s["id"], n["id"]);
    assert_eq!(s["poll"]["votes_count"], 1);
    assert_eq!(s["poll"]["options"][1]["votes_count"], 1);
    assert!(
        s["poll"].get("own_votes").is_none(),
        "no one's votes in a shared payload"
    );

    // One vote each; choices must be options; one choice unless several are allowed.
    for (who, body) in [
        (&bob, json!({"choices": ["0"]})),
        (&cat, json!({"choices": ["7"]})),
        (&cat, json!({"choices": ["0", "1"]})),
        (&cat, json!({"choices": []})),
        (&cat, json!({"choices": ["x"]})),
    ] {
        let (s, err) = app
            .call(
                Method::POST,
                &format!("/api/v1/polls/{pid}/votes"),
                &who.token,
                Some(body.clone()),
            )
            .await;
        assert_eq!(s, 422, "{body}: {err}");
    }
    let mid = multi["poll"]["id"].as_str().unwrap();
    let (s, both) = app
        .call(
            Method::POST,
            &format!("/api/v1/polls/{mid}/votes"),
            &cat.token,
            Some(json!({"choices": [0, 1]})),
        )
        .await;
    assert_eq!(s, 200, "{both}");
    assert_eq!(both["votes_count"], 2);
    assert_eq!(both["voters_count"], 1);
    // The poll as anyone sees it; as a voter sees it.
    let (_, p) = app.get_json(&format!("/api/v1/polls/{pid}"), None).await;
    assert_eq!(p["votes_count"], 1);
    assert!(p.get("voted").is_none());
    let (_, p) = app
        .get_json(&format!("/api/v1/polls/{pid}"), Some(&bob.token))
        .await;
    assert_eq!(p["own_votes"], json!([1]));
    assert_eq!(app.get_json("/api/v1/polls/999999", None).await.0, 404);
    // A followers-only notice's poll is its followers' alone.
    let private = app
        .post_with(
            &ann,
            json!({"status": "insiders", "visibility": "private", "poll": {"options": ["a", "b"], "expires_in": 600}}),
        )
        .await;
    let ppid = private["poll"]["id"].as_str().unwrap();
    assert_eq!(
        app.get_json(&format!("/api/v1/polls/{ppid}"), None).await.0,
        404
    );
    let (s, _) = app
        .call(
            Method::POST,
            &format!("/api/v1/polls/{ppid}/votes"),
            &cat.token,
            Some(json!({"choices": [0]})),
        )
        .await;
    assert_eq!(s, 404);
}
