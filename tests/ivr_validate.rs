//! One broken script per validator error, each reported exactly as
//! `hotline check` prints it: `file:line:col: message`.

use std::collections::BTreeSet;
use std::path::Path;

use hotline::ivr::{AnyPrompt, DirCatalog, PromptCatalog, load_dir, parse, validate};

/// Prompts that exist: `main_menu` in Russian and English, `invalid` only
/// in Russian.
struct Prompts(BTreeSet<(&'static str, &'static str)>);

impl Prompts {
    fn new() -> Self {
        Prompts(BTreeSet::from([
            ("ru", "main_menu"),
            ("ru", "invalid"),
            ("en", "main_menu"),
        ]))
    }
}

impl PromptCatalog for Prompts {
    fn has_prompt(&self, language: &str, prompt: &str) -> bool {
        self.0.iter().any(|&(l, p)| l == language && p == prompt)
    }
}

/// Parses then validates `tests/data/ivr/<name>.toml`, like `hotline check`.
fn check(name: &str) -> Vec<String> {
    check_with(name, &Prompts::new())
}

fn check_with(name: &str, prompts: &dyn PromptCatalog) -> Vec<String> {
    let path = format!("tests/data/ivr/{name}.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let diagnostics = match parse(Path::new(&path), &text) {
        Ok(script) => validate(&script, prompts),
        Err(errors) => errors,
    };
    diagnostics.iter().map(ToString::to_string).collect()
}

#[test]
fn syntax_error_points_at_the_bad_token() {
    assert_eq!(
        check("syntax_error"),
        ["tests/data/ivr/syntax_error.toml:4:1: invalid array: expected `]`",]
    );
}

#[test]
fn unknown_node_is_reported_at_the_reference() {
    assert_eq!(
        check("unknown_node"),
        ["tests/data/ivr/unknown_node.toml:11:19: unknown node `opertor`",]
    );
}

#[test]
fn unknown_start_node() {
    assert_eq!(
        check("unknown_start"),
        [
            "tests/data/ivr/unknown_start.toml:4:9: unknown node `welcome`",
            "tests/data/ivr/unknown_start.toml:6:8: node `operator` is unreachable from start node `welcome`",
        ]
    );
}

#[test]
fn missing_prompt_in_a_language_the_caller_can_switch_to() {
    assert_eq!(
        check("missing_prompt"),
        [
            "tests/data/ivr/missing_prompt.toml:9:18: missing prompt `invalid` for language `en` (en/invalid)",
        ]
    );
}

#[test]
fn unreachable_node() {
    assert_eq!(
        check("unreachable"),
        [
            "tests/data/ivr/unreachable.toml:12:8: node `forgotten` is unreachable from start node `operator`",
        ]
    );
}

#[test]
fn menu_without_a_way_out() {
    assert_eq!(
        check("no_way_out"),
        [
            "tests/data/ivr/no_way_out.toml:6:8: menu node `menu` has no way out: no path from it reaches a queue, agent, callback or hangup node",
        ]
    );
}

#[test]
fn bad_digit_keys() {
    assert_eq!(
        check("bad_digit"),
        [
            "tests/data/ivr/bad_digit.toml:11:31: invalid menu key `12`: a key is one of 0-9, `*` or `#`",
            "tests/data/ivr/bad_digit.toml:11:50: invalid menu key `x`: a key is one of 0-9, `*` or `#`",
        ]
    );
}

#[test]
fn exit_without_category_or_topic_on_some_path() {
    assert_eq!(
        check("no_category"),
        [
            "tests/data/ivr/no_category.toml:20:8: queue node `admission` ends the IVR without a category: give it `category` or set one on every path to it",
            "tests/data/ivr/no_category.toml:20:8: queue node `admission` ends the IVR without a topic: give it `topic` or set one on every path to it",
        ]
    );
}

#[test]
fn unknown_kind() {
    assert_eq!(
        check("unknown_kind"),
        [
            "tests/data/ivr/unknown_kind.toml:7:8: unknown node kind `menuu` (expected menu, play, queue, agent, business_hours, set, callback, hangup)",
        ]
    );
}

#[test]
fn missing_required_key() {
    assert_eq!(
        check("missing_key"),
        [
            "tests/data/ivr/missing_key.toml:6:8: queue node `operator` is missing required key `queue`",
        ]
    );
}

#[test]
fn missing_flow_table() {
    assert_eq!(
        check("missing_flow"),
        ["tests/data/ivr/missing_flow.toml:1:1: missing [flow] table",]
    );
}

#[test]
fn wrong_type() {
    assert_eq!(
        check("wrong_type"),
        ["tests/data/ivr/wrong_type.toml:9:13: `timeout_s` must be an integer, not a string",]
    );
}

#[test]
fn misspelt_key_is_unknown_not_ignored() {
    assert_eq!(
        check("unknown_key"),
        [
            "tests/data/ivr/unknown_key.toml:6:8: menu node `menu` is missing required key `timeout_s`",
            "tests/data/ivr/unknown_key.toml:9:1: unknown key `timout_s` in menu node `menu`",
        ]
    );
}

#[test]
fn unknown_category() {
    assert_eq!(
        check("unknown_category"),
        [
            "tests/data/ivr/unknown_category.toml:9:12: unknown category `visitor` (expected applicant, student, listener, graduate, parent, other)",
        ]
    );
}

#[test]
fn number_listed_twice() {
    assert_eq!(
        check("duplicate_number"),
        ["tests/data/ivr/duplicate_number.toml:3:30: number `200` is listed twice",]
    );
}

#[test]
fn valid_script_has_no_diagnostics() {
    assert_eq!(check("valid"), Vec::<String>::new());
}

#[test]
fn unusable_prompt_files_are_reported_through_the_format_hook() {
    struct BadWav;
    impl PromptCatalog for BadWav {
        fn has_prompt(&self, _: &str, _: &str) -> bool {
            true
        }
        fn prompt_problem(&self, _: &str, prompt: &str) -> Option<String> {
            (prompt == "main_menu").then(|| "44100 Hz, expected 8000 Hz mono 16-bit".to_owned())
        }
    }
    assert_eq!(
        check_with("valid", &BadWav),
        [
            "tests/data/ivr/valid.toml:9:10: prompt `main_menu` for language `ru` is unusable (ru/main_menu): 44100 Hz, expected 8000 Hz mono 16-bit"
        ]
    );
}

#[test]
fn dir_catalog_names_the_missing_file() {
    let dir = tempfile::tempdir().unwrap();
    let prompts = DirCatalog::new(dir.path().join("prompts"));
    let wav = dir.path().join("prompts/ru/main_menu.wav");
    assert_eq!(
        check_with("valid", &prompts),
        [format!(
            "tests/data/ivr/valid.toml:9:10: missing prompt `main_menu` for language `ru` ({})",
            wav.display()
        )]
    );
    std::fs::create_dir_all(wav.parent().unwrap()).unwrap();
    std::fs::write(&wav, b"RIFF").unwrap();
    assert_eq!(check_with("valid", &prompts), Vec::<String>::new());
    let rejected = prompts.with_format_check(|_| Err("not a WAV file".to_owned()));
    assert_eq!(
        rejected.prompt_problem("ru", "main_menu").as_deref(),
        Some("not a WAV file")
    );
}

#[test]
fn load_dir_refuses_a_flow_reusing_another_flows_number() {
    let dir = tempfile::tempdir().unwrap();
    let valid = std::fs::read_to_string("tests/data/ivr/valid.toml").unwrap();
    std::fs::write(dir.path().join("a.toml"), &valid).unwrap();
    std::fs::write(
        dir.path().join("b.toml"),
        valid
            .replace("name = \"valid\"", "name = \"other\"")
            .replace("\"200\", ", "\"300\", "),
    )
    .unwrap();
    std::fs::write(dir.path().join("c.toml"), "[flow\n").unwrap();
    std::fs::write(dir.path().join("notes.txt"), "not a flow").unwrap();
    let (scripts, errors) = load_dir(dir.path(), &AnyPrompt);
    let names: Vec<&str> = scripts.iter().map(|s| s.flow.name.as_str()).collect();
    assert_eq!(names, ["valid"]);
    let errors: Vec<String> = errors.iter().map(ToString::to_string).collect();
    let a = dir.path().join("a.toml");
    let b = dir.path().join("b.toml");
    let c = dir.path().join("c.toml");
    assert_eq!(
        errors,
        [
            format!(
                "{}:4:19: number `201` is already used by {}",
                b.display(),
                a.display()
            ),
            format!(
                "{}:1:6: invalid table header: expected `.`, `]`",
                c.display()
            ),
        ]
    );
}
