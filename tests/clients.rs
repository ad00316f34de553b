//! Unmodified Mastodon client libraries against a real node: Mastodon.py registers,
//! signs in, posts, corrects, pages by the `Link` header, streams over SSE and deletes
//! (`clients/mastodon_py/story.py`).

mod common;

use common::{Backend, spawn};
use std::process::Command;

on_both_backends!(mastodon_py_tells_the_newsroom_story);

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
