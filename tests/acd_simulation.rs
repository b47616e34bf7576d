//! The routing engine under a simulated day: 1 000 callers, 50 agents in 3
//! queues, random arrivals, hang-ups while waiting and ringing, agents who do
//! not answer or decline, pauses, registrations that come and go, transfers,
//! callback requests and a restart halfway. Virtual time and a seeded RNG make
//! every run the same; the invariants are checked after every step.

use hotline::acd::{
    AcdError, AgentRequest, AgentSpec, AgentState, CallId, Command, Engine, EngineConfig,
    IncomingCall, OverflowTarget, QueueConfig, RoutingReason, Snapshot, Strategy, TimerId,
};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

const CALLERS: u64 = 1_000;
const AGENTS: usize = 50;
const RESTART_AFTER: u64 = 500;

/// xorshift64*: enough randomness for a simulation, no crate needed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in `lo..hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo)
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Outcome {
    Answered,
    Abandoned,
    /// In flight when the engine restarted.
    Lost,
}

#[derive(Debug, Clone)]
enum Event {
    Arrive(u64),
    CallerHangsUp(u64),
    PressOne(u64),
    Answer { call: u64, agent: String, ring: u64 },
    Decline { call: u64, agent: String, ring: u64 },
    NoAnswer { call: u64, agent: String, ring: u64 },
    EndTalk { call: u64, leg: u64 },
    Transfer { call: u64, leg: u64 },
    Toggle,
    Unregister(usize),
    Register(usize),
    Restart,
}

#[derive(Debug, Default)]
struct SimCall {
    outcome: Option<Outcome>,
    personal_manager: Option<String>,
    /// The routing reason every queue pick must carry, once known.
    expected_reason: Option<RoutingReason>,
    /// Ringing `(agent, ring number)`.
    ringing: Option<(String, u64)>,
    ringing_personal: bool,
    talking_to: Option<String>,
    leg: u64,
    callback: bool,
    transferred: bool,
}

struct Sim {
    rng: Rng,
    engine: Engine,
    start: Instant,
    now_ms: u64,
    events: BTreeMap<(u64, u64), Event>,
    event_seq: u64,
    timers: BTreeSet<(u64, TimerId)>,
    timer_at: HashMap<TimerId, u64>,
    calls: HashMap<u64, SimCall>,
    logins: Vec<String>,
    members: HashMap<&'static str, Vec<usize>>,
    rings: u64,
    arrivals_over: bool,
    steps: u64,
    stats: HashMap<&'static str, u64>,
}

fn queues() -> Vec<QueueConfig> {
    vec![
        QueueConfig::new("general")
            .with_overflow(Duration::from_secs(240), OverflowTarget::Callback),
        QueueConfig::new("admission")
            .with_strategy(Strategy::RoundRobin)
            .with_overflow(
                Duration::from_secs(90),
                OverflowTarget::Queue("general".into()),
            ),
        QueueConfig::new("education")
            .with_strategy(Strategy::FewestCalls)
            .with_overflow(
                Duration::from_secs(120),
                OverflowTarget::Queue("general".into()),
            ),
    ]
}

/// Agents 0–29 serve `general`, 25–37 `admission`, 35–49 `education`, so
/// some serve two queues.
fn membership() -> HashMap<&'static str, Vec<usize>> {
    HashMap::from([
        ("general", (0..30).collect()),
        ("admission", (25..38).collect()),
        ("education", (35..AGENTS).collect()),
    ])
}

impl Sim {
    fn new(seed: u64) -> Sim {
        let start = Instant::now();
        let mut engine = Engine::new(EngineConfig { queues: queues() }).unwrap();
        let members = membership();
        let logins: Vec<String> = (0..AGENTS).map(|i| format!("a{i:02}")).collect();
        for (i, login) in logins.iter().enumerate() {
            let mut spec = AgentSpec::new(login.clone());
            for (queue, list) in &members {
                if list.contains(&i) {
                    spec = spec.serving(*queue, (i % 3) as u8 + 1);
                }
            }
            engine.add_agent(spec, start).unwrap();
        }
        let mut sim = Sim {
            rng: Rng(seed.max(1)), // xorshift stays at 0 from 0
            engine,
            start,
            now_ms: 0,
            events: BTreeMap::new(),
            event_seq: 0,
            timers: BTreeSet::new(),
            timer_at: HashMap::new(),
            calls: HashMap::new(),
            logins,
            members,
            rings: 0,
            arrivals_over: false,
            steps: 0,
            stats: HashMap::new(),
        };
        for i in 0..AGENTS {
            let out = sim.engine.agent_registered(&sim.logins[i], start).unwrap();
            sim.apply(out, None);
        }
        sim.schedule(0, Event::Arrive(0));
        sim.schedule(10_000, Event::Toggle);
        sim
    }

    fn now(&self) -> Instant {
        self.start + Duration::from_millis(self.now_ms)
    }

    fn schedule(&mut self, after_ms: u64, event: Event) {
        self.event_seq += 1;
        self.events
            .insert((self.now_ms + after_ms, self.event_seq), event);
    }

    fn count(&mut self, what: &'static str) {
        *self.stats.entry(what).or_default() += 1;
    }

    fn end(&mut self, call: u64, outcome: Outcome) {
        let c = self.calls.get_mut(&call).unwrap();
        assert_eq!(c.outcome, None, "call {call} ended twice: {outcome:?}");
        c.outcome = Some(outcome);
        c.ringing = None;
        c.talking_to = None;
    }

    /// Runs until every caller has an outcome and nothing is pending.
    fn run(&mut self) {
        loop {
            let next_event = self.events.keys().next().copied();
            let next_timer = self.timers.iter().next().copied();
            match (next_event, next_timer) {
                (None, None) => break,
                // On a tie the engine's timer goes first.
                (Some((at, _)), Some((t_at, id))) if t_at <= at => self.fire_timer(t_at, id),
                (None, Some((t_at, id))) => self.fire_timer(t_at, id),
                (Some(key), _) => {
                    let event = self.events.remove(&key).unwrap();
                    self.now_ms = key.0;
                    self.handle(event);
                }
            }
            self.steps += 1;
            assert!(self.steps < 2_000_000, "simulation does not settle");
        }
    }

    fn fire_timer(&mut self, at: u64, id: TimerId) {
        self.timers.remove(&(at, id));
        self.timer_at.remove(&id);
        self.now_ms = at;
        let before = self.engine.snapshot(self.now());
        let out = self.engine.timer_fired(id, self.now());
        self.apply(out, Some(&before));
        self.check();
    }

    fn handle(&mut self, event: Event) {
        let now = self.now();
        let before = self.engine.snapshot(now);
        let out = match event {
            Event::Arrive(i) => self.arrive(i, &before),
            Event::CallerHangsUp(call) => {
                let c = &self.calls[&call];
                if c.outcome.is_some() || c.talking_to.is_some() || c.callback {
                    return;
                }
                let ringing = c.ringing.is_some();
                let out = self.engine.caller_hung_up(CallId(call), now);
                self.count(if ringing {
                    "hang-up while ringing"
                } else {
                    "hang-up while waiting"
                });
                out
            }
            Event::PressOne(call) => {
                let c = &self.calls[&call];
                if c.outcome.is_some() || c.callback {
                    return;
                }
                match self.engine.callback_requested(CallId(call)) {
                    Ok(out) => {
                        self.count("callback requested");
                        self.calls.get_mut(&call).unwrap().callback = true;
                        out
                    }
                    Err(AcdError::NotWaiting(_)) => return,
                    Err(e) => panic!("{e}"),
                }
            }
            Event::Answer { call, agent, ring } => {
                if !self.is_ringing(call, &agent, ring) {
                    return;
                }
                let out = self.engine.agent_answered(CallId(call), &agent, now);
                assert!(
                    out.iter().any(|c| matches!(c, Command::Bridge { .. })),
                    "a current offer was not bridged: {out:?}"
                );
                out
            }
            Event::Decline { call, agent, ring } => {
                if !self.is_ringing(call, &agent, ring) {
                    return;
                }
                self.count("declined");
                self.calls.get_mut(&call).unwrap().ringing = None;
                self.engine.agent_declined(CallId(call), &agent, now)
            }
            Event::NoAnswer { call, agent, ring } => {
                if !self.is_ringing(call, &agent, ring) {
                    return;
                }
                self.count("no answer");
                self.calls.get_mut(&call).unwrap().ringing = None;
                self.engine.agent_no_answer(CallId(call), &agent, now)
            }
            Event::EndTalk { call, leg } => {
                let c = &self.calls[&call];
                if c.outcome.is_some() || c.leg != leg || c.talking_to.is_none() {
                    return;
                }
                let out = self.engine.call_ended(CallId(call), now);
                self.end(call, Outcome::Answered);
                out
            }
            Event::Transfer { call, leg } => {
                let c = &self.calls[&call];
                if c.outcome.is_some() || c.leg != leg || c.talking_to.is_none() {
                    return;
                }
                let target = self.rng.range(0, AGENTS as u64) as usize;
                // Half the transfers go to an agent the transferring manager
                // sees available on the board (the engine still checks).
                let available: Vec<String> = before
                    .agents
                    .iter()
                    .filter(|a| a.state == AgentState::Available)
                    .map(|a| a.login.clone())
                    .collect();
                let out = if self.rng.chance(50) && !available.is_empty() {
                    let login = &available[target % available.len()];
                    match self.engine.transfer_to_agent(CallId(call), login, now) {
                        Ok(out) => {
                            self.count("transfer to agent");
                            out
                        }
                        Err(e) => panic!("{e}"),
                    }
                } else {
                    self.count("transfer to queue");
                    let queue = ["general", "admission", "education"][target % 3];
                    self.engine
                        .transfer_to_queue(CallId(call), queue, now)
                        .unwrap()
                };
                let c = self.calls.get_mut(&call).unwrap();
                c.talking_to = None;
                c.transferred = true;
                c.expected_reason = None;
                out
            }
            Event::Toggle => {
                let mut out = Vec::new();
                if self.arrivals_over {
                    // The supervisor brings everyone back so the queues drain.
                    for i in 0..AGENTS {
                        let login = self.logins[i].clone();
                        out.extend(self.engine.agent_registered(&login, now).unwrap());
                        out.extend(
                            self.engine
                                .agent_request(&login, AgentRequest::Available, now)
                                .unwrap(),
                        );
                    }
                } else {
                    let i = self.rng.range(0, AGENTS as u64) as usize;
                    let request = if self.rng.chance(30) {
                        self.count("pause");
                        AgentRequest::Pause
                    } else {
                        AgentRequest::Available
                    };
                    match self.engine.agent_request(&self.logins[i], request, now) {
                        Ok(o) => out = o,
                        Err(AcdError::NotRegistered(_)) => {}
                        Err(e) => panic!("{e}"),
                    }
                    if self.rng.chance(5) {
                        self.schedule(0, Event::Unregister(i));
                    }
                }
                if self.calls.len() < CALLERS as usize
                    || self.calls.values().any(|c| c.outcome.is_none())
                {
                    let gap = self.rng.range(1_000, 4_000);
                    self.schedule(gap, Event::Toggle);
                }
                out
            }
            Event::Unregister(i) => {
                self.count("unregister");
                let pause = self.rng.range(20_000, 120_000);
                self.schedule(pause, Event::Register(i));
                self.engine
                    .agent_unregistered(&self.logins[i], now)
                    .unwrap()
            }
            Event::Register(i) => self.engine.agent_registered(&self.logins[i], now).unwrap(),
            Event::Restart => {
                self.count("restart");
                let persisted = self.engine.persisted_agents();
                let (engine, out) =
                    Engine::restore(EngineConfig { queues: queues() }, persisted, now).unwrap();
                self.engine = engine;
                self.timers.clear();
                self.timer_at.clear();
                let live: Vec<u64> = self
                    .calls
                    .iter()
                    .filter(|(_, c)| c.outcome.is_none())
                    .map(|(id, _)| *id)
                    .collect();
                for call in live {
                    self.end(call, Outcome::Lost);
                }
                out
            }
        };
        self.apply(out, Some(&before));
        self.check();
    }

    fn is_ringing(&self, call: u64, agent: &str, ring: u64) -> bool {
        let c = &self.calls[&call];
        c.outcome.is_none()
            && c.ringing
                .as_ref()
                .is_some_and(|(a, r)| a == agent && *r == ring)
    }

    fn arrive(&mut self, i: u64, before: &Snapshot) -> Vec<Command> {
        let queue = match self.rng.range(0, 100) {
            0..60 => "general",
            60..85 => "admission",
            _ => "education",
        };
        let known = self.rng.chance(60);
        let personal_manager = if known && queue != "general" {
            let list = &self.members[queue];
            let m = list[(self.rng.next() % list.len() as u64) as usize];
            Some(self.logins[m].clone())
        } else {
            None
        };
        let incoming = IncomingCall {
            call: CallId(i),
            queue: queue.into(),
            priority: u8::from(self.rng.chance(5)),
            client_id: known.then(|| format!("client-{}", i % 300)),
            has_open_inquiry: known && self.rng.chance(30),
            personal_manager: personal_manager.clone(),
        };
        let manager_available = personal_manager.as_ref().map(|pm| {
            before
                .agents
                .iter()
                .any(|a| &a.login == pm && a.state == AgentState::Available)
        });
        self.calls.insert(
            i,
            SimCall {
                personal_manager: personal_manager.clone(),
                expected_reason: match manager_available {
                    Some(false) => Some(RoutingReason::PersonalBusyFallback),
                    _ => None,
                },
                ..SimCall::default()
            },
        );
        let patience = self.rng.range(20_000, 400_000);
        self.schedule(patience, Event::CallerHangsUp(i));
        if self.rng.chance(5) {
            let after = self.rng.range(5_000, 60_000);
            self.schedule(after, Event::PressOne(i));
        }
        if i + 1 < CALLERS {
            let gap = self.rng.range(0, 5_000);
            self.schedule(gap, Event::Arrive(i + 1));
        } else {
            self.arrivals_over = true;
        }
        if i + 1 == RESTART_AFTER {
            self.schedule(1, Event::Restart);
        }
        let out = self
            .engine
            .call_entered(incoming, self.now())
            .expect("call enters");
        if manager_available == Some(true) {
            let pm = personal_manager.unwrap();
            assert!(
                out.iter().any(|c| matches!(c,
                    Command::RingAgent { call, agent, reason: RoutingReason::PersonalManager, .. }
                        if call.0 == i && *agent == pm)),
                "available personal manager {pm} not rung first for call {i}: {out:?}"
            );
            self.count("personal manager rung");
        }
        out
    }

    /// Carries out the engine's commands the way the shell would, checking
    /// each against the rules.
    fn apply(&mut self, out: Vec<Command>, before: Option<&Snapshot>) {
        for command in out {
            match command {
                Command::StartTimer { id, at } => {
                    let at_ms = u64::try_from(at.duration_since(self.start).as_millis()).unwrap();
                    assert!(at_ms >= self.now_ms, "timer in the past");
                    self.timers.insert((at_ms, id));
                    self.timer_at.insert(id, at_ms);
                }
                Command::CancelTimer { id } => {
                    let at = self
                        .timer_at
                        .remove(&id)
                        .expect("cancel of an unknown timer");
                    self.timers.remove(&(at, id));
                }
                Command::RingAgent {
                    call,
                    agent,
                    queue,
                    reason,
                }
                | Command::CallbackDue {
                    call,
                    agent,
                    queue,
                    reason,
                    ..
                } => self.ring(call.0, agent, queue, reason, before),
                Command::CancelRing { call, agent } => {
                    let c = self.calls.get_mut(&call.0).unwrap();
                    if let Some((ringing, _)) = &c.ringing {
                        assert_eq!(*ringing, agent);
                    }
                    c.ringing = None;
                }
                Command::Bridge { call, agent } => {
                    self.count("bridged");
                    let c = self.calls.get_mut(&call.0).unwrap();
                    assert_eq!(c.outcome, None);
                    assert_eq!(c.ringing.take().map(|(a, _)| a), Some(agent.clone()));
                    c.talking_to = Some(agent);
                    c.ringing_personal = false;
                    c.leg += 1;
                    let leg = c.leg;
                    let talk = self.rng.range(20_000, 180_000);
                    if self.rng.chance(6) {
                        let at = self.rng.range(1_000, talk);
                        self.schedule(at, Event::Transfer { call: call.0, leg });
                    }
                    self.schedule(talk, Event::EndTalk { call: call.0, leg });
                }
                Command::DropAgentLeg { call, agent } => {
                    panic!("the simulation answered only current offers: {call:?} {agent}")
                }
                Command::AnnouncePosition { call, position, .. } => {
                    let c = &self.calls[&call.0];
                    assert!(c.outcome.is_none() && c.talking_to.is_none() && !c.callback);
                    assert!(position >= 1);
                    self.count("announcement");
                }
                Command::Overflow { call, to, .. } => {
                    self.count("overflow");
                    if to == OverflowTarget::Callback {
                        self.calls.get_mut(&call.0).unwrap().callback = true;
                    }
                }
                Command::CallAbandoned { call, .. } => {
                    assert!(self.calls[&call.0].talking_to.is_none());
                    self.end(call.0, Outcome::Abandoned);
                }
                Command::AgentStateChanged { .. } => {}
            }
        }
    }

    fn ring(
        &mut self,
        call: u64,
        agent: String,
        queue: String,
        reason: RoutingReason,
        before: Option<&Snapshot>,
    ) {
        self.rings += 1;
        let ring = self.rings;
        self.count(reason.as_str());
        let c = self.calls.get_mut(&call).unwrap();
        assert_eq!(c.outcome, None, "ringing for an ended call");
        assert!(c.talking_to.is_none());
        if c.ringing_personal {
            // The personal manager's ring ended without an answer.
            c.expected_reason = Some(RoutingReason::PersonalNoAnswerFallback);
            c.ringing_personal = false;
        }
        match reason {
            RoutingReason::PersonalManager => {
                assert_eq!(c.personal_manager.as_ref(), Some(&agent));
                assert!(c.expected_reason.is_none() && !c.transferred);
                c.ringing_personal = true;
            }
            RoutingReason::Transfer => assert!(c.transferred),
            _ if !c.transferred => {
                if let Some(expected) = c.expected_reason {
                    assert_eq!(reason, expected, "call {call}");
                } else {
                    assert!(
                        c.personal_manager.is_none(),
                        "call {call} with a personal manager routed by {reason}"
                    );
                }
            }
            _ => {}
        }
        c.ringing = Some((agent.clone(), ring));
        if queue == "general"
            && !matches!(
                reason,
                RoutingReason::PersonalManager | RoutingReason::Transfer
            )
            && let Some(before) = before
        {
            self.check_longest_idle(&agent, before);
        }
        let ms = |rng: &mut Rng, lo, hi| rng.range(lo, hi);
        match self.rng.range(0, 100) {
            0..70 => {
                let at = ms(&mut self.rng, 1_000, 10_000);
                self.schedule(at, Event::Answer { call, agent, ring });
            }
            70..80 => {
                let at = ms(&mut self.rng, 500, 5_000);
                self.schedule(at, Event::Decline { call, agent, ring });
            }
            80..88 => {
                let at = ms(&mut self.rng, 3_000, 14_000);
                self.schedule(at, Event::NoAnswer { call, agent, ring });
            }
            _ => self.count("ring timeout expected"),
        }
    }

    /// The agent rung from `general` (longest-idle) had been idle at least
    /// as long as every member who was available before this step and still
    /// is after it.
    fn check_longest_idle(&self, chosen: &str, before: &Snapshot) {
        let after = self.engine.snapshot(self.now());
        let chosen_idle = before
            .agents
            .iter()
            .find(|a| a.login == chosen)
            .unwrap()
            .idle_ms;
        for (i, agent) in before.agents.iter().enumerate() {
            let still_available = agent.state == AgentState::Available
                && after.agents[i].state == AgentState::Available;
            if still_available && self.members["general"].contains(&i) {
                assert!(
                    agent.idle_ms <= chosen_idle,
                    "{chosen} (idle {chosen_idle} ms) rung before {} (idle {} ms)",
                    agent.login,
                    agent.idle_ms
                );
            }
        }
    }

    /// Invariants that hold after every step.
    fn check(&self) {
        let snapshot = self.engine.snapshot(self.now());
        for agent in &snapshot.agents {
            match agent.state {
                AgentState::Ringing | AgentState::Busy => {
                    let call = agent.call.unwrap_or_else(|| {
                        panic!("{} is {} without a call", agent.login, agent.state)
                    });
                    let c = &self.calls[&call.0];
                    assert_eq!(c.outcome, None, "{} stuck on ended call", agent.login);
                    if agent.state == AgentState::Busy {
                        assert_eq!(c.talking_to.as_deref(), Some(agent.login.as_str()));
                    } else {
                        assert_eq!(
                            c.ringing.as_ref().map(|(a, _)| a.as_str()),
                            Some(agent.login.as_str())
                        );
                    }
                }
                _ => assert_eq!(agent.call, None, "{} holds a call", agent.login),
            }
            if !agent.registered {
                assert!(matches!(
                    agent.state,
                    AgentState::Offline | AgentState::Busy
                ));
            }
        }
        for queue in &snapshot.queues {
            assert!(
                queue.waiting == 0 || queue.agents.available == 0,
                "{}: {} waiting while {} agents are available",
                queue.name,
                queue.waiting,
                queue.agents.available
            );
        }
        for (id, c) in &self.calls {
            if let Some(agent) = &c.talking_to {
                let a = snapshot.agents.iter().find(|a| &a.login == agent).unwrap();
                assert_eq!((a.state, a.call), (AgentState::Busy, Some(CallId(*id))));
            }
        }
    }
}

#[test]
fn a_thousand_callers_fifty_agents_every_call_ends_once_and_no_agent_is_stuck() {
    let wall = std::time::Instant::now();
    // ACD_SIM_SEED replays the day with another seed when hunting a bug.
    let seed = std::env::var("ACD_SIM_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_1234_abcd_0001);
    let mut sim = Sim::new(seed);
    sim.run();

    assert_eq!(sim.calls.len() as u64, CALLERS);
    let mut outcomes: HashMap<Outcome, u64> = HashMap::new();
    for (id, c) in &sim.calls {
        let outcome = c.outcome.unwrap_or_else(|| panic!("call {id} never ended"));
        *outcomes.entry(outcome).or_default() += 1;
    }
    assert_eq!(sim.engine.call_count(), 0);
    let snapshot = sim.engine.snapshot(sim.now());
    assert!(
        snapshot
            .agents
            .iter()
            .all(|a| !matches!(a.state, AgentState::Ringing | AgentState::Busy))
    );
    // The run exercised what it claims to.
    let stat = |k| sim.stats.get(k).copied().unwrap_or(0);
    for what in [
        "hang-up while waiting",
        "hang-up while ringing",
        "declined",
        "no answer",
        "ring timeout expected",
        "pause",
        "unregister",
        "transfer to queue",
        "transfer to agent",
        "callback requested",
        "overflow",
        "personal manager rung",
        "restart",
        "announcement",
        "personal_manager",
        "personal_busy_fallback",
        "personal_no_answer_fallback",
        "longest_idle",
        "round_robin",
        "fewest_calls",
        "transfer",
    ] {
        assert!(stat(what) > 0, "the simulation never saw: {what}");
    }
    assert!(
        outcomes[&Outcome::Answered] > outcomes[&Outcome::Abandoned],
        "{outcomes:?}"
    );
    assert!(outcomes[&Outcome::Abandoned] > 0, "{outcomes:?}");
    assert!(outcomes[&Outcome::Lost] > 0, "{outcomes:?}");
    eprintln!(
        "{} steps, {:?} outcomes, stats {:?}, wall {:?}",
        sim.steps,
        outcomes,
        sim.stats,
        wall.elapsed()
    );
}
