//! Agents as the engine sees them: which queues they serve and in which state
//! they are.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Where an agent stands for routing (ARCHITECTURE §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AgentState {
    /// No registered phone: cannot be rung.
    Offline,
    /// Registered and waiting for a call.
    Available,
    /// A call is being offered to the agent's phone.
    Ringing,
    /// Talking to a caller.
    Busy,
    /// The call ended; the agent finishes notes before the next call.
    WrapUp,
    /// Registered but not taking calls (`*51`, the API, or after letting a
    /// call ring out).
    Paused,
}

impl AgentState {
    pub const ALL: [AgentState; 6] = [
        AgentState::Offline,
        AgentState::Available,
        AgentState::Ringing,
        AgentState::Busy,
        AgentState::WrapUp,
        AgentState::Paused,
    ];

    /// The name used in the API and the event log.
    pub fn as_str(self) -> &'static str {
        match self {
            AgentState::Offline => "offline",
            AgentState::Available => "available",
            AgentState::Ringing => "ringing",
            AgentState::Busy => "busy",
            AgentState::WrapUp => "wrap_up",
            AgentState::Paused => "paused",
        }
    }

    /// Counts toward the staff that works a queue down, for the wait estimate.
    pub(crate) fn is_staffed(self) -> bool {
        matches!(
            self,
            AgentState::Available | AgentState::Ringing | AgentState::Busy | AgentState::WrapUp
        )
    }
}

impl fmt::Display for AgentState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What an agent may ask for themselves, through the API
/// (`PATCH /api/v1/agents/{login}/state`) or a feature code from the softphone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AgentRequest {
    Available,
    Pause,
}

impl AgentRequest {
    /// `*50` makes the agent available, `*51` pauses them.
    pub fn from_feature_code(dialled: &str) -> Option<AgentRequest> {
        match dialled {
            "*50" => Some(AgentRequest::Available),
            "*51" => Some(AgentRequest::Pause),
            _ => None,
        }
    }
}

/// An agent as configured: login and the queues served with a skill level.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentSpec {
    pub login: String,
    /// `(queue, skill)`; a higher skill wins ties between otherwise equal agents.
    pub queues: Vec<(String, u8)>,
}

impl AgentSpec {
    pub fn new(login: impl Into<String>) -> AgentSpec {
        AgentSpec {
            login: login.into(),
            queues: Vec::new(),
        }
    }

    /// Adds a queue served with `skill`.
    pub fn serving(mut self, queue: impl Into<String>, skill: u8) -> AgentSpec {
        self.queues.push((queue.into(), skill));
        self
    }
}

/// What survives a restart about an agent: its configuration, whether its
/// phone is registered, and its last state as written to the store. Calls do
/// not survive, so `ringing`, `busy` and `wrap_up` come back as `available`
/// (or `offline` when not registered).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersistedAgent {
    pub spec: AgentSpec,
    pub registered: bool,
    pub state: AgentState,
    pub calls_today: u32,
}
