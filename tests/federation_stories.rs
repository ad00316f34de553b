//! Federation's discovery, read as another server reads it: WebFinger, host-meta,
//! NodeInfo, an account's actor document with its public key, and a notice's `Note` at its
//! `uri` — by content negotiation on the same addresses as the pages, showing only what
//! anyone may read, as it is now.

mod common;

use common::{Backend, spawn, spawn_with};
use reqwest::Method;
use rsa::pkcs8::DecodePublicKey;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};
use tidings::federation::{keys, signature};

on_both_backends!(
    another_server_finds_an_account_and_reads_it,
    another_server_reads_public_notices_only,
    the_inbox_takes_only_signed_activities_of_their_actors,
    deliveries_outlast_a_dead_peer_and_a_restart
);

const AS: &str = "application/activity+json";

async fn get(app: &common::TestApp, url: &str, accept: &str) -> (u16, String, String) {
    let res = app
        .http
        .get(url)
        .header("accept", accept)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let ctype = res
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (status, ctype, res.text().await.unwrap())
}

async fn json_of(app: &common::TestApp, url: &str, accept: &str) -> (u16, String, Value) {
    let (s, c, body) = get(app, url, accept).await;
    (s, c, serde_json::from_str(&body).unwrap_or(Value::Null))
}

async fn another_server_finds_an_account_and_reads_it(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let ann = app.register("ann").await;
    let (s, _) = app
        .call(
            Method::PATCH,
            "/api/v1/accounts/update_credentials",
            &ann.token,
            Some(json!({"display_name": "Ann Reporter", "note": "Covering the election"})),
        )
        .await;
    assert_eq!(s, 200);
    app.post(&ann, "Polls open #election").await;
    let domain = reqwest::Url::parse(&app.base)
        .unwrap()
        .host_str()
        .unwrap()
        .to_string();
    let port = reqwest::Url::parse(&app.base).unwrap().port().unwrap();
    let host = format!("{domain}:{port}");

    // WebFinger: by acct, by profile URL, by actor URL.
    let actor_id = format!("{}/users/ann", app.base);
    for resource in [
        format!("acct:ann@{host}"),
        format!("ann@{host}"),
        format!("{}/@ann", app.base),
        actor_id.clone(),
    ] {
        let url = format!(
            "{}/.well-known/webfinger?resource={}",
            app.base,
            urlencode(&resource)
        );
        let (s, ctype, jrd) = json_of(&app, &url, "application/jrd+json").await;
        assert_eq!(s, 200, "{resource}: {jrd}");
        assert!(ctype.starts_with("application/jrd+json"), "{ctype}");
        assert_eq!(jrd["subject"], format!("acct:ann@{host}"));
        let me = jrd["links"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["rel"] == "self")
            .expect("a self link");
        assert_eq!(me["type"], AS);
        assert_eq!(me["href"], actor_id.as_str());
    }
    for (resource, want) in [
        (format!("acct:nobody@{host}"), 404),
        ("acct:ann@elsewhere.example".to_string(), 404),
        (String::new(), 400),
    ] {
        let url = format!(
            "{}/.well-known/webfinger?resource={}",
            app.base,
            urlencode(&resource)
        );
        let (s, _, body) = get(&app, &url, "application/jrd+json").await;
        assert_eq!(s, want, "{resource}: {body}");
        assert!(body.contains("\"error\""), "{body}");
    }
    let (s, ctype, xml) = get(
        &app,
        &app.url("/.well-known/host-meta"),
        "application/xrd+xml",
    )
    .await;
    assert_eq!(s, 200);
    assert!(ctype.starts_with("application/xrd+xml"));
    assert!(
        xml.contains(&format!(
            "template=\"{}/.well-known/webfinger?resource={{uri}}\"",
            app.base
        )),
        "{xml}"
    );

    // NodeInfo: the links, then each document.
    let (s, _, links) = json_of(&app, &app.url("/.well-known/nodeinfo"), "application/json").await;
    assert_eq!(s, 200);
    for version in ["2.0", "2.1"] {
        let href = links["links"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["rel"].as_str().unwrap().ends_with(&format!("/{version}")))
            .unwrap()["href"]
            .as_str()
            .unwrap()
            .to_string();
        let (s, ctype, info) = json_of(&app, &href, "application/json").await;
        assert_eq!(s, 200);
        assert!(ctype.contains(&format!("schema/{version}#")), "{ctype}");
        assert_eq!(info["version"], version);
        assert_eq!(info["software"]["name"], "tidings");
        assert_eq!(info["protocols"], json!(["activitypub"]));
        assert_eq!(info["usage"]["users"]["total"], 1);
        assert_eq!(info["usage"]["localPosts"], 1);
        assert_eq!(info["openRegistrations"], true);
    }

    // The actor, at its id and at its profile page, by content negotiation; the page and
    // the API's JSON stay where they were.
    let (s, ctype, actor) = json_of(&app, &actor_id, AS).await;
    assert_eq!(s, 200, "{actor}");
    assert!(ctype.starts_with(AS), "{ctype}");
    assert_eq!(actor["id"], actor_id.as_str());
    assert_eq!(actor["type"], "Person");
    assert_eq!(actor["preferredUsername"], "ann");
    assert_eq!(actor["name"], "Ann Reporter");
    assert!(
        actor["summary"]
            .as_str()
            .unwrap()
            .contains("Covering the election")
    );
    assert_eq!(actor["url"], format!("{}/@ann", app.base));
    for (field, path) in [
        ("inbox", "/inbox"),
        ("outbox", "/outbox"),
        ("followers", "/followers"),
        ("following", "/following"),
        ("featured", "/collections/featured"),
    ] {
        assert_eq!(actor[field], format!("{actor_id}{path}"), "{field}");
    }
    assert_eq!(
        actor["endpoints"]["sharedInbox"],
        format!("{}/inbox", app.base)
    );
    assert_eq!(actor["publicKey"]["id"], format!("{actor_id}#main-key"));
    assert_eq!(actor["publicKey"]["owner"], actor_id.as_str());
    let pem = actor["publicKey"]["publicKeyPem"].as_str().unwrap();
    let key = rsa::RsaPublicKey::from_public_key_pem(pem).expect("an RSA public key in PEM");
    assert_eq!(rsa::traits::PublicKeyParts::size(&key) * 8, 2048);
    let ld = "application/ld+json; profile=\"https://www.w3.org/ns/activitystreams\"";
    let (s, _, again) = json_of(&app, &app.url("/@ann"), ld).await;
    assert_eq!(s, 200);
    assert_eq!(
        again["publicKey"]["publicKeyPem"], pem,
        "one key pair, kept"
    );
    let (_, ctype, _) = get(&app, &app.url("/@ann"), "text/html").await;
    assert!(ctype.starts_with("text/html"));
    let (_, _, api) = json_of(&app, &actor_id, "application/json").await;
    assert_eq!(api["username"], "ann", "the API's account for anyone else");
    let (s, _, _) = get(&app, &app.url("/users/nobody"), AS).await;
    assert_eq!(s, 404);
}

async fn another_server_reads_public_notices_only(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let ann = app.register("ann").await;
    let bob = app.register("bob").await;
    let first = app.post(&ann, "Turnout is high #election").await;
    let reply = app
        .post_with(
            &bob,
            json!({"status": "@ann where? #election", "in_reply_to_id": first["id"], "spoiler_text": "numbers"}),
        )
        .await;
    let (s, _) = app
        .call(
            Method::PUT,
            &format!("/api/v1/statuses/{}", reply["id"].as_str().unwrap()),
            &bob.token,
            Some(json!({"status": "@ann which district? #election", "spoiler_text": "numbers"})),
        )
        .await;
    assert_eq!(s, 200);

    let uri = reply["uri"].as_str().unwrap();
    let (s, ctype, note) = json_of(&app, uri, AS).await;
    assert_eq!(s, 200, "{note}");
    assert!(ctype.starts_with(AS));
    assert_eq!(note["type"], "Note");
    assert_eq!(note["id"], uri);
    assert_eq!(note["url"], reply["url"]);
    assert_eq!(note["attributedTo"], format!("{}/users/bob", app.base));
    assert_eq!(note["inReplyTo"], first["uri"]);
    assert_eq!(note["summary"], "numbers");
    assert!(note["content"].as_str().unwrap().contains("which district"));
    assert!(note["updated"].is_string(), "an edit shows as updated");
    assert_eq!(
        note["to"],
        json!(["https://www.w3.org/ns/activitystreams#Public"])
    );
    let cc = note["cc"].as_array().unwrap();
    assert!(cc.contains(&json!(format!("{}/users/bob/followers", app.base))));
    assert!(
        cc.contains(&json!(format!("{}/users/ann", app.base))),
        "{cc:?}"
    );
    let tags = note["tag"].as_array().unwrap();
    assert!(
        tags.iter()
            .any(|t| t["type"] == "Hashtag" && t["name"] == "#election")
    );
    assert!(
        tags.iter()
            .any(|t| t["type"] == "Mention" && t["href"] == format!("{}/users/ann", app.base))
    );
    // The same at the notice's page address.
    let (s, _, same) = json_of(&app, reply["url"].as_str().unwrap(), AS).await;
    assert_eq!(s, 200);
    assert_eq!(same["id"], uri);

    // Followers-only and direct notices are not for an unsigned fetch; a deleted notice
    // is gone; a notice asked for under another author's name is not found.
    for visibility in ["private", "direct"] {
        let hidden = app
            .post_with(
                &ann,
                json!({"status": format!("{visibility} @bob"), "visibility": visibility}),
            )
            .await;
        let (s, _, _) = get(&app, hidden["uri"].as_str().unwrap(), AS).await;
        assert_eq!(s, 404, "{visibility}");
    }
    let wrong = first["uri"]
        .as_str()
        .unwrap()
        .replace("/users/ann/", "/users/bob/");
    let (s, _, _) = get(&app, &wrong, AS).await;
    assert_eq!(s, 404);
    let (s, _) = app
        .call(
            Method::DELETE,
            &format!("/api/v1/statuses/{}", first["id"].as_str().unwrap()),
            &ann.token,
            None,
        )
        .await;
    assert_eq!(s, 200);
    let (s, _, _) = get(&app, first["uri"].as_str().unwrap(), AS).await;
    assert_eq!(s, 404);

    // Collections: bob's outbox pages his public notice as a Create; ann's holds neither
    // her deleted notice nor her followers-only and direct ones; her pin is featured.
    let pinned = app.post(&ann, "Pinned: how to read the results").await;
    let (s, _) = app
        .call(
            Method::POST,
            &format!("/api/v1/statuses/{}/pin", pinned["id"].as_str().unwrap()),
            &ann.token,
            None,
        )
        .await;
    assert_eq!(s, 200);
    let outbox = format!("{}/users/bob/outbox", app.base);
    let (s, _, c) = json_of(&app, &outbox, AS).await;
    assert_eq!(s, 200);
    assert_eq!(c["type"], "OrderedCollection");
    assert_eq!(c["totalItems"], 1);
    let (_, _, page) = json_of(&app, c["first"].as_str().unwrap(), AS).await;
    assert_eq!(page["type"], "OrderedCollectionPage");
    assert_eq!(page["orderedItems"][0]["type"], "Create");
    assert_eq!(page["orderedItems"][0]["object"]["id"], uri);
    let (_, _, page) = json_of(
        &app,
        &format!("{}/users/ann/outbox?page=true", app.base),
        AS,
    )
    .await;
    let shown: Vec<&str> = page["orderedItems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["object"]["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        shown,
        [pinned["uri"].as_str().unwrap()],
        "only what anyone may read, as it is now"
    );
    let (_, _, featured) = json_of(
        &app,
        &format!("{}/users/ann/collections/featured", app.base),
        AS,
    )
    .await;
    assert_eq!(featured["orderedItems"][0]["id"], pinned["uri"]);
    let (_, _, followers) = json_of(&app, &format!("{}/users/ann/followers", app.base), AS).await;
    assert_eq!(followers["totalItems"], 0);
    let (s, _, _) = get(&app, &format!("{}/users/nobody/outbox", app.base), AS).await;
    assert_eq!(s, 404);
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// Another server, as far as our inbox needs one: it publishes actor `mallory` (with the
/// key `pair`) and `eve` (whose key we never see), and keeps what its inbox receives.
/// This is a stand-in for the bad-input matrix only; the real peer is Fedify
/// (fedify_stories).
struct Peer {
    base: String,
    pair: tidings::store::KeyPair,
    received: Arc<Mutex<Vec<(axum::http::HeaderMap, String)>>>,
    /// While set, the inbox answers 503 (a server that is down), counting the attempts.
    down: Arc<std::sync::atomic::AtomicBool>,
    refused: Arc<std::sync::atomic::AtomicUsize>,
}

async fn peer() -> Peer {
    use axum::routing::{get, post};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let pair = keys::generate().unwrap();
    let received = Arc::new(Mutex::new(Vec::new()));
    let actor = |name: &str, pem: &str| {
        json!({
            "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
            "id": format!("{base}/users/{name}"),
            "type": "Person",
            "preferredUsername": name,
            "inbox": format!("{base}/users/{name}/inbox"),
            "publicKey": {"id": format!("{base}/users/{name}#main-key"), "owner": format!("{base}/users/{name}"), "publicKeyPem": pem},
        })
    };
    let other = keys::generate().unwrap();
    let (mallory, eve) = (
        actor("mallory", &pair.public_pem),
        actor("eve", &other.public_pem),
    );
    let kept = received.clone();
    let down = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let refused = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let (is_down, count) = (down.clone(), refused.clone());
    let app = axum::Router::new()
        .route(
            "/users/mallory",
            get(move || async move { activity_json(mallory) }),
        )
        .route("/users/eve", get(move || async move { activity_json(eve) }))
        .route(
            "/users/mallory/inbox",
            post(move |h: axum::http::HeaderMap, body: String| async move {
                use std::sync::atomic::Ordering;
                if is_down.load(Ordering::SeqCst) {
                    count.fetch_add(1, Ordering::SeqCst);
                    return axum::http::StatusCode::SERVICE_UNAVAILABLE;
                }
                kept.lock().unwrap().push((h, body));
                axum::http::StatusCode::ACCEPTED
            }),
        );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Peer {
        base,
        pair,
        received,
        down,
        refused,
    }
}

impl Peer {
    /// The ids of the activities received, of `kind`.
    fn ids(&self, kind: &str) -> Vec<String> {
        self.received
            .lock()
            .unwrap()
            .iter()
            .map(|(_, b)| serde_json::from_str::<Value>(b).unwrap())
            .filter(|v| v["type"] == kind)
            .map(|v| v["id"].as_str().unwrap().to_string())
            .collect()
    }

    /// Wait until `n` activities of `kind` arrived (or 20 s), then a moment more for any
    /// that should not come.
    async fn wait_for(&self, kind: &str, n: usize) -> Vec<String> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while self.ids(kind).len() < n && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        tokio::time::sleep(Duration::from_millis(1500)).await;
        self.ids(kind)
    }

    /// mallory follows `who` on `app`.
    async fn follow(&self, app: &common::TestApp, who: &str, n: u32) {
        let mallory = format!("{}/users/mallory", self.base);
        let follow = json!({
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": format!("{}/follows/{n}", self.base),
            "type": "Follow",
            "actor": mallory,
            "object": format!("{}/users/{who}", app.base),
        })
        .to_string();
        let inbox = format!("{}/users/{who}/inbox", app.base);
        let (s, body) = deliver(
            &inbox,
            &follow,
            &format!("{mallory}#main-key"),
            &self.pair.private_pem,
            SystemTime::now(),
            None,
        )
        .await;
        assert_eq!(s, 202, "{body}");
        self.wait_for("Accept", 1).await;
    }
}

/// Each id once: nothing was delivered twice.
fn once_each(ids: &[String]) {
    let mut seen = std::collections::HashSet::new();
    for id in ids {
        assert!(seen.insert(id), "{id} was delivered twice: {ids:?}");
    }
}

/// A document served as ActivityStreams (what servers read others' actors as).
fn activity_json(v: Value) -> axum::response::Response {
    use axum::response::IntoResponse;
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "application/activity+json",
        )],
        v.to_string(),
    )
        .into_response()
}

/// POST `body` to `inbox`, signed by `key_id` with `pem` at time `at`; `tamper` changes
/// the body after signing.
async fn deliver(
    inbox: &str,
    body: &str,
    key_id: &str,
    pem: &str,
    at: SystemTime,
    tamper: Option<&str>,
) -> (u16, String) {
    let url = reqwest::Url::parse(inbox).unwrap();
    let signed = signature::sign("POST", &url, Some(body.as_bytes()), key_id, pem, at).unwrap();
    let mut req = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/activity+json")
        .body(tamper.unwrap_or(body).to_string());
    for (k, v) in signed {
        req = req.header(k, v);
    }
    let res = req.send().await.unwrap();
    (res.status().as_u16(), res.text().await.unwrap())
}

async fn the_inbox_takes_only_signed_activities_of_their_actors(b: Backend) {
    let Some(app) = spawn_with(b, |c| c.federation_allow_private = true).await else {
        return;
    };
    let ann = app.register("ann").await;
    let p = peer().await;
    let inbox = format!("{}/users/ann/inbox", app.base);
    let mallory = format!("{}/users/mallory", p.base);
    let key_id = format!("{mallory}#main-key");
    let ann_uri = format!("{}/users/ann", app.base);
    let follow = |n: u32| {
        json!({
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": format!("{}/follows/{n}", p.base),
            "type": "Follow",
            "actor": mallory,
            "object": ann_uri,
        })
        .to_string()
    };
    let now = SystemTime::now();
    let refused = |(s, body): (u16, String), want: u16, what: &str| {
        assert_eq!(s, want, "{what}: {body}");
        assert!(body.contains("\"error\""), "{what}: {body}");
    };

    // Unsigned; a signature header that is not one.
    let res = reqwest::Client::new()
        .post(&inbox)
        .body(follow(1))
        .send()
        .await
        .unwrap();
    refused(
        (res.status().as_u16(), res.text().await.unwrap()),
        401,
        "unsigned",
    );
    let res = reqwest::Client::new()
        .post(&inbox)
        .header("signature", "keyId=\"x\"")
        .body(follow(1))
        .send()
        .await
        .unwrap();
    refused(
        (res.status().as_u16(), res.text().await.unwrap()),
        401,
        "malformed",
    );
    // Signed with a key that is not the one the actor publishes.
    let stranger = keys::generate().unwrap();
    refused(
        deliver(
            &inbox,
            &follow(1),
            &key_id,
            &stranger.private_pem,
            now,
            None,
        )
        .await,
        401,
        "wrong key",
    );
    // Changed after signing.
    let tampered = follow(1).replace("Follow", "Block");
    refused(
        deliver(
            &inbox,
            &follow(1),
            &key_id,
            &p.pair.private_pem,
            now,
            Some(&tampered),
        )
        .await,
        401,
        "tampered",
    );
    // Too old.
    let stale = now - Duration::from_secs(13 * 3600);
    refused(
        deliver(
            &inbox,
            &follow(1),
            &key_id,
            &p.pair.private_pem,
            stale,
            None,
        )
        .await,
        401,
        "stale",
    );
    // Signed by mallory, but in eve's name.
    let as_eve = follow(1).replace("/users/mallory", "/users/eve");
    refused(
        deliver(&inbox, &as_eve, &key_id, &p.pair.private_pem, now, None).await,
        401,
        "not the actor's key",
    );
    // An activity id on another server.
    let foreign = follow(1).replace(
        &format!("{}/follows/1", p.base),
        "https://elsewhere.example/follows/1",
    );
    refused(
        deliver(&inbox, &foreign, &key_id, &p.pair.private_pem, now, None).await,
        400,
        "foreign id",
    );
    // Not JSON; nested too deep; too large.
    refused(
        deliver(&inbox, "{not json", &key_id, &p.pair.private_pem, now, None).await,
        400,
        "malformed JSON",
    );
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    refused(
        deliver(&inbox, &deep, &key_id, &p.pair.private_pem, now, None).await,
        400,
        "deep",
    );
    let huge = format!("{{\"x\": \"{}\"}}", "a".repeat(1_100_000));
    let (s, _) = deliver(&inbox, &huge, &key_id, &p.pair.private_pem, now, None).await;
    assert_eq!(s, 413, "huge");
    // Signed for another server (and replayed here); a key on another server than the
    // actor's.
    let elsewhere = reqwest::Url::parse("http://other.example/users/ann/inbox").unwrap();
    let body = follow(1);
    let mut req = reqwest::Client::new().post(&inbox).body(body.clone());
    for (k, v) in signature::sign(
        "POST",
        &elsewhere,
        Some(body.as_bytes()),
        &key_id,
        &p.pair.private_pem,
        now,
    )
    .unwrap()
    {
        req = req.header(k, v);
    }
    let res = req.send().await.unwrap();
    refused(
        (res.status().as_u16(), res.text().await.unwrap()),
        401,
        "signed for another host",
    );
    refused(
        deliver(
            &inbox,
            &follow(1),
            "http://127.0.0.2:1/users/mallory#main-key",
            &p.pair.private_pem,
            now,
            None,
        )
        .await,
        401,
        "a key on another server",
    );
    // None of that was taken.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        p.received.lock().unwrap().is_empty(),
        "nothing was accepted"
    );

    // A good Follow: 202, and one Accept comes back, signed with ann's key; the same
    // activity again changes nothing.
    let (s, body) = deliver(&inbox, &follow(2), &key_id, &p.pair.private_pem, now, None).await;
    assert_eq!(s, 202, "{body}");
    let (s, _) = deliver(&inbox, &follow(2), &key_id, &p.pair.private_pem, now, None).await;
    assert_eq!(s, 202, "a replay is acknowledged");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while p.received.lock().unwrap().is_empty() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let got = p.received.lock().unwrap().clone();
    assert_eq!(got.len(), 1, "one Accept, not two: {got:?}");
    let (headers, body) = &got[0];
    let accept: Value = serde_json::from_str(body).unwrap();
    assert_eq!(accept["type"], "Accept");
    assert_eq!(accept["actor"], ann_uri.as_str());
    assert_eq!(accept["object"]["id"], format!("{}/follows/2", p.base));
    // Its signature verifies with the key ann's actor document publishes.
    let (_, _, actor) = json_of(&app, &ann_uri, AS).await;
    let sig = signature::parse(headers["signature"].to_str().unwrap()).unwrap();
    assert_eq!(sig.key_id, format!("{ann_uri}#main-key"));
    let header = |n: &str| -> Option<String> {
        if n == "host" {
            return Some(p.base.trim_start_matches("http://").to_string());
        }
        headers.get(n).map(|v| v.to_str().unwrap().to_string())
    };
    let req = signature::Request {
        method: "POST",
        target: "/users/mallory/inbox",
        header: &header,
        body: body.as_bytes(),
    };
    let signing = signature::signing_string(&sig, &req, SystemTime::now()).unwrap();
    signature::verify(
        actor["publicKey"]["publicKeyPem"].as_str().unwrap(),
        &signing,
        &sig.signature,
    )
    .expect("ann's Accept is signed with ann's key");

    // Her notices now go to mallory: Create, Update and Delete, as they are.
    p.received.lock().unwrap().clear();
    let posted = app.post(&ann, "Counting has begun #election").await;
    let id = posted["id"].as_str().unwrap().to_string();
    let (s, _) = app
        .call(
            Method::PUT,
            &format!("/api/v1/statuses/{id}"),
            &ann.token,
            Some(json!({"status": "Counting began at 8 #election"})),
        )
        .await;
    assert_eq!(s, 200);
    let (s, _) = app
        .call(
            Method::DELETE,
            &format!("/api/v1/statuses/{id}"),
            &ann.token,
            None,
        )
        .await;
    assert_eq!(s, 200);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let kinds: Vec<String> = p
            .received
            .lock()
            .unwrap()
            .iter()
            .map(|(_, b)| {
                serde_json::from_str::<Value>(b).unwrap()["type"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
        if kinds.contains(&"Delete".to_string()) || tokio::time::Instant::now() > deadline {
            assert!(kinds.contains(&"Delete".to_string()), "{kinds:?}");
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let got = p.received.lock().unwrap().clone();
    let delete: Value = serde_json::from_str(
        &got.iter()
            .find(|(_, b)| b.contains("\"Delete\""))
            .unwrap()
            .1,
    )
    .unwrap();
    assert_eq!(delete["object"]["id"], posted["uri"]);
    // A Create or Update rendered after the deletion is not sent with the old text.
    for (_, b) in &got {
        let v: Value = serde_json::from_str(b).unwrap();
        if v["type"] == "Create" || v["type"] == "Update" {
            assert_eq!(v["object"]["id"], posted["uri"]);
        }
    }

    // The Accept carries the Follow as understood, not all it said.
    assert_eq!(accept["object"]["actor"], mallory.as_str());
    assert_eq!(accept["object"]["object"], ann_uri.as_str());

    // Undo the follow: nothing more goes to mallory.
    let undo = json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": format!("{}/follows/2/undo", p.base),
        "type": "Undo",
        "actor": mallory,
        "object": serde_json::from_str::<Value>(&follow(2)).unwrap(),
    })
    .to_string();
    let (s, _) = deliver(&inbox, &undo, &key_id, &p.pair.private_pem, now, None).await;
    assert_eq!(s, 202);
    p.received.lock().unwrap().clear();
    app.post(&ann, "Not for mallory #election").await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(p.received.lock().unwrap().is_empty());

    // Mallory's notes: one that mentions ann is kept (sanitised) and she is told; one
    // attributed to someone else, one whose id is on another server, and one of 100 KB
    // are refused, and none of them is kept.
    let note = |n: u32, attributed: &str, id: String, content: String| {
        json!({
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": format!("{}/creates/{n}", p.base),
            "type": "Create",
            "actor": mallory,
            "to": [ann_uri],
            "object": {
                "id": id, "type": "Note", "attributedTo": attributed,
                "to": ["https://www.w3.org/ns/activitystreams#Public"],
                "content": content,
                "tag": [{"type": "Mention", "href": ann_uri, "name": "@ann"}],
            },
        })
        .to_string()
    };
    let mentions = || async {
        let (_, n) = app
            .get_json("/api/v1/notifications?types[]=mention", Some(&ann.token))
            .await;
        n.as_array().unwrap().clone()
    };
    for (n, attributed, id, content, want, what) in [
        (
            1,
            format!("{}/users/eve", p.base),
            format!("{}/notes/1", p.base),
            "<p>hi</p>".to_string(),
            400,
            "attributed to another actor",
        ),
        (
            2,
            mallory.clone(),
            "http://127.0.0.2:1/notes/2".to_string(),
            "<p>hi</p>".to_string(),
            400,
            "an id on another server",
        ),
        (
            3,
            mallory.clone(),
            format!("{}/notes/3", p.base),
            format!("<p>{}</p>", "x".repeat(100_000)),
            400,
            "100 KB of content",
        ),
    ] {
        let (s, body) = deliver(
            &format!("{}/inbox", app.base),
            &note(n, &attributed, id, content),
            &key_id,
            &p.pair.private_pem,
            now,
            None,
        )
        .await;
        assert_eq!(s, want, "{what}: {body}");
        assert!(body.contains("\"error\""), "{what}: {body}");
    }
    assert!(mentions().await.is_empty(), "nothing refused was kept");
    let (s, body) = deliver(
        &format!("{}/inbox", app.base),
        &note(
            4,
            &mallory,
            format!("{}/notes/4", p.base),
            "<p>Hello <script>alert(1)</script><a href=\"javascript:x()\">@ann</a></p>".into(),
        ),
        &key_id,
        &p.pair.private_pem,
        now,
        None,
    )
    .await;
    assert_eq!(s, 202, "{body}");
    let told = mentions().await;
    assert_eq!(told.len(), 1, "{told:?}");
    let content = told[0]["status"]["content"].as_str().unwrap();
    assert!(content.contains("Hello"), "{content}");
    assert!(
        !content.contains("script") && !content.contains("javascript"),
        "{content}"
    );
    assert_eq!(
        told[0]["account"]["acct"],
        format!("mallory@{}", p.base.trim_start_matches("http://"))
    );

    // A locked account's approval is needed: no Accept, and her notices do not go out.
    let (s, _) = app
        .call(
            Method::PATCH,
            "/api/v1/accounts/update_credentials",
            &ann.token,
            Some(json!({"locked": true})),
        )
        .await;
    assert_eq!(s, 200);
    p.received.lock().unwrap().clear();
    let (s, _) = deliver(&inbox, &follow(4), &key_id, &p.pair.private_pem, now, None).await;
    assert_eq!(s, 202);
    app.post(&ann, "Only for approved followers #election")
        .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        p.received.lock().unwrap().is_empty(),
        "a locked account accepts no one by herself"
    );
    // She sees the request, as a local one; her approval sends the Accept (of that
    // Follow), and from then on her notices go to mallory.
    let (_, asks) = app
        .get_json("/api/v1/follow_requests", Some(&ann.token))
        .await;
    let host = p.base.trim_start_matches("http://");
    assert_eq!(asks[0]["acct"], format!("mallory@{host}"), "{asks}");
    let (s, rel) = app
        .call(
            Method::POST,
            &format!(
                "/api/v1/follow_requests/{}/authorize",
                asks[0]["id"].as_str().unwrap()
            ),
            &ann.token,
            None,
        )
        .await;
    assert_eq!(s, 200, "{rel}");
    let (_, asks) = app
        .get_json("/api/v1/follow_requests", Some(&ann.token))
        .await;
    assert_eq!(asks, json!([]));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let accepted = loop {
        let got = p.received.lock().unwrap().clone();
        if let Some((_, b)) = got.iter().find(|(_, b)| b.contains("\"Accept\"")) {
            break serde_json::from_str::<Value>(b).unwrap();
        }
        assert!(tokio::time::Instant::now() < deadline, "no Accept: {got:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(accepted["object"]["id"], format!("{}/follows/4", p.base));
    let approved = app.post(&ann, "For approved followers #election").await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !p
        .received
        .lock()
        .unwrap()
        .iter()
        .any(|(_, b)| b.contains(approved["uri"].as_str().unwrap()))
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "her notice did not go"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // A blocked domain is refused before anything is fetched.
    let Some(closed) = spawn_with(b, |c| {
        c.federation_allow_private = true;
        c.blocked_domains = vec!["127.0.0.1".into()];
    })
    .await
    else {
        return;
    };
    closed.register("ann").await;
    let (s, body) = deliver(
        &format!("{}/users/ann/inbox", closed.base),
        &follow(3),
        &key_id,
        &p.pair.private_pem,
        now,
        None,
    )
    .await;
    assert_eq!(s, 403, "{body}");
}

async fn deliveries_outlast_a_dead_peer_and_a_restart(b: Backend) {
    use std::sync::atomic::Ordering;
    let fast = |c: &mut tidings::config::Config| {
        c.federation_allow_private = true;
        c.delivery_retry_ms = 200;
    };
    let Some(first) = spawn_with(b, fast).await else {
        return;
    };
    let ann = first.register("ann").await;
    let p = peer().await;
    p.follow(&first, "ann", 1).await;

    // The peer goes down; notices wait in the queue and are tried again.
    p.down.store(true, Ordering::SeqCst);
    let mut posted = Vec::new();
    for i in 0..5 {
        posted.push(first.post(&ann, &format!("While they were down {i}")).await);
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while p.refused.load(Ordering::SeqCst) < 6 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        p.refused.load(Ordering::SeqCst) >= 6,
        "tried, and tried again, while down"
    );
    assert!(p.ids("Create").is_empty());

    // Tidings restarts (a new process on the same database) while they are still down;
    // then they come back: every notice arrives, once.
    first.stop();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let second = common::spawn_on(b, &first.database_url, None, fast).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    p.down.store(false, Ordering::SeqCst);
    let ids = p.wait_for("Create", 5).await;
    assert_eq!(ids.len(), 5, "{ids:?}");
    once_each(&ids);
    // (The restarted node listens on another port, so its links name another base.)
    for s in &posted {
        let tail = format!("/statuses/{}/activity", s["id"].as_str().unwrap());
        assert!(ids.iter().any(|i| i.ends_with(&tail)), "{tail} in {ids:?}");
    }
    let metrics = second
        .http
        .get(second.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("federation_delivery_queue 0"), "{metrics}");

    // Two nodes on one Postgres database share the queue: each notice goes out once.
    if b == Backend::Postgres {
        let third = common::spawn_on(b, &first.database_url, None, fast).await;
        p.received.lock().unwrap().clear();
        let mut want = Vec::new();
        for i in 0..20 {
            let node = if i % 2 == 0 { &second } else { &third };
            let s = node.post(&ann, &format!("From node {} #{i}", i % 2)).await;
            want.push(format!("{}/activity", s["uri"].as_str().unwrap()));
        }
        let ids = p.wait_for("Create", 20).await;
        once_each(&ids);
        assert_eq!(ids.len(), 20, "{ids:?}");
        for w in &want {
            assert!(ids.contains(w), "{w} missing");
        }
    }
}
