//! What a Mastodon app does after the first post: open a thread, hear of what others did
//! (over REST and live), find notices and people, page a profile's followers, keep
//! bookmarks and pins. Each story on both backends.

mod common;

use common::{Backend, SseReader, TestApp, User, WAIT, spawn};
use reqwest::Method;
use serde_json::{Value, json};

on_both_backends!(
    a_thread_opens_with_what_the_reader_may_see,
    notifications_arrive_over_rest_and_live_and_go_when_undone,
    search_finds_old_notices_as_they_are_now_and_respects_visibility,
    followers_bookmarks_and_pins_are_listed_and_paged,
);

fn ids(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap_or_else(|| panic!("not a list: {list}"))
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_string())
        .collect()
}

async fn reply(app: &TestApp, who: &User, to: &Value, text: &str, visibility: &str) -> Value {
    app.post_with(
        who,
        json!({"status": text, "in_reply_to_id": to["id"], "visibility": visibility}),
    )
    .await
}

async fn a_thread_opens_with_what_the_reader_may_see(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let (alice, bob, carol) = (
        app.register("alice").await,
        app.register("bob").await,
        app.register("carol").await,
    );
    let root = app.post(&alice, "Polls close at eight").await;
    let r1 = reply(&app, &bob, &root, "Queues in the rain", "public").await;
    let secret = reply(&app, &carol, &r1, "for my followers only", "private").await;
    app.follow(&alice, &carol, true).await;
    let r3 = reply(&app, &alice, &secret, "thanks", "public").await;
    let r2 = reply(&app, &alice, &root, "Turnout is high", "public").await;
    let path = format!("/api/v1/statuses/{}/context", r1["id"].as_str().unwrap());

    // Anonymous: the private reply is not there; the public reply below it is.
    let (status, ctx) = app.get_json(&path, None).await;
    assert_eq!(status, 200, "{ctx}");
    assert_eq!(ids(&ctx["ancestors"]), vec![root["id"].as_str().unwrap()]);
    assert_eq!(ids(&ctx["descendants"]), vec![r3["id"].as_str().unwrap()]);

    // A follower of carol sees it, in thread order (each reply before its own replies).
    app.follow(&bob, &carol, true).await;
    let (_, ctx) = app.get_json(&path, Some(&bob.token)).await;
    assert_eq!(
        ids(&ctx["descendants"]),
        vec![secret["id"].as_str().unwrap(), r3["id"].as_str().unwrap()]
    );
    // From the root: the whole tree, depth first.
    let (_, ctx) = app
        .get_json(
            &format!("/api/v1/statuses/{}/context", root["id"].as_str().unwrap()),
            Some(&bob.token),
        )
        .await;
    assert!(ctx["ancestors"].as_array().unwrap().is_empty());
    assert_eq!(
        ids(&ctx["descendants"]),
        [&r1, &secret, &r3, &r2]
            .iter()
            .map(|s| s["id"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    );
    // The private notice's own thread is 404 to those who may not see it.
    let secret_path = format!(
        "/api/v1/statuses/{}/context",
        secret["id"].as_str().unwrap()
    );
    assert_eq!(app.get_json(&secret_path, None).await.0, 404);
    // A deleted reply leaves the thread.
    let (s, _) = app
        .call(
            Method::DELETE,
            &format!("/api/v1/statuses/{}", r3["id"].as_str().unwrap()),
            &alice.token,
            None,
        )
        .await;
    assert_eq!(s, 200);
    let (_, ctx) = app.get_json(&path, Some(&bob.token)).await;
    assert_eq!(
        ids(&ctx["descendants"]),
        vec![secret["id"].as_str().unwrap()]
    );
    assert_eq!(
        app.get_json("/api/v1/statuses/999999/context", None)
            .await
            .0,
        404
    );
}

/// The next SSE event that is not a heartbeat, within [`WAIT`].
async fn next_event(sse: &mut SseReader) -> common::SseEvent {
    sse.next(WAIT)
        .await
        .expect("an event on the notification stream in time")
}

async fn notifications_arrive_over_rest_and_live_and_go_when_undone(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let (alice, bob) = (app.register("alice").await, app.register("bob").await);
    let notice = app.post(&alice, "Live from the count").await;
    let nid = notice["id"].as_str().unwrap().to_string();
    let (status, _, sse) = SseReader::open(
        &app,
        "/api/v1/streaming/user/notification",
        None,
        Some(&alice.token),
    )
    .await;
    assert_eq!(status, 200);
    let mut sse = sse.unwrap();
    app.until_counter("tidings_subscriptions", 1).await;

    app.follow(&bob, &alice, true).await;
    let (s, _) = app
        .call(
            Method::POST,
            &format!("/api/v1/statuses/{nid}/favourite"),
            &bob.token,
            None,
        )
        .await;
    assert_eq!(s, 200);
    let (s, _) = app
        .call(
            Method::POST,
            &format!("/api/v1/statuses/{nid}/reblog"),
            &bob.token,
            None,
        )
        .await;
    assert_eq!(s, 200);
    app.post(&bob, "@alice what is the turnout?").await;
    // Her own actions tell her nothing.
    app.post(&alice, "@alice note to self").await;

    let mut live = Vec::new();
    for _ in 0..4 {
        let e = next_event(&mut sse).await;
        assert_eq!(e.event, "notification", "{}", e.data);
        assert!(
            e.id.is_some(),
            "a notification has a position to resume from"
        );
        let n: Value = serde_json::from_str(&e.data).unwrap();
        assert_eq!(n["account"]["username"], "bob", "{n}");
        live.push(n["type"].as_str().unwrap().to_string());
    }
    assert_eq!(live, ["follow", "favourite", "reblog", "mention"]);

    let (s, list) = app
        .get_json("/api/v1/notifications", Some(&alice.token))
        .await;
    assert_eq!(s, 200, "{list}");
    let types: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["mention", "reblog", "favourite", "follow"]);
    assert_eq!(
        list[1]["status"]["id"],
        nid.as_str(),
        "a reblog names her notice"
    );
    assert!(
        list[3].get("status").is_none(),
        "a follow is about no notice"
    );
    let (_, only) = app
        .get_json(
            "/api/v1/notifications?types[]=favourite&types[]=follow",
            Some(&alice.token),
        )
        .await;
    assert_eq!(only.as_array().unwrap().len(), 2);
    let (_, without) = app
        .get_json(
            "/api/v1/notifications?exclude_types[]=mention",
            Some(&alice.token),
        )
        .await;
    assert_eq!(without.as_array().unwrap().len(), 3);
    let (_, none) = app
        .get_json("/api/v1/notifications?types[]=poll", Some(&alice.token))
        .await;
    assert_eq!(none, json!([]));
    assert_eq!(
        app.get_json("/api/v1/notifications?types[]=nonsense", Some(&alice.token))
            .await
            .0,
        400
    );
    // Paged: one at a time, following the cursor.
    let (_, first) = app
        .get_json("/api/v1/notifications?limit=1", Some(&alice.token))
        .await;
    let (_, second) = app
        .get_json(
            &format!(
                "/api/v1/notifications?limit=1&max_id={}",
                first[0]["id"].as_str().unwrap()
            ),
            Some(&alice.token),
        )
        .await;
    assert_eq!(second[0]["type"], "reblog");

    // Undone: the favourite's notification goes; the others stay.
    let (s, _) = app
        .call(
            Method::POST,
            &format!("/api/v1/statuses/{nid}/unfavourite"),
            &bob.token,
            None,
        )
        .await;
    assert_eq!(s, 200);
    let (_, list) = app
        .get_json("/api/v1/notifications", Some(&alice.token))
        .await;
    assert_eq!(list.as_array().unwrap().len(), 3, "{list}");
    // Bob cannot read or dismiss hers.
    let one = list[0]["id"].as_str().unwrap().to_string();
    assert_eq!(
        app.get_json(&format!("/api/v1/notifications/{one}"), Some(&bob.token))
            .await
            .0,
        404
    );
    let (s, _) = app
        .call(
            Method::POST,
            &format!("/api/v1/notifications/{one}/dismiss"),
            &alice.token,
            None,
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(
        app.get_json(&format!("/api/v1/notifications/{one}"), Some(&alice.token))
            .await
            .0,
        404
    );
    let (s, _) = app
        .call(
            Method::POST,
            "/api/v1/notifications/clear",
            &alice.token,
            None,
        )
        .await;
    assert_eq!(s, 200);
    let (_, list) = app
        .get_json("/api/v1/notifications", Some(&alice.token))
        .await;
    assert_eq!(list, json!([]));
    // A token without read:notifications may not read them, nor their stream.
    let limited = app.user_token(&alice, "read:statuses").await;
    assert_eq!(
        app.get_json("/api/v1/notifications", Some(&limited))
            .await
            .0,
        403
    );
    let (status, _, _) = SseReader::open(
        &app,
        "/api/v1/streaming/user/notification",
        None,
        Some(&limited),
    )
    .await;
    assert_eq!(status, 401);
}

async fn search_finds_old_notices_as_they_are_now_and_respects_visibility(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let (alice, bob, carol) = (
        app.register("alice").await,
        app.register("bob").await,
        app.register("carol").await,
    );
    let old = app
        .post(&alice, "Earthquake felt in the harbour #quake")
        .await;
    for i in 0..30 {
        app.post(&bob, &format!("unrelated update {i}")).await;
    }
    app.post_with(
        &carol,
        json!({"status": "Earthquake shelter list, followers only", "visibility": "private"}),
    )
    .await;
    let search = |q: &str| format!("/api/v2/search?type=statuses&q={q}");

    let (s, found) = app.get_json(&search("earthquake"), None).await;
    assert_eq!(s, 200, "{found}");
    assert_eq!(ids(&found["statuses"]), vec![old["id"].as_str().unwrap()]);
    // Carol's follower finds hers too; every word must match.
    app.follow(&bob, &carol, true).await;
    let (_, found) = app.get_json(&search("earthquake"), Some(&bob.token)).await;
    assert_eq!(found["statuses"].as_array().unwrap().len(), 2);
    let (_, found) = app
        .get_json(&search("earthquake%20shelter"), Some(&bob.token))
        .await;
    assert_eq!(found["statuses"].as_array().unwrap().len(), 1);
    // Query syntax is just words.
    let (s, found) = app.get_json(&search("%22earthquake%20OR%20*"), None).await;
    assert_eq!(s, 200);
    assert!(found["statuses"].as_array().unwrap().is_empty(), "{found}");

    // An edit changes what is found; a deletion removes it.
    let oid = old["id"].as_str().unwrap();
    let (s, _) = app
        .call(
            Method::PUT,
            &format!("/api/v1/statuses/{oid}"),
            &alice.token,
            Some(json!({"status": "Tremor felt in the harbour #quake"})),
        )
        .await;
    assert_eq!(s, 200);
    let (_, found) = app.get_json(&search("earthquake"), None).await;
    assert!(found["statuses"].as_array().unwrap().is_empty(), "{found}");
    let (_, found) = app.get_json(&search("tremor"), None).await;
    assert_eq!(ids(&found["statuses"]), vec![oid]);
    app.call(
        Method::DELETE,
        &format!("/api/v1/statuses/{oid}"),
        &alice.token,
        None,
    )
    .await;
    let (_, found) = app.get_json(&search("tremor"), None).await;
    assert!(found["statuses"].as_array().unwrap().is_empty(), "{found}");

    // Accounts and tags by prefix.
    let (_, found) = app.get_json("/api/v2/search?q=ali", None).await;
    assert_eq!(found["accounts"][0]["username"], "alice", "{found}");
    let (_, found) = app.get_json("/api/v2/search?q=%23qua", None).await;
    assert_eq!(found["hashtags"][0]["name"], "quake", "{found}");
    assert!(found["accounts"].as_array().unwrap().is_empty());
    let (_, found) = app
        .get_json("/api/v1/accounts/search?q=car", Some(&bob.token))
        .await;
    assert_eq!(found[0]["username"], "carol");
    // Only among those he follows: carol, not alice.
    let names = |found: Value| -> Vec<String> {
        found
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["username"].as_str().unwrap().to_string())
            .collect()
    };
    let (_, found) = app
        .get_json(
            "/api/v1/accounts/search?q=car&following=true",
            Some(&bob.token),
        )
        .await;
    assert_eq!(names(found), ["carol"]);
    let (_, found) = app
        .get_json(
            "/api/v1/accounts/search?q=ali&following=true",
            Some(&bob.token),
        )
        .await;
    assert!(names(found).is_empty());
    // Bad input.
    assert_eq!(app.get_json("/api/v2/search", None).await.0, 400);
    assert_eq!(
        app.get_json("/api/v2/search?q=x&type=nope", None).await.0,
        400
    );
    assert_eq!(
        app.get_json("/api/v2/search?q=x&offset=5", None).await.0,
        401
    );
}

async fn followers_bookmarks_and_pins_are_listed_and_paged(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let alice = app.register("alice").await;
    let mut fans = Vec::new();
    for i in 0..3 {
        let u = app.register(&format!("fan{i}")).await;
        app.follow(&u, &alice, true).await;
        fans.push(u);
    }
    let path = format!("/api/v1/accounts/{}/followers?limit=2", alice.id);
    let res = app.http.get(app.url(&path)).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let link = res.headers()["link"].to_str().unwrap().to_string();
    let page: Value = res.json().await.unwrap();
    let names: Vec<&str> = page
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["username"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["fan2", "fan1"], "newest first");
    let next = link
        .split(',')
        .find(|l| l.contains("rel=\"next\""))
        .and_then(|l| l.split(['<', '>']).nth(1))
        .unwrap()
        .to_string();
    let page: Value = app
        .http
        .get(&next)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(page[0]["username"], "fan0", "{page}");
    assert_eq!(page.as_array().unwrap().len(), 1);
    let (_, following) = app
        .get_json(&format!("/api/v1/accounts/{}/following", fans[0].id), None)
        .await;
    assert_eq!(following[0]["username"], "alice");

    // Bookmarks are the reader's own; favourites too.
    let n1 = app.post(&alice, "first").await;
    let n2 = app.post(&alice, "second").await;
    let reader = &fans[0];
    for n in [&n1, &n2] {
        let (s, body) = app
            .call(
                Method::POST,
                &format!("/api/v1/statuses/{}/bookmark", n["id"].as_str().unwrap()),
                &reader.token,
                None,
            )
            .await;
        assert_eq!(s, 200);
        assert_eq!(body["bookmarked"], true);
    }
    let (_, marks) = app.get_json("/api/v1/bookmarks", Some(&reader.token)).await;
    assert_eq!(
        ids(&marks),
        vec![n2["id"].as_str().unwrap(), n1["id"].as_str().unwrap()]
    );
    let (_, marks) = app.get_json("/api/v1/bookmarks", Some(&alice.token)).await;
    assert_eq!(marks, json!([]));
    app.call(
        Method::POST,
        &format!("/api/v1/statuses/{}/favourite", n1["id"].as_str().unwrap()),
        &reader.token,
        None,
    )
    .await;
    let (_, favs) = app
        .get_json("/api/v1/favourites", Some(&reader.token))
        .await;
    assert_eq!(ids(&favs), vec![n1["id"].as_str().unwrap()]);
    let (_, who) = app
        .get_json(
            &format!(
                "/api/v1/statuses/{}/favourited_by",
                n1["id"].as_str().unwrap()
            ),
            None,
        )
        .await;
    assert_eq!(who[0]["username"], "fan0");

    // Pins: only one's own, at most five, and `pinned=true` lists exactly them.
    let (s, _) = app
        .call(
            Method::POST,
            &format!("/api/v1/statuses/{}/pin", n1["id"].as_str().unwrap()),
            &reader.token,
            None,
        )
        .await;
    assert_eq!(s, 422, "not her notice");
    let (s, pinned) = app
        .call(
            Method::POST,
            &format!("/api/v1/statuses/{}/pin", n1["id"].as_str().unwrap()),
            &alice.token,
            None,
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(pinned["pinned"], true);
    let (_, list) = app
        .get_json(
            &format!("/api/v1/accounts/{}/statuses?pinned=true", alice.id),
            None,
        )
        .await;
    assert_eq!(ids(&list), vec![n1["id"].as_str().unwrap()]);
    for i in 0..4 {
        let n = app.post(&alice, &format!("pin {i}")).await;
        let (s, _) = app
            .call(
                Method::POST,
                &format!("/api/v1/statuses/{}/pin", n["id"].as_str().unwrap()),
                &alice.token,
                None,
            )
            .await;
        assert_eq!(s, 200);
    }
    let n = app.post(&alice, "one too many").await;
    let (s, body) = app
        .call(
            Method::POST,
            &format!("/api/v1/statuses/{}/pin", n["id"].as_str().unwrap()),
            &alice.token,
            None,
        )
        .await;
    assert_eq!(s, 422, "{body}");
    let (_, list) = app
        .get_json(
            &format!("/api/v1/accounts/{}/statuses?pinned=true", alice.id),
            None,
        )
        .await;
    assert_eq!(list.as_array().unwrap().len(), 5);
    // Replies by others are left out with exclude_replies; her own thread stays.
    let own = reply(&app, &alice, &n1, "thread continues", "public").await;
    let other = app
        .post_with(
            &alice,
            json!({"status": "@fan0 thanks", "in_reply_to_id": app.post(&fans[0], "q").await["id"]}),
        )
        .await;
    let (_, list) = app
        .get_json(
            &format!(
                "/api/v1/accounts/{}/statuses?exclude_replies=true&limit=40",
                alice.id
            ),
            None,
        )
        .await;
    let shown = ids(&list);
    assert!(shown.contains(&own["id"].as_str().unwrap().to_string()));
    assert!(!shown.contains(&other["id"].as_str().unwrap().to_string()));
    let (_, media) = app
        .get_json(
            &format!("/api/v1/accounts/{}/statuses?only_media=true", alice.id),
            None,
        )
        .await;
    assert_eq!(media, json!([]));
}
