//! What a Mastodon app reads when it starts and what its links point at: preferences,
//! markers, trends, instance counts, the app behind a token, the empty lists of features
//! not built yet, and the addresses in our entities. And what Tidings cannot do yet is
//! refused, never silently dropped.

mod common;

use common::{Backend, spawn};
use reqwest::Method;
use serde_json::{Value, json};

on_both_backends!(
    a_client_starts_up_without_a_404,
    markers_remember_where_a_reader_left_off,
    trends_and_counts_follow_what_is_posted,
    links_in_entities_lead_somewhere,
    a_bad_poll_or_unknown_media_is_refused_not_posted_without_it,
    a_profile_is_edited_safely_and_its_defaults_apply,
);

async fn a_client_starts_up_without_a_404(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let alice = app.register("alice").await;
    for path in [
        "/api/v1/preferences",
        "/api/v1/custom_emojis",
        "/api/v1/announcements",
        "/api/v1/filters",
        "/api/v2/filters",
        "/api/v1/lists",
        "/api/v1/follow_requests",
        "/api/v1/conversations",
        "/api/v1/mutes",
        "/api/v1/blocks",
        "/api/v1/followed_tags",
        "/api/v1/instance/rules",
        "/api/v1/trends/tags",
        "/api/v1/trends/statuses",
        "/api/v1/notifications",
        "/api/v2/notifications/policy",
        "/api/v1/markers?timeline[]=home&timeline[]=notifications",
        &format!("/api/v1/accounts/{}/featured_tags", alice.id),
        &format!("/api/v1/accounts/{}/lists", alice.id),
    ] {
        let (s, body) = app.get_json(path, Some(&alice.token)).await;
        assert_eq!(s, 200, "{path}: {body}");
    }
    let (_, prefs) = app
        .get_json("/api/v1/preferences", Some(&alice.token))
        .await;
    assert_eq!(prefs["posting:default:visibility"], "public");
    let (s, me) = app
        .get_json("/api/v1/apps/verify_credentials", Some(&alice.token))
        .await;
    assert_eq!(s, 200, "{me}");
    assert_eq!(me["name"], "tests");
    assert_eq!(
        app.get_json("/api/v1/apps/verify_credentials", None)
            .await
            .0,
        401
    );
}

async fn markers_remember_where_a_reader_left_off(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let alice = app.register("alice").await;
    let (_, none) = app.get_json("/api/v1/markers", Some(&alice.token)).await;
    assert_eq!(none, json!({}));
    // A form, as most clients send it.
    let res = app
        .http
        .post(app.url("/api/v1/markers"))
        .bearer_auth(&alice.token)
        .form(&[("home[last_read_id]", "103")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let set: Value = res.json().await.unwrap();
    assert_eq!(set["home"]["last_read_id"], "103");
    assert_eq!(set["home"]["version"], 1);
    // JSON, and the version counts up.
    let (s, set) = app
        .call(
            Method::POST,
            "/api/v1/markers",
            &alice.token,
            Some(json!({"home": {"last_read_id": "110"}, "notifications": {"last_read_id": 7}})),
        )
        .await;
    assert_eq!(s, 200, "{set}");
    assert_eq!(set["home"]["version"], 2);
    let (_, got) = app
        .get_json(
            "/api/v1/markers?timeline[]=notifications",
            Some(&alice.token),
        )
        .await;
    assert_eq!(got["notifications"]["last_read_id"], "7");
    assert!(got.get("home").is_none(), "{got}");
    // Bad input changes nothing.
    let (s, _) = app
        .call(
            Method::POST,
            "/api/v1/markers",
            &alice.token,
            Some(json!({"home": {"last_read_id": "soon"}})),
        )
        .await;
    assert_eq!(s, 422);
    let (s, _) = app
        .call(
            Method::POST,
            "/api/v1/markers",
            &alice.token,
            Some(json!({})),
        )
        .await;
    assert_eq!(s, 422);
    let (_, got) = app.get_json("/api/v1/markers", Some(&alice.token)).await;
    assert_eq!(got["home"]["last_read_id"], "110");
    // Each reader's own.
    let bob = app.register("bob").await;
    let (_, his) = app.get_json("/api/v1/markers", Some(&bob.token)).await;
    assert_eq!(his, json!({}));
}

async fn trends_and_counts_follow_what_is_posted(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let (alice, bob, carol) = (
        app.register("alice").await,
        app.register("bob").await,
        app.register("carol").await,
    );
    app.post(&alice, "Counting begins #election").await;
    app.post(&bob, "Queues here #election #rain").await;
    app.post(&carol, "Results soon #election").await;
    let hot = app.post(&carol, "First result #rain").await;
    app.post_with(
        &alice,
        json!({"status": "quiet #secretly", "visibility": "private"}),
    )
    .await;
    let (s, tags) = app.get_json("/api/v1/trends/tags", None).await;
    assert_eq!(s, 200, "{tags}");
    let names: Vec<&str> = tags
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["election", "rain"],
        "most accounts first; private tags never"
    );
    assert_eq!(tags[0]["history"][0]["accounts"], "3");
    assert_eq!(tags[0]["history"][0]["uses"], "3");
    assert_eq!(tags[0]["history"].as_array().unwrap().len(), 7);
    let (_, one) = app
        .get_json("/api/v1/trends/tags?limit=1&offset=1", None)
        .await;
    assert_eq!(one[0]["name"], "rain");

    app.call(
        Method::POST,
        &format!("/api/v1/statuses/{}/favourite", hot["id"].as_str().unwrap()),
        &bob.token,
        None,
    )
    .await;
    let (_, statuses) = app.get_json("/api/v1/trends/statuses", None).await;
    assert_eq!(statuses[0]["id"], hot["id"], "{statuses}");
    assert_eq!(statuses.as_array().unwrap().len(), 1);

    let (_, v1) = app.get_json("/api/v1/instance", None).await;
    assert_eq!(v1["stats"]["user_count"], 3);
    assert_eq!(v1["stats"]["status_count"], 5);
    let (_, v2) = app.get_json("/api/v2/instance", None).await;
    assert_eq!(v2["usage"]["users"]["active_month"], 3);
}

async fn links_in_entities_lead_somewhere(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let (alice, bob) = (app.register("alice").await, app.register("bob").await);
    let notice = app.post(&alice, "Hello #world").await;
    let secret = app
        .post_with(
            &alice,
            json!({"status": "followers only", "visibility": "private"}),
        )
        .await;
    let get = |url: String| {
        let http = app.http.clone();
        async move { http.get(url).send().await.unwrap() }
    };
    let avatar = get(notice["account"]["avatar"].as_str().unwrap().to_string()).await;
    assert_eq!(avatar.status(), 200);
    assert_eq!(avatar.headers()["content-type"], "image/png");
    assert!(avatar.bytes().await.unwrap().starts_with(b"\x89PNG"));
    let header = get(notice["account"]["header"].as_str().unwrap().to_string()).await;
    assert_eq!(header.status(), 200);
    for url in [
        notice["account"]["url"].as_str().unwrap(),
        notice["account"]["uri"].as_str().unwrap(),
    ] {
        let res = get(url.to_string()).await;
        assert_eq!(res.status(), 200, "{url}");
        let a: Value = res.json().await.unwrap();
        assert_eq!(a["username"], "alice");
    }
    for url in [
        notice["url"].as_str().unwrap(),
        notice["uri"].as_str().unwrap(),
    ] {
        let res = get(url.to_string()).await;
        assert_eq!(res.status(), 200, "{url}");
        let s: Value = res.json().await.unwrap();
        assert_eq!(s["id"], notice["id"]);
    }
    let tag = get(notice["tags"][0]["url"].as_str().unwrap().to_string()).await;
    assert_eq!(tag.status(), 200);
    // A private notice's address is 404 to those who may not see it.
    assert_eq!(
        get(secret["url"].as_str().unwrap().to_string())
            .await
            .status(),
        404
    );
    let with_token = app
        .http
        .get(secret["url"].as_str().unwrap())
        .bearer_auth(&alice.token)
        .send()
        .await
        .unwrap();
    assert_eq!(with_token.status(), 200);
    // Another's name on the path does not find it.
    let wrong = format!("{}/@bob/{}", app.base, notice["id"].as_str().unwrap());
    assert_eq!(get(wrong).await.status(), 404);
    assert_eq!(get(format!("{}/@nobody", app.base)).await.status(), 404);
    let _ = bob;
}

async fn a_bad_poll_or_unknown_media_is_refused_not_posted_without_it(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let alice = app.register("alice").await;
    let before = app
        .get_json(&format!("/api/v1/accounts/{}", alice.id), None)
        .await
        .1["statuses_count"]
        .clone();
    for body in [json!({"status": "with a photo", "media_ids": ["1"]})] {
        let (s, err) = app
            .call(
                Method::POST,
                "/api/v1/statuses",
                &alice.token,
                Some(body.clone()),
            )
            .await;
        assert_eq!(s, 422, "{body}: {err}");
        assert!(err["error"].as_str().unwrap().contains("media"), "{err}");
    }
    // A poll out of bounds is refused as a whole, not posted without its poll.
    for poll in [
        json!({"options": ["only one"], "expires_in": 3600}),
        json!({"options": ["a", "b", "c", "d", "e"], "expires_in": 3600}),
        json!({"options": ["a", "b"], "expires_in": 10}),
        json!({"options": ["a", "b"]}),
        json!({"options": ["a", "x".repeat(51)], "expires_in": 3600}),
    ] {
        let (s, err) = app
            .call(
                Method::POST,
                "/api/v1/statuses",
                &alice.token,
                Some(json!({"status": "which?", "poll": poll.clone()})),
            )
            .await;
        assert_eq!(s, 422, "{poll}: {err}");
    }
    let after = app
        .get_json(&format!("/api/v1/accounts/{}", alice.id), None)
        .await
        .1["statuses_count"]
        .clone();
    assert_eq!(before, after, "nothing was posted");
    let (_, timeline) = app.get_json("/api/v1/timelines/public", None).await;
    assert_eq!(timeline, json!([]));
}

async fn a_profile_is_edited_safely_and_its_defaults_apply(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let alice = app.register("alice").await;
    // As a form, the way most apps send it.
    let res = app
        .http
        .patch(app.url("/api/v1/accounts/update_credentials"))
        .bearer_auth(&alice.token)
        .form(&[
            ("display_name", "Alice Reports"),
            ("note", "Covering the count <script>alert(1)</script>"),
            ("bot", "0"),
            ("fields_attributes[0][name]", "Desk"),
            ("fields_attributes[0][value]", "Politics"),
            ("fields_attributes[1][name]", "Site"),
            ("fields_attributes[1][value]", "https://news.example/alice"),
            ("source[privacy]", "unlisted"),
            ("source[language]", "de"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let me: Value = res.json().await.unwrap();
    assert_eq!(me["display_name"], "Alice Reports");
    let note = me["note"].as_str().unwrap();
    assert!(!note.contains("<script>"), "{note}");
    assert!(note.contains("&lt;script&gt;"), "{note}");
    assert_eq!(
        me["source"]["note"],
        "Covering the count <script>alert(1)</script>"
    );
    assert_eq!(me["fields"][0]["name"], "Desk");
    assert_eq!(me["fields"][1]["name"], "Site");
    assert!(
        me["fields"][1]["value"]
            .as_str()
            .unwrap()
            .contains("<a href")
    );
    assert_eq!(me["source"]["privacy"], "unlisted");
    // The public profile shows it; a new notice takes the defaults.
    let (_, public) = app
        .get_json(&format!("/api/v1/accounts/{}", alice.id), None)
        .await;
    assert_eq!(public["display_name"], "Alice Reports");
    let n = app.post(&alice, "Polls are open").await;
    assert_eq!(n["visibility"], "unlisted");
    assert_eq!(n["language"], "de");
    // JSON too; a second edit keeps what it does not name.
    let (s, me) = app
        .call(
            Method::PATCH,
            "/api/v1/accounts/update_credentials",
            &alice.token,
            Some(json!({"bot": true, "source": {"privacy": "public"}})),
        )
        .await;
    assert_eq!(s, 200, "{me}");
    assert_eq!(me["bot"], true);
    assert_eq!(me["display_name"], "Alice Reports");
    assert_eq!(me["fields"].as_array().unwrap().len(), 2);
    // Bad input changes nothing.
    for body in [
        json!({"display_name": "x".repeat(31)}),
        json!({"note": "x".repeat(501)}),
        json!({"source": {"privacy": "direct"}}),
        json!({"source": {"language": "klingon"}}),
        json!({"fields_attributes": [{"name":"a","value":"1"},{"name":"b","value":"2"},{"name":"c","value":"3"},{"name":"d","value":"4"},{"name":"e","value":"5"}]}),
    ] {
        let (s, err) = app
            .call(
                Method::PATCH,
                "/api/v1/accounts/update_credentials",
                &alice.token,
                Some(body.clone()),
            )
            .await;
        assert_eq!(s, 422, "{body}: {err}");
        assert!(err["error"].is_string());
    }
    let avatar = reqwest::multipart::Form::new().part(
        "avatar",
        reqwest::multipart::Part::bytes(b"\x89PNG not really".to_vec()).file_name("me.png"),
    );
    let res = app
        .http
        .patch(app.url("/api/v1/accounts/update_credentials"))
        .bearer_auth(&alice.token)
        .multipart(avatar)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    let (_, me) = app
        .get_json("/api/v1/accounts/verify_credentials", Some(&alice.token))
        .await;
    assert_eq!(me["display_name"], "Alice Reports");
    assert_eq!(me["source"]["privacy"], "public");
    assert_eq!(me["fields"].as_array().unwrap().len(), 2);
    assert_eq!(me["locked"], false);
}
