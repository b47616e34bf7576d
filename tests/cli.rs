//! The `hotline` binary as an operator runs it: exit codes and what it
//! prints for good and bad configuration.

use std::path::Path;
use std::process::{Command, Output};

fn hotline(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hotline"))
        .args(args)
        .current_dir(cwd)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn assert_no_panic(out: &Output) {
    let err = stderr(out);
    assert!(!err.contains("panicked"), "{err}");
    assert!(!err.contains("RUST_BACKTRACE"), "{err}");
}

#[test]
fn check_accepts_the_example_config() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("hotline.example.toml");
    let dir = tempfile::tempdir().unwrap();
    let out = hotline(&["check", example.to_str().unwrap()], dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), format!("ok: {}\n", example.display()));
}

#[test]
fn check_reports_a_bad_value_with_its_position_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bad.toml"),
        "[sip]\nmin_expires = 600\nmax_expires = 300\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("good.toml"), "[sip]\nrealm = \"x\"\n").unwrap();
    let out = hotline(&["check", "good.toml", "bad.toml"], dir.path());
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stdout(&out), "ok: good.toml\n");
    assert_eq!(
        stderr(&out),
        "bad.toml:2:15: min_expires (600) is greater than max_expires (300)\n"
    );
    assert_no_panic(&out);
}

#[test]
fn check_rejects_an_unknown_key() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("typo.toml"),
        "[http]\nlisten = \"127.0.0.1:8080\"\ntoken_ttl = 60\n",
    )
    .unwrap();
    let out = hotline(&["check", "typo.toml"], dir.path());
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        "typo.toml:3:1: unknown key `token_ttl` in [http], did you mean `token_ttl_s`?\n"
    );
}

#[test]
fn check_without_files_checks_hotline_toml_and_the_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let out = hotline(&["check"], dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "ok: defaults\n");

    std::fs::write(
        dir.path().join("hotline.toml"),
        "[media]\nrtp_ports = \"1-2\"\n",
    )
    .unwrap();
    let out = hotline(&["check"], dir.path());
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).starts_with("hotline.toml:2:13: invalid port range \"1-2\""),
        "{}",
        stderr(&out)
    );
}

#[test]
fn serve_with_a_bad_config_exits_1_without_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("c.toml"), "[sip]\nlisten = \"nowhere\"\n").unwrap();
    let out = hotline(&["serve", "--config", "c.toml"], dir.path());
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).starts_with("c.toml:2:10: invalid socket address \"nowhere\""),
        "{}",
        stderr(&out)
    );
    assert_no_panic(&out);

    let out = hotline(&["serve", "--config", "missing.toml"], dir.path());
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).starts_with("missing.toml: cannot read: "),
        "{}",
        stderr(&out)
    );
}

#[test]
fn serve_rejects_an_override_that_conflicts_with_the_config() {
    let dir = tempfile::tempdir().unwrap();
    let out = hotline(
        &[
            "serve",
            "--sip",
            "127.0.0.1:5099",
            "--http",
            "127.0.0.1:5099",
        ],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("collides with sip.listen"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn usage_errors_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        &["serve", "--rtp-ports", "20000-10000"][..],
        &["serve", "--sip", "not-an-address"][..],
        &["frobnicate"][..],
        &[][..],
    ] {
        let out = hotline(args, dir.path());
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
    }
}

#[test]
fn migrate_creates_the_sqlite_database() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("x.db");
    let url = format!("sqlite://{}", db.display());
    let out = hotline(&["migrate", "--database", &url], dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(db.exists(), "{} was not created", db.display());
    // applying them again is a no-op, not an error
    let out = hotline(&["migrate", "--database", &url], dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}
