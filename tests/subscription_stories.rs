//! Being told: an editor asks to hear of each new notice of a reporter (`notify` on
//! follow: `status` notifications), voters hear when a poll has ended (`poll`), and a
//! profile's photos are one filter away (`only_media`).

mod common;

use common::{Backend, SseReader, WAIT, spawn};
use reqwest::Method;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

on_both_backends!(
    a_subscribed_follower_hears_of_each_new_notice,
    voters_and_the_author_hear_when_a_poll_ends,
    only_media_keeps_the_notices_with_images
);

async fn a_subscribed_follower_hears_of_each_new_notice(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let (editor, reporter, other) = (
        app.register("editor").await,
        app.register("reporter").await,
        app.register("other").await,
    );
    let (s, rel) = app
        .call(
            Method::POST,
            &format!("/api/v1/accounts/{}/follow", reporter.id),
            &editor.token,
            Some(json!({"notify": true})),
        )
        .await;
    assert_eq!(s, 200, "{rel}");
    assert_eq!(rel["notifying"], true);
    assert_eq!(rel["following"], true);
    let (_, rels) = app
        .get_json(
            &format!("/api/v1/accounts/relationships?id[]={}", reporter.id),
            Some(&editor.token),
        )
        .await;
    assert_eq!(rels[0]["notifying"], true);

    let (_, _, sse) = SseReader::open(
        &app,
        "/api/v1/streaming/user/notification",
        None,
        Some(&editor.token),
    )
    .await;
    let mut sse = sse.unwrap();
    let first = app.post(&reporter, "Counting has begun").await;
    // A reply to someone else tells no one; a reblog neither.
    let theirs = app.post(&other, "Any numbers?").await;
    app.post_with(
        &reporter,
        json!({"status": "@other soon", "in_reply_to_id": theirs["id"]}),
    )
    .await;
    let (s, _) = app
        .call(
            Method::POST,
            &format!("/api/v1/statuses/{}/reblog", theirs["id"].as_str().unwrap()),
            &reporter.token,
            None,
        )
        .await;
    assert_eq!(s, 200);
    let second = app.post(&reporter, "First district in").await;
    for want in [&first, &second] {
        let e = loop {
            let e = sse.next(WAIT).await.expect("a notification in time");
            if e.event == "notification" {
                break e;
            }
        };
        let n: Value = serde_json::from_str(&e.data).unwrap();
        assert_eq!(n["type"], "status", "{n}");
        assert_eq!(n["status"]["id"], want["id"]);
        assert_eq!(n["account"]["username"], "reporter");
    }
    let (_, list) = app
        .get_json("/api/v1/notifications?types[]=status", Some(&editor.token))
        .await;
    assert_eq!(list.as_array().unwrap().len(), 2, "{list}");

    // Turned off: no more.
    let (s, rel) = app
        .call(
            Method::POST,
            &format!("/api/v1/accounts/{}/follow", reporter.id),
            &editor.token,
            Some(json!({"notify": false})),
        )
        .await;
    assert_eq!((s, &rel["notifying"]), (200, &json!(false)));
    app.post(&reporter, "Third district in").await;
    let (_, list) = app
        .get_json("/api/v1/notifications?types[]=status", Some(&editor.token))
        .await;
    assert_eq!(list.as_array().unwrap().len(), 2);
}

/// Let a poll's time run out now, as if its minutes had passed.
async fn end_poll(app: &common::TestApp, poll: &str) {
    app.write_in_database(format!(
        "UPDATE polls SET expires_at = {} WHERE id = {}",
        tidings::domain::now_micros() - 1_000_000,
        poll.parse::<i64>().unwrap()
    ))
    .await;
}

async fn voters_and_the_author_hear_when_a_poll_ends(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let (author, voter, bystander) = (
        app.register("author").await,
        app.register("voter").await,
        app.register("bystander").await,
    );
    let s = app
        .post_with(
            &author,
            json!({"status": "Who wins the district?",
                   "poll": {"options": ["Left", "Right"], "expires_in": 300}}),
        )
        .await;
    let poll = s["poll"]["id"].as_str().unwrap().to_string();
    let (code, _) = app
        .call(
            Method::POST,
            &format!("/api/v1/polls/{poll}/votes"),
            &voter.token,
            Some(json!({"choices": [1]})),
        )
        .await;
    assert_eq!(code, 200);
    end_poll(&app, &poll).await;
    for who in [&voter, &author] {
        let list = common::eventually("the poll's end to be told", WAIT, || async {
            let (_, l) = app
                .get_json("/api/v1/notifications?types[]=poll", Some(&who.token))
                .await;
            (l.as_array().unwrap().len() == 1).then_some(l)
        })
        .await;
        assert_eq!(list[0]["type"], "poll");
        assert_eq!(list[0]["status"]["id"], s["id"]);
        assert_eq!(list[0]["status"]["poll"]["expired"], true);
        assert_eq!(list[0]["account"]["username"], "author");
    }
    let (_, none) = app
        .get_json("/api/v1/notifications", Some(&bystander.token))
        .await;
    assert_eq!(none, json!([]));
    // Told once: another round of the scheduler finds nothing more to tell.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let (_, list) = app
        .get_json("/api/v1/notifications?types[]=poll", Some(&voter.token))
        .await;
    assert_eq!(list.as_array().unwrap().len(), 1);
}

async fn only_media_keeps_the_notices_with_images(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let ann = app.register("ann").await;
    let mut png = std::io::Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(image::RgbImage::new(4, 4))
        .write_to(&mut png, image::ImageFormat::Png)
        .unwrap();
    let res = app
        .http
        .post(app.url("/api/v2/media"))
        .bearer_auth(&ann.token)
        .multipart(Form::new().part("file", Part::bytes(png.into_inner()).file_name("a.png")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let media: Value = res.json().await.unwrap();
    let with = app
        .post_with(
            &ann,
            json!({"status": "the queue", "media_ids": [media["id"]]}),
        )
        .await;
    app.post(&ann, "words only").await;
    let (_, list) = app
        .get_json(
            &format!("/api/v1/accounts/{}/statuses?only_media=true", ann.id),
            None,
        )
        .await;
    let ids: Vec<&Value> = list.as_array().unwrap().iter().map(|s| &s["id"]).collect();
    assert_eq!(ids, vec![&with["id"]]);
}
