//! Readers: WebSocket, SSE and polling clients, each on a source address of its own
//! shard of 127.0.0.x so that large runs do not run out of ephemeral ports.

use crate::stats::{Counters, Latency, Seen};
use crate::target::{
    Kind, Target, memfind, nchan_meta_position, now_us, parse_marker, sse_position, ws_position,
};
use futures::{SinkExt, StreamExt};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
pub enum Transport {
    Ws,
    Sse,
    Poll,
}

/// What all readers of a run share.
pub struct Shared {
    pub target: Target,
    pub latency: Latency,
    pub counters: Counters,
    pub seen: Vec<Mutex<Seen>>,
    /// Flips to true when readers must end.
    pub stop: watch::Receiver<bool>,
    /// Readers sample latency only while this is true (after warm-up).
    pub measuring: std::sync::atomic::AtomicBool,
}

impl Shared {
    /// State for `readers` readers (indices `0..readers`), counting from zero.
    pub fn new(
        target: Target,
        readers: usize,
        stop: watch::Receiver<bool>,
        measuring: bool,
    ) -> Arc<Shared> {
        Arc::new(Shared {
            target,
            latency: Latency::default(),
            counters: Counters::default(),
            seen: (0..readers).map(|_| Mutex::new(Seen::default())).collect(),
            stop,
            measuring: measuring.into(),
        })
    }
}

pub struct Reader {
    pub index: usize,
    pub transport: Transport,
    pub stream: String,
    pub source: Ipv4Addr,
    /// Which of the server's nodes to read from (taken modulo their number).
    pub node: usize,
    /// Hold the connection but never read from it (the `slow` scenario).
    pub stalled: bool,
    /// Resume from this position.
    pub resume: Option<String>,
    /// Keep the position of the last frame (for resuming). Tidings frames always carry
    /// it; Nchan's WebSocket frames carry it only in its `ws+meta.nchan` subprotocol,
    /// which adds a few header bytes to each frame, so only runs that resume ask for it.
    pub positions: bool,
}

/// Resolves when the run is over.
pub async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await.map(|_| ());
}

/// Source address for reader `i`: 127.0.0.2 … 127.0.0.(1+shards), 20k readers each.
pub fn source_for(i: usize) -> Ipv4Addr {
    Ipv4Addr::new(127, 0, 0, 2 + (i / 20_000) as u8)
}

async fn connect_from(source: Ipv4Addr, to: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    // Let connect() pick the port: binding port 0 first scans for a free port on every
    // call, which crawls with thousands of sockets on one source address.
    let one: libc::c_int = 1;
    // SAFETY: a valid socket descriptor and a c_int option value of the right size.
    unsafe {
        libc::setsockopt(
            std::os::fd::AsRawFd::as_raw_fd(&socket),
            libc::IPPROTO_IP,
            libc::IP_BIND_ADDRESS_NO_PORT,
            (&one as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
    socket.bind(SocketAddr::new(IpAddr::V4(source), 0))?;
    let s = socket.connect(to).await?;
    s.set_nodelay(true)?;
    Ok(s)
}

impl Reader {
    /// Reader number `global` of the whole run (which picks its source address and
    /// node), held at `index` in its process; reading, from the live edge.
    pub fn at(global: usize, index: usize, transport: Transport, stream: String) -> Reader {
        Reader {
            index,
            transport,
            stream,
            source: source_for(global),
            node: global,
            stalled: false,
            resume: None,
            positions: false,
        }
    }

    /// A TCP connection to this reader's node; on failure, reports it through `connected`.
    async fn dial(
        &self,
        addr: SocketAddr,
        connected: tokio::sync::oneshot::Sender<bool>,
    ) -> anyhow::Result<(TcpStream, tokio::sync::oneshot::Sender<bool>)> {
        match connect_from(self.source, addr).await {
            Ok(s) => Ok((s, connected)),
            Err(e) => {
                let _ = connected.send(false);
                Err(e.into())
            }
        }
    }

    /// Connect; returns once subscribed (or failed), then reads until stopped.
    pub async fn run(self, shared: Arc<Shared>, connected: tokio::sync::oneshot::Sender<bool>) {
        let result = match self.transport {
            Transport::Ws => self.ws(&shared, connected).await,
            Transport::Sse => self.sse(&shared, connected).await,
            Transport::Poll => self.poll(&shared, connected).await,
        };
        if result.is_err() {
            shared.counters.disconnects.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn record(&self, shared: &Shared, frame: &[u8]) {
        let Some((seq, scheduled)) = parse_marker(frame) else {
            return;
        };
        shared.counters.frames.fetch_add(1, Ordering::Relaxed);
        shared
            .counters
            .frame_bytes
            .fetch_add(frame.len() as u64, Ordering::Relaxed);
        if shared.measuring.load(Ordering::Relaxed) {
            shared
                .latency
                .record(self.index, now_us().saturating_sub(scheduled));
        }
        if let Ok(mut s) = shared.seen[self.index].lock() {
            s.note(seq);
        }
    }

    async fn ws(
        &self,
        shared: &Shared,
        connected: tokio::sync::oneshot::Sender<bool>,
    ) -> anyhow::Result<()> {
        let t = &shared.target;
        let (_, addr) = t.node(self.node);
        let (tcp, connected) = self.dial(addr, connected).await?;
        let url = format!(
            "ws://{}{}",
            addr,
            t.ws_path(&self.stream, self.resume.as_deref())
        );
        let config = WebSocketConfig::default()
            .read_buffer_size(2048)
            .write_buffer_size(0);
        let stream = tokio_tungstenite::MaybeTlsStream::Plain(tcp);
        let nchan_meta = t.kind == Kind::Nchan && self.positions;
        let mut request = url.into_client_request()?;
        if nchan_meta {
            request.headers_mut().insert(
                "Sec-WebSocket-Protocol",
                tokio_tungstenite::tungstenite::http::HeaderValue::from_static("ws+meta.nchan"),
            );
        }
        let (mut ws, _) = match tokio_tungstenite::client_async_with_config(
            request,
            stream,
            Some(config),
        )
        .await
        {
            Ok(x) => x,
            Err(e) => {
                let _ = connected.send(false);
                return Err(e.into());
            }
        };
        let _ = connected.send(true);
        let mut stop = shared.stop.clone();
        if self.stalled {
            let _ = stopped(&mut stop).await;
            return Ok(());
        }
        loop {
            tokio::select! {
                m = ws.next() => match m {
                    Some(Ok(Message::Text(text))) => {
                        self.record(shared, text.as_bytes());
                        let position = match t.kind {
                            Kind::Tidings => ws_position(&text),
                            Kind::Nchan if nchan_meta => nchan_meta_position(&text),
                            Kind::Nchan => None,
                        };
                        if let (Some(p), Ok(mut s)) = (position, shared.seen[self.index].lock()) {
                            s.last_position = Some(p);
                        }
                    }
                    Some(Ok(Message::Binary(b))) => self.record(shared, &b),
                    Some(Ok(Message::Ping(p))) => { let _ = ws.send(Message::Pong(p)).await; }
                    Some(Ok(_)) => {}
                    None | Some(Err(_)) => anyhow::bail!("closed"),
                },
                _ = stopped(&mut stop) => return Ok(()),
            }
        }
    }

    async fn sse(
        &self,
        shared: &Shared,
        connected: tokio::sync::oneshot::Sender<bool>,
    ) -> anyhow::Result<()> {
        let t = &shared.target;
        let (_, addr) = t.node(self.node);
        let (mut tcp, connected) = self.dial(addr, connected).await?;
        let resume = match &self.resume {
            Some(p) => format!("Last-Event-ID: {p}\r\n"),
            None => String::new(),
        };
        let req = format!(
            "GET {} HTTP/1.1\r\nHost: {}\r\nAccept: text/event-stream\r\n{resume}\r\n",
            t.sse_path(&self.stream),
            addr
        );
        tcp.write_all(req.as_bytes()).await?;
        let mut buf = vec![0u8; 16 * 1024];
        let n = tcp.read(&mut buf).await?;
        let ok = buf[..n].starts_with(b"HTTP/1.1 200");
        let _ = connected.send(ok);
        if !ok {
            anyhow::bail!("SSE refused");
        }
        let mut stop = shared.stop.clone();
        if self.stalled {
            let _ = stopped(&mut stop).await;
            return Ok(());
        }
        // A frame may straddle reads: keep what follows the last blank line.
        let mut pending: Vec<u8> = buf[..n].to_vec();
        loop {
            while let Some(end) = memfind(&pending, b"\n\n") {
                let block: Vec<u8> = pending.drain(..end + 2).collect();
                self.record(shared, &block);
                if let (Some(id), Ok(mut s)) =
                    (sse_position(&block), shared.seen[self.index].lock())
                {
                    s.last_position = Some(id);
                }
            }
            tokio::select! {
                r = tcp.read(&mut buf) => match r {
                    Ok(0) | Err(_) => anyhow::bail!("closed"),
                    Ok(n) => pending.extend_from_slice(&buf[..n]),
                },
                _ = stopped(&mut stop) => return Ok(()),
            }
        }
    }

    /// Poll the tag timeline with `min_id` once a second (Tidings only).
    async fn poll(
        &self,
        shared: &Shared,
        connected: tokio::sync::oneshot::Sender<bool>,
    ) -> anyhow::Result<()> {
        let t = &shared.target;
        let http = reqwest::Client::builder()
            .local_address(IpAddr::V4(self.source))
            .build()?;
        let url = if t.event {
            format!(
                "{}/api/v1/tidings/events/{}/timeline",
                t.node(self.node).0,
                self.stream
            )
        } else {
            format!(
                "{}/api/v1/timelines/tag/{}",
                t.node(self.node).0,
                self.stream
            )
        };
        let first = http.get(&url).query(&[("limit", "1")]).send().await;
        let mut min_id = match first.and_then(|r| r.error_for_status()) {
            Ok(r) => {
                let _ = connected.send(true);
                let list: Vec<serde_json::Value> = r.json().await.unwrap_or_default();
                list.first()
                    .and_then(|s| s["id"].as_str())
                    .unwrap_or("0")
                    .to_string()
            }
            Err(e) => {
                let _ = connected.send(false);
                return Err(e.into());
            }
        };
        let mut stop = shared.stop.clone();
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = stopped(&mut stop) => return Ok(()),
            }
            let res = http
                .get(&url)
                .query(&[("min_id", min_id.as_str()), ("limit", "40")])
                .send()
                .await?;
            let list: Vec<serde_json::Value> = res.json().await?;
            for s in list.iter().rev() {
                self.record(shared, s["content"].as_str().unwrap_or("").as_bytes());
            }
            if let Some(newest) = list.first().and_then(|s| s["id"].as_str()) {
                min_id = newest.to_string();
            }
        }
    }
}
