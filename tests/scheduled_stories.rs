//! A reporter schedules the notice that goes out when the embargo lifts: it appears at its
//! time, not before, exactly once however many nodes run, and not at all if she drops it.

mod common;

use common::redis::Cluster;
use common::{Backend, STARTUP, TestApp, User, eventually, spawn_with};
use reqwest::Method;
use serde_json::{Value, json};
use std::time::Duration;

on_both_backends!(a_scheduled_notice_goes_out_at_its_time_and_not_before);

fn in_secs(s: i64) -> String {
    tidings::domain::iso8601(tidings::domain::now_micros() + s * 1_000_000)
}

async fn public_texts(app: &TestApp) -> Vec<String> {
    let (_, tl) = app.get_json("/api/v1/timelines/public", None).await;
    tl.as_array()
        .unwrap()
        .iter()
        .map(|s| s["content"].as_str().unwrap().to_string())
        .collect()
}

async fn schedule(app: &TestApp, who: &User, text: &str, at: &str) -> (u16, Value) {
    app.call(
        Method::POST,
        "/api/v1/statuses",
        &who.token,
        Some(json!({"status": text, "scheduled_at": at})),
    )
    .await
}

async fn a_scheduled_notice_goes_out_at_its_time_and_not_before(b: Backend) {
    let Some(app) = spawn_with(b, |c| c.schedule_min_ahead_secs = 1).await else {
        return;
    };
    let ann = app.register("ann").await;
    let (s, sched) = schedule(&app, &ann, "Embargo lifted: results", &in_secs(3)).await;
    assert_eq!(s, 200, "{sched}");
    assert_eq!(sched["params"]["text"], "Embargo lifted: results");
    assert!(
        sched.get("content").is_none(),
        "a ScheduledStatus, not a Status"
    );
    let (s, dropped) = schedule(&app, &ann, "never mind", &in_secs(3)).await;
    assert_eq!(s, 200);
    assert!(
        public_texts(&app).await.is_empty(),
        "nothing before its time"
    );
    let (_, list) = app
        .get_json("/api/v1/scheduled_statuses", Some(&ann.token))
        .await;
    assert_eq!(list.as_array().unwrap().len(), 2);
    // Dropped, it never goes out; moved, it goes out at its new time.
    let did = dropped["id"].as_str().unwrap();
    let other = app.register("other").await;
    let (s, _) = app
        .call(
            Method::DELETE,
            &format!("/api/v1/scheduled_statuses/{did}"),
            &other.token,
            None,
        )
        .await;
    assert_eq!(s, 404, "not hers to drop");
    let (s, _) = app
        .call(
            Method::DELETE,
            &format!("/api/v1/scheduled_statuses/{did}"),
            &ann.token,
            None,
        )
        .await;
    assert_eq!(s, 200);
    let sid = sched["id"].as_str().unwrap();
    let (s, moved) = app
        .call(
            Method::PUT,
            &format!("/api/v1/scheduled_statuses/{sid}"),
            &ann.token,
            Some(json!({"scheduled_at": in_secs(4)})),
        )
        .await;
    assert_eq!(s, 200, "{moved}");
    eventually(
        "the scheduled notice to be posted",
        Duration::from_secs(15),
        || async {
            let texts = public_texts(&app).await;
            (!texts.is_empty()).then_some(texts)
        },
    )
    .await;
    // The dropped one was due before the one that went out (due notices go in order):
    // had it been kept, it would be there by now.
    let texts = public_texts(&app).await;
    assert_eq!(texts.len(), 1, "{texts:?}");
    assert!(texts[0].contains("Embargo lifted"));
    let (_, list) = app
        .get_json("/api/v1/scheduled_statuses", Some(&ann.token))
        .await;
    assert_eq!(list, json!([]));
    // Too soon, or not a time: 422, and nothing is kept.
    for at in ["2001-01-01T00:00:00Z", "tomorrow", &in_secs(0)] {
        let (s, err) = schedule(&app, &ann, "x", at).await;
        assert_eq!(s, 422, "{at}: {err}");
    }
    let (_, list) = app
        .get_json("/api/v1/scheduled_statuses", Some(&ann.token))
        .await;
    assert_eq!(list, json!([]));
}

/// Three nodes run the scheduler; the notice goes out once. One of them is stopped right
/// after it took the notice in: the others still post it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(all(tidings_postgres, tidings_redis)),
    ignore = "needs TIDINGS_TEST_DATABASE_URL and redis-server"
)]
async fn a_scheduled_notice_goes_out_once_across_nodes() {
    let Some(cluster) = Cluster::start().await else {
        return;
    };
    let tweak = |c: &mut tidings::config::Config| c.schedule_min_ahead_secs = 1;
    let (a, b, c) = (
        cluster.node(tweak).await,
        cluster.node(tweak).await,
        cluster.node(tweak).await,
    );
    let ann = c.register("ann").await;
    let (s, _) = schedule(&c, &ann, "once only", &in_secs(3)).await;
    assert_eq!(s, 200);
    // A later one is the fence: once it is out, every node has had its turns at the first.
    let (s, _) = schedule(&c, &ann, "fence", &in_secs(6)).await;
    assert_eq!(s, 200);
    c.stop();
    eventually("both notices to be posted", STARTUP, || async {
        let texts = public_texts(&a).await;
        texts.iter().any(|t| t.contains("fence")).then_some(())
    })
    .await;
    let texts = public_texts(&b).await;
    assert_eq!(
        texts.iter().filter(|t| t.contains("once only")).count(),
        1,
        "{texts:?}"
    );
    let (_, me) = a
        .get_json(&format!("/api/v1/accounts/{}", ann.id), None)
        .await;
    assert_eq!(me["statuses_count"], 2);
}
