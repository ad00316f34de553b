//! Stories of several nodes sharing Postgres and Redis: a notice posted on one node
//! reaches readers on every node, and nothing acknowledged is lost when Redis goes away
//! or a node dies between commit and publish.

mod common;

use common::redis::{self, RedisServer};
use common::{
    Backend, STARTUP, SseReader, TestApp, WAIT, eventually, spawn_on, ws_connect, ws_next, ws_send,
};
use futures::StreamExt;
use serde_json::{Value, json};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

const SUBSCRIPTIONS: &str = "tidings_subscriptions";

/// A fresh Postgres database and a Redis of the test's own, or `None` (announced).
async fn services() -> Option<(String, RedisServer)> {
    if !redis::available() {
        return None;
    }
    let url = common::fresh_postgres_database().await?;
    Some((url, RedisServer::start().await))
}

async fn node(db: &str, redis: &RedisServer, prefix: &str) -> TestApp {
    let (r, p) = (redis.url(), prefix.to_string());
    spawn_on(Backend::Postgres, db, None, move |c| {
        c.redis_url = Some(r);
        c.redis_prefix = p;
    })
    .await
}

fn prefix() -> String {
    format!("t{}", hex::encode(rand::random::<[u8; 4]>()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(all(tidings_postgres, tidings_redis)),
    ignore = "needs TIDINGS_TEST_DATABASE_URL and redis-server"
)]
async fn a_notice_posted_on_one_node_reaches_readers_on_the_others() {
    let Some((db, redis)) = services().await else {
        return;
    };
    let p = prefix();
    let (a, b, c) = (
        node(&db, &redis, &p).await,
        node(&db, &redis, &p).await,
        node(&db, &redis, &p).await,
    );
    let ann = a.register("ann").await;
    let mut ws_b = ws_connect(&b, None).await;
    ws_send(
        &mut ws_b,
        json!({"type": "subscribe", "stream": "hashtag", "tag": "vote"}),
    )
    .await;
    let (_, _, sse_c) = SseReader::open(&c, "/api/v1/streaming/hashtag?tag=vote", None, None).await;
    let mut sse_c = sse_c.unwrap();
    b.until_counter(SUBSCRIPTIONS, 1).await;
    c.until_counter(SUBSCRIPTIONS, 1).await;
    let s = a.post(&ann, "Turnout at 64% #vote").await;
    let f = ws_next(&mut ws_b, WAIT)
        .await
        .expect("node B's WebSocket reader gets it");
    assert!(
        f["payload"]
            .as_str()
            .unwrap()
            .contains(s["id"].as_str().unwrap())
    );
    let ev = sse_c.next(WAIT).await.expect("node C's SSE reader gets it");
    assert_eq!(
        ev.id.as_deref(),
        f["id"].as_str(),
        "the same position everywhere"
    );
    let (_, health) = b.get_json("/health", None).await;
    assert_eq!(health["bus"], json!({"kind": "redis", "state": "ok"}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(all(tidings_postgres, tidings_redis)),
    ignore = "needs TIDINGS_TEST_DATABASE_URL and redis-server"
)]
async fn redis_going_away_for_seconds_loses_no_acknowledged_notice() {
    let Some((db, mut redis)) = services().await else {
        return;
    };
    let p = prefix();
    let (a, b) = (node(&db, &redis, &p).await, node(&db, &redis, &p).await);
    let ann = a.register("ann").await;
    let readers = [
        SseReader::open(&a, "/api/v1/streaming/public", None, None)
            .await
            .2
            .unwrap(),
        SseReader::open(&b, "/api/v1/streaming/public", None, None)
            .await
            .2
            .unwrap(),
    ];
    let mut ws = ws_connect(&b, None).await;
    ws_send(&mut ws, json!({"type": "subscribe", "stream": "public"})).await;
    a.until_counter(SUBSCRIPTIONS, 1).await;
    b.until_counter(SUBSCRIPTIONS, 2).await;

    // Post at a steady rate on both nodes; Redis is down from 0.6 s to 3 s.
    let total = 60;
    let mut acked = Vec::new();
    let started = tokio::time::Instant::now();
    for i in 0..total {
        if i == 12 {
            redis.stop();
        }
        if i == 40 {
            // Redis is down (the bus has noticed by now): the node is degraded but still
            // ready, so a load balancer keeps sending it readers and posts.
            let (ready, health) = b.get_json("/health/ready", None).await;
            assert_eq!(ready, 200, "ready while Redis is down: {health}");
            assert_eq!(health["bus"]["state"], "down", "{health}");
            assert_eq!(health["status"], "degraded");
            let live = b.http.get(b.url("/health/live")).send().await.unwrap();
            assert_eq!(live.status(), 200);
        }
        if i == 48 {
            redis.start_again().await;
        }
        let node = if i % 2 == 0 { &a } else { &b };
        let res = node
            .http
            .post(node.url("/api/v1/statuses"))
            .bearer_auth(&ann.token)
            .json(&json!({"status": format!("n{i}")}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "posting works while Redis is down");
        let s: Value = res.json().await.unwrap();
        acked.push(s["id"].as_str().unwrap().to_string());
        // The steady rate: the outage falls between posts, not around them.
        tokio::time::sleep_until(started + Duration::from_millis(50 * (i as u64 + 1))).await;
    }
    // Posted after every other notice: each reader gets it right after the last one.
    let marker = a.post(&ann, "marker").await;
    let expected: Vec<i64> = (1..=total as i64).collect();
    for (n, mut r) in readers.into_iter().enumerate() {
        let mut positions = Vec::new();
        let mut ids = Vec::new();
        while positions.len() < total {
            let ev = r
                .next(Duration::from_secs(15))
                .await
                .unwrap_or_else(|| panic!("SSE reader {n} stalled at {}", positions.len()));
            positions.push(ev.id.unwrap().parse::<i64>().unwrap());
            ids.push(
                serde_json::from_str::<Value>(&ev.data).unwrap()["id"]
                    .as_str()
                    .unwrap()
                    .to_string(),
            );
        }
        assert_eq!(
            positions, expected,
            "reader {n}: every position once, in order"
        );
        assert_eq!(ids, acked, "reader {n}: every acknowledged notice");
        let next = r.next(WAIT).await.expect("the marker arrives");
        assert!(
            next.data.contains(marker["id"].as_str().unwrap()),
            "reader {n}: no duplicates: {next:?}"
        );
    }
    let mut ws_positions = Vec::new();
    while ws_positions.len() < total {
        let f = ws_next(&mut ws, Duration::from_secs(15))
            .await
            .expect("the WebSocket reader goes on");
        ws_positions.push(f["id"].as_str().unwrap().parse::<i64>().unwrap());
    }
    assert_eq!(ws_positions, expected);
    let metrics = b.metrics().await;
    assert!(metrics.contains("tidings_catch_ups_total"), "{metrics}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(all(tidings_postgres, tidings_redis)),
    ignore = "needs TIDINGS_TEST_DATABASE_URL and redis-server"
)]
async fn a_node_that_dies_between_commit_and_publish_loses_nothing() {
    let Some((db, redis)) = services().await else {
        return;
    };
    let p = prefix();
    // Node A is a real process that exits right after positions are committed.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut a_proc = std::process::Command::new(env!("CARGO_BIN_EXE_tidings"))
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .env("DATABASE_URL", &db)
        .env("REDIS_URL", redis.url())
        .env("TIDINGS_REDIS_PREFIX", &p)
        .env("TIDINGS_FAULT_EXIT_BEFORE_PUBLISH", "1")
        .env("RUST_LOG", "warn")
        .spawn()
        .unwrap();
    let a_base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    eventually("node A to answer", STARTUP, || async {
        http.get(format!("{a_base}/health")).send().await.ok()
    })
    .await;
    // Node B starts second, so A holds the sequencer lease.
    let b = node(&db, &redis, &p).await;
    let mut raw = tokio::net::TcpStream::connect(("127.0.0.1", redis.port))
        .await
        .unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut raw, format!("SUBSCRIBE {p}:events\r\n").as_bytes())
        .await
        .unwrap();
    let mut seen = Vec::new();
    let subscribed = format!("{p}:events\r\n:1\r\n");
    read_until(
        &mut raw,
        &mut seen,
        &subscribed,
        "Redis to confirm the SUBSCRIBE",
    )
    .await;
    let ann = b.register("ann").await;
    let (_, _, reader) = SseReader::open(&b, "/api/v1/streaming/public", None, None).await;
    let mut reader = reader.unwrap();
    b.until_counter(SUBSCRIPTIONS, 1).await;

    let res = http
        .post(format!("{a_base}/api/v1/statuses"))
        .bearer_auth(&ann.token)
        .json(&json!({"status": "acknowledged, then the node died"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let s: Value = res.json().await.unwrap();
    let status = tokio::task::spawn_blocking(move || a_proc.wait().unwrap())
        .await
        .unwrap();
    assert_eq!(status.code(), Some(86), "node A died at the injected fault");

    let ev = reader
        .next(Duration::from_secs(10))
        .await
        .expect("B takes over and the notice arrives");
    assert!(ev.data.contains(s["id"].as_str().unwrap()));
    assert_eq!(ev.id.as_deref(), Some("1"));
    b.post(&ann, "marker").await;
    let next = reader.next(WAIT).await.expect("the marker arrives");
    assert_eq!(next.id.as_deref(), Some("2"), "once: {next:?}");
    // And it went through Redis: B's sequencer republished what A had not.
    read_until(
        &mut raw,
        &mut seen,
        "\"position\":1",
        "position 1 published on Redis",
    )
    .await;
}

/// Read `raw` into `seen` until it holds `text`; panic naming `what` after `WAIT`.
async fn read_until(raw: &mut tokio::net::TcpStream, seen: &mut Vec<u8>, text: &str, what: &str) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !String::from_utf8_lossy(seen).contains(text) {
        let mut buf = [0u8; 4096];
        let n = tokio::time::timeout_at(deadline, tokio::io::AsyncReadExt::read(raw, &mut buf))
            .await
            .unwrap_or_else(|_| panic!("waited {WAIT:?} for {what}, in vain"))
            .unwrap();
        assert!(n > 0, "Redis hung up while waiting for {what}");
        seen.extend_from_slice(&buf[..n]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(all(tidings_postgres, tidings_redis)),
    ignore = "needs TIDINGS_TEST_DATABASE_URL and redis-server"
)]
async fn a_transaction_that_commits_late_is_not_skipped_by_readers() {
    use sqlx::Connection;
    let Some(db) = common::fresh_postgres_database().await else {
        return;
    };
    let app = spawn_on(Backend::Postgres, &db, None, |_| {}).await;
    let ann = app.register("ann").await;
    let (_, _, reader) = SseReader::open(&app, "/api/v1/streaming/public", None, None).await;
    let mut reader = reader.unwrap();
    app.until_counter(SUBSCRIPTIONS, 1).await;

    // A slow writer takes its event id first, and commits last.
    let mut slow = sqlx::PgConnection::connect(&db).await.unwrap();
    let mut tx = slow.begin().await.unwrap();
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO events (kind, payload, streams, created_at) VALUES ('update', '{\"late\":true}', 'public', 0) RETURNING id",
    )
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    assert!(id > 0);

    app.post(&ann, "the quick writer").await;
    let first = reader.next(WAIT).await.expect("the quick writer's notice");
    assert_eq!(first.id.as_deref(), Some("1"));
    tx.commit().await.unwrap();
    let late = reader
        .next(WAIT)
        .await
        .expect("the late commit is delivered, not skipped");
    assert_eq!(
        (late.id.as_deref(), late.data.as_str()),
        (Some("2"), "{\"late\":true}")
    );

    // A reader resuming from what she saw first also gets it.
    let (_, _, resumed) = SseReader::open(&app, "/api/v1/streaming/public", Some("1"), None).await;
    let again = resumed.unwrap().next(WAIT).await.unwrap();
    assert_eq!(again.data, "{\"late\":true}");
}

/// Ask this test's own Redis to hold every write command, `PUBLISH` included, for `ms`.
/// After a blip every reader of an event page resumes from the same position at once.
/// They share reads of the stream's history instead of making one each, and each still
/// gets exactly what she missed. (Postgres: a lock on `event_streams` holds the first
/// read until all of them have asked.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(all(tidings_postgres, tidings_redis)),
    ignore = "needs TIDINGS_TEST_DATABASE_URL and redis-server"
)]
async fn a_storm_of_resumes_from_one_position_shares_its_database_reads() {
    use sqlx::Connection;
    let Some(db) = common::fresh_postgres_database().await else {
        return;
    };
    let app = spawn_on(Backend::Postgres, &db, None, |_| {}).await;
    let ann = app.register("ann").await;
    for i in 1..=3 {
        app.post(&ann, &format!("update {i} from the harbour"))
            .await;
    }
    eventually("the three notices to be routed", WAIT, || async {
        (app.counter("tidings_events_dispatched_total").await >= 3).then_some(())
    })
    .await;

    let mut locker = sqlx::PgConnection::connect(&db).await.unwrap();
    let mut lock = locker.begin().await.unwrap();
    sqlx::query("LOCK TABLE event_streams IN ACCESS EXCLUSIVE MODE")
        .execute(&mut *lock)
        .await
        .unwrap();
    let before = asked(&app).await;
    let storm = (0..20).map(|_| SseReader::open(&app, "/api/v1/streaming/public", Some("1"), None));
    let mut readers: Vec<SseReader> = futures::future::join_all(storm)
        .await
        .into_iter()
        .map(|(status, _, r)| {
            assert_eq!(status, 200);
            r.unwrap()
        })
        .collect();
    eventually("every resume to ask for its history", WAIT, || async {
        (asked(&app).await >= before + 20).then_some(())
    })
    .await;
    // The first reads are held by the lock; whoever could not join them waits for one
    // more.
    let reads = app.counter("tidings_replay_reads_total").await;
    let most = tidings::stream::replays::READS_PER_PAGE as u64 + 1;
    assert!(
        reads <= most,
        "twenty resumes from position 1 read the database {reads} times (at most {most})"
    );
    lock.rollback().await.unwrap();

    app.post(&ann, "update 4 from the harbour").await;
    for r in &mut readers {
        let mut ids = Vec::new();
        for _ in 0..3 {
            ids.push(r.next(WAIT).await.and_then(|e| e.id));
        }
        assert_eq!(
            ids,
            ["2", "3", "4"].map(|s| Some(s.to_string())).to_vec(),
            "each reader gets what she missed once, then the live notice"
        );
    }
}

/// Resumes that asked for history so far: each either read it or joined a read.
async fn asked(app: &TestApp) -> u64 {
    app.counter("tidings_replay_reads_total").await
        + app.counter("tidings_replay_shared_total").await
}

/// Sequencers on every node sleep until `NOTIFY tidings_events`; any transaction that
/// writes an event row must send it on commit, and only on commit (a trigger does).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(all(tidings_postgres, tidings_redis)),
    ignore = "needs TIDINGS_TEST_DATABASE_URL and redis-server"
)]
async fn a_committed_event_row_wakes_the_sequencers_and_a_rolled_back_one_does_not() {
    use sqlx::Connection;
    let Some(db) = common::fresh_postgres_database().await else {
        return;
    };
    // The node runs the migrations.
    let _app = spawn_on(Backend::Postgres, &db, None, |_| {}).await;
    let mut listener = sqlx::postgres::PgListener::connect(&db).await.unwrap();
    listener.listen("tidings_events").await.unwrap();
    let mut writer = sqlx::PgConnection::connect(&db).await.unwrap();
    let insert = "INSERT INTO events (kind, payload, streams, created_at) VALUES ('update', '{}', 'public', 0)";

    let mut tx = writer.begin().await.unwrap();
    sqlx::query(insert).execute(&mut *tx).await.unwrap();
    tx.rollback().await.unwrap();
    // Notifications arrive in commit order: anything the rolled-back insert sent comes
    // before this fence.
    sqlx::query("SELECT pg_notify('tidings_events', 'fence')")
        .execute(&mut writer)
        .await
        .unwrap();
    let first = tokio::time::timeout(WAIT, listener.recv())
        .await
        .expect("the fence arrives")
        .unwrap();
    assert_eq!(first.payload(), "fence", "a rolled-back insert notified");

    let mut tx = writer.begin().await.unwrap();
    sqlx::query(insert).execute(&mut *tx).await.unwrap();
    tx.commit().await.unwrap();
    let n = tokio::time::timeout(Duration::from_secs(5), listener.recv())
        .await
        .expect("a committed event row notifies the sequencers")
        .unwrap();
    assert_eq!(n.channel(), "tidings_events");
}

async fn pause_redis_writes(redis: &RedisServer, ms: u64) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let url = redis.url();
    let addr = url.trim_start_matches("redis://");
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(format!("CLIENT PAUSE {ms} WRITE\r\n").as_bytes())
        .await
        .unwrap();
    let mut ok = [0u8; 5];
    s.read_exact(&mut ok).await.unwrap();
    assert_eq!(&ok, b"+OK\r\n");
}

/// A reader resumes while the bus is behind the database: replay sends her a notice from
/// the database before this node's hub has routed it. When the bus catches up, the hub
/// must not send it to her again — not even on the fast path that writes straight to
/// idle sockets, which skips the connection's own duplicate filter.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(all(tidings_postgres, tidings_redis)),
    ignore = "needs TIDINGS_TEST_DATABASE_URL and redis-server"
)]
async fn a_reader_resuming_ahead_of_the_bus_gets_each_notice_once() {
    let Some((db, redis)) = services().await else {
        return;
    };
    let (r, p) = (redis.url(), prefix());
    let app = spawn_on(Backend::Postgres, &db, None, move |c| {
        c.redis_url = Some(r);
        c.redis_prefix = p;
        c.direct_writes = true;
    })
    .await;
    let ann = app.register("ann").await;
    pause_redis_writes(&redis, 1500).await;
    app.post(&ann, "Polls close in ten minutes").await;
    // Committed and numbered; its publish waits for Redis.
    let pool = sqlx::PgPool::connect(&db).await.unwrap();
    eventually("the sequencer to number the notice", WAIT, || async {
        let waiting: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM events WHERE position IS NULL")
            .fetch_one(&pool)
            .await
            .unwrap();
        (waiting == 0).then_some(())
    })
    .await;
    let url = app.ws_url("/api/v1/streaming?stream=public&last_event_id=0");
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let replayed = ws_next(&mut ws, WAIT)
        .await
        .expect("replayed from the database");
    assert_eq!(replayed["id"], "1");
    // Redis lets the publish through after the pause; the hub routes position 1 now.
    app.until_counter("tidings_last_position", 1).await;
    app.post(&ann, "Polls are closed").await;
    let next = ws_next(&mut ws, WAIT).await.expect("the next notice");
    assert_eq!(next["id"], "2", "position 1 must not come twice: {next}");
}

/// Wait up to `within` for `reader`'s stream to end; true when it ended (not timed out).
async fn ends_within(reader: &mut SseReader, within: Duration) -> bool {
    let started = tokio::time::Instant::now();
    while started.elapsed() < within {
        if reader.next(within - started.elapsed()).await.is_none() {
            return started.elapsed() < within;
        }
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(all(tidings_postgres, tidings_redis)),
    ignore = "needs TIDINGS_TEST_DATABASE_URL and redis-server"
)]
async fn a_revoked_token_loses_its_streams_on_every_node() {
    let Some((db, redis)) = services().await else {
        return;
    };
    let p = prefix();
    let (a, b) = (node(&db, &redis, &p).await, node(&db, &redis, &p).await);
    let (alice, carol) = (a.register("alice").await, a.register("carol").await);
    a.follow(&carol, &alice, true).await;
    let g = a.grant(&carol, "read").await;
    let mut on_b = SseReader::open(&b, "/api/v1/streaming/user", None, Some(&g.token))
        .await
        .2
        .unwrap();
    let mut on_a = SseReader::open(&a, "/api/v1/streaming/user", None, Some(&g.token))
        .await
        .2
        .unwrap();
    let mut ws = ws_connect(&b, Some(&g.token)).await;
    ws_send(&mut ws, json!({"type": "subscribe", "stream": "user"})).await;
    a.until_counter(SUBSCRIPTIONS, 1).await;
    b.until_counter(SUBSCRIPTIONS, 2).await;
    a.post_with(&alice, json!({"status": "before", "visibility": "private"}))
        .await;
    assert!(on_b.next(WAIT).await.unwrap().data.contains("before"));
    assert!(on_a.next(WAIT).await.unwrap().data.contains("before"));
    assert!(ws_next(&mut ws, WAIT).await.is_some());

    a.revoke(&g).await;
    assert!(
        ends_within(&mut on_a, Duration::from_secs(2)).await,
        "node A's stream ends"
    );
    assert!(
        ends_within(&mut on_b, Duration::from_secs(2)).await,
        "node B's stream ends"
    );
    // The WebSocket is closed; nothing posted later reaches it.
    a.post_with(&alice, json!({"status": "after", "visibility": "private"}))
        .await;
    let end = tokio::time::timeout(WAIT, async {
        while let Some(m) = ws.next().await {
            match m {
                Ok(Message::Text(t)) => panic!("a frame after the revocation: {t}"),
                Ok(Message::Close(_)) | Err(_) => break,
                Ok(_) => {}
            }
        }
    });
    end.await.expect("node B closes the WebSocket");
    let (status, _) = b.get_json("/api/v1/timelines/home", Some(&g.token)).await;
    assert_eq!(status, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(all(tidings_postgres, tidings_redis)),
    ignore = "needs TIDINGS_TEST_DATABASE_URL and redis-server"
)]
async fn deletes_reach_every_node_and_replays_recheck_access_there() {
    let Some((db, redis)) = services().await else {
        return;
    };
    let p = prefix();
    let (a, b) = (node(&db, &redis, &p).await, node(&db, &redis, &p).await);
    let (alice, carol) = (a.register("alice").await, a.register("carol").await);
    // A reader on node B follows a tag that an edit on node A will remove.
    let mut tag_on_b = SseReader::open(&b, "/api/v1/streaming/hashtag?tag=gone", None, None)
        .await
        .2
        .unwrap();
    b.until_counter(SUBSCRIPTIONS, 1).await;
    let s = a.post(&alice, "first take #gone").await;
    let id = s["id"].as_str().unwrap();
    assert_eq!(tag_on_b.next(WAIT).await.unwrap().event, "update");
    let (status, _) = a
        .call(
            reqwest::Method::PUT,
            &format!("/api/v1/statuses/{id}"),
            &alice.token,
            Some(json!({"status": "second take"})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(tag_on_b.next(WAIT).await.unwrap().event, "status.update");
    a.call(
        reqwest::Method::DELETE,
        &format!("/api/v1/statuses/{id}"),
        &alice.token,
        None,
    )
    .await;
    let del = tag_on_b
        .next(WAIT)
        .await
        .expect("node B's reader learns of the delete");
    assert_eq!((del.event.as_str(), del.data.as_str()), ("delete", id));
    let replay = common::sse_replay(&b, "/api/v1/streaming/hashtag?tag=gone", "0", None).await;
    assert!(
        replay.iter().all(|e| !e.data.contains("take")),
        "{replay:?}"
    );

    // Carol unfollows on node A; her replay on node B no longer has Alice's private notice.
    a.follow(&carol, &alice, true).await;
    a.post_with(
        &alice,
        json!({"status": "for followers", "visibility": "private"}),
    )
    .await;
    a.follow(&carol, &alice, false).await;
    let replay = common::sse_replay(&b, "/api/v1/streaming/user", "0", Some(&carol.token)).await;
    assert!(
        replay.iter().all(|e| !e.data.contains("for followers")),
        "{replay:?}"
    );
}

/// A notice acknowledged and not yet routed (here: its positions held behind a lock on
/// `event_streams`) is seen by the next poll of the node that took it, although the
/// stream's head has not moved: the poll goes to the database while the node's own
/// event is in flight, and is answered from the head again once it has been routed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(tidings_postgres), ignore = "TIDINGS_TEST_DATABASE_URL is not set")]
async fn a_poll_sees_a_notice_acknowledged_before_its_stream_head_moved() {
    use sqlx::Connection;
    let Some(db) = common::fresh_postgres_database().await else {
        return;
    };
    let app = spawn_on(Backend::Postgres, &db, None, |_| {}).await;
    let ann = app.register("ann").await;
    app.post(&ann, "first light on the quay #harbour").await;
    eventually("the notice routed", WAIT, || async {
        (app.counter("tidings_events_dispatched_total").await >= 1).then_some(())
    })
    .await;
    let poll = |etag: Option<String>| {
        let req = app.http.get(app.url("/api/v1/timelines/tag/harbour"));
        async move {
            let res = match etag {
                Some(e) => req.header("If-None-Match", e),
                None => req,
            }
            .send()
            .await
            .unwrap();
            let status = res.status().as_u16();
            let etag = res.headers()["etag"].to_str().unwrap().to_string();
            let n = if status == 200 {
                res.json::<Vec<Value>>().await.unwrap().len()
            } else {
                0
            };
            (status, etag, n)
        }
    };
    let (status, etag, n) = poll(None).await;
    assert_eq!((status, n), (200, 1));
    assert_eq!(poll(Some(etag.clone())).await.0, 304);

    let mut locker = sqlx::PgConnection::connect(&db).await.unwrap();
    let mut lock = locker.begin().await.unwrap();
    // Reads go on; the sequencer cannot write the new notice's stream rows.
    sqlx::query("LOCK TABLE event_streams IN EXCLUSIVE MODE")
        .execute(&mut *lock)
        .await
        .unwrap();
    app.post(&ann, "second light #harbour").await;
    let unchanged = app.counter("tidings_polls_unchanged_total").await;
    let (status, _, n) = poll(Some(etag.clone())).await;
    assert_eq!(
        (status, n),
        (200, 2),
        "the poster's next poll shows her acknowledged notice"
    );
    assert_eq!(
        app.counter("tidings_polls_unchanged_total").await,
        unchanged
    );
    lock.rollback().await.unwrap();

    eventually("the second notice routed", WAIT, || async {
        (app.counter("tidings_events_dispatched_total").await >= 2).then_some(())
    })
    .await;
    let (status, fresh, n) = poll(Some(etag)).await;
    assert_eq!((status, n), (200, 2));
    assert_eq!(poll(Some(fresh)).await.0, 304);
    assert_eq!(
        app.counter("tidings_polls_unchanged_total").await,
        unchanged + 1
    );
}
