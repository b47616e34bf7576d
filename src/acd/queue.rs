//! Queues: their configuration and the ordered line of waiting callers.

use super::command::CallId;
use super::estimate::HandleTime;
use serde::{Deserialize, Serialize};
use std::cmp::Reverse;
use std::collections::BTreeMap;
use std::time::Duration;

/// How a queue picks among its available agents.
///
/// Skill breaks ties for longest-idle and fewest-calls (a higher skill wins
/// between two agents idle since the same instant or with as many calls);
/// it is not a filter, so every member of a queue can take its calls and no
/// caller waits while an agent of the queue sits available.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// The agent whose last call ended longest ago (or who logged in
    /// longest ago, if they had none): spreads work fairly in time.
    #[default]
    LongestIdle,
    /// The next member after the one picked last, in configuration order.
    RoundRobin,
    /// The agent who answered the fewest calls today, then longest-idle.
    FewestCalls,
}

/// Where a caller goes after waiting `max_wait`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OverflowTarget {
    /// Another queue; the caller keeps the place their arrival time gives.
    Queue(String),
    /// A callback request that keeps the caller's place in this queue.
    Callback,
}

/// One queue's routing settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueConfig {
    pub name: String,
    pub strategy: Strategy,
    /// How long an agent's phone rings before the next agent is tried.
    pub ring_timeout: Duration,
    /// Time after a call before the agent gets the next one.
    pub wrap_up: Duration,
    /// How long a caller's personal manager rings before the queue takes over.
    pub personal_ring: Duration,
    /// Longest wait before `overflow` applies; `None` waits forever.
    pub max_wait: Option<Duration>,
    pub overflow: Option<OverflowTarget>,
    /// Interval of position announcements while waiting.
    pub announce_every: Duration,
    /// Handle time assumed for the wait estimate before any call is measured.
    pub initial_handle_time: Duration,
}

impl QueueConfig {
    pub const DEFAULT_RING_TIMEOUT: Duration = Duration::from_secs(15);
    pub const DEFAULT_WRAP_UP: Duration = Duration::from_secs(10);
    pub const DEFAULT_PERSONAL_RING: Duration = Duration::from_secs(20);
    pub const DEFAULT_ANNOUNCE_EVERY: Duration = Duration::from_secs(30);
    pub const DEFAULT_HANDLE_TIME: Duration = Duration::from_secs(180);

    /// A queue with every default: longest-idle, 15 s ring, 10 s wrap-up,
    /// 20 s personal ring, no maximum wait, announcements every 30 s.
    pub fn new(name: impl Into<String>) -> QueueConfig {
        QueueConfig {
            name: name.into(),
            strategy: Strategy::default(),
            ring_timeout: Self::DEFAULT_RING_TIMEOUT,
            wrap_up: Self::DEFAULT_WRAP_UP,
            personal_ring: Self::DEFAULT_PERSONAL_RING,
            max_wait: None,
            overflow: None,
            announce_every: Self::DEFAULT_ANNOUNCE_EVERY,
            initial_handle_time: Self::DEFAULT_HANDLE_TIME,
        }
    }

    pub fn with_strategy(mut self, strategy: Strategy) -> QueueConfig {
        self.strategy = strategy;
        self
    }

    pub fn with_overflow(mut self, max_wait: Duration, target: OverflowTarget) -> QueueConfig {
        self.max_wait = Some(max_wait);
        self.overflow = Some(target);
        self
    }
}

/// Place in line: higher rank first, then earlier arrival. `rank` folds the
/// call's priority and the open-inquiry boost into one number; `seq` is the
/// engine-wide arrival counter, so a caller moved to another queue by
/// overflow keeps the place their arrival earned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct WaitKey {
    pub rank: Reverse<u16>,
    pub seq: u64,
}

impl WaitKey {
    /// Priority orders first; among equal priorities a caller with an open
    /// inquiry (a returning caller) goes ahead.
    pub fn new(priority: u8, open_inquiry: bool, seq: u64) -> WaitKey {
        WaitKey {
            rank: Reverse(u16::from(priority) * 2 + u16::from(open_inquiry)),
            seq,
        }
    }
}

/// A member agent of a queue, by index into the engine's agents.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Member {
    pub agent: usize,
    pub skill: u8,
}

/// A queue's live state.
#[derive(Debug)]
pub(crate) struct Queue {
    pub config: QueueConfig,
    pub members: Vec<Member>,
    /// Callers waiting for an agent (not those being offered to one right now).
    pub waiting: BTreeMap<WaitKey, CallId>,
    /// Round-robin: the member position to try first next time.
    pub next_member: usize,
    pub handle_time: HandleTime,
}

impl Queue {
    pub fn new(config: QueueConfig) -> Queue {
        let handle_time = HandleTime::new(config.initial_handle_time);
        Queue {
            config,
            members: Vec::new(),
            waiting: BTreeMap::new(),
            next_member: 0,
            handle_time,
        }
    }
}
