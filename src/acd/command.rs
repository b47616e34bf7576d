//! What the engine asks the shell to do, and the identifiers both share.

use super::agent::AgentState;
use super::queue::OverflowTarget;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::time::{Duration, Instant};

/// A call (or a callback request) known to the engine; chosen by the shell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct CallId(pub u64);

/// A timer the engine asked for; the shell reports it back with
/// [`Engine::timer_fired`](super::Engine::timer_fired).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TimerId(pub u64);

/// Why a call went to the agent it rang; recorded on the inquiry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RoutingReason {
    /// The caller's own personal manager for the queue's area, rung first.
    PersonalManager,
    /// The caller has a personal manager, who was not available.
    PersonalBusyFallback,
    /// The personal manager was rung and did not answer in time.
    PersonalNoAnswerFallback,
    LongestIdle,
    RoundRobin,
    FewestCalls,
    /// Transferred straight to this agent.
    Transfer,
}

impl RoutingReason {
    pub fn as_str(self) -> &'static str {
        match self {
            RoutingReason::PersonalManager => "personal_manager",
            RoutingReason::PersonalBusyFallback => "personal_busy_fallback",
            RoutingReason::PersonalNoAnswerFallback => "personal_no_answer_fallback",
            RoutingReason::LongestIdle => "longest_idle",
            RoutingReason::RoundRobin => "round_robin",
            RoutingReason::FewestCalls => "fewest_calls",
            RoutingReason::Transfer => "transfer",
        }
    }
}

impl fmt::Display for RoutingReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why an agent's state changed, for the event log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StateCause {
    Registered,
    Unregistered,
    /// The agent asked (API or feature code).
    Requested,
    /// A call was offered.
    Offered,
    Answered,
    /// The offer was withdrawn: the caller hung up or was transferred.
    OfferWithdrawn,
    CallEnded,
    WrapUpEnded,
    /// The agent let a call ring out (or the phone answered 408/480):
    /// paused, so the next caller does not ring an empty desk.
    NoAnswer,
    /// The agent declined the call: paused for the same reason.
    Declined,
    /// The engine was rebuilt and the call the agent had is gone.
    Restart,
}

impl StateCause {
    pub fn as_str(self) -> &'static str {
        match self {
            StateCause::Registered => "registered",
            StateCause::Unregistered => "unregistered",
            StateCause::Requested => "requested",
            StateCause::Offered => "offered",
            StateCause::Answered => "answered",
            StateCause::OfferWithdrawn => "offer_withdrawn",
            StateCause::CallEnded => "call_ended",
            StateCause::WrapUpEnded => "wrap_up_ended",
            StateCause::NoAnswer => "no_answer",
            StateCause::Declined => "declined",
            StateCause::Restart => "restart",
        }
    }
}

/// One thing for the shell to do, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Offer `call` to the agent's phone(s). Stop on [`Command::CancelRing`];
    /// report the outcome with `agent_answered`, `agent_declined` or
    /// `agent_no_answer`.
    RingAgent {
        call: CallId,
        agent: String,
        queue: String,
        reason: RoutingReason,
    },
    /// Stop ringing the agent for `call` (ring timeout, caller gone, transfer).
    CancelRing { call: CallId, agent: String },
    /// The agent answered and is now the call's agent: connect the caller
    /// (for a callback request: now dial the client and connect them).
    Bridge { call: CallId, agent: String },
    /// An answer the engine did not accept (the offer had already been
    /// withdrawn): hang up that agent leg.
    DropAgentLeg { call: CallId, agent: String },
    /// Tell a waiting caller their place and the estimated wait.
    AnnouncePosition {
        call: CallId,
        position: usize,
        estimated_wait: Duration,
    },
    /// Call [`Engine::timer_fired`](super::Engine::timer_fired) with `id` at `at`.
    StartTimer { id: TimerId, at: Instant },
    /// The timer is no longer wanted (firing it anyway is harmless).
    CancelTimer { id: TimerId },
    /// The call waited `max_wait` in `from` and moved on: to another queue,
    /// or it became a callback request that keeps its place (tell the
    /// caller they will be called back and hang up).
    Overflow {
        call: CallId,
        from: String,
        to: OverflowTarget,
    },
    /// The caller hung up before talking to anyone; the call is over.
    CallAbandoned {
        call: CallId,
        queue: String,
        waited: Duration,
    },
    /// A callback request reached the head of its queue and `agent` is
    /// free: ring the agent first; when they answer (`agent_answered`, then
    /// [`Command::Bridge`]) dial the client.
    CallbackDue {
        call: CallId,
        agent: String,
        queue: String,
        client_id: Option<String>,
        reason: RoutingReason,
    },
    /// For the event log and the live view.
    AgentStateChanged {
        agent: String,
        from: AgentState,
        to: AgentState,
        cause: StateCause,
    },
}
