//! The pages in real Chromium (Debian's, driven by playwright-core from
//! `tests/browser`): see `tests/browser/live.mjs` for the story. Screenshots of every
//! page at phone and desktop width are written to `target/screenshots/` for a human to
//! look at. Without Chromium or the npm package it is a loud skip, and a failure under
//! `CI=true` (`.ci/run` installs both).

mod common;

use common::{Backend, spawn};
use std::process::Command;

fn missing(what: &str) -> bool {
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("CI=true but {what}");
    }
    eprintln!("\n*** SKIPPED: {what} ***\n");
    false
}

fn chromium_and_playwright() -> bool {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/browser");
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    if !std::path::Path::new(&chromium).exists() {
        return missing("Chromium is not installed (apt-get install chromium)");
    }
    if !std::path::Path::new(&format!("{dir}/node_modules/playwright-core/package.json")).exists() {
        return missing("playwright-core is not installed (cd tests/browser && npm ci)");
    }
    true
}

/// Run `script` of `tests/browser` against a fresh node, signed in as `user`, and expect
/// it to print `<name> story: ok`.
async fn story(script: &str, user: &str, name: &str) {
    if !chromium_and_playwright() {
        return;
    }
    let Some(app) = spawn(Backend::Sqlite).await else {
        return;
    };
    let who = app.register(user).await;
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/browser");
    let shots = concat!(env!("CARGO_MANIFEST_DIR"), "/target/screenshots");
    let (base, token, script) = (app.base.clone(), who.token.clone(), script.to_string());
    let out = tokio::task::spawn_blocking(move || {
        Command::new(std::env::var("TIDINGS_TEST_NODE").unwrap_or_else(|_| "node".into()))
            .current_dir(dir)
            .env("SHOTS", shots)
            .args([script.as_str(), &base, &token])
            .output()
            .expect("run node")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{name} story failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains(&format!("{name} story: ok")), "{stdout}");
}

/// `tests/browser/live.mjs`: a tag's page while a reporter posts, corrects and deletes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_follows_the_story_live_in_chromium() {
    story("live.mjs", "reporter", "browser").await;
}

/// `tests/browser/event.mjs`: a live event's page while its editor curates it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_page_follows_the_editor_live_in_chromium() {
    story("event.mjs", "editor", "event").await;
}

/// `tests/browser/restart.mjs`: the page stays open while the real server process is
/// stopped and started again on the same database.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_left_open_across_a_restart_misses_nothing() {
    if !chromium_and_playwright() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/t.db?mode=rwc", dir.path().display());
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
        .to_string();
    let browser_dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/browser");
    let out = tokio::task::spawn_blocking(move || {
        Command::new(std::env::var("TIDINGS_TEST_NODE").unwrap_or_else(|_| "node".into()))
            .current_dir(browser_dir)
            .args(["restart.mjs", env!("CARGO_BIN_EXE_tidings"), &db, &port])
            .output()
            .expect("run node")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "restart story failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("restart story: ok"), "{stdout}");
}
