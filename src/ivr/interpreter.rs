//! One caller's walk through a flow, as a sans-IO state machine.
//!
//! The call layer feeds [`Input`]s (the call started, a key, a prompt ended,
//! a timer fired, the caller hung up) with the current `Instant` and carries
//! out the [`Output`]s (play, stop, start/cancel a timer, route, record a
//! callback, hang up, persist the inquiry). No clock, no I/O: a whole flow
//! runs in microseconds in tests.
//!
//! Semantics:
//! - **menu**: plays its prompt; the timeout starts when the prompt *ends*.
//!   A key during the prompt stops it (`StopPlayback`) and is taken at once
//!   (barge-in). A key that is not an option plays `invalid_prompt` (if any)
//!   and repeats the menu; silence plays `timeout_prompt` (if any) and
//!   repeats. The menu is heard once plus `retries` repeats; when the last
//!   try fails the caller goes to `on_invalid` (last try was a wrong key and
//!   it is set) or `on_timeout`; with neither, the IVR hangs up
//!   ([`Outcome::GaveUp`]). Re-entering a menu starts its count afresh.
//! - **play**: plays its prompt then goes to `next`. A key during it stops
//!   the prompt and is handed to the next menu, skipping any `play` nodes in
//!   between (type-ahead): a caller who presses `0` during a long
//!   self-service answer reaches the manager without hearing the rest.
//! - **set** and **business_hours** act at once. Business hours are judged
//!   at the call's start (the `CalendarTime` given to [`Session::new`]).
//! - **queue**/**agent**: emit `Route`; the IVR is over.
//! - **callback**: records the request at once (`Callback`, so a caller
//!   hanging up during the confirmation loses nothing), plays its prompt,
//!   then `Hangup`.
//! - **hangup**: plays its prompt (if any), then `Hangup`; resolved in IVR.
//! - A node's own `category`/`topic` overrides what `set` wrote earlier.
//!
//! `ivr_path` is the menu keys the caller chose, comma-separated in order
//! (`"1,1,0"`); wrong keys and timeouts are not recorded.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::calendar::{Calendar, CalendarTime};
use super::model::{AgentTarget, Located, Menu, NodeKind, Script};

/// Bounds a walk through nodes that play nothing (`set`, `business_hours`,
/// skipped `play`s), so an unvalidated loop among them cannot hang a call.
const MAX_SILENT_STEPS: usize = 256;

/// Identifies one started timer; a fired timer that is no longer current is
/// ignored, so the shell never needs to race a cancel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TimerId(pub u64);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    /// The call was answered: enter the start node.
    Start,
    /// A DTMF key (`0`-`9`, `*`, `#`; `A`-`D` count as wrong keys).
    Digit(char),
    /// The prompt last asked for has played to its end.
    PromptFinished,
    TimerFired(TimerId),
    /// The caller hung up.
    Hangup,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Play `prompts/<language>/<prompt>.wav`, replacing nothing (the
    /// interpreter asks for one prompt at a time).
    Play {
        prompt: String,
        language: String,
    },
    /// Stop the current prompt now (barge-in).
    StopPlayback,
    StartTimer {
        id: TimerId,
        after: Duration,
    },
    CancelTimer(TimerId),
    /// Hand the call to the ACD; the IVR is over.
    Route(RouteTarget),
    /// Record a callback request for the caller's number.
    Callback {
        category: Option<String>,
        topic: Option<String>,
    },
    /// End the call (after the last prompt finished).
    Hangup {
        category: Option<String>,
        topic: Option<String>,
    },
    /// The inquiry's ivr_path, category or topic changed: persist it now.
    PathChanged,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteTarget {
    Queue {
        queue: String,
        category: Option<String>,
        topic: Option<String>,
        priority: i32,
    },
    Agent {
        agent: AgentTarget,
        fallback_queue: String,
        category: Option<String>,
        topic: Option<String>,
    },
}

/// How the IVR part of a call ended; exactly one per call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Routed(RouteTarget),
    Callback {
        category: Option<String>,
        topic: Option<String>,
    },
    /// The caller was served by the IVR: a `hangup` node ended the call, or
    /// the caller hung up after reaching a self-service answer (`resolves`).
    /// `node` is that hangup or answer node.
    ResolvedInIvr {
        node: String,
    },
    /// The caller hung up before being served; `node` is where they were.
    CallerHungUp {
        node: Option<String>,
    },
    /// A menu's last try failed with nowhere to go, so the IVR hung up.
    GaveUp {
        node: String,
    },
}

impl Outcome {
    /// The inquiry status (ARCHITECTURE §6) this outcome leads to.
    pub fn inquiry_status(&self) -> &'static str {
        match self {
            Outcome::Routed(_) => "waiting",
            Outcome::Callback { .. } => "callback_requested",
            Outcome::ResolvedInIvr { .. } => "resolved_in_ivr",
            Outcome::CallerHungUp { .. } | Outcome::GaveUp { .. } => "abandoned",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    /// Waiting for `Input::Start`.
    NotStarted,
    Menu {
        node: String,
        /// Failed tries so far.
        failures: u32,
        phase: MenuPhase,
    },
    /// A `play` node's prompt is playing.
    Playing {
        node: String,
    },
    /// The closing prompt of a callback/hangup node is playing.
    Closing {
        node: String,
    },
    Done,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MenuPhase {
    /// The menu prompt is playing.
    Prompt,
    /// Prompt done, timer running, waiting for a key.
    Waiting,
    /// The invalid/timeout prompt is playing; the menu repeats after it.
    Feedback,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Failure {
    Invalid,
    Timeout,
}

/// One caller's walk through one script version.
#[derive(Debug, Clone)]
pub struct Session {
    script: Arc<Script>,
    open: bool,
    language: String,
    category: Option<String>,
    topic: Option<String>,
    ivr_path: String,
    state: State,
    timer: Option<(TimerId, Instant)>,
    timers_started: u64,
    /// The last `resolves` play node reached.
    self_service: Option<String>,
    outcome: Option<Outcome>,
}

impl Session {
    /// A session for a call arriving at local time `now_local`.
    pub fn new(script: Arc<Script>, now_local: CalendarTime, calendar: &Calendar) -> Self {
        let language = script.flow.language.clone();
        Session {
            script,
            open: calendar.is_open(&now_local),
            language,
            category: None,
            topic: None,
            ivr_path: String::new(),
            state: State::NotStarted,
            timer: None,
            timers_started: 0,
            self_service: None,
            outcome: None,
        }
    }

    pub fn script(&self) -> &Arc<Script> {
        &self.script
    }

    /// Keys chosen in menus, comma-separated: `"1,1,0"`.
    pub fn ivr_path(&self) -> &str {
        &self.ivr_path
    }

    pub fn category(&self) -> Option<&str> {
        self.category.as_deref()
    }

    pub fn topic(&self) -> Option<&str> {
        self.topic.as_deref()
    }

    /// The language prompts are played in now.
    pub fn language(&self) -> &str {
        &self.language
    }

    /// Set once the IVR part of the call is decided; never changes after.
    pub fn outcome(&self) -> Option<&Outcome> {
        self.outcome.as_ref()
    }

    /// True when the session will emit nothing more.
    pub fn is_finished(&self) -> bool {
        self.state == State::Done
    }

    /// The node the caller is in, if any.
    pub fn current_node(&self) -> Option<&str> {
        match &self.state {
            State::Menu { node, .. } | State::Playing { node } | State::Closing { node } => {
                Some(node)
            }
            State::NotStarted | State::Done => None,
        }
    }

    /// The running timer and when it is due, for shells that poll.
    pub fn timer_deadline(&self) -> Option<(TimerId, Instant)> {
        self.timer
    }

    pub fn handle(&mut self, input: Input, now: Instant) -> Vec<Output> {
        let mut out = Vec::new();
        match input {
            Input::Start => {
                if self.state == State::NotStarted {
                    let start = self.script.flow.start.value.clone();
                    self.enter(start, None, now, &mut out);
                }
            }
            Input::Digit(key) => self.on_digit(key, now, &mut out),
            Input::PromptFinished => self.on_prompt_finished(now, &mut out),
            Input::TimerFired(id) => {
                if self.timer.is_some_and(|(current, _)| current == id) {
                    self.timer = None;
                    if let State::Menu {
                        phase: MenuPhase::Waiting,
                        ..
                    } = self.state
                    {
                        self.menu_failed(Failure::Timeout, now, &mut out);
                    }
                }
            }
            Input::Hangup => self.on_caller_hangup(&mut out),
        }
        out
    }

    fn on_digit(&mut self, key: char, now: Instant, out: &mut Vec<Output>) {
        match self.state.clone() {
            State::Menu { node, phase, .. } => {
                match phase {
                    MenuPhase::Prompt | MenuPhase::Feedback => out.push(Output::StopPlayback),
                    MenuPhase::Waiting => self.cancel_timer(out),
                }
                self.menu_key(node, key, now, out);
            }
            State::Playing { node } => {
                out.push(Output::StopPlayback);
                match self.play_next(&node) {
                    Some(next) => self.enter(next, Some(key), now, out),
                    None => self.give_up(out),
                }
            }
            State::NotStarted | State::Closing { .. } | State::Done => {}
        }
    }

    fn on_prompt_finished(&mut self, now: Instant, out: &mut Vec<Output>) {
        match self.state.clone() {
            State::Menu {
                node,
                failures,
                phase: MenuPhase::Prompt,
            } => {
                let Some(menu) = self.menu(&node) else {
                    return self.give_up(out);
                };
                let after = menu.timeout;
                self.timers_started = self.timers_started.saturating_add(1);
                let id = TimerId(self.timers_started);
                self.timer = Some((id, now.checked_add(after).unwrap_or(now)));
                out.push(Output::StartTimer { id, after });
                self.state = State::Menu {
                    node,
                    failures,
                    phase: MenuPhase::Waiting,
                };
            }
            State::Menu {
                node,
                failures,
                phase: MenuPhase::Feedback,
            } => self.play_menu(node, failures, out),
            State::Playing { node } => match self.play_next(&node) {
                Some(next) => self.enter(next, None, now, out),
                None => self.give_up(out),
            },
            State::Closing { .. } => {
                out.push(Output::Hangup {
                    category: self.category.clone(),
                    topic: self.topic.clone(),
                });
                self.state = State::Done;
            }
            State::Menu {
                phase: MenuPhase::Waiting,
                ..
            }
            | State::NotStarted
            | State::Done => {}
        }
    }

    fn on_caller_hangup(&mut self, out: &mut Vec<Output>) {
        if self.state == State::Done {
            return;
        }
        self.cancel_timer(out);
        if self.outcome.is_none() {
            self.outcome = Some(match &self.self_service {
                Some(node) => Outcome::ResolvedInIvr { node: node.clone() },
                None => Outcome::CallerHungUp {
                    node: self.current_node().map(str::to_owned),
                },
            });
        }
        self.state = State::Done;
    }

    fn menu(&self, id: &str) -> Option<&Menu> {
        match self.script.node(id).map(|n| &n.kind) {
            Some(NodeKind::Menu(menu)) => Some(menu),
            _ => None,
        }
    }

    fn play_next(&self, id: &str) -> Option<String> {
        match self.script.node(id).map(|n| &n.kind) {
            Some(NodeKind::Play(play)) => Some(play.next.value.clone()),
            _ => None,
        }
    }

    fn cancel_timer(&mut self, out: &mut Vec<Output>) {
        if let Some((id, _)) = self.timer.take() {
            out.push(Output::CancelTimer(id));
        }
    }

    fn play(&self, prompt: &str, out: &mut Vec<Output>) {
        out.push(Output::Play {
            prompt: prompt.to_owned(),
            language: self.language.clone(),
        });
    }

    fn play_menu(&mut self, node: String, failures: u32, out: &mut Vec<Output>) {
        let Some(menu) = self.menu(&node) else {
            return self.give_up(out);
        };
        self.play(&menu.prompt.value, out);
        self.state = State::Menu {
            node,
            failures,
            phase: MenuPhase::Prompt,
        };
    }

    fn menu_key(&mut self, node: String, key: char, now: Instant, out: &mut Vec<Output>) {
        let target = self
            .menu(&node)
            .and_then(|menu| menu.option(key))
            .map(|option| option.target.value.clone());
        match target {
            Some(target) => {
                if !self.ivr_path.is_empty() {
                    self.ivr_path.push(',');
                }
                self.ivr_path.push(key);
                out.push(Output::PathChanged);
                self.enter(target, None, now, out);
            }
            None => self.menu_failed(Failure::Invalid, now, out),
        }
    }

    fn menu_failed(&mut self, failure: Failure, now: Instant, out: &mut Vec<Output>) {
        let State::Menu { node, failures, .. } = self.state.clone() else {
            return;
        };
        let Some(menu) = self.menu(&node) else {
            return self.give_up(out);
        };
        let failures = failures.saturating_add(1);
        if failures > menu.retries {
            let exit = match failure {
                Failure::Invalid => menu.on_invalid.as_ref().or(menu.on_timeout.as_ref()),
                Failure::Timeout => menu.on_timeout.as_ref(),
            };
            return match exit.map(|n| n.value.clone()) {
                Some(exit) => self.enter(exit, None, now, out),
                None => self.give_up(out),
            };
        }
        let feedback = match failure {
            Failure::Invalid => menu.invalid_prompt.as_ref(),
            Failure::Timeout => menu.timeout_prompt.as_ref(),
        };
        match feedback.map(|p| p.value.clone()) {
            Some(prompt) => {
                self.play(&prompt, out);
                self.state = State::Menu {
                    node,
                    failures,
                    phase: MenuPhase::Feedback,
                };
            }
            None => self.play_menu(node, failures, out),
        }
    }

    /// The IVR cannot go on (a menu's last try with nowhere to go, or a
    /// broken unvalidated script): hang up rather than leave the caller in
    /// silence.
    fn give_up(&mut self, out: &mut Vec<Output>) {
        self.cancel_timer(out);
        if self.outcome.is_none() {
            let node = self.current_node().unwrap_or_default().to_owned();
            self.outcome = Some(Outcome::GaveUp { node });
        }
        out.push(Output::Hangup {
            category: self.category.clone(),
            topic: self.topic.clone(),
        });
        self.state = State::Done;
    }

    /// Writes category/topic, reporting whether the inquiry changed.
    fn apply(&mut self, category: Option<&Located>, topic: Option<&Located>) -> bool {
        let mut changed = false;
        for (slot, value) in [(&mut self.category, category), (&mut self.topic, topic)] {
            if let Some(value) = value
                && slot.as_deref() != Some(value.value.as_str())
            {
                *slot = Some(value.value.clone());
                changed = true;
            }
        }
        changed
    }

    /// Walks from `id` through nodes that act at once until one waits for
    /// the caller or ends the IVR. `key` is a key typed ahead during a `play`.
    fn enter(&mut self, id: String, key: Option<char>, now: Instant, out: &mut Vec<Output>) {
        let script = Arc::clone(&self.script);
        let mut id = id;
        for _ in 0..MAX_SILENT_STEPS {
            let Some(node) = script.node(&id) else {
                return self.give_up(out);
            };
            let next = match &node.kind {
                NodeKind::Menu(_) => {
                    return match key {
                        Some(key) => {
                            self.state = State::Menu {
                                node: id.clone(),
                                failures: 0,
                                phase: MenuPhase::Prompt,
                            };
                            self.menu_key(id, key, now, out)
                        }
                        None => self.play_menu(id, 0, out),
                    };
                }
                NodeKind::Play(play) => {
                    if play.resolves {
                        self.self_service = Some(id.clone());
                    }
                    if key.is_none() {
                        self.play(&play.prompt.value, out);
                        self.state = State::Playing { node: id };
                        return;
                    }
                    play.next.value.clone()
                }
                NodeKind::BusinessHours { open, closed } => {
                    if self.open { open } else { closed }.value.clone()
                }
                NodeKind::Set(set) => {
                    if self.apply(set.category.as_ref(), set.topic.as_ref()) {
                        out.push(Output::PathChanged);
                    }
                    if let Some(language) = &set.language {
                        self.language = language.value.clone();
                    }
                    set.next.value.clone()
                }
                NodeKind::Queue(queue) => {
                    if self.apply(queue.category.as_ref(), queue.topic.as_ref()) {
                        out.push(Output::PathChanged);
                    }
                    let target = RouteTarget::Queue {
                        queue: queue.queue.value.clone(),
                        category: self.category.clone(),
                        topic: self.topic.clone(),
                        priority: queue.priority,
                    };
                    return self.route(target, out);
                }
                NodeKind::Agent(agent) => {
                    if self.apply(agent.category.as_ref(), agent.topic.as_ref()) {
                        out.push(Output::PathChanged);
                    }
                    let target = RouteTarget::Agent {
                        agent: agent.target.clone(),
                        fallback_queue: agent.fallback_queue.value.clone(),
                        category: self.category.clone(),
                        topic: self.topic.clone(),
                    };
                    return self.route(target, out);
                }
                NodeKind::Callback(callback) => {
                    if self.apply(callback.category.as_ref(), callback.topic.as_ref()) {
                        out.push(Output::PathChanged);
                    }
                    out.push(Output::Callback {
                        category: self.category.clone(),
                        topic: self.topic.clone(),
                    });
                    self.outcome = Some(Outcome::Callback {
                        category: self.category.clone(),
                        topic: self.topic.clone(),
                    });
                    let prompt = callback.prompt.as_ref().map(|p| p.value.clone());
                    return self.close(id, prompt, out);
                }
                NodeKind::Hangup(hangup) => {
                    if self.apply(hangup.category.as_ref(), hangup.topic.as_ref()) {
                        out.push(Output::PathChanged);
                    }
                    self.outcome = Some(Outcome::ResolvedInIvr { node: id.clone() });
                    let prompt = hangup.prompt.as_ref().map(|p| p.value.clone());
                    return self.close(id, prompt, out);
                }
            };
            id = next;
        }
        self.give_up(out);
    }

    fn route(&mut self, target: RouteTarget, out: &mut Vec<Output>) {
        self.outcome = Some(Outcome::Routed(target.clone()));
        out.push(Output::Route(target));
        self.state = State::Done;
    }

    /// Plays the closing prompt, if any, then hangs up.
    fn close(&mut self, node: String, prompt: Option<String>, out: &mut Vec<Output>) {
        match prompt {
            Some(prompt) => {
                self.play(&prompt, out);
                self.state = State::Closing { node };
            }
            None => {
                out.push(Output::Hangup {
                    category: self.category.clone(),
                    topic: self.topic.clone(),
                });
                self.state = State::Done;
            }
        }
    }
}
