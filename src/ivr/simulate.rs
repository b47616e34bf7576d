//! `hotline ivr simulate FILE 1,2`: walk a flow with given keys, no network.
//!
//! Every prompt plays to its end, then the next key is pressed; when the
//! keys run out, menus time out, so the admin also sees where silence leads.

use std::sync::Arc;
use std::time::Instant;

use super::calendar::{Calendar, CalendarTime};
use super::interpreter::{Input, Outcome, Output, RouteTarget, Session};
use super::model::{AgentTarget, Script};

/// Stops a flow that loops forever on timeouts (e.g. `on_timeout` back to
/// itself) instead of printing forever.
const MAX_STEPS: usize = 200;

/// Human-readable lines: `play main_menu (ru)`, `key 1`, `timeout`,
/// `route queue admission category=applicant topic=admission`, and a final
/// `outcome …` line.
pub fn simulate(
    script: &Script,
    keys: &[char],
    calendar: &Calendar,
    now_local: CalendarTime,
) -> Vec<String> {
    let mut session = Session::new(Arc::new(script.clone()), now_local, calendar);
    let now = Instant::now();
    let mut lines = vec![format!(
        "call at {now_local} ({})",
        if calendar.is_open(&now_local) {
            "open"
        } else {
            "closed"
        }
    )];
    let mut keys = keys.iter().copied();
    let mut playing = false;
    let mut timer = None;
    let mut input = Input::Start;
    for _ in 0..MAX_STEPS {
        for output in session.handle(input, now) {
            match output {
                Output::Play { prompt, language } => {
                    playing = true;
                    lines.push(format!("play {prompt} ({language})"));
                }
                Output::StopPlayback => playing = false,
                Output::StartTimer { id, .. } => timer = Some(id),
                Output::CancelTimer(_) => timer = None,
                Output::Route(target) => lines.push(format!("route {}", describe_route(&target))),
                Output::Callback { category, topic } => lines.push(format!(
                    "callback request{}",
                    describe_labels(category.as_deref(), topic.as_deref())
                )),
                Output::Hangup { category, topic } => lines.push(format!(
                    "hangup{}",
                    describe_labels(category.as_deref(), topic.as_deref())
                )),
                Output::PathChanged => {}
            }
        }
        if session.is_finished() {
            break;
        }
        input = if playing {
            playing = false;
            Input::PromptFinished
        } else if let Some(id) = timer {
            match keys.next() {
                Some(key) => {
                    lines.push(format!("key {key}"));
                    Input::Digit(key)
                }
                None => {
                    timer = None;
                    lines.push("timeout".to_owned());
                    Input::TimerFired(id)
                }
            }
        } else {
            lines.push("caller hangs up".to_owned());
            Input::Hangup
        };
    }
    if !session.is_finished() {
        lines.push(format!("stopped after {MAX_STEPS} steps; caller hangs up"));
        session.handle(Input::Hangup, now);
    }
    let unused: Vec<String> = keys.map(String::from).collect();
    if !unused.is_empty() {
        lines.push(format!("unused keys: {}", unused.join(",")));
    }
    lines.push(format!(
        "outcome {} path={}{}",
        session.outcome().map_or("none", Outcome::inquiry_status),
        session.ivr_path(),
        describe_labels(session.category(), session.topic())
    ));
    lines
}

fn describe_route(target: &RouteTarget) -> String {
    match target {
        RouteTarget::Queue {
            queue,
            category,
            topic,
            priority,
        } => {
            let priority = if *priority == 0 {
                String::new()
            } else {
                format!(" priority={priority}")
            };
            format!(
                "queue {queue}{}{priority}",
                describe_labels(category.as_deref(), topic.as_deref())
            )
        }
        RouteTarget::Agent {
            agent,
            fallback_queue,
            category,
            topic,
        } => {
            let agent = match agent {
                AgentTarget::Login(login) => format!("login={login}"),
                AgentTarget::Personal(area) => format!("personal={area}"),
            };
            format!(
                "agent {agent} fallback={fallback_queue}{}",
                describe_labels(category.as_deref(), topic.as_deref())
            )
        }
    }
}

fn describe_labels(category: Option<&str>, topic: Option<&str>) -> String {
    let mut text = String::new();
    if let Some(category) = category {
        text.push_str(" category=");
        text.push_str(category);
    }
    if let Some(topic) = topic {
        text.push_str(" topic=");
        text.push_str(topic);
    }
    text
}
