//! Lists: a newsroom editor follows a story through her list of reporters — its timeline,
//! its live stream (hers alone), and what it shows as members come and go.

mod common;

use common::{Backend, WAIT, spawn, ws_connect, ws_next, ws_send};
use reqwest::Method;
use serde_json::{Value, json};

on_both_backends!(an_editor_follows_the_story_through_her_list);

async fn an_editor_follows_the_story_through_her_list(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let (editor, ann, ben, other) = (
        app.register("editor").await,
        app.register("ann").await,
        app.register("ben").await,
        app.register("other").await,
    );
    let (s, list) = app
        .call(
            Method::POST,
            "/api/v1/lists",
            &editor.token,
            Some(json!({"title": "Election desk", "replies_policy": "list"})),
        )
        .await;
    assert_eq!(s, 200, "{list}");
    let lid = list["id"].as_str().unwrap().to_string();
    assert_eq!(list["exclusive"], false);
    // Only accounts she follows can be added.
    let (s, _) = app
        .call(
            Method::POST,
            &format!("/api/v1/lists/{lid}/accounts"),
            &editor.token,
            Some(json!({"account_ids": [ann.id]})),
        )
        .await;
    assert_eq!(s, 422);
    app.follow(&editor, &ann, true).await;
    app.follow(&editor, &ben, true).await;
    let (s, _) = app
        .call(
            Method::POST,
            &format!("/api/v1/lists/{lid}/accounts"),
            &editor.token,
            Some(json!({"account_ids": [ann.id, ben.id]})),
        )
        .await;
    assert_eq!(s, 200);
    let (_, members) = app
        .get_json(
            &format!("/api/v1/lists/{lid}/accounts"),
            Some(&editor.token),
        )
        .await;
    assert_eq!(members.as_array().unwrap().len(), 2);
    let (_, on) = app
        .get_json(
            &format!("/api/v1/accounts/{}/lists", ann.id),
            Some(&editor.token),
        )
        .await;
    assert_eq!(on[0]["id"], lid.as_str());

    // Her live stream of the list; nobody else may open it.
    let mut ws = ws_connect(&app, Some(&editor.token)).await;
    ws_send(
        &mut ws,
        json!({"type": "subscribe", "stream": "list", "list": lid}),
    )
    .await;
    app.until_counter("tidings_subscriptions", 1).await;
    let mut theirs = ws_connect(&app, Some(&other.token)).await;
    ws_send(
        &mut theirs,
        json!({"type": "subscribe", "stream": "list", "list": lid}),
    )
    .await;
    let refused = ws_next(&mut theirs, WAIT).await.expect("an error frame");
    assert_eq!(refused["status"], 404, "{refused}");

    let first = app.post(&ann, "Turnout at 40%").await;
    app.post(&other, "not on the list").await;
    // A reply to someone off the list is left out by the `list` policy; one to a member is in.
    app.post_with(
        &ben,
        json!({"status": "@other thanks", "in_reply_to_id": app.post(&other, "question").await["id"]}),
    )
    .await;
    let answer = app
        .post_with(
            &ben,
            json!({"status": "agreed", "in_reply_to_id": first["id"]}),
        )
        .await;
    let mut got = Vec::new();
    while got.len() < 2 {
        let f = ws_next(&mut ws, WAIT).await.expect("list frames in time");
        assert_eq!(f["stream"], json!(["list", lid]));
        if f["event"] == "update" {
            let s: Value = serde_json::from_str(f["payload"].as_str().unwrap()).unwrap();
            got.push(s["id"].as_str().unwrap().to_string());
        }
    }
    assert_eq!(
        got,
        vec![
            first["id"].as_str().unwrap().to_string(),
            answer["id"].as_str().unwrap().to_string()
        ]
    );
    let (s, tl) = app
        .get_json(
            &format!("/api/v1/timelines/list/{lid}"),
            Some(&editor.token),
        )
        .await;
    assert_eq!(s, 200);
    let ids: Vec<&str> = tl
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        vec![
            answer["id"].as_str().unwrap(),
            first["id"].as_str().unwrap()
        ]
    );
    assert_eq!(
        app.get_json(&format!("/api/v1/timelines/list/{lid}"), Some(&other.token))
            .await
            .0,
        404
    );

    // Unfollowing ben takes him off; the list's history is served as the list is now.
    app.follow(&editor, &ben, false).await;
    let (_, members) = app
        .get_json(
            &format!("/api/v1/lists/{lid}/accounts"),
            Some(&editor.token),
        )
        .await;
    assert_eq!(members.as_array().unwrap().len(), 1);
    let (_, tl) = app
        .get_json(
            &format!("/api/v1/timelines/list/{lid}"),
            Some(&editor.token),
        )
        .await;
    assert_eq!(tl.as_array().unwrap().len(), 1);
    let mut again = ws_connect(&app, Some(&editor.token)).await;
    ws_send(
        &mut again,
        json!({"type": "subscribe", "stream": "list", "list": lid, "last_event_id": "0"}),
    )
    .await;
    let f = ws_next(&mut again, WAIT).await.expect("the replay");
    let s: Value = serde_json::from_str(f["payload"].as_str().unwrap()).unwrap();
    assert_eq!(s["id"], first["id"]);
    assert!(
        ws_next(&mut again, std::time::Duration::from_millis(300))
            .await
            .is_none_or(|f| f["event"] != "update"),
        "ben's notices are not replayed once he is off the list"
    );

    // Renamed, made exclusive (ann leaves the editor's home), then deleted.
    let (s, l) = app
        .call(
            Method::PUT,
            &format!("/api/v1/lists/{lid}"),
            &editor.token,
            Some(json!({"title": "Desk", "exclusive": true})),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(l["title"], "Desk");
    let (_, home) = app
        .get_json("/api/v1/timelines/home", Some(&editor.token))
        .await;
    assert!(
        home.as_array()
            .unwrap()
            .iter()
            .all(|s| s["account"]["username"] != "ann"),
        "{home}"
    );
    for bad in [json!({"title": ""}), json!({"replies_policy": "all"})] {
        let (s, _) = app
            .call(
                Method::PUT,
                &format!("/api/v1/lists/{lid}"),
                &editor.token,
                Some(bad),
            )
            .await;
        assert_eq!(s, 422);
    }
    let (s, _) = app
        .call(
            Method::DELETE,
            &format!("/api/v1/lists/{lid}"),
            &other.token,
            None,
        )
        .await;
    assert_eq!(s, 404);
    let (s, _) = app
        .call(
            Method::DELETE,
            &format!("/api/v1/lists/{lid}"),
            &editor.token,
            None,
        )
        .await;
    assert_eq!(s, 200);
    let (_, lists) = app.get_json("/api/v1/lists", Some(&editor.token)).await;
    assert_eq!(lists, json!([]));
}
