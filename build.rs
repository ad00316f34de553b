//! Which test stories can run here, decided when the tests are built, so that a story
//! whose service is missing shows as *ignored* (with the reason) instead of passing
//! without having run. Under `CI=true` every story is built to run: one whose service is
//! missing then fails (the stories check again at run time).

use std::path::Path;
use std::process::Command;

fn main() {
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    let set = |var: &str| std::env::var(var).is_ok_and(|v| !v.is_empty());
    let runs = |cmd: &str, args: &[&str]| {
        Command::new(cmd)
            .args(args)
            .output()
            .is_ok_and(|o| o.status.success())
    };
    let python = std::env::var("TIDINGS_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let masto = Path::new("clients/masto_js/node_modules/masto/package.json");
    let cfgs = [
        ("tidings_postgres", set("TIDINGS_TEST_DATABASE_URL")),
        ("tidings_redis", runs("redis-server", &["--version"])),
        (
            "tidings_mastodon_py",
            runs(&python, &["-c", "import mastodon"]),
        ),
        (
            "tidings_masto_js",
            masto.exists() && runs("node", &["--version"]),
        ),
    ];
    for (cfg, available) in cfgs {
        println!("cargo::rustc-check-cfg=cfg({cfg})");
        if available || ci {
            println!("cargo::rustc-cfg={cfg}");
        }
    }
    for var in ["CI", "TIDINGS_TEST_DATABASE_URL", "TIDINGS_TEST_PYTHON"] {
        println!("cargo::rerun-if-env-changed={var}");
    }
    println!("cargo::rerun-if-changed=build.rs");
    // `sqlx::migrate!` embeds the migrations; a new one must rebuild the crate.
    println!("cargo::rerun-if-changed=migrations");
    // The folder, not node_modules' files: a path that does not exist would make cargo
    // run this script, and rebuild the crate, on every build.
    println!("cargo::rerun-if-changed=clients/masto_js");
}
