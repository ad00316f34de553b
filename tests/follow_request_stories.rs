//! A locked account decides who follows her: a follow waits as a request, she is told,
//! and she authorizes or rejects it; her followers-only notices reach only those she let in.

mod common;

use common::{Backend, spawn};
use reqwest::Method;
use serde_json::json;

on_both_backends!(a_locked_account_answers_follow_requests);

async fn a_locked_account_answers_follow_requests(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let (src, bob, eve) = (
        app.register("source").await,
        app.register("bob").await,
        app.register("eve").await,
    );
    let (s, me) = app
        .call(
            Method::PATCH,
            "/api/v1/accounts/update_credentials",
            &src.token,
            Some(json!({"locked": true})),
        )
        .await;
    assert_eq!(s, 200, "{me}");
    assert_eq!(me["locked"], true);
    let secret = app
        .post_with(
            &src,
            json!({"status": "off the record", "visibility": "private"}),
        )
        .await;

    for who in [&bob, &eve] {
        let (s, rel) = app
            .call(
                Method::POST,
                &format!("/api/v1/accounts/{}/follow", src.id),
                &who.token,
                None,
            )
            .await;
        assert_eq!(s, 200);
        assert_eq!(rel["following"], false, "{rel}");
        assert_eq!(rel["requested"], true);
    }
    let (_, n) = app
        .get_json("/api/v1/notifications", Some(&src.token))
        .await;
    assert_eq!(n.as_array().unwrap().len(), 2);
    assert_eq!(n[0]["type"], "follow_request");
    let (_, asking) = app
        .get_json("/api/v1/follow_requests", Some(&src.token))
        .await;
    assert_eq!(asking.as_array().unwrap().len(), 2);
    // Not yet let in: the private notice is not theirs to see.
    let path = format!("/api/v1/statuses/{}", secret["id"].as_str().unwrap());
    assert_eq!(app.get_json(&path, Some(&bob.token)).await.0, 404);

    let (s, rel) = app
        .call(
            Method::POST,
            &format!("/api/v1/follow_requests/{}/authorize", bob.id),
            &src.token,
            None,
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(rel["followed_by"], true, "{rel}");
    let (s, _) = app
        .call(
            Method::POST,
            &format!("/api/v1/follow_requests/{}/reject", eve.id),
            &src.token,
            None,
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(app.get_json(&path, Some(&bob.token)).await.0, 200);
    assert_eq!(app.get_json(&path, Some(&eve.token)).await.0, 404);
    let (_, asking) = app
        .get_json("/api/v1/follow_requests", Some(&src.token))
        .await;
    assert_eq!(asking, json!([]));
    let (_, n) = app
        .get_json("/api/v1/notifications", Some(&src.token))
        .await;
    assert_eq!(
        n,
        json!([]),
        "answered requests leave no notification behind"
    );
    let (_, acct) = app
        .get_json(&format!("/api/v1/accounts/{}", src.id), None)
        .await;
    assert_eq!(acct["followers_count"], 1);
    // Only a pending request can be answered; a withdrawn one is gone.
    let (s, _) = app
        .call(
            Method::POST,
            &format!("/api/v1/follow_requests/{}/authorize", eve.id),
            &src.token,
            None,
        )
        .await;
    assert_eq!(s, 404);
    app.call(
        Method::POST,
        &format!("/api/v1/accounts/{}/follow", src.id),
        &eve.token,
        None,
    )
    .await;
    app.call(
        Method::POST,
        &format!("/api/v1/accounts/{}/unfollow", src.id),
        &eve.token,
        None,
    )
    .await;
    let (_, asking) = app
        .get_json("/api/v1/follow_requests", Some(&src.token))
        .await;
    assert_eq!(asking, json!([]));
}
