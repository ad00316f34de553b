//! Stories of the REST API: sign up, sign in, post, correct, delete, page, follow.

mod common;

use common::{Backend, spawn};
use serde_json::{Value, json};

on_both_backends!(
    a_reporter_signs_up_posts_corrects_and_deletes,
    a_password_sign_in_gets_a_token_with_the_asked_scopes,
    the_authorization_code_flow_signs_in_through_the_page,
    a_reader_pages_a_tag_timeline_by_the_link_header,
    polling_with_the_etag_costs_a_304_until_something_changes,
    an_anonymous_poll_of_an_unchanged_timeline_is_answered_without_the_database,
    a_follower_sees_private_notices_at_home_and_strangers_do_not,
    the_same_idempotency_key_posts_once,
    favourites_and_reblogs_are_counted,
);

async fn a_reporter_signs_up_posts_corrects_and_deletes(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let ann = app.register("ann").await;
    let bob = app.register("bob").await;
    let s = app
        .post(
            &ann,
            "Flood waters rising at #RiverSide, @bob is on site <b>now</b>",
        )
        .await;
    assert_eq!(s["account"]["username"], "ann");
    assert_eq!(s["visibility"], "public");
    let content = s["content"].as_str().unwrap();
    assert!(
        content.contains("&lt;b&gt;now&lt;/b&gt;"),
        "author markup is escaped: {content}"
    );
    assert!(
        content.contains("/tags/riverside"),
        "tag is linked: {content}"
    );
    assert!(content.contains("/@bob"), "mention is linked: {content}");
    assert_eq!(s["tags"][0]["name"], "riverside");
    assert_eq!(s["mentions"][0]["id"], bob.id);
    let id = s["id"].as_str().unwrap();

    let res = app
        .http
        .put(app.url(&format!("/api/v1/statuses/{id}")))
        .bearer_auth(&ann.token)
        .json(&json!({"status": "Correction: flood waters receding at #RiverSide"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let edited: Value = res.json().await.unwrap();
    assert!(edited["edited_at"].is_string());
    assert!(edited["content"].as_str().unwrap().contains("receding"));

    let (code, history) = app
        .get_json(&format!("/api/v1/statuses/{id}/history"), None)
        .await;
    assert_eq!(code, 200);
    let history = history.as_array().unwrap();
    assert_eq!(history.len(), 2, "the original and the correction");
    assert!(history[0]["content"].as_str().unwrap().contains("rising"));
    assert!(history[1]["content"].as_str().unwrap().contains("receding"));

    // Someone else may not edit or delete it.
    let res = app
        .http
        .delete(app.url(&format!("/api/v1/statuses/{id}")))
        .bearer_auth(&bob.token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);

    let res = app
        .http
        .delete(app.url(&format!("/api/v1/statuses/{id}")))
        .bearer_auth(&ann.token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let deleted: Value = res.json().await.unwrap();
    assert_eq!(
        deleted["text"],
        "Correction: flood waters receding at #RiverSide"
    );
    let (code, body) = app.get_json(&format!("/api/v1/statuses/{id}"), None).await;
    assert_eq!((code, body["error"].is_string()), (404, true));
    let (_, me) = app
        .get_json("/api/v1/accounts/verify_credentials", Some(&ann.token))
        .await;
    assert_eq!(me["statuses_count"], 0);
}

async fn a_password_sign_in_gets_a_token_with_the_asked_scopes(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    app.register("carol").await;
    let client: Value = app.http.post(app.url("/api/v1/apps")).json(&json!({"client_name": "phone", "redirect_uris": "urn:ietf:wg:oauth:2.0:oob", "scopes": "read write"})).send().await.unwrap().json().await.unwrap();
    let form = |pw: &'static str| {
        vec![
            ("grant_type", "password".to_string()),
            (
                "client_id",
                client["client_id"].as_str().unwrap().to_string(),
            ),
            (
                "client_secret",
                client["client_secret"].as_str().unwrap().to_string(),
            ),
            ("username", "carol@example.org".to_string()),
            ("password", pw.to_string()),
            ("scope", "read write".to_string()),
        ]
    };
    let res = app
        .http
        .post(app.url("/oauth/token"))
        .form(&form("wrong password"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let err: Value = res.json().await.unwrap();
    assert_eq!(err["error"], "invalid_grant");

    let token: Value = app
        .http
        .post(app.url("/oauth/token"))
        .form(&form("correct horse battery"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(token["token_type"], "Bearer");
    assert_eq!(token["scope"], "read write");
    assert!(token["created_at"].as_i64().unwrap() > 1_700_000_000);
    let t = token["access_token"].as_str().unwrap();
    let (code, me) = app
        .get_json("/api/v1/accounts/verify_credentials", Some(t))
        .await;
    assert_eq!((code, me["username"].as_str()), (200, Some("carol")));

    // A read-only token cannot post.
    let mut ro = form("correct horse battery");
    ro[5].1 = "read".into();
    let ro: Value = app
        .http
        .post(app.url("/oauth/token"))
        .form(&ro)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let res = app
        .http
        .post(app.url("/api/v1/statuses"))
        .bearer_auth(ro["access_token"].as_str().unwrap())
        .json(&json!({"status": "hi"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);

    // Revoked tokens stop working.
    let res = app
        .http
        .post(app.url("/oauth/revoke"))
        .form(&[
            ("client_id", client["client_id"].as_str().unwrap()),
            ("client_secret", client["client_secret"].as_str().unwrap()),
            ("token", t),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let (code, _) = app
        .get_json("/api/v1/accounts/verify_credentials", Some(t))
        .await;
    assert_eq!(code, 401);

    let meta: Value = app
        .http
        .get(app.url("/.well-known/oauth-authorization-server"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let grants: Vec<&str> = meta["grant_types_supported"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(
        grants,
        ["authorization_code", "password", "client_credentials"]
    );
}

async fn the_authorization_code_flow_signs_in_through_the_page(b: Backend) {
    use base64::Engine;
    use sha2::Digest;
    let Some(app) = spawn(b).await else { return };
    app.register("dina").await;
    let client: Value = app
        .http
        .post(app.url("/api/v1/apps"))
        .form(&[
            ("client_name", "web"),
            ("redirect_uris", "https://client.example/cb"),
            ("scopes", "read write"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let client_id = client["client_id"].as_str().unwrap();
    let verifier = "a-long-random-verifier-string-for-pkce-0123456789";
    let challenge =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier));
    let page = app
        .http
        .get(app.url(&format!("/oauth/authorize?response_type=code&client_id={client_id}&redirect_uri=https://client.example/cb&scope=read&state=xyz&code_challenge={challenge}&code_challenge_method=S256")))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let (cookie, csrf) = common::csrf_of(page).await;

    let no_redirect = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let res = no_redirect
        .post(app.url("/oauth/authorize"))
        .form(&[
            ("response_type", "code"),
            ("client_id", client_id),
            ("redirect_uri", "https://client.example/cb"),
            ("scope", "read"),
            ("state", "xyz"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
            ("username", "dina"),
            ("password", "correct horse battery"),
            ("authenticity_token", &csrf),
        ])
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let location = url::Url::parse(res.headers()["location"].to_str().unwrap()).unwrap();
    let q: std::collections::HashMap<_, _> = location.query_pairs().into_owned().collect();
    assert_eq!(q["state"], "xyz");
    let exchange = |verifier: &str| {
        vec![
            ("grant_type", "authorization_code".to_string()),
            ("client_id", client_id.to_string()),
            (
                "client_secret",
                client["client_secret"].as_str().unwrap().to_string(),
            ),
            ("redirect_uri", "https://client.example/cb".to_string()),
            ("code", q["code"].clone()),
            ("code_verifier", verifier.to_string()),
        ]
    };
    let bad = app
        .http
        .post(app.url("/oauth/token"))
        .form(&exchange("wrong verifier"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        bad.status(),
        400,
        "a wrong PKCE verifier is refused (and burns the code)"
    );

    // A fresh code with the right verifier works.
    let res = no_redirect
        .post(app.url("/oauth/authorize"))
        .form(&[
            ("response_type", "code"),
            ("client_id", client_id),
            ("redirect_uri", "https://client.example/cb"),
            ("scope", "read"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
            ("username", "dina"),
            ("password", "correct horse battery"),
            ("authenticity_token", &csrf),
        ])
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    let location = url::Url::parse(res.headers()["location"].to_str().unwrap()).unwrap();
    let code = location
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    let mut form = exchange(verifier);
    form[4].1 = code;
    let token: Value = app
        .http
        .post(app.url("/oauth/token"))
        .form(&form)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(token["scope"], "read");
    let (status, me) = app
        .get_json(
            "/api/v1/accounts/verify_credentials",
            token["access_token"].as_str(),
        )
        .await;
    assert_eq!((status, me["username"].as_str()), (200, Some("dina")));
    let again = app
        .http
        .post(app.url("/oauth/token"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 400, "a code is usable once");
}

fn link(res: &reqwest::Response, rel: &str) -> Option<String> {
    let h = res.headers().get("link")?.to_str().ok()?;
    h.split(", ")
        .find(|p| p.ends_with(&format!("rel=\"{rel}\"")))
        .map(|p| p[1..p.find('>').unwrap()].to_string())
}

async fn a_reader_pages_a_tag_timeline_by_the_link_header(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let ann = app.register("ann").await;
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(
            app.post(&ann, &format!("update {i} #live")).await["id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
        app.post(&ann, &format!("unrelated {i}")).await;
    }
    ids.reverse();
    let mut seen = Vec::new();
    let mut next = Some(app.url("/api/v1/timelines/tag/live?limit=2"));
    let mut pages = 0;
    while let Some(url) = next {
        let res = app.http.get(&url).send().await.unwrap();
        assert_eq!(res.status(), 200);
        next = link(&res, "next");
        if let Some(n) = &next {
            assert!(n.contains("limit=2"), "the link keeps the query: {n}");
        }
        let page: Vec<Value> = res.json().await.unwrap();
        if page.is_empty() {
            break;
        }
        assert!(page.len() <= 2);
        seen.extend(page.iter().map(|s| s["id"].as_str().unwrap().to_string()));
        pages += 1;
        assert!(pages < 10, "paging must end");
    }
    assert_eq!(seen, ids, "every tagged notice once, newest first");

    // `prev` from the oldest page leads to newer notices; min_id pages just above.
    let res = app
        .http
        .get(app.url(&format!(
            "/api/v1/timelines/tag/live?limit=2&max_id={}",
            ids[2]
        )))
        .send()
        .await
        .unwrap();
    let prev = link(&res, "prev").unwrap();
    let newer: Vec<Value> = app
        .http
        .get(&prev)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let newer: Vec<&str> = newer.iter().map(|s| s["id"].as_str().unwrap()).collect();
    assert_eq!(newer, [ids[1].as_str(), ids[2].as_str()]);
    let since: Vec<Value> = app
        .http
        .get(app.url(&format!("/api/v1/timelines/tag/live?since_id={}", ids[1])))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(since.len(), 1);

    let (_, public) = app
        .get_json("/api/v1/timelines/public?local=true&limit=40", None)
        .await;
    assert_eq!(public.as_array().unwrap().len(), 10);
    let (_, remote) = app
        .get_json("/api/v1/timelines/public?remote=true", None)
        .await;
    assert_eq!(remote.as_array().unwrap().len(), 0, "nothing federated yet");
    let (_, by_ann) = app
        .get_json(
            &format!("/api/v1/accounts/{}/statuses?limit=3", ann.id),
            None,
        )
        .await;
    assert_eq!(by_ann.as_array().unwrap().len(), 3);
}

async fn polling_with_the_etag_costs_a_304_until_something_changes(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let ann = app.register("ann").await;
    app.post(&ann, "first #poll").await;
    let res = app
        .http
        .get(app.url("/api/v1/timelines/tag/poll"))
        .send()
        .await
        .unwrap();
    let etag = res.headers()["etag"].to_str().unwrap().to_string();
    let again = app
        .http
        .get(app.url("/api/v1/timelines/tag/poll"))
        .header("If-None-Match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
    app.post(&ann, "second #poll").await;
    let changed = app
        .http
        .get(app.url("/api/v1/timelines/tag/poll"))
        .header("If-None-Match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), 200);
    let list: Vec<Value> = changed.json().await.unwrap();
    assert_eq!(list.len(), 2);
}

/// One anonymous poll of a tag timeline with its `ETag`; (status, ETag, ids).
async fn poll_tag(
    app: &common::TestApp,
    tag: &str,
    etag: Option<&str>,
    token: Option<&str>,
) -> (u16, String, Vec<String>) {
    let mut req = app
        .http
        .get(app.url(&format!("/api/v1/timelines/tag/{tag}")));
    if let Some(e) = etag {
        req = req.header("If-None-Match", e);
    }
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let etag = res.headers()["etag"].to_str().unwrap().to_string();
    let ids = if status == 200 {
        let list: Vec<Value> = res.json().await.unwrap();
        list.iter()
            .map(|s| s["id"].as_str().unwrap().to_string())
            .collect()
    } else {
        Vec::new()
    };
    (status, etag, ids)
}

/// A hot timeline polled every few seconds by thousands: while nothing happened on its
/// stream, the poll is answered from the head this node routed, with no database read;
/// a deletion moves the head, and a signed-in poll always reads the database.
async fn an_anonymous_poll_of_an_unchanged_timeline_is_answered_without_the_database(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let ann = app.register("ann").await;
    let gone = app.post(&ann, "the bridge is closed #quay").await;
    app.post(&ann, "the ferry runs #quay").await;
    common::eventually("both notices routed", common::WAIT, || async {
        (app.counter("tidings_events_dispatched_total").await >= 2).then_some(())
    })
    .await;
    let (status, etag, ids) = poll_tag(&app, "quay", None, None).await;
    assert_eq!((status, ids.len()), (200, 2));
    let before = app.counter("tidings_polls_unchanged_total").await;
    for _ in 0..3 {
        let (status, again, _) = poll_tag(&app, "quay", Some(&etag), None).await;
        assert_eq!((status, again.as_str()), (304, etag.as_str()));
    }
    assert_eq!(
        app.counter("tidings_polls_unchanged_total").await,
        before + 3,
        "three unchanged polls answered without the database"
    );
    // A signed-in reader's page depends on her blocks, mutes and filters: the database.
    let (status, _, _) = poll_tag(&app, "quay", Some(&etag), Some(&ann.token)).await;
    assert_eq!(status, 200, "a body-hash ETag differs from the head's");
    assert_eq!(
        app.counter("tidings_polls_unchanged_total").await,
        before + 3
    );

    let id = gone["id"].as_str().unwrap();
    let dispatched = app.counter("tidings_events_dispatched_total").await;
    let (status, _) = app
        .call(
            reqwest::Method::DELETE,
            &format!("/api/v1/statuses/{id}"),
            &ann.token,
            None,
        )
        .await;
    assert_eq!(status, 200);
    common::eventually("the deletion routed", common::WAIT, || async {
        (app.counter("tidings_events_dispatched_total").await > dispatched).then_some(())
    })
    .await;
    let (status, fresh, ids) = poll_tag(&app, "quay", Some(&etag), None).await;
    assert_eq!(status, 200, "the deletion moved the stream's head");
    assert_ne!(fresh, etag);
    assert!(!ids.contains(&id.to_string()), "{ids:?}");
    assert_eq!(ids.len(), 1);
    let (status, _, _) = poll_tag(&app, "quay", Some(&fresh), None).await;
    assert_eq!(status, 304);
}

async fn a_follower_sees_private_notices_at_home_and_strangers_do_not(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let ann = app.register("ann").await;
    let bob = app.register("bob").await;
    let eve = app.register("eve").await;
    let res = app
        .http
        .post(app.url(&format!("/api/v1/accounts/{}/follow", ann.id)))
        .bearer_auth(&bob.token)
        .send()
        .await
        .unwrap();
    let rel: Value = res.json().await.unwrap();
    assert_eq!(rel["following"], true);
    let private = app
        .post_with(
            &ann,
            json!({"status": "followers only", "visibility": "private"}),
        )
        .await;
    let pid = private["id"].as_str().unwrap();
    let (_, home) = app
        .get_json("/api/v1/timelines/home", Some(&bob.token))
        .await;
    assert_eq!(home[0]["id"], pid);
    let (_, eve_home) = app
        .get_json("/api/v1/timelines/home", Some(&eve.token))
        .await;
    assert_eq!(eve_home.as_array().unwrap().len(), 0);
    assert_eq!(
        app.get_json(&format!("/api/v1/statuses/{pid}"), Some(&eve.token))
            .await
            .0,
        404
    );
    assert_eq!(
        app.get_json(&format!("/api/v1/statuses/{pid}"), Some(&bob.token))
            .await
            .0,
        200
    );
    let (_, public) = app.get_json("/api/v1/timelines/public", None).await;
    assert_eq!(public.as_array().unwrap().len(), 0);
    let (_, ann_acct) = app
        .get_json(&format!("/api/v1/accounts/{}", ann.id), None)
        .await;
    assert_eq!(ann_acct["followers_count"], 1);
    let (_, looked_up) = app.get_json("/api/v1/accounts/lookup?acct=ann", None).await;
    assert_eq!(looked_up["id"], ann.id);
    app.http
        .post(app.url(&format!("/api/v1/accounts/{}/unfollow", ann.id)))
        .bearer_auth(&bob.token)
        .send()
        .await
        .unwrap();
    let (_, home) = app
        .get_json("/api/v1/timelines/home", Some(&bob.token))
        .await;
    assert_eq!(home.as_array().unwrap().len(), 0);
}

async fn the_same_idempotency_key_posts_once(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let ann = app.register("ann").await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        let res = app
            .http
            .post(app.url("/api/v1/statuses"))
            .bearer_auth(&ann.token)
            .header("Idempotency-Key", "tap-tap-tap")
            .json(&json!({"status": "posted from a shaky phone"}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        let s: Value = res.json().await.unwrap();
        ids.push(s["id"].as_str().unwrap().to_string());
    }
    assert!(ids.windows(2).all(|w| w[0] == w[1]));
    let (_, list) = app.get_json("/api/v1/timelines/public", None).await;
    assert_eq!(list.as_array().unwrap().len(), 1);
}

async fn favourites_and_reblogs_are_counted(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let ann = app.register("ann").await;
    let bob = app.register("bob").await;
    let s = app.post(&ann, "worth sharing").await;
    let id = s["id"].as_str().unwrap();
    let fav: Value = app
        .http
        .post(app.url(&format!("/api/v1/statuses/{id}/favourite")))
        .bearer_auth(&bob.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (
            fav["favourites_count"].as_i64(),
            fav["favourited"].as_bool()
        ),
        (Some(1), Some(true))
    );
    let rb: Value = app
        .http
        .post(app.url(&format!("/api/v1/statuses/{id}/reblog")))
        .bearer_auth(&bob.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(rb["reblog"]["id"], id);
    assert_eq!(rb["reblog"]["reblogs_count"], 1);
    let (_, seen_by_bob) = app
        .get_json(&format!("/api/v1/statuses/{id}"), Some(&bob.token))
        .await;
    assert_eq!(
        (
            seen_by_bob["reblogged"].as_bool(),
            seen_by_bob["favourited"].as_bool()
        ),
        (Some(true), Some(true))
    );
    let un: Value = app
        .http
        .post(app.url(&format!("/api/v1/statuses/{id}/unreblog")))
        .bearer_auth(&bob.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (un["reblogs_count"].as_i64(), un["reblogged"].as_bool()),
        (Some(0), Some(false))
    );
    let unfav: Value = app
        .http
        .post(app.url(&format!("/api/v1/statuses/{id}/unfavourite")))
        .bearer_auth(&bob.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(unfav["favourites_count"], 0);
}
