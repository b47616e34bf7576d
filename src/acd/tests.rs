//! One test per routing rule, driven with explicit instants.

use super::*;
use std::time::{Duration, Instant};

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// An engine, a clock and the timers the engine armed.
struct Rig {
    engine: Engine,
    now: Instant,
    timers: Vec<(TimerId, Instant)>,
}

impl Rig {
    fn new(queues: Vec<QueueConfig>) -> Rig {
        Rig {
            engine: Engine::new(EngineConfig { queues }).unwrap(),
            now: Instant::now(),
            timers: Vec::new(),
        }
    }

    fn general(strategy: Strategy) -> Rig {
        Rig::new(vec![QueueConfig::new("general").with_strategy(strategy)])
    }

    /// Keeps the timer list up to date and hands the commands back.
    fn track(&mut self, out: Vec<Command>) -> Vec<Command> {
        for c in &out {
            match c {
                Command::StartTimer { id, at } => self.timers.push((*id, *at)),
                Command::CancelTimer { id } => self.timers.retain(|(t, _)| t != id),
                _ => {}
            }
        }
        out
    }

    /// Adds and registers agents `logins` serving `queue` with skill 1.
    fn agents(&mut self, queue: &str, logins: &[&str]) {
        for login in logins {
            self.engine
                .add_agent(AgentSpec::new(*login).serving(queue, 1), self.now)
                .unwrap();
            let out = self.engine.agent_registered(login, self.now).unwrap();
            self.track(out);
        }
    }

    fn advance(&mut self, by: Duration) -> Vec<Command> {
        let until = self.now + by;
        let mut all = Vec::new();
        loop {
            self.timers.sort_by_key(|&(id, at)| (at, id));
            match self.timers.first().copied() {
                Some((id, at)) if at <= until => {
                    self.timers.remove(0);
                    self.now = at;
                    let out = self.engine.timer_fired(id, at);
                    all.extend(self.track(out));
                }
                _ => break,
            }
        }
        self.now = until;
        all
    }

    fn enter(&mut self, call: IncomingCall) -> Vec<Command> {
        let out = self.engine.call_entered(call, self.now).unwrap();
        self.track(out)
    }

    fn call(&mut self, id: u64, queue: &str) -> Vec<Command> {
        self.enter(IncomingCall::new(CallId(id), queue))
    }

    fn answer(&mut self, id: u64, login: &str) -> Vec<Command> {
        let out = self.engine.agent_answered(CallId(id), login, self.now);
        self.track(out)
    }

    fn end(&mut self, id: u64) -> Vec<Command> {
        let out = self.engine.call_ended(CallId(id), self.now);
        self.track(out)
    }

    fn state(&self, login: &str) -> AgentState {
        self.engine.agent_state(login).unwrap()
    }

    /// Takes a call through a whole conversation on `login`, `talk` long.
    fn handle(&mut self, id: u64, login: &str, talk: Duration) {
        let out = self.call(id, "general");
        assert_eq!(rung(&out), vec![(id, login.to_string())]);
        self.answer(id, login);
        self.advance(talk);
        self.end(id);
    }
}

fn rung(out: &[Command]) -> Vec<(u64, String)> {
    out.iter()
        .filter_map(|c| match c {
            Command::RingAgent { call, agent, .. } | Command::CallbackDue { call, agent, .. } => {
                Some((call.0, agent.clone()))
            }
            _ => None,
        })
        .collect()
}

fn reasons(out: &[Command]) -> Vec<RoutingReason> {
    out.iter()
        .filter_map(|c| match c {
            Command::RingAgent { reason, .. } | Command::CallbackDue { reason, .. } => {
                Some(*reason)
            }
            _ => None,
        })
        .collect()
}

fn has<F: Fn(&Command) -> bool>(out: &[Command], f: F) -> bool {
    out.iter().any(f)
}

#[test]
fn longest_idle_rings_the_agent_whose_last_call_ended_first() {
    let mut rig = Rig::general(Strategy::LongestIdle);
    rig.agents("general", &["a", "b", "c"]);
    // a, b, c all idle since the start: configuration order breaks the tie.
    rig.handle(1, "a", secs(10));
    rig.advance(secs(20)); // a's wrap-up is over
    rig.handle(2, "b", secs(10));
    rig.advance(secs(20));
    // c never took a call: idle since the start, longest.
    let out = rig.call(3, "general");
    assert_eq!(rung(&out), vec![(3, "c".into())]);
    assert_eq!(reasons(&out), vec![RoutingReason::LongestIdle]);
    // Next is a, whose call ended before b's.
    let out = rig.call(4, "general");
    assert_eq!(rung(&out), vec![(4, "a".into())]);
}

#[test]
fn round_robin_rings_members_in_turn() {
    let mut rig = Rig::general(Strategy::RoundRobin);
    rig.agents("general", &["a", "b", "c"]);
    let mut order = Vec::new();
    for id in 1..=4 {
        let out = rig.call(id, "general");
        let (_, agent) = rung(&out).remove(0);
        rig.answer(id, &agent);
        rig.end(id);
        rig.advance(secs(11));
        order.push(agent);
    }
    assert_eq!(order, ["a", "b", "c", "a"]);
    assert_eq!(
        reasons(&rig.call(9, "general")),
        vec![RoutingReason::RoundRobin]
    );
}

#[test]
fn fewest_calls_rings_the_agent_with_fewest_answered_calls() {
    let mut rig = Rig::general(Strategy::FewestCalls);
    rig.agents("general", &["a", "b"]);
    rig.handle(1, "a", secs(5));
    rig.advance(secs(11));
    rig.handle(2, "b", secs(5));
    rig.advance(secs(11));
    rig.handle(3, "a", secs(5));
    rig.advance(secs(11));
    // a has answered 2 calls, b only 1.
    let out = rig.call(4, "general");
    assert_eq!(rung(&out), vec![(4, "b".into())]);
    assert_eq!(reasons(&out), vec![RoutingReason::FewestCalls]);
}

#[test]
fn higher_skill_wins_a_tie() {
    let mut rig = Rig::general(Strategy::LongestIdle);
    let now = rig.now;
    for (login, skill) in [("low", 1), ("high", 5)] {
        rig.engine
            .add_agent(AgentSpec::new(login).serving("general", skill), now)
            .unwrap();
        rig.engine.agent_registered(login, now).unwrap();
    }
    assert_eq!(rung(&rig.call(1, "general")), vec![(1, "high".into())]);
}

#[test]
fn ring_timeout_pauses_the_agent_and_rings_the_next() {
    let mut rig = Rig::general(Strategy::LongestIdle);
    rig.agents("general", &["a", "b"]);
    assert_eq!(rung(&rig.call(1, "general")), vec![(1, "a".into())]);
    let out = rig.advance(secs(14));
    assert!(out.is_empty());
    let out = rig.advance(secs(1));
    assert!(has(
        &out,
        |c| matches!(c, Command::CancelRing { agent, .. } if agent == "a")
    ));
    assert_eq!(rung(&out), vec![(1, "b".into())]);
    assert_eq!(rig.state("a"), AgentState::Paused);
    assert_eq!(rig.state("b"), AgentState::Ringing);
}

#[test]
fn declined_call_goes_to_the_next_agent() {
    let mut rig = Rig::general(Strategy::LongestIdle);
    rig.agents("general", &["a", "b"]);
    rig.call(1, "general");
    let out = rig.engine.agent_declined(CallId(1), "a", rig.now);
    assert_eq!(rung(&out), vec![(1, "b".into())]);
    assert_eq!(rig.state("a"), AgentState::Paused);
}

#[test]
fn wrap_up_keeps_the_agent_from_the_next_call_until_it_ends() {
    let mut rig = Rig::general(Strategy::LongestIdle);
    rig.agents("general", &["a"]);
    rig.handle(1, "a", secs(30));
    assert_eq!(rig.state("a"), AgentState::WrapUp);
    assert!(rung(&rig.call(2, "general")).is_empty());
    assert!(rung(&rig.advance(secs(9))).is_empty());
    let out = rig.advance(secs(1));
    assert_eq!(rung(&out), vec![(2, "a".into())]);
}

#[test]
fn available_during_wrap_up_ends_it_early() {
    let mut rig = Rig::general(Strategy::LongestIdle);
    rig.agents("general", &["a"]);
    rig.handle(1, "a", secs(30));
    rig.call(2, "general");
    let out = rig
        .engine
        .agent_request("a", AgentRequest::Available, rig.now)
        .unwrap();
    assert_eq!(rung(&out), vec![(2, "a".into())]);
}

#[test]
fn pause_and_available_by_feature_code() {
    let mut rig = Rig::general(Strategy::LongestIdle);
    rig.agents("general", &["a"]);
    let pause = AgentRequest::from_feature_code("*51").unwrap();
    rig.engine.agent_request("a", pause, rig.now).unwrap();
    assert_eq!(rig.state("a"), AgentState::Paused);
    assert!(rung(&rig.call(1, "general")).is_empty());
    let available = AgentRequest::from_feature_code("*50").unwrap();
    let out = rig.engine.agent_request("a", available, rig.now).unwrap();
    assert_eq!(rung(&out), vec![(1, "a".into())]);
    assert_eq!(AgentRequest::from_feature_code("*52"), None);
}

#[test]
fn pause_during_a_call_applies_when_it_ends() {
    let mut rig = Rig::general(Strategy::LongestIdle);
    rig.agents("general", &["a"]);
    rig.call(1, "general");
    rig.answer(1, "a");
    rig.engine
        .agent_request("a", AgentRequest::Pause, rig.now)
        .unwrap();
    assert_eq!(rig.state("a"), AgentState::Busy);
    rig.end(1);
    assert_eq!(rig.state("a"), AgentState::Paused);
}

#[test]
fn offline_agent_cannot_make_itself_available() {
    let mut rig = Rig::general(Strategy::LongestIdle);
    rig.engine
        .add_agent(AgentSpec::new("a").serving("general", 1), rig.now)
        .unwrap();
    assert_eq!(
        rig.engine
            .agent_request("a", AgentRequest::Available, rig.now),
        Err(AcdError::NotRegistered("a".into()))
    );
    assert_eq!(
        rig.engine
            .agent_request("zz", AgentRequest::Available, rig.now),
        Err(AcdError::UnknownAgent("zz".into()))
    );
}

#[test]
fn higher_priority_first_then_open_inquiry_then_arrival() {
    let mut rig = Rig::general(Strategy::LongestIdle);
    rig.agents("general", &["a"]);
    rig.engine
        .agent_request("a", AgentRequest::Pause, rig.now)
        .unwrap();
    rig.call(1, "general");
    rig.enter(IncomingCall {
        has_open_inquiry: true,
        ..IncomingCall::new(CallId(2), "general")
    });
    rig.call(3, "general");
    rig.enter(IncomingCall {
        priority: 1,
        ..IncomingCall::new(CallId(4), "general")
    });
    assert_eq!(rig.engine.position(CallId(4)), Some(1));
    assert_eq!(rig.engine.position(CallId(2)), Some(2));
    assert_eq!(rig.engine.position(CallId(1)), Some(3));
    let mut order = Vec::new();
    for _ in 0..4 {
        let out = rig
            .engine
            .agent_request("a", AgentRequest::Available, rig.now)
            .unwrap();
        let (id, _) = rung(&rig.track(out)).remove(0);
        rig.answer(id, "a");
        rig.engine
            .agent_request("a", AgentRequest::Pause, rig.now)
            .unwrap();
        rig.end(id);
        order.push(id);
    }
    assert_eq!(order, [4, 2, 1, 3]);
}

#[test]
fn position_announced_on_entry_and_every_30_s_with_an_estimate() {
    let mut rig = Rig::general(Strategy::LongestIdle);
    rig.agents("general", &["a"]);
    rig.engine
        .agent_request("a", AgentRequest::Pause, rig.now)
        .unwrap();
    rig.call(1, "general");
    let out = rig.call(2, "general");
    assert!(has(&out, |c| matches!(
        c,
        Command::AnnouncePosition {
            call: CallId(2),
            position: 2,
            ..
        }
    )));
    let out = rig.advance(secs(30));
    let announced: Vec<_> = out
        .iter()
        .filter_map(|c| match c {
            Command::AnnouncePosition {
                call,
                position,
                estimated_wait,
            } => Some((call.0, *position, *estimated_wait)),
            _ => None,
        })
        .collect();
    // Nobody staffs the queue (a is paused): one agent is assumed; default 180 s handle time.
    assert_eq!(announced, vec![(1, 1, secs(180)), (2, 2, secs(360))]);
}

#[test]
fn overflow_to_another_queue_after_max_wait() {
    let mut rig = Rig::new(vec![
        QueueConfig::new("admission")
            .with_overflow(secs(60), OverflowTarget::Queue("general".into())),
        QueueConfig::new("general"),
    ]);
    rig.agents("general", &["g"]);
    rig.call(1, "admission");
    let out = rig.advance(secs(60));
    assert!(has(&out, |c| matches!(
        c,
        Command::Overflow { call: CallId(1), to: OverflowTarget::Queue(q), .. } if q == "general"
    )));
    assert_eq!(rung(&out), vec![(1, "g".into())]);
}

#[test]
fn overflow_to_callback_keeps_the_place_and_rings_the_agent_first() {
    let mut rig = Rig::new(vec![
        QueueConfig::new("general").with_overflow(secs(60), OverflowTarget::Callback),
    ]);
    rig.agents("general", &["a"]);
    rig.engine
        .agent_request("a", AgentRequest::Pause, rig.now)
        .unwrap();
    rig.enter(IncomingCall {
        client_id: Some("client-7".into()),
        ..IncomingCall::new(CallId(1), "general")
    });
    rig.advance(secs(30));
    rig.call(2, "general");
    let out = rig.advance(secs(30));
    assert!(has(&out, |c| matches!(
        c,
        Command::Overflow {
            call: CallId(1),
            to: OverflowTarget::Callback,
            ..
        }
    )));
    assert_eq!(rig.engine.position(CallId(1)), Some(1));
    assert_eq!(rig.engine.snapshot(rig.now).queues[0].callbacks, 1);
    let out = rig
        .engine
        .agent_request("a", AgentRequest::Available, rig.now)
        .unwrap();
    assert!(has(&out, |c| matches!(
        c,
        Command::CallbackDue { call: CallId(1), agent, client_id: Some(client), .. }
            if agent == "a" && client == "client-7"
    )));
    let out = rig.answer(1, "a");
    assert!(has(&out, |c| matches!(
        c,
        Command::Bridge {
            call: CallId(1),
            ..
        }
    )));
}

#[test]
fn callback_request_keeps_the_callers_place() {
    let mut rig = Rig::general(Strategy::LongestIdle);
    rig.agents("general", &["a"]);
    rig.engine
        .agent_request("a", AgentRequest::Pause, rig.now)
        .unwrap();
    rig.call(1, "general");
    rig.call(2, "general");
    rig.call(3, "general");
    let out = rig.engine.callback_requested(CallId(2)).unwrap();
    rig.track(out);
    assert_eq!(rig.engine.position(CallId(2)), Some(2));
    // No more announcements for a caller who hung up to be called back.
    let out = rig.advance(secs(30));
    assert!(!has(&out, |c| matches!(
        c,
        Command::AnnouncePosition {
            call: CallId(2),
            ..
        }
    )));
    assert_eq!(
        rig.engine.callback_requested(CallId(2)),
        Err(AcdError::NotWaiting(CallId(2)))
    );
}

fn personal_rig() -> Rig {
    let mut rig = Rig::new(vec![QueueConfig::new("admission")]);
    rig.agents("admission", &["q1", "pm"]);
    rig
}

fn with_manager(id: u64) -> IncomingCall {
    IncomingCall {
        client_id: Some("c1".into()),
        personal_manager: Some("pm".into()),
        ..IncomingCall::new(CallId(id), "admission")
    }
}

#[test]
fn personal_manager_rings_first_when_available() {
    let mut rig = personal_rig();
    let out = rig.enter(with_manager(1));
    assert_eq!(rung(&out), vec![(1, "pm".into())]);
    assert_eq!(reasons(&out), vec![RoutingReason::PersonalManager]);
    // The personal ring lasts 20 s, not the queue's 15 s.
    assert!(rung(&rig.advance(secs(19))).is_empty());
}

#[test]
fn personal_manager_busy_falls_back_to_the_queue() {
    let mut rig = personal_rig();
    rig.engine
        .agent_request("pm", AgentRequest::Pause, rig.now)
        .unwrap();
    let out = rig.enter(with_manager(1));
    assert_eq!(rung(&out), vec![(1, "q1".into())]);
    assert_eq!(reasons(&out), vec![RoutingReason::PersonalBusyFallback]);
}

#[test]
fn personal_manager_no_answer_falls_back_after_personal_ring() {
    let mut rig = personal_rig();
    rig.enter(with_manager(1));
    let out = rig.advance(secs(20));
    assert_eq!(rung(&out), vec![(1, "q1".into())]);
    assert_eq!(reasons(&out), vec![RoutingReason::PersonalNoAnswerFallback]);
    assert_eq!(rig.state("pm"), AgentState::Paused);
}

#[test]
fn caller_hanging_up_while_ringing_frees_the_agent() {
    let mut rig = Rig::general(Strategy::LongestIdle);
    rig.agents("general", &["a"]);
    rig.call(1, "general");
    rig.call(2, "general");
    rig.advance(secs(5));
    let out = rig.engine.caller_hung_up(CallId(1), rig.now);
    let out = rig.track(out);
    assert!(has(&out, |c| matches!(
        c,
        Command::CancelRing {
            call: CallId(1),
            ..
        }
    )));
    assert!(has(&out, |c| matches!(
        c,
        Command::CallAbandoned { call: CallId(1), waited, .. } if *waited == secs(5)
    )));
    // a is free again and takes the next caller.
    assert_eq!(rung(&out), vec![(2, "a".into())]);
    // A late answer to the withdrawn offer is refused.
    let out = rig.answer(1, "a");
    assert!(has(&out, |c| matches!(c, Command::DropAgentLeg { .. })));
}

#[test]
fn caller_hanging_up_while_waiting_is_abandoned_once() {
    let mut rig = Rig::general(Strategy::LongestIdle);
    rig.call(1, "general");
    let out = rig.engine.caller_hung_up(CallId(1), rig.now);
    assert!(has(&out, |c| matches!(c, Command::CallAbandoned { .. })));
    assert!(rig.engine.caller_hung_up(CallId(1), rig.now).is_empty());
    assert_eq!(rig.engine.call_count(), 0);
    assert_eq!(rig.engine.snapshot(rig.now).queues[0].waiting, 0);
}

#[test]
fn transfer_to_queue_sends_the_agent_to_wrap_up_and_rings_the_other_queue() {
    let mut rig = Rig::new(vec![
        QueueConfig::new("general"),
        QueueConfig::new("education"),
    ]);
    rig.agents("general", &["g"]);
    rig.agents("education", &["e"]);
    rig.call(1, "general");
    rig.answer(1, "g");
    let out = rig
        .engine
        .transfer_to_queue(CallId(1), "education", rig.now)
        .unwrap();
    assert_eq!(rung(&out), vec![(1, "e".into())]);
    assert_eq!(rig.state("g"), AgentState::WrapUp);
    assert_eq!(
        rig.engine.transfer_to_queue(CallId(1), "nowhere", rig.now),
        Err(AcdError::UnknownQueue("nowhere".into()))
    );
}

#[test]
fn transfer_to_agent_rings_them_and_refuses_a_busy_one() {
    let mut rig = Rig::general(Strategy::LongestIdle);
    rig.agents("general", &["a", "b"]);
    rig.call(1, "general");
    rig.answer(1, "a");
    let out = rig
        .engine
        .transfer_to_agent(CallId(1), "b", rig.now)
        .unwrap();
    assert_eq!(reasons(&out), vec![RoutingReason::Transfer]);
    assert_eq!(rung(&out), vec![(1, "b".into())]);
    rig.track(out);
    rig.answer(1, "b");
    assert_eq!(
        rig.engine.transfer_to_agent(CallId(1), "a", rig.now),
        Err(AcdError::AgentUnavailable("a".into()))
    );
}

#[test]
fn unregistering_while_ringing_rings_the_next_agent() {
    let mut rig = Rig::general(Strategy::LongestIdle);
    rig.agents("general", &["a", "b"]);
    rig.call(1, "general");
    let out = rig.engine.agent_unregistered("a", rig.now).unwrap();
    assert_eq!(rung(&out), vec![(1, "b".into())]);
    assert_eq!(rig.state("a"), AgentState::Offline);
}

#[test]
fn restart_frees_ringing_and_busy_agents_and_keeps_pauses() {
    let mut rig = Rig::general(Strategy::LongestIdle);
    rig.agents("general", &["a", "b", "c", "d"]);
    rig.call(1, "general"); // a rings
    rig.call(2, "general"); // b rings
    rig.answer(2, "b");
    rig.engine
        .agent_request("c", AgentRequest::Pause, rig.now)
        .unwrap();
    rig.engine.agent_unregistered("d", rig.now).unwrap();
    let persisted = rig.engine.persisted_agents();
    let (engine, out) = Engine::restore(
        EngineConfig {
            queues: vec![QueueConfig::new("general")],
        },
        persisted,
        rig.now,
    )
    .unwrap();
    assert_eq!(engine.agent_state("a"), Some(AgentState::Available));
    assert_eq!(engine.agent_state("b"), Some(AgentState::Available));
    assert_eq!(engine.agent_state("c"), Some(AgentState::Paused));
    assert_eq!(engine.agent_state("d"), Some(AgentState::Offline));
    assert_eq!(engine.call_count(), 0);
    assert_eq!(
        out.iter()
            .filter(|c| matches!(
                c,
                Command::AgentStateChanged {
                    cause: StateCause::Restart,
                    ..
                }
            ))
            .count(),
        2
    );
    assert_eq!(engine.snapshot(rig.now).agents[1].calls_today, 1);
}

#[test]
fn snapshot_counts_waiting_callers_and_agents_by_state() {
    let mut rig = Rig::general(Strategy::LongestIdle);
    rig.agents("general", &["a", "b"]);
    rig.engine
        .agent_request("b", AgentRequest::Pause, rig.now)
        .unwrap();
    rig.call(1, "general");
    rig.call(2, "general");
    rig.advance(secs(7));
    let snap = rig.engine.snapshot(rig.now);
    let q = &snap.queues[0];
    assert_eq!((q.waiting, q.longest_wait_ms), (1, 7000));
    assert_eq!((q.agents.ringing, q.agents.paused), (1, 1));
    assert_eq!(snap.agents[0].state, AgentState::Ringing);
    assert_eq!(snap.agents[0].in_state_ms, 7000);
    assert_eq!(snap.agents[0].call, Some(CallId(1)));
}

#[test]
fn configuration_errors_are_reported() {
    assert_eq!(
        Engine::new(EngineConfig {
            queues: vec![QueueConfig::new("a"), QueueConfig::new("a")]
        })
        .err(),
        Some(AcdError::DuplicateQueue("a".into()))
    );
    assert_eq!(
        Engine::new(EngineConfig {
            queues: vec![
                QueueConfig::new("a").with_overflow(secs(1), OverflowTarget::Queue("b".into()))
            ]
        })
        .err(),
        Some(AcdError::UnknownQueue("b".into()))
    );
    let mut engine = Engine::new(EngineConfig::default()).unwrap();
    let now = Instant::now();
    assert_eq!(
        engine.add_agent(AgentSpec::new("x").serving("nope", 1), now),
        Err(AcdError::UnknownQueue("nope".into()))
    );
    assert_eq!(
        engine.call_entered(IncomingCall::new(CallId(1), "nope"), now),
        Err(AcdError::UnknownQueue("nope".into()))
    );
}

#[test]
fn queue_membership_changes_apply_while_calls_go_on() {
    let mut rig = Rig::new(vec![
        QueueConfig::new("general").with_strategy(Strategy::RoundRobin),
        QueueConfig::new("education"),
    ]);
    rig.agents("general", &["a", "b", "c"]);
    rig.agents("education", &["d"]);
    // a talks; a caller waits in education while d is on a call.
    assert_eq!(rung(&rig.call(1, "general")), vec![(1, "a".into())]);
    rig.answer(1, "a");
    assert_eq!(rung(&rig.call(2, "education")), vec![(2, "d".into())]);
    rig.answer(2, "d");
    rig.call(3, "education");

    // b joins education with a call in progress: takes the waiting caller.
    let spec = AgentSpec::new("b")
        .serving("general", 1)
        .serving("education", 5);
    let out = rig.engine.set_agent_queues(spec, rig.now).unwrap();
    assert_eq!(rung(&rig.track(out)), vec![(3, "b".into())]);
    rig.answer(3, "b");

    // a leaves general (mid-call): the next general call skips a, and the
    // members after a keep their turn.
    let out = rig
        .engine
        .set_agent_queues(AgentSpec::new("a").serving("education", 1), rig.now)
        .unwrap();
    assert!(rung(&rig.track(out)).is_empty());
    assert_eq!(rung(&rig.call(4, "general")), vec![(4, "c".into())]);
    let persisted = rig.engine.persisted_agents();
    let queues_of = |login: &str| {
        persisted
            .iter()
            .find(|p| p.spec.login == login)
            .map(|p| p.spec.queues.clone())
            .unwrap()
    };
    assert_eq!(queues_of("a"), vec![("education".to_string(), 1)]);
    assert_eq!(
        queues_of("b"),
        vec![("general".to_string(), 1), ("education".to_string(), 5)]
    );
    assert_eq!(queues_of("c"), vec![("general".to_string(), 1)]);
    let general = &rig.engine.snapshot(rig.now).queues[0];
    assert_eq!(general.agents.busy + general.agents.ringing, 2, "b and c");
    assert_eq!(
        rig.engine
            .set_agent_queues(AgentSpec::new("a").serving("sales", 1), rig.now),
        Err(AcdError::UnknownQueue("sales".into()))
    );
}
