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
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    std::fs::write(
        dir.path().join("hotline.toml"),
        format!(
            "[paths]\nivr_dir = '{}'\nprompts_dir = '{}'\n",
            repo.join("ivr-scripts").display(),
            repo.join("prompts").display()
        ),
    )
    .unwrap();
    let out = hotline(&["check"], dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        format!(
            "ok: hotline.toml\nok: defaults\nok: {}\n",
            repo.join("ivr-scripts/hotline.toml").display()
        )
    );

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

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn check_without_files_in_the_repository_checks_the_default_script() {
    let out = hotline(&["check"], repo());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("ok: defaults\nok: ivr-scripts/hotline.toml\n"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn check_without_an_ivr_directory_says_serve_would_not_start() {
    let dir = tempfile::tempdir().unwrap();
    let out = hotline(&["check"], dir.path());
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stdout(&out), "ok: defaults\n");
    assert_eq!(
        stderr(&out),
        "ivr-scripts: IVR script directory not found: `hotline serve` would not start (set --ivr-dir or paths.ivr_dir)\n"
    );
}

#[test]
fn check_accepts_the_default_script_and_prompts() {
    let out = hotline(
        &[
            "check",
            "ivr-scripts/hotline.toml",
            "--prompts-dir",
            "prompts",
        ],
        repo(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "ok: ivr-scripts/hotline.toml\n");
}

#[test]
fn check_reports_a_broken_script_with_file_line_col_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(repo().join("ivr-scripts/hotline.toml")).unwrap();
    let broken = text
        .replacen("\"0\" = \"operator\"", "\"0\" = \"operatr\"", 1)
        .replacen("prompt = \"greeting\"", "prompt = \"welcome\"", 1);
    std::fs::write(dir.path().join("hotline.toml"), &broken).unwrap();
    std::fs::write(dir.path().join("c.toml"), "[sip]\nrealm = \"x\"\n").unwrap();
    let prompts = repo().join("prompts");
    let out = hotline(
        &[
            "check",
            "c.toml",
            "hotline.toml",
            "--prompts-dir",
            prompts.to_str().unwrap(),
        ],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stdout(&out), "ok: c.toml\n");
    let position = |needle: &str| {
        let (line, text) = broken
            .lines()
            .enumerate()
            .find(|(_, l)| l.contains(needle))
            .unwrap();
        (line + 1, text.find(needle).unwrap() + 1)
    };
    let (prompt_line, prompt_col) = position("\"welcome\"");
    let (node_line, node_col) = position("\"operatr\"");
    assert_eq!(
        stderr(&out),
        format!(
            "hotline.toml:{prompt_line}:{prompt_col}: missing prompt `welcome` for language `ru` ({})\n\
             hotline.toml:{node_line}:{node_col}: unknown node `operatr`\n",
            prompts.join("ru/welcome.wav").display()
        )
    );
    assert_no_panic(&out);
}

#[test]
fn check_reports_a_script_syntax_error_as_a_script() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("s.toml"),
        "[flow]\nname = \"x\"\nnumbers = [\"1\"\n",
    )
    .unwrap();
    let out = hotline(&["check", "s.toml"], dir.path());
    assert_eq!(out.status.code(), Some(1));
    // the script parser's message, not the config loader's
    assert_eq!(stderr(&out), "s.toml:4:1: invalid array: expected `]`\n");
}

#[test]
fn ivr_simulate_walks_to_the_admission_self_service_answer() {
    let out = hotline(
        &[
            "ivr",
            "simulate",
            "ivr-scripts/hotline.toml",
            "1,1",
            "--at",
            "2026-11-26T10:00",
        ],
        repo(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let stdout = stdout(&out);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.first(), Some(&"call at 2026-11-26 10:00 (open)"));
    assert!(lines.contains(&"play admission_info (ru)"), "{stdout}");
    assert_eq!(
        lines.last(),
        Some(&"outcome resolved_in_ivr path=1,1 category=applicant topic=admission_rules")
    );
    // `11` is the same key sequence
    let again = hotline(
        &[
            "ivr",
            "simulate",
            "ivr-scripts/hotline.toml",
            "11",
            "--at",
            "2026-11-26T10:00",
        ],
        repo(),
    );
    assert_eq!(String::from_utf8_lossy(&again.stdout), stdout);
}

#[test]
fn ivr_simulate_closed_offers_a_callback() {
    let out = hotline(
        &[
            "ivr",
            "simulate",
            "ivr-scripts/hotline.toml",
            "1",
            "--closed",
        ],
        repo(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let stdout = stdout(&out);
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(lines[0].ends_with("(closed)"), "{stdout}");
    assert_eq!(lines[1], "play closed (ru)");
    assert_eq!(
        lines.last(),
        Some(&"outcome callback_requested path=1 category=other topic=callback")
    );
}

#[test]
fn ivr_simulate_refuses_a_broken_script() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("s.toml"),
        "[flow]\nname = \"x\"\nnumbers = [\"1\"]\nstart = \"nowhere\"\n[nodes.q]\nkind = \"queue\"\nqueue = \"general\"\ncategory = \"other\"\ntopic = \"t\"\n",
    )
    .unwrap();
    let out = hotline(&["ivr", "simulate", "s.toml", "1"], dir.path());
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).is_empty());
    assert!(
        stderr(&out).contains("s.toml:4:9: unknown node `nowhere`"),
        "{}",
        stderr(&out)
    );
    assert_no_panic(&out);
}

#[test]
fn ivr_simulate_rejects_keys_that_are_not_dtmf() {
    let out = hotline(
        &["ivr", "simulate", "ivr-scripts/hotline.toml", "1,x"],
        repo(),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("invalid key `x`"), "{}", stderr(&out));
}
