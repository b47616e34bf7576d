//! The routing engine (ACD): agents and their states, queues, routing
//! strategies and personal-manager routing, as a sans-IO state machine.
//!
//! [`Engine`] is the one owner of every agent's state. The shell feeds it what
//! happened (a registration, a call entering a queue, an agent answering, a
//! timer firing, ...) together with `now`, and carries out the [`Command`]s it
//! returns (ring an agent, bridge, arm a timer, announce a position, ...). It
//! never reads a clock, spawns or touches a socket, so a queue of a thousand
//! callers runs in a test in milliseconds with virtual time, and because only
//! the engine moves agents between states, every path that ends a call also
//! frees its agent: no agent can stay stuck in `ringing` or `busy`.

mod agent;
mod command;
mod engine;
mod estimate;
mod queue;
mod snapshot;
#[cfg(test)]
mod tests;

pub use agent::{AgentRequest, AgentSpec, AgentState, PersistedAgent};
pub use command::{CallId, Command, RoutingReason, StateCause, TimerId};
pub use engine::{AcdError, Engine, EngineConfig, IncomingCall};
pub use estimate::HandleTime;
pub use queue::{OverflowTarget, QueueConfig, Strategy};
pub use snapshot::{AgentSnapshot, QueueSnapshot, Snapshot, StateCounts};
