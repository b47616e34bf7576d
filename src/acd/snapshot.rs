//! A picture of queues and agents for the live view (`GET /api/v1/queues`).

use super::agent::AgentState;
use super::command::CallId;
use serde::Serialize;

/// Everything the live board shows, at one instant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Snapshot {
    pub queues: Vec<QueueSnapshot>,
    pub agents: Vec<AgentSnapshot>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QueueSnapshot {
    pub name: String,
    /// Entries waiting for an agent, callback requests included.
    pub waiting: usize,
    /// Of which callback requests.
    pub callbacks: usize,
    /// How long the longest-waiting entry has been in line.
    pub longest_wait_ms: u64,
    /// The queue's members by state.
    pub agents: StateCounts,
}

/// Number of agents in each state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct StateCounts {
    pub offline: usize,
    pub available: usize,
    pub ringing: usize,
    pub busy: usize,
    pub wrap_up: usize,
    pub paused: usize,
}

impl StateCounts {
    pub(crate) fn add(&mut self, state: AgentState) {
        let slot = match state {
            AgentState::Offline => &mut self.offline,
            AgentState::Available => &mut self.available,
            AgentState::Ringing => &mut self.ringing,
            AgentState::Busy => &mut self.busy,
            AgentState::WrapUp => &mut self.wrap_up,
            AgentState::Paused => &mut self.paused,
        };
        *slot += 1;
    }

    pub fn get(&self, state: AgentState) -> usize {
        match state {
            AgentState::Offline => self.offline,
            AgentState::Available => self.available,
            AgentState::Ringing => self.ringing,
            AgentState::Busy => self.busy,
            AgentState::WrapUp => self.wrap_up,
            AgentState::Paused => self.paused,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AgentSnapshot {
    pub login: String,
    pub state: AgentState,
    pub registered: bool,
    /// Time in the current state.
    pub in_state_ms: u64,
    /// Time since the last call ended (or since the agent was added, if none):
    /// what longest-idle routing compares.
    pub idle_ms: u64,
    pub calls_today: u32,
    /// The call the agent is being offered or talking on.
    pub call: Option<CallId>,
    /// A pause asked for during a call, applied when it ends.
    pub pause_pending: bool,
}
