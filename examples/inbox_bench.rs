//! Benchmark of the federation push endpoint: signed activities accepted per second.
//!
//! Serves the actor documents of `--actors` remote actors (each with its own RSA-2048
//! key) on a loopback port, then POSTs signed `Create{Note}` activities (each a new id)
//! from them to `{url}/inbox` with `--concurrency` requests in flight, for `--seconds`.
//! The server under test must run with `TIDINGS_FEDERATION_ALLOW_PRIVATE=true` (the actors
//! are on loopback). Every activity is checked in full — digest, date, key fetched once
//! per actor and then cached, RSA signature, actor, id host — and recorded as seen. With
//! `--mention NAME` each note mentions that local account, so each is kept as a remote
//! notice with its event (the whole write path); without it no one here asked for the
//! notes, and each is read, checked and dropped.
//! Signing happens here, before the clock starts.
//!
//!     cargo run --release --example inbox_bench -- --url http://127.0.0.1:8080 --server-pid PID
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};
use tidings::federation::{keys, signature};

struct Args {
    url: String,
    server_pid: Option<u32>,
    actors: usize,
    concurrency: usize,
    seconds: u64,
    mention: Option<String>,
}

fn args() -> Args {
    let mut a = Args {
        url: "http://127.0.0.1:8080".into(),
        server_pid: None,
        actors: 20,
        concurrency: 32,
        seconds: 10,
        mention: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let v = it.next().unwrap_or_default();
        match k.as_str() {
            "--url" => a.url = v,
            "--server-pid" => a.server_pid = v.parse().ok(),
            "--actors" => a.actors = v.parse().unwrap_or(a.actors),
            "--concurrency" => a.concurrency = v.parse().unwrap_or(a.concurrency),
            "--seconds" => a.seconds = v.parse().unwrap_or(a.seconds),
            "--mention" => a.mention = Some(v),
            other => panic!("unknown argument {other}"),
        }
    }
    a
}

/// CPU seconds (user + system) of a process so far.
fn cpu_of(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|x| x.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64
}

#[tokio::main]
async fn main() {
    let a = args();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    eprintln!("making {} keys…", a.actors);
    let pairs: Vec<_> = (0..a.actors).map(|_| keys::generate().unwrap()).collect();
    let docs: Arc<Vec<String>> = Arc::new(
        pairs
            .iter()
            .enumerate()
            .map(|(i, p)| {
                serde_json::json!({
                    "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
                    "id": format!("{base}/users/a{i}"),
                    "type": "Person",
                    "preferredUsername": format!("a{i}"),
                    "inbox": format!("{base}/users/a{i}/inbox"),
                    "publicKey": {"id": format!("{base}/users/a{i}#main-key"), "owner": format!("{base}/users/a{i}"), "publicKeyPem": p.public_pem},
                })
                .to_string()
            })
            .collect(),
    );
    let served = docs.clone();
    let app = axum::Router::new().route(
        "/users/{name}",
        axum::routing::get(
            move |axum::extract::Path(name): axum::extract::Path<String>| {
                let docs = served.clone();
                async move {
                    let i: usize = name.trim_start_matches('a').parse().unwrap_or(usize::MAX);
                    match docs.get(i) {
                        Some(d) => (
                            [(
                                axum::http::header::CONTENT_TYPE,
                                "application/activity+json",
                            )],
                            d.clone(),
                        )
                            .into_response(),
                        None => axum::http::StatusCode::NOT_FOUND.into_response(),
                    }
                }
            },
        ),
    );
    use axum::response::IntoResponse;
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    // Sign enough activities for the run ahead of time (about 3,000/s at most here).
    let inbox = format!("{}/inbox", a.url.trim_end_matches('/'));
    let target = url::Url::parse(&inbox).unwrap();
    let want = (a.seconds as usize * 3_000).max(1_000);
    eprintln!("signing {want} activities…");
    let run = std::process::id();
    let signed: Vec<(String, Vec<(&'static str, String)>)> = (0..want)
        .map(|n| {
            let i = n % a.actors;
            let actor = format!("{base}/users/a{i}");
            let tag = match &a.mention {
                Some(name) => serde_json::json!([{"type": "Mention", "href": format!("{}/users/{name}", a.url)}]),
                None => serde_json::json!([]),
            };
            let body = serde_json::json!({
                "@context": "https://www.w3.org/ns/activitystreams",
                "id": format!("{actor}/activities/{run}-{n}"),
                "type": "Create",
                "actor": actor,
                "to": ["https://www.w3.org/ns/activitystreams#Public"],
                "object": {"id": format!("{actor}/notes/{run}-{n}"), "type": "Note", "attributedTo": actor,
                           "to": ["https://www.w3.org/ns/activitystreams#Public"], "tag": tag,
                           "content": format!("<p>Update {n} from the field</p>")},
            })
            .to_string();
            let headers = signature::sign(
                "POST",
                &target,
                Some(body.as_bytes()),
                &format!("{actor}#main-key"),
                &pairs[i].private_pem,
                SystemTime::now(),
            )
            .unwrap();
            (body, headers)
        })
        .collect();
    let signed = Arc::new(signed);
    let client = reqwest::Client::new();
    // Warm up: each actor's key fetched and cached once.
    for (body, headers) in signed.iter().take(a.actors) {
        let mut req = client.post(&inbox).body(body.clone());
        for (k, v) in headers {
            req = req.header(*k, v);
        }
        let s = req.send().await.unwrap().status();
        assert_eq!(s.as_u16(), 202, "warm-up: {s}");
    }
    let next = Arc::new(AtomicU64::new(a.actors as u64));
    let (ok, bad) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let cpu0 = a.server_pid.map(cpu_of);
    let start = Instant::now();
    let end = start + Duration::from_secs(a.seconds);
    let mut tasks = Vec::new();
    for _ in 0..a.concurrency {
        let (client, signed, next, ok, bad, inbox) = (
            client.clone(),
            signed.clone(),
            next.clone(),
            ok.clone(),
            bad.clone(),
            inbox.clone(),
        );
        tasks.push(tokio::spawn(async move {
            while Instant::now() < end {
                let n = next.fetch_add(1, Ordering::Relaxed) as usize;
                let Some((body, headers)) = signed.get(n) else {
                    break;
                };
                let mut req = client.post(&inbox).body(body.clone());
                for (k, v) in headers {
                    req = req.header(*k, v);
                }
                match req.send().await {
                    Ok(r) if r.status().as_u16() == 202 => ok.fetch_add(1, Ordering::Relaxed),
                    _ => bad.fetch_add(1, Ordering::Relaxed),
                };
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let wall = start.elapsed().as_secs_f64();
    let done = ok.load(Ordering::Relaxed);
    let cpu = match (a.server_pid, cpu0) {
        (Some(pid), Some(c0)) => format!(
            "; server CPU {:.0} µs per activity",
            (cpu_of(pid) - c0) / done.max(1) as f64 * 1e6
        ),
        _ => String::new(),
    };
    println!(
        "{done} signed activities accepted in {wall:.1} s: {:.0}/s ({} refused){cpu}",
        done as f64 / wall,
        bad.load(Ordering::Relaxed)
    );
}
