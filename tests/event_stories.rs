//! Live events (issue 17): a newsroom runs an election night — contributors post into
//! it, an editor features, pins, marks key events and ends it, each change live on the
//! `event` stream; a reader who was away resumes and gets exactly what she missed, key
//! events included; and what is no longer in the event is not replayed.

mod common;

use common::redis::Cluster;
use common::{
    QUIET, SseReader, TestApp, User, WAIT, spawn, spawn_with, sse_event, sse_replay, ws_connect,
    ws_event, ws_next, ws_send,
};
use reqwest::Method;
use serde_json::{Value, json};

on_both_backends!(
    a_newsroom_covers_an_election_night,
    a_resuming_reader_gets_what_she_missed_and_nothing_removed,
    bad_event_requests_change_nothing,
    only_staff_create_events_when_configured,
    a_deleted_event_leaves_nothing_behind,
    notices_posted_at_once_find_their_places,
    a_corrected_tag_moves_a_notice_in_and_out,
);

const EVENTS: &str = "/api/v1/tidings/events";

async fn create_event(app: &TestApp, editor: &User, slug: &str, tags: &[&str]) -> Value {
    let (status, e) = app
        .call(
            Method::POST,
            EVENTS,
            &editor.token,
            Some(json!({
                "slug": slug,
                "title": "Election night",
                "description": "Results as they come in",
                "tags": tags,
                "state": "live",
            })),
        )
        .await;
    assert_eq!(status, 200, "create: {e}");
    e
}

async fn act(app: &TestApp, who: &User, slug: &str, status: &str, action: &str) -> (u16, Value) {
    act_with(app, who, slug, status, action, None).await
}

async fn act_with(
    app: &TestApp,
    who: &User,
    slug: &str,
    status: &str,
    action: &str,
    body: Option<Value>,
) -> (u16, Value) {
    app.call(
        Method::POST,
        &format!("{EVENTS}/{slug}/statuses/{status}/{action}"),
        &who.token,
        body,
    )
    .await
}

async fn add(app: &TestApp, editor: &User, slug: &str, role: &str, who: &User) {
    let (status, body) = app
        .call(
            Method::POST,
            &format!("{EVENTS}/{slug}/{role}"),
            &editor.token,
            Some(json!({"account_ids": [who.id]})),
        )
        .await;
    assert_eq!(status, 200, "add {role}: {body}");
}

fn ids(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_string())
        .collect()
}

fn payload(frame: &Value) -> Value {
    serde_json::from_str(frame["payload"].as_str().unwrap()).unwrap()
}

async fn a_newsroom_covers_an_election_night(b: common::Backend) {
    let Some(app) = spawn(b).await else { return };
    let editor = app.register("editor").await;
    let reporter = app.register("reporter").await;
    let citizen = app.register("citizen").await;
    let e = create_event(&app, &editor, "election", &["Election2026"]).await;
    assert_eq!(e["slug"], "election");
    assert_eq!(e["state"], "live");
    assert_eq!(e["tags"], json!(["election2026"]));
    assert_eq!(e["url"], format!("{}/events/election", app.base));
    add(&app, &editor, "election", "contributors", &reporter).await;
    let (_, contributors) = app
        .get_json(&format!("{EVENTS}/election/contributors"), None)
        .await;
    assert_eq!(contributors[0]["username"], "reporter");

    // A reader follows the event over WebSocket, anonymously.
    let mut ws = ws_connect(&app, None).await;
    ws_send(
        &mut ws,
        json!({"type": "subscribe", "stream": "event", "event": "election"}),
    )
    .await;
    tokio::time::sleep(QUIET).await;

    // The reporter's tagged notice goes straight in, live.
    let first = app
        .post(&reporter, "Turnout at 62% by noon #Election2026")
        .await;
    let frame = ws_event(&mut ws, "update").await;
    assert_eq!(frame["stream"], json!(["event", "election"]));
    assert_eq!(payload(&frame)["id"], first["id"]);
    assert!(
        frame["id"]
            .as_str()
            .is_some_and(|p| p.parse::<i64>().is_ok()),
        "a position"
    );

    // A citizen's tagged notice waits among the open contributions, not in the feed.
    let tip = app
        .post(
            &citizen,
            "Queues at the school polling station #election2026",
        )
        .await;
    let tip_id = tip["id"].as_str().unwrap();
    let (_, open) = app
        .get_json(&format!("{EVENTS}/election/contributions"), None)
        .await;
    assert_eq!(ids(&open), vec![tip_id.to_string()]);
    let (_, feed) = app
        .get_json(&format!("{EVENTS}/election/timeline"), None)
        .await;
    assert_eq!(ids(&feed), vec![first["id"].as_str().unwrap().to_string()]);
    assert!(
        ws_next(&mut ws, QUIET).await.is_none(),
        "an open contribution is not in the live feed"
    );

    // The editor features it with one call: it arrives live.
    let (status, _) = act(&app, &editor, "election", tip_id, "feature").await;
    assert_eq!(status, 200);
    let frame = ws_event(&mut ws, "update").await;
    assert_eq!(payload(&frame)["id"], tip_id);
    let (_, open) = app
        .get_json(&format!("{EVENTS}/election/contributions"), None)
        .await;
    assert_eq!(ids(&open), Vec::<String>::new());

    // Pin, key event: each pushed live.
    let first_id = first["id"].as_str().unwrap();
    let (status, _) = act(&app, &editor, "election", first_id, "pin").await;
    assert_eq!(status, 200);
    let frame = ws_event(&mut ws, "event.pin").await;
    assert_eq!(payload(&frame)["status_id"], first_id);
    let (_, pinned) = app
        .get_json(&format!("{EVENTS}/election/timeline?pinned=true"), None)
        .await;
    assert_eq!(ids(&pinned), vec![first_id.to_string()]);
    let polls_close = app
        .post(
            &reporter,
            "Polls have closed across the country #election2026",
        )
        .await;
    let close_id = polls_close["id"].as_str().unwrap();
    ws_event(&mut ws, "update").await;
    let (status, _) = act_with(
        &app,
        &editor,
        "election",
        close_id,
        "key",
        Some(json!({"label": "Polls close"})),
    )
    .await;
    assert_eq!(status, 200);
    let frame = ws_event(&mut ws, "event.key").await;
    assert_eq!(payload(&frame)["status_id"], close_id);
    assert_eq!(payload(&frame)["label"], "Polls close");
    let (_, keys) = app
        .get_json(&format!("{EVENTS}/election/key_events"), None)
        .await;
    assert_eq!(keys[0]["label"], "Polls close");
    assert_eq!(keys[0]["status"]["id"], close_id);

    // An edit reaches the event's readers.
    let (status, _) = app
        .call(
            Method::PUT,
            &format!("/api/v1/statuses/{first_id}"),
            &reporter.token,
            Some(json!({"status": "Turnout at 64% by noon #Election2026"})),
        )
        .await;
    assert_eq!(status, 200);
    let frame = ws_event(&mut ws, "status.update").await;
    assert!(payload(&frame)["content"].as_str().unwrap().contains("64%"));

    // The editor removes the citizen's notice from the event: a delete for the
    // readers, while the notice itself stays.
    let (status, _) = act(&app, &editor, "election", tip_id, "unfeature").await;
    assert_eq!(status, 200);
    let frame = ws_event(&mut ws, "delete").await;
    assert_eq!(frame["payload"], tip_id);
    let (status, _) = app
        .get_json(&format!("/api/v1/statuses/{tip_id}"), None)
        .await;
    assert_eq!(status, 200, "removing from the event deletes nothing");

    // The reporter deletes the key event's notice: gone from the feed and the keys.
    let (status, _) = app
        .call(
            Method::DELETE,
            &format!("/api/v1/statuses/{close_id}"),
            &reporter.token,
            None,
        )
        .await;
    assert_eq!(status, 200);
    let frame = ws_event(&mut ws, "delete").await;
    assert_eq!(frame["payload"], close_id);
    let (_, keys) = app
        .get_json(&format!("{EVENTS}/election/key_events"), None)
        .await;
    assert_eq!(keys, json!([]));
    let (_, feed) = app
        .get_json(&format!("{EVENTS}/election/timeline"), None)
        .await;
    assert_eq!(ids(&feed), vec![first_id.to_string()]);

    // The night ends: live to every reader; the event stays readable, and takes no more.
    let (status, ended) = app
        .call(
            Method::PATCH,
            &format!("{EVENTS}/election"),
            &editor.token,
            Some(json!({"state": "ended"})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(ended["state"], "ended");
    let frame = ws_event(&mut ws, "event.update").await;
    assert_eq!(payload(&frame)["state"], "ended");
    app.post(&reporter, "One more thing #election2026").await;
    let (_, feed) = app
        .get_json(&format!("{EVENTS}/election/timeline"), None)
        .await;
    assert_eq!(
        ids(&feed),
        vec![first_id.to_string()],
        "an ended event is closed"
    );
    let (_, listed) = app.get_json(&format!("{EVENTS}?state=ended"), None).await;
    assert_eq!(listed[0]["slug"], "election");
    let (_, found) = app.get_json(&format!("{EVENTS}?q=ELECTION"), None).await;
    assert_eq!(found[0]["slug"], "election");
    let (_, none) = app
        .get_json(&format!("{EVENTS}?state=upcoming"), None)
        .await;
    assert_eq!(none, json!([]));
    // The archive is found by the search page too.
    let html = app
        .http
        .get(app.url("/search?q=election"))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains(r#"<a href="/events/election">Election night</a>"#),
        "{html}"
    );
}

async fn a_resuming_reader_gets_what_she_missed_and_nothing_removed(b: common::Backend) {
    let Some(app) = spawn(b).await else { return };
    let editor = app.register("editor").await;
    let reporter = app.register("reporter").await;
    let citizen = app.register("citizen").await;
    create_event(&app, &editor, "quake", &["quake"]).await;
    add(&app, &editor, "quake", "contributors", &reporter).await;
    let path = "/api/v1/streaming/event?event=quake";

    // She reads the first notice, then her connection drops.
    let (status, _, r) = SseReader::open(&app, path, None, None).await;
    assert_eq!(status, 200);
    let mut r = r.unwrap();
    app.post(&reporter, "A 6.1 quake was felt downtown #quake")
        .await;
    let seen = sse_event(&mut r, "update").await;
    let last = seen.id.clone().expect("a position");
    drop(r);

    // Meanwhile: a notice, a key event on it, a contribution featured then removed, a
    // notice deleted, and one of the reporter's that is not tagged.
    let second = app
        .post(&reporter, "Aftershock of 4.2 at 14:05 #quake")
        .await;
    let second_id = second["id"].as_str().unwrap();
    act_with(
        &app,
        &editor,
        "quake",
        second_id,
        "key",
        Some(json!({"label": "Aftershock"})),
    )
    .await;
    let tip = app.post(&citizen, "Our street is fine #quake").await;
    let tip_id = tip["id"].as_str().unwrap();
    assert_eq!(act(&app, &editor, "quake", tip_id, "feature").await.0, 200);
    assert_eq!(
        act(&app, &editor, "quake", tip_id, "unfeature").await.0,
        200
    );
    let oops = app.post(&reporter, "Wrong figure, ignore #quake").await;
    let oops_id = oops["id"].as_str().unwrap();
    app.call(
        Method::DELETE,
        &format!("/api/v1/statuses/{oops_id}"),
        &reporter.token,
        None,
    )
    .await;
    app.post(&reporter, "Lunch break, untagged").await;

    // She comes back with her position: the aftershock and its key mark, the removal
    // and the deletion — never the removed or deleted notice itself.
    let missed = sse_replay(&app, path, &last, None).await;
    let kinds: Vec<&str> = missed.iter().map(|e| e.event.as_str()).collect();
    let updates: Vec<String> = missed
        .iter()
        .filter(|e| e.event == "update")
        .map(|e| {
            serde_json::from_str::<Value>(&e.data).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(updates, vec![second_id.to_string()], "{kinds:?}");
    let key = missed
        .iter()
        .find(|e| e.event == "event.key")
        .expect("the key event she missed");
    let key: Value = serde_json::from_str(&key.data).unwrap();
    assert_eq!(key["status_id"], second_id);
    assert_eq!(key["label"], "Aftershock");
    assert!(
        missed
            .iter()
            .all(|e| !e.data.contains("Our street is fine") && !e.data.contains("Wrong figure")),
        "nothing removed or deleted is replayed: {missed:?}"
    );
    let positions: Vec<i64> = missed
        .iter()
        .map(|e| e.id.as_deref().unwrap().parse().unwrap())
        .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "in order");
    assert!(positions[0] > last.parse::<i64>().unwrap(), "nothing twice");

    // A WebSocket reader resuming from the same place gets the same key event.
    let mut ws = ws_connect(&app, None).await;
    ws_send(
        &mut ws,
        json!({"type": "subscribe", "stream": "event", "event": "quake", "last_event_id": last}),
    )
    .await;
    let frame = ws_event(&mut ws, "event.key").await;
    assert_eq!(payload(&frame)["label"], "Aftershock");
}

async fn bad_event_requests_change_nothing(b: common::Backend) {
    let Some(app) = spawn(b).await else { return };
    let editor = app.register("editor").await;
    let stranger = app.register("stranger").await;
    create_event(&app, &editor, "summit", &["summit"]).await;
    let untagged = app.post(&editor, "Nothing to do with it").await;
    let untagged_id = untagged["id"].as_str().unwrap();
    let tagged = app.post(&stranger, "At the #summit gates").await;
    let tagged_id = tagged["id"].as_str().unwrap();

    // Unknown slugs: 404 on reads, actions and streams.
    let (status, body) = app.get_json(&format!("{EVENTS}/nope"), None).await;
    assert_eq!(status, 404);
    assert!(body["error"].is_string());
    assert_eq!(
        app.get_json(&format!("{EVENTS}/nope/timeline"), None)
            .await
            .0,
        404
    );
    assert_eq!(
        act(&app, &editor, "nope", tagged_id, "feature").await.0,
        404
    );
    let (status, _, _) =
        SseReader::open(&app, "/api/v1/streaming/event?event=nope", None, None).await;
    assert_eq!(status, 404);
    let (status, _, _) = SseReader::open(&app, "/api/v1/streaming/event", None, None).await;
    assert_eq!(status, 400, "an event stream needs its event");
    let mut ws = ws_connect(&app, None).await;
    ws_send(
        &mut ws,
        json!({"type": "subscribe", "stream": "event", "event": "nope"}),
    )
    .await;
    let refused = ws_next(&mut ws, WAIT).await.expect("an error frame");
    assert_eq!(refused["status"], 404, "{refused}");
    // The connection stays usable: a subscription to an event that exists works on it.
    ws_send(
        &mut ws,
        json!({"type": "subscribe", "stream": "event", "event": "summit"}),
    )
    .await;
    tokio::time::sleep(QUIET).await;
    app.post(&editor, "Doors open #summit").await;
    let frame = ws_event(&mut ws, "update").await;
    assert_eq!(frame["stream"], json!(["event", "summit"]));

    // A non-editor: 403 on every editor action, nothing changed.
    for action in ["feature", "pin", "key", "unfeature"] {
        let (status, body) = act_with(
            &app,
            &stranger,
            "summit",
            tagged_id,
            action,
            Some(json!({"label": "x"})),
        )
        .await;
        assert_eq!(status, 403, "{action}: {body}");
    }
    let (status, _) = app
        .call(
            Method::PATCH,
            &format!("{EVENTS}/summit"),
            &stranger.token,
            Some(json!({"title": "Mine now"})),
        )
        .await;
    assert_eq!(status, 403);
    let (status, _) = app
        .call(
            Method::POST,
            &format!("{EVENTS}/summit/editors"),
            &stranger.token,
            Some(json!({"account_ids": [stranger.id]})),
        )
        .await;
    assert_eq!(status, 403);
    assert_eq!(
        app.call(
            Method::DELETE,
            &format!("{EVENTS}/summit"),
            &stranger.token,
            None
        )
        .await
        .0,
        403
    );

    // A feature of a notice not tagged for the event: 422; of a private one: it does not
    // exist for the editor (404), tagged or not.
    let (status, body) = act(&app, &editor, "summit", untagged_id, "feature").await;
    assert_eq!(status, 422, "{body}");
    let private = app
        .post_with(
            &stranger,
            json!({"status": "Inside the #summit", "visibility": "private"}),
        )
        .await;
    let private_id = private["id"].as_str().unwrap();
    assert_eq!(
        act(&app, &editor, "summit", private_id, "feature").await.0,
        404
    );
    // Tags are bounded before they are looked at.
    let many: Vec<String> = (0..5000).map(|i| format!("t{i}")).collect();
    let (status, _) = app
        .call(
            Method::PATCH,
            &format!("{EVENTS}/summit"),
            &editor.token,
            Some(json!({"tags": many})),
        )
        .await;
    assert_eq!(status, 422);
    // Making an editor a contributor leaves her an editor.
    add(&app, &editor, "summit", "contributors", &editor).await;
    let (_, editors) = app
        .get_json(&format!("{EVENTS}/summit/editors"), None)
        .await;
    assert_eq!(editors[0]["username"], "editor");
    // Pin or key what is not in the feed: 422. An empty label: 422.
    assert_eq!(act(&app, &editor, "summit", tagged_id, "pin").await.0, 422);
    let (status, _) = act_with(
        &app,
        &editor,
        "summit",
        tagged_id,
        "key",
        Some(json!({"label": "x"})),
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(
        act(&app, &editor, "summit", tagged_id, "feature").await.0,
        200
    );
    assert_eq!(act(&app, &editor, "summit", tagged_id, "key").await.0, 422);

    // Invalid state moves: 422; an ended event does not go live again.
    let patch = |state: &'static str| {
        let (app, token) = (&app, editor.token.clone());
        async move {
            app.call(
                Method::PATCH,
                &format!("{EVENTS}/summit"),
                &token,
                Some(json!({"state": state})),
            )
            .await
        }
    };
    assert_eq!(patch("upcoming").await.0, 422, "live does not go back");
    assert_eq!(patch("over").await.0, 422);
    assert_eq!(patch("ended").await.0, 200);
    let (status, body) = patch("live").await;
    assert_eq!(status, 422, "{body}");
    let (_, e) = app.get_json(&format!("{EVENTS}/summit"), None).await;
    assert_eq!(e["state"], "ended");
    assert_eq!(e["title"], "Election night");

    // Bad creations: 422, and a taken slug.
    for body in [
        json!({"slug": "Bad Slug", "title": "x", "tags": ["x"]}),
        json!({"slug": "ok", "title": "", "tags": ["x"]}),
        json!({"slug": "ok", "title": "x", "tags": []}),
        json!({"slug": "ok", "title": "x", "tags": ["not a tag"]}),
        json!({"slug": "ok", "title": "x", "tags": ["x"], "state": "over"}),
        json!({"slug": "ok", "title": "x", "tags": ["x"], "starts_at": "tomorrow"}),
        json!({"slug": "summit", "title": "x", "tags": ["x"]}),
    ] {
        let (status, answer) = app
            .call(Method::POST, EVENTS, &editor.token, Some(body.clone()))
            .await;
        assert_eq!(status, 422, "{body} → {answer}");
        assert!(answer["error"].is_string());
    }
    let (_, all) = app.get_json(EVENTS, None).await;
    assert_eq!(all.as_array().unwrap().len(), 1, "nothing was created");
    // The last editor stays.
    let (status, _) = app
        .call(
            Method::DELETE,
            &format!("{EVENTS}/summit/editors"),
            &editor.token,
            Some(json!({"account_ids": [editor.id]})),
        )
        .await;
    assert_eq!(status, 422);
}

async fn only_staff_create_events_when_configured(b: common::Backend) {
    let Some(app) = spawn_with(b, |c| c.event_creators = "staff".into()).await else {
        return;
    };
    let reporter = app.register("reporter").await;
    let chief = app.register("chief").await;
    app.give_role(&chief, "moderator").await;
    let body = json!({"slug": "vote", "title": "Vote", "tags": ["vote"]});
    let (status, _) = app
        .call(Method::POST, EVENTS, &reporter.token, Some(body.clone()))
        .await;
    assert_eq!(status, 403);
    let (status, e) = app
        .call(Method::POST, EVENTS, &chief.token, Some(body))
        .await;
    assert_eq!(status, 200);
    assert_eq!(e["state"], "upcoming");
    // Staff may curate any event; the reporter, made editor, may too.
    let (status, _) = app
        .call(
            Method::POST,
            &format!("{EVENTS}/vote/editors"),
            &chief.token,
            Some(json!({"account_ids": [reporter.id]})),
        )
        .await;
    assert_eq!(status, 200);
    let n = app.post(&reporter, "Doors open #vote").await;
    let (_, feed) = app.get_json(&format!("{EVENTS}/vote/timeline"), None).await;
    assert_eq!(
        ids(&feed),
        vec![n["id"].as_str().unwrap().to_string()],
        "editors write it too"
    );
}

async fn a_deleted_event_leaves_nothing_behind(b: common::Backend) {
    let Some(app) = spawn(b).await else { return };
    let editor = app.register("editor").await;
    create_event(&app, &editor, "drill", &["drill"]).await;
    let n = app.post(&editor, "This is a drill #drill").await;
    let id = n["id"].as_str().unwrap();
    assert_eq!(act(&app, &editor, "drill", id, "pin").await.0, 200);
    // A reader had it open (the node knows the event exists).
    let (status, _, open) =
        SseReader::open(&app, "/api/v1/streaming/event?event=drill", None, None).await;
    assert_eq!(status, 200);
    drop(open);
    let (status, _) = app
        .call(
            Method::DELETE,
            &format!("{EVENTS}/drill"),
            &editor.token,
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(app.get_json(&format!("{EVENTS}/drill"), None).await.0, 404);
    let (status, _, _) =
        SseReader::open(&app, "/api/v1/streaming/event?event=drill", None, None).await;
    assert_eq!(status, 404);
    let (status, _) = app.get_json(&format!("/api/v1/statuses/{id}"), None).await;
    assert_eq!(status, 200, "its notices stay");
    // A new event of the same name starts clean: its history is its own.
    let (status, _) = app
        .call(
            Method::POST,
            EVENTS,
            &editor.token,
            Some(json!({"slug": "drill", "title": "The real thing", "tags": ["real"]})),
        )
        .await;
    assert_eq!(status, 200);
    let history = sse_replay(&app, "/api/v1/streaming/event?event=drill", "0", None).await;
    let kinds: Vec<&str> = history.iter().map(|e| e.event.as_str()).collect();
    assert_eq!(kinds, vec!["event.update"], "{history:?}");
    assert!(history[0].data.contains("The real thing"));
}

/// Posts that arrive together are written in one batch (group commit): each still goes
/// where its author's role says.
async fn notices_posted_at_once_find_their_places(b: common::Backend) {
    let Some(app) = spawn(b).await else { return };
    let editor = app.register("editor").await;
    let reporter = app.register("reporter").await;
    let citizen = app.register("citizen").await;
    create_event(&app, &editor, "rush", &["rush", "rushhour"]).await;
    add(&app, &editor, "rush", "contributors", &reporter).await;
    let posts = (0..24).map(|i| {
        let (app, who) = (&app, if i % 2 == 0 { &reporter } else { &citizen });
        let tag = if i % 3 == 0 { "rushhour" } else { "rush" };
        async move { app.post(who, &format!("Update {i} #{tag} #other")).await }
    });
    let posted = futures::future::join_all(posts).await;
    let mine = |who: &User| {
        let mut v: Vec<String> = posted
            .iter()
            .filter(|p| p["account"]["id"] == who.id.as_str())
            .map(|p| p["id"].as_str().unwrap().to_string())
            .collect();
        v.sort_by_key(|id| std::cmp::Reverse(id.parse::<i64>().unwrap()));
        v
    };
    let (_, feed) = app
        .get_json(&format!("{EVENTS}/rush/timeline?limit=40"), None)
        .await;
    assert_eq!(ids(&feed), mine(&reporter));
    let (_, open) = app
        .get_json(&format!("{EVENTS}/rush/contributions?limit=40"), None)
        .await;
    assert_eq!(ids(&open), mine(&citizen));
}

/// A reporter who forgot the event's tag adds it by editing: the notice enters the feed,
/// live; one who tagged by mistake removes it: the notice leaves, with its pin, live. An
/// editor's removal stays whatever the tags say.
async fn a_corrected_tag_moves_a_notice_in_and_out(b: common::Backend) {
    let Some(app) = spawn(b).await else { return };
    let editor = app.register("editor").await;
    let reporter = app.register("reporter").await;
    create_event(&app, &editor, "flood", &["flood"]).await;
    add(&app, &editor, "flood", "contributors", &reporter).await;
    let mut ws = ws_connect(&app, None).await;
    ws_send(
        &mut ws,
        json!({"type": "subscribe", "stream": "event", "event": "flood"}),
    )
    .await;
    tokio::time::sleep(QUIET).await;
    let n = app.post(&reporter, "River at 4.2 m").await;
    let id = n["id"].as_str().unwrap().to_string();
    let edit = |text: &'static str| {
        let (app, token, id) = (&app, reporter.token.clone(), id.clone());
        async move {
            app.call(
                Method::PUT,
                &format!("/api/v1/statuses/{id}"),
                &token,
                Some(json!({"status": text})),
            )
            .await
            .0
        }
    };
    let feed = || async {
        let (_, v) = app
            .get_json(&format!("{EVENTS}/flood/timeline"), None)
            .await;
        ids(&v)
    };
    assert_eq!(edit("River at 4.2 m #flood").await, 200);
    let frame = ws_event(&mut ws, "update").await;
    assert_eq!(payload(&frame)["id"], id.as_str());
    assert_eq!(feed().await, vec![id.clone()]);
    assert_eq!(act(&app, &editor, "flood", &id, "pin").await.0, 200);
    ws_event(&mut ws, "event.pin").await;
    assert_eq!(edit("River at 4.2 m, wrong river").await, 200);
    ws_event(&mut ws, "event.unpin").await;
    let frame = ws_event(&mut ws, "delete").await;
    assert_eq!(frame["payload"], id.as_str());
    assert_eq!(feed().await, Vec::<String>::new());
    // The tag back: in again. Removed by the editor: out for good.
    assert_eq!(edit("River at 4.3 m #flood").await, 200);
    ws_event(&mut ws, "update").await;
    assert_eq!(feed().await, vec![id.clone()]);
    assert_eq!(act(&app, &editor, "flood", &id, "unfeature").await.0, 200);
    assert_eq!(edit("River at 4.4 m #flood").await, 200);
    assert_eq!(feed().await, Vec::<String>::new());
}

// Two nodes on Postgres + Redis: the reporter posts on A, a reader on B sees it live.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(all(tidings_postgres, tidings_redis)),
    ignore = "needs TIDINGS_TEST_DATABASE_URL and redis-server"
)]
async fn a_reader_on_another_node_follows_the_event_live() {
    let Some(cluster) = Cluster::start().await else {
        return;
    };
    let a = cluster.node(|_| {}).await;
    let b = cluster.node(|_| {}).await;
    let editor = a.register("editor").await;
    let reporter = a.register("reporter").await;
    create_event(&a, &editor, "storm", &["storm"]).await;
    add(&a, &editor, "storm", "contributors", &reporter).await;
    let (status, _, r) =
        SseReader::open(&b, "/api/v1/streaming/event?event=storm", None, None).await;
    assert_eq!(status, 200);
    let mut r = r.unwrap();
    let mut ws = ws_connect(&b, None).await;
    ws_send(
        &mut ws,
        json!({"type": "subscribe", "stream": "event", "event": "storm"}),
    )
    .await;
    tokio::time::sleep(QUIET).await;
    let n = a
        .post(&reporter, "Winds of 120 km/h on the coast #storm")
        .await;
    let got = sse_event(&mut r, "update").await;
    let got: Value = serde_json::from_str(&got.data).unwrap();
    assert_eq!(got["id"], n["id"]);
    assert_eq!(payload(&ws_event(&mut ws, "update").await)["id"], n["id"]);
    // The editor on A pins and ends it; B's readers hear both.
    let id = n["id"].as_str().unwrap();
    assert_eq!(act(&a, &editor, "storm", id, "pin").await.0, 200);
    sse_event(&mut r, "event.pin").await;
    a.call(
        Method::PATCH,
        "/api/v1/tidings/events/storm",
        &editor.token,
        Some(json!({"state": "ended"})),
    )
    .await;
    let ended = sse_event(&mut r, "event.update").await;
    assert_eq!(
        serde_json::from_str::<Value>(&ended.data).unwrap()["state"],
        "ended"
    );
    let frame = ws_event(&mut ws, "event.update").await;
    assert_eq!(payload(&frame)["state"], "ended");
}
