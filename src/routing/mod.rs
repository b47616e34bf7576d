//! The tokio shell around the routing engine ([`crate::acd::Engine`]).
//!
//! One actor task owns the engine. Everything that happens to agents and
//! calls reaches it as a message on one channel, in order; it passes `now`
//! to the engine, keeps the timers the engine arms in a heap and feeds them
//! back at their deadline, and carries out the engine's commands:
//!
//! - per-call commands go to that call's [`CallOrder`] channel (given when
//!   the call entered, or replaced by a transfer). A closed channel means
//!   the call is gone: the engine is told the caller hung up, so no agent
//!   stays ringing or busy for a call nobody owns;
//! - agent state changes are written, in order, by a writer task: an
//!   `agent.state` event (`{"from","to","cause"}`, what reports are computed
//!   from) and the agent's row in `agent_state`, which [`setup::start`]
//!   reads back after a restart so a paused agent stays paused.
//!
//! The engine uses tokio's clock (`tokio::time::Instant`), so tests run the
//! actor with paused, virtual time.

mod live;
mod setup;

pub use live::{CallControl, LiveCall, LiveCallState, LiveCallView, LiveCalls, TransferTarget};
pub use setup::{engine_config, follow_agent_events, start};

use crate::acd::{
    AcdError, AgentRequest, AgentSpec, AgentState, CallId, Command, Engine, EngineConfig,
    IncomingCall, OverflowTarget, RoutingReason, Snapshot, TimerId,
};
use crate::sip::transport::unix_ms;
use crate::store::{AgentStateChange, Store};
use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

/// What the routing engine asks of one call. The call's task carries it
/// out and reports back through [`Routing`] (`agent_answered`, ...).
///
/// The channel closing without [`CallOrder::Abandoned`] means routing has
/// nothing more for this call: it could not be queued (unknown queue) or
/// the server is stopping. A call that became a callback request
/// ([`CallOrder::Overflow`] to `Callback`, or `callback_requested`) must
/// keep its receiver until [`CallOrder::CallbackDue`]; dropping it cancels
/// the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallOrder {
    /// Offer the call to the agent's phones; report the outcome with
    /// `agent_answered` / `agent_declined` / `agent_no_answer`.
    Ring {
        agent: String,
        queue: String,
        reason: RoutingReason,
    },
    /// Stop ringing `agent` (timeout, transfer, caller gone).
    CancelRing { agent: String },
    /// `agent` answered and the call is theirs: connect the audio.
    Bridge { agent: String },
    /// `agent` answered an offer already withdrawn: hang up their leg.
    DropAgentLeg { agent: String },
    /// Tell the waiting caller their place and estimated wait.
    AnnouncePosition {
        position: usize,
        estimated_wait: Duration,
    },
    /// The caller waited the queue's maximum: they were moved to another
    /// queue, or their call became a callback request (confirm and hang up).
    Overflow { to: OverflowTarget },
    /// The caller hung up before talking to anyone; routing is done with
    /// this call.
    Abandoned { waited: Duration },
    /// A callback request reached an agent: ring the agent first, and when
    /// they answer (`agent_answered`, then [`CallOrder::Bridge`]) dial the client.
    CallbackDue {
        agent: String,
        queue: String,
        reason: RoutingReason,
    },
}

/// A message to the actor.
enum Msg {
    CallEntered(IncomingCall, mpsc::UnboundedSender<CallOrder>),
    Answered(CallId, String),
    Declined(CallId, String),
    NoAnswer(CallId, String),
    CallerHungUp(CallId),
    CallEnded(CallId),
    CallbackRequested(CallId),
    TransferToQueue {
        call: CallId,
        queue: String,
        orders: mpsc::UnboundedSender<CallOrder>,
        reply: oneshot::Sender<Result<(), AcdError>>,
    },
    TransferToAgent {
        call: CallId,
        login: String,
        orders: mpsc::UnboundedSender<CallOrder>,
        reply: oneshot::Sender<Result<(), AcdError>>,
    },
    Registration {
        login: String,
        live: bool,
    },
    Request {
        login: String,
        request: AgentRequest,
        reply: oneshot::Sender<Result<AgentState, AcdError>>,
    },
    Snapshot(oneshot::Sender<Snapshot>),
    /// An agent was created or changed through the API (from the store).
    AgentUpserted(AgentSpec),
    AgentDeleted(String),
}

/// Handle to the routing actor. Cheap to clone; every method only queues a
/// message, so callers never wait on routing except for the answers they ask for.
#[derive(Debug, Clone)]
pub struct Routing {
    tx: mpsc::UnboundedSender<Msg>,
    /// Each queue's wrap-up time, from the settings the engine was built
    /// with (fixed while the server runs): the console counts an agent's
    /// wrap-up down from it without asking the actor.
    wrap_ups: std::sync::Arc<HashMap<String, Duration>>,
}

impl std::fmt::Debug for Msg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("routing::Msg")
    }
}

impl Routing {
    /// Starts the actor around `engine`. It runs until `stop` turns true
    /// (or its sender is dropped); the handle ends once the last agent
    /// state change is written.
    ///
    /// Queue memberships changed through the API apply to new agents only;
    /// [`setup::start`] spawns with the queue settings so that changed
    /// agents are rebuilt too.
    pub fn spawn(
        engine: Engine,
        store: Store,
        stop: watch::Receiver<bool>,
    ) -> (Routing, JoinHandle<()>) {
        Routing::spawn_with(engine, None, Vec::new(), store, stop)
    }

    /// [`Routing::spawn`] with the queue settings the engine was built from
    /// (to rebuild it when agents change) and commands the engine returned
    /// while being built (restored agents' state changes, to be logged).
    pub(crate) fn spawn_with(
        engine: Engine,
        config: Option<EngineConfig>,
        initial: Vec<Command>,
        store: Store,
        stop: watch::Receiver<bool>,
    ) -> (Routing, JoinHandle<()>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let wrap_ups = config
            .iter()
            .flat_map(|c| &c.queues)
            .map(|q| (q.name.clone(), q.wrap_up))
            .collect();
        let (writes, write_rx) = mpsc::unbounded_channel();
        let writer = tokio::spawn(write_states(store, write_rx));
        let registered = engine
            .persisted_agents()
            .into_iter()
            .filter(|a| a.registered)
            .map(|a| a.spec.login)
            .collect();
        let mut actor = Actor {
            engine,
            config,
            calls: HashMap::new(),
            timers: BTreeSet::new(),
            deadlines: HashMap::new(),
            writes,
            registered,
            deleted: HashSet::new(),
            changed: HashMap::new(),
        };
        actor.apply(initial);
        let handle = tokio::spawn(async move {
            actor.run(rx, stop).await;
            // Dropping the actor closes the writer's channel: it drains and ends.
            drop(actor);
            let _ = writer.await;
        });
        (
            Routing {
                tx,
                wrap_ups: std::sync::Arc::new(wrap_ups),
            },
            handle,
        )
    }

    fn send(&self, msg: Msg) {
        // Fails only when the actor has stopped: the server is shutting
        // down and calls are being hung up anyway.
        if self.tx.send(msg).is_err() {
            tracing::debug!("routing is stopped; message dropped");
        }
    }

    async fn ask<T>(&self, msg: impl FnOnce(oneshot::Sender<T>) -> Msg) -> Option<T> {
        let (reply, answer) = oneshot::channel();
        self.send(msg(reply));
        answer.await.ok()
    }

    /// A call enters a queue; the engine's commands for this call arrive on
    /// `orders`.
    pub fn call_entered(&self, call: IncomingCall, orders: mpsc::UnboundedSender<CallOrder>) {
        self.send(Msg::CallEntered(call, orders));
    }

    pub fn agent_answered(&self, call: CallId, login: &str) {
        self.send(Msg::Answered(call, login.to_string()));
    }

    /// The agent's phones refused the call (486, 603).
    pub fn agent_declined(&self, call: CallId, login: &str) {
        self.send(Msg::Declined(call, login.to_string()));
    }

    /// The agent's phones gave up (408, 480) or are unreachable.
    pub fn agent_no_answer(&self, call: CallId, login: &str) {
        self.send(Msg::NoAnswer(call, login.to_string()));
    }

    /// The caller hung up (while waiting, ringing or talking).
    pub fn caller_hung_up(&self, call: CallId) {
        self.send(Msg::CallerHungUp(call));
    }

    /// The conversation is over (either side hung up).
    pub fn call_ended(&self, call: CallId) {
        self.send(Msg::CallEnded(call));
    }

    /// The waiting caller pressed `1`: a callback request keeping their place.
    pub fn callback_requested(&self, call: CallId) {
        self.send(Msg::CallbackRequested(call));
    }

    /// Blind transfer to a queue; later orders for the call go to `orders`.
    pub async fn transfer_to_queue(
        &self,
        call: CallId,
        queue: &str,
        orders: mpsc::UnboundedSender<CallOrder>,
    ) -> Result<(), AcdError> {
        let queue = queue.to_string();
        self.ask(|reply| Msg::TransferToQueue {
            call,
            queue,
            orders,
            reply,
        })
        .await
        .unwrap_or(Err(AcdError::UnknownCall(call)))
    }

    /// Blind transfer to an available agent; later orders go to `orders`.
    pub async fn transfer_to_agent(
        &self,
        call: CallId,
        login: &str,
        orders: mpsc::UnboundedSender<CallOrder>,
    ) -> Result<(), AcdError> {
        let login = login.to_string();
        self.ask(|reply| Msg::TransferToAgent {
            call,
            login,
            orders,
            reply,
        })
        .await
        .unwrap_or(Err(AcdError::UnknownCall(call)))
    }

    /// The login now has at least one live registration.
    pub fn agent_registered(&self, login: &str) {
        self.registration(login, true);
    }

    /// The login's last registration went away (removed or expired).
    pub fn agent_unregistered(&self, login: &str) {
        self.registration(login, false);
    }

    /// Whether `login` has a live registration; repeated reports of the
    /// same thing are ignored, so the registrar side may report every change.
    pub fn registration(&self, login: &str, live: bool) {
        self.send(Msg::Registration {
            login: login.to_string(),
            live,
        });
    }

    /// `*50` / `*51` or the API: the agent's state after the request (still
    /// `busy` when a pause is deferred to the end of the call).
    pub async fn agent_request(
        &self,
        login: &str,
        req: AgentRequest,
    ) -> Result<AgentState, AcdError> {
        let login = login.to_string();
        let unknown = AcdError::UnknownAgent(login.clone());
        self.ask(|reply| Msg::Request {
            login,
            request: req,
            reply,
        })
        .await
        .unwrap_or(Err(unknown))
    }

    /// How long `queue`'s agents wrap up after a call; `None` for an
    /// unknown queue or a router spawned without its settings.
    pub fn wrap_up_of(&self, queue: &str) -> Option<Duration> {
        self.wrap_ups.get(queue).copied()
    }

    /// Queues and agents now; empty when routing has stopped.
    pub async fn snapshot(&self) -> Snapshot {
        self.ask(Msg::Snapshot).await.unwrap_or(Snapshot {
            queues: Vec::new(),
            agents: Vec::new(),
        })
    }

    /// An agent was created or changed (queues, ...): `spec` as stored.
    pub fn agent_upserted(&self, spec: AgentSpec) {
        self.send(Msg::AgentUpserted(spec));
    }

    /// An agent was deleted: they take no more calls.
    pub fn agent_deleted(&self, login: &str) {
        self.send(Msg::AgentDeleted(login.to_string()));
    }
}

/// The engine's clock: tokio's, so paused test time drives it.
fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

struct Actor {
    engine: Engine,
    /// Queue settings, to rebuild the engine when agents change; `None`
    /// when spawned without them.
    config: Option<EngineConfig>,
    /// Where each call's orders go.
    calls: HashMap<CallId, mpsc::UnboundedSender<CallOrder>>,
    /// Armed timers by deadline; `deadlines` finds one to cancel.
    timers: BTreeSet<(Instant, TimerId)>,
    deadlines: HashMap<TimerId, Instant>,
    writes: mpsc::UnboundedSender<AgentStateChange>,
    /// Logins with a live registration as last reported, so an agent
    /// created after its phone registered starts registered.
    registered: HashSet<String>,
    /// Agents deleted (or, should the engine refuse it, whose queues
    /// changed) since the engine was built: applied by a rebuild as soon as
    /// no call is in the engine.
    deleted: HashSet<String>,
    changed: HashMap<String, AgentSpec>,
}

impl Actor {
    async fn run(&mut self, mut rx: mpsc::UnboundedReceiver<Msg>, mut stop: watch::Receiver<bool>) {
        if *stop.borrow() {
            return;
        }
        loop {
            let next = self.timers.first().map(|&(at, _)| at);
            let sleep = async {
                match next {
                    Some(at) => tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                changed = stop.changed() => {
                    if changed.is_err() || *stop.borrow() {
                        return;
                    }
                }
                msg = rx.recv() => match msg {
                    Some(msg) => self.handle(msg),
                    None => return,
                },
                () = sleep => self.fire_due_timers(),
            }
        }
    }

    fn handle(&mut self, msg: Msg) {
        let now = now();
        let out = match msg {
            Msg::CallEntered(incoming, orders) => {
                let call = incoming.call;
                let queue = incoming.queue.clone();
                match self.engine.call_entered(incoming, now) {
                    Ok(out) => {
                        self.calls.insert(call, orders);
                        out
                    }
                    Err(e) => {
                        // Dropping `orders` closes the call's channel: it
                        // learns it will not be routed.
                        tracing::warn!(call = call.0, queue = %queue, error = %e, "call not queued");
                        Vec::new()
                    }
                }
            }
            Msg::Answered(call, login) => self.engine.agent_answered(call, &login, now),
            Msg::Declined(call, login) => self.engine.agent_declined(call, &login, now),
            Msg::NoAnswer(call, login) => self.engine.agent_no_answer(call, &login, now),
            Msg::CallerHungUp(call) => {
                let out = self.engine.caller_hung_up(call, now);
                self.apply(out);
                self.calls.remove(&call);
                Vec::new()
            }
            Msg::CallEnded(call) => {
                let out = self.engine.call_ended(call, now);
                self.apply(out);
                self.calls.remove(&call);
                Vec::new()
            }
            Msg::CallbackRequested(call) => match self.engine.callback_requested(call) {
                Ok(out) => out,
                Err(e) => {
                    tracing::debug!(call = call.0, error = %e, "callback request ignored");
                    Vec::new()
                }
            },
            Msg::TransferToQueue {
                call,
                queue,
                orders,
                reply,
            } => {
                let result = self.engine.transfer_to_queue(call, &queue, now);
                self.transferred(call, result, orders, reply)
            }
            Msg::TransferToAgent {
                call,
                login,
                orders,
                reply,
            } => {
                let result = self.engine.transfer_to_agent(call, &login, now);
                self.transferred(call, result, orders, reply)
            }
            Msg::Registration { login, live } => self.registration(login, live, now),
            Msg::Request {
                login,
                request,
                reply,
            } => match self.engine.agent_request(&login, request, now) {
                Ok(out) => {
                    self.apply(out);
                    let state = self.engine.agent_state(&login);
                    let _ = reply.send(state.ok_or(AcdError::UnknownAgent(login)));
                    Vec::new()
                }
                Err(e) => {
                    let _ = reply.send(Err(e));
                    Vec::new()
                }
            },
            Msg::Snapshot(reply) => {
                let _ = reply.send(self.engine.snapshot(now));
                Vec::new()
            }
            Msg::AgentUpserted(spec) => self.agent_upserted(spec, now),
            Msg::AgentDeleted(login) => {
                self.changed.remove(&login);
                self.deleted.insert(login.clone());
                self.engine
                    .agent_unregistered(&login, now)
                    .unwrap_or_default()
            }
        };
        self.apply(out);
        self.rebuild_if_idle(now);
    }

    fn transferred(
        &mut self,
        call: CallId,
        result: Result<Vec<Command>, AcdError>,
        orders: mpsc::UnboundedSender<CallOrder>,
        reply: oneshot::Sender<Result<(), AcdError>>,
    ) -> Vec<Command> {
        match result {
            Ok(out) => {
                self.calls.insert(call, orders);
                let _ = reply.send(Ok(()));
                out
            }
            Err(e) => {
                let _ = reply.send(Err(e));
                Vec::new()
            }
        }
    }

    fn registration(&mut self, login: String, live: bool, now: Instant) -> Vec<Command> {
        let changed = if live {
            self.registered.insert(login.clone())
        } else {
            self.registered.remove(&login)
        };
        if !changed {
            return Vec::new();
        }
        let result = if live {
            self.engine.agent_registered(&login, now)
        } else {
            self.engine.agent_unregistered(&login, now)
        };
        result.unwrap_or_else(|e| {
            // A login the engine does not know yet (created a moment ago):
            // `registered` remembers it for when the agent is added.
            tracing::debug!(login = %login, error = %e, "registration of an unknown agent");
            Vec::new()
        })
    }

    /// A new agent joins at once, and so do a known agent's new queues.
    fn agent_upserted(&mut self, spec: AgentSpec, now: Instant) -> Vec<Command> {
        let spec = self.known_queues_only(spec);
        let login = spec.login.clone();
        self.deleted.remove(&login);
        let current = self
            .engine
            .persisted_agents()
            .into_iter()
            .find(|a| a.spec.login == login);
        match current {
            None => {
                if let Err(e) = self.engine.add_agent(spec, now) {
                    tracing::warn!(login = %login, error = %e, "agent not added to routing");
                    return Vec::new();
                }
                if self.registered.contains(&login) {
                    return self
                        .engine
                        .agent_registered(&login, now)
                        .unwrap_or_default();
                }
                Vec::new()
            }
            Some(current) if current.spec == spec => {
                self.changed.remove(&login);
                Vec::new()
            }
            // New queues or skills apply at once, so the next call of a
            // queue can ring its new member even while other calls go on.
            Some(_) => match self.engine.set_agent_queues(spec.clone(), now) {
                Ok(out) => {
                    self.changed.remove(&login);
                    out
                }
                Err(e) => {
                    tracing::warn!(login = %login, error = %e, "queue change deferred to a rebuild");
                    self.changed.insert(login, spec);
                    Vec::new()
                }
            },
        }
    }

    /// Drops queues the engine does not have (an agent saved through the
    /// API with a queue missing from the config) instead of the whole agent.
    fn known_queues_only(&self, mut spec: AgentSpec) -> AgentSpec {
        let known: HashSet<String> = self
            .config
            .as_ref()
            .map(|c| c.queues.iter().map(|q| q.name.clone()).collect())
            .unwrap_or_else(|| {
                self.engine
                    .snapshot(now())
                    .queues
                    .into_iter()
                    .map(|q| q.name)
                    .collect()
            });
        spec.queues.retain(|(queue, _)| {
            let ok = known.contains(queue);
            if !ok {
                tracing::warn!(login = %spec.login, queue = %queue, "agent serves an unconfigured queue; ignored");
            }
            ok
        });
        spec
    }

    /// The engine cannot drop an agent or change its queues while calls
    /// refer to them, so such changes wait until it holds no call, then the
    /// engine is rebuilt from its persisted agents (as after a restart;
    /// agents in wrap-up become available).
    fn rebuild_if_idle(&mut self, now: Instant) {
        if (self.deleted.is_empty() && self.changed.is_empty()) || self.engine.call_count() > 0 {
            return;
        }
        let Some(config) = self.config.clone() else {
            return;
        };
        let agents = self
            .engine
            .persisted_agents()
            .into_iter()
            .filter(|a| !self.deleted.contains(&a.spec.login))
            .map(|mut a| {
                if let Some(spec) = self.changed.remove(&a.spec.login) {
                    a.spec = spec;
                }
                a
            })
            .collect();
        match Engine::restore(config, agents, now) {
            Ok((engine, out)) => {
                self.engine = engine;
                // Timer ids restart with the new engine.
                self.timers.clear();
                self.deadlines.clear();
                self.deleted.clear();
                self.changed.clear();
                self.apply(out);
            }
            Err(e) => tracing::error!(error = %e, "routing engine rebuild failed"),
        }
    }

    fn fire_due_timers(&mut self) {
        let now = now();
        while let Some(&(at, id)) = self.timers.first() {
            if at > now {
                break;
            }
            self.timers.remove(&(at, id));
            self.deadlines.remove(&id);
            let out = self.engine.timer_fired(id, now);
            self.apply(out);
        }
        self.rebuild_if_idle(now);
    }

    /// Carries out commands in order. A call whose channel is closed is
    /// treated as hung up, and what the engine answers to that joins the
    /// work list.
    fn apply(&mut self, out: Vec<Command>) {
        let mut work: VecDeque<Command> = out.into();
        while let Some(command) = work.pop_front() {
            let (call, order) = match command {
                Command::StartTimer { id, at } => {
                    self.timers.insert((at, id));
                    self.deadlines.insert(id, at);
                    continue;
                }
                Command::CancelTimer { id } => {
                    if let Some(at) = self.deadlines.remove(&id) {
                        self.timers.remove(&(at, id));
                    }
                    continue;
                }
                Command::AgentStateChanged {
                    agent,
                    from,
                    to,
                    cause,
                } => {
                    tracing::info!(agent = %agent, from = %from, to = %to, cause = cause.as_str(), "agent state");
                    let _ = self.writes.send(AgentStateChange {
                        login: agent,
                        from,
                        to,
                        cause,
                        at_ms: unix_ms(),
                    });
                    continue;
                }
                Command::RingAgent {
                    call,
                    agent,
                    queue,
                    reason,
                } => (
                    call,
                    CallOrder::Ring {
                        agent,
                        queue,
                        reason,
                    },
                ),
                Command::CancelRing { call, agent } => (call, CallOrder::CancelRing { agent }),
                Command::Bridge { call, agent } => (call, CallOrder::Bridge { agent }),
                Command::DropAgentLeg { call, agent } => (call, CallOrder::DropAgentLeg { agent }),
                Command::AnnouncePosition {
                    call,
                    position,
                    estimated_wait,
                } => (
                    call,
                    CallOrder::AnnouncePosition {
                        position,
                        estimated_wait,
                    },
                ),
                Command::Overflow { call, to, .. } => (call, CallOrder::Overflow { to }),
                Command::CallAbandoned { call, waited, .. } => {
                    if let Some(orders) = self.calls.remove(&call) {
                        let _ = orders.send(CallOrder::Abandoned { waited });
                    }
                    continue;
                }
                Command::CallbackDue {
                    call,
                    agent,
                    queue,
                    reason,
                    ..
                } => (
                    call,
                    CallOrder::CallbackDue {
                        agent,
                        queue,
                        reason,
                    },
                ),
            };
            let delivered = self
                .calls
                .get(&call)
                .is_some_and(|orders| orders.send(order).is_ok());
            if !delivered && self.calls.remove(&call).is_some() {
                tracing::info!(
                    call = call.0,
                    "call's order channel closed; treating as hung up"
                );
                work.extend(self.engine.caller_hung_up(call, now()));
            }
        }
    }
}

/// Most changes written in one transaction.
const MAX_BATCH: usize = 256;

/// Writes agent state changes in order, a burst per transaction: the
/// events reports read and the state a restart restores. A failed batch
/// is retried once, then logged (routing itself goes on either way).
async fn write_states(store: Store, mut writes: mpsc::UnboundedReceiver<AgentStateChange>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while writes.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let mut result = store.record_agent_states(&batch).await;
        if result.is_err() {
            result = store.record_agent_states(&batch).await;
        }
        if let Err(e) = result {
            tracing::error!(error = %e, changes = batch.len(), "cannot write agent state changes");
        }
        batch.clear();
    }
}
