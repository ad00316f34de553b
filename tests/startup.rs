//! Stories of an operator: clear start-up errors, and `tidings admin create-user`.

use std::process::Command;

fn tidings(args: &[&str], dir: &std::path::Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_tidings"))
        .args(args)
        .current_dir(dir)
        .env_remove("DATABASE_URL")
        .env_remove("REDIS_URL")
        .env_remove("TIDINGS_LISTEN")
        .output()
        .expect("run tidings")
}

#[test]
fn a_bad_database_url_is_a_clear_start_up_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = tidings(
        &[
            "--listen",
            "127.0.0.1:0",
            "--database-url",
            "mysql://localhost/x",
        ],
        dir.path(),
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("DATABASE_URL must start with sqlite: or postgres:"),
        "{err}"
    );

    let out = tidings(
        &[
            "--listen",
            "127.0.0.1:0",
            "--database-url",
            "postgres://nobody@127.0.0.1:1/none",
        ],
        dir.path(),
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot connect to PostgreSQL"));
}

#[test]
fn an_occupied_port_is_a_clear_start_up_error() {
    let dir = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = tidings(&["--listen", &addr], dir.path());
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("cannot listen on {addr}")), "{err}");
}

#[test]
fn an_operator_creates_an_administrator_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let out = tidings(
        &[
            "admin",
            "create-user",
            "moderator",
            "--password",
            "a long passphrase",
            "--admin",
        ],
        dir.path(),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("created account moderator"));
    assert!(
        dir.path().join("tidings.db").exists(),
        "the embedded default is a file in the working directory"
    );
    let again = tidings(
        &[
            "admin",
            "create-user",
            "moderator",
            "--password",
            "a long passphrase",
        ],
        dir.path(),
    );
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already been taken"));
    let short = tidings(
        &["admin", "create-user", "x", "--password", "short"],
        dir.path(),
    );
    assert!(!short.status.success());
}
