//! Announcements: an administrator tells everyone the polls close at eight. Every open
//! home stream hears it at once, readers react and dismiss, a withdrawal takes it off
//! every screen and out of replay; the operator can do the same from a shell.

mod common;

use common::{Backend, QUIET, WAIT, spawn, sse_replay, ws_connect, ws_next, ws_send};
use reqwest::Method;
use serde_json::{Value, json};

on_both_backends!(an_administrator_tells_everyone);

async fn next_event(ws: &mut common::Ws, kind: &str) -> Value {
    let f = ws_next(ws, WAIT).await.expect("a frame in time");
    assert_eq!(f["event"], kind, "{f}");
    assert_eq!(f["stream"], json!(["user"]));
    serde_json::from_str(f["payload"].as_str().unwrap()).unwrap_or(f["payload"].clone())
}

async fn an_administrator_tells_everyone(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let (admin, reader, other) = (
        app.register("moderator_ann").await,
        app.register("reader").await,
        app.register("other").await,
    );
    app.make_admin(&admin).await;
    let all = "read write follow push profile admin:write";
    let admin_token = app.grant_with(&admin, all, "admin:write").await.token;
    let not_admin = app.grant_with(&other, all, "admin:write").await.token;

    let mut ws = ws_connect(&app, Some(&reader.token)).await;
    ws_send(&mut ws, json!({"type": "subscribe", "stream": "user"})).await;
    app.until_counter("tidings_subscriptions", 1).await;

    // Only an administrator with an admin token may announce; bad input changes nothing.
    let text = json!({"text": "Polls close at 8 pm. #election"});
    for (token, want) in [(&not_admin, 403), (&admin.token, 403)] {
        let (s, _) = app
            .call(
                Method::POST,
                "/api/v1/admin/announcements",
                token,
                Some(text.clone()),
            )
            .await;
        assert_eq!(s, want);
    }
    for bad in [
        json!({"text": ""}),
        json!({"text": "x", "starts_at": "tomorrow"}),
        json!({"text": "x", "starts_at": "2026-12-01T10:00:00Z", "ends_at": "2026-12-01T09:00:00Z"}),
    ] {
        let (s, body) = app
            .call(
                Method::POST,
                "/api/v1/admin/announcements",
                &admin_token,
                Some(bad),
            )
            .await;
        assert_eq!(s, 422, "{body}");
    }
    let (_, none) = app
        .get_json("/api/v1/announcements", Some(&reader.token))
        .await;
    assert_eq!(none, json!([]));

    let (s, a) = app
        .call(
            Method::POST,
            "/api/v1/admin/announcements",
            &admin_token,
            Some(text),
        )
        .await;
    assert_eq!(s, 200, "{a}");
    let id = a["id"].as_str().unwrap().to_string();
    let live = next_event(&mut ws, "announcement").await;
    assert_eq!(live["id"], id.as_str());
    assert!(
        live["content"]
            .as_str()
            .unwrap()
            .contains("Polls close at 8 pm")
    );

    let (_, list) = app
        .get_json("/api/v1/announcements", Some(&reader.token))
        .await;
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    assert_eq!(list[0]["read"], false);
    assert_eq!(list[0]["reactions"], json!([]));

    // Reactions: counted, live, each reader's own marked.
    let party = "/api/v1/announcements/{id}/reactions/%F0%9F%8E%89".replace("{id}", &id);
    let (s, body) = app.call(Method::PUT, &party, &reader.token, None).await;
    assert_eq!((s, body), (200, json!({})));
    let r = next_event(&mut ws, "announcement.reaction").await;
    assert_eq!(r, json!({"name": "🎉", "count": 1, "announcement_id": id}));
    // Again: nothing changes, no one is told.
    let (s, _) = app.call(Method::PUT, &party, &reader.token, None).await;
    assert_eq!(s, 200);
    let (s, _) = app.call(Method::PUT, &party, &other.token, None).await;
    assert_eq!(s, 200);
    let r = next_event(&mut ws, "announcement.reaction").await;
    assert_eq!(r["count"], 2);
    let (_, theirs) = app
        .get_json("/api/v1/announcements", Some(&other.token))
        .await;
    assert_eq!(
        theirs[0]["reactions"],
        json!([{"name": "🎉", "count": 2, "me": true}])
    );
    let (s, _) = app.call(Method::DELETE, &party, &other.token, None).await;
    assert_eq!(s, 200);
    assert_eq!(
        next_event(&mut ws, "announcement.reaction").await["count"],
        1
    );
    for bad in ["abc", "%20", "%F0%9F%8E%89abc"] {
        let path = format!("/api/v1/announcements/{id}/reactions/{bad}");
        let (s, _) = app.call(Method::PUT, &path, &reader.token, None).await;
        assert_eq!(s, 422, "{bad}");
    }
    let (s, _) = app
        .call(
            Method::PUT,
            "/api/v1/announcements/999999/reactions/%F0%9F%8E%89",
            &reader.token,
            None,
        )
        .await;
    assert_eq!(s, 404);

    // Dismissed: gone from her list unless she asks for it; others still see it.
    let (s, _) = app
        .call(
            Method::POST,
            &format!("/api/v1/announcements/{id}/dismiss"),
            &reader.token,
            None,
        )
        .await;
    assert_eq!(s, 200);
    let (_, list) = app
        .get_json("/api/v1/announcements", Some(&reader.token))
        .await;
    assert_eq!(list, json!([]));
    let (_, list) = app
        .get_json(
            "/api/v1/announcements?with_dismissed=true",
            Some(&reader.token),
        )
        .await;
    assert_eq!(list[0]["read"], true);
    let (_, list) = app
        .get_json("/api/v1/announcements", Some(&other.token))
        .await;
    assert_eq!(list.as_array().unwrap().len(), 1);

    // Replay of a home stream carries them, in order.
    let events = sse_replay(&app, "/api/v1/streaming/user", "0", Some(&other.token)).await;
    let kinds: Vec<&str> = events.iter().map(|e| e.event.as_str()).collect();
    assert_eq!(
        kinds,
        vec![
            "announcement",
            "announcement.reaction",
            "announcement.reaction",
            "announcement.reaction"
        ]
    );

    // Withdrawn: off every screen, and out of replay but for the withdrawal itself.
    let (s, _) = app
        .call(
            Method::DELETE,
            &format!("/api/v1/admin/announcements/{id}"),
            &admin_token,
            None,
        )
        .await;
    assert_eq!(s, 200);
    let gone = ws_next(&mut ws, WAIT).await.expect("the withdrawal");
    assert_eq!(gone["event"], "announcement.delete");
    assert_eq!(gone["payload"], id.as_str());
    let events = sse_replay(&app, "/api/v1/streaming/user", "0", Some(&other.token)).await;
    let kinds: Vec<&str> = events.iter().map(|e| e.event.as_str()).collect();
    assert_eq!(kinds, vec!["announcement.delete"], "{events:?}");
    let (_, list) = app
        .get_json("/api/v1/announcements", Some(&other.token))
        .await;
    assert_eq!(list, json!([]));
    let (s, _) = app
        .call(
            Method::DELETE,
            &format!("/api/v1/admin/announcements/{id}"),
            &admin_token,
            None,
        )
        .await;
    assert_eq!(s, 404);

    // The operator, from a shell, against the same database: the running node's open
    // streams hear it too.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tidings"))
        .args(["admin", "announce", "Maintenance at midnight"])
        .env("DATABASE_URL", &app.database_url)
        .output()
        .expect("run tidings admin announce");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let live = next_event(&mut ws, "announcement").await;
    assert!(live["content"].as_str().unwrap().contains("Maintenance"));
    assert!(ws_next(&mut ws, QUIET).await.is_none());
}
