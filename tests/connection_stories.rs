//! Stories of what one client can hold: a connection that sends nothing, drips its
//! headers or idles after a response is closed; one address cannot take every
//! connection; a reader that stopped reading is closed while notices go on.

mod common;

use common::{Backend, spawn_with};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

on_both_backends!(
    a_connection_that_sends_no_headers_or_drips_them_is_closed,
    an_idle_keep_alive_connection_is_closed,
    one_address_cannot_take_every_connection,
    an_sse_reader_that_stopped_reading_is_closed_while_notices_go_on,
);

fn addr(base: &str) -> String {
    base.trim_start_matches("http://").to_string()
}

/// Whether the server closes `tcp` within `within` (reads until EOF or an error).
async fn closed_within(tcp: &mut TcpStream, within: Duration) -> bool {
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, tcp.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue,
            Err(_) => return false,
        }
    }
}

async fn a_connection_that_sends_no_headers_or_drips_them_is_closed(b: Backend) {
    let Some(app) = spawn_with(b, |c| c.header_timeout_secs = 1).await else {
        return;
    };
    let mut silent = TcpStream::connect(addr(&app.base)).await.unwrap();
    let mut drip = TcpStream::connect(addr(&app.base)).await.unwrap();
    let dripping = tokio::spawn(async move {
        for byte in b"GET /api/v1/instance HTTP/1.1\r\nHost: x\r\n"
            .iter()
            .cycle()
            .take(40)
        {
            if drip.write_all(&[*byte]).await.is_err() {
                return true;
            }
            // The drip itself: a byte every 100 ms, so the headers take longer than the
            // one-second header timeout.
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        closed_within(&mut drip, Duration::from_secs(3)).await
    });
    assert!(
        closed_within(&mut silent, Duration::from_secs(4)).await,
        "silent"
    );
    assert!(dripping.await.unwrap(), "dripping");
}

async fn an_idle_keep_alive_connection_is_closed(b: Backend) {
    let Some(app) = spawn_with(b, |c| {
        c.header_timeout_secs = 10;
        c.idle_timeout_secs = 1;
    })
    .await
    else {
        return;
    };
    let mut tcp = TcpStream::connect(addr(&app.base)).await.unwrap();
    assert!(served(&mut tcp).await, "the first request is answered");
    assert!(
        closed_within(&mut tcp, Duration::from_secs(4)).await,
        "idle keep-alive"
    );
}

async fn one_address_cannot_take_every_connection(b: Backend) {
    let Some(app) = spawn_with(b, |c| c.max_connections_per_ip = 5).await else {
        return;
    };
    let target: std::net::SocketAddr = addr(&app.base).parse().unwrap();
    let from = |ip: &str| {
        let s = TcpSocket::new_v4().unwrap();
        s.bind(format!("{ip}:0").parse().unwrap()).unwrap();
        s.connect(target)
    };
    let mut held = Vec::new();
    for i in 0..5 {
        let mut c = from("127.0.0.3").await.unwrap();
        // Served, so the node has taken it and counts it against the address.
        assert!(served(&mut c).await, "connection {i} of five is served");
        held.push(c);
    }
    let mut sixth = from("127.0.0.3").await.unwrap();
    assert!(
        closed_within(&mut sixth, Duration::from_secs(2)).await,
        "the sixth is closed at once"
    );
    let mut other = from("127.0.0.4").await.unwrap();
    assert!(served(&mut other).await, "another address is served");
    drop(held);
}

/// Whether `tcp` gets a 200 to a request for `/health/live`.
async fn served(tcp: &mut TcpStream) -> bool {
    tcp.write_all(b"GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 256];
    let n = tokio::time::timeout(common::WAIT, tcp.read(&mut buf))
        .await
        .expect("an answer in time")
        .unwrap();
    String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200")
}

async fn an_sse_reader_that_stopped_reading_is_closed_while_notices_go_on(b: Backend) {
    let Some(app) = spawn_with(b, |c| c.reader_queue_bytes = 64 * 1024).await else {
        return;
    };
    let ann = app.register("ann").await;
    // A reader with a tiny receive window that reads its headers and then nothing.
    let s = TcpSocket::new_v4().unwrap();
    s.set_recv_buffer_size(4096).unwrap();
    let mut stalled = s.connect(addr(&app.base).parse().unwrap()).await.unwrap();
    stalled
        .write_all(b"GET /api/v1/streaming/public HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    app.until_counter("tidings_subscriptions", 1).await;
    let text = "a notice long enough to fill a stalled reader's buffers quickly ".repeat(7);
    let mut closed = false;
    for _ in 0..400 {
        app.post(&ann, &text).await;
        if app.counter("tidings_subscriptions").await == 0 {
            closed = true;
            break;
        }
    }
    assert!(closed, "the stalled reader's subscription is gone");
    assert!(
        closed_within(&mut stalled, Duration::from_secs(5)).await,
        "and its connection"
    );
}
