//! The engine: owner of every agent's state and every queued call.

use super::agent::{AgentRequest, AgentSpec, AgentState, PersistedAgent};
use super::command::{CallId, Command, RoutingReason, StateCause, TimerId};
use super::queue::{Member, OverflowTarget, Queue, QueueConfig, Strategy, WaitKey};
use super::snapshot::{AgentSnapshot, QueueSnapshot, Snapshot, StateCounts};
use std::cmp::Reverse;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Queues and their settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineConfig {
    pub queues: Vec<QueueConfig>,
}

impl Default for EngineConfig {
    /// The institute's three queues: `general` (contact managers),
    /// `admission` and `education` (personal managers), all with defaults.
    fn default() -> Self {
        EngineConfig {
            queues: vec![
                QueueConfig::new("general"),
                QueueConfig::new("admission"),
                QueueConfig::new("education"),
            ],
        }
    }
}

/// A call that finished the IVR and asks for an agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncomingCall {
    pub call: CallId,
    pub queue: String,
    /// Higher goes first.
    pub priority: u8,
    pub client_id: Option<String>,
    /// A returning caller with an open inquiry goes ahead of callers of the
    /// same priority.
    pub has_open_inquiry: bool,
    /// Login of the client's personal manager for this queue's area.
    pub personal_manager: Option<String>,
}

impl IncomingCall {
    /// A call of an unknown caller at priority 0.
    pub fn new(call: CallId, queue: impl Into<String>) -> IncomingCall {
        IncomingCall {
            call,
            queue: queue.into(),
            priority: 0,
            client_id: None,
            has_open_inquiry: false,
            personal_manager: None,
        }
    }
}

/// Inputs the engine refuses; nothing changed when one is returned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AcdError {
    #[error("no queue named {0:?}")]
    UnknownQueue(String),
    #[error("queue {0:?} is configured twice")]
    DuplicateQueue(String),
    #[error("no agent with login {0:?}")]
    UnknownAgent(String),
    #[error("agent {0:?} is added twice")]
    DuplicateAgent(String),
    #[error("call {0:?} is already known")]
    DuplicateCall(CallId),
    #[error("no call {0:?}")]
    UnknownCall(CallId),
    #[error("agent {0:?} has no registered phone")]
    NotRegistered(String),
    #[error("agent {0:?} is not available")]
    AgentUnavailable(String),
    #[error("call {0:?} is not waiting in a queue")]
    NotWaiting(CallId),
}

/// Where a call stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// In its queue's line.
    Waiting,
    /// Offered to `agent`; `personal` when that is the personal-manager ring.
    Ringing {
        agent: usize,
        timer: TimerId,
        personal: bool,
    },
    /// Talking to `agent`.
    Bridged { agent: usize },
}

#[derive(Debug)]
struct Call {
    queue: usize,
    key: WaitKey,
    /// A callback request rather than a caller on the line.
    callback: bool,
    client_id: Option<String>,
    /// The reason recorded when the queue picks an agent, if not the
    /// strategy's own: a personal-manager fallback.
    queue_reason: Option<RoutingReason>,
    stage: Stage,
    entered_at: Instant,
    answered_at: Option<Instant>,
    /// Queues this call has been in since its last transfer, so overflow
    /// never cycles.
    visited: Vec<usize>,
    announce_timer: Option<TimerId>,
    max_wait_timer: Option<TimerId>,
}

#[derive(Debug)]
struct Agent {
    login: String,
    /// `(queue, position among its members)`.
    queues: Vec<(usize, usize)>,
    registered: bool,
    state: AgentState,
    since: Instant,
    /// Last call end, or when the agent was added: what longest-idle compares.
    idle_since: Instant,
    calls_today: u32,
    call: Option<CallId>,
    pause_pending: bool,
    wrap_up_timer: Option<TimerId>,
}

#[derive(Debug, Clone, Copy)]
enum TimerKind {
    Ring(CallId),
    WrapUp(usize),
    MaxWait(CallId),
    Announce(CallId),
}

/// The agent a transferred call left; `wrap_up` when they had talked to it.
#[derive(Debug, Clone, Copy)]
struct Left {
    agent: usize,
    wrap_up: Option<Duration>,
}

/// Why an offer to an agent ended without an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unanswered {
    Timeout,
    NoAnswer,
    Declined,
    /// The agent paused while their phone rang.
    Paused,
    /// The agent's registration went away while their phone rang.
    Unregistered,
}

/// The routing engine. See the module documentation.
#[derive(Debug)]
pub struct Engine {
    queues: Vec<Queue>,
    queue_index: HashMap<String, usize>,
    agents: Vec<Agent>,
    agent_index: HashMap<String, usize>,
    calls: HashMap<CallId, Call>,
    timers: HashMap<TimerId, TimerKind>,
    next_seq: u64,
    next_timer: u64,
}

impl Engine {
    pub fn new(config: EngineConfig) -> Result<Engine, AcdError> {
        let mut queue_index = HashMap::new();
        for (i, q) in config.queues.iter().enumerate() {
            if queue_index.insert(q.name.clone(), i).is_some() {
                return Err(AcdError::DuplicateQueue(q.name.clone()));
            }
        }
        for q in &config.queues {
            if let Some(OverflowTarget::Queue(target)) = &q.overflow
                && !queue_index.contains_key(target)
            {
                return Err(AcdError::UnknownQueue(target.clone()));
            }
        }
        Ok(Engine {
            queues: config.queues.into_iter().map(Queue::new).collect(),
            queue_index,
            agents: Vec::new(),
            agent_index: HashMap::new(),
            calls: HashMap::new(),
            timers: HashMap::new(),
            next_seq: 0,
            next_timer: 0,
        })
    }

    /// Adds an agent, offline until their phone registers.
    pub fn add_agent(&mut self, spec: AgentSpec, now: Instant) -> Result<(), AcdError> {
        if self.agent_index.contains_key(&spec.login) {
            return Err(AcdError::DuplicateAgent(spec.login));
        }
        let mut memberships = Vec::with_capacity(spec.queues.len());
        for (queue, skill) in &spec.queues {
            let q = self.queue_id(queue)?;
            if !memberships.iter().any(|&(m, _)| m == q) {
                memberships.push((q, *skill));
            }
        }
        let a = self.agents.len();
        let queues = memberships
            .into_iter()
            .map(|(q, skill)| {
                let members = &mut self.queues[q].members;
                members.push(Member { agent: a, skill });
                (q, members.len() - 1)
            })
            .collect();
        self.agent_index.insert(spec.login.clone(), a);
        self.agents.push(Agent {
            login: spec.login,
            queues,
            registered: false,
            state: AgentState::Offline,
            since: now,
            idle_since: now,
            calls_today: 0,
            call: None,
            pause_pending: false,
            wrap_up_timer: None,
        });
        Ok(())
    }

    /// Changes the queues an agent serves (and the skills) at once, calls
    /// in progress or not: a call ringing or talking to them keeps them (a
    /// call knows its agent, not a member position), the queues they leave
    /// stop offering them calls, and if they are available they take the
    /// best caller already waiting in the queues they serve now.
    pub fn set_agent_queues(
        &mut self,
        spec: AgentSpec,
        now: Instant,
    ) -> Result<Vec<Command>, AcdError> {
        let a = self.agent_id(&spec.login)?;
        let mut wanted: Vec<(usize, u8)> = Vec::with_capacity(spec.queues.len());
        for (queue, skill) in &spec.queues {
            let q = self.queue_id(queue)?;
            if !wanted.iter().any(|&(m, _)| m == q) {
                wanted.push((q, *skill));
            }
        }
        let mut kept = Vec::with_capacity(wanted.len());
        for (q, pos) in std::mem::take(&mut self.agents[a].queues) {
            match wanted.iter().find(|&&(w, _)| w == q) {
                Some(&(_, skill)) => {
                    self.queues[q].members[pos].skill = skill;
                    kept.push((q, pos));
                }
                None => self.leave_queue(q, pos),
            }
        }
        for (q, skill) in wanted {
            if !kept.iter().any(|&(k, _)| k == q) {
                let members = &mut self.queues[q].members;
                members.push(Member { agent: a, skill });
                kept.push((q, members.len() - 1));
            }
        }
        self.agents[a].queues = kept;
        let mut out = Vec::new();
        self.dispatch_agent(a, now, &mut out);
        Ok(out)
    }

    /// Takes the member at `pos` out of queue `q`, keeping the positions
    /// the later members' agents hold and the round-robin turn in step.
    fn leave_queue(&mut self, q: usize, pos: usize) {
        let queue = &mut self.queues[q];
        if pos >= queue.members.len() {
            return;
        }
        queue.members.remove(pos);
        if queue.next_member > pos {
            queue.next_member -= 1;
        }
        for later in &queue.members[pos..] {
            for entry in &mut self.agents[later.agent].queues {
                if entry.0 == q {
                    entry.1 -= 1;
                }
            }
        }
    }

    /// Rebuilds the engine after a restart from the agents as persisted.
    /// Calls in flight are gone: an agent who was ringing, busy or in
    /// wrap-up comes back available (offline if not registered), a paused
    /// agent stays paused. The returned commands log those changes.
    pub fn restore(
        config: EngineConfig,
        agents: Vec<PersistedAgent>,
        now: Instant,
    ) -> Result<(Engine, Vec<Command>), AcdError> {
        let mut engine = Engine::new(config)?;
        let mut out = Vec::new();
        for persisted in agents {
            let login = persisted.spec.login.clone();
            engine.add_agent(persisted.spec, now)?;
            let a = engine.agents.len() - 1;
            let agent = &mut engine.agents[a];
            agent.registered = persisted.registered;
            agent.calls_today = persisted.calls_today;
            agent.state = match (persisted.registered, persisted.state) {
                (false, _) => AgentState::Offline,
                (true, AgentState::Paused) => AgentState::Paused,
                (true, _) => AgentState::Available,
            };
            if agent.state != persisted.state {
                out.push(Command::AgentStateChanged {
                    agent: login,
                    from: persisted.state,
                    to: agent.state,
                    cause: StateCause::Restart,
                });
            }
        }
        Ok((engine, out))
    }

    /// What to persist so that [`Engine::restore`] can rebuild the agents.
    pub fn persisted_agents(&self) -> Vec<PersistedAgent> {
        self.agents
            .iter()
            .map(|agent| PersistedAgent {
                spec: AgentSpec {
                    login: agent.login.clone(),
                    queues: agent
                        .queues
                        .iter()
                        .map(|&(q, pos)| {
                            let queue = &self.queues[q];
                            (queue.config.name.clone(), queue.members[pos].skill)
                        })
                        .collect(),
                },
                registered: agent.registered,
                state: if agent.pause_pending {
                    AgentState::Paused
                } else {
                    agent.state
                },
                calls_today: agent.calls_today,
            })
            .collect()
    }

    // ----- agents -----------------------------------------------------------

    /// The agent's phone registered (first binding): offline → available.
    pub fn agent_registered(
        &mut self,
        login: &str,
        now: Instant,
    ) -> Result<Vec<Command>, AcdError> {
        let a = self.agent_id(login)?;
        let mut out = Vec::new();
        self.agents[a].registered = true;
        if self.agents[a].state == AgentState::Offline {
            self.set_state(
                a,
                AgentState::Available,
                StateCause::Registered,
                now,
                &mut out,
            );
            self.dispatch_agent(a, now, &mut out);
        }
        Ok(out)
    }

    /// The agent's last binding went away: offline now, or after the call
    /// they are on. An offer ringing on their phone goes to the next agent.
    pub fn agent_unregistered(
        &mut self,
        login: &str,
        now: Instant,
    ) -> Result<Vec<Command>, AcdError> {
        let a = self.agent_id(login)?;
        let mut out = Vec::new();
        self.agents[a].registered = false;
        match self.agents[a].state {
            AgentState::Available | AgentState::Paused | AgentState::Offline => {
                self.set_state(
                    a,
                    AgentState::Offline,
                    StateCause::Unregistered,
                    now,
                    &mut out,
                );
            }
            AgentState::WrapUp => {
                let timer = self.agents[a].wrap_up_timer.take();
                self.disarm(timer, &mut out);
                self.set_state(
                    a,
                    AgentState::Offline,
                    StateCause::Unregistered,
                    now,
                    &mut out,
                );
            }
            AgentState::Ringing => {
                if let Some(call) = self.agents[a].call {
                    self.offer_failed(call, Unanswered::Unregistered, now, &mut out);
                }
            }
            AgentState::Busy => {}
        }
        Ok(out)
    }

    /// The agent asked to be available or paused (API or `*50` / `*51`).
    ///
    /// Available ends a wrap-up early; pause while ringing withdraws the
    /// offer; pause during a call applies when the call ends.
    pub fn agent_request(
        &mut self,
        login: &str,
        request: AgentRequest,
        now: Instant,
    ) -> Result<Vec<Command>, AcdError> {
        let a = self.agent_id(login)?;
        if !self.agents[a].registered {
            return Err(AcdError::NotRegistered(login.to_string()));
        }
        let mut out = Vec::new();
        let state = self.agents[a].state;
        match (request, state) {
            (AgentRequest::Available, AgentState::Paused | AgentState::WrapUp) => {
                let timer = self.agents[a].wrap_up_timer.take();
                self.disarm(timer, &mut out);
                self.set_state(
                    a,
                    AgentState::Available,
                    StateCause::Requested,
                    now,
                    &mut out,
                );
                self.dispatch_agent(a, now, &mut out);
            }
            (AgentRequest::Available, _) => self.agents[a].pause_pending = false,
            (AgentRequest::Pause, AgentState::Available | AgentState::WrapUp) => {
                let timer = self.agents[a].wrap_up_timer.take();
                self.disarm(timer, &mut out);
                self.set_state(a, AgentState::Paused, StateCause::Requested, now, &mut out);
            }
            (AgentRequest::Pause, AgentState::Ringing) => {
                if let Some(call) = self.agents[a].call {
                    self.offer_failed(call, Unanswered::Paused, now, &mut out);
                }
            }
            (AgentRequest::Pause, AgentState::Busy) => self.agents[a].pause_pending = true,
            (AgentRequest::Pause, AgentState::Paused | AgentState::Offline) => {}
        }
        Ok(out)
    }

    // ----- calls ------------------------------------------------------------

    /// A call enters its queue. With a personal manager for the area who is
    /// available, that manager rings first (`personal_manager`); otherwise the
    /// call waits in line (`personal_busy_fallback` if there was a manager).
    pub fn call_entered(
        &mut self,
        incoming: IncomingCall,
        now: Instant,
    ) -> Result<Vec<Command>, AcdError> {
        let q = self.queue_id(&incoming.queue)?;
        if self.calls.contains_key(&incoming.call) {
            return Err(AcdError::DuplicateCall(incoming.call));
        }
        let id = incoming.call;
        let mut out = Vec::new();
        let seq = self.next_seq;
        self.next_seq += 1;
        let manager = incoming
            .personal_manager
            .as_deref()
            .map(|login| self.agent_index.get(login).copied());
        let available_manager = match manager {
            Some(Some(m)) if self.agents[m].state == AgentState::Available => Some(m),
            _ => None,
        };
        let queue_reason = match (manager, available_manager) {
            (Some(_), None) => Some(RoutingReason::PersonalBusyFallback),
            _ => None,
        };
        self.calls.insert(
            id,
            Call {
                queue: q,
                key: WaitKey::new(incoming.priority, incoming.has_open_inquiry, seq),
                callback: false,
                client_id: incoming.client_id,
                queue_reason,
                stage: Stage::Waiting,
                entered_at: now,
                answered_at: None,
                visited: vec![q],
                announce_timer: None,
                max_wait_timer: None,
            },
        );
        self.arm_queue_timers(id, now, &mut out);
        match available_manager {
            Some(m) => self.offer(id, m, RoutingReason::PersonalManager, true, now, &mut out),
            None => {
                self.enqueue(id, now, &mut out);
                self.announce(id, &mut out);
            }
        }
        Ok(out)
    }

    /// The agent answered the offer: the call is theirs. An answer to an
    /// offer already withdrawn yields [`Command::DropAgentLeg`].
    pub fn agent_answered(&mut self, call: CallId, login: &str, now: Instant) -> Vec<Command> {
        let mut out = Vec::new();
        let Some(a) = self.agent_index.get(login).copied() else {
            return out;
        };
        let ringing = self.calls.get(&call).map(|c| c.stage);
        let Some(Stage::Ringing { agent, timer, .. }) = ringing else {
            out.push(Command::DropAgentLeg {
                call,
                agent: login.to_string(),
            });
            return out;
        };
        if agent != a {
            out.push(Command::DropAgentLeg {
                call,
                agent: login.to_string(),
            });
            return out;
        }
        self.disarm(Some(timer), &mut out);
        let (announce, max_wait) = match self.calls.get_mut(&call) {
            Some(c) => {
                c.stage = Stage::Bridged { agent: a };
                c.answered_at = Some(now);
                (c.announce_timer.take(), c.max_wait_timer.take())
            }
            None => (None, None),
        };
        self.disarm(announce, &mut out);
        self.disarm(max_wait, &mut out);
        self.agents[a].calls_today = self.agents[a].calls_today.saturating_add(1);
        self.set_state(a, AgentState::Busy, StateCause::Answered, now, &mut out);
        out.push(Command::Bridge {
            call,
            agent: login.to_string(),
        });
        out
    }

    /// The agent's phone declined the offer (486, 603): the agent is paused
    /// and the next agent is tried.
    pub fn agent_declined(&mut self, call: CallId, login: &str, now: Instant) -> Vec<Command> {
        self.agent_did_not_answer(call, login, Unanswered::Declined, now)
    }

    /// The agent's phone gave up without answering (408, 480): as a ring
    /// timeout.
    pub fn agent_no_answer(&mut self, call: CallId, login: &str, now: Instant) -> Vec<Command> {
        self.agent_did_not_answer(call, login, Unanswered::NoAnswer, now)
    }

    /// The caller hung up. Waiting or ringing: the call is abandoned and a
    /// ringing agent is freed. Talking: as [`Engine::call_ended`]. For a
    /// callback request this cancels it (it ends as abandoned).
    pub fn caller_hung_up(&mut self, call: CallId, now: Instant) -> Vec<Command> {
        let mut out = Vec::new();
        let Some(stage) = self.calls.get(&call).map(|c| c.stage) else {
            return out;
        };
        match stage {
            Stage::Bridged { .. } => return self.call_ended(call, now),
            Stage::Waiting => self.leave_line(call),
            Stage::Ringing { agent, timer, .. } => {
                self.disarm(Some(timer), &mut out);
                out.push(Command::CancelRing {
                    call,
                    agent: self.agents[agent].login.clone(),
                });
                self.agents[agent].call = None;
                self.release(agent, StateCause::OfferWithdrawn, now, &mut out);
            }
        }
        if let Some(c) = self.remove_call(call, &mut out) {
            out.push(Command::CallAbandoned {
                call,
                queue: self.queues[c.queue].config.name.clone(),
                waited: now.saturating_duration_since(c.entered_at),
            });
        }
        // The freed agent looks for the next caller only now that this one is gone.
        if let Stage::Ringing { agent, .. } = stage {
            self.dispatch_agent(agent, now, &mut out);
        }
        out
    }

    /// The talk is over (either side hung up): the agent goes to wrap-up.
    /// Before an answer this is the caller hanging up.
    pub fn call_ended(&mut self, call: CallId, now: Instant) -> Vec<Command> {
        let mut out = Vec::new();
        match self.calls.get(&call).map(|c| c.stage) {
            None => {}
            Some(Stage::Bridged { agent }) => {
                let wrap_up = self.end_talk(call, now);
                self.remove_call(call, &mut out);
                self.finish_talk(agent, wrap_up, now, &mut out);
            }
            Some(_) => return self.caller_hung_up(call, now),
        }
        out
    }

    /// The waiting caller pressed `1`: the call becomes a callback request
    /// that keeps its place; the shell confirms and hangs up the caller.
    pub fn callback_requested(&mut self, call: CallId) -> Result<Vec<Command>, AcdError> {
        let c = self.calls.get(&call).ok_or(AcdError::UnknownCall(call))?;
        if c.stage != Stage::Waiting || c.callback {
            return Err(AcdError::NotWaiting(call));
        }
        let mut out = Vec::new();
        self.make_callback(call, &mut out);
        Ok(out)
    }

    /// Blind transfer to a queue, from any stage: the agent it was with
    /// goes to wrap-up (or is freed if only ringing), and the call joins
    /// the end of the target queue's line for its priority.
    pub fn transfer_to_queue(
        &mut self,
        call: CallId,
        queue: &str,
        now: Instant,
    ) -> Result<Vec<Command>, AcdError> {
        let q = self.queue_id(queue)?;
        if !self.calls.contains_key(&call) {
            return Err(AcdError::UnknownCall(call));
        }
        let mut out = Vec::new();
        let freed = self.detach(call, now, &mut out);
        self.rejoin(call, q, now, &mut out);
        self.enqueue(call, now, &mut out);
        self.announce(call, &mut out);
        if let Some(left) = freed {
            self.free_left_agent(left, now, &mut out);
        }
        Ok(out)
    }

    /// Blind transfer straight to an agent, who must be available; if they
    /// do not answer the call waits in the queue it was last in.
    pub fn transfer_to_agent(
        &mut self,
        call: CallId,
        login: &str,
        now: Instant,
    ) -> Result<Vec<Command>, AcdError> {
        let target = self.agent_id(login)?;
        let c = self.calls.get(&call).ok_or(AcdError::UnknownCall(call))?;
        if self.agents[target].state != AgentState::Available {
            return Err(AcdError::AgentUnavailable(login.to_string()));
        }
        let q = c.queue;
        let mut out = Vec::new();
        let freed = self.detach(call, now, &mut out);
        self.rejoin(call, q, now, &mut out);
        self.offer(call, target, RoutingReason::Transfer, false, now, &mut out);
        if let Some(left) = freed {
            self.free_left_agent(left, now, &mut out);
        }
        Ok(out)
    }

    /// A timer the engine armed fired. Timers it cancelled or no longer
    /// knows are ignored, so a late firing is harmless.
    pub fn timer_fired(&mut self, id: TimerId, now: Instant) -> Vec<Command> {
        let mut out = Vec::new();
        let Some(kind) = self.timers.remove(&id) else {
            return out;
        };
        match kind {
            TimerKind::Ring(call) => {
                if matches!(self.calls.get(&call).map(|c| c.stage), Some(Stage::Ringing { timer, .. }) if timer == id)
                {
                    self.offer_failed(call, Unanswered::Timeout, now, &mut out);
                }
            }
            TimerKind::WrapUp(a) => {
                let agent = &mut self.agents[a];
                if agent.wrap_up_timer == Some(id) && agent.state == AgentState::WrapUp {
                    agent.wrap_up_timer = None;
                    self.set_state(
                        a,
                        AgentState::Available,
                        StateCause::WrapUpEnded,
                        now,
                        &mut out,
                    );
                    self.dispatch_agent(a, now, &mut out);
                }
            }
            TimerKind::MaxWait(call) => self.max_wait_reached(call, id, now, &mut out),
            TimerKind::Announce(call) => {
                let Some(c) = self.calls.get_mut(&call) else {
                    return out;
                };
                if c.announce_timer != Some(id) {
                    return out;
                }
                c.announce_timer = None;
                let every = self.queues[c.queue].config.announce_every;
                let timer = self.arm(TimerKind::Announce(call), now + every, &mut out);
                if let Some(c) = self.calls.get_mut(&call) {
                    c.announce_timer = Some(timer);
                }
                self.announce(call, &mut out);
            }
        }
        out
    }

    // ----- queries ----------------------------------------------------------

    pub fn agent_state(&self, login: &str) -> Option<AgentState> {
        self.agent_index.get(login).map(|&a| self.agents[a].state)
    }

    /// Calls known to the engine: waiting, ringing, talking, callbacks.
    pub fn call_count(&self) -> usize {
        self.calls.len()
    }

    /// The call's place in its queue's line (1 = next), if it is waiting.
    /// Linear in the callers ahead: it runs for announcements (once per
    /// caller every 30 s), never inside a routing decision.
    pub fn position(&self, call: CallId) -> Option<usize> {
        let c = self.calls.get(&call)?;
        if c.stage != Stage::Waiting {
            return None;
        }
        Some(self.queues[c.queue].waiting.range(..c.key).count() + 1)
    }

    /// Queues and agents for the live view. Linear in agents and waiting
    /// callers; meant for the once-a-second board, not for every event.
    pub fn snapshot(&self, now: Instant) -> Snapshot {
        let queues = self
            .queues
            .iter()
            .map(|queue| {
                let mut agents = StateCounts::default();
                for m in &queue.members {
                    agents.add(self.agents[m.agent].state);
                }
                let mut callbacks = 0;
                let mut longest = Duration::ZERO;
                for id in queue.waiting.values() {
                    if let Some(c) = self.calls.get(id) {
                        callbacks += usize::from(c.callback);
                        longest = longest.max(now.saturating_duration_since(c.entered_at));
                    }
                }
                QueueSnapshot {
                    name: queue.config.name.clone(),
                    waiting: queue.waiting.len(),
                    callbacks,
                    longest_wait_ms: millis(longest),
                    agents,
                }
            })
            .collect();
        let agents = self
            .agents
            .iter()
            .map(|agent| AgentSnapshot {
                login: agent.login.clone(),
                state: agent.state,
                registered: agent.registered,
                in_state_ms: millis(now.saturating_duration_since(agent.since)),
                idle_ms: millis(now.saturating_duration_since(agent.idle_since)),
                calls_today: agent.calls_today,
                call: agent.call,
                pause_pending: agent.pause_pending,
            })
            .collect();
        Snapshot { queues, agents }
    }

    // ----- internals --------------------------------------------------------

    fn queue_id(&self, name: &str) -> Result<usize, AcdError> {
        self.queue_index
            .get(name)
            .copied()
            .ok_or_else(|| AcdError::UnknownQueue(name.to_string()))
    }

    fn agent_id(&self, login: &str) -> Result<usize, AcdError> {
        self.agent_index
            .get(login)
            .copied()
            .ok_or_else(|| AcdError::UnknownAgent(login.to_string()))
    }

    fn arm(&mut self, kind: TimerKind, at: Instant, out: &mut Vec<Command>) -> TimerId {
        let id = TimerId(self.next_timer);
        self.next_timer += 1;
        self.timers.insert(id, kind);
        out.push(Command::StartTimer { id, at });
        id
    }

    fn disarm(&mut self, id: Option<TimerId>, out: &mut Vec<Command>) {
        if let Some(id) = id
            && self.timers.remove(&id).is_some()
        {
            out.push(Command::CancelTimer { id });
        }
    }

    fn set_state(
        &mut self,
        a: usize,
        to: AgentState,
        cause: StateCause,
        now: Instant,
        out: &mut Vec<Command>,
    ) {
        let agent = &mut self.agents[a];
        if agent.state == to {
            return;
        }
        out.push(Command::AgentStateChanged {
            agent: agent.login.clone(),
            from: agent.state,
            to,
            cause,
        });
        agent.state = to;
        agent.since = now;
    }

    /// Arms the announcement and max-wait timers of a call that (re)joined
    /// a queue, replacing earlier ones.
    fn arm_queue_timers(&mut self, call: CallId, now: Instant, out: &mut Vec<Command>) {
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        let (announce, max_wait) = (c.announce_timer.take(), c.max_wait_timer.take());
        let config = &self.queues[c.queue].config;
        let every = config.announce_every;
        let max_wait_at = config.max_wait.filter(|_| config.overflow.is_some());
        let callback = c.callback;
        self.disarm(announce, out);
        self.disarm(max_wait, out);
        if callback {
            return;
        }
        let announce = self.arm(TimerKind::Announce(call), now + every, out);
        let max_wait = max_wait_at.map(|wait| self.arm(TimerKind::MaxWait(call), now + wait, out));
        if let Some(c) = self.calls.get_mut(&call) {
            c.announce_timer = Some(announce);
            c.max_wait_timer = max_wait;
        }
    }

    /// Puts a call into its queue's line and lets the queue's available
    /// agents take calls.
    fn enqueue(&mut self, call: CallId, now: Instant, out: &mut Vec<Command>) {
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        c.stage = Stage::Waiting;
        let q = c.queue;
        self.queues[q].waiting.insert(c.key, call);
        self.dispatch_queue(q, now, out);
    }

    /// Takes a waiting call out of its line.
    fn leave_line(&mut self, call: CallId) {
        if let Some(c) = self.calls.get(&call) {
            self.queues[c.queue].waiting.remove(&c.key);
        }
    }

    fn announce(&mut self, call: CallId, out: &mut Vec<Command>) {
        let Some(c) = self.calls.get(&call) else {
            return;
        };
        if c.callback {
            return;
        }
        let Some(position) = self.position(call) else {
            return;
        };
        let queue = &self.queues[c.queue];
        let staffed = queue
            .members
            .iter()
            .filter(|m| self.agents[m.agent].state.is_staffed())
            .count();
        out.push(Command::AnnouncePosition {
            call,
            position,
            estimated_wait: queue.handle_time.estimate_wait(position, staffed),
        });
    }

    /// While a queue has both waiting callers and available agents, offers
    /// the head of the line to the agent the strategy picks.
    fn dispatch_queue(&mut self, q: usize, now: Instant, out: &mut Vec<Command>) {
        while let Some((_, &call)) = self.queues[q].waiting.first_key_value() {
            let Some(a) = self.pick_agent(q) else {
                break;
            };
            self.offer_from_queue(call, a, now, out);
        }
    }

    /// A newly available agent takes the best waiting call of all the
    /// queues they serve. Nobody else can be available in those queues
    /// while calls wait there (the engine never leaves it so), so taking
    /// the call agrees with every queue's strategy.
    fn dispatch_agent(&mut self, a: usize, now: Instant, out: &mut Vec<Command>) {
        if self.agents[a].state != AgentState::Available {
            return;
        }
        let best = self.agents[a]
            .queues
            .iter()
            .filter_map(|&(q, _)| self.queues[q].waiting.first_key_value())
            .min_by_key(|(key, _)| **key)
            .map(|(_, &call)| call);
        if let Some(call) = best {
            self.offer_from_queue(call, a, now, out);
        }
    }

    /// The available member of queue `q` its strategy picks; linear in the
    /// queue's members.
    fn pick_agent(&self, q: usize) -> Option<usize> {
        let queue = &self.queues[q];
        let available = |m: &&Member| self.agents[m.agent].state == AgentState::Available;
        match queue.config.strategy {
            Strategy::LongestIdle => queue
                .members
                .iter()
                .enumerate()
                .filter(|(_, m)| available(m))
                .min_by_key(|(pos, m)| (self.agents[m.agent].idle_since, Reverse(m.skill), *pos))
                .map(|(_, m)| m.agent),
            Strategy::FewestCalls => queue
                .members
                .iter()
                .enumerate()
                .filter(|(_, m)| available(m))
                .min_by_key(|(pos, m)| {
                    let agent = &self.agents[m.agent];
                    (agent.calls_today, agent.idle_since, Reverse(m.skill), *pos)
                })
                .map(|(_, m)| m.agent),
            Strategy::RoundRobin => {
                let n = queue.members.len();
                (0..n)
                    .map(|i| &queue.members[(queue.next_member + i) % n])
                    .find(|m| available(m))
                    .map(|m| m.agent)
            }
        }
    }

    fn offer_from_queue(&mut self, call: CallId, a: usize, now: Instant, out: &mut Vec<Command>) {
        let Some(c) = self.calls.get(&call) else {
            return;
        };
        let q = c.queue;
        let reason = c
            .queue_reason
            .unwrap_or(match self.queues[q].config.strategy {
                Strategy::LongestIdle => RoutingReason::LongestIdle,
                Strategy::RoundRobin => RoutingReason::RoundRobin,
                Strategy::FewestCalls => RoutingReason::FewestCalls,
            });
        self.leave_line(call);
        if let Some(&(_, pos)) = self.agents[a].queues.iter().find(|(mq, _)| *mq == q) {
            self.queues[q].next_member = pos + 1;
        }
        self.offer(call, a, reason, false, now, out);
    }

    /// Rings agent `a` for a call that is in no line.
    fn offer(
        &mut self,
        call: CallId,
        a: usize,
        reason: RoutingReason,
        personal: bool,
        now: Instant,
        out: &mut Vec<Command>,
    ) {
        let Some(c) = self.calls.get(&call) else {
            return;
        };
        let config = &self.queues[c.queue].config;
        let timeout = if personal {
            config.personal_ring
        } else {
            config.ring_timeout
        };
        let queue = config.name.clone();
        let agent = self.agents[a].login.clone();
        let command = if c.callback {
            Command::CallbackDue {
                call,
                agent,
                queue,
                client_id: c.client_id.clone(),
                reason,
            }
        } else {
            Command::RingAgent {
                call,
                agent,
                queue,
                reason,
            }
        };
        let timer = self.arm(TimerKind::Ring(call), now + timeout, out);
        if let Some(c) = self.calls.get_mut(&call) {
            c.stage = Stage::Ringing {
                agent: a,
                timer,
                personal,
            };
        }
        self.agents[a].call = Some(call);
        self.set_state(a, AgentState::Ringing, StateCause::Offered, now, out);
        out.push(command);
    }

    fn agent_did_not_answer(
        &mut self,
        call: CallId,
        login: &str,
        why: Unanswered,
        now: Instant,
    ) -> Vec<Command> {
        let mut out = Vec::new();
        let Some(a) = self.agent_index.get(login).copied() else {
            return out;
        };
        if matches!(self.calls.get(&call).map(|c| c.stage), Some(Stage::Ringing { agent, .. }) if agent == a)
        {
            self.offer_failed(call, why, now, &mut out);
        }
        out
    }

    /// The ringing agent did not take the call: the agent is paused (or
    /// offline), and the call goes back to its place in line, which then
    /// rings the next agent. After a personal-manager ring the queue's
    /// pick is recorded as `personal_no_answer_fallback`.
    fn offer_failed(
        &mut self,
        call: CallId,
        why: Unanswered,
        now: Instant,
        out: &mut Vec<Command>,
    ) {
        let Some(Stage::Ringing {
            agent,
            timer,
            personal,
        }) = self.calls.get(&call).map(|c| c.stage)
        else {
            return;
        };
        self.disarm(Some(timer), out);
        if matches!(
            why,
            Unanswered::Timeout | Unanswered::Paused | Unanswered::Unregistered
        ) {
            out.push(Command::CancelRing {
                call,
                agent: self.agents[agent].login.clone(),
            });
        }
        self.agents[agent].call = None;
        let (to, cause) = match why {
            Unanswered::Unregistered => (AgentState::Offline, StateCause::Unregistered),
            _ if !self.agents[agent].registered => (AgentState::Offline, StateCause::Unregistered),
            Unanswered::Paused => (AgentState::Paused, StateCause::Requested),
            Unanswered::Declined => (AgentState::Paused, StateCause::Declined),
            Unanswered::Timeout | Unanswered::NoAnswer => {
                (AgentState::Paused, StateCause::NoAnswer)
            }
        };
        self.set_state(agent, to, cause, now, out);
        if personal && let Some(c) = self.calls.get_mut(&call) {
            c.queue_reason = Some(RoutingReason::PersonalNoAnswerFallback);
        }
        self.enqueue(call, now, out);
    }

    /// Frees an agent whose offer was withdrawn (not their fault): back to
    /// available unless a pause or unregistration is due. The caller then
    /// runs [`Engine::dispatch_agent`] once the call is settled.
    fn release(&mut self, a: usize, cause: StateCause, now: Instant, out: &mut Vec<Command>) {
        let agent = &mut self.agents[a];
        let (to, cause) = if !agent.registered {
            (AgentState::Offline, StateCause::Unregistered)
        } else if agent.pause_pending {
            (AgentState::Paused, StateCause::Requested)
        } else {
            (AgentState::Available, cause)
        };
        agent.pause_pending = false;
        self.set_state(a, to, cause, now, out);
    }

    /// Records the handle time of a talk that ends in the call's current
    /// queue, and returns that queue's wrap-up time.
    fn end_talk(&mut self, call: CallId, now: Instant) -> Duration {
        let Some(c) = self.calls.get(&call) else {
            return QueueConfig::DEFAULT_WRAP_UP;
        };
        let queue = &mut self.queues[c.queue];
        if let Some(answered) = c.answered_at {
            queue
                .handle_time
                .record(now.saturating_duration_since(answered));
        }
        queue.config.wrap_up
    }

    /// An agent whose talk ended: wrap-up, then available; or paused /
    /// offline if that is due. Also counts the end for longest-idle.
    fn finish_talk(&mut self, a: usize, wrap_up: Duration, now: Instant, out: &mut Vec<Command>) {
        let agent = &mut self.agents[a];
        agent.call = None;
        agent.idle_since = now;
        if !agent.registered {
            self.set_state(a, AgentState::Offline, StateCause::Unregistered, now, out);
        } else if agent.pause_pending {
            agent.pause_pending = false;
            self.set_state(a, AgentState::Paused, StateCause::Requested, now, out);
        } else if wrap_up.is_zero() {
            self.set_state(a, AgentState::Available, StateCause::CallEnded, now, out);
            self.dispatch_agent(a, now, out);
        } else {
            let timer = self.arm(TimerKind::WrapUp(a), now + wrap_up, out);
            self.agents[a].wrap_up_timer = Some(timer);
            self.set_state(a, AgentState::WrapUp, StateCause::CallEnded, now, out);
        }
    }

    /// Takes a call away from wherever it is, for a transfer. Returns the
    /// agent it leaves and, if that agent had talked to it, the wrap-up due.
    fn detach(&mut self, call: CallId, now: Instant, out: &mut Vec<Command>) -> Option<Left> {
        let stage = self.calls.get(&call)?.stage;
        match stage {
            Stage::Waiting => {
                self.leave_line(call);
                None
            }
            Stage::Ringing { agent, timer, .. } => {
                self.disarm(Some(timer), out);
                out.push(Command::CancelRing {
                    call,
                    agent: self.agents[agent].login.clone(),
                });
                self.agents[agent].call = None;
                Some(Left {
                    agent,
                    wrap_up: None,
                })
            }
            Stage::Bridged { agent } => {
                let wrap_up = self.end_talk(call, now);
                self.agents[agent].call = None;
                Some(Left {
                    agent,
                    wrap_up: Some(wrap_up),
                })
            }
        }
    }

    /// A transferred call starts over in queue `q`: a new place at the end
    /// of its priority, no personal-manager reason, fresh timers.
    fn rejoin(&mut self, call: CallId, q: usize, now: Instant, out: &mut Vec<Command>) {
        let seq = self.next_seq;
        self.next_seq += 1;
        if let Some(c) = self.calls.get_mut(&call) {
            c.queue = q;
            c.key.seq = seq;
            c.queue_reason = None;
            c.visited = vec![q];
            c.stage = Stage::Waiting;
            c.answered_at = None;
        }
        self.arm_queue_timers(call, now, out);
    }

    /// Frees the agent a transferred call left.
    fn free_left_agent(&mut self, left: Left, now: Instant, out: &mut Vec<Command>) {
        match left.wrap_up {
            Some(wrap_up) => self.finish_talk(left.agent, wrap_up, now, out),
            None => {
                self.release(left.agent, StateCause::OfferWithdrawn, now, out);
                self.dispatch_agent(left.agent, now, out);
            }
        }
    }

    fn make_callback(&mut self, call: CallId, out: &mut Vec<Command>) {
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        c.callback = true;
        let timers = [c.announce_timer.take(), c.max_wait_timer.take()];
        for timer in timers {
            self.disarm(timer, out);
        }
    }

    fn max_wait_reached(
        &mut self,
        call: CallId,
        id: TimerId,
        now: Instant,
        out: &mut Vec<Command>,
    ) {
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        if c.max_wait_timer != Some(id) {
            return;
        }
        c.max_wait_timer = None;
        let q = c.queue;
        let config = &self.queues[q].config;
        if let Stage::Ringing { .. } = c.stage {
            // Being offered right now: check again once the offer is settled.
            let at = now + config.ring_timeout;
            let timer = self.arm(TimerKind::MaxWait(call), at, out);
            if let Some(c) = self.calls.get_mut(&call) {
                c.max_wait_timer = Some(timer);
            }
            return;
        }
        if c.stage != Stage::Waiting {
            return;
        }
        let from = config.name.clone();
        match config.overflow.clone() {
            Some(OverflowTarget::Callback) => {
                self.make_callback(call, out);
                out.push(Command::Overflow {
                    call,
                    from,
                    to: OverflowTarget::Callback,
                });
            }
            Some(OverflowTarget::Queue(target)) => {
                let Some(&t) = self.queue_index.get(&target) else {
                    return;
                };
                if c.visited.contains(&t) {
                    return;
                }
                c.visited.push(t);
                self.leave_line(call);
                if let Some(c) = self.calls.get_mut(&call) {
                    c.queue = t;
                }
                out.push(Command::Overflow {
                    call,
                    from,
                    to: OverflowTarget::Queue(target),
                });
                self.arm_queue_timers(call, now, out);
                self.enqueue(call, now, out);
            }
            None => {}
        }
    }

    /// Forgets a call and its timers.
    fn remove_call(&mut self, call: CallId, out: &mut Vec<Command>) -> Option<Call> {
        let mut c = self.calls.remove(&call)?;
        self.queues[c.queue].waiting.remove(&c.key);
        let timers = [c.announce_timer.take(), c.max_wait_timer.take()];
        for timer in timers {
            self.disarm(timer, out);
        }
        if let Stage::Ringing { timer, .. } = c.stage {
            self.disarm(Some(timer), out);
        }
        Some(c)
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
