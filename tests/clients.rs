//! Unmodified Mastodon client libraries against a real node: Mastodon.py registers,
//! signs in, posts, corrects, pages by the `Link` header, streams over SSE and deletes
//! (`clients/mastodon_py/story.py`); masto.js follows a reporter and watches her post,
//! correction and deletion on three streams of one WebSocket
//! (`clients/masto_js/story.mjs`).

mod common;

use common::{Backend, spawn};
use std::process::Command;

on_both_backends!(
    mastodon_py_tells_the_newsroom_story,
    masto_js_watches_the_story_over_one_websocket
);

/// The Python that has Mastodon.py: `TIDINGS_TEST_PYTHON`, else `python3` if it can
/// import it. Missing is a loud skip, and a failure under `CI=true`.
fn python_with_mastodon_py() -> Option<String> {
    let python = std::env::var("TIDINGS_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let ok = Command::new(&python)
        .args(["-c", "import mastodon"])
        .output()
        .is_ok_and(|o| o.status.success());
    if ok {
        return Some(python);
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("CI=true but {python} cannot import Mastodon.py (set TIDINGS_TEST_PYTHON)");
    }
    eprintln!(
        "\n*** SKIPPED: no Python with Mastodon.py (pip install Mastodon.py, or set TIDINGS_TEST_PYTHON) ***\n"
    );
    None
}

async fn mastodon_py_tells_the_newsroom_story(b: Backend) {
    let Some(python) = python_with_mastodon_py() else {
        return;
    };
    let Some(app) = spawn(b).await else { return };
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/clients/mastodon_py/story.py");
    let base = app.base.clone();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(python)
            .arg(script)
            .arg(base)
            .output()
            .expect("run python")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "Mastodon.py story failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("mastodon.py story: ok"));
}

/// `node`, when masto.js is installed in `clients/masto_js` (`npm ci` there; `.ci/run`
/// does it). Missing is a loud skip, and a failure under `CI=true`.
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
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!(
            "CI=true but masto.js is not installed (cd clients/masto_js && npm ci) or {node} does not run"
        );
    }
    eprintln!("\n*** SKIPPED: no masto.js (cd clients/masto_js && npm ci) or no node ***\n");
    None
}

async fn masto_js_watches_the_story_over_one_websocket(b: Backend) {
    let Some(node) = node_with_masto_js() else {
        return;
    };
    let Some(app) = spawn(b).await else { return };
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/clients/masto_js");
    let base = app.base.clone();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(node)
            .current_dir(dir)
            .arg("story.mjs")
            .arg(base)
            .output()
            .expect("run node")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "masto.js story failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("masto.js story: ok"));
}
