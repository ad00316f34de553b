//! WebSocket framing (RFC 6455), just what the streaming endpoint needs.
//!
//! Why not a general WebSocket library here: the hot path sends the *same* frame to
//! thousands of readers. A server frame is unmasked, so the complete frame — header and
//! payload — can be encoded once per event and stream and written to every socket as
//! is: no per-reader copy into a library's write buffer, no per-reader buffers at rest
//! (an idle connection holds no read or write buffer), and several queued frames go out
//! in one `write`. Client frames are masked and small (subscribe, pong, close); they are
//! parsed here with a size limit.
//!
//! What the reader refuses, and the close code the connection answers with
//! ([`WireError::close_code`]):
//! - 1002 (protocol error): an unmasked frame, reserved bits (RSV1–3) set, a reserved
//!   opcode, a control frame over 125 bytes or fragmented, a continuation without a
//!   start or a new data frame inside a fragmented message, a close payload of one
//!   byte or with a code a client may not send ([`is_valid_close_code`]);
//! - 1007: text that is not UTF-8 (checked fragment by fragment, so a bad fragment is
//!   refused without waiting for the rest) or a close reason that is not;
//! - 1009: a frame or message over [`MAX_CLIENT_MESSAGE`], refused from its header.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use sha1::{Digest, Sha1};
use tokio::io::{AsyncRead, AsyncReadExt};

const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
/// Largest client message we accept (subscribe messages are tiny).
pub const MAX_CLIENT_MESSAGE: usize = 64 * 1024;

const OP_CONT: u8 = 0x0;
const OP_TEXT: u8 = 0x1;
const OP_BINARY: u8 = 0x2;
const OP_CLOSE: u8 = 0x8;
const OP_PING: u8 = 0x9;
const OP_PONG: u8 = 0xA;

/// `Sec-WebSocket-Accept` for a `Sec-WebSocket-Key`.
pub fn accept_key(key: &str) -> String {
    use base64::Engine;
    let mut h = Sha1::new();
    h.update(key.trim().as_bytes());
    h.update(GUID.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(h.finalize())
}

fn frame(opcode: u8, payload: &[u8]) -> Bytes {
    let n = payload.len();
    let mut b = BytesMut::with_capacity(n + 10);
    b.put_u8(0x80 | opcode);
    if n < 126 {
        b.put_u8(n as u8);
    } else if n <= u16::MAX as usize {
        b.put_u8(126);
        b.put_u16(n as u16);
    } else {
        b.put_u8(127);
        b.put_u64(n as u64);
    }
    b.put_slice(payload);
    b.freeze()
}

/// A complete text frame, ready to be written to any number of sockets.
pub fn text(payload: &str) -> Bytes {
    frame(OP_TEXT, payload.as_bytes())
}

pub fn close(code: u16, reason: &str) -> Bytes {
    let mut p = Vec::with_capacity(2 + reason.len());
    p.extend_from_slice(&code.to_be_bytes());
    p.extend_from_slice(reason.as_bytes());
    frame(OP_CLOSE, &p)
}

pub fn ping() -> Bytes {
    Bytes::from_static(&[0x80 | OP_PING, 0])
}

pub fn pong(payload: &[u8]) -> Bytes {
    frame(OP_PONG, &payload[..payload.len().min(125)])
}

#[derive(Debug, PartialEq)]
pub enum Incoming {
    Text(String),
    Binary,
    Ping(Bytes),
    Pong,
    /// A valid close: its code (one a client may send), or none for an empty payload.
    Close(Option<u16>),
}

/// Why reading stopped. The refusals carry the close code to answer with.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    #[error("connection closed")]
    Eof,
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    /// The client broke the framing rules: close 1002.
    #[error("protocol error: {0}")]
    Protocol(&'static str),
    /// A text message or a close reason that is not UTF-8: close 1007.
    #[error("invalid UTF-8")]
    InvalidUtf8,
    /// A message over [`MAX_CLIENT_MESSAGE`]: close 1009.
    #[error("message too big")]
    TooBig,
}

impl WireError {
    /// The close frame's code and reason for a refusal; `None` when the client is gone.
    pub fn close_code(&self) -> Option<(u16, &'static str)> {
        match self {
            WireError::Protocol(why) => Some((1002, why)),
            WireError::InvalidUtf8 => Some((1007, "invalid UTF-8")),
            WireError::TooBig => Some((1009, "message too big")),
            WireError::Eof | WireError::Io(_) => None,
        }
    }
}

/// Close codes a client may send (RFC 6455 §7.4): the defined ones that are not
/// reserved for the server side or for reporting, and the registered and private
/// ranges. 1012–1014 are the server's (restart, try again, bad gateway).
pub fn is_valid_close_code(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1011 | 3000..=4999)
}

/// A message being assembled from fragments.
struct Partial {
    opcode: u8,
    data: Vec<u8>,
    /// For text: how much of `data` is known to be valid UTF-8 (an incomplete
    /// character at the end of a fragment waits for the next one).
    checked: usize,
}

/// Reads client frames. Its buffer is empty and unallocated between messages, and
/// [`FrameReader::next`] is cancel-safe: partial input stays in the buffer.
///
/// Bounded: it buffers at most one frame of [`MAX_CLIENT_MESSAGE`] bytes and one
/// message of as many; anything larger is refused from its header.
#[derive(Default)]
pub struct FrameReader {
    buf: BytesMut,
    partial: Option<Partial>,
}

impl FrameReader {
    pub async fn next<R: AsyncRead + Unpin>(&mut self, io: &mut R) -> Result<Incoming, WireError> {
        loop {
            if let Some(msg) = self.parse()? {
                if self.buf.is_empty() {
                    self.buf = BytesMut::new(); // give the capacity back while idle
                }
                return Ok(msg);
            }
            if self.buf.capacity() - self.buf.len() < 256 {
                self.buf.reserve(512);
            }
            if io.read_buf(&mut self.buf).await? == 0 {
                return Err(WireError::Eof);
            }
        }
    }

    /// The same as [`FrameReader::next`], reading a shared `TcpStream` (the hub may be
    /// writing to it at the same time).
    pub fn next_tcp<'a>(
        &'a mut self,
        tcp: &'a tokio::net::TcpStream,
    ) -> impl Future<Output = Result<Incoming, WireError>> + 'a {
        std::future::poll_fn(move |cx| self.poll_next_tcp(tcp, cx))
    }

    /// [`FrameReader::next_tcp`] as a poll: the wait for the socket keeps its waker in
    /// tokio's registration of the socket, not in a future of the waiting task (an idle
    /// connection's task is that much smaller).
    pub fn poll_next_tcp(
        &mut self,
        tcp: &tokio::net::TcpStream,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<Incoming, WireError>> {
        use std::task::Poll;
        loop {
            match self.parse() {
                Ok(Some(msg)) => {
                    if self.buf.is_empty() {
                        self.buf = BytesMut::new();
                    }
                    return Poll::Ready(Ok(msg));
                }
                Ok(None) => {}
                Err(e) => return Poll::Ready(Err(e)),
            }
            // Wait first, allocate after: an idle connection holds no read buffer.
            match tcp.poll_read_ready(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e.into())),
                Poll::Ready(Ok(())) => {}
            }
            if self.buf.capacity() - self.buf.len() < 256 {
                self.buf.reserve(512);
            }
            // A `WouldBlock` clears the readiness, and the next poll waits again.
            match tcp.try_read_buf(&mut self.buf) {
                Ok(0) => return Poll::Ready(Err(WireError::Eof)),
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) => return Poll::Ready(Err(e.into())),
            }
        }
    }

    /// Bytes the client sent right behind its handshake.
    pub fn seed(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// One complete message from the buffer, if there is one.
    fn parse(&mut self) -> Result<Option<Incoming>, WireError> {
        loop {
            let b = &self.buf[..];
            if b.len() < 2 {
                return Ok(None);
            }
            let (fin, opcode, masked) = (b[0] & 0x80 != 0, b[0] & 0x0F, b[1] & 0x80 != 0);
            if b[0] & 0x70 != 0 {
                return Err(WireError::Protocol("reserved bits set"));
            }
            let control = opcode & 0x08 != 0;
            match opcode {
                OP_CONT | OP_TEXT | OP_BINARY | OP_CLOSE | OP_PING | OP_PONG => {}
                _ => return Err(WireError::Protocol("reserved opcode")),
            }
            if !masked {
                return Err(WireError::Protocol("client frames must be masked"));
            }
            let short = b[1] & 0x7F;
            if control && (!fin || short > 125) {
                return Err(WireError::Protocol(if fin {
                    "control frame over 125 bytes"
                } else {
                    "fragmented control frame"
                }));
            }
            let (len, mut at) = match short {
                126 if b.len() >= 4 => (u64::from(u16::from_be_bytes([b[2], b[3]])), 4),
                127 if b.len() >= 10 => {
                    let mut n = [0u8; 8];
                    n.copy_from_slice(&b[2..10]);
                    (u64::from_be_bytes(n), 10)
                }
                126 | 127 => return Ok(None),
                n => (u64::from(n), 2),
            };
            let Some(len) = usize::try_from(len)
                .ok()
                .filter(|n| *n <= MAX_CLIENT_MESSAGE)
            else {
                return Err(WireError::TooBig);
            };
            if !control {
                let so_far = self.partial.as_ref().map_or(0, |p| p.data.len());
                if so_far + len > MAX_CLIENT_MESSAGE {
                    return Err(WireError::TooBig);
                }
            }
            if b.len() < at + 4 + len {
                return Ok(None);
            }
            let mask = [b[at], b[at + 1], b[at + 2], b[at + 3]];
            at += 4;
            let mut payload: Vec<u8> = b[at..at + len].to_vec();
            for (i, x) in payload.iter_mut().enumerate() {
                *x ^= mask[i % 4];
            }
            self.buf.advance(at + len);
            match opcode {
                OP_PING => return Ok(Some(Incoming::Ping(Bytes::from(payload)))),
                OP_PONG => return Ok(Some(Incoming::Pong)),
                OP_CLOSE => return close_payload(&payload).map(Some),
                _ => {
                    if let Some(msg) = self.data_frame(opcode, fin, payload)? {
                        return Ok(Some(msg));
                    }
                }
            }
        }
    }

    /// Add a data frame to the message being assembled; the message once it is whole.
    fn data_frame(
        &mut self,
        opcode: u8,
        fin: bool,
        payload: Vec<u8>,
    ) -> Result<Option<Incoming>, WireError> {
        let mut p = match (opcode, self.partial.take()) {
            (OP_CONT, Some(mut p)) => {
                p.data.extend_from_slice(&payload);
                p
            }
            (OP_CONT, None) => return Err(WireError::Protocol("continuation without a start")),
            (_, Some(_)) => return Err(WireError::Protocol("new message inside a fragmented one")),
            (op, None) => Partial {
                opcode: op,
                data: payload,
                checked: 0,
            },
        };
        if p.opcode == OP_TEXT {
            // Only the new bytes (and an incomplete character before them) are checked.
            match std::str::from_utf8(&p.data[p.checked..]) {
                Ok(_) => p.checked = p.data.len(),
                Err(e) if e.error_len().is_none() && !fin => p.checked += e.valid_up_to(),
                Err(_) => return Err(WireError::InvalidUtf8),
            }
        }
        if !fin {
            self.partial = Some(p);
            return Ok(None);
        }
        Ok(Some(if p.opcode == OP_TEXT {
            Incoming::Text(String::from_utf8(p.data).map_err(|_| WireError::InvalidUtf8)?)
        } else {
            Incoming::Binary
        }))
    }
}

/// A close frame's payload: empty, or a valid code and a UTF-8 reason.
fn close_payload(payload: &[u8]) -> Result<Incoming, WireError> {
    match payload {
        [] => Ok(Incoming::Close(None)),
        [_] => Err(WireError::Protocol("close payload of one byte")),
        [hi, lo, reason @ ..] => {
            let code = u16::from_be_bytes([*hi, *lo]);
            if !is_valid_close_code(code) {
                return Err(WireError::Protocol("invalid close code"));
            }
            std::str::from_utf8(reason).map_err(|_| WireError::InvalidUtf8)?;
            Ok(Incoming::Close(Some(code)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn masked(opcode: u8, fin: bool, payload: &[u8]) -> Vec<u8> {
        let mask = [1u8, 2, 3, 4];
        let mut f = vec![(if fin { 0x80 } else { 0 }) | opcode];
        if payload.len() < 126 {
            f.push(0x80 | payload.len() as u8);
        } else {
            f.push(0x80 | 126);
            f.extend_from_slice(&(payload.len() as u16).to_be_bytes());
        }
        f.extend_from_slice(&mask);
        f.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        f
    }

    #[test]
    fn the_accept_key_of_the_rfc_example() {
        assert_eq!(
            accept_key("dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

    #[test]
    fn server_frames_have_the_right_length_forms() {
        assert_eq!(&text("hi")[..], &[0x81, 2, b'h', b'i']);
        let big = text(&"x".repeat(300));
        assert_eq!(&big[..4], &[0x81, 126, 1, 44]);
        assert_eq!(big.len(), 304);
        assert_eq!(
            &close(4008, "slow")[..],
            &[0x88, 6, 0x0F, 0xA8, b's', b'l', b'o', b'w']
        );
    }

    #[tokio::test]
    async fn reads_masked_fragmented_and_control_frames() {
        let mut input = masked(OP_TEXT, false, b"{\"type\":");
        input.extend(masked(OP_PING, true, b"p"));
        input.extend(masked(OP_CONT, true, b"\"subscribe\"}"));
        input.extend(masked(OP_TEXT, true, "é".repeat(100).as_bytes()));
        input.extend(masked(OP_CLOSE, true, &1000u16.to_be_bytes()));
        let mut io = &input[..];
        let mut r = FrameReader::default();
        assert_eq!(
            r.next(&mut io).await.unwrap(),
            Incoming::Ping(Bytes::from_static(b"p"))
        );
        assert_eq!(
            r.next(&mut io).await.unwrap(),
            Incoming::Text("{\"type\":\"subscribe\"}".into())
        );
        assert_eq!(
            r.next(&mut io).await.unwrap(),
            Incoming::Text("é".repeat(100))
        );
        assert_eq!(r.next(&mut io).await.unwrap(), Incoming::Close(Some(1000)));
        assert!(matches!(r.next(&mut io).await, Err(WireError::Eof)));
    }

    #[tokio::test]
    async fn unmasked_or_oversized_client_frames_are_refused() {
        let mut io = &[0x81u8, 1, b'x'][..];
        assert!(matches!(
            FrameReader::default().next(&mut io).await,
            Err(WireError::Protocol(_))
        ));
        let mut big = vec![0x81u8, 0x80 | 127];
        big.extend_from_slice(&(1u64 << 30).to_be_bytes());
        let mut io = &big[..];
        assert!(matches!(
            FrameReader::default().next(&mut io).await,
            Err(WireError::TooBig)
        ));
    }
}
