//! The shipped default flow, driven through the sans-IO interpreter in
//! virtual time: every key path, timeouts, retries, wrong keys, barge-in,
//! the English switch, closed hours, holidays and callbacks.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hotline::ivr::calendar::{Calendar, CalendarConfig, CalendarTime};
use hotline::ivr::model::{AgentTarget, Script};
use hotline::ivr::{
    DirCatalog, Input, Outcome, Output, PromptCatalog, RouteTarget, Session, TimerId, load_dir,
    parse, simulate, validate,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

fn script() -> Arc<Script> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("ivr-scripts/hotline.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    Arc::new(parse(&path, &text).unwrap())
}

/// Thursday 26 November 2026, 10:00: open with the default calendar.
fn open_time() -> CalendarTime {
    CalendarTime::new(2026, 11, 26, 10, 0).unwrap()
}

/// The same Thursday at 20:00: closed.
fn evening() -> CalendarTime {
    CalendarTime::new(2026, 11, 26, 20, 0).unwrap()
}

/// A phone line in virtual time: remembers what is playing and the running
/// timer, and checks the interpreter only asks for sensible things.
struct Call {
    session: Session,
    now: Instant,
    playing: Option<(String, String)>,
    timer: Option<(TimerId, Instant)>,
    outputs: Vec<Output>,
}

impl Call {
    fn at(time: CalendarTime, calendar: &Calendar) -> Call {
        let mut call = Call {
            session: Session::new(script(), time, calendar),
            now: Instant::now(),
            playing: None,
            timer: None,
            outputs: Vec::new(),
        };
        call.send(Input::Start);
        call
    }

    fn open() -> Call {
        Call::at(open_time(), &Calendar::default())
    }

    fn send(&mut self, input: Input) -> Vec<Output> {
        let outputs = self.session.handle(input, self.now);
        for output in &outputs {
            match output {
                Output::Play { prompt, language } => {
                    assert!(self.playing.is_none(), "two prompts at once: {outputs:?}");
                    self.playing = Some((prompt.clone(), language.clone()));
                }
                Output::StopPlayback => {
                    assert!(self.playing.take().is_some(), "stop without a prompt");
                }
                Output::StartTimer { id, after } => {
                    assert!(self.playing.is_none(), "timer must start after the prompt");
                    self.timer = Some((*id, self.now + *after));
                }
                Output::CancelTimer(id) => {
                    assert_eq!(self.timer.take().map(|t| t.0), Some(*id));
                }
                _ => {}
            }
        }
        self.outputs.extend(outputs.iter().cloned());
        outputs
    }

    /// Lets prompts play to the end until a menu waits for a key or the
    /// call ends; returns the prompts heard as `name (lang)`.
    fn listen(&mut self) -> Vec<String> {
        let mut heard = Vec::new();
        while let Some((prompt, language)) = self.playing.take() {
            heard.push(format!("{prompt} ({language})"));
            self.now += Duration::from_secs(3);
            self.send(Input::PromptFinished);
        }
        heard
    }

    fn press(&mut self, key: char) -> Vec<Output> {
        self.now += Duration::from_millis(700);
        self.send(Input::Digit(key))
    }

    /// Listens to the menu, then presses `key`.
    fn choose(&mut self, key: char) -> Vec<Output> {
        self.listen();
        self.press(key)
    }

    fn choose_all(&mut self, keys: &str) {
        for key in keys.chars() {
            self.choose(key);
        }
    }

    /// Stays silent until the running timer fires.
    fn stay_silent(&mut self) -> Vec<Output> {
        self.listen();
        let (id, due) = self.timer.take().expect("a menu is waiting");
        self.now = due;
        self.send(Input::TimerFired(id))
    }

    fn hang_up(&mut self) {
        self.send(Input::Hangup);
        assert!(self.session.is_finished());
    }

    fn route(&self) -> Option<&RouteTarget> {
        self.outputs.iter().find_map(|o| match o {
            Output::Route(target) => Some(target),
            _ => None,
        })
    }

    fn status(&self) -> &str {
        self.session.outcome().unwrap().inquiry_status()
    }

    fn labels(&self) -> (&str, Option<&str>, Option<&str>) {
        (
            self.session.ivr_path(),
            self.session.category(),
            self.session.topic(),
        )
    }
}

fn queue(name: &str, category: &str, topic: &str) -> RouteTarget {
    RouteTarget::Queue {
        queue: name.into(),
        category: Some(category.into()),
        topic: Some(topic.into()),
        priority: 0,
    }
}

fn personal(area: &str, category: &str, topic: &str) -> RouteTarget {
    RouteTarget::Agent {
        agent: AgentTarget::Personal(area.into()),
        fallback_queue: area.into(),
        category: Some(category.into()),
        topic: Some(topic.into()),
    }
}

#[test]
fn greeting_then_main_menu_with_timer_from_the_end_of_the_prompt() {
    let mut call = Call::open();
    assert_eq!(call.playing, Some(("greeting".into(), "ru".into())));
    assert_eq!(call.listen(), ["greeting (ru)", "main_menu (ru)"]);
    let started = call.outputs.iter().find_map(|o| match o {
        Output::StartTimer { after, .. } => Some(*after),
        _ => None,
    });
    assert_eq!(started, Some(Duration::from_secs(5)));
    assert_eq!(call.session.timer_deadline(), call.timer);
    assert_eq!(call.session.current_node(), Some("main_menu"));
}

#[test]
fn applicant_hears_admission_rules_and_hangs_up_resolved_in_ivr() {
    let mut call = Call::open();
    call.choose_all("11");
    assert_eq!(
        call.listen(),
        ["admission_info (ru)", "self_service_more (ru)"]
    );
    call.hang_up();
    assert_eq!(
        call.labels(),
        ("1,1", Some("applicant"), Some("admission_rules"))
    );
    assert_eq!(
        call.session.outcome(),
        Some(&Outcome::ResolvedInIvr {
            node: "admission_info".into()
        })
    );
    assert_eq!(call.status(), "resolved_in_ivr");
}

#[test]
fn every_route_of_the_default_flow() {
    let cases = [
        ("12", personal("admission", "applicant", "admission")),
        ("10", personal("admission", "applicant", "admission")),
        ("110", personal("admission", "applicant", "admission_rules")),
        ("22", personal("education", "student", "education")),
        ("20", personal("education", "student", "education")),
        ("210", personal("education", "student", "study_info")),
        ("3", queue("general", "other", "graduates")),
        ("42", personal("admission", "parent", "admission")),
        ("410", personal("admission", "parent", "admission_rules")),
        ("0", queue("general", "other", "general")),
        ("1#0", queue("general", "other", "general")),
        ("11#3", queue("general", "other", "graduates")),
        ("*2*2", personal("education", "student", "education")),
        ("91*2", personal("admission", "applicant", "admission")),
    ];
    for (keys, expected) in cases {
        let mut call = Call::open();
        call.choose_all(keys);
        assert_eq!(call.route(), Some(&expected), "keys {keys}");
        assert!(call.session.is_finished(), "keys {keys}");
        assert_eq!(call.status(), "waiting");
        let path: Vec<String> = keys.chars().map(String::from).collect();
        assert_eq!(call.session.ivr_path(), path.join(","), "keys {keys}");
        assert!(call.outputs.contains(&Output::PathChanged));
    }
}

#[test]
fn self_service_answers_repeat_and_return_to_the_main_menu() {
    let mut call = Call::open();
    call.choose_all("21");
    assert_eq!(call.listen(), ["study_info (ru)", "self_service_more (ru)"]);
    call.press('*');
    assert_eq!(call.listen(), ["study_info (ru)", "self_service_more (ru)"]);
    call.press('#');
    assert_eq!(call.listen(), ["main_menu (ru)"]);
    call.hang_up();
    assert_eq!(
        call.labels(),
        ("2,1,*,#", Some("student"), Some("study_info"))
    );
    assert_eq!(call.status(), "resolved_in_ivr");
}

#[test]
fn silence_after_a_self_service_answer_says_goodbye() {
    let mut call = Call::open();
    call.choose_all("41");
    call.stay_silent();
    assert_eq!(call.listen(), ["self_service_more (ru)"]);
    call.stay_silent();
    assert_eq!(call.listen(), ["goodbye (ru)"]);
    assert_eq!(
        call.outputs.last(),
        Some(&Output::Hangup {
            category: Some("parent".into()),
            topic: Some("admission_rules".into())
        })
    );
    assert_eq!(call.status(), "resolved_in_ivr");
}

#[test]
fn no_input_repeats_the_menu_then_goes_to_the_operator() {
    let mut call = Call::open();
    call.listen();
    call.stay_silent();
    assert_eq!(call.listen(), ["no_input (ru)", "main_menu (ru)"]);
    call.stay_silent();
    assert_eq!(call.listen(), ["no_input (ru)", "main_menu (ru)"]);
    let last = call.stay_silent();
    assert_eq!(
        last,
        [
            Output::PathChanged,
            Output::Route(queue("general", "other", "general"))
        ]
    );
    assert_eq!(call.session.ivr_path(), "");
}

#[test]
fn wrong_keys_play_invalid_and_count_as_tries() {
    let mut call = Call::open();
    call.choose('7');
    assert_eq!(call.listen(), ["invalid (ru)", "main_menu (ru)"]);
    call.stay_silent(); // second failure, of another kind
    assert_eq!(call.listen(), ["no_input (ru)", "main_menu (ru)"]);
    let last = call.press('#');
    assert_eq!(
        last.last(),
        Some(&Output::Route(queue("general", "other", "general")))
    );

    // The count restarts in a new menu.
    let mut call = Call::open();
    call.choose_all("5A1");
    call.choose('8');
    call.choose('8');
    assert_eq!(call.listen(), ["invalid (ru)", "admission_menu (ru)"]);
    call.choose('8');
    assert_eq!(
        call.route(),
        Some(&personal("admission", "applicant", "admission"))
    );
    assert_eq!(call.session.ivr_path(), "1");
}

#[test]
fn a_key_during_a_prompt_stops_it_and_is_taken_at_once() {
    let mut call = Call::open();
    call.listen();
    call.press('1');
    // Barge-in during the admission menu prompt.
    assert!(call.playing.is_some());
    let outputs = call.press('1');
    assert_eq!(outputs.first(), Some(&Output::StopPlayback));
    assert!(outputs.contains(&Output::Play {
        prompt: "admission_info".into(),
        language: "ru".into()
    }));
    // A key during the answer skips it and is taken by the menu after it.
    let outputs = call.press('0');
    assert_eq!(outputs.first(), Some(&Output::StopPlayback));
    assert_eq!(
        call.route(),
        Some(&personal("admission", "applicant", "admission_rules"))
    );
    assert_eq!(call.session.ivr_path(), "1,1,0");
}

#[test]
fn typing_ahead_during_the_greeting_reaches_the_main_menu() {
    let mut call = Call::open();
    let outputs = call.press('2');
    assert_eq!(outputs.first(), Some(&Output::StopPlayback));
    assert_eq!(call.listen(), ["education_menu (ru)"]);
    assert_eq!(call.labels(), ("2", Some("student"), None));
}

#[test]
fn nine_switches_to_english_prompts() {
    let mut call = Call::open();
    call.choose('9');
    assert_eq!(call.listen(), ["main_menu (en)"]);
    assert_eq!(call.session.language(), "en");
    call.press('1');
    call.choose('1');
    assert_eq!(
        call.listen(),
        ["admission_info (en)", "self_service_more (en)"]
    );
    call.hang_up();
    assert_eq!(
        call.labels(),
        ("9,1,1", Some("applicant"), Some("admission_rules"))
    );
}

#[test]
fn closed_hours_offer_a_callback() {
    let mut call = Call::at(evening(), &Calendar::default());
    assert_eq!(call.listen(), ["closed (ru)", "callback_offer (ru)"]);
    let outputs = call.press('1');
    let callback = Output::Callback {
        category: Some("other".into()),
        topic: Some("callback".into()),
    };
    assert!(outputs.contains(&callback));
    assert_eq!(call.status(), "callback_requested");
    assert_eq!(call.listen(), ["callback_accepted (ru)"]);
    assert_eq!(
        call.outputs.last(),
        Some(&Output::Hangup {
            category: Some("other".into()),
            topic: Some("callback".into())
        })
    );
    assert!(call.session.is_finished());
}

#[test]
fn a_callback_is_kept_when_the_caller_hangs_up_during_the_confirmation() {
    let mut call = Call::at(evening(), &Calendar::default());
    call.choose('1');
    call.hang_up();
    assert_eq!(call.status(), "callback_requested");
}

#[test]
fn closed_hours_silence_ends_with_goodbye() {
    let mut call = Call::at(evening(), &Calendar::default());
    call.stay_silent();
    call.stay_silent();
    assert_eq!(call.listen(), ["goodbye (ru)"]);
    assert_eq!(call.labels(), ("", Some("other"), Some("after_hours")));
    assert_eq!(call.status(), "resolved_in_ivr");
}

#[test]
fn holidays_and_weekends_are_closed() {
    let config: CalendarConfig = toml::from_str("holidays = [\"2026-11-26\"]").unwrap();
    let calendar = Calendar::try_from(config).unwrap();
    let mut call = Call::at(open_time(), &calendar);
    assert_eq!(call.listen(), ["closed (ru)", "callback_offer (ru)"]);
    let saturday = CalendarTime::new(2026, 11, 28, 12, 0).unwrap();
    let mut call = Call::at(saturday, &Calendar::default());
    assert_eq!(call.listen(), ["closed (ru)", "callback_offer (ru)"]);
}

#[test]
fn caller_hanging_up_in_a_menu_is_abandoned_and_its_timer_cancelled() {
    let mut call = Call::open();
    call.choose('2');
    call.listen();
    assert!(call.timer.is_some());
    call.hang_up();
    assert!(call.timer.is_none(), "the hang-up cancels the menu timer");
    assert_eq!(
        call.session.outcome(),
        Some(&Outcome::CallerHungUp {
            node: Some("education_menu".into())
        })
    );
    assert_eq!(call.status(), "abandoned");
    assert_eq!(call.labels(), ("2", Some("student"), None));
    // Nothing happens after the end.
    assert!(call.send(Input::Digit('1')).is_empty());
    assert!(call.send(Input::PromptFinished).is_empty());
}

#[test]
fn a_stale_timer_is_ignored() {
    let mut call = Call::open();
    call.listen();
    let (old, _) = call.timer.unwrap();
    call.press('7'); // cancels the timer, plays "invalid"
    assert!(call.send(Input::TimerFired(old)).is_empty());
    assert_eq!(call.listen(), ["invalid (ru)", "main_menu (ru)"]);
}

#[test]
fn default_flow_validates_and_every_prompt_has_russian_and_english_text() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let script = script();
    let texts = DirCatalog::with_extension(root.join("prompts"), "txt");
    assert_eq!(validate(&script, &texts), []);
    for node in script.nodes.values() {
        for prompt in node.kind.prompts() {
            for language in ["ru", "en"] {
                assert!(
                    texts.has_prompt(language, &prompt.value),
                    "{}",
                    texts.describe(language, &prompt.value)
                );
                let text = std::fs::read_to_string(texts.path(language, &prompt.value)).unwrap();
                assert!(!text.trim().is_empty());
            }
        }
    }
    let (scripts, errors) = load_dir(&root.join("ivr-scripts"), &texts);
    assert_eq!(errors, []);
    assert_eq!(scripts.len(), 1);
    assert_eq!(scripts[0].flow.name, "hotline");
}

#[test]
fn simulate_prints_prompts_keys_and_the_final_action() {
    let lines = simulate(&script(), &['1', '2'], &Calendar::default(), open_time());
    assert_eq!(
        lines,
        [
            "call at 2026-11-26 10:00 (open)",
            "play greeting (ru)",
            "play main_menu (ru)",
            "key 1",
            "play admission_menu (ru)",
            "key 2",
            "route agent personal=admission fallback=admission category=applicant topic=admission",
            "outcome waiting path=1,2 category=applicant topic=admission",
        ]
    );
    let lines = simulate(&script(), &['1', '1'], &Calendar::default(), open_time());
    assert_eq!(
        &lines[lines.len() - 4..],
        [
            "timeout",
            "play goodbye (ru)",
            "hangup category=applicant topic=admission_rules",
            "outcome resolved_in_ivr path=1,1 category=applicant topic=admission_rules",
        ]
    );
}

/// Random keys, silences, prompt ends and hang-ups: every caller ends with
/// exactly one outcome that never changes once set.
#[test]
fn ten_thousand_random_callers_each_finish_with_one_outcome() {
    let script = script();
    let calendar = Calendar::default();
    let mut rng = StdRng::seed_from_u64(4);
    let keys = ['0', '1', '2', '3', '4', '9', '*', '#', '5', 'A'];
    let start = Instant::now();
    let mut statuses = std::collections::BTreeMap::new();
    for caller in 0..10_000 {
        let time = if caller % 5 == 0 {
            evening()
        } else {
            open_time()
        };
        let mut session = Session::new(Arc::clone(&script), time, &calendar);
        let mut now = start;
        let mut timer = None;
        let mut first_outcome = None;
        let mut input = Input::Start;
        for _ in 0..200 {
            for output in session.handle(input, now) {
                match output {
                    Output::StartTimer { id, .. } => timer = Some(id),
                    Output::CancelTimer(_) => timer = None,
                    _ => {}
                }
            }
            if let Some(outcome) = session.outcome() {
                let first = first_outcome.get_or_insert_with(|| outcome.clone());
                assert_eq!(first, outcome, "an outcome never changes");
            }
            if session.is_finished() {
                break;
            }
            now += Duration::from_millis(rng.gen_range(0..6000));
            input = match rng.gen_range(0..100) {
                0..=2 => Input::Hangup,
                3..=40 => Input::Digit(keys[rng.gen_range(0..keys.len())]),
                41..=55 => match timer.take() {
                    Some(id) => Input::TimerFired(id),
                    None => Input::PromptFinished,
                },
                _ => Input::PromptFinished,
            };
        }
        if !session.is_finished() {
            session.handle(Input::Hangup, now);
        }
        assert!(session.is_finished());
        let outcome = session.outcome().expect("every call has an outcome");
        if let Some(first) = &first_outcome {
            assert_eq!(first, outcome);
        }
        *statuses.entry(outcome.inquiry_status()).or_insert(0) += 1;
    }
    // Every kind of ending happened.
    for status in [
        "waiting",
        "resolved_in_ivr",
        "abandoned",
        "callback_requested",
    ] {
        assert!(statuses.contains_key(status), "{statuses:?}");
    }
}
