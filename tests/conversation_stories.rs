//! Direct notices: a source writes to a reporter privately. Only the two of them can read
//! it — anywhere: a notice's page, home, a profile, search, public timelines — and it
//! arrives live as a `conversation` on the reporter's `direct` stream, with replay.

mod common;

use common::{Backend, WAIT, spawn, sse_replay, ws_connect, ws_next, ws_send};
use reqwest::Method;
use serde_json::{Value, json};

on_both_backends!(
    a_source_writes_to_a_reporter_directly,
    a_mentioned_account_reads_a_private_notice
);

fn ids(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_string())
        .collect()
}

async fn a_source_writes_to_a_reporter_directly(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let (reporter, source, follower, outsider) = (
        app.register("reporter").await,
        app.register("source").await,
        app.register("follower").await,
        app.register("outsider").await,
    );
    // Both follow the source: following is not enough to read her direct notices.
    app.follow(&reporter, &source, true).await;
    app.follow(&follower, &source, true).await;

    let mut ws = ws_connect(&app, Some(&reporter.token)).await;
    ws_send(&mut ws, json!({"type": "subscribe", "stream": "direct"})).await;
    app.until_counter("tidings_subscriptions", 1).await;

    let dm = app
        .post_with(
            &source,
            json!({"status": "@reporter the minutes are in the blue folder", "visibility": "direct"}),
        )
        .await;
    assert_eq!(dm["visibility"], "direct", "{dm}");
    let dm_id = dm["id"].as_str().unwrap().to_string();

    // Live on her `direct` stream, as a conversation.
    let f = ws_next(&mut ws, WAIT).await.expect("a conversation frame");
    assert_eq!(f["event"], "conversation", "{f}");
    assert_eq!(f["stream"], json!(["direct"]));
    let c: Value = serde_json::from_str(f["payload"].as_str().unwrap()).unwrap();
    assert_eq!(c["last_status"]["id"], dm_id.as_str());
    assert_eq!(c["unread"], true);
    assert_eq!(c["accounts"][0]["username"], "source");
    let conversation = c["id"].as_str().unwrap().to_string();

    // Who may read it: the two of them, nobody else.
    for (who, want) in [
        (&reporter, 200),
        (&source, 200),
        (&follower, 404),
        (&outsider, 404),
    ] {
        let (s, _) = app
            .get_json(&format!("/api/v1/statuses/{dm_id}"), Some(&who.token))
            .await;
        assert_eq!(s, want, "{} reads the direct notice", who.username);
    }
    let (s, _) = app
        .get_json(&format!("/api/v1/statuses/{dm_id}"), None)
        .await;
    assert_eq!(s, 404);
    let (_, home) = app
        .get_json("/api/v1/timelines/home", Some(&reporter.token))
        .await;
    assert!(ids(&home).contains(&dm_id), "in the reporter's home");
    let (_, home) = app
        .get_json("/api/v1/timelines/home", Some(&follower.token))
        .await;
    assert!(!ids(&home).contains(&dm_id), "not in a follower's home");
    let profile = format!("/api/v1/accounts/{}/statuses", source.id);
    let (_, theirs) = app.get_json(&profile, Some(&follower.token)).await;
    assert!(
        !ids(&theirs).contains(&dm_id),
        "not on her profile for others"
    );
    let (_, hers) = app.get_json(&profile, Some(&reporter.token)).await;
    assert!(
        ids(&hers).contains(&dm_id),
        "on her profile for the reporter"
    );
    let (_, public) = app.get_json("/api/v1/timelines/public", None).await;
    assert!(!ids(&public).contains(&dm_id));
    for (who, found) in [(&follower, false), (&reporter, true)] {
        let (_, r) = app
            .get_json("/api/v2/search?q=folder&type=statuses", Some(&who.token))
            .await;
        assert_eq!(ids(&r["statuses"]).contains(&dm_id), found, "{r}");
    }
    // It cannot be spread or pinned.
    let (s, _) = app
        .call(
            Method::POST,
            &format!("/api/v1/statuses/{dm_id}/reblog"),
            &reporter.token,
            None,
        )
        .await;
    assert_ne!(s, 200, "a direct notice cannot be reblogged");
    let (s, body) = app
        .call(
            Method::POST,
            &format!("/api/v1/statuses/{dm_id}/pin"),
            &source.token,
            None,
        )
        .await;
    assert_eq!(s, 422, "{body}");

    // The conversation, as each side sees it.
    let (s, list) = app
        .get_json("/api/v1/conversations", Some(&reporter.token))
        .await;
    assert_eq!(s, 200);
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    assert_eq!(list[0]["id"], conversation.as_str());
    assert_eq!(list[0]["unread"], true);
    assert_eq!(list[0]["last_status"]["id"], dm_id.as_str());
    let (_, theirs) = app
        .get_json("/api/v1/conversations", Some(&source.token))
        .await;
    assert_eq!(theirs[0]["unread"], false, "her own notice is read");
    assert_eq!(theirs[0]["accounts"][0]["username"], "reporter");
    let (_, none) = app
        .get_json("/api/v1/conversations", Some(&follower.token))
        .await;
    assert_eq!(none, json!([]));

    // Her answer joins the same conversation on both sides.
    let answer = app
        .post_with(
            &reporter,
            json!({"status": "@source thank you", "visibility": "direct", "in_reply_to_id": dm_id}),
        )
        .await;
    let answer_id = answer["id"].as_str().unwrap().to_string();
    let f = ws_next(&mut ws, WAIT)
        .await
        .expect("her own conversation frame");
    assert_eq!(f["event"], "conversation");
    let c: Value = serde_json::from_str(f["payload"].as_str().unwrap()).unwrap();
    assert_eq!(c["id"], conversation.as_str());
    assert_eq!(c["last_status"]["id"], answer_id.as_str());
    let (_, theirs) = app
        .get_json("/api/v1/conversations", Some(&source.token))
        .await;
    assert_eq!(theirs.as_array().unwrap().len(), 1);
    assert_eq!(theirs[0]["last_status"]["id"], answer_id.as_str());
    assert_eq!(theirs[0]["unread"], true);

    // Read, then the answer is deleted: the conversation shows what stands.
    let (s, read) = app
        .call(
            Method::POST,
            &format!("/api/v1/conversations/{conversation}/read"),
            &reporter.token,
            None,
        )
        .await;
    assert_eq!(s, 200, "{read}");
    assert_eq!(read["unread"], false);
    let (s, _) = app
        .call(
            Method::DELETE,
            &format!("/api/v1/statuses/{answer_id}"),
            &reporter.token,
            None,
        )
        .await;
    assert_eq!(s, 200);
    let (_, list) = app
        .get_json("/api/v1/conversations", Some(&reporter.token))
        .await;
    assert_eq!(list[0]["last_status"]["id"], dm_id.as_str(), "{list}");

    // Replay of her `direct` stream: the conversation of the standing notice, and the
    // deleted answer's event blanked (only its `delete` remains).
    let events = sse_replay(&app, "/api/v1/streaming/direct", "0", Some(&reporter.token)).await;
    let kinds: Vec<&str> = events.iter().map(|e| e.event.as_str()).collect();
    assert_eq!(kinds, vec!["conversation", "delete"], "{events:?}");
    assert!(events[0].data.contains(&dm_id));
    assert!(!events.iter().any(|e| e.data.contains("thank you")));
    let (s, _) = app.get_json("/api/v1/streaming/direct", None).await;
    assert_eq!(s, 401, "the direct stream needs a token");

    // Only hers to mark or remove; removing it leaves the source's.
    for (method, path) in [
        (
            Method::POST,
            format!("/api/v1/conversations/{conversation}/read"),
        ),
        (
            Method::DELETE,
            format!("/api/v1/conversations/{conversation}"),
        ),
    ] {
        let (s, _) = app.call(method, &path, &outsider.token, None).await;
        assert_eq!(s, 404, "{path}");
    }
    let (s, body) = app
        .call(
            Method::DELETE,
            &format!("/api/v1/conversations/{conversation}"),
            &reporter.token,
            None,
        )
        .await;
    assert_eq!((s, body), (200, json!({})));
    let (_, list) = app
        .get_json("/api/v1/conversations", Some(&reporter.token))
        .await;
    assert_eq!(list, json!([]));
    let (_, theirs) = app
        .get_json("/api/v1/conversations", Some(&source.token))
        .await;
    assert_eq!(theirs.as_array().unwrap().len(), 1);

    // Bad input changes nothing.
    let (s, _) = app
        .call(
            Method::PATCH,
            "/api/v1/accounts/update_credentials",
            &source.token,
            Some(json!({"source": {"privacy": "direct"}})),
        )
        .await;
    assert_eq!(s, 422, "direct is no default");
    let (s, _) = app
        .get_json("/api/v1/conversations?max_id=abc", Some(&source.token))
        .await;
    assert_eq!(s, 400);
}

async fn a_mentioned_account_reads_a_private_notice(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let (author, named, follower, other) = (
        app.register("author").await,
        app.register("named").await,
        app.register("follower").await,
        app.register("other").await,
    );
    app.follow(&follower, &author, true).await;
    let p = app
        .post_with(
            &author,
            json!({"status": "@named for followers, and you", "visibility": "private"}),
        )
        .await;
    let id = p["id"].as_str().unwrap();
    for (who, want) in [(&named, 200), (&follower, 200), (&other, 404)] {
        let (s, _) = app
            .get_json(&format!("/api/v1/statuses/{id}"), Some(&who.token))
            .await;
        assert_eq!(s, want, "{}", who.username);
    }
    // A private notice starts no conversation.
    let (_, list) = app
        .get_json("/api/v1/conversations", Some(&named.token))
        .await;
    assert_eq!(list, json!([]));
}
