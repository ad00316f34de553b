//! The WebSocket endpoint frame by frame, over a real socket: a client that writes its
//! own masked frames and reads the server's bytes as they are. Framing, control frames,
//! close handling, UTF-8, limits, the handshake, and what happens to readers that stop
//! reading. The frame reader itself is fuzzed at the end.

mod common;

use common::{Backend, TestApp, WAIT, eventually, spawn, spawn_with};
use proptest::prelude::*;
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use tidings::stream::wire::{FrameReader, WireError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const TEXT: u8 = 0x1;
const BINARY: u8 = 0x2;
const CONT: u8 = 0x0;
const CLOSE: u8 = 0x8;
const PING: u8 = 0x9;
const PONG: u8 = 0xA;
const FIN: u8 = 0x80;

/// A client frame: `first` is the first byte as sent (FIN, RSV bits, opcode).
fn masked(first: u8, payload: &[u8]) -> Vec<u8> {
    let mask = [0x37u8, 0xfa, 0x21, 0x3d];
    let mut f = vec![first];
    match payload.len() {
        n if n < 126 => f.push(0x80 | n as u8),
        n if n <= 0xFFFF => {
            f.push(0x80 | 126);
            f.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            f.push(0x80 | 127);
            f.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    f.extend_from_slice(&mask);
    f.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    f
}

fn close_payload(code: u16, reason: &[u8]) -> Vec<u8> {
    let mut p = code.to_be_bytes().to_vec();
    p.extend_from_slice(reason);
    p
}

/// A server frame as read off the wire.
#[derive(Debug)]
struct Frame {
    first: u8,
    payload: Vec<u8>,
}

impl Frame {
    fn opcode(&self) -> u8 {
        self.first & 0x0F
    }
    fn close_code(&self) -> Option<u16> {
        (self.opcode() == CLOSE && self.payload.len() >= 2)
            .then(|| u16::from_be_bytes([self.payload[0], self.payload[1]]))
    }
    fn json(&self) -> Value {
        serde_json::from_slice(&self.payload).expect("a JSON text frame")
    }
}

/// Parse one server frame at the start of `b`: the frame and its length, or `None` if
/// `b` holds only part of one.
fn parse_server_frame(b: &[u8]) -> Option<(Frame, usize)> {
    if b.len() < 2 {
        return None;
    }
    assert_eq!(b[1] & 0x80, 0, "server frames are not masked");
    let (len, at) = match b[1] & 0x7F {
        126 => (u16::from_be_bytes([*b.get(2)?, *b.get(3)?]) as usize, 4),
        127 => (
            u64::from_be_bytes(b.get(2..10)?.try_into().unwrap()) as usize,
            10,
        ),
        n => (n as usize, 2),
    };
    let payload = b.get(at..at + len)?.to_vec();
    Some((
        Frame {
            first: b[0],
            payload,
        },
        at + len,
    ))
}

/// A WebSocket client made of a socket and a buffer.
struct Raw {
    tcp: TcpStream,
    buf: Vec<u8>,
}

fn addr(app: &TestApp) -> String {
    app.base.trim_start_matches("http://").to_string()
}

const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

fn upgrade_request(path: &str, extra: &str) -> String {
    format!(
        "GET {path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n{extra}\r\n"
    )
}

/// Send a raw request; the status line, the headers (lower-cased names) and the body
/// read so far (for a 101: the bytes behind the handshake).
async fn request(tcp: &mut TcpStream, req: &str) -> (String, Vec<(String, String)>, Vec<u8>) {
    tcp.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    let deadline = tokio::time::Instant::now() + WAIT;
    let end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        let mut chunk = [0u8; 4096];
        let n = tokio::time::timeout_at(deadline, tcp.read(&mut chunk))
            .await
            .expect("a response in time")
            .unwrap();
        assert!(n > 0, "the server closed before answering");
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8(buf[..end].to_vec()).unwrap();
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap().to_string();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    (status, headers, buf[end + 4..].to_vec())
}

impl Raw {
    async fn open(app: &TestApp) -> Raw {
        Self::open_at(app, "/api/v1/streaming").await
    }

    async fn open_at(app: &TestApp, path: &str) -> Raw {
        let tcp = TcpStream::connect(addr(app)).await.unwrap();
        Self::handshake(tcp, path).await
    }

    async fn handshake(mut tcp: TcpStream, path: &str) -> Raw {
        let req = upgrade_request(
            path,
            &format!("Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {KEY}\r\n"),
        );
        let (status, _, rest) = request(&mut tcp, &req).await;
        assert!(status.starts_with("HTTP/1.1 101"), "{status}");
        Raw { tcp, buf: rest }
    }

    async fn send(&mut self, bytes: &[u8]) {
        self.tcp.write_all(bytes).await.unwrap();
    }

    async fn send_text(&mut self, v: Value) {
        self.send(&masked(FIN | TEXT, v.to_string().as_bytes()))
            .await;
    }

    /// The next frame, or `None` at the end of the stream or after `wait`.
    async fn frame(&mut self, wait: Duration) -> Option<Frame> {
        self.frame_by(tokio::time::Instant::now() + wait).await
    }

    /// The next frame, or `None` at the end of the stream or at `deadline`.
    async fn frame_by(&mut self, deadline: tokio::time::Instant) -> Option<Frame> {
        loop {
            if let Some((f, n)) = parse_server_frame(&self.buf) {
                self.buf.drain(..n);
                return Some(f);
            }
            let mut chunk = [0u8; 16384];
            match tokio::time::timeout_at(deadline, self.tcp.read(&mut chunk)).await {
                Ok(Ok(n)) if n > 0 => self.buf.extend_from_slice(&chunk[..n]),
                _ => return None,
            }
        }
    }

    /// The code of the close frame the server ends with (skipping other frames), and
    /// that the connection then ends.
    async fn closed_with(&mut self) -> Option<u16> {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let f = self.frame_by(deadline).await?;
            if f.opcode() == CLOSE {
                let mut rest = [0u8; 64];
                let end = tokio::time::timeout_at(deadline, self.tcp.read(&mut rest)).await;
                assert!(
                    matches!(end, Ok(Ok(0)) | Ok(Err(_))),
                    "the connection ends after the close frame"
                );
                return f.close_code();
            }
        }
    }

    /// The next text frame as JSON.
    async fn json(&mut self, wait: Duration) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let f = self.frame_by(deadline).await?;
            match f.opcode() {
                TEXT => return Some(f.json()),
                CLOSE => return None,
                _ => continue,
            }
        }
    }
}

async fn app() -> TestApp {
    spawn(Backend::Sqlite)
        .await
        .expect("SQLite is always there")
}

/// Each of these first frames ends the connection with `code`.
async fn each_closes_with(app: &TestApp, cases: &[(&str, Vec<u8>)], code: u16) {
    for (what, bytes) in cases {
        let mut ws = Raw::open(app).await;
        ws.send(bytes).await;
        assert_eq!(ws.closed_with().await, Some(code), "{what}");
    }
}

// --- 12: control frames -------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_frames_over_125_bytes_or_fragmented_close_with_1002() {
    let app = app().await;
    each_closes_with(
        &app,
        &[
            ("ping of 126 bytes", masked(FIN | PING, &[b'x'; 126])),
            ("pong of 126 bytes", masked(FIN | PONG, &[b'x'; 126])),
            (
                "close of 126 bytes",
                masked(FIN | CLOSE, &close_payload(1000, &[b'x'; 124])),
            ),
            ("ping without FIN", masked(PING, b"hi")),
            ("pong without FIN", masked(PONG, b"")),
            (
                "close without FIN",
                masked(CLOSE, &close_payload(1000, b"")),
            ),
        ],
        1002,
    )
    .await;
    // 125 bytes is still fine, and the pong carries the ping's payload.
    let mut ws = Raw::open(&app).await;
    ws.send(&masked(FIN | PING, &[b'p'; 125])).await;
    let pong = ws.frame(WAIT).await.expect("a pong");
    assert_eq!((pong.first, pong.payload), (FIN | PONG, vec![b'p'; 125]));
}

// --- 13: close frames ---------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_frames_are_checked_and_only_valid_codes_are_echoed() {
    let app = app().await;
    let mut bad: Vec<(String, Vec<u8>)> = vec![("one byte".into(), masked(FIN | CLOSE, &[0x03]))];
    for code in [
        0, 999, 1004, 1005, 1006, 1012, 1013, 1014, 1015, 1016, 1100, 2000, 2999, 5000, 65535,
    ] {
        bad.push((
            format!("code {code}"),
            masked(FIN | CLOSE, &close_payload(code, b"")),
        ));
    }
    let bad: Vec<(&str, Vec<u8>)> = bad.iter().map(|(w, b)| (w.as_str(), b.clone())).collect();
    each_closes_with(&app, &bad, 1002).await;
    each_closes_with(
        &app,
        &[(
            "a reason that is not UTF-8",
            masked(FIN | CLOSE, &close_payload(1000, &[0xce, 0xba, 0xff])),
        )],
        1007,
    )
    .await;
    for code in [1000, 1001, 1002, 1003, 1007, 1011, 3000, 3999, 4000, 4999] {
        let mut ws = Raw::open(&app).await;
        ws.send(&masked(
            FIN | CLOSE,
            &close_payload(code, "fin ✓".as_bytes()),
        ))
        .await;
        assert_eq!(ws.closed_with().await, Some(code), "code {code} is echoed");
    }
    let mut ws = Raw::open(&app).await;
    ws.send(&masked(FIN | CLOSE, b"")).await;
    assert_eq!(ws.closed_with().await, Some(1000), "no code: 1000");
}

// --- 14: UTF-8 ----------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_that_is_not_utf8_closes_with_1007_at_the_first_bad_fragment() {
    let app = app().await;
    each_closes_with(
        &app,
        &[
            ("a whole message", masked(FIN | TEXT, b"ok \xff")),
            ("a surrogate", masked(FIN | TEXT, b"\xed\xa0\x80")),
            // The rest never comes: the bad first fragment must be enough.
            ("the first fragment", masked(TEXT, b"{\"type\":\xc0\xaf")),
            (
                "a character cut by the final fragment",
                [masked(TEXT, b"caf"), masked(FIN | CONT, b"\xc3")].concat(),
            ),
        ],
        1007,
    )
    .await;
    // A character split across fragments (and a ping between them) is fine.
    let mut ws = Raw::open(&app).await;
    let msg = "{\"type\":\"nope\",\"x\":\"κόσμε\"}".as_bytes();
    let cut = msg.iter().position(|b| *b == 0xce).unwrap() + 1;
    ws.send(&masked(TEXT, &msg[..cut])).await;
    ws.send(&masked(FIN | PING, b"between")).await;
    ws.send(&masked(FIN | CONT, &msg[cut..])).await;
    let pong = ws.frame(WAIT).await.expect("a pong between fragments");
    assert_eq!((pong.opcode(), &pong.payload[..]), (PONG, &b"between"[..]));
    assert_eq!(
        ws.json(WAIT).await,
        Some(json!({"error": "Unknown message type", "status": 400}))
    );
}

// --- 15: limits ---------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_over_the_limit_closes_with_1009() {
    let app = app().await;
    let limit = tidings::stream::wire::MAX_CLIENT_MESSAGE;
    let mut huge_header = vec![FIN | TEXT, 0x80 | 127];
    huge_header.extend_from_slice(&(1u64 << 40).to_be_bytes());
    huge_header.extend_from_slice(&[1, 2, 3, 4]);
    each_closes_with(
        &app,
        &[
            (
                "a frame over the limit",
                masked(FIN | BINARY, &vec![0; limit + 1]),
            ),
            ("a header saying 1 TiB", huge_header),
            (
                "fragments adding up to more",
                [
                    masked(TEXT, &vec![b'a'; limit / 2 + 1]),
                    masked(FIN | CONT, &vec![b'a'; limit / 2 + 1]),
                ]
                .concat(),
            ),
        ],
        1009,
    )
    .await;
    // Exactly the limit is accepted (binary is ignored, so a ping proves it).
    let mut ws = Raw::open(&app).await;
    ws.send(&masked(FIN | BINARY, &vec![0; limit])).await;
    ws.send(&masked(FIN | PING, b"still here")).await;
    assert_eq!(ws.frame(WAIT).await.map(|f| f.opcode()), Some(PONG));
}

// --- 16: framing, reserved bits and opcodes, fragmentation --------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn framing_errors_close_with_1002() {
    let app = app().await;
    let mut cases: Vec<(String, Vec<u8>)> = Vec::new();
    for (rsv, name) in [
        (0x40u8, "RSV1"),
        (0x20, "RSV2"),
        (0x10, "RSV3"),
        (0x70, "RSV1-3"),
    ] {
        cases.push((format!("{name} on text"), masked(FIN | rsv | TEXT, b"x")));
        cases.push((format!("{name} on ping"), masked(FIN | rsv | PING, b"")));
    }
    for op in [3u8, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF] {
        cases.push((format!("opcode {op:#x}"), masked(FIN | op, b"")));
    }
    cases.push((
        "continuation without a start".into(),
        masked(FIN | CONT, b"x"),
    ));
    cases.push((
        "unfinished continuation without a start".into(),
        masked(CONT, b"x"),
    ));
    cases.push((
        "text during a fragmented text".into(),
        [masked(TEXT, b"a"), masked(FIN | TEXT, b"b")].concat(),
    ));
    cases.push((
        "binary during a fragmented text".into(),
        [masked(TEXT, b"a"), masked(BINARY, b"b")].concat(),
    ));
    cases.push(("an unmasked frame".into(), vec![FIN | TEXT, 1, b'x']));
    let cases: Vec<(&str, Vec<u8>)> = cases.iter().map(|(w, b)| (w.as_str(), b.clone())).collect();
    each_closes_with(&app, &cases, 1002).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn valid_framing_is_understood_in_every_form() {
    let app = app().await;
    let mut ws = Raw::open(&app).await;
    // Unsolicited pong, empty messages, binary: ignored.
    ws.send(&masked(FIN | PONG, b"unasked")).await;
    ws.send(&masked(FIN | TEXT, b"")).await;
    assert_eq!(
        ws.json(WAIT).await,
        Some(json!({"error": "Invalid JSON message", "status": 400})),
        "an empty text message is a message"
    );
    ws.send(&masked(FIN | BINARY, b"\x00\xff")).await;
    // The 16-bit and 64-bit length forms, a message in many fragments, one byte at a time.
    let nope =
        |pad: usize| format!("{{\"type\":\"nope\",\"pad\":\"{}\"}}", "x".repeat(pad)).into_bytes();
    ws.send(&masked(FIN | TEXT, &nope(300))).await;
    let mut long_form = masked(FIN | TEXT, &nope(10));
    let payload = long_form.split_off(6);
    let mut f = vec![FIN | TEXT, 0x80 | 127];
    f.extend_from_slice(&(payload.len() as u64).to_be_bytes());
    f.extend_from_slice(&long_form[2..6]);
    f.extend_from_slice(&payload);
    ws.send(&f).await;
    let msg = nope(5);
    let mut frags = Vec::new();
    for (i, chunk) in msg.chunks(7).enumerate() {
        let op = if i == 0 { TEXT } else { CONT };
        let fin = if (i + 1) * 7 >= msg.len() { FIN } else { 0 };
        frags.extend(masked(fin | op, chunk));
    }
    for b in frags {
        ws.send(&[b]).await;
    }
    for _ in 0..3 {
        assert_eq!(
            ws.json(WAIT).await,
            Some(json!({"error": "Unknown message type", "status": 400}))
        );
    }
    // Ping with an empty payload.
    ws.send(&masked(FIN | PING, b"")).await;
    let pong = ws.frame(WAIT).await.unwrap();
    assert_eq!((pong.first, pong.payload.len()), (FIN | PONG, 0));
    // And a normal close.
    ws.send(&masked(FIN | CLOSE, &close_payload(1000, b"bye")))
        .await;
    assert_eq!(ws.closed_with().await, Some(1000));
}

// --- 20: the handshake --------------------------------------------------------------

async fn handshake_with(app: &TestApp, req: &str) -> (String, Vec<(String, String)>, Value) {
    let mut tcp = TcpStream::connect(addr(app)).await.unwrap();
    let (status, headers, mut body) = request(&mut tcp, req).await;
    let len: usize = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .map_or(0, |(_, v)| v.parse().unwrap());
    let deadline = tokio::time::Instant::now() + WAIT;
    while body.len() < len {
        let mut chunk = [0u8; 1024];
        let n = tokio::time::timeout_at(deadline, tcp.read(&mut chunk))
            .await
            .expect("the whole body in time")
            .unwrap();
        assert!(n > 0);
        body.extend_from_slice(&chunk[..n]);
    }
    let json = serde_json::from_slice(&body).unwrap_or(Value::Null);
    (status, headers, json)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_handshake_is_refused_before_switching_protocols() {
    let app = app().await;
    let path = "/api/v1/streaming";
    let (status, headers, body) = handshake_with(
        &app,
        &upgrade_request(
            path,
            &format!("Sec-WebSocket-Version: 8\r\nSec-WebSocket-Key: {KEY}\r\n"),
        ),
    )
    .await;
    assert!(status.starts_with("HTTP/1.1 426"), "{status}");
    assert!(
        headers.contains(&("sec-websocket-version".into(), "13".into())),
        "{headers:?}"
    );
    assert!(body["error"].is_string(), "{body}");
    for key in [
        "abc",
        "",
        "MDEyMzQ1Njc4OWFiY2RlZmdoaWo=",
        "!!!!!!!!!!!!!!!!!!!!!!!=",
    ] {
        let (status, _, body) = handshake_with(
            &app,
            &upgrade_request(
                path,
                &format!("Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {key}\r\n"),
            ),
        )
        .await;
        assert!(status.starts_with("HTTP/1.1 400"), "key {key:?}: {status}");
        assert!(body["error"].is_string(), "{body}");
    }
    let (status, _, body) = handshake_with(
        &app,
        &upgrade_request(path, "Sec-WebSocket-Version: 13\r\n"),
    )
    .await;
    assert!(status.starts_with("HTTP/1.1 400"), "no key: {status}");
    assert!(body["error"].is_string());
    let old = format!(
        "GET {path} HTTP/1.0\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {KEY}\r\n\r\n"
    );
    let (status, _, body) = handshake_with(&app, &old).await;
    assert!(status.contains(" 400"), "HTTP/1.0: {status}");
    assert!(body["error"].is_string());
}

// --- 19: no 101 that cannot be kept -------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upgrade_that_cannot_be_taken_over_is_refused_before_101() {
    use tower::ServiceExt;
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
    let shutdown = tokio_util::sync::CancellationToken::new();
    let node = tidings::Node::start(
        tidings::config::Config::for_database(&url),
        shutdown.clone(),
    )
    .await
    .unwrap();
    // Called as a plain service: no hyper connection, so no upgrade handle.
    let req = axum::http::Request::get("/api/v1/streaming")
        .header("upgrade", "websocket")
        .header("connection", "Upgrade")
        .header("sec-websocket-version", "13")
        .header("sec-websocket-key", KEY)
        .extension(axum::extract::ConnectInfo(std::net::SocketAddr::from((
            [127, 0, 0, 1],
            4000,
        ))))
        .body(axum::body::Body::empty())
        .unwrap();
    let res = tidings::api::router(node.clone())
        .oneshot(req)
        .await
        .unwrap();
    assert_ne!(res.status(), 101);
    assert!(res.status().is_server_error(), "{}", res.status());

    // Under `axum::serve`: a real HTTP/1.1 connection that offers upgrades, but whose
    // socket is wrapped in a type the hub cannot write to. Refused before any 101.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let at = listener.local_addr().unwrap();
    let app =
        tidings::api::router(node).into_make_service_with_connect_info::<std::net::SocketAddr>();
    let stop = shutdown.clone();
    tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(stop.cancelled_owned())
            .await
    });
    let mut tcp = TcpStream::connect(at).await.unwrap();
    let (status, _, _) = request(
        &mut tcp,
        &upgrade_request(
            "/api/v1/streaming?stream=public",
            &format!("Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {KEY}\r\n"),
        ),
    )
    .await;
    assert!(status.starts_with("HTTP/1.1 503"), "{status}");
    shutdown.cancel();
}

// --- 7a, 7c: readers that stop reading ----------------------------------------------

/// Flood 125-byte pings without reading a pong, until the socket takes no more.
async fn flood_pings(ws: &mut Raw) {
    let ping = masked(FIN | PING, &[b'p'; 125]);
    let burst: Vec<u8> = ping
        .iter()
        .copied()
        .cycle()
        .take(ping.len() * 512)
        .collect();
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(20) {
        match tokio::time::timeout(Duration::from_millis(500), ws.tcp.write_all(&burst)).await {
            Ok(Ok(())) => {}
            _ => return, // the server stopped reading (or hung up)
        }
    }
    panic!("the server kept reading pings it could not answer for 20 s");
}

/// Read to the end; the frames whole, and whether the stream ended cleanly (EOF) or
/// with an error (reset). Panics if it does not end within `within`.
async fn read_to_end(ws: &mut Raw, within: Duration) -> (Vec<Frame>, Vec<u8>, bool) {
    let deadline = tokio::time::Instant::now() + within;
    let clean = loop {
        let mut chunk = [0u8; 65536];
        match tokio::time::timeout_at(deadline, ws.tcp.read(&mut chunk)).await {
            Ok(Ok(0)) => break true,
            Ok(Ok(n)) => ws.buf.extend_from_slice(&chunk[..n]),
            Ok(Err(_)) => break false,
            Err(_) => panic!("the connection is still open after {within:?}"),
        }
    };
    let mut frames = Vec::new();
    while let Some((f, n)) = parse_server_frame(&ws.buf) {
        ws.buf.drain(..n);
        frames.push(f);
    }
    (frames, std::mem::take(&mut ws.buf), clean)
}

/// The kernel's state of this client socket (from `/proc/net/tcp`): 1 while
/// established, 8 (close-wait) once the server sent its FIN, 7 once it reset.
fn tcp_state(tcp: &TcpStream) -> u8 {
    // A socket the server reset is no longer connected: it has no peer.
    let (Ok(local), Ok(peer)) = (tcp.local_addr(), tcp.peer_addr()) else {
        return 7;
    };
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap();
    let (l, r) = (
        format!(":{:04X}", local.port()),
        format!(":{:04X}", peer.port()),
    );
    table
        .lines()
        .skip(1)
        .map(|line| line.split_whitespace().collect::<Vec<_>>())
        .find(|f| f[1].ends_with(&l) && f[2].ends_with(&r))
        .map_or(7, |f| u8::from_str_radix(f[3], 16).unwrap())
}

/// Wait, without reading, until the server has ended the connection; panic with
/// `what` if it has not within `within`.
async fn ended_by_server(ws: &Raw, within: Duration, what: &str) {
    eventually(what, within, || async {
        (tcp_state(&ws.tcp) != 1).then_some(())
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_flooding_pings_without_reading_is_closed() {
    let app = app().await;
    let mut ws = Raw::open(&app).await;
    flood_pings(&mut ws).await;
    // The server's writes stall; after its write deadline it gives up on the reader.
    ended_by_server(
        &ws,
        Duration::from_secs(20),
        "the server to let go of a client that reads nothing",
    )
    .await;
    let (frames, torn, clean) = read_to_end(&mut ws, Duration::from_secs(10)).await;
    assert!(
        frames
            .iter()
            .all(|f| f.opcode() == PONG || f.opcode() == CLOSE)
    );
    if clean {
        assert!(torn.is_empty(), "no torn frame before a clean end");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_websocket_does_not_hold_up_shutdown() {
    let app = app().await;
    let mut ws = Raw::open(&app).await;
    flood_pings(&mut ws).await;
    app.stop();
    // The node gives closing frames a few seconds on shutdown, not the full grace.
    ended_by_server(
        &ws,
        Duration::from_secs(6),
        "a stalled connection to end with the shutdown",
    )
    .await;
    let (_, torn, clean) = read_to_end(&mut ws, Duration::from_secs(10)).await;
    if clean {
        assert!(torn.is_empty(), "no torn frame before a clean end");
    }
}

/// A client socket with a small receive buffer and segment size, so that the server's
/// send buffer stays small too and a stalled reader fills it with few notices.
async fn small_window(app: &TestApp) -> TcpStream {
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    sock.set_recv_buffer_size(4096).unwrap();
    sock.set_tcp_mss(536).unwrap();
    let a: std::net::SocketAddr = addr(app).parse().unwrap();
    sock.connect(&a.into()).unwrap();
    sock.set_nonblocking(true).unwrap();
    TcpStream::from_std(sock.into()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_reader_who_resumes_after_the_grace_gets_whole_frames_then_the_close() {
    let app = spawn_with(Backend::Sqlite, |c| {
        c.reader_queue_bytes = 100 * 1024;
        c.max_chars = 5000;
    })
    .await
    .unwrap();
    let ann = app.register("ann").await;
    let tcp = small_window(&app).await;
    let mut ws = Raw::handshake(tcp, "/api/v1/streaming?stream=public:local").await;
    let text = "a gale warning for the whole coast, ".repeat(130);
    let mut closed = false;
    for i in 0..400 {
        app.post(&ann, &format!("{i} {text}")).await;
        if i % 5 == 4 && app.counter("tidings_slow_readers_closed_total").await > 0 {
            closed = true;
            break;
        }
    }
    assert!(closed, "the reader was closed as slow");
    // Resume reading only after the close grace (10 s) has run out.
    tokio::time::sleep(Duration::from_secs(12)).await;
    let (frames, torn, clean) = read_to_end(&mut ws, Duration::from_secs(20)).await;
    assert!(frames.len() > 5, "notices arrived before the close");
    if clean {
        assert!(
            torn.is_empty(),
            "a torn frame of {} bytes then a clean end",
            torn.len()
        );
        let last = frames.last().unwrap();
        assert_eq!(last.close_code(), Some(4008), "the stream ends with 4008");
    }
}

// --- 17: a replay that fails ---------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscription_whose_history_cannot_be_read_can_be_made_again() {
    use sqlx::Connection;
    let app = app().await;
    let ann = app.register("ann").await;
    let s = app.post(&ann, "before the blip #blip").await;
    let mut db = sqlx::SqliteConnection::connect(&app.database_url)
        .await
        .unwrap();
    let mut ws = Raw::open(&app).await;
    // Reading the history fails while its table is away.
    sqlx::query("ALTER TABLE event_streams RENAME TO event_streams_away")
        .execute(&mut db)
        .await
        .unwrap();
    let sub =
        json!({"type": "subscribe", "stream": "hashtag", "tag": "blip", "last_event_id": "0"});
    ws.send_text(sub.clone()).await;
    let err = ws.json(WAIT).await.expect("an error frame");
    assert_eq!(err["status"], 503, "{err}");
    sqlx::query("ALTER TABLE event_streams_away RENAME TO event_streams")
        .execute(&mut db)
        .await
        .unwrap();
    // Subscribing again reads the history this time.
    ws.send_text(sub).await;
    let f = ws.json(WAIT).await.expect("the missed notice");
    let payload: Value = serde_json::from_str(f["payload"].as_str().unwrap()).unwrap();
    assert_eq!(payload["id"], s["id"]);
}

// --- 21: pings, resets, tags ---------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_connection_is_not_pinged_at_once() {
    let app = app().await;
    // The node's ticker ticks every 30 s: connect after its first tick.
    tokio::time::sleep(Duration::from_secs(31)).await;
    let mut ws = Raw::open(&app).await;
    let first = ws.frame(Duration::from_secs(2)).await;
    assert!(first.is_none(), "pinged at once: {first:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_last_event_id_that_is_no_position_gets_a_reset() {
    let app = app().await;
    let ann = app.register("ann").await;
    app.post(&ann, "something").await;
    // Routed before anyone subscribes: it is history here, not a live frame that could
    // reach the subscription ahead of its reset.
    eventually("the notice to be routed", WAIT, || async {
        (app.counter("tidings_events_dispatched_total").await >= 1).then_some(())
    })
    .await;
    let mut ws = Raw::open(&app).await;
    let long = "9x".repeat(500);
    for (asked, echoed) in [
        (json!(true), "true".to_string()),
        (json!({}), "{}".to_string()),
        (json!([1]), "[1]".to_string()),
        (json!(long), long[..64].to_string()),
    ] {
        ws.send_text(json!({"type": "subscribe", "stream": "public", "last_event_id": asked}))
            .await;
        let f = ws.json(WAIT).await.expect("a reset");
        assert_eq!(f["event"], "reset", "{asked}");
        let p: Value = serde_json::from_str(f["payload"].as_str().unwrap()).unwrap();
        assert_eq!(p["last_event_id"], json!(echoed));
        ws.send_text(json!({"type": "unsubscribe", "stream": "public"}))
            .await;
    }
    // Over SSE, a Last-Event-ID that is not ASCII gets a reset too.
    let res = app
        .http
        .get(app.url("/api/v1/streaming/public"))
        .header(
            "last-event-id",
            reqwest::header::HeaderValue::from_bytes("é".as_bytes()).unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let mut body = res.bytes_stream();
    let mut seen = String::new();
    let deadline = tokio::time::Instant::now() + WAIT;
    while !seen.contains("event: reset") {
        use futures::StreamExt;
        let chunk = tokio::time::timeout_at(deadline, body.next())
            .await
            .expect("a reset over SSE")
            .unwrap()
            .unwrap();
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tag_with_a_colon_is_refused_not_mixed_with_another_stream() {
    let app = app().await;
    let ann = app.register("ann").await;
    let mut ws = Raw::open(&app).await;
    ws.send_text(json!({"type": "subscribe", "stream": "hashtag", "tag": "local:foo"}))
        .await;
    let err = ws.json(WAIT).await.expect("an error frame");
    assert_eq!(err["status"], 400, "{err}");
    // A tag it may follow fences the refused one: its notice, posted second, arrives
    // after anything the first would have brought.
    ws.send_text(json!({"type": "subscribe", "stream": "hashtag", "tag": "fence"}))
        .await;
    app.until_counter("tidings_subscriptions", 1).await;
    app.post(&ann, "only #foo here").await;
    app.post(&ann, "marker #fence").await;
    let next = ws.json(WAIT).await.expect("the marker arrives");
    assert_eq!(next["stream"], json!(["hashtag", "fence"]), "{next}");
    let res = app
        .http
        .get(app.url("/api/v1/streaming/hashtag?tag=local:foo"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
}

// --- 16: the frame reader, fuzzed ---------------------------------------------------

/// Feed `bytes` to a reader and take messages until it stops. Every input must end in
/// a message stream that runs out (EOF) or a refusal — never a panic or a hang.
fn run_reader(bytes: &[u8]) -> Result<usize, WireError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut r = FrameReader::default();
        r.seed(bytes);
        let mut empty: &[u8] = &[];
        // Each message takes at least two bytes of input.
        for n in 0..=bytes.len() / 2 + 1 {
            match r.next(&mut empty).await {
                Ok(_) => {}
                Err(WireError::Eof) => return Ok(n),
                Err(e) => return Err(e),
            }
        }
        panic!("more messages than the input can hold");
    })
}

/// Frames as a client might send them, well-formed or not: any first byte, masked or
/// not, any length form, payloads that may be shorter than announced.
fn frame_strategy() -> impl Strategy<Value = Vec<u8>> {
    (
        any::<u8>(),
        any::<bool>(),
        prop::collection::vec(any::<u8>(), 0..300),
        0u8..4,
        any::<bool>(),
    )
        .prop_map(|(first, mask, payload, form, truncate)| {
            let mut f = vec![first];
            let m = if mask { 0x80 } else { 0 };
            match form {
                0 if payload.len() < 126 => f.push(m | payload.len() as u8),
                0 | 1 => {
                    f.push(m | 126);
                    f.extend_from_slice(&(payload.len() as u16).to_be_bytes());
                }
                2 => {
                    f.push(m | 127);
                    f.extend_from_slice(&(payload.len() as u64).to_be_bytes());
                }
                _ => {
                    // A length from nowhere.
                    f.push(m | 127);
                    f.extend_from_slice(&u64::MAX.to_be_bytes());
                }
            }
            if mask {
                f.extend_from_slice(&[9, 8, 7, 6]);
            }
            f.extend_from_slice(&payload);
            if truncate {
                f.truncate(f.len() / 2);
            }
            f
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn any_bytes_end_in_messages_a_clean_end_or_a_refusal(
        bytes in prop::collection::vec(any::<u8>(), 0..2048)
    ) {
        let _ = run_reader(&bytes);
    }

    #[test]
    fn any_frame_sequence_ends_in_messages_a_clean_end_or_a_refusal(
        frames in prop::collection::vec(frame_strategy(), 0..12)
    ) {
        let bytes = frames.concat();
        if let Err(e) = run_reader(&bytes) {
            prop_assert!(e.close_code().is_some(), "a refusal names its close code: {e}");
        }
    }

    #[test]
    fn valid_text_split_anywhere_reads_back_whole(
        text in "\\PC{0,200}",
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..4)
    ) {
        let bytes = text.as_bytes();
        let mut at: Vec<usize> = cuts.iter().map(|i| i.index(bytes.len() + 1)).collect();
        at.sort_unstable();
        at.dedup();
        let mut pieces = Vec::new();
        let mut from = 0;
        for a in at.into_iter().chain([bytes.len()]) {
            if a > from || pieces.is_empty() {
                pieces.push(&bytes[from..a]);
                from = a;
            }
        }
        let n = pieces.len();
        let mut input = Vec::new();
        for (i, p) in pieces.iter().enumerate() {
            let op = if i == 0 { TEXT } else { CONT };
            let fin = if i + 1 == n { FIN } else { 0 };
            input.extend(masked(fin | op, p));
        }
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let got = rt.block_on(async {
            let mut r = FrameReader::default();
            r.seed(&input);
            let mut empty: &[u8] = &[];
            r.next(&mut empty).await
        });
        prop_assert_eq!(
            got.unwrap(),
            tidings::stream::wire::Incoming::Text(text.clone())
        );
    }
}
