//! The server under test: Tidings (through its real API) or Nchan.

use anyhow::{Context, bail};
use serde_json::{Value, json};
use std::net::SocketAddr;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Kind {
    Tidings,
    Nchan,
}

#[derive(Clone, Debug)]
pub struct Target {
    pub kind: Kind,
    /// `http://host:port` of the first node: the publisher posts there.
    pub base: String,
    /// Every node (base, address), the first included; readers are spread over them.
    pub nodes: Vec<(String, SocketAddr)>,
    /// Tidings: a token that may post.
    pub token: Option<String>,
    /// Pad published messages to this many bytes.
    pub pad: usize,
    /// Streams are live events (see `Common::event`).
    pub event: bool,
}

/// Every published notice carries `TDLT:<seq>:<scheduled send time, µs>:`.
pub fn marker(seq: u64, scheduled_us: u64) -> String {
    format!("TDLT:{seq}:{scheduled_us}:")
}

/// Find the first marker in a frame: (seq, scheduled µs).
pub fn parse_marker(frame: &[u8]) -> Option<(u64, u64)> {
    let at = memfind(frame, b"TDLT:")?;
    let rest = &frame[at + 5..];
    let (seq, rest) = digits(rest)?;
    let (us, _) = digits(rest.strip_prefix(b":")?)?;
    Some((seq, us))
}

fn digits(b: &[u8]) -> Option<(u64, &[u8])> {
    let n = b.iter().take_while(|c| c.is_ascii_digit()).count();
    let v = std::str::from_utf8(&b[..n]).ok()?.parse().ok()?;
    Some((v, &b[n..]))
}

/// Where `needle` first occurs in `hay` (SIMD search: every received frame is scanned
/// for its marker, and a byte-by-byte scan cost the generator's core 6% at 100k frames/s).
pub fn memfind(hay: &[u8], needle: &[u8]) -> Option<usize> {
    memchr::memmem::find(hay, needle)
}

/// The last Tidings position in a WebSocket frame (`"id":"123"` at the end).
pub fn ws_position(frame: &str) -> Option<String> {
    let at = frame.rfind("\"id\":\"")?;
    let rest = &frame[at + 6..];
    Some(rest[..rest.find('"')?].to_string())
}

/// The message id of an Nchan frame in its `ws+meta.nchan` subprotocol, whose frames
/// start with `id: <time>:<tag>` and a newline.
pub fn nchan_meta_position(frame: &str) -> Option<String> {
    let rest = frame.strip_prefix("id: ")?;
    Some(rest[..rest.find('\n')?].to_string())
}

/// The `id:` field of one Server-Sent Events block (Tidings' positions are digits,
/// Nchan's are `<time>:<tag>`).
pub fn sse_position(block: &[u8]) -> Option<String> {
    let at = if block.starts_with(b"id: ") {
        0
    } else {
        memfind(block, b"\nid: ")? + 1
    };
    let id: String = block[at + 4..]
        .iter()
        .take_while(|c| c.is_ascii_digit() || **c == b':')
        .map(|&c| c as char)
        .collect();
    (!id.is_empty()).then_some(id)
}

pub fn now_us() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

impl Target {
    pub async fn connect(kind: Kind, base: &str) -> anyhow::Result<Target> {
        let mut t = Target::reader_only(kind, base).await?;
        if kind == Kind::Tidings {
            t.token = Some(t.sign_up().await?);
        }
        Ok(t)
    }

    pub fn padded(mut self, bytes: usize) -> Self {
        self.pad = bytes;
        self
    }

    /// Streams are live events (Tidings).
    pub fn events(mut self, on: bool) -> Self {
        self.event = on && self.kind == Kind::Tidings;
        self
    }

    /// Make what a stream needs before readers subscribe: with `event`, the live event
    /// `stream`, fed by the tag `stream`, with the publisher as its editor.
    pub async fn prepare(&self, stream: &str) -> anyhow::Result<()> {
        if !self.event {
            return Ok(());
        }
        let res = reqwest::Client::new()
            .post(format!("{}/api/v1/tidings/events", self.base))
            .bearer_auth(self.token.as_deref().unwrap_or(""))
            .json(&json!({"slug": stream, "title": format!("Load test {stream}"), "tags": [stream], "state": "live"}))
            .send()
            .await?;
        let status = res.status();
        let taken = status.as_u16() == 422 && res.text().await?.contains("slug is already taken");
        if !status.is_success() && !taken {
            bail!("cannot create the event {stream}: {status}");
        }
        Ok(())
    }

    /// A target for readers only: no publishing account. `urls` is one base URL or
    /// several, comma-separated (the nodes of one cluster).
    pub async fn reader_only(kind: Kind, urls: &str) -> anyhow::Result<Target> {
        let mut nodes = Vec::new();
        for base in urls.split(',').map(str::trim).filter(|u| !u.is_empty()) {
            let url = reqwest::Url::parse(base).context("--url must be http://host:port")?;
            let host = url.host_str().context("--url has no host")?;
            let port = url.port_or_known_default().context("--url has no port")?;
            let addr = tokio::net::lookup_host((host, port))
                .await?
                .next()
                .context("cannot resolve --url")?;
            nodes.push((base.trim_end_matches('/').to_string(), addr));
        }
        let base = nodes
            .first()
            .map(|n| n.0.clone())
            .context("--url is empty")?;
        Ok(Target {
            kind,
            base,
            nodes,
            token: None,
            pad: 0,
            event: false,
        })
    }

    /// The node reader `i` uses: (base URL, address).
    pub fn node(&self, i: usize) -> (&str, SocketAddr) {
        let (base, addr) = &self.nodes[i % self.nodes.len()];
        (base, *addr)
    }

    /// The same target posting as a further, freshly registered account (Tidings).
    pub async fn with_new_author(&self) -> anyhow::Result<Target> {
        let mut t = self.clone();
        t.token = Some(self.sign_up().await?);
        Ok(t)
    }

    /// Register a fresh publishing account through the API, as a client would.
    async fn sign_up(&self) -> anyhow::Result<String> {
        let http = reqwest::Client::new();
        let app: Value = http
            .post(format!("{}/api/v1/apps", self.base))
            .json(&json!({"client_name": "loadtest", "redirect_uris": "urn:ietf:wg:oauth:2.0:oob", "scopes": "read write"}))
            .send()
            .await?
            .json()
            .await?;
        let app_token: Value = http
            .post(format!("{}/oauth/token", self.base))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", app["client_id"].as_str().unwrap_or("")),
                ("client_secret", app["client_secret"].as_str().unwrap_or("")),
                ("scope", "read write"),
            ])
            .send()
            .await?
            .json()
            .await?;
        let name = format!("lt{}", rand::random::<u32>());
        let res = http
            .post(format!("{}/api/v1/accounts", self.base))
            .bearer_auth(app_token["access_token"].as_str().unwrap_or(""))
            .json(&json!({"username": name, "password": "loadtest password", "agreement": true}))
            .send()
            .await?;
        if !res.status().is_success() {
            bail!(
                "cannot sign up a publisher ({}): are registrations open?",
                res.status()
            );
        }
        let token: Value = res.json().await?;
        token["access_token"]
            .as_str()
            .map(str::to_string)
            .context("no access_token")
    }

    /// Publish one notice on `stream` through the real API.
    pub async fn publish(
        &self,
        http: &reqwest::Client,
        stream: &str,
        body: &str,
    ) -> anyhow::Result<()> {
        let res = match self.kind {
            Kind::Tidings => {
                http.post(format!("{}/api/v1/statuses", self.base))
                    .bearer_auth(self.token.as_deref().unwrap_or(""))
                    .json(&json!({ "status": format!("{body} #{stream}") }))
                    .send()
                    .await?
            }
            Kind::Nchan => {
                http.post(format!("{}/pub?id={stream}", self.base))
                    .body(body.to_string())
                    .send()
                    .await?
            }
        };
        if !res.status().is_success() {
            bail!("publish answered {}", res.status());
        }
        Ok(())
    }

    /// Path and query of a WebSocket subscription.
    pub fn ws_path(&self, stream: &str, resume: Option<&str>) -> String {
        match self.kind {
            Kind::Tidings => {
                let which = if self.event {
                    format!("stream=event&event={stream}")
                } else {
                    format!("stream=hashtag&tag={stream}")
                };
                match resume {
                    Some(p) => format!("/api/v1/streaming?{which}&last_event_id={p}"),
                    None => format!("/api/v1/streaming?{which}"),
                }
            }
            Kind::Nchan => match resume {
                Some(p) => format!("/sub?id={stream}&last_event_id={p}"),
                None => format!("/sub?id={stream}"),
            },
        }
    }

    pub fn sse_path(&self, stream: &str) -> String {
        match self.kind {
            Kind::Tidings if self.event => format!("/api/v1/streaming/event?event={stream}"),
            Kind::Tidings => format!("/api/v1/streaming/hashtag?tag={stream}"),
            Kind::Nchan => format!("/sub?id={stream}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_survive_json_escaping() {
        let frame = format!(
            r#"{{"stream":["hashtag","lt"],"event":"update","payload":"{{\"content\":\"<p>{} #lt</p>\"}}","id":"42"}}"#,
            marker(7, 123456)
        );
        assert_eq!(parse_marker(frame.as_bytes()), Some((7, 123456)));
        assert_eq!(ws_position(&frame).as_deref(), Some("42"));
    }

    #[test]
    fn nchan_and_sse_positions_are_read() {
        let meta = "id: 1795841239:1\ncontent-type: text/plain\n\nbody";
        assert_eq!(nchan_meta_position(meta).as_deref(), Some("1795841239:1"));
        assert_eq!(nchan_meta_position("body only"), None);
        assert_eq!(
            sse_position(b"id: 1795841239:0\ndata: x\n\n").as_deref(),
            Some("1795841239:0")
        );
        assert_eq!(
            sse_position(b"event: update\nid: 77\ndata: x\n\n").as_deref(),
            Some("77")
        );
        assert_eq!(sse_position(b"data: x\n\n"), None);
    }
}
