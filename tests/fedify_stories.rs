//! Federation with a real ActivityPub server: Fedify 1.5 (`tests/fedify/peer.mjs`, an
//! actor `alice` and a control API for the test), on loopback. Alice finds a Tidings
//! account by WebFinger, follows it, and gets its `Accept`; the account's notices reach
//! her as `Create`, `Update` and `Delete`, each verified by Fedify against the account's
//! published key; after `Undo{Follow}` nothing more is sent. The other way: a Tidings
//! reader finds alice by WebFinger (lookup and search), follows her (`requested` until
//! Fedify's `Accept`), and alice's `Create`, `Update` and `Delete` reach the reader's
//! WebSocket and SSE streams live, sanitised; her `Like` of a Tidings notice counts.
//! Without Node or Fedify it is a loud skip, and a failure under `CI=true` (`.ci/run`
//! runs `npm ci` in `tests/fedify`).

mod common;

use common::{Backend, spawn_federating};
use reqwest::Method;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

on_both_backends!(
    a_fedify_actor_follows_a_reporter_and_reads_her_notices,
    a_reader_follows_a_fedify_actor_and_sees_her_notices_live
);

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
    let Some(app) = spawn_federating(b).await else {
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

async fn a_reader_follows_a_fedify_actor_and_sees_her_notices_live(b: Backend) {
    if !fedify_installed() {
        return;
    }
    let Some(app) = spawn_federating(b).await else {
        return;
    };
    let ben = app.register("ben").await;
    let peer = tokio::task::spawn_blocking(Peer::start).await.unwrap();
    let peer_host = peer.base.trim_start_matches("http://").to_string();
    let alice_uri = format!("{}/users/alice", peer.base);

    // Ben finds alice by her handle: WebFinger, then her actor document.
    let (s, alice) = app
        .get_json(
            &format!("/api/v1/accounts/lookup?acct=alice@{peer_host}"),
            Some(&ben.token),
        )
        .await;
    assert_eq!(s, 200, "{alice}");
    assert_eq!(alice["acct"], format!("alice@{peer_host}"));
    assert_eq!(alice["uri"], alice_uri);
    assert_eq!(alice["display_name"], "Alice (Fedify test peer)");
    let alice_id = alice["id"].as_str().unwrap().to_string();
    let (s, found) = app
        .get_json(
            &format!("/api/v2/search?q=@alice@{peer_host}&resolve=true&type=accounts"),
            Some(&ben.token),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(found["accounts"][0]["id"], alice_id.as_str(), "{found}");
    // A handle on a server that does not answer is not found, and says so plainly.
    let (s, _) = app
        .get_json(
            "/api/v1/accounts/lookup?acct=nobody@127.0.0.1:9",
            Some(&ben.token),
        )
        .await;
    assert_eq!(s, 404);

    // He follows her: requested until her Accept arrives, then following.
    let (s, rel) = app
        .call(
            Method::POST,
            &format!("/api/v1/accounts/{alice_id}/follow"),
            &ben.token,
            None,
        )
        .await;
    assert_eq!(s, 200, "{rel}");
    assert_eq!(rel["requested"], true, "{rel}");
    assert_eq!(rel["following"], false, "{rel}");
    let follows = peer.received("Follow", 1, WAIT).await;
    assert_eq!(follows.len(), 1, "{}", peer.state().await);
    assert_eq!(follows[0]["actor"], format!("{}/users/ben", app.base));
    common::eventually("ben follows alice", WAIT, || async {
        let (_, r) = app
            .get_json(
                &format!("/api/v1/accounts/relationships?id[]={alice_id}"),
                Some(&ben.token),
            )
            .await;
        (r[0]["following"] == true).then_some(())
    })
    .await;

    // His streams are open: his home over WebSocket, the remote public stream over SSE.
    let mut ws = common::ws_connect(&app, Some(&ben.token)).await;
    common::ws_send(&mut ws, json!({"type": "subscribe", "stream": "user"})).await;
    let (s, _, sse) =
        common::SseReader::open(&app, "/api/v1/streaming/public/remote", None, None).await;
    assert_eq!(s, 200);
    let mut sse = sse.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;

    // Alice posts: it arrives live, sanitised, as hers.
    let posted = peer
        .control(
            "post",
            json!({"content": "<p onclick=\"x()\">Aftershock felt downtown #quake</p><script>alert(1)</script>"}),
        )
        .await;
    let note_uri = posted["id"].as_str().unwrap().to_string();
    let frame = common::ws_event(&mut ws, "update").await;
    let status: Value = serde_json::from_str(frame["payload"].as_str().unwrap()).unwrap();
    assert_eq!(status["uri"], note_uri.as_str());
    assert_eq!(status["account"]["acct"], format!("alice@{peer_host}"));
    let content = status["content"].as_str().unwrap();
    assert!(content.contains("Aftershock felt downtown"), "{content}");
    assert!(
        !content.contains("script") && !content.contains("onclick"),
        "{content}"
    );
    assert_eq!(status["visibility"], "public");
    assert_eq!(status["tags"][0]["name"], "quake");
    let local_id = status["id"].as_str().unwrap().to_string();
    let e = common::sse_event(&mut sse, "update").await;
    assert!(e.data.contains("Aftershock felt downtown"), "{}", e.data);
    // It is in his home timeline and the remote public timeline; not the local one.
    let (_, home) = app
        .get_json("/api/v1/timelines/home", Some(&ben.token))
        .await;
    assert_eq!(home[0]["id"], local_id.as_str(), "{home}");
    let (_, remote) = app
        .get_json("/api/v1/timelines/public?remote=true", None)
        .await;
    assert_eq!(remote[0]["id"], local_id.as_str());
    let (_, local) = app
        .get_json("/api/v1/timelines/public?local=true", None)
        .await;
    assert!(
        local
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["id"] != local_id.as_str()),
        "{local}"
    );

    // Her correction arrives as an edit, with history.
    peer.control(
        "update",
        json!({"id": note_uri, "content": "<p>Aftershock felt downtown, magnitude 4.1 #quake</p>"}),
    )
    .await;
    let frame = common::ws_event(&mut ws, "status.update").await;
    assert!(
        frame["payload"].as_str().unwrap().contains("magnitude 4.1"),
        "{frame}"
    );
    let e = common::sse_event(&mut sse, "status.update").await;
    assert!(e.data.contains("magnitude 4.1"));
    let (_, history) = app
        .get_json(&format!("/api/v1/statuses/{local_id}/history"), None)
        .await;
    assert_eq!(history.as_array().unwrap().len(), 2, "{history}");

    // Alice likes one of ben's notices: it counts, and he is told.
    let mine = app.post(&ben, "Shelters open at the school").await;
    peer.control(
        "send",
        json!({
            "activity": {
                "type": "Like",
                "id": format!("{alice_uri}#likes/1"),
                "actor": alice_uri,
                "object": mine["uri"],
            },
            "to": [format!("{}/users/ben", app.base)],
        }),
    )
    .await;
    common::eventually("the like counts", WAIT, || async {
        let (_, s) = app
            .get_json(
                &format!("/api/v1/statuses/{}", mine["id"].as_str().unwrap()),
                None,
            )
            .await;
        (s["favourites_count"] == 1).then_some(())
    })
    .await;
    let frame = common::ws_event(&mut ws, "notification").await;
    assert!(
        frame["payload"].as_str().unwrap().contains("\"favourite\""),
        "{frame}"
    );

    // Her deletion removes it from his stream, the timelines and the API.
    peer.control("delete", json!({"id": note_uri})).await;
    let frame = common::ws_event(&mut ws, "delete").await;
    assert_eq!(frame["payload"], local_id.as_str());
    let e = common::sse_event(&mut sse, "delete").await;
    assert_eq!(e.data, local_id);
    let (s, _) = app
        .get_json(&format!("/api/v1/statuses/{local_id}"), Some(&ben.token))
        .await;
    assert_eq!(s, 404);
    let (_, home) = app
        .get_json("/api/v1/timelines/home", Some(&ben.token))
        .await;
    assert!(
        home.as_array()
            .unwrap()
            .iter()
            .all(|s| s["id"] != local_id.as_str())
    );

    // He unfollows: alice hears Undo{Follow}, and her next notice is not kept.
    let (s, rel) = app
        .call(
            Method::POST,
            &format!("/api/v1/accounts/{alice_id}/unfollow"),
            &ben.token,
            None,
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(rel["following"], false);
    let undos = peer.received("Undo", 1, WAIT).await;
    assert_eq!(undos.len(), 1, "{}", peer.state().await);
    assert_eq!(
        undos[0]["object_object"],
        alice_uri.as_str(),
        "{}",
        undos[0]
    );
}
