//! Test harness: start a real node on 127.0.0.1:0 against a fresh SQLite file or a
//! fresh Postgres database, and talk to it over HTTP, WebSocket and SSE like a client.
#![allow(dead_code)]

pub mod redis;
pub mod wiki;

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::time::Duration;
use tidings::config::Config;
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Run each story once per backend: `sqlite::story` and `postgres::story`. The Postgres
/// ones show as ignored where no Postgres is configured (see `build.rs`).
#[macro_export]
macro_rules! on_both_backends {
    ($($story:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $story() { super::$story($crate::common::Backend::Sqlite).await })*
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            #[cfg_attr(not(tidings_postgres), ignore = "TIDINGS_TEST_DATABASE_URL is not set")]
            async fn $story() { super::$story($crate::common::Backend::Postgres).await })*
        }
    };
}

pub struct TestApp {
    pub base: String,
    pub http: reqwest::Client,
    pub backend: Backend,
    pub database_url: String,
    shutdown: CancellationToken,
    _dir: Option<tempfile::TempDir>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// The Postgres server for tests, or `None` (loudly) when not configured. Under
/// `CI=true` a missing Postgres is a failure, not a skip.
pub fn postgres_admin_url() -> Option<String> {
    match std::env::var("TIDINGS_TEST_DATABASE_URL") {
        Ok(u) if !u.is_empty() => Some(u),
        _ => {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!(
                    "CI=true but TIDINGS_TEST_DATABASE_URL is not set: the Postgres stories cannot run"
                );
            }
            eprintln!(
                "\n*** SKIPPED: TIDINGS_TEST_DATABASE_URL is not set, so this Postgres story did not run ***\n"
            );
            None
        }
    }
}

/// Create an empty database on the test server and return its URL.
pub async fn fresh_postgres_database() -> Option<String> {
    use sqlx::Connection;
    let admin = postgres_admin_url()?;
    let name = format!("tidings_test_{}", hex::encode(rand::random::<[u8; 6]>()));
    let mut conn = sqlx::PgConnection::connect(&admin)
        .await
        .expect("connect to TIDINGS_TEST_DATABASE_URL");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await
        .expect("create test database");
    let mut url = url::Url::parse(&admin).expect("TIDINGS_TEST_DATABASE_URL is a URL");
    url.set_path(&name);
    Some(url.to_string())
}

pub async fn database_url(backend: Backend) -> Option<(String, Option<tempfile::TempDir>)> {
    match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().expect("temp dir");
            let url = format!(
                "sqlite://{}?mode=rwc",
                dir.path().join("tidings.db").display()
            );
            Some((url, Some(dir)))
        }
        Backend::Postgres => fresh_postgres_database().await.map(|u| (u, None)),
    }
}

/// Start a node; `None` when the backend is not available (already announced).
pub async fn spawn(backend: Backend) -> Option<TestApp> {
    spawn_with(backend, |_| {}).await
}

/// A node that federates over loopback (private addresses allowed) and retries failed
/// deliveries after half a second.
pub async fn spawn_federating(backend: Backend) -> Option<TestApp> {
    spawn_with(backend, |c| {
        c.federation_allow_private = true;
        c.delivery_retry_ms = 500;
    })
    .await
}

pub async fn spawn_with(backend: Backend, tweak: impl FnOnce(&mut Config)) -> Option<TestApp> {
    let (url, dir) = database_url(backend).await?;
    Some(spawn_on(backend, &url, dir, tweak).await)
}

pub async fn spawn_on(
    backend: Backend,
    url: &str,
    dir: Option<tempfile::TempDir>,
    tweak: impl FnOnce(&mut Config),
) -> TestApp {
    let _ = tracing_subscriber::fmt()
        .with_test_writer()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .try_init();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let mut config = Config::for_database(url);
    config.listen = addr.to_string();
    config.public_url = Some(format!("http://{addr}"));
    config.redis_url = None;
    config.sse_heartbeat_secs = 15;
    // Stories sign many people up from one address; the throttles' own story lowers
    // these again.
    config.sign_ups_per_ip = 10_000;
    config.apps_per_ip = 10_000;
    config.sign_in_attempts_per_ip = 10_000;
    config.sign_in_attempts_per_account = 10_000;
    // Stories make many requests from one address and one token; the rate limits' own
    // stories set small limits.
    config.api_requests_per_token = 0;
    config.api_requests_per_ip = 0;
    config.statuses_per_account = 0;
    config.media_per_account = 0;
    config.follows_per_account = 0;
    config.reports_per_account = 0;
    config.streams_per_ip_per_second = 0;
    tweak(&mut config);
    let shutdown = CancellationToken::new();
    let s = shutdown.clone();
    tokio::spawn(async move {
        if let Err(e) = tidings::run(config, listener, s).await {
            panic!("server failed: {e:#}");
        }
    });
    let app = TestApp {
        base: format!("http://{addr}"),
        http: reqwest::Client::new(),
        backend,
        database_url: url.to_string(),
        shutdown,
        _dir: dir,
    };
    eventually("the server to become healthy", STARTUP, || async {
        let res = app.http.get(app.url("/health")).send().await;
        res.is_ok_and(|r| r.status().is_success()).then_some(())
    })
    .await;
    app
}

/// Poll `check` until it gives a value, for at most `within`; panic naming `what` if it
/// never does. Stories wait for what they can observe — a gauge in `/metrics`, a health
/// report, an answer — instead of sleeping and hoping it happened meanwhile.
pub async fn eventually<T, F, Fut>(what: &str, within: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, check()).await {
            Ok(Some(v)) => return v,
            Ok(None) if tokio::time::Instant::now() < deadline => {}
            _ => panic!("waited {within:?} for {what}, in vain"),
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// One unlabelled counter or gauge (or one labelled series, named with its labels as
/// `/metrics` shows them) from the node at `base`; 0 when absent.
pub async fn counter_at(http: &reqwest::Client, base: &str, name: &str) -> u64 {
    let text = http
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .filter_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .find_map(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

/// A signed-in user of the test server.
#[derive(Clone, Debug)]
pub struct User {
    pub id: String,
    pub username: String,
    pub token: String,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn ws_url(&self, path: &str) -> String {
        format!("{}{path}", self.base.replacen("http://", "ws://", 1))
    }

    pub fn stop(&self) {
        self.shutdown.cancel();
    }

    /// Register an app with one redirect URI and `scopes`: its client id and secret.
    pub async fn create_app(&self, redirect_uri: &str, scopes: &str) -> (String, String) {
        let app: Value = self
            .http
            .post(self.url("/api/v1/apps"))
            .json(&json!({"client_name": "tests", "redirect_uris": redirect_uri, "scopes": scopes}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        (
            app["client_id"].as_str().unwrap().to_string(),
            app["client_secret"].as_str().unwrap().to_string(),
        )
    }

    /// Register an app and get an app-only token (client credentials) with `scopes`.
    pub async fn app_token(&self, scopes: &str) -> String {
        let (id, secret) = self.create_app(OOB, scopes).await;
        let token: Value = self
            .http
            .post(self.url("/oauth/token"))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", id.as_str()),
                ("client_secret", secret.as_str()),
                ("scope", scopes),
            ])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        token["access_token"].as_str().unwrap().to_string()
    }

    /// Register an app, get an app token, sign up `name` through the API.
    pub async fn register(&self, name: &str) -> User {
        let app_token = self.app_token("read write follow").await;
        let res = self
            .http
            .post(self.url("/api/v1/accounts"))
            .bearer_auth(&app_token)
            .json(&json!({"username": name, "email": format!("{name}@example.org"), "password": "correct horse battery", "agreement": true, "locale": "en"}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "registration of {name}");
        let token: Value = res.json().await.unwrap();
        let token = token["access_token"].as_str().unwrap().to_string();
        let me: Value = self
            .http
            .get(self.url("/api/v1/accounts/verify_credentials"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        User {
            id: me["id"].as_str().unwrap().to_string(),
            username: name.to_string(),
            token,
        }
    }

    pub async fn post(&self, user: &User, text: &str) -> Value {
        self.post_with(user, json!({ "status": text })).await
    }

    pub async fn post_with(&self, user: &User, body: Value) -> Value {
        let res = self
            .http
            .post(self.url("/api/v1/statuses"))
            .bearer_auth(&user.token)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "posting {body}");
        res.json().await.unwrap()
    }

    /// The node's Prometheus text from `/metrics`.
    pub async fn metrics(&self) -> String {
        self.http
            .get(self.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// One counter or gauge from `/metrics` (see [`counter_at`]).
    pub async fn counter(&self, name: &str) -> u64 {
        counter_at(&self.http, &self.base, name).await
    }

    /// Wait until `/metrics` shows `name` at `want`: a subscription registered, a stream
    /// gone, an event routed.
    pub async fn until_counter(&self, name: &str, want: u64) {
        let what = format!("{name} to reach {want} on {}", self.base);
        eventually(&what, WAIT, || async {
            (self.counter(name).await == want).then_some(())
        })
        .await
    }

    pub async fn get_json(&self, path: &str, token: Option<&str>) -> (u16, Value) {
        let mut req = self.http.get(self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }
}

/// One parsed SSE event.
#[derive(Debug, Clone, PartialEq)]
pub struct SseEvent {
    pub event: String,
    pub data: String,
    pub id: Option<String>,
}

pub struct SseReader {
    body: std::pin::Pin<Box<dyn futures::Stream<Item = reqwest::Result<bytes::Bytes>> + Send>>,
    buf: String,
    pub comments: Vec<String>,
}

impl SseReader {
    pub async fn open(
        app: &TestApp,
        path: &str,
        last_event_id: Option<&str>,
        token: Option<&str>,
    ) -> (u16, reqwest::header::HeaderMap, Option<SseReader>) {
        let mut req = app.http.get(app.url(path));
        if let Some(id) = last_event_id {
            req = req.header("Last-Event-ID", id);
        }
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let res = req.send().await.unwrap();
        let (status, headers) = (res.status().as_u16(), res.headers().clone());
        if !res.status().is_success() {
            return (status, headers, None);
        }
        let reader = SseReader {
            body: Box::pin(res.bytes_stream()),
            buf: String::new(),
            comments: Vec::new(),
        };
        (status, headers, Some(reader))
    }

    /// The next event (skipping comments), or `None` at the end or after `wait`.
    pub async fn next(&mut self, wait: Duration) -> Option<SseEvent> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if let Some(i) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..i + 2).collect();
                let mut ev = SseEvent {
                    event: "message".into(),
                    data: String::new(),
                    id: None,
                };
                let mut has_data = false;
                for line in block.lines() {
                    if let Some(c) = line.strip_prefix(':') {
                        self.comments.push(c.to_string());
                    } else if let Some(v) = line.strip_prefix("event: ") {
                        ev.event = v.to_string();
                    } else if let Some(v) = line.strip_prefix("data: ") {
                        if has_data {
                            ev.data.push('\n');
                        }
                        ev.data.push_str(v);
                        has_data = true;
                    } else if let Some(v) = line.strip_prefix("id: ") {
                        ev.id = Some(v.to_string());
                    }
                }
                if has_data {
                    return Some(ev);
                }
                continue;
            }
            match tokio::time::timeout_at(deadline, self.body.next()).await {
                Ok(Some(Ok(chunk))) => self.buf.push_str(std::str::from_utf8(&chunk).unwrap()),
                _ => return None,
            }
        }
    }
}

pub type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

pub async fn ws_connect(app: &TestApp, token: Option<&str>) -> Ws {
    let url = match token {
        Some(t) => app.ws_url(&format!("/api/v1/streaming?access_token={t}")),
        None => app.ws_url("/api/v1/streaming"),
    };
    tokio_tungstenite::connect_async(url)
        .await
        .expect("websocket connect")
        .0
}

pub async fn ws_send(ws: &mut Ws, v: Value) {
    ws.send(Message::Text(v.to_string().into())).await.unwrap();
}

/// The next JSON text frame, or `None` after `wait` or at close.
pub async fn ws_next(ws: &mut Ws, wait: Duration) -> Option<Value> {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        match tokio::time::timeout_at(deadline, ws.next()).await {
            Ok(Some(Ok(Message::Text(t)))) => return Some(serde_json::from_str(&t).unwrap()),
            Ok(Some(Ok(Message::Close(_)))) | Ok(None) | Ok(Some(Err(_))) | Err(_) => return None,
            Ok(Some(Ok(_))) => continue,
        }
    }
}

/// The out-of-band redirect URI of native apps.
pub const OOB: &str = "urn:ietf:wg:oauth:2.0:oob";

pub const WAIT: Duration = Duration::from_secs(5);
/// How long a node may take to start: migrations, on a machine busy with other stories.
pub const STARTUP: Duration = Duration::from_secs(30);
pub const QUIET: Duration = Duration::from_millis(600);

impl TestApp {
    /// Make `user` an administrator, as `tidings admin role` would, straight in the
    /// database.
    pub async fn make_admin(&self, user: &User) {
        self.give_role(user, "admin").await;
    }

    /// Give `user` a role (`user`, `moderator`, `admin`, `owner`) in the database, and wait
    /// until a token of hers already in use has it.
    pub async fn give_role(&self, user: &User, role: &str) {
        let admin = i64::from(role == "admin" || role == "owner");
        self.write_in_database(format!(
            "UPDATE accounts SET is_admin = {admin}, role = '{role}' WHERE id = {}",
            user.id.parse::<i64>().expect("numeric id")
        ))
        .await;
        // Written from outside the node, as `tidings admin role` does: the embedded node
        // may believe the token it read a moment ago for this long.
        if self.backend == Backend::Sqlite {
            tokio::time::sleep(tidings::store::TOKENS_FRESH_FOR).await;
        }
    }

    /// Run `statement` on a connection of its own to the node's database, as another
    /// process (`tidings admin`) would.
    pub async fn write_in_database(&self, statement: String) {
        use sqlx::Connection;
        sqlx::any::install_default_drivers();
        let mut conn = sqlx::AnyConnection::connect(&self.database_url)
            .await
            .expect("connect to the test database");
        sqlx::query(sqlx::AssertSqlSafe(statement))
            .execute(&mut conn)
            .await
            .expect("write in the database");
    }

    /// A staff member of `role` with a token for the admin API.
    pub async fn staff(&self, name: &str, role: &str) -> User {
        let mut u = self.register(name).await;
        self.give_role(&u, role).await;
        u.token = self
            .grant_with(
                &u,
                "read write follow push profile admin:read admin:write",
                ADMIN_SCOPES,
            )
            .await
            .token;
        u
    }

    /// `who` takes a moderation action (`kind`: suspend, silence, disable, sensitive, …)
    /// on `on`'s account: the answer's status.
    pub async fn admin_action(&self, who: &User, on: &User, kind: &str, text: &str) -> u16 {
        self.call(
            reqwest::Method::POST,
            &format!("/api/v1/admin/accounts/{}/action", on.id),
            &who.token,
            Some(serde_json::json!({"type": kind, "text": text})),
        )
        .await
        .0
    }

    /// Send a request with `user`'s token; the status and the JSON body.
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = self.http.request(method, self.url(path)).bearer_auth(token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    pub async fn follow(&self, who: &User, whom: &User, on: bool) {
        let verb = if on { "follow" } else { "unfollow" };
        let (status, _) = self
            .call(
                reqwest::Method::POST,
                &format!("/api/v1/accounts/{}/{verb}", whom.id),
                &who.token,
                None,
            )
            .await;
        assert_eq!(status, 200, "{verb}");
    }
}

/// Every event an SSE stream replays after `last_event_id`, until it goes quiet.
pub async fn sse_replay(
    app: &TestApp,
    path: &str,
    last_event_id: &str,
    token: Option<&str>,
) -> Vec<SseEvent> {
    let (status, _, reader) = SseReader::open(app, path, Some(last_event_id), token).await;
    assert_eq!(status, 200, "open {path}");
    let mut reader = reader.unwrap();
    let mut out = Vec::new();
    while let Some(e) = reader.next(QUIET).await {
        out.push(e);
    }
    out
}

impl TestApp {
    /// A token for `user` with exactly `scopes`, by the password grant of an app that
    /// registered every scope.
    pub async fn user_token(&self, user: &User, scopes: &str) -> String {
        self.grant_with(user, "read write follow push profile", scopes)
            .await
            .token
    }
}

/// A user's token with the app credentials that can revoke it.
pub struct Grant {
    pub token: String,
    pub client_id: String,
    pub client_secret: String,
}

impl TestApp {
    pub async fn grant(&self, user: &User, scopes: &str) -> Grant {
        self.grant_with(user, scopes, scopes).await
    }

    /// A token with `scopes` from an app registered with `app_scopes`.
    pub async fn grant_with(&self, user: &User, app_scopes: &str, scopes: &str) -> Grant {
        let (id, secret) = self.create_app(OOB, app_scopes).await;
        let token: Value = self
            .http
            .post(self.url("/oauth/token"))
            .form(&[
                ("grant_type", "password"),
                ("client_id", id.as_str()),
                ("client_secret", secret.as_str()),
                ("username", user.username.as_str()),
                ("password", "correct horse battery"),
                ("scope", scopes),
            ])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        Grant {
            token: token["access_token"].as_str().unwrap().to_string(),
            client_id: id,
            client_secret: secret,
        }
    }

    pub async fn revoke(&self, g: &Grant) {
        let res = self
            .http
            .post(self.url("/oauth/revoke"))
            .form(&[
                ("client_id", g.client_id.as_str()),
                ("client_secret", g.client_secret.as_str()),
                ("token", g.token.as_str()),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "revoke");
    }
}

/// The CSRF cookie (as a `Cookie` header value) and form token of a sign-in page.
pub async fn csrf_of(page: reqwest::Response) -> (String, String) {
    let cookie = page
        .headers()
        .get("set-cookie")
        .expect("the sign-in page sets its CSRF cookie")
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let html = page.text().await.unwrap();
    let marker = "name=\"authenticity_token\" value=\"";
    let at = html.find(marker).expect("the form carries a CSRF token") + marker.len();
    let token = html[at..].split('"').next().unwrap().to_string();
    (cookie, token)
}

/// The next frame of `event` on a WebSocket, skipping others.
pub async fn ws_event(ws: &mut Ws, event: &str) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let v = ws_next(ws, left)
            .await
            .unwrap_or_else(|| panic!("no {event} frame in time"));
        if v["event"] == event {
            return v;
        }
    }
}

/// The next SSE event named `event`, skipping others.
pub async fn sse_event(r: &mut SseReader, event: &str) -> SseEvent {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let e = r
            .next(left)
            .await
            .unwrap_or_else(|| panic!("no {event} event in time"));
        if e.event == event {
            return e;
        }
    }
}

/// The scopes of a staff member's token for the admin API ([`TestApp::staff`]).
pub const ADMIN_SCOPES: &str = "read write follow admin:read admin:write";
