//! Unmodified Mastodon client libraries against a real node, each through its public API
//! only.
//!
//! Mastodon.py (`clients/mastodon_py/story.py`) registers, signs in, posts, corrects, pages
//! by the `Link` header, streams over SSE; then an editor, three readers and a stranger
//! join: a reply chain read through `status_context` with a followers-only reply hidden
//! from the stranger, search of notices, accounts and tags, notifications of every type
//! (listed, filtered by `types` and account, dismissed, cleared), followers paged by
//! `fetch_next`, bookmarks, at most five pins, favourites, markers, the instance's counts
//! and trending tags; then a generated PNG posted with its description (its file fetched),
//! a poll another user votes in, a list and its timeline, the profile's name, note and
//! fields, and a scheduled notice listed and withdrawn; and deletes.
//!
//! Mastodon.py's admin functions (`clients/mastodon_py/moderation.py`) work a report,
//! suspend, lift, silence, mark sensitive, disable and enable accounts, and block a
//! server, as an administrator; a user with an admin-scoped token is refused.
//!
//! masto.js (`clients/masto_js/story.mjs`) follows a reporter and watches her post,
//! correction and deletion on three streams of one WebSocket; then the same thread,
//! search, lists, markers, counts and trends, with the reporter's notifications arriving
//! live on `user:notification` and `user` over her own WebSocket before they are listed,
//! filtered, dismissed and cleared; then the same media, poll, list, profile and
//! scheduled-notice steps.

mod common;

use common::{Backend, spawn};
use std::process::Command;

/// One story per library and backend; each shows as ignored where its library (or
/// Postgres) is missing (see `build.rs`).
macro_rules! stories {
    ($($name:ident: $story:ident on $backend:ident if $($cfg:ident),+ else $why:literal;)*) => {
        $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        #[cfg_attr(not(all($($cfg),+)), ignore = $why)]
        async fn $name() { $story(Backend::$backend).await })*
    };
}

stories! {
    mastodon_py_on_sqlite: mastodon_py_tells_the_newsroom_story on Sqlite
        if tidings_mastodon_py else "Mastodon.py is not installed (TIDINGS_TEST_PYTHON)";
    mastodon_py_on_postgres: mastodon_py_tells_the_newsroom_story on Postgres
        if tidings_mastodon_py, tidings_postgres else "needs Mastodon.py and TIDINGS_TEST_DATABASE_URL";
    mastodon_py_moderates_on_sqlite: mastodon_py_moderates on Sqlite
        if tidings_mastodon_py else "Mastodon.py is not installed (TIDINGS_TEST_PYTHON)";
    mastodon_py_moderates_on_postgres: mastodon_py_moderates on Postgres
        if tidings_mastodon_py, tidings_postgres else "needs Mastodon.py and TIDINGS_TEST_DATABASE_URL";
    masto_js_on_sqlite: masto_js_watches_the_story_live on Sqlite
        if tidings_masto_js else "masto.js is not installed (cd clients/masto_js && npm ci)";
    masto_js_on_postgres: masto_js_watches_the_story_live on Postgres
        if tidings_masto_js, tidings_postgres else "needs masto.js and TIDINGS_TEST_DATABASE_URL";
}

/// A client library that is not installed: a loud skip, and a failure under `CI=true`.
fn missing(what: &str) -> Option<String> {
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("CI=true but {what}");
    }
    eprintln!("\n*** SKIPPED: {what} ***\n");
    None
}

/// The Python that has Mastodon.py: `TIDINGS_TEST_PYTHON`, else `python3` if it can
/// import it.
fn python_with_mastodon_py() -> Option<String> {
    let python = std::env::var("TIDINGS_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let ok = Command::new(&python)
        .args(["-c", "import mastodon"])
        .output()
        .is_ok_and(|o| o.status.success());
    if ok {
        return Some(python);
    }
    missing(&format!(
        "{python} cannot import Mastodon.py (pip install Mastodon.py, or set TIDINGS_TEST_PYTHON)"
    ))
}

/// `node` (or `TIDINGS_TEST_NODE`), when masto.js is installed in `clients/masto_js`
/// (`npm ci` there; `.ci/run` does it).
fn node_with_masto_js() -> Option<String> {
    let installed = std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/clients/masto_js/node_modules/masto/package.json"
    ))
    .exists();
    let node = std::env::var("TIDINGS_TEST_NODE").unwrap_or_else(|_| "node".into());
    let runs = Command::new(&node)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if installed && runs {
        return Some(node);
    }
    missing("masto.js is not installed (cd clients/masto_js && npm ci) or node does not run")
}

/// Run `program story` in `clients/<dir>` against a fresh node on `b`: it must exit 0 and
/// print "`<name>` story: ok".
async fn run_story(b: Backend, program: String, dir: &str, story: &str, name: &str) {
    let Some(app) = spawn(b).await else { return };
    run_story_on(&app, program, dir, story, name, &[]).await;
}

/// [`run_story`] on a node already set up; `args` follow the node's address.
async fn run_story_on(
    app: &common::TestApp,
    program: String,
    dir: &str,
    story: &str,
    name: &str,
    args: &[&str],
) {
    let dir = format!("{}/clients/{dir}", env!("CARGO_MANIFEST_DIR"));
    let (story, base) = (story.to_string(), app.base.clone());
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(&program)
            .current_dir(dir)
            .arg(story)
            .arg(base)
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {program}: {e}"))
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{name} story failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains(&format!("{name} story: ok")));
}

async fn mastodon_py_tells_the_newsroom_story(b: Backend) {
    if let Some(python) = python_with_mastodon_py() {
        run_story(b, python, "mastodon_py", "story.py", "mastodon.py").await;
    }
}

/// Mastodon.py's admin functions, unmodified, against an administrator made as the
/// operator would (`clients/mastodon_py/moderation.py`).
async fn mastodon_py_moderates(b: Backend) {
    if let Some(python) = python_with_mastodon_py() {
        let Some(app) = spawn(b).await else { return };
        let admin = app.register("ada").await;
        app.make_admin(&admin).await;
        run_story_on(
            &app,
            python,
            "mastodon_py",
            "moderation.py",
            "mastodon.py moderation",
            &["ada"],
        )
        .await;
    }
}

async fn masto_js_watches_the_story_live(b: Backend) {
    if let Some(node) = node_with_masto_js() {
        run_story(b, node, "masto_js", "story.mjs", "masto.js").await;
    }
}
