//! Wire forms of an event, built once per node and shared by every reader.

use crate::domain::{Event, Position, StreamKey};
use bytes::Bytes;
use serde::Serialize;

#[derive(Serialize)]
struct WsFrame<'a> {
    stream: &'a [String],
    event: &'a str,
    payload: &'a str,
    id: String,
}

/// `{"stream":[...],"event":"update","payload":"<json as a string>","id":"<position>"}`
/// as JSON text.
pub fn ws_json(stream: &[String], event: &str, payload: &str, position: Position) -> String {
    let f = WsFrame {
        stream,
        event,
        payload,
        id: position.to_string(),
    };
    serde_json::to_string(&f).unwrap_or_default()
}

/// The same as a complete WebSocket text frame, header included, shareable as is.
pub fn ws_frame(stream: &[String], event: &str, payload: &str, position: Position) -> Bytes {
    crate::stream::wire::text(&ws_json(stream, event, payload, position))
}

pub fn ws_event_frame(key: &str, e: &Event) -> Bytes {
    let wire = StreamKey::from_key(key)
        .map(|k| k.wire_name())
        .unwrap_or_else(|| vec![key.to_string()]);
    ws_frame(&wire, e.kind.as_str(), &e.payload, e.position)
}

/// One SSE event block. Payloads are one-line JSON or a bare id; any line break that got
/// in anyway is split into several `data:` lines so it cannot end the field early.
pub fn sse_block(event: &str, payload: &str, position: Option<Position>) -> Bytes {
    let mut s = String::with_capacity(payload.len() + 48);
    s.push_str("event: ");
    s.push_str(event);
    s.push('\n');
    for line in payload.split(['\n', '\r']) {
        s.push_str("data: ");
        s.push_str(line);
        s.push('\n');
    }
    if let Some(p) = position {
        s.push_str("id: ");
        s.push_str(&p.to_string());
        s.push('\n');
    }
    s.push('\n');
    Bytes::from(s)
}

pub fn sse_event_block(e: &Event) -> Bytes {
    sse_block(e.kind.as_str(), &e.payload, Some(e.position))
}

/// How much of an unservable `last_event_id` the `reset` event echoes: enough to
/// recognise it, not a way to make the server send back whatever it is sent.
pub const RESET_ECHO_CHARS: usize = 64;

/// The payload of the `reset` event: the position asked for cannot be served, reload
/// the view over REST; live events continue after `position`.
pub fn reset_payload(asked: &str, head: Position) -> String {
    let asked = match asked.char_indices().nth(RESET_ECHO_CHARS) {
        Some((end, _)) => &asked[..end],
        None => asked,
    };
    serde_json::json!({ "reason": "unknown_position", "last_event_id": asked, "position": head.to_string() })
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(n: i64) -> Position {
        Position::new(n).unwrap()
    }

    #[test]
    fn a_reset_echoes_at_most_64_characters_of_what_was_asked() {
        let long = "é".repeat(1000);
        let v: serde_json::Value = serde_json::from_str(&reset_payload(&long, at(7))).unwrap();
        assert_eq!(v["last_event_id"], "é".repeat(64));
        let v: serde_json::Value = serde_json::from_str(&reset_payload("abc", at(7))).unwrap();
        assert_eq!(v["last_event_id"], "abc");
    }

    #[test]
    fn sse_block_cannot_be_broken_by_line_breaks() {
        let b = sse_block("update", "a\nevent: evil\r\nb", Some(at(7)));
        assert_eq!(
            &b[..],
            b"event: update\ndata: a\ndata: event: evil\ndata: \ndata: b\nid: 7\n\n"
        );
    }

    #[test]
    fn ws_frame_carries_payload_as_a_string_and_position_as_id() {
        let stream = ["hashtag".to_string(), "x".to_string()];
        let json =
            r#"{"stream":["hashtag","x"],"event":"update","payload":"{\"id\":\"1\"}","id":"42"}"#;
        assert_eq!(ws_json(&stream, "update", "{\"id\":\"1\"}", at(42)), json);
        let f = ws_frame(&stream, "update", "{\"id\":\"1\"}", at(42));
        assert_eq!(
            (f[0], f[1] as usize, &f[2..]),
            (0x81, json.len(), json.as_bytes())
        );
    }
}
