//! Wiki mode: people sign in with their wiki accounts, only the wiki's auto-confirmed
//! editors post, its sysops moderate, its blocks reach Tidings, and its pages show the
//! live feed.
//!
//! The sign-in checks run on both backends against signed assertions made here with the
//! shared secret, and against a stand-in for the OAuth extension (`common::wiki::StandIn`:
//! the extension is not packaged for Debian). Everything else runs against a real
//! MediaWiki (Debian's 1.39, installed and served per story by `tests/wiki/start.sh`)
//! with the Tidings extension of `clients/mediawiki`, and in real Chromium.

mod common;

use common::wiki::{self, Browser, StandIn, Wiki, assertion, free_port, profile_of};
use common::{Backend, TestApp, eventually, spawn_with};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::time::Duration;

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn claims(sub: i64, name: &str, groups: &[&str], nonce: &str) -> Value {
    let t = now();
    json!({"iss": "http://wiki.test", "sub": sub, "name": name, "groups": groups,
           "blocked": false, "editcount": 5, "iat": t, "exp": t + 60, "nonce": nonce})
}

/// A node in wiki mode with the shared secret, its wiki (not running) on `wiki_port`.
async fn assertion_node(backend: Backend, wiki_port: u16, recheck: u64) -> Option<TestApp> {
    spawn_with(backend, |c| {
        c.mediawiki_url = Some(format!("http://127.0.0.1:{wiki_port}"));
        c.mediawiki_shared_secret = Some(wiki::SECRET.into());
        c.mediawiki_recheck_secs = recheck;
    })
    .await
}

/// Start a sign-in in `b`: the nonce the wiki is asked to sign.
async fn start(app: &TestApp, b: &Browser, back: &str) -> String {
    let (status, to) = b
        .step(&app.url(&format!("/auth/wiki/start?return_to={back}")))
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{to}");
    assert!(to.contains("title=Special%3ATidings%2Fsso"), "{to}");
    to.split("nonce=").nth(1).unwrap().to_string()
}

async fn exists(app: &TestApp, username: &str) -> bool {
    let path = format!("/api/v1/accounts/lookup?acct={username}");
    app.get_json(&path, None).await.0 == 200
}

async fn post(app: &TestApp, token: &str, text: &str) -> (StatusCode, Value) {
    call(
        app,
        Method::POST,
        "/api/v1/statuses",
        token,
        Some(json!({"status": text})),
    )
    .await
}

/// `method` `path` with `token`: the status and the JSON body.
async fn call(
    app: &TestApp,
    method: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let (status, v) = app.call(method, path, token, body).await;
    (StatusCode::from_u16(status).unwrap(), v)
}

/// The id of the account named `username`.
async fn id_of(app: &TestApp, username: &str) -> String {
    let path = format!("/api/v1/accounts/lookup?acct={username}");
    app.get_json(&path, None).await.1["id"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn forged_expired_and_replayed_assertions_make_no_account(backend: Backend) {
    let Some(app) = assertion_node(backend, free_port(), 300).await else {
        return;
    };
    let eve = Browser::new();
    let nonce = start(&app, &eve, "/tags/election").await;
    let sign_in = |token: String| {
        let eve = eve.clone();
        let url = app.url(&format!("/auth/wiki/assertion?assertion={token}"));
        async move { eve.get(&url).await }
    };
    let refused = |p: &wiki::Page, why: &str| {
        assert_eq!(p.status, StatusCode::FORBIDDEN, "{}", p.body);
        assert!(p.body.contains(why), "{why}: {}", p.body);
    };
    let good = claims(3, "Editor Eve", &["*", "user", "autoconfirmed"], &nonce);

    // Signed with another secret, or changed after signing.
    let forged = assertion(&good, "not the secret the wiki and Tidings share");
    refused(&sign_in(forged).await, "signature");
    let mut sysop = good.clone();
    sysop["groups"] = json!(["*", "user", "sysop"]);
    let real = assertion(&good, wiki::SECRET);
    let tampered = format!(
        "{}.{}",
        assertion(&sysop, wiki::SECRET).split('.').next().unwrap(),
        real.split('.').nth(1).unwrap()
    );
    refused(&sign_in(tampered).await, "signature");
    // Expired, or claiming to live for an hour.
    let mut old = good.clone();
    (old["iat"], old["exp"]) = (json!(now() - 200), json!(now() - 140));
    refused(&sign_in(assertion(&old, wiki::SECRET)).await, "expired");
    let mut long = good.clone();
    long["exp"] = json!(now() + 3600);
    refused(&sign_in(assertion(&long, wiki::SECRET)).await, "expired");
    // Made for another sign-in (someone else's nonce: login CSRF), or brought by a
    // browser that never started one.
    let other = claims(
        3,
        "Editor Eve",
        &["*", "user", "autoconfirmed"],
        "aaaaaaaaaaaaaaaaaaaa",
    );
    refused(
        &sign_in(assertion(&other, wiki::SECRET)).await,
        "not made for this sign-in",
    );
    let stranger = Browser::new();
    let p = stranger
        .get(&app.url(&format!("/auth/wiki/assertion?assertion={real}")))
        .await;
    refused(&p, "not made for this sign-in");
    assert!(
        !exists(&app, "Editor_Eve").await,
        "a refused assertion made an account"
    );

    // The good one signs her in, once, and brings her where she was going.
    let p = sign_in(real.clone()).await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.body);
    assert!(p.url.ends_with("/tags/election"), "{}", p.url);
    assert!(eve.cookie("tidings_session").is_some());
    assert!(exists(&app, "Editor_Eve").await);
    let replayed = Browser::new();
    replayed.set_cookie(
        "tidings_wiki",
        &eve.cookie("tidings_wiki").unwrap_or_default(),
    );
    refused(
        &replayed
            .get(&app.url(&format!("/auth/wiki/assertion?assertion={real}")))
            .await,
        "already been used",
    );

    // Where she goes afterwards is a path of this site, never another site's, however
    // it is spelt.
    for evil in [
        "//evil.example/",
        "/%09/evil.example/",
        "/%5C/evil.example/",
        "https://evil.example/",
    ] {
        let b = Browser::new();
        let nonce = start(&app, &b, evil).await;
        let t = assertion(
            &claims(3, "Editor Eve", &["*", "user", "autoconfirmed"], &nonce),
            wiki::SECRET,
        );
        let (status, to) = b
            .step(&app.url(&format!("/auth/wiki/assertion?assertion={t}")))
            .await;
        assert_eq!(
            (status, to.as_str()),
            (StatusCode::SEE_OTHER, "/"),
            "{evil}"
        );
    }

    // Passwords are not how anyone signs in here.
    let res = app
        .http
        .post(app.url("/oauth/token"))
        .form(&[
            ("grant_type", "password"),
            ("username", "Editor_Eve"),
            ("password", "x"),
        ])
        .send()
        .await
        .unwrap();
    assert_ne!(res.status(), StatusCode::OK);
}

/// She signs in with `groups` through a fresh assertion; her browser and an API token.
async fn signed_in_as(app: &TestApp, sub: i64, name: &str, groups: &[&str]) -> (Browser, String) {
    let b = Browser::new();
    let nonce = start(app, &b, "/").await;
    let t = assertion(&claims(sub, name, groups, &nonce), wiki::SECRET);
    let p = b
        .get(&app.url(&format!("/auth/wiki/assertion?assertion={t}")))
        .await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.body);
    let token = b
        .app_token(&app.base, "read write admin:read admin:write")
        .await;
    (b, token)
}

async fn the_post_group_posts_others_read_and_sysops_moderate(backend: Backend) {
    let Some(app) = assertion_node(backend, free_port(), 300).await else {
        return;
    };
    let (_, eve) = signed_in_as(&app, 3, "Editor Eve", &["*", "user", "autoconfirmed"]).await;
    let (nia_page, nia) = signed_in_as(&app, 4, "Newbie Nia", &["*", "user"]).await;
    let (_, sam) = signed_in_as(
        &app,
        5,
        "Sysop Sam",
        &["*", "user", "autoconfirmed", "sysop"],
    )
    .await;

    let (status, s) = post(&app, &eve, "Polls close at eight #election").await;
    assert_eq!(status, StatusCode::OK, "{s}");
    let (status, body) = post(&app, &nia, "me too").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("auto-confirmed"),
        "{body}"
    );
    // She reads, follows and favourites.
    let fav = app
        .http
        .post(app.url(&format!(
            "/api/v1/statuses/{}/favourite",
            s["id"].as_str().unwrap()
        )))
        .bearer_auth(&nia)
        .send()
        .await
        .unwrap();
    assert_eq!(fav.status(), StatusCode::OK);
    // Her one-click consent for an app needs her session's own CSRF token: a page that
    // can set cookies for this site (a sibling subdomain) cannot forge it.
    let app_reg: Value = app
        .http
        .post(app.url("/api/v1/apps"))
        .json(
            &json!({"client_name": "forger", "redirect_uris": common::OOB, "scopes": "read write"}),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    nia_page.set_cookie("tidings_csrf", "planted-by-a-sibling-site");
    let forged = nia_page
        .post(
            &app.url("/oauth/authorize"),
            &[
                ("authenticity_token", "planted-by-a-sibling-site"),
                ("response_type", "code"),
                ("client_id", app_reg["client_id"].as_str().unwrap()),
                ("redirect_uri", common::OOB),
                ("scope", "read write"),
            ],
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN, "{}", forged.body);
    assert!(!forged.body.contains("<code id=\"code\">"));
    // Her page has no composer, and says why.
    let home = nia_page.get(&app.url("/")).await.body;
    assert!(!home.contains("class=\"composer\""), "{home}");
    assert!(home.contains("auto-confirmed"), "{home}");

    // The wiki's sysop is a moderator here: she sees the accounts and suspends one.
    let who = call(
        &app,
        Method::GET,
        "/api/v1/admin/accounts?username=Editor_Eve",
        &sam,
        None,
    )
    .await;
    assert_eq!(who.0, StatusCode::OK);
    let eve_id = id_of(&app, "Editor_Eve").await;
    let res = call(
        &app,
        Method::POST,
        &format!("/api/v1/admin/accounts/{eve_id}/action"),
        &sam,
        Some(json!({"type": "suspend"})),
    )
    .await;
    assert_eq!(res.0, StatusCode::OK, "{}", res.1);
    // A plain editor is no moderator.
    let res = call(&app, Method::GET, "/api/v1/admin/accounts", &nia, None).await;
    assert_eq!(res.0, StatusCode::FORBIDDEN);

    // A role staff give here is theirs: an owner demotes the wiki's sysop, and signing in
    // again as a sysop does not raise her back.
    let (_, olga) = signed_in_as(&app, 6, "Owner Olga", &["*", "user", "sysop"]).await;
    let olga_id = verify(&app, &olga).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.give_role(
        &common::User {
            id: olga_id,
            username: "Owner_Olga".into(),
            token: olga.clone(),
        },
        "owner",
    )
    .await;
    let sam_id = verify(&app, &sam).await["id"].as_str().unwrap().to_string();
    let res = call(
        &app,
        Method::POST,
        &format!("/api/v1/admin/accounts/{sam_id}/role"),
        &olga,
        Some(json!({"role": "user"})),
    )
    .await;
    assert_eq!(res.0, StatusCode::OK, "{}", res.1);
    let (_, sam) = signed_in_as(
        &app,
        5,
        "Sysop Sam",
        &["*", "user", "autoconfirmed", "sysop"],
    )
    .await;
    let res = call(&app, Method::GET, "/api/v1/admin/accounts", &sam, None).await;
    assert_eq!(res.0, StatusCode::FORBIDDEN, "the wiki raised her back");
}

async fn verify(app: &TestApp, token: &str) -> Value {
    call(
        app,
        Method::GET,
        "/api/v1/accounts/verify_credentials",
        token,
        None,
    )
    .await
    .1
}

/// A node in wiki mode with the OAuth extension (the stand-in).
async fn oauth_node(backend: Backend, standin: &StandIn) -> Option<TestApp> {
    spawn_with(backend, |c| {
        c.mediawiki_url = Some(standin.url.clone());
        c.mediawiki_client_id = Some(wiki::CLIENT_ID.into());
        c.mediawiki_client_secret = Some(wiki::CLIENT_SECRET.into());
        c.mediawiki_recheck_secs = 3600;
    })
    .await
}

async fn oauth_sign_in(app: &TestApp, profile: Value, standin: &StandIn) -> (Browser, String) {
    standin.sign_in(profile);
    let b = Browser::new();
    let p = b
        .get(&app.url("/auth/wiki/start?return_to=/tags/election"))
        .await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.body);
    assert!(
        p.url.ends_with("/tags/election"),
        "{} via {:?}",
        p.url,
        p.hops
    );
    assert!(
        p.hops
            .iter()
            .any(|h| h.contains("/rest.php/oauth2/authorize"))
    );
    let token = b.app_token(&app.base, "read write admin:read").await;
    (b, token)
}

async fn the_oauth_extension_signs_people_in(backend: Backend) {
    let standin = StandIn::start().await;
    let Some(app) = oauth_node(backend, &standin).await else {
        return;
    };
    // Profile mapping: `sub` links the account, `username` names it, `groups` gate posting.
    let (_, rae) = oauth_sign_in(
        &app,
        profile_of(71, "Reporter Rae", &["*", "user", "autoconfirmed"], false),
        &standin,
    )
    .await;
    assert!(exists(&app, "Reporter_Rae").await);
    assert_eq!(
        post(&app, &rae, "Live from the count #election").await.0,
        StatusCode::OK
    );
    // Renamed on the wiki: the same account (linked by `sub`), not a new one.
    let (_, rae_again) = oauth_sign_in(
        &app,
        profile_of(71, "Rae Reporter", &["*", "user", "autoconfirmed"], false),
        &standin,
    )
    .await;
    assert!(!exists(&app, "Rae_Reporter").await);
    let me = verify(&app, &rae_again).await;
    assert_eq!(me["username"], "Reporter_Rae");
    // Not in the post group; blocked.
    let (_, ned) = oauth_sign_in(
        &app,
        profile_of(72, "New Ned", &["*", "user"], false),
        &standin,
    )
    .await;
    let (status, body) = post(&app, &ned, "hello").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(body["error"].as_str().unwrap().contains("auto-confirmed"));
    let (_, bo) = oauth_sign_in(
        &app,
        profile_of(73, "Blocked Bo", &["*", "user", "autoconfirmed"], true),
        &standin,
    )
    .await;
    let (status, body) = post(&app, &bo, "spam").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("blocked on the wiki")
    );
    // A sysop moderates.
    let (_, sue) = oauth_sign_in(
        &app,
        profile_of(
            74,
            "Sysop Sue",
            &["*", "user", "autoconfirmed", "sysop"],
            false,
        ),
        &standin,
    )
    .await;
    let res = call(&app, Method::GET, "/api/v1/admin/accounts", &sue, None).await;
    assert_eq!(res.0, StatusCode::OK);

    // A callback whose `state` is not this browser's sign-in is refused, and makes no
    // account even with a good code.
    standin.sign_in(profile_of(
        75,
        "Mallory",
        &["*", "user", "autoconfirmed"],
        false,
    ));
    let m = Browser::new();
    let (_, authorize) = m.step(&app.url("/auth/wiki/start")).await;
    let state = authorize
        .split("state=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap();
    let forged = authorize.replace(&format!("state={state}"), "state=forged-state-value");
    let (_, callback) = m.step(&forged).await;
    assert!(callback.contains("/auth/wiki/callback"), "{callback}");
    let p = m.get(&callback).await;
    assert_eq!(p.status, StatusCode::FORBIDDEN, "{}", p.body);
    assert!(p.body.contains("state"), "{}", p.body);
    // Nor may another browser use this one's callback.
    let (_, good) = m.step(&authorize).await;
    let p = Browser::new().get(&good).await;
    assert_eq!(p.status, StatusCode::FORBIDDEN, "{}", p.body);
    assert!(
        !exists(&app, "Mallory").await,
        "a refused callback made an account"
    );
}

async fn a_wiki_name_that_is_taken_here_gets_a_choice_not_a_takeover(backend: Backend) {
    let Some(app) = assertion_node(backend, free_port(), 300).await else {
        return;
    };
    let (_, ann) = signed_in_as(&app, 10, "Ann", &["*", "user", "autoconfirmed"]).await;
    assert_eq!(post(&app, &ann, "Ann's notice").await.0, StatusCode::OK);

    // Another wiki user whose name makes the same username.
    let b = Browser::new();
    let nonce = start(&app, &b, "/tags/election").await;
    let t = assertion(
        &claims(11, "Ann.", &["*", "user", "autoconfirmed"], &nonce),
        wiki::SECRET,
    );
    let p = b
        .get(&app.url(&format!("/auth/wiki/assertion?assertion={t}")))
        .await;
    assert_eq!(p.status, StatusCode::OK);
    assert!(
        p.body.contains("Choose your name") && p.body.contains("@Ann"),
        "{}",
        p.body
    );
    assert!(
        b.cookie("tidings_session").is_none(),
        "signed in before choosing"
    );
    let csrf = wiki::hidden(&p.body, "authenticity_token");
    // Choosing the taken name again is refused; a forged form is too.
    let again = b
        .post(
            &app.url("/auth/wiki/name"),
            &[("authenticity_token", &csrf), ("username", "ann")],
        )
        .await;
    assert_eq!(
        again.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        again.body
    );
    assert!(again.body.contains("taken"), "{}", again.body);
    let csrf = wiki::hidden(&again.body, "authenticity_token");
    let forged = b
        .post(
            &app.url("/auth/wiki/name"),
            &[("authenticity_token", "x"), ("username", "Ann_dot")],
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    let chosen = b
        .post(
            &app.url("/auth/wiki/name"),
            &[("authenticity_token", &csrf), ("username", "Ann_dot")],
        )
        .await;
    assert_eq!(chosen.status, StatusCode::OK, "{}", chosen.body);
    assert!(chosen.url.ends_with("/tags/election"), "{}", chosen.url);
    assert!(exists(&app, "Ann_dot").await);
    // Each wiki user keeps her own account: the first Ann signs in as @Ann still.
    let (_, ann_again) = signed_in_as(&app, 10, "Ann", &["*", "user", "autoconfirmed"]).await;
    let me = verify(&app, &ann_again).await;
    assert_eq!(
        (me["username"].as_str(), me["statuses_count"].as_i64()),
        (Some("Ann"), Some(1))
    );
}

on_both_backends!(
    a_wiki_name_that_is_taken_here_gets_a_choice_not_a_takeover,
    forged_expired_and_replayed_assertions_make_no_account,
    the_post_group_posts_others_read_and_sysops_moderate,
    the_oauth_extension_signs_people_in,
);

const PASSWORD: &str = "wiki-password-2026";

/// A node on SQLite in wiki mode and a real wiki pointing at each other; the node asks
/// the wiki again every second.
async fn node_and_wiki() -> Option<(TestApp, Wiki)> {
    if !wiki::available() {
        return None;
    }
    let port = free_port();
    let app = assertion_node(Backend::Sqlite, port, 1).await?;
    let w = Wiki::start(port, &app.base).await;
    Some((app, w))
}

/// She signs in to the wiki, then to Tidings through it (no password here).
async fn through_the_wiki(app: &TestApp, w: &Wiki, name: &str) -> (Browser, String) {
    let b = Browser::new();
    b.wiki_login(&w.url, name, PASSWORD).await;
    let p = b.get(&app.url("/auth/wiki/start?return_to=/")).await;
    assert_eq!(p.status, StatusCode::OK, "{}\n{:?}", p.body, p.hops);
    assert!(
        p.hops
            .iter()
            .any(|h| h.contains("Special") && h.contains("sso")),
        "{:?}",
        p.hops
    );
    assert_eq!(p.url, app.url("/"));
    let token = b
        .app_token(&app.base, "read write admin:read admin:write")
        .await;
    (b, token)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_wikis_groups_and_blocks_reach_tidings_within_the_recheck_period() {
    let Some((app, w)) = node_and_wiki().await else {
        return;
    };
    w.user("Editor Eve", PASSWORD, false);
    w.edit("Editor Eve", "Sandbox", "An edit makes her auto-confirmed.");
    w.user("Newbie Nia", PASSWORD, false);

    let (eve_page, eve) = through_the_wiki(&app, &w, "Editor Eve").await;
    assert!(
        eve_page
            .get(&app.url("/"))
            .await
            .body
            .contains("class=\"composer\"")
    );
    assert_eq!(
        post(&app, &eve, "Turnout is high #election").await.0,
        StatusCode::OK
    );

    // New on the wiki: reads, cannot post; one edit later (auto-confirmed), can.
    let (nia_page, nia) = through_the_wiki(&app, &w, "Newbie Nia").await;
    assert!(
        !nia_page
            .get(&app.url("/"))
            .await
            .body
            .contains("class=\"composer\"")
    );
    let (status, body) = post(&app, &nia, "first!").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("auto-confirmed"),
        "{body}"
    );
    w.edit("Newbie Nia", "Sandbox", "Her first edit.");
    eventually("Nia to be let post", Duration::from_secs(15), || async {
        (post(&app, &nia, "Now I can post").await.0 == StatusCode::OK).then_some(())
    })
    .await;

    // Blocked on the wiki: no more posting here, within the re-check period; unblocked,
    // posting again.
    w.block("Editor Eve");
    let body = eventually(
        "Eve's block to reach Tidings",
        Duration::from_secs(15),
        || async {
            let (status, body) = post(&app, &eve, "still here?").await;
            (status == StatusCode::FORBIDDEN).then_some(body)
        },
    )
    .await;
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("blocked on the wiki"),
        "{body}"
    );
    w.unblock("Editor Eve");
    eventually(
        "Eve's unblock to reach Tidings",
        Duration::from_secs(15),
        || async {
            (post(&app, &eve, "Back, with the final count #election")
                .await
                .0
                == StatusCode::OK)
                .then_some(())
        },
    )
    .await;

    // Operators see the re-checks.
    let rechecked = app.counter("tidings_wiki_rechecked_total").await;
    assert!(rechecked >= 2, "{rechecked}");
    let metrics = app.metrics().await;
    assert!(metrics.contains("tidings_wiki_recheck_seconds_count"));

    // Her user page on the wiki shows her recent notices.
    w.edit(
        wiki::ADMIN.0,
        "User:Editor Eve",
        "Reporter.\n\n<tidings user=\"Editor Eve\" />\n",
    );
    let page = Browser::new()
        .get(&format!("{}/index.php?title=User:Editor_Eve", w.url))
        .await
        .body;
    let src = wiki::between(&page, "class=\"tidings-embed\" src=\"", "\"").replace("&amp;", "&");
    assert!(src.starts_with(&app.url("/embed/wiki_users/")), "{src}");
    let embed = Browser::new().get(&src).await;
    assert_eq!(embed.status, StatusCode::OK);
    assert!(
        embed.body.contains("Back, with the final count"),
        "{}",
        embed.body
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn where_a_wiki_block_takes_everything_it_closes_her_streams_until_lifted() {
    if !wiki::available() {
        return;
    }
    let port = free_port();
    let Some(app) = spawn_with(Backend::Sqlite, |c| {
        c.mediawiki_url = Some(format!("http://127.0.0.1:{port}"));
        c.mediawiki_shared_secret = Some(wiki::SECRET.into());
        c.mediawiki_recheck_secs = 1;
        c.mediawiki_blocked = tidings::config::WikiBlock::All;
    })
    .await
    else {
        return;
    };
    let w = Wiki::start(port, &app.base).await;
    w.user("Editor Eve", PASSWORD, false);
    w.edit("Editor Eve", "Sandbox", "An edit makes her auto-confirmed.");
    let (_, eve) = through_the_wiki(&app, &w, "Editor Eve").await;
    let mut ws = common::ws_connect(&app, Some(&eve)).await;
    common::ws_send(&mut ws, json!({"type": "subscribe", "stream": "user"})).await;
    // A new subscription starts at the live edge: post once it is in place.
    app.until_counter("tidings_subscriptions", 1).await;
    assert_eq!(post(&app, &eve, "Counting starts").await.0, StatusCode::OK);
    common::ws_event(&mut ws, "update").await;

    w.block("Editor Eve");
    // Her stream ends (within the re-check period), her token stops working, and the
    // wiki cannot sign her in again while the block lasts.
    let closed = tokio::time::timeout(Duration::from_secs(15), async {
        use futures::StreamExt;
        use tokio_tungstenite::tungstenite::Message;
        loop {
            match ws.next().await {
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return,
                Some(Ok(_)) => continue,
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "her stream stayed open after the block");
    let me = call(
        &app,
        Method::GET,
        "/api/v1/accounts/verify_credentials",
        &eve,
        None,
    )
    .await;
    assert_eq!(me.0, StatusCode::UNAUTHORIZED);
    let b = Browser::new();
    b.wiki_login(&w.url, "Editor Eve", PASSWORD).await;
    let p = b.get(&app.url("/auth/wiki/start?return_to=/")).await;
    assert_eq!(p.status, StatusCode::FORBIDDEN, "{}", p.body);
    assert!(p.body.contains("blocked on the wiki"), "{}", p.body);

    w.unblock("Editor Eve");
    eventually(
        "her token to work again",
        Duration::from_secs(15),
        || async {
            let r = app
                .http
                .get(app.url("/api/v1/accounts/verify_credentials"))
                .bearer_auth(&eve)
                .send()
                .await
                .ok()?;
            (r.status() == StatusCode::OK).then_some(())
        },
    )
    .await;
}

fn chromium_and_playwright() -> bool {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/browser");
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let missing = if !std::path::Path::new(&chromium).exists() {
        Some("Chromium is not installed (apt-get install chromium)")
    } else if !std::path::Path::new(&format!("{dir}/node_modules/playwright-core/package.json"))
        .exists()
    {
        Some("playwright-core is not installed (cd tests/browser && npm ci)")
    } else {
        None
    };
    if let Some(what) = missing {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("CI=true but {what}");
        }
        eprintln!("\n*** SKIPPED: {what} ***\n");
        return false;
    }
    true
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_editor_posts_from_special_tidings_and_readers_of_the_wiki_see_it_live_in_chromium() {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    if !chromium_and_playwright() {
        return;
    }
    let Some((app, w)) = node_and_wiki().await else {
        return;
    };
    w.user("Editor Eve", PASSWORD, false);
    w.edit("Editor Eve", "Sandbox", "An edit makes her auto-confirmed.");
    w.user("Newbie Nia", PASSWORD, false);
    w.user("Sysop Sam", PASSWORD, true);
    w.edit(
        wiki::ADMIN.0,
        "Election night",
        "Results as they come in:\n\n<tidings tag=\"election\" />\n",
    );
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/browser");
    let shots = concat!(env!("CARGO_MANIFEST_DIR"), "/target/screenshots");
    let mut story = tokio::process::Command::new(
        std::env::var("TIDINGS_TEST_NODE").unwrap_or_else(|_| "node".into()),
    )
    .current_dir(dir)
    .env("SHOTS", shots)
    .args(["wiki.mjs", &w.url, &app.base, PASSWORD])
    .stdin(std::process::Stdio::piped())
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::piped())
    .kill_on_drop(true)
    .spawn()
    .expect("run node");
    let mut stdin = story.stdin.take().unwrap();
    let mut out = BufReader::new(story.stdout.take().unwrap()).lines();
    let mut said = Vec::new();
    let mut seen = None;
    while let Ok(Ok(Some(line))) =
        tokio::time::timeout(Duration::from_secs(120), out.next_line()).await
    {
        said.push(line.clone());
        if let Some(id) = line.strip_prefix("seen ") {
            seen = Some(id.to_string());
        }
        if let Some(sam) = line.strip_prefix("suspend-now ") {
            // The sysop's app (authorized in Chromium through the wiki) suspends the
            // editor.
            let eve = id_of(&app, "Editor_Eve").await;
            let path = format!("/api/v1/admin/accounts/{eve}/action");
            let body = json!({"type": "suspend", "text": "spam wave"});
            let res = call(&app, Method::POST, &path, sam, Some(body)).await;
            assert_eq!(res.0, StatusCode::OK, "{}", res.1);
            stdin.write_all(b"suspended\n").await.unwrap();
        }
    }
    let status = story.wait().await.unwrap();
    let mut err = String::new();
    if let Some(mut e) = story.stderr.take() {
        use tokio::io::AsyncReadExt;
        let _ = e.read_to_string(&mut err).await;
    }
    assert!(
        status.success() && said.iter().any(|l| l == "wiki story: ok"),
        "the wiki story failed:\n{}\n{err}\n(wiki log: {})",
        said.join("\n"),
        std::fs::read_to_string(w.dir.path().join("server.log")).unwrap_or_default()
    );
    // The notice the reader saw is the editor's, and it is gone for everyone now.
    let id = seen.expect("the reader saw the notice");
    let res = app
        .http
        .get(app.url(&format!("/api/v1/statuses/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}
