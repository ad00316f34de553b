//! Stories of the smaller promises: an Idempotency-Key names its notice for an hour and
//! only while it exists; paging links never repeat a token; answers that may hold what
//! only their reader may see are never kept by a shared cache; /metrics can be closed.

mod common;

use common::{Backend, spawn, spawn_with};
use reqwest::Method;
use serde_json::json;

on_both_backends!(
    an_idempotency_key_posts_anew_after_its_notice_is_deleted,
    a_link_header_never_repeats_an_access_token,
    answers_to_a_token_holder_are_private_to_her,
    metrics_can_be_closed_behind_a_token,
    an_admin_may_delete_but_never_edit_or_read_the_source_of_anothers_notice,
    instance_activity_counts_this_weeks_notices_sign_ins_and_sign_ups,
);

async fn instance_activity_counts_this_weeks_notices_sign_ins_and_sign_ups(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let (ann, bob) = (app.register("ann").await, app.register("bob").await);
    app.post(&ann, "one").await;
    let gone = app.post(&bob, "two").await;
    app.post(&bob, "three").await;
    let (s, _) = app
        .call(
            reqwest::Method::DELETE,
            &format!("/api/v1/statuses/{}", gone["id"].as_str().unwrap()),
            &bob.token,
            None,
        )
        .await;
    assert_eq!(s, 200);
    let (s, weeks) = app.get_json("/api/v1/instance/activity", None).await;
    assert_eq!(s, 200);
    let weeks = weeks.as_array().unwrap();
    assert_eq!(weeks.len(), 12);
    assert_eq!(weeks[0]["statuses"], "2", "{weeks:?}");
    assert_eq!(weeks[0]["registrations"], "2");
    assert_eq!(weeks[0]["logins"], "2");
    assert_eq!(weeks[1]["statuses"], "0");
    let this: i64 = weeks[0]["week"].as_str().unwrap().parse().unwrap();
    let last: i64 = weeks[1]["week"].as_str().unwrap().parse().unwrap();
    assert_eq!(this - last, 7 * 86_400);
    let (s, peers) = app.get_json("/api/v1/instance/peers", None).await;
    assert_eq!((s, peers), (200, serde_json::json!([])));
}

async fn an_admin_may_delete_but_never_edit_or_read_the_source_of_anothers_notice(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let (ann, admin) = (app.register("ann").await, app.register("nightshift").await);
    app.make_admin(&admin).await;
    let s = app.post(&ann, "the original words").await;
    let id = s["id"].as_str().unwrap();
    let (status, _) = app
        .call(
            Method::PUT,
            &format!("/api/v1/statuses/{id}"),
            &admin.token,
            Some(json!({"status": "words put in her mouth"})),
        )
        .await;
    assert_eq!(status, 404, "an admin cannot edit another's notice");
    let (status, _) = app
        .get_json(&format!("/api/v1/statuses/{id}/source"), Some(&admin.token))
        .await;
    assert_eq!(status, 404, "nor read its source");
    let (_, now) = app.get_json(&format!("/api/v1/statuses/{id}"), None).await;
    assert!(now["content"].as_str().unwrap().contains("original words"));
    let (status, _) = app
        .call(
            Method::DELETE,
            &format!("/api/v1/statuses/{id}"),
            &admin.token,
            None,
        )
        .await;
    assert_eq!(status, 200, "but may remove it");
}

async fn an_idempotency_key_posts_anew_after_its_notice_is_deleted(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let ann = app.register("ann").await;
    let post = || {
        app.http
            .post(app.url("/api/v1/statuses"))
            .bearer_auth(&ann.token)
            .header("Idempotency-Key", "tap-twice")
            .json(&json!({"status": "the bridge is closed"}))
            .send()
    };
    let first: serde_json::Value = post().await.unwrap().json().await.unwrap();
    let again: serde_json::Value = post().await.unwrap().json().await.unwrap();
    assert_eq!(first["id"], again["id"], "a repeated tap posts once");
    let id = first["id"].as_str().unwrap();
    app.call(
        Method::DELETE,
        &format!("/api/v1/statuses/{id}"),
        &ann.token,
        None,
    )
    .await;
    let res = post().await.unwrap();
    assert_eq!(res.status(), 200, "not a 404 forever");
    let third: serde_json::Value = res.json().await.unwrap();
    assert_ne!(third["id"], first["id"]);
}

async fn a_link_header_never_repeats_an_access_token(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let ann = app.register("ann").await;
    app.post(&ann, "one").await;
    app.post(&ann, "two").await;
    let res = app
        .http
        .get(app.url(&format!(
            "/api/v1/timelines/home?limit=1&access_token={}",
            ann.token
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let link = res.headers()["link"].to_str().unwrap().to_string();
    assert!(link.contains("limit=1"), "{link}");
    assert!(
        !link.contains(&ann.token) && !link.contains("access_token"),
        "{link}"
    );
}

async fn answers_to_a_token_holder_are_private_to_her(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let ann = app.register("ann").await;
    app.post_with(
        &ann,
        json!({"status": "followers", "visibility": "private"}),
    )
    .await;
    let res = app
        .http
        .get(app.url(&format!("/api/v1/accounts/{}/statuses", ann.id)))
        .bearer_auth(&ann.token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["cache-control"], "private");
    let res = app
        .http
        .get(app.url("/api/v1/timelines/public"))
        .send()
        .await
        .unwrap();
    assert!(
        res.headers()
            .get("cache-control")
            .is_none_or(|v| v != "private")
    );
}

async fn metrics_can_be_closed_behind_a_token(b: Backend) {
    let Some(app) = spawn_with(b, |c| c.metrics_token = Some("scrape-me".into())).await else {
        return;
    };
    let res = app.http.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(res.status(), 401);
    let res = app
        .http
        .get(app.url("/metrics"))
        .bearer_auth("wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let res = app
        .http
        .get(app.url("/metrics"))
        .bearer_auth("scrape-me")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().contains("tidings_"));
}
