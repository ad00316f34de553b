//! Two Tidings servers on loopback federate with each other, as two newsrooms would: a
//! reader on one finds a reporter on the other by her handle, follows her (`requested`
//! until the other server's `Accept`), and sees her notices, corrections and deletions
//! arrive live in his stream; his favourite and reblog count on her server; she follows
//! him back and his notices reach her home timeline.

mod common;

use common::{Backend, TestApp, User, spawn_federating};
use reqwest::Method;
use serde_json::{Value, json};
use std::time::Duration;

on_both_backends!(two_tidings_servers_follow_each_other);

const WAIT: Duration = Duration::from_secs(20);

/// `who` on `app` follows `handle` (of the other server) and waits for its `Accept`.
async fn follow_across(app: &TestApp, who: &User, handle: &str) -> String {
    let (s, them) = app
        .get_json(
            &format!("/api/v1/accounts/lookup?acct={handle}"),
            Some(&who.token),
        )
        .await;
    assert_eq!(s, 200, "{them}");
    assert_eq!(them["acct"], handle);
    let id = them["id"].as_str().unwrap().to_string();
    let (s, rel) = app
        .call(
            Method::POST,
            &format!("/api/v1/accounts/{id}/follow"),
            &who.token,
            None,
        )
        .await;
    assert_eq!(s, 200, "{rel}");
    assert_eq!(rel["requested"], true, "{rel}");
    common::eventually("the follow is accepted", WAIT, || async {
        let (_, r) = app
            .get_json(
                &format!("/api/v1/accounts/relationships?id[]={id}"),
                Some(&who.token),
            )
            .await;
        (r[0]["following"] == true && r[0]["requested"] == false).then_some(())
    })
    .await;
    id
}

async fn status_on(app: &TestApp, id: &str) -> (u16, Value) {
    app.get_json(&format!("/api/v1/statuses/{id}"), None).await
}

async fn two_tidings_servers_follow_each_other(b: Backend) {
    let Some(news) = spawn_federating(b).await else {
        return;
    };
    let Some(town) = spawn_federating(b).await else {
        return;
    };
    let ann = news.register("ann").await;
    let bob = town.register("bob").await;
    let news_host = news.base.trim_start_matches("http://").to_string();
    let town_host = town.base.trim_start_matches("http://").to_string();

    // Bob, on the town's server, follows ann of the newsroom's.
    let ann_id = follow_across(&town, &bob, &format!("ann@{news_host}")).await;
    let mut ws = common::ws_connect(&town, Some(&bob.token)).await;
    common::ws_send(&mut ws, json!({"type": "subscribe", "stream": "user"})).await;
    let (s, _, sse) =
        common::SseReader::open(&town, "/api/v1/streaming/hashtag?tag=quake", None, None).await;
    assert_eq!(s, 200);
    let mut sse = sse.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;

    // Her notice reaches his home stream and the town's tag stream live.
    let posted = news
        .post(&ann, "Tremor felt across the valley #quake")
        .await;
    let frame = common::ws_event(&mut ws, "update").await;
    let there: Value = serde_json::from_str(frame["payload"].as_str().unwrap()).unwrap();
    assert_eq!(there["uri"], posted["uri"]);
    assert_eq!(there["url"], posted["url"]);
    assert_eq!(there["account"]["id"], ann_id.as_str());
    assert_eq!(there["account"]["acct"], format!("ann@{news_host}"));
    assert!(
        there["content"]
            .as_str()
            .unwrap()
            .contains("Tremor felt across the valley")
    );
    let e = common::sse_event(&mut sse, "update").await;
    assert!(e.data.contains("Tremor felt"), "{}", e.data);
    let there_id = there["id"].as_str().unwrap().to_string();

    // Her correction arrives as an edit.
    let (s, _) = news
        .call(
            Method::PUT,
            &format!("/api/v1/statuses/{}", posted["id"].as_str().unwrap()),
            &ann.token,
            Some(json!({"status": "Tremor felt across the valley, no damage #quake"})),
        )
        .await;
    assert_eq!(s, 200);
    let frame = common::ws_event(&mut ws, "status.update").await;
    assert!(frame["payload"].as_str().unwrap().contains("no damage"));

    // His favourite and reblog count on her server, and she is told.
    for action in ["favourite", "reblog"] {
        let (s, v) = town
            .call(
                Method::POST,
                &format!("/api/v1/statuses/{there_id}/{action}"),
                &bob.token,
                None,
            )
            .await;
        assert_eq!(s, 200, "{action}: {v}");
    }
    let here = posted["id"].as_str().unwrap().to_string();
    common::eventually("the favourite and reblog count there", WAIT, || async {
        let (_, s) = status_on(&news, &here).await;
        (s["favourites_count"] == 1 && s["reblogs_count"] == 1).then_some(())
    })
    .await;
    let (_, told) = news
        .get_json("/api/v1/notifications", Some(&ann.token))
        .await;
    let kinds: Vec<&str> = told
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|n| n["type"].as_str())
        .collect();
    assert!(
        kinds.contains(&"favourite") && kinds.contains(&"reblog"),
        "{told}"
    );
    // Taken back: the counts go down again.
    for action in ["unfavourite", "unreblog"] {
        let (s, _) = town
            .call(
                Method::POST,
                &format!("/api/v1/statuses/{there_id}/{action}"),
                &bob.token,
                None,
            )
            .await;
        assert_eq!(s, 200);
    }
    common::eventually("the undo counts there", WAIT, || async {
        let (_, s) = status_on(&news, &here).await;
        (s["favourites_count"] == 0 && s["reblogs_count"] == 0).then_some(())
    })
    .await;

    // Her deletion removes it from his stream and from the town's server.
    let (s, _) = news
        .call(
            Method::DELETE,
            &format!("/api/v1/statuses/{here}"),
            &ann.token,
            None,
        )
        .await;
    assert_eq!(s, 200);
    // (His undone reblog was deleted from his stream first.)
    loop {
        let frame = common::ws_event(&mut ws, "delete").await;
        if frame["payload"] == there_id.as_str() {
            break;
        }
    }
    assert_eq!(status_on(&town, &there_id).await.0, 404);

    // She follows him back; his notice reaches her home timeline.
    follow_across(&news, &ann, &format!("bob@{town_host}")).await;
    let his = town.post(&bob, "Thanks for the updates").await;
    common::eventually("his notice reaches her home", WAIT, || async {
        let (_, home) = news
            .get_json("/api/v1/timelines/home", Some(&ann.token))
            .await;
        home.as_array()
            .unwrap()
            .iter()
            .any(|s| s["uri"] == his["uri"])
            .then_some(())
    })
    .await;
    // Her server's usage counts its own accounts only: bob's remote account (active here
    // through his reblog) is not one of its users.
    let (_, instance) = news.get_json("/api/v2/instance", None).await;
    assert_eq!(instance["usage"]["users"]["active_month"], 1, "{instance}");
}
