//! The HTTP/1.1 accept loop.
//!
//! Ours rather than `axum::serve` for one reason: an upgraded WebSocket must hand back
//! the plain `TcpStream`, so that the hub can write frames to it directly (see
//! `crate::stream::hub::Outbox`); `axum::serve` wraps every connection in a private type that
//! cannot be unwrapped. Each connection gets `TCP_NODELAY` and its peer address as
//! `ConnectInfo` (or, behind a trusted load balancer, the client it names: see
//! [`crate::proxies`]). On shutdown the loop stops accepting, open HTTP connections finish
//! their current response, and streaming connections end on the node's shutdown token.
//!
//! # Bounds on what one client can hold
//!
//! - A request's headers must arrive within `TIDINGS_HEADER_TIMEOUT_SECS` (hyper's
//!   `header_read_timeout`, which needs the timer set below — without it the timeout is
//!   silently off). The same clock runs while a keep-alive connection waits for its next
//!   request, so an idle connection (also one left after an SSE stream ended) is closed
//!   after that long too, and after `TIDINGS_IDLE_TIMEOUT_SECS` at most.
//! - At most `TIDINGS_MAX_CONNECTIONS_PER_IP` connections from one address; past it a new
//!   connection is closed at once (the stream caps count only streams).
//! - Sockets get a capped kernel send buffer (`TIDINGS_SEND_BUFFER_BYTES`): with auto-tuning a
//!   reader that stopped reading held up to `tcp_wmem`'s maximum (4 MiB here) of kernel
//!   memory besides its queue.
//! - Out of descriptors, the loop keeps accepting (after a short pause) and logs once a
//!   second, not once per failure. `main` raises the soft `RLIMIT_NOFILE` to the hard one.
//! - Each connection carries a [`Kill`] switch: an SSE stream whose queue overflowed is
//!   closed by it even while its socket is not writable (hyper then never polls the body).

use axum::extract::ConnectInfo;
use dashmap::DashMap;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Notify;
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

/// What the accept loop enforces (see the module doc).
#[derive(Debug, Clone)]
pub struct Options {
    pub header_timeout: Duration,
    pub idle_timeout: Duration,
    pub max_connections_per_ip: usize,
    /// Load balancers whose `X-Forwarded-For` is believed ([`crate::proxies`]).
    pub proxies: Arc<crate::proxies::TrustedProxies>,
    /// `SO_SNDBUF` of accepted sockets; 0 keeps the kernel's auto-tuning. See
    /// BENCHMARKS.md for its effect on fan-out.
    pub send_buffer: usize,
}

impl Options {
    pub fn from_config(c: &crate::config::Config) -> Self {
        Options {
            header_timeout: Duration::from_secs(c.header_timeout_secs.max(1)),
            idle_timeout: Duration::from_secs(c.idle_timeout_secs.max(1)),
            max_connections_per_ip: c.max_connections_per_ip.max(1),
            proxies: Arc::new(crate::proxies::TrustedProxies::new(
                c.trusted_proxies.clone(),
            )),
            send_buffer: c.send_buffer_bytes,
        }
    }
}

/// Ends the HTTP connection it was handed with: a request extension for handlers whose
/// responses outlive their polling (SSE).
#[derive(Clone)]
pub struct Kill(pub Arc<Notify>);

/// Marks a request that came through [`serve`]: its connection is a plain `TcpStream`
/// served with upgrades, so the WebSocket handler can take the socket over. Under any
/// other server (`axum::serve`, a test harness) the handler refuses the upgrade before
/// answering 101, while it can still say why.
#[derive(Clone, Copy, Debug)]
pub struct TakeOver;

/// Connections per peer address; a slot is given back when its connection ends.
#[derive(Default)]
struct PerIp(DashMap<IpAddr, usize>);

struct IpSlot {
    table: Arc<PerIp>,
    ip: IpAddr,
}

impl PerIp {
    fn take(self: &Arc<Self>, ip: IpAddr, max: usize) -> Option<IpSlot> {
        let mut n = self.0.entry(ip).or_insert(0);
        if *n >= max {
            return None;
        }
        *n += 1;
        Some(IpSlot {
            table: self.clone(),
            ip,
        })
    }
}

impl Drop for IpSlot {
    fn drop(&mut self) {
        self.table.0.remove_if_mut(&self.ip, |_, n| {
            *n -= 1;
            *n == 0
        });
    }
}

pub async fn serve(
    listener: TcpListener,
    app: axum::Router,
    options: Options,
    shutdown: CancellationToken,
) {
    let tracker = tokio_util::task::TaskTracker::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(options.header_timeout.min(options.idle_timeout));
    let per_ip = Arc::new(PerIp::default());
    let mut failures = AcceptFailures::default();
    loop {
        let (tcp, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    // Out of file descriptors, most likely: back off instead of spinning,
                    // and keep accepting once some are free again.
                    failures.note(&e);
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            },
            _ = shutdown.cancelled() => break,
        };
        // A trusted proxy carries many clients: its connections are not capped here
        // (the stream and request caps count each client it names).
        let trusted = options.proxies.trusts(peer.ip());
        let slot = if trusted {
            None
        } else {
            let Some(slot) = per_ip.take(peer.ip(), options.max_connections_per_ip) else {
                drop(tcp);
                continue;
            };
            Some(slot)
        };
        let _ = tcp.set_nodelay(true);
        if options.send_buffer > 0 {
            let _ = socket2::SockRef::from(&tcp).set_send_buffer_size(options.send_buffer);
        }
        let kill = Kill(Arc::new(Notify::new()));
        let ext = kill.clone();
        let proxies = trusted.then(|| options.proxies.clone());
        let svc = app
            .clone()
            .map_request(move |req: axum::http::Request<Incoming>| {
                let mut req = req.map(axum::body::Body::new);
                let client = match &proxies {
                    Some(p) => p.client(peer, req.headers()),
                    None => peer,
                };
                req.extensions_mut().insert(ConnectInfo(client));
                req.extensions_mut().insert(ext.clone());
                req.extensions_mut().insert(TakeOver);
                req
            });
        let conn = http
            .serve_connection(TokioIo::new(tcp), TowerToHyperService::new(svc))
            .with_upgrades();
        let stop = shutdown.clone();
        tracker.spawn(async move {
            let _slot = slot;
            let mut conn = std::pin::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => return,
                // Dropping the connection closes its socket, whatever it was doing.
                _ = kill.0.notified() => return,
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

/// Accept errors, logged at most once a second with how many there were.
#[derive(Default)]
struct AcceptFailures {
    since: Option<std::time::Instant>,
    count: u64,
}

impl AcceptFailures {
    fn note(&mut self, e: &std::io::Error) {
        self.count += 1;
        let now = std::time::Instant::now();
        if self
            .since
            .is_none_or(|t| now.duration_since(t) >= Duration::from_secs(1))
        {
            tracing::warn!(error = %e, failures = self.count, "accept failed");
            self.since = Some(now);
            self.count = 0;
        }
    }
}

/// Raise this process's soft limit on open files to its hard limit: every reader is a
/// descriptor, and the soft default (often 1,024) is far below what the box allows.
pub fn raise_fd_limit() {
    // SAFETY: getrlimit/setrlimit only read and write the struct we pass.
    unsafe {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
                tracing::warn!("cannot raise the open-file limit");
            }
        }
    }
}
