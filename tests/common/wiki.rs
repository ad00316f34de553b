//! A real MediaWiki for the wiki stories (Debian's 1.39, installed fresh into a
//! temporary directory by `tests/wiki/start.sh` and served by `php -S`), a small
//! cookie-keeping HTTP client that walks redirects the way a browser does, and a
//! stand-in for the wiki OAuth extension's three endpoints (the extension is not
//! packaged for Debian and cannot be downloaded here).

use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub const SECRET: &str = "a shared secret of the wiki and Tidings, 32+ bytes";
pub const ADMIN: (&str, &str) = ("WikiAdmin", "Tidings-Wiki-Admin-2024");
const HERE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/wiki");

/// A port nobody listens on now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Whether this machine can run a MediaWiki (`php` and Debian's `mediawiki`). Under
/// `CI=true` a missing one is a failure; elsewhere a loud skip.
pub fn available() -> bool {
    let ok = Command::new("php")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
        && std::path::Path::new("/usr/share/mediawiki/maintenance/install.php").exists()
        && Command::new("php")
            .args(["-r", "exit(extension_loaded('pdo_sqlite') ? 0 : 1);"])
            .status()
            .is_ok_and(|s| s.success());
    if !ok {
        let what = "MediaWiki is not installed (apt-get install mediawiki php-sqlite3 php-cli)";
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("CI=true but {what}");
        }
        eprintln!("\n*** SKIPPED: {what} ***\n");
    }
    ok
}

/// A running wiki; stopped when dropped.
pub struct Wiki {
    pub url: String,
    pub dir: tempfile::TempDir,
    server: Child,
}

impl Wiki {
    /// Install and serve a wiki on `port` whose Tidings extension points at `tidings`.
    pub async fn start(port: u16, tidings: &str) -> Wiki {
        let dir = tempfile::tempdir().expect("temp dir");
        let log = std::fs::File::create(dir.path().join("server.log")).expect("log");
        let server = Command::new("bash")
            .arg(format!("{HERE}/start.sh"))
            .arg(dir.path().join("wiki"))
            .arg(port.to_string())
            .arg(tidings)
            .arg(SECRET)
            .stdout(Stdio::from(log.try_clone().expect("log")))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("start the wiki");
        let wiki = Wiki {
            url: format!("http://127.0.0.1:{port}"),
            dir,
            server,
        };
        let http = reqwest::Client::new();
        let probe = format!(
            "{}/api.php?action=query&meta=siteinfo&format=json",
            wiki.url
        );
        super::eventually("the wiki to answer", Duration::from_secs(60), || async {
            let r = http.get(&probe).send().await.ok()?;
            r.status().is_success().then_some(())
        })
        .await;
        wiki
    }

    fn script(&self, name: &str, args: &[&str]) {
        let out = Command::new("bash")
            .arg(format!("{HERE}/{name}"))
            .arg(self.dir.path().join("wiki"))
            .args(args)
            .output()
            .expect("run a wiki script");
        assert!(
            out.status.success(),
            "{name} {args:?} failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// A wiki user (a sysop with `sysop`).
    pub fn user(&self, name: &str, password: &str, sysop: bool) {
        let mut args = vec![name, password];
        if sysop {
            args.push("--sysop");
        }
        self.script("users.sh", &args);
    }

    /// An edit by `user` (one makes her auto-confirmed here).
    pub fn edit(&self, user: &str, title: &str, text: &str) {
        self.script("edit.sh", &[user, title, text]);
    }

    pub fn block(&self, user: &str) {
        self.script("block.sh", &[user]);
    }

    pub fn unblock(&self, user: &str) {
        self.script("block.sh", &[user, "--unblock"]);
    }
}

impl Drop for Wiki {
    fn drop(&mut self) {
        let _ = self.server.kill();
        let _ = self.server.wait();
    }
}

/// An HTTP client that keeps cookies per host (as browsers do, whatever the port) and
/// follows redirects itself, so a story can look at each step.
#[derive(Clone, Default)]
pub struct Browser {
    http: reqwest::Client,
    jar: Arc<Mutex<HashMap<String, String>>>,
}

/// One answer: where it ended, its status, its body.
pub struct Page {
    pub url: String,
    pub status: StatusCode,
    pub body: String,
    pub hops: Vec<String>,
}

impl Browser {
    pub fn new() -> Browser {
        Browser {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            jar: Arc::default(),
        }
    }

    fn cookie_header(&self) -> String {
        let jar = self.jar.lock().unwrap();
        jar.iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    pub fn cookie(&self, name: &str) -> Option<String> {
        self.jar.lock().unwrap().get(name).cloned()
    }

    pub fn set_cookie(&self, name: &str, value: &str) {
        self.jar.lock().unwrap().insert(name.into(), value.into());
    }

    fn keep(&self, headers: &HeaderMap) {
        let mut jar = self.jar.lock().unwrap();
        for v in headers.get_all("set-cookie") {
            let v = v.to_str().unwrap_or("");
            let first = v.split(';').next().unwrap_or("");
            if let Some((k, val)) = first.split_once('=') {
                let gone = v.to_ascii_lowercase().contains("max-age=0")
                    || v.to_ascii_lowercase().contains("expires=thu, 01 jan 1970")
                    || val.is_empty()
                    || val == "deleted";
                if gone {
                    jar.remove(k.trim());
                } else {
                    jar.insert(k.trim().into(), val.into());
                }
            }
        }
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> reqwest::Response {
        let res = req
            .header("cookie", self.cookie_header())
            .header("accept", "text/html")
            .send()
            .await
            .expect("request");
        self.keep(res.headers());
        res
    }

    /// GET `url` without following a redirect: its status and `Location`.
    pub async fn step(&self, url: &str) -> (StatusCode, String) {
        let res = self.send(self.http.get(url)).await;
        let to = res
            .headers()
            .get("location")
            .and_then(|l| l.to_str().ok())
            .unwrap_or("")
            .to_string();
        (res.status(), to)
    }

    /// GET `url`, following redirects (at most ten).
    pub async fn get(&self, url: &str) -> Page {
        self.walk(self.http.get(url), url.to_string()).await
    }

    /// POST a form to `url`, following redirects.
    pub async fn post(&self, url: &str, form: &[(&str, &str)]) -> Page {
        self.walk(self.http.post(url).form(form), url.to_string())
            .await
    }

    async fn walk(&self, first: reqwest::RequestBuilder, mut url: String) -> Page {
        let mut hops = Vec::new();
        let mut res = self.send(first).await;
        for _ in 0..10 {
            if !res.status().is_redirection() {
                break;
            }
            let to = res
                .headers()
                .get("location")
                .and_then(|l| l.to_str().ok())
                .expect("a redirect has a location");
            url = reqwest::Url::parse(&url)
                .and_then(|base| base.join(to))
                .expect("a location")
                .to_string();
            hops.push(url.clone());
            res = self.send(self.http.get(&url)).await;
        }
        Page {
            url,
            status: res.status(),
            body: res.text().await.unwrap_or_default(),
            hops,
        }
    }

    /// Sign in to the wiki at `wiki` as `user` (its API's `clientlogin`).
    pub async fn wiki_login(&self, wiki: &str, user: &str, password: &str) {
        let api = format!("{wiki}/api.php");
        let res = self
            .send(self.http.get(format!(
                "{api}?action=query&meta=tokens&type=login&format=json"
            )))
            .await;
        let v: Value = res.json().await.expect("login token");
        let token = v["query"]["tokens"]["logintoken"]
            .as_str()
            .expect("a login token")
            .to_string();
        let res = self
            .send(self.http.post(&api).form(&[
                ("action", "clientlogin"),
                ("format", "json"),
                ("username", user),
                ("password", password),
                ("logintoken", &token),
                ("loginreturnurl", wiki),
            ]))
            .await;
        let v: Value = res.json().await.expect("clientlogin");
        assert_eq!(
            v["clientlogin"]["status"], "PASS",
            "wiki login of {user}: {v}"
        );
    }

    /// Through a signed-in page session of Tidings at `base`, authorize a new app for
    /// `scopes` (the Mastodon OAuth flow, out of band) and return its access token.
    pub async fn app_token(&self, base: &str, scopes: &str) -> String {
        let http = reqwest::Client::new();
        let app: Value = http
            .post(format!("{base}/api/v1/apps"))
            .json(&json!({"client_name": "wiki story", "redirect_uris": "urn:ietf:wg:oauth:2.0:oob", "scopes": scopes}))
            .send()
            .await
            .expect("app")
            .json()
            .await
            .expect("app json");
        let (id, secret) = (
            app["client_id"].as_str().unwrap().to_string(),
            app["client_secret"].as_str().unwrap().to_string(),
        );
        let q = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("response_type", "code")
            .append_pair("client_id", &id)
            .append_pair("redirect_uri", "urn:ietf:wg:oauth:2.0:oob")
            .append_pair("scope", scopes)
            .finish();
        let page = self.get(&format!("{base}/oauth/authorize?{q}")).await;
        assert!(page.body.contains("You are signed in as"), "{}", page.body);
        let csrf = hidden(&page.body, "authenticity_token");
        let page = self
            .post(
                &format!("{base}/oauth/authorize"),
                &[
                    ("authenticity_token", &csrf),
                    ("response_type", "code"),
                    ("client_id", &id),
                    ("redirect_uri", "urn:ietf:wg:oauth:2.0:oob"),
                    ("scope", scopes),
                ],
            )
            .await;
        let code = between(&page.body, "<code id=\"code\">", "</code>");
        let t: Value = http
            .post(format!("{base}/oauth/token"))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("client_id", &id),
                ("client_secret", &secret),
                ("redirect_uri", "urn:ietf:wg:oauth:2.0:oob"),
            ])
            .send()
            .await
            .expect("token")
            .json()
            .await
            .expect("token json");
        t["access_token"].as_str().expect("a token").to_string()
    }
}

/// The value of hidden input `name` in `html`.
pub fn hidden(html: &str, name: &str) -> String {
    let at = html
        .find(&format!("name=\"{name}\" value=\""))
        .unwrap_or_else(|| panic!("no {name} in {html}"));
    let rest = &html[at + name.len() + 15..];
    rest[..rest.find('"').unwrap()].to_string()
}

pub fn between(s: &str, a: &str, b: &str) -> String {
    let i = s.find(a).unwrap_or_else(|| panic!("no {a} in {s}")) + a.len();
    s[i..i + s[i..].find(b).unwrap()].to_string()
}

/// A signed assertion as the extension makes it (`claims` as JSON).
pub fn assertion(claims: &Value, secret: &str) -> String {
    tidings::wiki::assertion::sign(claims.to_string().as_bytes(), secret.as_bytes())
}

/// The stand-in for the OAuth extension: `rest.php/oauth2/authorize` (the person is
/// taken as signed in to the wiki as whoever the story says, and consents),
/// `…/access_token` (client secret, code, redirect URI and PKCE S256 verifier checked)
/// and `…/resource/profile` (the documented fields).
#[derive(Clone)]
pub struct StandIn {
    pub url: String,
    state: Arc<Mutex<StandInState>>,
}

#[derive(Default)]
struct StandInState {
    /// The profile of the person signed in to the wiki now.
    who: Value,
    /// code → (challenge, redirect_uri, profile)
    codes: HashMap<String, (String, String, Value)>,
    tokens: HashMap<String, Value>,
}

pub const CLIENT_ID: &str = "tidings-client";
pub const CLIENT_SECRET: &str = "tidings-client-secret";

impl StandIn {
    pub async fn start() -> StandIn {
        let state = Arc::new(Mutex::new(StandInState::default()));
        let app = axum::Router::new()
            .route("/rest.php/oauth2/authorize", axum::routing::get(authorize))
            .route(
                "/rest.php/oauth2/access_token",
                axum::routing::post(access_token),
            )
            .route(
                "/rest.php/oauth2/resource/profile",
                axum::routing::get(profile),
            )
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        StandIn { url, state }
    }

    /// The wiki user signed in at the stand-in from now on.
    pub fn sign_in(&self, profile: Value) {
        self.state.lock().unwrap().who = profile;
    }
}

type Shared = Arc<Mutex<StandInState>>;

async fn authorize(State(s): State<Shared>, Query(q): Query<HashMap<String, String>>) -> Response {
    if q.get("client_id").map(String::as_str) != Some(CLIENT_ID)
        || q.get("response_type").map(String::as_str) != Some("code")
        || q.get("code_challenge_method").map(String::as_str) != Some("S256")
    {
        return (StatusCode::BAD_REQUEST, "bad authorize request").into_response();
    }
    let code: String = format!("code-{}", rand::random::<u64>());
    let redirect = q.get("redirect_uri").cloned().unwrap_or_default();
    let mut st = s.lock().unwrap();
    let who = st.who.clone();
    st.codes.insert(
        code.clone(),
        (
            q.get("code_challenge").cloned().unwrap_or_default(),
            redirect.clone(),
            who,
        ),
    );
    let mut to = reqwest::Url::parse(&redirect).unwrap();
    to.query_pairs_mut()
        .append_pair("code", &code)
        .append_pair("state", q.get("state").map(String::as_str).unwrap_or(""));
    Redirect::to(to.as_str()).into_response()
}

async fn access_token(State(s): State<Shared>, Form(f): Form<HashMap<String, String>>) -> Response {
    let get = |k: &str| f.get(k).map(String::as_str).unwrap_or("");
    let mut st = s.lock().unwrap();
    let Some((challenge, redirect, who)) = st.codes.remove(get("code")) else {
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"error": "invalid_grant"})),
        )
            .into_response();
    };
    let computed = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(Sha256::digest(get("code_verifier").as_bytes()));
    if get("grant_type") != "authorization_code"
        || get("client_id") != CLIENT_ID
        || get("client_secret") != CLIENT_SECRET
        || get("redirect_uri") != redirect
        || computed != challenge
    {
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"error": "invalid_grant"})),
        )
            .into_response();
    }
    let token = format!("token-{}", rand::random::<u64>());
    st.tokens.insert(token.clone(), who);
    axum::Json(json!({"token_type": "Bearer", "expires_in": 14400, "access_token": token, "refresh_token": "r"}))
        .into_response()
}

async fn profile(State(s): State<Shared>, headers: HeaderMap) -> Response {
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    match s.lock().unwrap().tokens.get(token) {
        Some(p) => axum::Json(p.clone()).into_response(),
        None => (StatusCode::UNAUTHORIZED, "no such token").into_response(),
    }
}

/// A profile as the OAuth extension documents it.
pub fn profile_of(sub: i64, username: &str, groups: &[&str], blocked: bool) -> Value {
    json!({
        "sub": sub, "username": username, "editcount": 12, "confirmed_email": true,
        "blocked": blocked, "registered": "20240101000000", "groups": groups,
        "rights": ["read", "edit"],
    })
}
