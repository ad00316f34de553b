//! Blocks and mutes take effect everywhere a reader looks: her timelines, search, threads
//! and notifications, and — at once — her open streams and their replays, on every node.

mod common;

use common::redis::Cluster;
use common::{Backend, TestApp, User, WAIT, spawn, ws_connect, ws_next, ws_send};
use reqwest::Method;
use serde_json::{Value, json};

on_both_backends!(
    a_muted_account_goes_quiet_live_and_in_timelines,
    a_block_works_both_ways_and_ends_follows_and_notifications,
);

/// The `status` ids of `update` frames until (and including) the one whose text has
/// `marker`; panics if the marker does not come within [`WAIT`].
async fn updates_until(ws: &mut common::Ws, marker: &str) -> Vec<String> {
    let mut seen = Vec::new();
    loop {
        let f = ws_next(ws, WAIT)
            .await
            .unwrap_or_else(|| panic!("no frame with {marker:?} in time; saw {seen:?}"));
        if f["event"] != "update" {
            continue;
        }
        let s: Value = serde_json::from_str(f["payload"].as_str().unwrap()).unwrap();
        let content = s["content"].as_str().unwrap_or("").to_string();
        seen.push(content.clone());
        if content.contains(marker) {
            return seen;
        }
    }
}

async fn hide(app: &TestApp, who: &User, whom: &User, what: &str, body: Option<Value>) -> Value {
    let (s, rel) = app
        .call(
            Method::POST,
            &format!("/api/v1/accounts/{}/{what}", whom.id),
            &who.token,
            body,
        )
        .await;
    assert_eq!(s, 200, "{what}: {rel}");
    rel
}

async fn a_muted_account_goes_quiet_live_and_in_timelines(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let (alice, bob, carol) = (
        app.register("alice").await,
        app.register("bob").await,
        app.register("carol").await,
    );
    let mut ws = ws_connect(&app, Some(&alice.token)).await;
    ws_send(&mut ws, json!({"type": "subscribe", "stream": "public"})).await;
    app.until_counter("tidings_subscriptions", 1).await;
    app.post(&bob, "bob one").await;
    app.post(&carol, "marker one").await;
    assert_eq!(updates_until(&mut ws, "marker one").await.len(), 2);

    let rel = hide(&app, &alice, &bob, "mute", None).await;
    assert_eq!(rel["muting"], true);
    assert_eq!(rel["muting_notifications"], true);
    let two = app.post(&bob, "bob two").await;
    app.post(&carol, "marker two").await;
    let seen = updates_until(&mut ws, "marker two").await;
    assert_eq!(
        seen.len(),
        1,
        "bob's notice must not reach her stream: {seen:?}"
    );

    // Her public timeline and her searches leave him out; others' do not.
    let (_, tl) = app
        .get_json("/api/v1/timelines/public", Some(&alice.token))
        .await;
    let authors: Vec<&str> = tl
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["account"]["username"].as_str().unwrap())
        .collect();
    assert!(!authors.contains(&"bob"), "{authors:?}");
    let (_, tl) = app.get_json("/api/v1/timelines/public", None).await;
    assert!(tl.as_array().unwrap().iter().any(|s| s["id"] == two["id"]));
    let (_, found) = app
        .get_json("/api/v2/search?type=statuses&q=bob", Some(&alice.token))
        .await;
    assert_eq!(found["statuses"], json!([]));
    // A replay from before leaves him out too.
    let mut again = ws_connect(&app, Some(&alice.token)).await;
    ws_send(
        &mut again,
        json!({"type": "subscribe", "stream": "public", "last_event_id": "0"}),
    )
    .await;
    let replayed = updates_until(&mut again, "marker two").await;
    assert_eq!(
        replayed.iter().filter(|c| c.contains("bob")).count(),
        0,
        "{replayed:?}"
    );
    // Listed; and unmuted, he is heard again at once.
    let (_, mutes) = app.get_json("/api/v1/mutes", Some(&alice.token)).await;
    assert_eq!(mutes[0]["username"], "bob");
    let rel = hide(&app, &alice, &bob, "unmute", None).await;
    assert_eq!(rel["muting"], false);
    app.post(&bob, "bob three").await;
    app.post(&carol, "marker three").await;
    let seen = updates_until(&mut ws, "marker three").await;
    assert_eq!(seen.len(), 2, "{seen:?}");
    // A mute with an end, without notifications muted.
    let rel = hide(
        &app,
        &alice,
        &bob,
        "mute",
        Some(json!({"notifications": false, "duration": 3600})),
    )
    .await;
    assert_eq!(rel["muting_notifications"], false);
    assert_eq!(
        app.call(
            Method::POST,
            &format!("/api/v1/accounts/{}/mute", bob.id),
            &alice.token,
            Some(json!({"duration": -5}))
        )
        .await
        .0,
        422
    );
}

async fn a_block_works_both_ways_and_ends_follows_and_notifications(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let (alice, bob, carol) = (
        app.register("alice").await,
        app.register("bob").await,
        app.register("carol").await,
    );
    app.follow(&alice, &bob, true).await;
    app.follow(&bob, &alice, true).await;
    // Bob, blocked, still has a stream open: Alice's notices stop reaching it.
    let mut ws = ws_connect(&app, Some(&bob.token)).await;
    ws_send(&mut ws, json!({"type": "subscribe", "stream": "public"})).await;
    app.until_counter("tidings_subscriptions", 1).await;

    let rel = hide(&app, &alice, &bob, "block", None).await;
    assert_eq!(rel["blocking"], true);
    assert_eq!(rel["following"], false, "a block ends the follows");
    let (_, theirs) = app
        .get_json(
            &format!("/api/v1/accounts/relationships?id[]={}", alice.id),
            Some(&bob.token),
        )
        .await;
    assert_eq!(theirs[0]["blocked_by"], true);
    assert_eq!(theirs[0]["following"], false);
    let (_, me) = app
        .get_json(&format!("/api/v1/accounts/{}", alice.id), None)
        .await;
    assert_eq!(me["followers_count"], 0);
    assert_eq!(me["following_count"], 0);

    app.post(&alice, "alice after the block").await;
    app.post(&carol, "marker").await;
    let seen = updates_until(&mut ws, "marker").await;
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert!(!seen[0].contains("alice after"));
    // He cannot follow her again; his mention does not notify her.
    let (s, _) = app
        .call(
            Method::POST,
            &format!("/api/v1/accounts/{}/follow", alice.id),
            &bob.token,
            None,
        )
        .await;
    assert_eq!(s, 403);
    app.post(&bob, "@alice hello?").await;
    let (_, n) = app
        .get_json("/api/v1/notifications", Some(&alice.token))
        .await;
    assert!(
        n.as_array()
            .unwrap()
            .iter()
            .all(|n| n["account"]["username"] != "bob"),
        "{n}"
    );
    let (_, blocks) = app.get_json("/api/v1/blocks", Some(&alice.token)).await;
    assert_eq!(blocks[0]["username"], "bob");
    // Unblocked: he hears her again on the stream he kept open.
    hide(&app, &alice, &bob, "unblock", None).await;
    app.post(&alice, "alice again").await;
    app.post(&carol, "marker 2").await;
    let seen = updates_until(&mut ws, "marker 2").await;
    assert!(seen.iter().any(|c| c.contains("alice again")), "{seen:?}");
    assert_eq!(
        app.call(
            Method::POST,
            &format!("/api/v1/accounts/{}/block", alice.id),
            &alice.token,
            None
        )
        .await
        .0,
        422,
        "nobody blocks herself"
    );
}

/// A block made through one node reaches the blocked reader's stream on another at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(all(tidings_postgres, tidings_redis)),
    ignore = "needs TIDINGS_TEST_DATABASE_URL and redis-server"
)]
async fn a_block_reaches_streams_on_every_node() {
    let Some(cluster) = Cluster::start().await else {
        return;
    };
    let (a, b) = (cluster.node(|_| {}).await, cluster.node(|_| {}).await);
    let (alice, bob, carol) = (
        a.register("alice").await,
        a.register("bob").await,
        a.register("carol").await,
    );
    let mut ws = ws_connect(&b, Some(&bob.token)).await;
    ws_send(&mut ws, json!({"type": "subscribe", "stream": "public"})).await;
    b.until_counter("tidings_subscriptions", 1).await;
    hide(&a, &alice, &bob, "block", None).await;
    a.post(&alice, "from alice").await;
    a.post(&carol, "marker").await;
    let seen = updates_until(&mut ws, "marker").await;
    assert_eq!(seen.len(), 1, "{seen:?}");
}
