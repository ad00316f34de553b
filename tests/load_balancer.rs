//! Stories of a deployment as `deploy/` describes it: a real nginx (Debian's
//! `nginx-light`, configured from `deploy/nginx/test.conf.template`) in front of three
//! node processes on Postgres and Redis, and a real Prometheus scraping a node with the
//! rules of `deploy/prometheus/`.
//!
//! Under `CI=true` a missing nginx or Prometheus is a failure; elsewhere the story says
//! loudly that it did not run.

mod common;

use common::redis::{self, RedisServer};
use common::{STARTUP, eventually};
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

/// A tool the story needs, or `None` (loudly; a failure under `CI=true`).
fn tool(path: &str, package: &str) -> Option<String> {
    if Path::new(path).exists() {
        return Some(path.to_string());
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("CI=true but {path} is missing (Debian package {package})");
    }
    eprintln!(
        "\n*** SKIPPED: {path} is missing (Debian package {package}), so this story did not run ***\n"
    );
    None
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Child processes stopped when the story ends, however it ends: asked with SIGTERM
/// first (nginx's master then stops its workers, which SIGKILL would orphan), killed
/// if still there after two seconds.
#[derive(Default)]
struct Processes(Vec<Child>);

impl Drop for Processes {
    fn drop(&mut self) {
        for c in &mut self.0 {
            if let Ok(None) = c.try_wait() {
                // SAFETY: kill(2) on a child of ours that has not been reaped.
                unsafe { libc::kill(c.id() as libc::pid_t, libc::SIGTERM) };
            }
        }
        for c in &mut self.0 {
            for _ in 0..40 {
                if !matches!(c.try_wait(), Ok(None)) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn signal(child: &Child, sig: libc::c_int) {
    // SAFETY: kill(2) with the pid of a child we started and have not reaped.
    let r = unsafe { libc::kill(child.id() as libc::pid_t, sig) };
    assert_eq!(r, 0, "signal {sig} to {}", child.id());
}

/// A node process of the deployment, its output kept in `dir` for a failing run.
fn start_node(
    dir: &Path,
    n: usize,
    port: u16,
    db: &str,
    redis: &str,
    prefix: &str,
    public: &str,
) -> Child {
    let log = std::fs::File::create(dir.join(format!("node-{n}.log"))).unwrap();
    Command::new(env!("CARGO_BIN_EXE_tidings"))
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .env("DATABASE_URL", db)
        .env("REDIS_URL", redis)
        .env("TIDINGS_REDIS_PREFIX", prefix)
        .env("TIDINGS_PUBLIC_URL", public)
        .env("TIDINGS_TRUSTED_PROXIES", "127.0.0.1")
        .env("TIDINGS_API_REQUESTS_PER_TOKEN", "0")
        .env("TIDINGS_API_REQUESTS_PER_IP", LIMIT_PER_IP.to_string())
        .env("TIDINGS_SIGN_UPS_PER_IP", "1000")
        .env("TIDINGS_APPS_PER_IP", "1000")
        .env("TIDINGS_STATUSES_PER_ACCOUNT", "0")
        .env("TIDINGS_STREAMS_PER_IP_PER_SECOND", "0")
        .env("TIDINGS_MAX_STREAMS_PER_ACCOUNT", "10000")
        .env("RUST_LOG", "info")
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("start a node")
}

/// nginx from the deployment's template, in front of `ports`.
fn start_nginx(nginx: &str, dir: &Path, listen: u16, ports: &[u16]) -> Child {
    let template = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/deploy/nginx/test.conf.template"
    ))
    .unwrap();
    let upstreams: Vec<String> = ports
        .iter()
        .map(|p| format!("server 127.0.0.1:{p} max_fails=3 fail_timeout=10s;"))
        .collect();
    let conf = template
        .replace("@PREFIX@", &dir.display().to_string())
        .replace("@LISTEN@", &format!("127.0.0.1:{listen}"))
        .replace("@UPSTREAMS@", &upstreams.join("\n        "));
    assert!(!conf.contains("@PREFIX@") && !conf.contains("@UPSTREAMS@"));
    let path = dir.join("nginx.conf");
    std::fs::write(&path, conf).unwrap();
    let log = std::fs::File::create(dir.join("nginx.out")).unwrap();
    Command::new(nginx)
        .args([
            "-p",
            &dir.display().to_string(),
            "-c",
            &path.display().to_string(),
        ])
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("start nginx")
}

/// Requests without a token per client address per 5 minutes (the nodes' setting).
const LIMIT_PER_IP: u32 = 30;
const READERS: usize = 300;
const NOTICES: usize = 60;

/// What one reader saw: (position, notice id) of each `update`, in arrival order, and how
/// many times it connected.
#[derive(Default)]
struct Seen {
    updates: Vec<(u64, String)>,
    connects: usize,
}

fn client_from(ip: IpAddr) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(ip)
        .pool_max_idle_per_host(0)
        .build()
        .unwrap()
}

/// One reader through the balancer: WebSocket or SSE on the public stream, from its own
/// source address; whenever its stream ends (a node drained or killed), it connects again
/// through the balancer and resumes from the last position it saw. Runs until `done`
/// holds every notice in `want`.
async fn reader(
    n: usize,
    lb: SocketAddr,
    token: String,
    seen: Arc<Mutex<Seen>>,
    want: Arc<tokio::sync::watch::Sender<Option<Vec<String>>>>,
) {
    let source: IpAddr = format!("127.0.0.{}", 10 + n % 10).parse().unwrap();
    let websocket = n.is_multiple_of(2);
    let http = client_from(source);
    let mut last: Option<u64> = None;
    let complete = |seen: &Seen| -> bool {
        match &*want.borrow() {
            Some(all) => {
                let got: HashSet<&str> = seen.updates.iter().map(|u| u.1.as_str()).collect();
                all.iter().all(|id| got.contains(id.as_str()))
            }
            None => false,
        }
    };
    loop {
        if complete(&seen.lock().unwrap()) {
            return;
        }
        if websocket {
            let socket = tokio::net::TcpSocket::new_v4().unwrap();
            socket.bind(SocketAddr::new(source, 0)).unwrap();
            let Ok(tcp) = socket.connect(lb).await else {
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            };
            let url = format!("ws://{lb}/api/v1/streaming?access_token={token}");
            let Ok((mut ws, _)) = tokio_tungstenite::client_async(url, tcp).await else {
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            };
            let mut sub = json!({"type": "subscribe", "stream": "public"});
            if let Some(p) = last {
                sub["last_event_id"] = json!(p.to_string());
            }
            if ws
                .send(Message::Text(sub.to_string().into()))
                .await
                .is_err()
            {
                continue;
            }
            seen.lock().unwrap().connects += 1;
            loop {
                let frame = tokio::time::timeout(Duration::from_millis(500), ws.next()).await;
                match frame {
                    Ok(Some(Ok(Message::Text(t)))) => {
                        let v: Value = serde_json::from_str(&t).unwrap();
                        if v["event"] == "update" {
                            let pos: u64 = v["id"].as_str().unwrap().parse().unwrap();
                            let status: Value =
                                serde_json::from_str(v["payload"].as_str().unwrap()).unwrap();
                            last = Some(pos);
                            seen.lock()
                                .unwrap()
                                .updates
                                .push((pos, status["id"].as_str().unwrap().to_string()));
                        } else if let Some(p) = v["id"].as_str().and_then(|p| p.parse().ok()) {
                            last = Some(p);
                        }
                    }
                    Ok(Some(Ok(_))) => {}
                    Ok(Some(Err(_))) | Ok(None) => break,
                    Err(_) => {
                        if complete(&seen.lock().unwrap()) {
                            return;
                        }
                    }
                }
            }
        } else {
            let mut req = http
                .get(format!("http://{lb}/api/v1/streaming/public"))
                .bearer_auth(&token);
            if let Some(p) = last {
                req = req.header("Last-Event-ID", p.to_string());
            }
            let res = match req.send().await {
                Ok(r) if r.status() == 200 => r,
                _ => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            seen.lock().unwrap().connects += 1;
            let mut body = Box::pin(res.bytes_stream());
            let mut buf = String::new();
            loop {
                match tokio::time::timeout(Duration::from_millis(500), body.next()).await {
                    Ok(Some(Ok(chunk))) => {
                        buf.push_str(std::str::from_utf8(&chunk).unwrap());
                        while let Some(i) = buf.find("\n\n") {
                            let block: String = buf.drain(..i + 2).collect();
                            let (mut event, mut data, mut id) = ("", String::new(), None);
                            for line in block.lines() {
                                if let Some(v) = line.strip_prefix("event: ") {
                                    event = if v == "update" { "update" } else { "other" };
                                } else if let Some(v) = line.strip_prefix("data: ") {
                                    data.push_str(v);
                                } else if let Some(v) = line.strip_prefix("id: ") {
                                    id = v.parse::<u64>().ok();
                                }
                            }
                            if let Some(p) = id {
                                last = Some(p);
                            }
                            if event == "update" {
                                let status: Value = serde_json::from_str(&data).unwrap();
                                seen.lock().unwrap().updates.push((
                                    id.expect("an update has a position"),
                                    status["id"].as_str().unwrap().to_string(),
                                ));
                            }
                        }
                    }
                    Ok(Some(Err(_))) | Ok(None) => break,
                    Err(_) => {
                        if complete(&seen.lock().unwrap()) {
                            return;
                        }
                    }
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(50 + (n as u64 * 7) % 200)).await;
    }
}

/// Post through the balancer until acknowledged: a failed attempt (its node went away
/// under it) is repeated with the same `Idempotency-Key`, so a notice that was written
/// before the answer was lost is not written twice.
async fn post_through(http: &reqwest::Client, lb: SocketAddr, token: &str, i: usize) -> String {
    let key = format!("lb-story-{i}-{}", rand::random::<u32>());
    for _ in 0..100 {
        let res = http
            .post(format!("http://{lb}/api/v1/statuses"))
            .bearer_auth(token)
            .header("Idempotency-Key", &key)
            .json(&json!({"status": format!("update {i} from the newsroom")}))
            .send()
            .await;
        if let Ok(r) = res
            && r.status() == 200
        {
            let v: Value = r.json().await.unwrap();
            return v["id"].as_str().unwrap().to_string();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("notice {i} was never acknowledged through the balancer");
}

/// The JSON answer to `req`.
async fn json_of(req: reqwest::RequestBuilder) -> Value {
    req.send().await.unwrap().json().await.unwrap()
}

/// The status of a GET of `url`, with `X-Forwarded-For: forged` if given.
async fn status_of(client: &reqwest::Client, url: &str, forged: Option<&str>) -> u16 {
    let mut req = client.get(url);
    if let Some(f) = forged {
        req = req.header("X-Forwarded-For", f);
    }
    req.send().await.unwrap().status().as_u16()
}

async fn answers(http: reqwest::Client, url: String) -> Option<()> {
    let r = http.get(url).send().await.ok()?;
    (r.status() == 200).then_some(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(all(tidings_postgres, tidings_redis)),
    ignore = "needs TIDINGS_TEST_DATABASE_URL and redis-server"
)]
async fn readers_behind_nginx_lose_nothing_when_one_node_is_drained_and_another_killed() {
    let Some(nginx) = tool("/usr/sbin/nginx", "nginx-light") else {
        return;
    };
    if !redis::available() {
        return;
    }
    let Some(db) = common::fresh_postgres_database().await else {
        return;
    };
    let redis = RedisServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let prefix = format!("lb{}", hex::encode(rand::random::<[u8; 4]>()));
    let lb_port = free_port();
    let lb: SocketAddr = format!("127.0.0.1:{lb_port}").parse().unwrap();
    let public = format!("http://{lb}");
    let ports = [free_port(), free_port(), free_port()];
    let mut procs = Processes::default();
    let http = reqwest::Client::new();
    // One after the other, so the first holds the sequencer's lease.
    for (i, port) in ports.iter().enumerate() {
        procs.0.push(start_node(
            dir.path(),
            i + 1,
            *port,
            &db,
            &redis.url(),
            &prefix,
            &public,
        ));
        eventually("a node to be ready", STARTUP, || {
            answers(
                http.clone(),
                format!("http://127.0.0.1:{port}/health/ready"),
            )
        })
        .await;
    }
    procs
        .0
        .push(start_nginx(&nginx, dir.path(), lb_port, &ports));
    eventually("nginx to pass requests", STARTUP, || {
        answers(http.clone(), format!("{public}/health/ready"))
    })
    .await;

    // Accounts, made through the balancer.
    let app = json_of(
        http.post(format!("{public}/api/v1/apps"))
            .json(&json!({"client_name": "lb story", "redirect_uris": "urn:ietf:wg:oauth:2.0:oob", "scopes": "read write"})),
    )
    .await;
    let app_token = json_of(http.post(format!("{public}/oauth/token")).form(&[
        ("grant_type", "client_credentials"),
        ("client_id", app["client_id"].as_str().unwrap()),
        ("client_secret", app["client_secret"].as_str().unwrap()),
        ("scope", "read write"),
    ]))
    .await;
    let mut tokens = Vec::new();
    for name in ["desk", "audience"] {
        let res = http
            .post(format!("{public}/api/v1/accounts"))
            .bearer_auth(app_token["access_token"].as_str().unwrap())
            .json(&json!({"username": name, "password": "correct horse battery", "agreement": true, "locale": "en"}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "sign-up of {name} through nginx");
        let v: Value = res.json().await.unwrap();
        tokens.push(v["access_token"].as_str().unwrap().to_string());
    }
    let (desk, audience) = (tokens[0].clone(), tokens[1].clone());

    // 300 readers, half WebSocket and half SSE, from ten client addresses.
    let want = Arc::new(tokio::sync::watch::channel(None).0);
    let mut seen = Vec::new();
    let mut tasks = Vec::new();
    for n in 0..READERS {
        let s = Arc::new(Mutex::new(Seen::default()));
        seen.push(s.clone());
        tasks.push(tokio::spawn(reader(
            n,
            lb,
            audience.clone(),
            s,
            want.clone(),
        )));
    }
    let streams = || async {
        let mut total = 0;
        for port in ports {
            let base = format!("http://127.0.0.1:{port}");
            total += common::counter_at(
                &http,
                &base,
                "tidings_open_connections{transport=\"websocket\"}",
            )
            .await
                + common::counter_at(&http, &base, "tidings_open_connections{transport=\"sse\"}")
                    .await;
        }
        total
    };
    eventually(
        "every reader to be connected",
        Duration::from_secs(60),
        || async { (streams().await >= READERS as u64).then_some(()) },
    )
    .await;
    let spread: Vec<u64> = {
        let mut v = Vec::new();
        for port in ports {
            let base = format!("http://127.0.0.1:{port}");
            v.push(common::counter_at(&http, &base, "tidings_subscriptions").await);
        }
        v
    };
    assert!(
        spread.iter().all(|n| *n > 0),
        "nginx spreads the readers over the three nodes: {spread:?}"
    );

    // Notices through the balancer; node 2 is drained after a third of them, node 1 (the
    // sequencer) killed after two thirds.
    let mut acked = Vec::new();
    for i in 0..NOTICES {
        if i == NOTICES / 3 {
            signal(&procs.0[1], libc::SIGTERM);
        }
        if i == 2 * NOTICES / 3 {
            signal(&procs.0[0], libc::SIGKILL);
        }
        acked.push(post_through(&http, lb, &desk, i).await);
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    let drained = tokio::task::spawn_blocking({
        let mut child = procs.0.remove(1);
        move || child.wait().unwrap()
    })
    .await
    .unwrap();
    assert!(
        drained.success(),
        "node 2 stops cleanly on SIGTERM: {drained:?}"
    );
    want.send_replace(Some(acked.clone()));

    let all_in = tokio::time::timeout(Duration::from_secs(60), async {
        for t in tasks {
            t.await.unwrap();
        }
    })
    .await;
    let logs = || {
        let mut s = String::new();
        for f in ["node-1.log", "node-2.log", "node-3.log", "error.log"] {
            s += &format!(
                "--- {f}\n{}\n",
                std::fs::read_to_string(dir.path().join(f)).unwrap_or_default()
            );
        }
        s
    };
    assert!(
        all_in.is_ok(),
        "every reader ends with every acknowledged notice\n{}",
        logs()
    );

    let mut reconnected = 0;
    for (n, s) in seen.iter().enumerate() {
        let s = s.lock().unwrap();
        if s.connects > 1 {
            reconnected += 1;
        }
        let positions: Vec<u64> = s.updates.iter().map(|u| u.0).collect();
        assert!(
            positions.windows(2).all(|w| w[0] < w[1]),
            "reader {n} saw positions in order, each once: {positions:?}"
        );
        let order: Vec<&str> = s
            .updates
            .iter()
            .map(|u| u.1.as_str())
            .filter(|id| acked.iter().any(|a| a == id))
            .collect();
        let expected: Vec<&str> = acked.iter().map(|a| a.as_str()).collect();
        assert_eq!(
            order, expected,
            "reader {n} has every acknowledged notice once, in order"
        );
    }
    // Node 1 and node 2 carried about two thirds of the readers between them.
    assert!(
        reconnected >= READERS / 3,
        "readers of the lost nodes reconnected through nginx ({reconnected} did)"
    );

    // The one node left took over the sequencer's lease from the killed one.
    let node3 = format!("http://127.0.0.1:{}", ports[2]);
    assert_eq!(
        common::counter_at(&http, &node3, "tidings_sequencer_leader").await,
        1,
        "node 3 holds the sequencer's lease"
    );

    // The per-address limit counts the client nginx names, not nginx.
    let limited = client_from("127.0.0.50".parse().unwrap());
    let timeline = format!("{public}/api/v1/timelines/public");
    for i in 0..LIMIT_PER_IP {
        let status = status_of(&limited, &timeline, None).await;
        assert_eq!(
            status, 200,
            "request {i} of 127.0.0.50 is within its budget"
        );
    }
    assert_eq!(
        status_of(&limited, &timeline, Some("198.51.100.77")).await,
        429,
        "127.0.0.50 has spent its budget, whatever X-Forwarded-For it writes"
    );
    let other = client_from("127.0.0.51".parse().unwrap());
    assert_eq!(
        status_of(&other, &timeline, None).await,
        200,
        "another client behind the same nginx has its own budget"
    );
    // Straight to a node, a forged header from an untrusted address changes nothing:
    // 127.0.0.50 is not a trusted proxy, so its claim to be someone fresh is ignored.
    let direct = format!("{node3}/api/v1/timelines/public");
    assert_eq!(
        status_of(&limited, &direct, Some("198.51.100.78")).await,
        429,
        "an untrusted peer's X-Forwarded-For is ignored"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_scrapes_a_node_and_loads_the_deployment_rules() {
    let Some(prometheus) = tool("/usr/bin/prometheus", "prometheus") else {
        return;
    };
    let Some(app) = common::spawn_with(common::Backend::Sqlite, |c| {
        c.metrics_token = Some("scrape-secret".into());
    })
    .await
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let target = app.base.trim_start_matches("http://").to_string();
    let rules = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/deploy/prometheus/tidings-rules.yml"
    );
    std::fs::write(dir.path().join("token"), "scrape-secret").unwrap();
    let config = format!(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
         rule_files:\n  - {rules}\n\
         scrape_configs:\n  - job_name: tidings\n    authorization:\n      credentials_file: {}\n    static_configs:\n      - targets: ['{target}']\n",
        dir.path().join("token").display()
    );
    std::fs::write(dir.path().join("prometheus.yml"), config).unwrap();
    let port = free_port();
    let log = std::fs::File::create(dir.path().join("prometheus.log")).unwrap();
    let mut procs = Processes::default();
    procs.0.push(
        Command::new(&prometheus)
            .arg(format!(
                "--config.file={}",
                dir.path().join("prometheus.yml").display()
            ))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start prometheus"),
    );
    let http = reqwest::Client::new();
    let query = |q: &'static str| {
        let http = http.clone();
        async move {
            let v: Value = http
                .get(format!("http://127.0.0.1:{port}/api/v1/query"))
                .query(&[("query", q)])
                .send()
                .await
                .ok()?
                .json()
                .await
                .ok()?;
            let r = v["data"]["result"].as_array()?.first()?.clone();
            Some(r["value"][1].as_str()?.to_string())
        }
    };
    let up = eventually(
        "Prometheus to scrape the node",
        Duration::from_secs(60),
        || query("up{job=\"tidings\"}"),
    )
    .await;
    assert_eq!(
        up,
        "1",
        "the scrape succeeds with the metrics token\n{}",
        std::fs::read_to_string(dir.path().join("prometheus.log")).unwrap_or_default()
    );
    for (series, why) in [
        ("tidings_bus_connected", "the in-process bus is connected"),
        (
            "tidings_sequencer_leader",
            "the one node holds the sequencer's lease",
        ),
    ] {
        let value = eventually(series, Duration::from_secs(30), || query(series)).await;
        assert_eq!(value, "1", "{why}");
    }
    // Every rule of the deployment's file loads and evaluates without error against
    // the node's real series.
    let rules = eventually("the rules to be evaluated", Duration::from_secs(30), || {
        let http = http.clone();
        async move {
            let v: Value = http
                .get(format!("http://127.0.0.1:{port}/api/v1/rules"))
                .send()
                .await
                .ok()?
                .json()
                .await
                .ok()?;
            let rules: Vec<Value> = v["data"]["groups"]
                .as_array()?
                .iter()
                .flat_map(|g| g["rules"].as_array().cloned().unwrap_or_default())
                .collect();
            let evaluated = !rules.is_empty()
                && rules.iter().all(|r| {
                    r["lastEvaluation"]
                        .as_str()
                        .is_some_and(|t| !t.starts_with("0001"))
                });
            evaluated.then_some(rules)
        }
    })
    .await;
    for r in &rules {
        assert_eq!(
            r["health"], "ok",
            "rule {} evaluates: {}",
            r["name"], r["lastError"]
        );
    }
    assert!(
        rules.iter().any(|r| r["type"] == "alerting"),
        "the file has alerts"
    );
}
