//! Federation with a real ActivityPub server: Fedify 1.5 (`tests/fedify/peer.mjs`, an
//! actor `alice` and a control API for the test), on loopback. Alice finds a Tidings
//! account by WebFinger, follows it, and gets its `Accept`; the account's notices reach
//! her as `Create`, `Update` and `Delete`, each verified by Fedify against the account's
//! published key; after `Undo{Follow}` nothing more is sent. Without Node or Fedify it is
//! a loud skip, and a failure under `CI=true` (`.ci/run` runs `npm ci` in `tests/fedify`).

mod common;

use common::{Backend, spawn_with};
use reqwest::Method;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

on_both_backends!(a_fedify_actor_follows_a_reporter_and_reads_her_notices);

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fedify");

fn fedify_installed() -> bool {
    let there =
        std::path::Path::new(&format!("{DIR}/node_modules/@fedify/fedify/package.json")).exists();
    if !there {
        let what = "Fedify is not installed (cd tests/fedify && npm ci)";
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("CI=true but {what}");
        }
        eprintln!("\n*** SKIPPED: {what} ***\n");
    }
    there
}

/// A running Fedify peer; killed when dropped.
struct Peer {
    child: Child,
    base: String,
    http: reqwest::Client,
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Peer {
    fn start() -> Peer {
        let mut child =
            Command::new(std::env::var("TIDINGS_TEST_NODE").unwrap_or_else(|_| "node".into()))
                .current_dir(DIR)
                .args(["peer.mjs", "0", "--stdin-lifeline"])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                // Its log, when asked for (FEDIFY_PEER_LOG=info or debug).
                .stderr(if std::env::var_os("FEDIFY_PEER_LOG").is_some() {
                    Stdio::inherit()
                } else {
                    Stdio::null()
                })
                .spawn()
                .expect("start the Fedify peer");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .trim()
            .strip_prefix("ready ")
            .unwrap_or_else(|| panic!("the peer said {line:?}"))
            .to_string();
        Peer {
            child,
            base: format!("http://127.0.0.1:{port}"),
            http: reqwest::Client::new(),
        }
    }

    async fn control(&self, path: &str, body: Value) -> Value {
        let res = self
            .http
            .post(format!("{}/control/{path}", self.base))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = res.status();
        let v: Value = res.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "control/{path}: {status} {v}");
        v
    }

    /// What alice's inboxes received and Fedify verified, of `kind`, once there are `min`.
    async fn received(&self, kind: &str, min: usize, wait: Duration) -> Vec<Value> {
        let url = format!(
            "{}/control/received?type={kind}&min={min}&wait_ms={}",
            self.base,
            wait.as_millis()
        );
        let v: Value = self
            .http
            .get(url)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        v.as_array().cloned().unwrap_or_default()
    }

    async fn state(&self) -> Value {
        self.http
            .get(format!("{}/control/state", self.base))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }
}

const WAIT: Duration = Duration::from_secs(20);

async fn a_fedify_actor_follows_a_reporter_and_reads_her_notices(b: Backend) {
    if !fedify_installed() {
        return;
    }
    let Some(app) = spawn_with(b, |c| {
        c.federation_allow_private = true;
        c.delivery_retry_ms = 500;
    })
    .await
    else {
        return;
    };
    let ann = app.register("ann").await;
    let peer = tokio::task::spawn_blocking(Peer::start).await.unwrap();
    let host = app.base.trim_start_matches("http://").to_string();

    // Alice finds ann by WebFinger and follows her; Tidings accepts.
    let followed = peer
        .control("follow", json!({"handle": format!("ann@{host}")}))
        .await;
    assert_eq!(followed["actor"], format!("{}/users/ann", app.base));
    let accepts = peer.received("Accept", 1, WAIT).await;
    assert_eq!(accepts.len(), 1, "{}", peer.state().await);
    assert_eq!(accepts[0]["actor"], format!("{}/users/ann", app.base));
    let state = peer.state().await;
    assert!(
        state.to_string().contains("accepted"),
        "the follow shows as accepted: {state}"
    );

    // Her notice, its correction, its deletion: each reaches alice, verified.
    let posted = app.post(&ann, "Polls close at 8 #election").await;
    let id = posted["id"].as_str().unwrap().to_string();
    let creates = peer.received("Create", 1, WAIT).await;
    assert_eq!(creates.len(), 1, "{}", peer.state().await);
    assert_eq!(creates[0]["object"], posted["uri"]);
    assert!(
        creates[0]["content"]
            .as_str()
            .unwrap_or_default()
            .contains("Polls close at 8"),
        "{}",
        creates[0]
    );
    let (s, _) = app
        .call(
            Method::PUT,
            &format!("/api/v1/statuses/{id}"),
            &ann.token,
            Some(json!({"status": "Polls close at 9 #election"})),
        )
        .await;
    assert_eq!(s, 200);
    let updates = peer.received("Update", 1, WAIT).await;
    assert_eq!(updates.len(), 1, "{}", peer.state().await);
    assert!(
        updates[0]["content"]
            .as_str()
            .unwrap_or_default()
            .contains("Polls close at 9")
    );
    let (s, _) = app
        .call(
            Method::DELETE,
            &format!("/api/v1/statuses/{id}"),
            &ann.token,
            None,
        )
        .await;
    assert_eq!(s, 200);
    let deletes = peer.received("Delete", 1, WAIT).await;
    assert_eq!(deletes.len(), 1, "{}", peer.state().await);
    assert_eq!(deletes[0]["object"], posted["uri"]);

    // Followers-only reaches her too; direct does not (she is not mentioned).
    app.post_with(
        &ann,
        json!({"status": "For followers", "visibility": "private"}),
    )
    .await;
    app.post_with(
        &ann,
        json!({"status": "Only for bob", "visibility": "direct"}),
    )
    .await;
    let creates = peer.received("Create", 2, WAIT).await;
    assert_eq!(creates.len(), 2);
    assert!(
        creates[1]["content"]
            .as_str()
            .unwrap_or_default()
            .contains("For followers")
    );

    // Alice unfollows: nothing more is sent.
    peer.control("unfollow", json!({"actor": followed["actor"]}))
        .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    app.post(&ann, "After the unfollow").await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let creates = peer.received("Create", 0, Duration::ZERO).await;
    assert_eq!(creates.len(), 2, "nothing after Undo: {creates:?}");

    // The queue is empty and the metrics say what happened.
    let metrics = app
        .http
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("federation_deliveries_total{outcome=\"delivered\"} 5"),
        "{metrics}"
    );
    assert!(metrics.contains("federation_delivery_queue 0"), "{metrics}");
}
