//! The live client of `clients/js` (the one the pages, the embed and other sites use),
//! tested with `node --test` against real Tidings servers that its tests start from this
//! build's binary: WebSocket, resume after a drop and after a restart (1012), SSE when
//! WebSocket is refused, polling when both are, going back up, `reset`, and counting
//! characters as the server does. Without Node or its two test packages (`ws`,
//! `eventsource`, pinned in `clients/js/package-lock.json`) it is a loud skip, and a
//! failure under `CI=true` (`.ci/run` installs them).

use std::process::Command;

#[test]
fn the_live_client_passes_its_node_tests_against_a_real_server() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/clients/js");
    let node = std::env::var("TIDINGS_TEST_NODE").unwrap_or_else(|_| "node".into());
    let installed = ["ws", "eventsource"]
        .iter()
        .all(|p| std::path::Path::new(&format!("{dir}/node_modules/{p}/package.json")).exists());
    let runs = Command::new(&node).arg("--version").output().is_ok();
    if !installed || !runs {
        let what = "node or clients/js's test packages are missing (cd clients/js && npm ci)";
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("CI=true but {what}");
        }
        eprintln!("\n*** SKIPPED: {what} ***\n");
        return;
    }
    let out = Command::new(&node)
        .current_dir(dir)
        .env("TIDINGS_BIN", env!("CARGO_BIN_EXE_tidings"))
        .args(["--test", "--test-reporter=tap", "test/"])
        .output()
        .expect("run node --test");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "node --test failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("# fail 0"), "{stdout}");
    assert!(!stdout.contains("# pass 0"), "no test ran:\n{stdout}");
}
