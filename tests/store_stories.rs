//! Stories of the store itself, below the HTTP API, on a real database of each backend.

mod common;

use common::{Backend, database_url};
use tidings::domain::entities::Visibility;
use tidings::domain::{AccountId, Site, StatusId};
use tidings::store::{NewAccount, NewStatus, StatusChange, StoreError};

on_both_backends!(
    posts_and_other_writes_side_by_side_are_each_numbered_once_in_order,
    a_burst_of_posts_commits_together_and_a_bad_post_fails_alone,
    one_reporter_posting_fast_gets_a_count_of_her_own_on_every_answer,
    a_post_is_numbered_in_its_own_commit_on_sqlite_and_by_the_sequencer_on_postgres,
    a_token_read_between_posts_shows_its_authors_count_of_now,
);

fn notice(
    account_id: AccountId,
    text: String,
    in_reply_to_id: Option<StatusId>,
    key: Option<&str>,
) -> NewStatus {
    NewStatus {
        account_id,
        text,
        spoiler_text: String::new(),
        sensitive: false,
        visibility: Visibility::Public,
        language: None,
        in_reply_to_id,
        idempotency_key: key.map(str::to_string),
        poll: None,
        media_ids: Vec::new(),
        remote: None,
    }
}

/// A correction of a notice's text, nothing else changed.
fn correction(status_id: StatusId, text: String) -> StatusChange {
    StatusChange {
        status_id,
        text,
        spoiler_text: String::new(),
        sensitive: false,
        language: None,
        media_ids: None,
        remote: None,
    }
}

/// The sequencer's lease, which nobody else holds in these stories.
async fn sequencer(store: &dyn tidings::store::Store) -> Box<dyn tidings::store::SequencerLease> {
    store
        .sequencer_lease()
        .await
        .unwrap()
        .expect("nobody else holds the lease")
}

/// Rounds of `limit` until one numbers nothing: every event numbered, in order.
async fn numbered_until_none_left(
    lease: &mut dyn tidings::store::SequencerLease,
    limit: i64,
) -> Vec<tidings::domain::Event> {
    let mut all = Vec::new();
    loop {
        let round = lease.assign(limit).await.unwrap();
        if round.is_empty() {
            return all;
        }
        all.extend(round);
    }
}

async fn open_with_author(
    b: Backend,
) -> Option<(
    std::sync::Arc<dyn tidings::store::Store>,
    AccountId,
    Option<tempfile::TempDir>,
)> {
    let (url, dir) = database_url(b).await?;
    let store = tidings::store::open(&url, Site::new("http://news.test"))
        .await
        .expect("open the store");
    let ann = store
        .create_account(NewAccount {
            username: "ann".into(),
            email: None,
            password_hash: String::new(),
            is_admin: false,
        })
        .await
        .unwrap();
    Some((store, ann.id, dir))
}

/// The embedded node keeps a token it has read for a moment (`token_cache`); a post in
/// that moment still shows in the token's account, as in the database.
async fn a_token_read_between_posts_shows_its_authors_count_of_now(b: Backend) {
    let Some((store, ann, _dir)) = open_with_author(b).await else {
        return;
    };
    store
        .create_token(tidings::store::NewToken {
            token_hash: "h-ann".into(),
            app_id: None,
            account_id: Some(ann),
            scopes: "read write".into(),
        })
        .await
        .unwrap();
    let count = || async {
        let t = store.token("h-ann").await.unwrap().expect("her token");
        let a = t.account.expect("her account");
        (a.statuses_count, a.last_status_at)
    };
    assert_eq!(count().await, (0, None));
    for n in 1..=3 {
        let posted = store
            .create_status(notice(ann, format!("update {n}"), None, None))
            .await
            .unwrap();
        assert_eq!(
            count().await,
            (n, Some(posted.created_at)),
            "after post {n}"
        );
    }
    // A repeated post (its key seen before) answers with its count of then, and leaves
    // hers as it is.
    let keyed = notice(ann, "keyed".into(), None, Some("k1"));
    store.create_status(keyed.clone()).await.unwrap();
    store
        .create_status(notice(ann, "update 5".into(), None, None))
        .await
        .unwrap();
    store.create_status(keyed).await.unwrap();
    assert_eq!(count().await.0, 5);
}

/// Three hundred posts of one author in waves, so that batches are written side by side
/// (two at once on Postgres): each answer shows the author's count right after its own
/// post, so the counts shown are exactly 1..=300, and the account ends at 300.
async fn one_reporter_posting_fast_gets_a_count_of_her_own_on_every_answer(b: Backend) {
    let Some((store, ann, _dir)) = open_with_author(b).await else {
        return;
    };
    let mut posts = Vec::new();
    for wave in 0..10 {
        for i in 0..30 {
            let store = store.clone();
            let s = notice(ann, format!("update {wave}.{i}"), None, None);
            posts.push(tokio::spawn(async move { store.create_status(s).await }));
        }
        // A pause between waves, so that their batches are written side by side.
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    let mut counts = Vec::new();
    for p in posts {
        let answer = tokio::time::timeout_at(deadline, p)
            .await
            .expect("every post is answered within 30 s");
        counts.push(answer.unwrap().expect("post").account.statuses_count);
    }
    counts.sort_unstable();
    assert_eq!(counts, (1..=300).collect::<Vec<i64>>());
    let after = store.account(ann).await.unwrap().unwrap();
    assert_eq!(after.statuses_count, 300);
}

/// Sixty posts arrive at once (they are written in shared transactions); a few reply to a
/// status that does not exist (the API checks that first, but it can vanish in between),
/// a few repeat one Idempotency-Key. The bad ones fail alone, the repeats post once, and
/// the author's counter counts each new post exactly once.
async fn a_burst_of_posts_commits_together_and_a_bad_post_fails_alone(b: Backend) {
    let Some((store, ann, _dir)) = open_with_author(b).await else {
        return;
    };
    let posts: Vec<_> = (0..60)
        .map(|i| {
            let store = store.clone();
            let s = match i % 10 {
                3 => notice(
                    ann,
                    format!("reply {i}"),
                    Some(StatusId::new(i64::MAX - 7)),
                    None,
                ),
                5 => notice(ann, "from a shaky phone".into(), None, Some("tap-tap")),
                _ => notice(ann, format!("update {i}"), None, None),
            };
            tokio::spawn(async move { (i, store.create_status(s).await) })
        })
        .collect();
    let mut fresh_counts = Vec::new();
    let mut repeated_ids = Vec::new();
    for p in posts {
        let (i, result) = p.await.unwrap();
        match (i % 10, result) {
            (3, Err(StoreError::Invalid(m))) => assert!(m.contains("does not exist"), "{m}"),
            (3, other) => panic!("reply {i} to a missing status: {:?}", other.map(|s| s.id)),
            (5, Ok(s)) => repeated_ids.push(s.id),
            (_, Ok(s)) => {
                assert_eq!(s.text, format!("update {i}"));
                fresh_counts.push(s.account.statuses_count);
            }
            (_, Err(e)) => panic!("post {i} failed: {e}"),
        }
    }
    assert_eq!(repeated_ids.len(), 6);
    assert!(
        repeated_ids.iter().all(|id| *id == repeated_ids[0]),
        "one Idempotency-Key, one status: {repeated_ids:?}"
    );
    assert_eq!(fresh_counts.len(), 48);
    let after = store.account(ann).await.unwrap().unwrap();
    assert_eq!(after.statuses_count, 49, "48 updates and one repeated post");
    // Each answer carried the counter as it stood after its own post: all different.
    fresh_counts.sort_unstable();
    fresh_counts.dedup();
    assert_eq!(fresh_counts.len(), 48, "counters shown: {fresh_counts:?}");
    assert!(fresh_counts.iter().all(|c| (1..=49).contains(c)));
}

/// Posts (on SQLite: the writer thread), favourites and corrections (on SQLite: sqlx's
/// writer connection) and the sequencer's rounds all at once: every write succeeds, and
/// every event they wrote is numbered once, the positions running 1, 2, 3, … with no gap.
async fn posts_and_other_writes_side_by_side_are_each_numbered_once_in_order(b: Backend) {
    let Some((store, ann, _dir)) = open_with_author(b).await else {
        return;
    };
    let bob = store
        .create_account(NewAccount {
            username: "bob".into(),
            email: None,
            password_hash: String::new(),
            is_admin: false,
        })
        .await
        .unwrap()
        .id;
    let mut seeds = Vec::new();
    for i in 0..20 {
        let s = store
            .create_status(notice(ann, format!("seed {i}"), None, None))
            .await
            .unwrap();
        seeds.push(s.id);
    }
    let mut lease = sequencer(&*store).await;
    let mut writes = Vec::new();
    for i in 0..60 {
        let store = store.clone();
        writes.push(tokio::spawn(async move {
            store
                .create_status(notice(ann, format!("update {i}"), None, None))
                .await
                .map(|_| ())
        }));
    }
    for (i, id) in seeds.iter().copied().enumerate() {
        let liker = store.clone();
        writes.push(tokio::spawn(async move {
            liker.set_favourite(bob, id, true).await.map(|_| ())
        }));
        let editor = store.clone();
        writes.push(tokio::spawn(async move {
            editor
                .edit_status(correction(id, format!("seed {i}, corrected")))
                .await
                .map(|_| ())
        }));
    }
    let mut positions = Vec::new();
    while writes.iter().any(|w| !w.is_finished()) {
        positions.extend(
            lease
                .assign(7)
                .await
                .unwrap()
                .iter()
                .map(|e| e.position.get()),
        );
        tokio::task::yield_now().await;
    }
    for w in writes {
        w.await.unwrap().expect("every write succeeds");
    }
    positions.extend(
        numbered_until_none_left(&mut *lease, 7)
            .await
            .iter()
            .map(|e| e.position.get()),
    );
    // 20 seeds, 60 posts and 20 corrections at least (favourites may tell the author).
    assert!(
        positions.len() >= 100,
        "{} events numbered",
        positions.len()
    );
    let expected: Vec<i64> = (1..=positions.len() as i64).collect();
    assert_eq!(
        positions, expected,
        "numbered once each, in order, with no gap"
    );
}

/// On SQLite a post's event gets its position in the post's own transaction: it is
/// numbered the moment the post is answered, before any sequencer round, and the
/// sequencer hands it on to be published. A correction (another writer) is numbered by
/// the sequencer's round, after it. On Postgres both wait for the sequencer.
async fn a_post_is_numbered_in_its_own_commit_on_sqlite_and_by_the_sequencer_on_postgres(
    b: Backend,
) {
    let Some((store, ann, _dir)) = open_with_author(b).await else {
        return;
    };
    let posted = store
        .create_status(notice(ann, "polls close at eight".into(), None, None))
        .await
        .unwrap();
    let head = store.head_position().await.unwrap().get();
    match b {
        Backend::Sqlite => assert_eq!(head, 1, "numbered in the post's commit"),
        Backend::Postgres => assert_eq!(head, 0, "numbered by the sequencer"),
    }
    store
        .edit_status(correction(
            posted.id,
            "polls close at eight (local time)".into(),
        ))
        .await
        .unwrap();
    assert_eq!(
        store.head_position().await.unwrap().get(),
        head,
        "a correction waits for the sequencer"
    );
    let mut lease = sequencer(&*store).await;
    let numbered: Vec<_> = numbered_until_none_left(&mut *lease, 100)
        .await
        .iter()
        .map(|e| (e.position.get(), e.kind.as_str()))
        .collect();
    assert_eq!(
        numbered,
        vec![(1, "update"), (2, "status.update")],
        "the sequencer hands on the post's event and numbers the correction's"
    );
    assert_eq!(store.head_position().await.unwrap().get(), 2);
}

/// On SQLite, an event that cannot be numbered (here a row of a kind this version does not
/// know, as a bug or a later version could leave) stops publishing, but not posting: the
/// post's transaction numbers behind a savepoint and, when that fails, keeps the post and
/// leaves its events to the sequencer, whose round reports the fault.
#[tokio::test]
async fn on_sqlite_an_event_that_cannot_be_numbered_stops_publishing_but_not_posting() {
    let Some((store, ann, dir)) = open_with_author(Backend::Sqlite).await else {
        return;
    };
    let file = dir.as_ref().expect("a file").path().join("tidings.db");
    let raw = sqlx::AnyPool::connect(&format!("sqlite://{}", file.display()))
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO events (kind, payload, streams, created_at) \
         VALUES ('no.such.kind', '{}', 'public', 0)",
    )
    .execute(&raw)
    .await
    .unwrap();
    let posted = store
        .create_status(notice(ann, "still posting".into(), None, None))
        .await;
    assert!(posted.is_ok(), "the post is kept: {posted:?}");
    assert_eq!(
        store.head_position().await.unwrap().get(),
        0,
        "nothing numbered past the fault"
    );
    let mut lease = sequencer(&*store).await;
    assert!(
        lease.assign(100).await.is_err(),
        "the sequencer's round reports it"
    );
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM statuses")
        .fetch_one(&raw)
        .await
        .unwrap();
    assert_eq!(count, 1);
}

/// The positions and kinds of every event in the SQLite file `dir` holds, in order.
async fn events_in_file(
    dir: &Option<tempfile::TempDir>,
) -> (sqlx::AnyPool, Vec<(Option<i64>, String)>) {
    let file = dir.as_ref().expect("a file").path().join("tidings.db");
    let raw = sqlx::AnyPool::connect(&format!("sqlite://{}", file.display()))
        .await
        .unwrap();
    let rows: Vec<(Option<i64>, String)> =
        sqlx::query_as("SELECT position, kind FROM events ORDER BY id")
            .fetch_all(&raw)
            .await
            .unwrap();
    (raw, rows)
}

/// On SQLite a post gives its event the next position as it writes it — but an event
/// another writer left without one (a correction, on sqlx's writer connection) comes
/// first: the next post's transaction numbers it, then its own, in commit order, and
/// every event has its stream rows.
#[tokio::test]
async fn on_sqlite_a_post_after_another_writers_event_is_numbered_after_it() {
    let Some((store, ann, dir)) = open_with_author(Backend::Sqlite).await else {
        return;
    };
    let first = store
        .create_status(notice(ann, "the count begins".into(), None, None))
        .await
        .unwrap();
    store
        .create_status(notice(ann, "first district in".into(), None, None))
        .await
        .unwrap();
    store
        .edit_status(correction(first.id, "the count began at nine".into()))
        .await
        .unwrap();
    assert_eq!(store.head_position().await.unwrap().get(), 2);
    store
        .create_status(notice(ann, "second district in".into(), None, None))
        .await
        .unwrap();
    assert_eq!(
        store.head_position().await.unwrap().get(),
        4,
        "the post numbered the correction and then its own event"
    );
    let (raw, events) = events_in_file(&dir).await;
    assert_eq!(
        events,
        vec![
            (Some(1), "update".to_string()),
            (Some(2), "update".to_string()),
            (Some(3), "status.update".to_string()),
            (Some(4), "update".to_string()),
        ],
        "in commit order, none left without a position"
    );
    let unlisted: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM events e WHERE NOT EXISTS \
         (SELECT 1 FROM event_streams s WHERE s.event_id = e.id AND s.position = e.position)",
    )
    .fetch_one(&raw)
    .await
    .unwrap();
    assert_eq!(
        unlisted, 0,
        "every event has its stream rows, with its position"
    );
    let mut lease = sequencer(&*store).await;
    let handed: Vec<i64> = numbered_until_none_left(&mut *lease, 100)
        .await
        .iter()
        .map(|e| e.position.get())
        .collect();
    assert_eq!(handed, vec![1, 2, 3, 4], "the sequencer hands on all four");
}

/// On SQLite, a post whose next position turns out taken (here by a row written behind
/// the store's back, as a bug could leave) is still posted: its event is written without
/// a position and numbered after the one in the way, in the same transaction.
#[tokio::test]
async fn on_sqlite_a_post_whose_position_is_taken_is_numbered_after_it() {
    let Some((store, ann, dir)) = open_with_author(Backend::Sqlite).await else {
        return;
    };
    store
        .create_status(notice(ann, "polls open".into(), None, None))
        .await
        .unwrap();
    let (raw, _) = events_in_file(&dir).await;
    sqlx::query(
        "INSERT INTO events (kind, payload, streams, created_at, position) \
         VALUES ('update', '{}', 'public', 0, 2)",
    )
    .execute(&raw)
    .await
    .unwrap();
    let posted = store
        .create_status(notice(ann, "turnout is high".into(), None, None))
        .await;
    assert!(posted.is_ok(), "the post is kept: {posted:?}");
    let (_, events) = events_in_file(&dir).await;
    let positions: Vec<Option<i64>> = events.iter().map(|e| e.0).collect();
    assert_eq!(
        positions,
        vec![Some(1), Some(2), Some(3)],
        "numbered after the row in the way"
    );
    assert_eq!(store.head_position().await.unwrap().get(), 3);
}

/// On SQLite, an event left without a position behind the store's back (a bug, or another
/// program writing the file: nothing marks it) is still numbered by the sequencer's safety
/// round while posts keep coming — posts that give positions as they write do not count
/// as rounds that looked for it.
#[tokio::test]
async fn on_sqlite_an_unmarked_unpositioned_event_is_numbered_while_posts_keep_coming() {
    let Some((store, ann, dir)) = open_with_author(Backend::Sqlite).await else {
        return;
    };
    let mut lease = sequencer(&*store).await;
    store
        .create_status(notice(ann, "doors open".into(), None, None))
        .await
        .unwrap();
    assert_eq!(numbered_until_none_left(&mut *lease, 100).await.len(), 1);
    let (raw, _) = events_in_file(&dir).await;
    sqlx::query(
        "INSERT INTO events (kind, payload, streams, created_at) \
         VALUES ('update', '{}', 'public', 0)",
    )
    .execute(&raw)
    .await
    .unwrap();
    let poster = {
        let store = store.clone();
        tokio::spawn(async move {
            for i in 0.. {
                store
                    .create_status(notice(ann, format!("queue update {i}"), None, None))
                    .await
                    .unwrap();
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        })
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    let mut handed = Vec::new();
    let numbered = loop {
        handed.extend(lease.assign(100).await.unwrap());
        if handed.iter().any(|e| e.payload.as_ref() == "{}") {
            break true;
        }
        if std::time::Instant::now() > deadline {
            break false;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    poster.abort();
    assert!(
        numbered,
        "the stray event was numbered within the safety round"
    );
    let positions: Vec<i64> = handed.iter().map(|e| e.position.get()).collect();
    let expected: Vec<i64> = (2..2 + positions.len() as i64).collect();
    assert_eq!(positions, expected, "handed on in order, with no gap");
}

/// The ids of the notices a public search for `q` finds, lowest first.
async fn found(store: &dyn tidings::store::Store, q: &str) -> Vec<i64> {
    let mut ids: Vec<i64> = store
        .search_statuses(
            &tidings::store::StatusSearch {
                q: q.into(),
                limit: 40,
                ..Default::default()
            },
            None,
        )
        .await
        .unwrap()
        .iter()
        .map(|s| s.id.get())
        .collect();
    ids.sort();
    ids
}

/// SQLite's full-text index: the highest status id it has taken, and how many notices it
/// holds.
async fn index_state(raw: &sqlx::AnyPool) -> (i64, i64) {
    sqlx::query_as(
        "SELECT (SELECT upto FROM statuses_fts_mark), (SELECT COUNT(*) FROM statuses_fts_docsize)",
    )
    .fetch_one(raw)
    .await
    .unwrap()
}

/// On SQLite the full-text index takes notices after their post has committed; a search
/// still finds a notice the moment it is posted, as it is then: corrected before the index
/// took it, by its new words only; deleted before, never. What the index has taken is kept
/// as it changes — corrected, deleted — and FTS5 finds its index whole.
#[tokio::test]
async fn on_sqlite_search_finds_a_notice_as_soon_as_it_is_posted_as_it_is_now() {
    let Some((store, ann, dir)) = open_with_author(Backend::Sqlite).await else {
        return;
    };
    let post = |text: &str| store.create_status(notice(ann, text.into(), None, None));
    let flood = post("harbour flood warning").await.unwrap();
    let (raw, _) = events_in_file(&dir).await;
    let indexed = || async { index_state(&raw).await.1 };
    assert_eq!(indexed().await, 0, "the post's transaction indexed nothing");
    let secret = post("harbour master resigns").await.unwrap();
    store
        .edit_status(correction(flood.id, "harbour storm warning".into()))
        .await
        .unwrap();
    store.delete_status(secret.id, None).await.unwrap();
    let ferry = post("harbour ferry cancelled").await.unwrap();
    assert_eq!(
        found(&*store, "flood").await,
        Vec::<i64>::new(),
        "the words corrected away"
    );
    assert_eq!(found(&*store, "storm").await, vec![flood.id.get()]);
    assert_eq!(
        found(&*store, "resigns").await,
        Vec::<i64>::new(),
        "deleted before it was indexed"
    );
    assert_eq!(
        found(&*store, "harbour").await,
        vec![flood.id.get(), ferry.id.get()]
    );
    assert_eq!(indexed().await, 2, "the search took the two that stand");

    store
        .edit_status(correction(flood.id, "harbour calm again".into()))
        .await
        .unwrap();
    store.delete_status(ferry.id, None).await.unwrap();
    let reopened = post("harbour reopened").await.unwrap();
    assert_eq!(found(&*store, "storm").await, Vec::<i64>::new());
    assert_eq!(found(&*store, "calm").await, vec![flood.id.get()]);
    assert_eq!(found(&*store, "ferry").await, Vec::<i64>::new());
    assert_eq!(
        found(&*store, "harbour").await,
        vec![flood.id.get(), reopened.id.get()]
    );
    // Every word the index holds, by FTS5's own vocabulary table: an edit or deletion that
    // told it other words than it had indexed would leave the old ones behind.
    let mut one = raw.acquire().await.unwrap();
    sqlx::query("CREATE VIRTUAL TABLE temp.words USING fts5vocab(main, statuses_fts, 'row')")
        .execute(&mut *one)
        .await
        .unwrap();
    let words: Vec<String> = sqlx::query_scalar("SELECT term FROM temp.words ORDER BY term")
        .fetch_all(&mut *one)
        .await
        .unwrap();
    assert_eq!(words, ["again", "calm", "harbour", "reopened"]);
}

/// On SQLite the node's indexing task takes what was posted a moment later, with no
/// search to ask for it; on Postgres the index is in the row and there is no task.
#[tokio::test]
async fn on_sqlite_posted_notices_are_indexed_a_moment_later_without_a_search() {
    let Some((store, ann, dir)) = open_with_author(Backend::Sqlite).await else {
        return;
    };
    let stop = tokio_util::sync::CancellationToken::new();
    let task = tokio::spawn(tidings::store::keep_index(store.clone(), stop.clone()));
    let mut last = 0;
    for i in 0..30 {
        last = store
            .create_status(notice(
                ann,
                format!("results from district {i}"),
                None,
                None,
            ))
            .await
            .unwrap()
            .id
            .get();
    }
    let (raw, _) = events_in_file(&dir).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let (mark, indexed) = index_state(&raw).await;
        if mark == last && indexed == 30 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "indexed {indexed} of 30, up to {mark} of {last}, after 5 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    stop.cancel();
    task.await.unwrap();
}

/// On SQLite a backlog longer than one indexing transaction takes (a quiet node restarted
/// after a burst; 256 a batch) is all found by the next search, and a reblog, which has no
/// words of its own, is passed over: the original is found once.
#[tokio::test]
async fn on_sqlite_a_backlog_of_several_batches_is_all_searchable_and_reblogs_are_passed_over() {
    let Some((store, ann, dir)) = open_with_author(Backend::Sqlite).await else {
        return;
    };
    let mut ids = Vec::new();
    for i in 0..600 {
        ids.push(
            store
                .create_status(notice(ann, format!("tally{i} counted"), None, None))
                .await
                .unwrap()
                .id
                .get(),
        );
    }
    let reblog = store
        .set_reblog(ann, tidings::domain::StatusId::new(ids[0]), true)
        .await
        .unwrap();
    assert_eq!(
        found(&*store, "tally599").await,
        vec![ids[599]],
        "the newest, by the first search"
    );
    assert_eq!(found(&*store, "tally300").await, vec![ids[300]]);
    assert_eq!(
        found(&*store, "tally0").await,
        vec![ids[0]],
        "the original, once"
    );
    let (raw, _) = events_in_file(&dir).await;
    let (mark, indexed) = index_state(&raw).await;
    assert_eq!(indexed, 600, "every notice, not the reblog");
    assert_eq!(mark, reblog.id.get(), "the mark passed the reblog");
}
