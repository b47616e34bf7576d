//! Interpreter rules that the default flow does not exercise: separate
//! `on_invalid`, a menu with nowhere to go, type-ahead into an exit, and
//! scripts that were never validated.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use hotline::ivr::calendar::{Calendar, CalendarTime};
use hotline::ivr::{Input, Outcome, Output, Session, parse};

fn session(text: &str) -> Session {
    let script = parse(Path::new("t.toml"), text).unwrap();
    let time = CalendarTime::new(2026, 11, 26, 10, 0).unwrap();
    Session::new(Arc::new(script), time, &Calendar::default())
}

const HEADER: &str = "[flow]\nname = \"t\"\nnumbers = [\"1\"]\nstart = \"menu\"\n";

const EXITS: &str = r#"
[nodes.operator]
kind = "queue"
queue = "general"
category = "other"
topic = "general"

[nodes.wrong]
kind = "hangup"
category = "other"
topic = "wrong_keys"
"#;

#[test]
fn last_invalid_key_goes_to_on_invalid_and_last_silence_to_on_timeout() {
    let text = format!(
        "{HEADER}[nodes.menu]\nkind = \"menu\"\nprompt = \"m\"\ntimeout_s = 3\nretries = 1\non_timeout = \"operator\"\non_invalid = \"wrong\"\noptions = {{ \"1\" = \"operator\" }}\n{EXITS}"
    );
    let now = Instant::now();
    let mut s = session(&text);
    s.handle(Input::Start, now);
    s.handle(Input::Digit('5'), now); // first try (barge-in)
    let out = s.handle(Input::Digit('5'), now); // second and last try
    assert_eq!(out.first(), Some(&Output::StopPlayback));
    assert_eq!(
        s.outcome(),
        Some(&Outcome::ResolvedInIvr {
            node: "wrong".into()
        })
    );

    let mut s = session(&text);
    s.handle(Input::Start, now);
    s.handle(Input::Digit('5'), now);
    s.handle(Input::PromptFinished, now);
    let Some((id, due)) = s.timer_deadline() else {
        panic!("menu waits")
    };
    assert_eq!(due, now + std::time::Duration::from_secs(3));
    let out = s.handle(Input::TimerFired(id), due);
    assert!(matches!(out.last(), Some(Output::Route(_))));
}

#[test]
fn a_menu_with_nowhere_to_go_hangs_up_instead_of_leaving_silence() {
    let text = format!(
        "{HEADER}[nodes.menu]\nkind = \"menu\"\nprompt = \"m\"\ntimeout_s = 3\noptions = {{ \"1\" = \"operator\" }}\n{EXITS}"
    );
    let now = Instant::now();
    let mut s = session(&text);
    s.handle(Input::Start, now);
    s.handle(Input::PromptFinished, now);
    let (id, _) = s.timer_deadline().unwrap();
    let out = s.handle(Input::TimerFired(id), now);
    assert_eq!(
        out,
        [Output::Hangup {
            category: None,
            topic: None
        }]
    );
    assert_eq!(
        s.outcome(),
        Some(&Outcome::GaveUp {
            node: "menu".into()
        })
    );
    assert_eq!(s.outcome().unwrap().inquiry_status(), "abandoned");
}

#[test]
fn a_key_typed_during_a_play_before_an_exit_is_dropped() {
    let text = format!(
        "{HEADER}[nodes.menu]\nkind = \"play\"\nprompt = \"news\"\nnext = \"operator\"\n{EXITS}"
    );
    let now = Instant::now();
    let mut s = session(&text);
    s.handle(Input::Start, now);
    let out = s.handle(Input::Digit('1'), now);
    assert_eq!(out.first(), Some(&Output::StopPlayback));
    assert!(matches!(out.last(), Some(Output::Route(_))));
    assert_eq!(s.ivr_path(), "");
}

#[test]
fn unvalidated_scripts_never_panic_or_hang() {
    // An unknown target and a loop of `set` nodes: both end the call.
    let unknown =
        format!("{HEADER}[nodes.menu]\nkind = \"play\"\nprompt = \"p\"\nnext = \"nowhere\"\n");
    let now = Instant::now();
    let mut s = session(&unknown);
    s.handle(Input::Start, now);
    let out = s.handle(Input::PromptFinished, now);
    assert!(matches!(out.last(), Some(Output::Hangup { .. })));
    assert!(s.is_finished());

    let looping = format!(
        "{HEADER}[nodes.menu]\nkind = \"set\"\ntopic = \"a\"\nnext = \"other\"\n[nodes.other]\nkind = \"set\"\ntopic = \"b\"\nnext = \"menu\"\n"
    );
    let mut s = session(&looping);
    s.handle(Input::Start, now);
    assert!(s.is_finished());
    assert!(matches!(s.outcome(), Some(Outcome::GaveUp { .. })));
}

#[test]
fn start_is_taken_once_and_inputs_before_it_are_ignored() {
    let text = format!(
        "{HEADER}[nodes.menu]\nkind = \"play\"\nprompt = \"p\"\nnext = \"operator\"\n{EXITS}"
    );
    let now = Instant::now();
    let mut s = session(&text);
    assert!(s.handle(Input::Digit('1'), now).is_empty());
    assert!(s.handle(Input::PromptFinished, now).is_empty());
    assert_eq!(s.handle(Input::Start, now).len(), 1);
    assert!(s.handle(Input::Start, now).is_empty());
}
