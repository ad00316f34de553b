//! The HTTP/1.1 accept loop.
//!
//! Ours rather than `axum::serve` for one reason: an upgraded WebSocket must hand back
//! the plain `TcpStream`, so that the hub can write frames to it directly (see
//! `crate::hub::Outbox`); `axum::serve` wraps every connection in a private type that
//! cannot be unwrapped. Each connection gets `TCP_NODELAY` and its peer address as
//! `ConnectInfo`. On shutdown the loop stops accepting, open HTTP connections finish
//! their current response, and streaming connections end on the node's shutdown token.

use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

/// Listen on `addr` (the first address it resolves to) with room for `backlog`
/// connections not yet accepted. `TcpListener::bind` asks for 1,024: a burst of
/// reconnecting readers overflows that while the accept loop catches up, and each
/// dropped handshake costs its reader a one-second retransmission.
pub async fn listen(addr: &str, backlog: u32) -> std::io::Result<TcpListener> {
    let mut last = None;
    for a in tokio::net::lookup_host(addr).await? {
        let socket = if a.is_ipv4() {
            tokio::net::TcpSocket::new_v4()?
        } else {
            tokio::net::TcpSocket::new_v6()?
        };
        socket.set_reuseaddr(true)?;
        match socket.bind(a).and_then(|()| socket.listen(backlog)) {
            Ok(listener) => return Ok(listener),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "address resolves to nothing",
        )
    }))
}

pub async fn serve(listener: TcpListener, app: axum::Router, shutdown: CancellationToken) {
    let tracker = tokio_util::task::TaskTracker::new();
    let http = hyper::server::conn::http1::Builder::new();
    loop {
        let (tcp, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    // Out of file descriptors, most likely: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = shutdown.cancelled() => break,
        };
        let _ = tcp.set_nodelay(true);
        let svc = app
            .clone()
            .map_request(move |req: axum::http::Request<Incoming>| {
                let mut req = req.map(axum::body::Body::new);
                req.extensions_mut().insert(ConnectInfo(peer));
                req
            });
        let conn = http
            .serve_connection(TokioIo::new(tcp), TowerToHyperService::new(svc))
            .with_upgrades();
        let stop = shutdown.clone();
        tracker.spawn(async move {
            let mut conn = std::pin::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => return,
                _ = stop.cancelled() => conn.as_mut().graceful_shutdown(),
            }
            let _ = conn.await;
        });
    }
    drop(listener);
    tracker.close();
    tokio::select! {
        _ = tracker.wait() => {}
        _ = tokio::time::sleep(Duration::from_secs(10)) => tracing::warn!("connections still open after 10 s; exiting"),
    }
}
