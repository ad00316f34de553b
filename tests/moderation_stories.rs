//! Stories of moderators stopping abuse: what they do is felt at once by every open
//! feed (on this node and, in the cluster stories, on another), history is served as it
//! is now, and nobody but staff can do it.

mod common;

use common::redis::Cluster;
use common::{
    Backend, QUIET, SseReader, TestApp, eventually, spawn, spawn_with, sse_event, sse_replay,
    ws_connect, ws_event, ws_next, ws_send,
};
use reqwest::Method;
use serde_json::{Value, json};
use std::time::Duration;

on_both_backends!(
    a_suspended_spammer_vanishes_from_every_open_feed_and_comes_back_when_lifted,
    a_poller_of_a_tag_sees_a_silenced_author_come_back_when_lifted,
    a_silenced_account_reaches_its_followers_only,
    a_disabled_account_cannot_sign_in_and_its_streams_close,
    reports_reach_every_moderator_live,
    only_staff_may_moderate_and_refusals_change_nothing,
    registrations_switch_at_run_time,
    a_moderator_removes_a_notice_with_a_reason,
    domain_blocks_are_kept_and_refuse_that_server,
    a_spam_wave_is_suspended_in_one_call,
    rate_limits_answer_429_and_change_nothing,
    made_up_tokens_buy_no_fresh_budget,
);

fn ids(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .map(|s| s["id"].as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default()
}

async fn a_suspended_spammer_vanishes_from_every_open_feed_and_comes_back_when_lifted(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let moderator = app.staff("mia", "moderator").await;
    let spammer = app.register("spammer").await;
    let reader = app.register("reader").await;
    app.follow(&reader, &spammer, true).await;
    // Open feeds: the tag over SSE, the reader's home over WebSocket, and the spammer's
    // own stream, which must close.
    let (_, _, sse) = SseReader::open(&app, "/api/v1/streaming/hashtag?tag=buy", None, None).await;
    let mut tag = sse.unwrap();
    let mut home = ws_connect(&app, Some(&reader.token)).await;
    ws_send(&mut home, json!({"type": "subscribe", "stream": "user"})).await;
    let mut own = ws_connect(&app, Some(&spammer.token)).await;
    ws_send(&mut own, json!({"type": "subscribe", "stream": "user"})).await;
    tokio::time::sleep(QUIET).await;
    let first = app.post(&spammer, "cheap pills #buy").await;
    let second = app.post(&spammer, "more pills #buy").await;
    let fair = app.post(&reader, "an honest word #buy").await;
    let seen = sse_event(&mut tag, "update").await;
    let before = seen.id.clone().unwrap();
    ws_event(&mut home, "update").await;

    assert_eq!(
        app.admin_action(&moderator, &spammer, "suspend", "pill spam")
            .await,
        200
    );

    // Every open feed hears a delete for each of her notices.
    let mut gone = Vec::new();
    while gone.len() < 2 {
        gone.push(sse_event(&mut tag, "delete").await.data);
    }
    gone.sort();
    let mut want = vec![
        first["id"].as_str().unwrap().to_string(),
        second["id"].as_str().unwrap().to_string(),
    ];
    want.sort();
    assert_eq!(gone, want, "the tag stream withdraws both notices");
    let d = ws_event(&mut home, "delete").await;
    assert!(want.contains(&d["payload"].as_str().unwrap().to_string()));
    // Her own stream is closed, and her token is dead.
    let closed = tokio::time::timeout(Duration::from_secs(10), async {
        while ws_next(&mut own, Duration::from_secs(10)).await.is_some() {}
    })
    .await;
    assert!(closed.is_ok(), "the suspended account's stream closes");
    let (status, _) = app
        .call(
            Method::GET,
            "/api/v1/accounts/verify_credentials",
            &spammer.token,
            None,
        )
        .await;
    assert_eq!(status, 401);
    // History as it is now: timelines, the notice itself, search and a resume.
    let (_, public) = app.get_json("/api/v1/timelines/tag/buy", None).await;
    assert_eq!(ids(&public), vec![fair["id"].as_str().unwrap()]);
    let (status, _) = app
        .get_json(
            &format!("/api/v1/statuses/{}", first["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(status, 404);
    let (_, home_tl) = app
        .get_json("/api/v1/timelines/home", Some(&reader.token))
        .await;
    assert!(!ids(&home_tl).contains(&want[0]));
    let replay = sse_replay(&app, "/api/v1/streaming/hashtag?tag=buy", "0", None).await;
    assert!(
        replay
            .iter()
            .all(|e| e.event != "update" || !e.data.contains("pills")),
        "a resume never serves a suspended account's notice"
    );
    let replay = sse_replay(&app, "/api/v1/streaming/hashtag?tag=buy", &before, None).await;
    assert!(replay.iter().any(|e| e.event == "delete"));
    let (_, acct) = app
        .get_json(&format!("/api/v1/accounts/{}", spammer.id), None)
        .await;
    assert_eq!(acct["suspended"], true);
    // The audit log keeps who did it and why.
    let (status, log) = app
        .call(
            Method::GET,
            "/api/v1/admin/audit_log",
            &moderator.token,
            None,
        )
        .await;
    assert_eq!(status, 403, "the audit log is for administrators");
    let admin = app.staff("ada", "admin").await;
    let (_, log2) = app
        .call(Method::GET, "/api/v1/admin/audit_log", &admin.token, None)
        .await;
    let line = log2
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["action"] == "suspend")
        .unwrap_or_else(|| panic!("no suspend line in {log2} ({log})"));
    assert_eq!(line["username"], "mia");
    assert_eq!(line["target_id"], spammer.id.as_str());
    assert_eq!(line["reason"], "pill spam");

    // Lifted: her notices are back (within the 30 days nothing is deleted).
    let (status, _) = app
        .call(
            Method::POST,
            &format!("/api/v1/admin/accounts/{}/unsuspend", spammer.id),
            &moderator.token,
            None,
        )
        .await;
    assert_eq!(status, 200);
    let (_, public) = app.get_json("/api/v1/timelines/tag/buy", None).await;
    assert_eq!(ids(&public).len(), 3, "restored: {public}");
}

async fn a_silenced_account_reaches_its_followers_only(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let moderator = app.staff("mia", "moderator").await;
    let loud = app.register("loud").await;
    let fan = app.register("fan").await;
    app.follow(&fan, &loud, true).await;
    let old = app.post(&loud, "before #news").await;
    let (_, _, sse) = SseReader::open(&app, "/api/v1/streaming/public", None, None).await;
    let mut public = sse.unwrap();
    let mut home = ws_connect(&app, Some(&fan.token)).await;
    ws_send(&mut home, json!({"type": "subscribe", "stream": "user"})).await;
    tokio::time::sleep(QUIET).await;

    assert_eq!(
        app.admin_action(&moderator, &loud, "silence", "too loud")
            .await,
        200
    );
    let d = sse_event(&mut public, "delete").await;
    assert_eq!(
        d.data,
        old["id"].as_str().unwrap(),
        "withdrawn from public streams"
    );

    let new = app.post(&loud, "after #news").await;
    let update = ws_event(&mut home, "update").await;
    assert!(update["payload"].as_str().unwrap().contains("after"));
    // The follower's home still has both; the public places have neither.
    let (_, home_tl) = app
        .get_json("/api/v1/timelines/home", Some(&fan.token))
        .await;
    assert!(ids(&home_tl).contains(&new["id"].as_str().unwrap().to_string()));
    assert!(ids(&home_tl).contains(&old["id"].as_str().unwrap().to_string()));
    let (_, tl) = app.get_json("/api/v1/timelines/public", None).await;
    assert!(ids(&tl).is_empty(), "public timeline: {tl}");
    let (_, tl) = app.get_json("/api/v1/timelines/tag/news", None).await;
    assert!(ids(&tl).is_empty(), "tag page: {tl}");
    while let Some(e) = public.next(QUIET).await {
        assert_ne!(
            e.event, "update",
            "no update of a silenced account on public"
        );
    }
    let replay = sse_replay(&app, "/api/v1/streaming/public", "0", None).await;
    assert!(replay.iter().all(|e| e.event != "update"));
    let (_, acct) = app
        .get_json(&format!("/api/v1/accounts/{}", loud.id), None)
        .await;
    assert_eq!(acct["limited"], true);
    // Lifted: back in public.
    app.call(
        Method::POST,
        &format!("/api/v1/admin/accounts/{}/unsilence", loud.id),
        &moderator.token,
        None,
    )
    .await;
    let (_, tl) = app.get_json("/api/v1/timelines/public", None).await;
    assert_eq!(ids(&tl).len(), 2);
}

async fn a_disabled_account_cannot_sign_in_and_its_streams_close(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let admin = app.staff("ada", "admin").await;
    let troll = app.register("troll").await;
    let (_, _, sse) =
        SseReader::open(&app, "/api/v1/streaming/user", None, Some(&troll.token)).await;
    let mut stream = sse.unwrap();
    tokio::time::sleep(QUIET).await;
    assert_eq!(app.admin_action(&admin, &troll, "disable", "").await, 200);
    // Her stream ends within a second or so (the revocation travels the event path).
    let ended = tokio::time::timeout(Duration::from_secs(5), async {
        while stream.next(Duration::from_secs(5)).await.is_some() {}
    })
    .await;
    assert!(ended.is_ok(), "the disabled account's stream closes");
    let (status, _) = app
        .call(Method::GET, "/api/v1/timelines/home", &troll.token, None)
        .await;
    assert_eq!(status, 401, "her token stops working");
    let (id, secret) = app.create_app("urn:ietf:wg:oauth:2.0:oob", "read").await;
    let res = app
        .http
        .post(app.url("/oauth/token"))
        .form(&[
            ("grant_type", "password"),
            ("client_id", id.as_str()),
            ("client_secret", secret.as_str()),
            ("username", "troll"),
            ("password", "correct horse battery"),
            ("scope", "read"),
        ])
        .send()
        .await
        .unwrap();
    assert!(res.status().is_client_error(), "no sign-in while disabled");
    // Enabled again: the same token works.
    let (status, _) = app
        .call(
            Method::POST,
            &format!("/api/v1/admin/accounts/{}/enable", troll.id),
            &admin.token,
            None,
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = app
        .call(Method::GET, "/api/v1/timelines/home", &troll.token, None)
        .await;
    assert_eq!(status, 200);
}

async fn reports_reach_every_moderator_live(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let moderator = app.staff("mia", "moderator").await;
    let other = app.staff("ada2", "admin").await;
    let victim = app.register("victim").await;
    let bully = app.register("bully").await;
    let insult = app.post(&bully, "you are awful").await;
    let mut ws = ws_connect(&app, Some(&moderator.token)).await;
    ws_send(
        &mut ws,
        json!({"type": "subscribe", "stream": "user:notification"}),
    )
    .await;
    tokio::time::sleep(QUIET).await;
    let (status, report) = app
        .call(
            Method::POST,
            "/api/v1/reports",
            &victim.token,
            Some(json!({"account_id": bully.id, "status_ids": [insult["id"]], "comment": "harassment", "category": "other"})),
        )
        .await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["target_account"]["id"], bully.id.as_str());
    let n = ws_event(&mut ws, "notification").await;
    let n: Value = serde_json::from_str(n["payload"].as_str().unwrap()).unwrap();
    assert_eq!(n["type"], "admin.report");
    assert_eq!(n["report"]["id"], report["id"]);
    let (_, list) = app
        .call(
            Method::GET,
            "/api/v1/notifications?types[]=admin.report",
            &other.token,
            None,
        )
        .await;
    assert_eq!(
        list.as_array().unwrap().len(),
        1,
        "every moderator hears of it"
    );
    // Bad reports change nothing.
    for bad in [
        json!({"account_id": bully.id, "category": "gossip"}),
        json!({"account_id": bully.id, "comment": "x".repeat(1001)}),
        json!({"comment": "whom?"}),
    ] {
        let (status, body) = app
            .call(Method::POST, "/api/v1/reports", &victim.token, Some(bad))
            .await;
        assert_eq!(status, 422, "{body}");
        assert!(body["error"].is_string());
    }
    let (status, _) = app
        .call(
            Method::POST,
            "/api/v1/reports",
            &victim.token,
            Some(json!({"account_id": "999999"})),
        )
        .await;
    assert_eq!(status, 404);
    // The moderator works the report.
    let rid = report["id"].as_str().unwrap();
    let (_, open) = app
        .call(Method::GET, "/api/v1/admin/reports", &moderator.token, None)
        .await;
    assert_eq!(open.as_array().unwrap().len(), 1);
    assert_eq!(open[0]["statuses"][0]["id"], insult["id"]);
    let (_, mine) = app
        .call(
            Method::POST,
            &format!("/api/v1/admin/reports/{rid}/assign_to_self"),
            &moderator.token,
            None,
        )
        .await;
    assert_eq!(mine["assigned_account"]["id"], moderator.id.as_str());
    let (_, done) = app
        .call(
            Method::POST,
            &format!("/api/v1/admin/reports/{rid}/resolve"),
            &moderator.token,
            None,
        )
        .await;
    assert_eq!(done["action_taken"], true);
    let (_, open) = app
        .call(Method::GET, "/api/v1/admin/reports", &moderator.token, None)
        .await;
    assert!(open.as_array().unwrap().is_empty());
    let (_, again) = app
        .call(
            Method::POST,
            &format!("/api/v1/admin/reports/{rid}/reopen"),
            &moderator.token,
            None,
        )
        .await;
    assert_eq!(again["action_taken"], false);
    // Acting on the account with the report resolves it.
    let (status, _) = app
        .call(
            Method::POST,
            &format!("/api/v1/admin/accounts/{}/action", bully.id),
            &moderator.token,
            Some(json!({"type": "silence", "report_id": rid, "text": "per report"})),
        )
        .await;
    assert_eq!(status, 200);
    let (_, r) = app
        .call(
            Method::GET,
            &format!("/api/v1/admin/reports/{rid}"),
            &moderator.token,
            None,
        )
        .await;
    assert_eq!(r["action_taken"], true);
    assert_eq!(r["target_account"]["silenced"], true);
}

async fn only_staff_may_moderate_and_refusals_change_nothing(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let moderator = app.staff("mia", "moderator").await;
    let admin = app.staff("ada", "admin").await;
    let user = app.register("plain").await;
    let user_admin_token = app
        .grant_with(
            &user,
            "read write follow push profile admin:read admin:write",
            common::ADMIN_SCOPES,
        )
        .await
        .token;
    let target = app.register("target").await;
    let notice = app.post(&target, "still here #kept").await;
    // A user with an admin-scoped token: 403 on every admin route, nothing changes.
    for (method, path, body) in [
        (Method::GET, "/api/v1/admin/accounts".to_string(), None),
        (
            Method::POST,
            format!("/api/v1/admin/accounts/{}/action", target.id),
            Some(json!({"type": "suspend"})),
        ),
        (Method::GET, "/api/v1/admin/reports".to_string(), None),
        (
            Method::POST,
            "/api/v1/admin/domain_blocks".to_string(),
            Some(json!({"domain": "spam.example"})),
        ),
        (
            Method::PUT,
            "/api/v1/admin/settings".to_string(),
            Some(json!({"registrations_mode": "none"})),
        ),
    ] {
        let (status, body) = app.call(method, &path, &user_admin_token, body).await;
        assert_eq!(status, 403, "{path}: {body}");
        assert!(body["error"].is_string());
    }
    let (_, tl) = app.get_json("/api/v1/timelines/tag/kept", None).await;
    assert_eq!(ids(&tl), vec![notice["id"].as_str().unwrap()]);
    // A moderator on administrators' routes: 403.
    for (method, path, body) in [
        (
            Method::PUT,
            "/api/v1/admin/settings".to_string(),
            Some(json!({"registrations_mode": "none"})),
        ),
        (
            Method::POST,
            format!("/api/v1/admin/accounts/{}/role", target.id),
            Some(json!({"role": "moderator"})),
        ),
        (Method::GET, "/api/v1/admin/audit_log".to_string(), None),
    ] {
        let (status, body) = app.call(method, &path, &moderator.token, body).await;
        assert_eq!(status, 403, "{path}: {body}");
    }
    // A moderator cannot suspend an administrator.
    assert_eq!(
        app.admin_action(&moderator, &admin, "suspend", "").await,
        403
    );
    // Unknown ids 404, invalid actions 422.
    let (status, _) = app
        .call(
            Method::GET,
            "/api/v1/admin/accounts/987654",
            &moderator.token,
            None,
        )
        .await;
    assert_eq!(status, 404);
    assert_eq!(
        app.admin_action(&moderator, &target, "explode", "").await,
        422
    );
    let (status, _) = app
        .call(
            Method::GET,
            "/api/v2/admin/accounts?status=weird",
            &moderator.token,
            None,
        )
        .await;
    assert_eq!(status, 400);
    // What the moderator may read, filtered as Mastodon's clients ask.
    let (_, all) = app
        .call(
            Method::GET,
            "/api/v2/admin/accounts?username=tar",
            &moderator.token,
            None,
        )
        .await;
    assert_eq!(all.as_array().unwrap().len(), 1);
    assert_eq!(all[0]["username"], "target");
    assert_eq!(all[0]["email"], "target@example.org");
    assert_eq!(all[0]["ip"], "127.0.0.1");
    let (_, staff_list) = app
        .call(
            Method::GET,
            "/api/v1/admin/accounts?staff=true",
            &moderator.token,
            None,
        )
        .await;
    assert_eq!(staff_list.as_array().unwrap().len(), 2);
    // Marked sensitive: her notices are, whatever she says.
    assert_eq!(
        app.admin_action(&moderator, &target, "sensitive", "").await,
        200
    );
    let marked = app
        .post_with(&target, json!({"status": "look", "sensitive": false}))
        .await;
    assert_eq!(marked["sensitive"], true);
    // No one changes her own role, nor an equal's; an administrator makes no
    // administrators (the owner does).
    let other_admin = app.staff("ada2", "admin").await;
    for (who, whom, role) in [
        (&admin, &admin, "user"),
        (&admin, &other_admin, "user"),
        (&admin, &target, "admin"),
    ] {
        let (status, _) = app
            .call(
                Method::POST,
                &format!("/api/v1/admin/accounts/{}/role", whom.id),
                &who.token,
                Some(json!({"role": role})),
            )
            .await;
        assert_eq!(
            status, 403,
            "{} making {} {role}",
            who.username, whom.username
        );
    }
    // The administrator grants a role; the new moderator may moderate.
    let (status, granted) = app
        .call(
            Method::POST,
            &format!("/api/v1/admin/accounts/{}/role", user.id),
            &admin.token,
            Some(json!({"role": "moderator"})),
        )
        .await;
    assert_eq!(status, 200, "{granted}");
    assert_eq!(granted["role"]["name"], "Moderator");
    let (status, _) = app
        .call(
            Method::GET,
            "/api/v1/admin/accounts",
            &user_admin_token,
            None,
        )
        .await;
    assert_eq!(status, 200);
}

async fn registrations_switch_at_run_time(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let admin = app.staff("ada", "admin").await;
    let moderator = app.staff("mia", "moderator").await;
    let mut notes = ws_connect(&app, Some(&moderator.token)).await;
    ws_send(
        &mut notes,
        json!({"type": "subscribe", "stream": "user:notification"}),
    )
    .await;
    app.until_counter("tidings_subscriptions", 1).await;
    let (status, _) = app
        .call(
            Method::PUT,
            "/api/v1/admin/settings",
            &admin.token,
            Some(json!({"registrations_mode": "approved"})),
        )
        .await;
    assert_eq!(status, 200);
    let (_, instance) = app.get_json("/api/v2/instance", None).await;
    assert_eq!(instance["registrations"]["approval_required"], true);
    assert_eq!(instance["registrations"]["enabled"], true);
    // A new account waits: she may see her account, not post.
    let newcomer = app.register("newcomer").await;
    let n = ws_event(&mut notes, "notification").await;
    assert!(n["payload"].as_str().unwrap().contains("admin.sign_up"));
    let (status, body) = app
        .call(
            Method::POST,
            "/api/v1/statuses",
            &newcomer.token,
            Some(json!({"status": "hello?"})),
        )
        .await;
    assert_eq!(status, 403, "{body}");
    let (_, pending) = app
        .call(
            Method::GET,
            "/api/v2/admin/accounts?status=pending",
            &moderator.token,
            None,
        )
        .await;
    assert_eq!(ids(&pending), vec![newcomer.id.clone()]);
    let (status, _) = app
        .call(
            Method::POST,
            &format!("/api/v1/admin/accounts/{}/approve", newcomer.id),
            &moderator.token,
            None,
        )
        .await;
    assert_eq!(status, 200);
    app.post(&newcomer, "hello, approved").await;
    // A pending one rejected is gone.
    let unwanted = app.register("unwanted").await;
    let (status, _) = app
        .call(
            Method::POST,
            &format!("/api/v1/admin/accounts/{}/reject", unwanted.id),
            &moderator.token,
            None,
        )
        .await;
    assert_eq!(status, 200);
    let (_, gone) = app
        .get_json(&format!("/api/v1/accounts/{}", unwanted.id), None)
        .await;
    assert_eq!(gone["suspended"], true, "{gone}");
    // Her name is free again.
    app.register("unwanted").await;
    // Closed: no sign-up; the instance says so.
    app.call(
        Method::PUT,
        "/api/v1/admin/settings",
        &admin.token,
        Some(json!({"registrations_mode": "none"})),
    )
    .await;
    let (_, instance) = app.get_json("/api/v1/instance", None).await;
    assert_eq!(instance["registrations"], false);
    let app_token = app.app_token("read write").await;
    let sign_up = |name: &'static str, email: &'static str| {
        let (app, t) = (&app, app_token.clone());
        async move {
            app.http
                .post(app.url("/api/v1/accounts"))
                .bearer_auth(t)
                .json(&json!({"username": name, "email": email, "password": "correct horse battery", "agreement": true}))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(sign_up("late", "late@example.org").await, 403);
    // Open again, but an e-mail domain and an address blocked.
    app.call(
        Method::PUT,
        "/api/v1/admin/settings",
        &admin.token,
        Some(json!({"registrations_mode": "open"})),
    )
    .await;
    let (status, _) = app
        .call(
            Method::POST,
            "/api/v1/admin/email_domain_blocks",
            &moderator.token,
            Some(json!({"domain": "throwaway.example"})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(sign_up("burner", "x@throwaway.example").await, 403);
    assert_eq!(sign_up("welcome", "w@example.org").await, 200);
    let (status, block) = app
        .call(
            Method::POST,
            "/api/v1/admin/ip_blocks",
            &moderator.token,
            Some(json!({"ip": "127.0.0.0/8", "severity": "sign_up_block", "comment": "the wave"})),
        )
        .await;
    assert_eq!(status, 200, "{block}");
    assert_eq!(block["ip"], "127.0.0.0/8");
    assert_eq!(sign_up("blocked", "b@example.org").await, 403);
    let (status, _) = app
        .call(
            Method::POST,
            "/api/v1/admin/ip_blocks",
            &moderator.token,
            Some(json!({"ip": "not an address", "severity": "sign_up_block"})),
        )
        .await;
    assert_eq!(status, 422);
}

async fn a_moderator_removes_a_notice_with_a_reason(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let moderator = app.staff("mia", "moderator").await;
    let admin = app.staff("ada", "admin").await;
    let author = app.register("author").await;
    let (_, _, sse) = SseReader::open(&app, "/api/v1/streaming/public", None, None).await;
    let mut public = sse.unwrap();
    tokio::time::sleep(QUIET).await;
    let notice = app.post(&author, "a doxxing notice").await;
    sse_event(&mut public, "update").await;
    let id = notice["id"].as_str().unwrap();
    let (status, _) = app
        .call(
            Method::DELETE,
            &format!("/api/v1/statuses/{id}?reason=personal%20data"),
            &moderator.token,
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(sse_event(&mut public, "delete").await.data, id);
    let (_, log) = app
        .call(Method::GET, "/api/v1/admin/audit_log", &admin.token, None)
        .await;
    let line = &log[0];
    assert_eq!(line["action"], "remove_status");
    assert_eq!(line["target_id"], id);
    assert_eq!(line["reason"], "personal data");
    // A plain user may not remove another's notice.
    let other = app.post(&author, "another").await;
    let user = app.register("user").await;
    let (status, _) = app
        .call(
            Method::DELETE,
            &format!("/api/v1/statuses/{}", other["id"].as_str().unwrap()),
            &user.token,
            None,
        )
        .await;
    assert_eq!(status, 403);
}

async fn domain_blocks_are_kept_and_refuse_that_server(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let moderator = app.staff("mia", "moderator").await;
    let (status, block) = app
        .call(
            Method::POST,
            "/api/v1/admin/domain_blocks",
            &moderator.token,
            Some(json!({"domain": "Spam.Example", "severity": "suspend", "private_comment": "botnet"})),
        )
        .await;
    assert_eq!(status, 200, "{block}");
    assert_eq!(block["domain"], "spam.example");
    assert_eq!(block["severity"], "suspend");
    // A second block of it, or a milder one of a subdomain: 422 naming the existing one.
    for domain in ["spam.example", "a.spam.example"] {
        let (status, body) = app
            .call(
                Method::POST,
                "/api/v1/admin/domain_blocks",
                &moderator.token,
                Some(json!({"domain": domain, "severity": "silence"})),
            )
            .await;
        assert_eq!(status, 422, "{body}");
        assert_eq!(body["existing_domain_block"]["id"], block["id"]);
    }
    for bad in [
        json!({"domain": ""}),
        json!({"domain": "x.example", "severity": "obliterate"}),
    ] {
        let (status, _) = app
            .call(
                Method::POST,
                "/api/v1/admin/domain_blocks",
                &moderator.token,
                Some(bad),
            )
            .await;
        assert_eq!(status, 422);
    }
    // The inbox refuses that server's activities before reading them.
    let res = app
        .http
        .post(app.url("/inbox"))
        .header("content-type", "application/activity+json")
        .header("signature", "keyId=\"https://a.spam.example/users/x#main-key\",algorithm=\"rsa-sha256\",headers=\"(request-target) host date digest\",signature=\"AAAA\"")
        .body(json!({"id": "https://a.spam.example/1", "type": "Create", "actor": "https://a.spam.example/users/x"}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let (_, list) = app
        .call(
            Method::GET,
            "/api/v1/admin/domain_blocks",
            &moderator.token,
            None,
        )
        .await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    let id = block["id"].as_str().unwrap();
    let (status, _) = app
        .call(
            Method::DELETE,
            &format!("/api/v1/admin/domain_blocks/{id}"),
            &moderator.token,
            None,
        )
        .await;
    assert_eq!(status, 200);
    let (_, list) = app
        .call(
            Method::GET,
            "/api/v1/admin/domain_blocks",
            &moderator.token,
            None,
        )
        .await;
    assert!(list.as_array().unwrap().is_empty());
}

async fn a_spam_wave_is_suspended_in_one_call(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let admin = app.staff("ada", "admin").await;
    let honest = app.register("honest").await;
    let started = time::OffsetDateTime::now_utc();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let mut bots = Vec::new();
    for i in 0..5 {
        let bot = app.register(&format!("bot{i}")).await;
        app.post(&bot, &format!("spam {i} #wave")).await;
        bots.push(bot);
    }
    let (_, _, sse) = SseReader::open(&app, "/api/v1/streaming/hashtag?tag=wave", None, None).await;
    let mut tag = sse.unwrap();
    tokio::time::sleep(QUIET).await;
    let since = started
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let (status, done) = app
        .call(
            Method::POST,
            "/api/v1/admin/accounts/suspend",
            &admin.token,
            Some(json!({"created_after": since, "text": "bot wave", "close_registrations": true})),
        )
        .await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["suspended"].as_array().unwrap().len(), 5, "{done}");
    for _ in 0..5 {
        sse_event(&mut tag, "delete").await;
    }
    let (_, tl) = app.get_json("/api/v1/timelines/tag/wave", None).await;
    assert!(ids(&tl).is_empty());
    let (status, _) = app
        .call(Method::GET, "/api/v1/timelines/home", &honest.token, None)
        .await;
    assert_eq!(status, 200, "accounts from before the window are untouched");
    let (_, instance) = app.get_json("/api/v2/instance", None).await;
    assert_eq!(instance["registrations"]["enabled"], false);
    let (status, _) = app
        .call(
            Method::POST,
            "/api/v1/admin/accounts/suspend",
            &admin.token,
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 422, "a wave names whom it suspends");
}

async fn rate_limits_answer_429_and_change_nothing(b: Backend) {
    let Some(app) = spawn_with(b, |c| {
        c.statuses_per_account = 2;
        c.api_requests_per_token = 6;
    })
    .await
    else {
        return;
    };
    let poster = app.register("poster").await;
    // Every API answer carries the headers of the per-token limit.
    let res = app
        .http
        .get(app.url("/api/v1/timelines/home"))
        .bearer_auth(&poster.token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["x-ratelimit-limit"], "6");
    let remaining: u32 = res.headers()["x-ratelimit-remaining"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(remaining < 6);
    assert!(
        res.headers()["x-ratelimit-reset"]
            .to_str()
            .unwrap()
            .ends_with('Z')
    );
    app.post(&poster, "one").await;
    app.post(&poster, "two").await;
    let res = app
        .http
        .post(app.url("/api/v1/statuses"))
        .bearer_auth(&poster.token)
        .json(&json!({"status": "three"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 429);
    assert!(res.headers().contains_key("retry-after"));
    assert_eq!(res.headers()["x-ratelimit-remaining"], "0");
    // Until the per-token budget is spent; then 429 before anything is read or done.
    let mut last = 0;
    for _ in 0..6 {
        last = app
            .call(Method::GET, "/api/v1/timelines/home", &poster.token, None)
            .await
            .0;
    }
    assert_eq!(last, 429);
    let fresh = app.user_token(&app.register("reader").await, "read").await;
    let (_, tl) = app
        .call(
            Method::GET,
            &format!("/api/v1/accounts/{}/statuses", poster.id),
            &fresh,
            None,
        )
        .await;
    assert_eq!(
        tl.as_array().unwrap().len(),
        2,
        "the refused notice was not posted"
    );
}

async fn made_up_tokens_buy_no_fresh_budget(b: Backend) {
    let Some(app) = spawn_with(b, |c| c.api_requests_per_ip = 3).await else {
        return;
    };
    // A route that reads no token: each made-up token would be a fresh bucket if it were
    // counted as a token; it is counted with its address.
    let mut statuses = Vec::new();
    for i in 0..4 {
        let res = app
            .http
            .get(app.url("/api/v1/instance"))
            .bearer_auth(format!("made-up-{i}"))
            .send()
            .await
            .unwrap();
        statuses.push(res.status().as_u16());
    }
    assert_eq!(statuses, vec![200, 200, 200, 429]);
}

// Two nodes on Postgres + Redis: the live effects cross nodes, and the counts are one.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(all(tidings_postgres, tidings_redis)),
    ignore = "needs TIDINGS_TEST_DATABASE_URL and redis-server"
)]
async fn a_suspension_on_one_node_is_felt_on_the_other_within_a_second() {
    let Some(cluster) = Cluster::start().await else {
        return;
    };
    let a = cluster.node(|_| {}).await;
    let b = cluster.node(|_| {}).await;
    let moderator = a.staff("mia", "moderator").await;
    let spammer = a.register("spammer").await;
    let writer = a.register("writer").await;
    // A reader on node B watches the tag; the spammer's own stream is open on B.
    let (_, _, sse) = SseReader::open(&b, "/api/v1/streaming/hashtag?tag=live", None, None).await;
    let mut tag = sse.unwrap();
    let mut own = ws_connect(&b, Some(&spammer.token)).await;
    ws_send(&mut own, json!({"type": "subscribe", "stream": "user"})).await;
    let grant = a.grant(&writer, "read write").await;
    let (_, _, sse) = SseReader::open(&b, "/api/v1/streaming/user", None, Some(&grant.token)).await;
    let mut writers_stream = sse.unwrap();
    tokio::time::sleep(QUIET).await;
    let spam = a.post(&spammer, "spam #live").await;
    sse_event(&mut tag, "update").await;

    let acted = std::time::Instant::now();
    assert_eq!(
        a.admin_action(&moderator, &spammer, "suspend", "").await,
        200
    );
    let d = sse_event(&mut tag, "delete").await;
    assert_eq!(d.data, spam["id"].as_str().unwrap());
    let closed = tokio::time::timeout(Duration::from_secs(5), async {
        while ws_next(&mut own, Duration::from_secs(5)).await.is_some() {}
    })
    .await;
    assert!(closed.is_ok(), "the suspended account's stream on B closes");
    // Not a timing assertion of speed, a bound on "at once" (the second).
    assert!(
        acted.elapsed() < Duration::from_secs(3),
        "took {:?}",
        acted.elapsed()
    );

    // A token revoked on A closes its stream on B.
    a.revoke(&grant).await;
    let ended = tokio::time::timeout(Duration::from_secs(5), async {
        while writers_stream.next(Duration::from_secs(5)).await.is_some() {}
    })
    .await;
    assert!(ended.is_ok(), "the revoked token's stream on B ends");
    // History on B is the present: the tag page and a resume have no spam.
    let (_, tl) = b.get_json("/api/v1/timelines/tag/live", None).await;
    assert!(ids(&tl).is_empty());
    let replay = sse_replay(&b, "/api/v1/streaming/hashtag?tag=live", "0", None).await;
    assert!(replay.iter().all(|e| e.event != "update"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(all(tidings_postgres, tidings_redis)),
    ignore = "needs TIDINGS_TEST_DATABASE_URL and redis-server"
)]
async fn rate_limits_are_one_count_across_nodes() {
    let Some(cluster) = Cluster::start().await else {
        return;
    };
    let limits = |c: &mut tidings::config::Config| {
        c.api_requests_per_token = 4;
        c.statuses_per_account = 3;
    };
    let a = cluster.node(limits).await;
    let b = cluster.node(limits).await;
    let poster = a.register("poster").await;
    // Posts alternate between the nodes; the third is the last one allowed.
    let statuses = |n: &TestApp| {
        let t = poster.token.clone();
        let (http, url) = (n.http.clone(), n.url("/api/v1/statuses"));
        async move {
            http.post(url)
                .bearer_auth(t)
                .json(&json!({"status": "hi"}))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(statuses(&a).await, 200);
    assert_eq!(statuses(&b).await, 200);
    assert_eq!(statuses(&a).await, 200);
    assert_eq!(
        statuses(&b).await,
        429,
        "the fourth notice, on the other node"
    );
    // The per-token budget (4) was spent by those four requests, whichever node took
    // them.
    let (status, _) = a
        .call(Method::GET, "/api/v1/timelines/home", &poster.token, None)
        .await;
    assert_eq!(status, 429);
    let (status, _) = b
        .call(Method::GET, "/api/v1/timelines/home", &poster.token, None)
        .await;
    assert_eq!(status, 429);
    // Redis gone: reads fail open, sign-in (a credential route) fails closed.
    let (id, secret) = a.create_app("urn:ietf:wg:oauth:2.0:oob", "read").await;
    let mut cluster = cluster;
    cluster.redis.stop();
    let reader = eventually(
        "a read answered without Redis",
        Duration::from_secs(10),
        || async {
            let (s, _) = a.get_json("/api/v1/timelines/public", None).await;
            (s == 200).then_some(s)
        },
    )
    .await;
    assert_eq!(reader, 200);
    let res = a
        .http
        .post(a.url("/oauth/token"))
        .form(&[
            ("grant_type", "password"),
            ("client_id", id.as_str()),
            ("client_secret", secret.as_str()),
            ("username", "poster"),
            ("password", "correct horse battery"),
            ("scope", "read"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        503,
        "no password guessing while the counter is away"
    );
}

/// An anonymous poll of a tag timeline: (status, ETag, ids).
async fn poll_tag(app: &TestApp, tag: &str, etag: Option<&str>) -> (u16, String, Vec<String>) {
    let mut req = app
        .http
        .get(app.url(&format!("/api/v1/timelines/tag/{tag}")));
    if let Some(e) = etag {
        req = req.header("If-None-Match", e);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let etag = res.headers()["etag"].to_str().unwrap().to_string();
    let list = if status == 200 {
        ids(&res.json().await.unwrap())
    } else {
        Vec::new()
    };
    (status, etag, list)
}

/// Lifting a silence brings the author's notices back into public pages with no event on
/// their streams; a poller's unchanged page (answered from the stream's head) must still
/// change: the standing of accounts is part of the head.
async fn a_poller_of_a_tag_sees_a_silenced_author_come_back_when_lifted(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let moderator = app.staff("mia", "moderator").await;
    let (loud, calm) = (app.register("loud").await, app.register("calm").await);
    app.post(&calm, "calm words on the square #square").await;
    let back = app.post(&loud, "loud words on the square #square").await;
    assert_eq!(
        app.admin_action(&moderator, &loud, "silence", "too loud")
            .await,
        200
    );
    // Once everything is routed, the page's ETag is its stream's head.
    let etag = eventually("the silence routed", common::WAIT, || async {
        let (status, etag, list) = poll_tag(&app, "square", None).await;
        (status == 200 && list.len() == 1 && etag.starts_with("W/\"h")).then_some(etag)
    })
    .await;
    assert_eq!(poll_tag(&app, "square", Some(&etag)).await.0, 304);

    let (status, _) = app
        .call(
            Method::POST,
            &format!("/api/v1/admin/accounts/{}/unsilence", loud.id),
            &moderator.token,
            None,
        )
        .await;
    assert_eq!(status, 200);
    let id = back["id"].as_str().unwrap().to_string();
    eventually(
        "the lifted silence seen by the poller",
        common::WAIT,
        || async {
            let (status, fresh, list) = poll_tag(&app, "square", Some(&etag)).await;
            (status == 200 && fresh.starts_with("W/\"h") && list.contains(&id)).then_some(())
        },
    )
    .await;
}
