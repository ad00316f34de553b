//! Stories of live readers: notices arrive over WebSocket and SSE with their positions;
//! a reader who reconnects with her last position gets exactly what she missed.

mod common;

use common::{Backend, SseReader, WAIT, spawn, ws_connect, ws_next, ws_send};
use serde_json::{Value, json};
use std::collections::HashSet;

const SUBSCRIPTIONS: &str = "tidings_subscriptions";

on_both_backends!(
    a_websocket_reader_sees_notices_corrections_and_removals_live,
    an_sse_reader_sees_notices_live_with_positions,
    a_reader_who_reconnects_over_sse_gets_exactly_what_she_missed,
    a_reader_who_reconnects_over_websocket_gets_exactly_what_she_missed,
    a_position_the_server_cannot_serve_gets_a_reset_event,
    many_writers_at_once_reach_readers_in_position_order_without_gaps,
    the_user_stream_carries_the_home_timeline_and_needs_a_token,
    readers_reconnecting_while_notices_flow_never_see_a_gap_or_a_duplicate,
);

fn position(v: &Value) -> i64 {
    v["id"]
        .as_str()
        .expect("frames carry their position as a string")
        .parse()
        .unwrap()
}

async fn a_websocket_reader_sees_notices_corrections_and_removals_live(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let ann = app.register("ann").await;
    let mut ws = ws_connect(&app, None).await;
    ws_send(
        &mut ws,
        json!({"type": "subscribe", "stream": "hashtag", "tag": "Storm"}),
    )
    .await;
    ws_send(&mut ws, json!({"type": "subscribe", "stream": "nonsense"})).await;
    let err = ws_next(&mut ws, WAIT).await.unwrap();
    assert_eq!(err, json!({"error": "Unknown stream type", "status": 400}));

    let s = app.post(&ann, "Wind at 120 km/h #storm").await;
    app.post(&ann, "not about it").await;
    let frame = ws_next(&mut ws, WAIT).await.expect("the notice arrives");
    assert_eq!(frame["stream"], json!(["hashtag", "storm"]));
    assert_eq!(frame["event"], "update");
    let payload: Value = serde_json::from_str(frame["payload"].as_str().unwrap()).unwrap();
    assert_eq!(payload["id"], s["id"]);
    let p1 = position(&frame);

    let id = s["id"].as_str().unwrap();
    app.http
        .put(app.url(&format!("/api/v1/statuses/{id}")))
        .bearer_auth(&ann.token)
        .json(&json!({"status": "Wind at 130 km/h #storm"}))
        .send()
        .await
        .unwrap();
    let edit = ws_next(&mut ws, WAIT)
        .await
        .expect("the correction arrives");
    assert_eq!(edit["event"], "status.update");
    assert!(edit["payload"].as_str().unwrap().contains("130 km/h"));
    app.http
        .delete(app.url(&format!("/api/v1/statuses/{id}")))
        .bearer_auth(&ann.token)
        .send()
        .await
        .unwrap();
    let del = ws_next(&mut ws, WAIT).await.expect("the removal arrives");
    assert_eq!(
        (del["event"].as_str(), del["payload"].as_str()),
        (Some("delete"), Some(id))
    );
    assert!(p1 < position(&edit) && position(&edit) < position(&del));

    ws_send(
        &mut ws,
        json!({"type": "unsubscribe", "stream": "hashtag", "tag": "storm"}),
    )
    .await;
    app.until_counter(SUBSCRIPTIONS, 0).await;
    // A tag she still follows fences the one she left: its notice, posted second,
    // reaches her after anything the first would have brought.
    ws_send(
        &mut ws,
        json!({"type": "subscribe", "stream": "hashtag", "tag": "calm"}),
    )
    .await;
    app.until_counter(SUBSCRIPTIONS, 1).await;
    app.post(&ann, "after unsubscribing #storm").await;
    app.post(&ann, "marker #calm").await;
    let next = ws_next(&mut ws, WAIT).await.expect("the marker arrives");
    assert_eq!(
        next["stream"],
        json!(["hashtag", "calm"]),
        "nothing after unsubscribe: {next}"
    );
}

async fn an_sse_reader_sees_notices_live_with_positions(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let ann = app.register("ann").await;
    let (status, headers, reader) =
        SseReader::open(&app, "/api/v1/streaming/public/local", None, None).await;
    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], "text/event-stream");
    let mut reader = reader.unwrap();
    let s = app.post(&ann, "Polls close at 8 #election").await;
    let ev = reader.next(WAIT).await.expect("the notice arrives");
    assert_eq!(
        reader.comments.first().map(String::as_str),
        Some(")"),
        "the stream opens with :)"
    );
    assert_eq!(ev.event, "update");
    let payload: Value = serde_json::from_str(&ev.data).unwrap();
    assert_eq!(payload["id"], s["id"]);
    assert!(ev.id.unwrap().parse::<i64>().unwrap() > 0);

    let (code, _, none) = SseReader::open(&app, "/api/v1/streaming/nonsense", None, None).await;
    assert_eq!((code, none.is_none()), (400, true));
    let (code, _, _) = SseReader::open(&app, "/api/v1/streaming/hashtag", None, None).await;
    assert_eq!(code, 400, "hashtag needs a tag");
    let health = app
        .http
        .get(app.url("/api/v1/streaming/health"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.text().await.unwrap(), "OK");
}

async fn a_reader_who_reconnects_over_sse_gets_exactly_what_she_missed(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let ann = app.register("ann").await;
    let path = "/api/v1/streaming/hashtag?tag=quake";
    let (_, _, reader) = SseReader::open(&app, path, None, None).await;
    let mut reader = reader.unwrap();
    app.post(&ann, "first #quake").await;
    let first = reader.next(WAIT).await.unwrap();
    let last_id = first.id.clone().unwrap();
    drop(reader);

    let mut missed = Vec::new();
    for i in 0..3 {
        missed.push(
            app.post(&ann, &format!("missed {i} #quake")).await["id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
        app.post(&ann, &format!("other stream {i} #weather")).await;
    }
    let (_, _, reader) = SseReader::open(&app, path, Some(&last_id), None).await;
    let mut reader = reader.unwrap();
    let mut got = Vec::new();
    let mut positions = vec![last_id.parse::<i64>().unwrap()];
    for _ in 0..3 {
        let ev = reader
            .next(WAIT)
            .await
            .expect("a missed notice is replayed");
        let p: Value = serde_json::from_str(&ev.data).unwrap();
        got.push(p["id"].as_str().unwrap().to_string());
        positions.push(ev.id.unwrap().parse().unwrap());
    }
    assert_eq!(got, missed, "exactly the missed notices, in order");
    assert!(positions.windows(2).all(|w| w[0] < w[1]));
    let live = app.post(&ann, "live again #quake").await;
    let ev = reader.next(WAIT).await.expect("then live");
    let p: Value = serde_json::from_str(&ev.data).unwrap();
    assert_eq!(p["id"], live["id"]);
    let marker = app.post(&ann, "marker #quake").await;
    let ev = reader.next(WAIT).await.expect("the marker arrives");
    assert!(
        ev.data.contains(marker["id"].as_str().unwrap()),
        "no duplicates: {ev:?}"
    );

    // The query parameter works as well as the header.
    let (_, _, reader) =
        SseReader::open(&app, &format!("{path}&last_event_id={last_id}"), None, None).await;
    let ev = reader.unwrap().next(WAIT).await.unwrap();
    let p: Value = serde_json::from_str(&ev.data).unwrap();
    assert_eq!(p["id"].as_str().unwrap(), missed[0]);
}

async fn a_reader_who_reconnects_over_websocket_gets_exactly_what_she_missed(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let ann = app.register("ann").await;
    let mut ws = ws_connect(&app, None).await;
    ws_send(&mut ws, json!({"type": "subscribe", "stream": "public"})).await;
    app.until_counter(SUBSCRIPTIONS, 1).await;
    app.post(&ann, "before").await;
    let first = ws_next(&mut ws, WAIT).await.unwrap();
    drop(ws);
    let mut missed = Vec::new();
    for i in 0..4 {
        missed.push(
            app.post(&ann, &format!("missed {i}")).await["id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    let mut ws = ws_connect(&app, None).await;
    ws_send(
        &mut ws,
        json!({"type": "subscribe", "stream": "public", "last_event_id": first["id"]}),
    )
    .await;
    let mut got = Vec::new();
    for _ in 0..4 {
        let f = ws_next(&mut ws, WAIT).await.expect("replayed");
        let p: Value = serde_json::from_str(f["payload"].as_str().unwrap()).unwrap();
        got.push(p["id"].as_str().unwrap().to_string());
    }
    assert_eq!(got, missed);
    app.post(&ann, "live").await;
    let f = ws_next(&mut ws, WAIT).await.expect("live after replay");
    assert!(f["payload"].as_str().unwrap().contains("live"));
    app.post(&ann, "marker").await;
    let f = ws_next(&mut ws, WAIT).await.expect("the marker arrives");
    assert!(
        f["payload"].as_str().unwrap().contains("marker"),
        "no duplicates: {f}"
    );
}

async fn a_position_the_server_cannot_serve_gets_a_reset_event(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let ann = app.register("ann").await;
    app.post(&ann, "one").await;
    let (_, _, reader) =
        SseReader::open(&app, "/api/v1/streaming/public", Some("999999"), None).await;
    let mut reader = reader.unwrap();
    let ev = reader
        .next(WAIT)
        .await
        .expect("an explicit reset, not silence");
    assert_eq!(ev.event, "reset");
    let p: Value = serde_json::from_str(&ev.data).unwrap();
    assert_eq!(p["reason"], "unknown_position");
    assert_eq!(p["last_event_id"], "999999");
    assert_eq!(ev.id.as_deref(), p["position"].as_str());
    app.post(&ann, "two").await;
    let ev = reader
        .next(WAIT)
        .await
        .expect("live continues after a reset");
    assert_eq!(ev.event, "update");

    let mut ws = ws_connect(&app, None).await;
    ws_send(
        &mut ws,
        json!({"type": "subscribe", "stream": "public", "last_event_id": "not-a-number"}),
    )
    .await;
    let f = ws_next(&mut ws, WAIT).await.unwrap();
    assert_eq!(f["event"], "reset");
}

async fn many_writers_at_once_reach_readers_in_position_order_without_gaps(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let mut users = Vec::new();
    for i in 0..4 {
        users.push(app.register(&format!("writer{i}")).await);
    }
    let (_, _, reader) = SseReader::open(&app, "/api/v1/streaming/public", None, None).await;
    let mut reader = reader.unwrap();
    let mut ws = ws_connect(&app, None).await;
    ws_send(&mut ws, json!({"type": "subscribe", "stream": "public"})).await;
    app.until_counter(SUBSCRIPTIONS, 2).await;
    let per_writer = 25;
    let mut tasks = Vec::new();
    for u in users.clone() {
        let http = app.http.clone();
        let url = app.url("/api/v1/statuses");
        tasks.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            for i in 0..per_writer {
                let r: Value = http
                    .post(&url)
                    .bearer_auth(&u.token)
                    .json(&json!({"status": format!("{} #{i}", u.username)}))
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                ids.push(r["id"].as_str().unwrap().to_string());
            }
            ids
        }));
    }
    let mut expected = HashSet::new();
    for t in tasks {
        expected.extend(t.await.unwrap());
    }
    let total = expected.len();
    let mut sse_positions = Vec::new();
    let mut sse_ids = HashSet::new();
    let mut ws_positions = Vec::new();
    for _ in 0..total {
        let ev = reader
            .next(WAIT)
            .await
            .expect("every acknowledged notice arrives over SSE");
        sse_positions.push(ev.id.unwrap().parse::<i64>().unwrap());
        let p: Value = serde_json::from_str(&ev.data).unwrap();
        sse_ids.insert(p["id"].as_str().unwrap().to_string());
        let f = ws_next(&mut ws, WAIT)
            .await
            .expect("every acknowledged notice arrives over WebSocket");
        ws_positions.push(position(&f));
    }
    assert_eq!(sse_ids, expected);
    assert!(
        sse_positions.windows(2).all(|w| w[1] == w[0] + 1),
        "consecutive positions: {sse_positions:?}"
    );
    assert_eq!(sse_positions, ws_positions);
    let marker = app.post(&users[0], "marker").await;
    let ev = reader.next(WAIT).await.expect("the marker arrives");
    assert!(
        ev.data.contains(marker["id"].as_str().unwrap()),
        "no duplicates: {ev:?}"
    );
}

async fn the_user_stream_carries_the_home_timeline_and_needs_a_token(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let ann = app.register("ann").await;
    let bob = app.register("bob").await;
    app.http
        .post(app.url(&format!("/api/v1/accounts/{}/follow", ann.id)))
        .bearer_auth(&bob.token)
        .send()
        .await
        .unwrap();
    let (code, _, _) = SseReader::open(&app, "/api/v1/streaming/user", None, None).await;
    assert_eq!(code, 401);
    let (code, _, _) =
        SseReader::open(&app, "/api/v1/streaming/user", None, Some("not-a-token")).await;
    assert_eq!(code, 401);
    let (_, _, reader) =
        SseReader::open(&app, "/api/v1/streaming/user", None, Some(&bob.token)).await;
    let mut reader = reader.unwrap();
    let mut ws = ws_connect(&app, Some(&bob.token)).await;
    ws_send(&mut ws, json!({"type": "subscribe", "stream": "user"})).await;
    let mut anon = ws_connect(&app, None).await;
    ws_send(&mut anon, json!({"type": "subscribe", "stream": "user"})).await;
    assert_eq!(ws_next(&mut anon, WAIT).await.unwrap()["status"], 401);
    // Bob's two: SSE and WebSocket; the anonymous one was refused.
    app.until_counter(SUBSCRIPTIONS, 2).await;
    let s = app
        .post_with(
            &ann,
            json!({"status": "for followers", "visibility": "private"}),
        )
        .await;
    let ev = reader
        .next(WAIT)
        .await
        .expect("followers get private notices on the user stream");
    assert!(ev.data.contains(s["id"].as_str().unwrap()));
    let f = ws_next(&mut ws, WAIT).await.unwrap();
    assert_eq!(f["stream"], json!(["user"]));
}

async fn readers_reconnecting_while_notices_flow_never_see_a_gap_or_a_duplicate(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let ann = app.register("ann").await;
    app.post(&ann, "start").await;
    // "start" plus 80 more: positions 1..=81, all public.
    let total = 81;
    let writer = {
        let http = app.http.clone();
        let url = app.url("/api/v1/statuses");
        let token = ann.token.clone();
        tokio::spawn(async move {
            for i in 1..total {
                http.post(&url)
                    .bearer_auth(&token)
                    .json(&json!({ "status": format!("n{i}") }))
                    .send()
                    .await
                    .unwrap();
                // Notices keep flowing while the readers drop and resume.
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
        })
    };
    // The SSE reader and the WebSocket reader each drop and resume every few events.
    let sse = async {
        let mut positions: Vec<i64> = Vec::new();
        let mut last = "0".to_string();
        while positions.len() < total {
            let (_, _, r) =
                SseReader::open(&app, "/api/v1/streaming/public", Some(&last), None).await;
            let mut r = r.unwrap();
            for _ in 0..3 {
                let Some(ev) = r.next(WAIT).await else { break };
                last = ev.id.unwrap();
                positions.push(last.parse().unwrap());
            }
        }
        positions
    };
    let ws = async {
        let mut positions: Vec<i64> = Vec::new();
        let mut last = json!("0");
        while positions.len() < total {
            let mut ws = ws_connect(&app, None).await;
            ws_send(
                &mut ws,
                json!({"type": "subscribe", "stream": "public", "last_event_id": last}),
            )
            .await;
            for _ in 0..4 {
                let Some(f) = ws_next(&mut ws, WAIT).await else {
                    break;
                };
                last = f["id"].clone();
                positions.push(position(&f));
            }
        }
        positions
    };
    let (sse_positions, ws_positions) =
        tokio::time::timeout(std::time::Duration::from_secs(60), async {
            tokio::join!(sse, ws)
        })
        .await
        .expect("both readers reach the last position within 60 s");
    writer.await.unwrap();
    let expected: Vec<i64> = (1..=total as i64).collect();
    assert_eq!(
        &sse_positions[..total],
        &expected[..],
        "SSE: every position once, in order"
    );
    assert_eq!(
        &ws_positions[..total],
        &expected[..],
        "WebSocket: every position once, in order"
    );
}
