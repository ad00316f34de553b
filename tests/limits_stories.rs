//! Stories of overload: a reader who stops reading is closed with code 4008 and
//! resumes without loss while the others go on; caps answer 429; a node that is told to
//! stop tells its readers to reconnect elsewhere (1012).

mod common;

use common::{
    Backend, STARTUP, SseReader, WAIT, counter_at, eventually, spawn_with, ws_connect, ws_next,
    ws_send,
};
use futures::StreamExt;
use serde_json::{Value, json};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

const SLOW_CLOSED: &str = "tidings_slow_readers_closed_total";
const SSE_CONNECTIONS: &str = "tidings_open_connections{transport=\"sse\"}";

on_both_backends!(
    a_reader_who_stops_reading_is_closed_and_resumes_without_loss,
    stream_caps_answer_429,
);

async fn a_reader_who_stops_reading_is_closed_and_resumes_without_loss(b: Backend) {
    let Some(app) = spawn_with(b, |c| {
        c.max_chars = 20_100;
        c.reader_queue_bytes = 512 * 1024;
    })
    .await
    else {
        return;
    };
    let ann = app.register("ann").await;
    // The slow reader's socket takes little before the server must queue.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let stream = socket
        .connect(app.base.trim_start_matches("http://").parse().unwrap())
        .await
        .unwrap();
    let stream = tokio_tungstenite::MaybeTlsStream::Plain(stream);
    let (mut slow, _) = tokio_tungstenite::client_async(app.ws_url("/api/v1/streaming"), stream)
        .await
        .unwrap();
    ws_send(&mut slow, json!({"type": "subscribe", "stream": "public"})).await;
    let mut fast = ws_connect(&app, None).await;
    ws_send(&mut fast, json!({"type": "subscribe", "stream": "public"})).await;
    app.until_counter("tidings_subscriptions", 2).await;

    let total = 400;
    let big = "x".repeat(20_000);
    let fast_reader = tokio::spawn(async move {
        let mut positions = Vec::new();
        while positions.len() < total {
            let f = ws_next(&mut fast, Duration::from_secs(20))
                .await
                .expect("the fast reader is never held up");
            positions.push(f["id"].as_str().unwrap().parse::<i64>().unwrap());
        }
        positions
    });
    // The slow reader starts reading once the server has given up on it: the close frame
    // waits behind what its socket holds, and a reader silent for longer than the
    // server's grace period would be dropped without one.
    let (go, wait_for_close) = tokio::sync::oneshot::channel::<()>();
    let slow_reader = tokio::spawn(async move {
        let _ = wait_for_close.await;
        let mut positions = Vec::new();
        let mut close = None;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        while let Ok(Some(msg)) = tokio::time::timeout_at(deadline, slow.next()).await {
            match msg {
                Ok(Message::Text(t)) => positions.push(
                    serde_json::from_str::<Value>(&t).unwrap()["id"]
                        .as_str()
                        .unwrap()
                        .parse::<i64>()
                        .unwrap(),
                ),
                Ok(Message::Close(c)) => {
                    close = c;
                    break;
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
        (positions, close)
    });
    let mut go = Some(go);
    for i in 0..total {
        app.post(&ann, &format!("{i} {big}")).await;
        if go.is_some()
            && i % 5 == 0
            && app.counter(SLOW_CLOSED).await >= 1
            && let Some(g) = go.take()
        {
            let _ = g.send(());
        }
    }
    if let Some(g) = go.take() {
        let _ = g.send(());
    }
    let fast_positions = tokio::time::timeout(Duration::from_secs(10), fast_reader)
        .await
        .expect("the fast reader keeps up")
        .unwrap();
    assert_eq!(fast_positions, (1..=total as i64).collect::<Vec<_>>());

    // The slow reader found what fitted, then the close frame.
    let (mut positions, close) = slow_reader.await.unwrap();
    let close = close.expect("a close frame, not a silent drop");
    assert_eq!(close.code, CloseCode::from(4008));
    assert_eq!(close.reason.as_str(), "slow");
    assert!(positions.len() < total, "it was cut off before the end");
    // It resumes from its position and misses nothing.
    let last = positions.last().copied().unwrap_or(0);
    let mut again = ws_connect(&app, None).await;
    ws_send(
        &mut again,
        json!({"type": "subscribe", "stream": "public", "last_event_id": last.to_string()}),
    )
    .await;
    while positions.len() < total {
        let f = ws_next(&mut again, WAIT)
            .await
            .expect("replayed after the close");
        positions.push(f["id"].as_str().unwrap().parse().unwrap());
    }
    assert_eq!(positions, (1..=total as i64).collect::<Vec<_>>());
    assert!(app.counter(SLOW_CLOSED).await >= 1, "the close is counted");
}

async fn stream_caps_answer_429(b: Backend) {
    let Some(app) = spawn_with(b, |c| {
        c.max_streams_per_ip = 2;
        c.max_subscriptions = 2;
    })
    .await
    else {
        return;
    };
    let one = SseReader::open(&app, "/api/v1/streaming/public", None, None).await;
    let mut ws = ws_connect(&app, None).await;
    let (code, _, _) = SseReader::open(&app, "/api/v1/streaming/public", None, None).await;
    assert_eq!(code, 429);
    let refused = tokio_tungstenite::connect_async(app.ws_url("/api/v1/streaming")).await;
    match refused {
        Err(tokio_tungstenite::tungstenite::Error::Http(res)) => assert_eq!(res.status(), 429),
        other => panic!("expected 429, got {other:?}"),
    }
    for tag in ["a", "b", "c"] {
        ws_send(
            &mut ws,
            json!({"type": "subscribe", "stream": "hashtag", "tag": tag}),
        )
        .await;
    }
    let f = ws_next(&mut ws, WAIT).await.unwrap();
    assert_eq!(f["status"], 429);
    drop(one);
    app.until_counter(SSE_CONNECTIONS, 0).await;
    let (code, _, _) = SseReader::open(&app, "/api/v1/streaming/public", None, None).await;
    assert_eq!(code, 200, "a closed stream gives its slot back");
}

#[test]
fn a_node_told_to_stop_closes_websockets_with_1012_and_exits() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_tidings"))
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .current_dir(dir.path())
            .env_remove("DATABASE_URL")
            .env_remove("REDIS_URL")
            .env("RUST_LOG", "warn")
            .spawn()
            .unwrap();
        let base = format!("http://127.0.0.1:{port}");
        let url = format!("ws://127.0.0.1:{port}/api/v1/streaming");
        let mut ws = eventually("the node to accept a WebSocket", STARTUP, || async {
            tokio_tungstenite::connect_async(&url)
                .await
                .ok()
                .map(|c| c.0)
        })
        .await;
        ws_send(&mut ws, json!({"type": "subscribe", "stream": "public"})).await;
        let http = reqwest::Client::new();
        eventually("the node to hold the subscription", WAIT, || async {
            (counter_at(&http, &base, "tidings_subscriptions").await == 1).then_some(())
        })
        .await;
        std::process::Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        let mut code = None;
        let deadline = tokio::time::Instant::now() + WAIT;
        while let Ok(Some(Ok(m))) = tokio::time::timeout_at(deadline, ws.next()).await {
            if let Message::Close(c) = m {
                code = c.map(|c| c.code);
                break;
            }
        }
        assert_eq!(code, Some(CloseCode::Restart), "1012: reconnect elsewhere");
        let status = tokio::task::spawn_blocking(move || child.wait().unwrap())
            .await
            .unwrap();
        assert!(status.success(), "a clean exit after draining");
    });
}
