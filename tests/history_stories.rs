//! Stories of history served as it is now: a replay never brings back what was deleted,
//! nor what its reader may no longer see, and a deletion reaches every stream that ever
//! carried the notice.

mod common;

use common::{Backend, QUIET, SseReader, WAIT, spawn, sse_replay, ws_connect, ws_next, ws_send};
use reqwest::Method;
use serde_json::{Value, json};

on_both_backends!(
    a_deleted_notice_is_never_replayed_with_its_text,
    a_notice_removed_by_an_admin_is_not_replayed_either,
    a_home_replay_forgets_an_account_its_reader_unfollowed,
    deleting_a_notice_deletes_its_reblogs_on_every_home_stream,
    a_delete_reaches_the_readers_of_a_tag_an_edit_removed,
);

/// Every frame a WebSocket subscription to `stream` replays from position 0.
async fn ws_replay(app: &common::TestApp, token: Option<&str>, stream: &str) -> Vec<Value> {
    let mut ws = ws_connect(app, token).await;
    ws_send(
        &mut ws,
        json!({"type": "subscribe", "stream": stream, "last_event_id": "0"}),
    )
    .await;
    let mut frames = Vec::new();
    while let Some(f) = ws_next(&mut ws, QUIET).await {
        frames.push(f);
    }
    frames
}

async fn a_deleted_notice_is_never_replayed_with_its_text(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let ann = app.register("ann").await;
    let gone = app.post(&ann, "my home address is 12 Elm St #leak").await;
    app.post(&ann, "a notice that stays #leak").await;
    let id = gone["id"].as_str().unwrap();
    let (status, _) = app
        .call(
            Method::DELETE,
            &format!("/api/v1/statuses/{id}"),
            &ann.token,
            None,
        )
        .await;
    assert_eq!(status, 200);

    // An anonymous scraper replays the tag from the start over SSE…
    let events = sse_replay(&app, "/api/v1/streaming/hashtag?tag=leak", "0", None).await;
    let kinds: Vec<_> = events
        .iter()
        .map(|e| (e.event.as_str(), e.data.contains("Elm St")))
        .collect();
    assert!(
        events.iter().all(|e| !e.data.contains("Elm St")),
        "{events:?}"
    );
    assert!(
        kinds.contains(&("delete", false)),
        "the delete is replayed: {kinds:?}"
    );
    assert!(
        events.iter().any(|e| e.data.contains("stays")),
        "the rest is: {events:?}"
    );
    assert_eq!(events.iter().filter(|e| e.event == "update").count(), 1);

    // …and over WebSocket on public.
    let frames = ws_replay(&app, None, "public").await;
    assert!(
        frames
            .iter()
            .any(|f| f["event"] == "delete" && f["payload"] == id),
        "{frames:?}"
    );
    assert!(
        frames.iter().all(|f| !f.to_string().contains("Elm St")),
        "{frames:?}"
    );
}

async fn a_notice_removed_by_an_admin_is_not_replayed_either(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let (ann, mod_) = (app.register("ann").await, app.register("volunteer").await);
    app.make_admin(&mod_).await;
    let spam = app.post(&ann, "buy cheap pills #news").await;
    let id = spam["id"].as_str().unwrap();
    let (status, _) = app
        .call(
            Method::DELETE,
            &format!("/api/v1/statuses/{id}"),
            &mod_.token,
            None,
        )
        .await;
    assert_eq!(status, 200, "an admin may delete anyone's notice");
    for path in [
        "/api/v1/streaming/public",
        "/api/v1/streaming/hashtag?tag=news",
        "/api/v1/streaming/public/local",
    ] {
        let events = sse_replay(&app, path, "0", None).await;
        assert!(
            events.iter().all(|e| !e.data.contains("pills")),
            "{path}: {events:?}"
        );
        assert!(
            events.iter().any(|e| e.event == "delete"),
            "{path}: {events:?}"
        );
    }
    let events = sse_replay(&app, "/api/v1/streaming/user", "0", Some(&ann.token)).await;
    assert!(
        events.iter().all(|e| !e.data.contains("pills")),
        "{events:?}"
    );
}

async fn a_home_replay_forgets_an_account_its_reader_unfollowed(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let (alice, carol) = (app.register("alice").await, app.register("carol").await);
    app.follow(&carol, &alice, true).await;
    app.post_with(
        &alice,
        json!({"status": "for my followers only", "visibility": "private"}),
    )
    .await;
    app.post(&carol, "carol writes her own notice").await;
    let before = sse_replay(&app, "/api/v1/streaming/user", "0", Some(&carol.token)).await;
    assert!(
        before.iter().any(|e| e.data.contains("followers only")),
        "{before:?}"
    );

    app.follow(&carol, &alice, false).await;
    let after = sse_replay(&app, "/api/v1/streaming/user", "0", Some(&carol.token)).await;
    assert!(
        after.iter().all(|e| !e.data.contains("followers only")),
        "{after:?}"
    );
    assert!(
        after.iter().any(|e| e.data.contains("her own notice")),
        "{after:?}"
    );
    // Over WebSocket too.
    let frames = ws_replay(&app, Some(&carol.token), "user").await;
    assert!(
        frames
            .iter()
            .any(|f| f.to_string().contains("her own notice")),
        "{frames:?}"
    );
    assert!(
        frames
            .iter()
            .all(|f| !f.to_string().contains("followers only")),
        "{frames:?}"
    );
}

async fn deleting_a_notice_deletes_its_reblogs_on_every_home_stream(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let (alice, bob, carol) = (
        app.register("alice").await,
        app.register("bob").await,
        app.register("carol").await,
    );
    app.follow(&carol, &bob, true).await;
    let s = app.post(&alice, "a claim that turns out false").await;
    let id = s["id"].as_str().unwrap();
    let (status, reblog) = app
        .call(
            Method::POST,
            &format!("/api/v1/statuses/{id}/reblog"),
            &bob.token,
            None,
        )
        .await;
    assert_eq!(status, 200);
    let reblog_id = reblog["id"].as_str().unwrap().to_string();

    let (_, _, reader) =
        SseReader::open(&app, "/api/v1/streaming/user", None, Some(&carol.token)).await;
    let mut live = reader.unwrap();
    let (status, _) = app
        .call(
            Method::DELETE,
            &format!("/api/v1/statuses/{id}"),
            &alice.token,
            None,
        )
        .await;
    assert_eq!(status, 200);
    // The reblog itself may still be on its way to her live stream; the delete follows.
    let mut del = live
        .next(WAIT)
        .await
        .expect("carol learns the reblog is gone");
    if del.event == "update" {
        del = live
            .next(WAIT)
            .await
            .expect("carol learns the reblog is gone");
    }
    assert_eq!(
        (del.event.as_str(), del.data.as_str()),
        ("delete", reblog_id.as_str())
    );

    let (status, _) = app
        .get_json(&format!("/api/v1/statuses/{reblog_id}"), Some(&carol.token))
        .await;
    assert_eq!(status, 404, "the reblog went with its notice");
    let events = sse_replay(&app, "/api/v1/streaming/user", "0", Some(&carol.token)).await;
    assert!(
        events.iter().all(|e| !e.data.contains("turns out false")),
        "{events:?}"
    );
    assert!(
        events
            .iter()
            .any(|e| e.event == "delete" && e.data == reblog_id),
        "{events:?}"
    );
}

async fn a_delete_reaches_the_readers_of_a_tag_an_edit_removed(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let ann = app.register("ann").await;
    let (_, _, reader) =
        SseReader::open(&app, "/api/v1/streaming/hashtag?tag=gone", None, None).await;
    let mut tag_reader = reader.unwrap();
    let s = app.post(&ann, "first take #gone").await;
    let id = s["id"].as_str().unwrap();
    assert_eq!(tag_reader.next(WAIT).await.unwrap().event, "update");
    let (status, _) = app
        .call(
            Method::PUT,
            &format!("/api/v1/statuses/{id}"),
            &ann.token,
            Some(json!({"status": "second take"})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(tag_reader.next(WAIT).await.unwrap().event, "status.update");
    app.call(
        Method::DELETE,
        &format!("/api/v1/statuses/{id}"),
        &ann.token,
        None,
    )
    .await;
    let del = tag_reader
        .next(WAIT)
        .await
        .expect("the tag's readers learn of the delete");
    assert_eq!((del.event.as_str(), del.data.as_str()), ("delete", id));
}
