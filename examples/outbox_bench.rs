//! Benchmark of federation's outbound path: one notice to 10,000 followers on 500 hosts.
//!
//! Simulates `--hosts` servers on loopback (one port each), sharing `--followers` actors
//! among them. Each actor follows `--username` on the Tidings server under test with a
//! signed `Follow`; the time until all their `Accept`s arrived is the first figure (one
//! delivery per follower, to its own inbox). Then the account posts one notice (with
//! `--token`), and every host's shared inbox must receive its `Create` once: time until
//! all had it, deliveries per second, the server's memory. Then `--down` percent of the
//! hosts answer 503 and a second notice goes out: time until every live host had it, and
//! how often the dead ones were tried meanwhile. Every POST's signature is checked here
//! against the key the account's actor document publishes.
//!
//! The server must run with `TIDINGS_FEDERATION_ALLOW_PRIVATE=true`.
//!
//!     cargo run --release --example outbox_bench -- --url http://127.0.0.1:8081 \
//!         --username reporter --token TOKEN --server-pid PID [--followers 10000 --hosts 500 --down 10]
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime};
use tidings::federation::{keys, signature};

struct Args {
    url: String,
    username: String,
    token: String,
    server_pid: Option<u32>,
    followers: usize,
    hosts: usize,
    down: usize,
}

fn args() -> Args {
    let mut a = Args {
        url: "http://127.0.0.1:8081".into(),
        username: "reporter".into(),
        token: String::new(),
        server_pid: None,
        followers: 10_000,
        hosts: 500,
        down: 10,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let v = it.next().unwrap_or_default();
        match k.as_str() {
            "--url" => a.url = v.trim_end_matches('/').to_string(),
            "--username" => a.username = v,
            "--token" => a.token = v,
            "--server-pid" => a.server_pid = v.parse().ok(),
            "--followers" => a.followers = v.parse().unwrap_or(a.followers),
            "--hosts" => a.hosts = v.parse().unwrap_or(a.hosts),
            "--down" => a.down = v.parse().unwrap_or(a.down),
            other => panic!("unknown argument {other}"),
        }
    }
    a
}

/// One simulated server.
struct Host {
    base: String,
    down: AtomicBool,
    /// Activity ids its inboxes took (checked), and POSTs refused while down.
    took: std::sync::Mutex<Vec<String>>,
    refused_while_down: AtomicUsize,
}

struct Shared {
    public_pem: tokio::sync::OnceCell<String>,
    actor_of_key: String,
    bad_signatures: AtomicU64,
    pem_of_followers: String,
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .unwrap_or(0)
}

async fn inbox(
    State((host, shared)): State<(Arc<Host>, Arc<Shared>)>,
    headers: HeaderMap,
    uri: axum::http::Uri,
    body: String,
) -> StatusCode {
    if host.down.load(Ordering::Relaxed) {
        host.refused_while_down.fetch_add(1, Ordering::Relaxed);
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    let pem = shared
        .public_pem
        .get_or_init(|| async {
            let doc: serde_json::Value = reqwest::Client::new()
                .get(&shared.actor_of_key)
                .header("accept", "application/activity+json")
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            doc["publicKey"]["publicKeyPem"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .await;
    let header = |n: &str| -> Option<String> {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let ok = signature::parse(&header("signature").unwrap_or_default())
        .and_then(|sig| {
            let req = signature::Request {
                method: "POST",
                target: uri.path(),
                header: &header,
                body: body.as_bytes(),
            };
            let s = signature::signing_string(&sig, &req, SystemTime::now())?;
            signature::verify(pem, &s, &sig.signature)
        })
        .is_ok();
    if !ok {
        shared.bad_signatures.fetch_add(1, Ordering::Relaxed);
        return StatusCode::UNAUTHORIZED;
    }
    let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
    let kind = v["type"].as_str().unwrap_or("");
    host.took
        .lock()
        .unwrap()
        .push(format!("{kind} {}", v["id"].as_str().unwrap_or("")));
    StatusCode::ACCEPTED
}

async fn actor(
    State((host, shared)): State<(Arc<Host>, Arc<Shared>)>,
    Path(name): Path<String>,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let id = format!("{}/users/{name}", host.base);
    let doc = serde_json::json!({
        "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
        "id": id,
        "type": "Person",
        "preferredUsername": name,
        "inbox": format!("{id}/inbox"),
        "endpoints": {"sharedInbox": format!("{}/inbox", host.base)},
        "publicKey": {"id": format!("{id}#main-key"), "owner": id, "publicKeyPem": shared.pem_of_followers},
    });
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "application/activity+json",
        )],
        doc.to_string(),
    )
        .into_response()
}

fn count(hosts: &[Arc<Host>], what: &str) -> usize {
    hosts
        .iter()
        .map(|h| {
            h.took
                .lock()
                .unwrap()
                .iter()
                .filter(|t| t.starts_with(what))
                .count()
        })
        .sum()
}

async fn wait_until(
    hosts: &[Arc<Host>],
    what: &str,
    want: usize,
    limit: Duration,
) -> Option<Duration> {
    let t0 = Instant::now();
    while t0.elapsed() < limit {
        if count(hosts, what) >= want {
            return Some(t0.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    None
}

#[tokio::main]
async fn main() {
    let a = args();
    let pair = keys::generate().unwrap();
    let shared = Arc::new(Shared {
        public_pem: tokio::sync::OnceCell::new(),
        actor_of_key: format!("{}/users/{}", a.url, a.username),
        bad_signatures: AtomicU64::new(0),
        pem_of_followers: pair.public_pem.clone(),
    });
    let mut hosts = Vec::new();
    for _ in 0..a.hosts {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let host = Arc::new(Host {
            base: format!("http://{}", listener.local_addr().unwrap()),
            down: AtomicBool::new(false),
            took: std::sync::Mutex::new(Vec::new()),
            refused_while_down: AtomicUsize::new(0),
        });
        let app = axum::Router::new()
            .route("/users/{name}", get(actor))
            .route("/users/{name}/inbox", post(inbox))
            .route("/inbox", post(inbox))
            .with_state((host.clone(), shared.clone()));
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        hosts.push(host);
    }
    eprintln!("{} hosts up; signing {} follows…", a.hosts, a.followers);
    let target_inbox = format!("{}/users/{}/inbox", a.url, a.username);
    let target = url::Url::parse(&target_inbox).unwrap();
    let object = format!("{}/users/{}", a.url, a.username);
    let follows: Vec<(String, Vec<(&'static str, String)>)> = (0..a.followers)
        .map(|j| {
            let host = &hosts[j % a.hosts];
            let actor = format!("{}/users/f{j}", host.base);
            let body = serde_json::json!({
                "@context": "https://www.w3.org/ns/activitystreams",
                "id": format!("{actor}/follows/{}", std::process::id()),
                "type": "Follow", "actor": actor, "object": object,
            })
            .to_string();
            let h = signature::sign(
                "POST",
                &target,
                Some(body.as_bytes()),
                &format!("{actor}#main-key"),
                &pair.private_pem,
                SystemTime::now(),
            )
            .unwrap();
            (body, h)
        })
        .collect();
    let client = reqwest::Client::new();
    let follows = Arc::new(follows);
    let next = Arc::new(AtomicUsize::new(0));
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..32 {
        let (client, follows, next, inbox) = (
            client.clone(),
            follows.clone(),
            next.clone(),
            target_inbox.clone(),
        );
        tasks.push(tokio::spawn(async move {
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                let Some((body, headers)) = follows.get(n) else {
                    break;
                };
                let mut req = client.post(&inbox).body(body.clone());
                for (k, v) in headers {
                    req = req.header(*k, v);
                }
                let s = req.send().await.unwrap().status();
                assert_eq!(s.as_u16(), 202, "follow {n}: {s}");
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let sent = t0.elapsed();
    let accepted = wait_until(&hosts, "Accept", a.followers, Duration::from_secs(600)).await;
    println!(
        "{} follows taken in {:.1} s ({:.0}/s); all {} Accepts delivered {} after the first follow",
        a.followers,
        sent.as_secs_f64(),
        a.followers as f64 / sent.as_secs_f64(),
        a.followers,
        match accepted {
            Some(_) => format!("{:.1} s", t0.elapsed().as_secs_f64()),
            None => format!("NOT ALL ({} of them)", count(&hosts, "Accept")),
        }
    );

    let post = |text: String| {
        let (client, url, token) = (client.clone(), a.url.clone(), a.token.clone());
        async move {
            let r = client
                .post(format!("{url}/api/v1/statuses"))
                .bearer_auth(token)
                .form(&[("status", text)])
                .send()
                .await
                .unwrap();
            assert!(r.status().is_success(), "post: {}", r.status());
        }
    };
    let rss0 = a.server_pid.map(rss_kib);
    let t1 = Instant::now();
    post("Polls are open across the region #election".into()).await;
    let all = wait_until(&hosts, "Create", a.hosts, Duration::from_secs(300)).await;
    let rss1 = a.server_pid.map(rss_kib);
    match all {
        Some(d) => println!(
            "one notice to {} followers on {} hosts: all {} shared inboxes had it in {:.0} ms ({:.0} deliveries/s); server RSS {} → {} KiB",
            a.followers,
            a.hosts,
            a.hosts,
            d.as_secs_f64() * 1000.0,
            a.hosts as f64 / d.as_secs_f64(),
            rss0.unwrap_or(0),
            rss1.unwrap_or(0)
        ),
        None => println!(
            "NOT ALL hosts got the notice ({} of {}) in {:.0} s",
            count(&hosts, "Create"),
            a.hosts,
            t1.elapsed().as_secs_f64()
        ),
    }

    // Some hosts are down: the others are not held up.
    let down = a.hosts * a.down / 100;
    for h in hosts.iter().take(down) {
        h.down.store(true, Ordering::Relaxed);
    }
    let t2 = Instant::now();
    post("Turnout passes 40% #election".into()).await;
    let live = &hosts[down..];
    let got = wait_until(live, "Create", live.len() * 2, Duration::from_secs(300)).await;
    let dead_tries: usize = hosts
        .iter()
        .take(down)
        .map(|h| h.refused_while_down.load(Ordering::Relaxed))
        .sum();
    match got {
        Some(d) => println!(
            "with {down} of {} hosts down: the {} live ones had it in {:.0} ms; the dead ones were tried {dead_tries} times meanwhile",
            a.hosts,
            live.len(),
            d.as_secs_f64() * 1000.0
        ),
        None => println!(
            "NOT ALL live hosts got the second notice in {:.0} s",
            t2.elapsed().as_secs_f64()
        ),
    }
    let dupes: usize = hosts
        .iter()
        .map(|h| {
            let t = h.took.lock().unwrap();
            let mut s = t.clone();
            s.sort();
            s.dedup();
            t.len() - s.len()
        })
        .sum();
    println!(
        "duplicates: {dupes}; bad signatures: {}",
        shared.bad_signatures.load(Ordering::Relaxed)
    );
}
