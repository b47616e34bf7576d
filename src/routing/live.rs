//! The calls in progress, for `GET /api/v1/calls` and the console's
//! transfer and hang-up buttons.
//!
//! The call layer (`src/call.rs`) owns each entry: it inserts one when a
//! call starts, updates it as the call moves (IVR, queue, ringing, talking)
//! and removes it when the call ends. The API only reads the map and sends
//! [`CallControl`]s through the entry's channel; the call acts on them, so
//! one task stays the only owner of each call.

use crate::acd::CallId;
use crate::mask::mask_phone;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::mpsc;

/// Where a blind transfer sends the caller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TransferTarget {
    /// A queue by name (`general`, `admission`, ...).
    Queue(String),
    /// An agent by login.
    Agent(String),
    /// A department from `[[departments]]`, by name.
    Department(String),
}

/// What the API (or the console) asks of a live call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallControl {
    Transfer(TransferTarget),
    /// End the call on every leg.
    Hangup,
}

/// Where a live call stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LiveCallState {
    /// In the IVR menus.
    InIvr,
    /// In a queue, waiting for an agent.
    Waiting,
    /// An agent's phone is ringing.
    Ringing,
    /// Caller and agent are talking.
    Talking,
}

/// One call in progress.
#[derive(Debug, Clone)]
pub struct LiveCall {
    pub inquiry_id: Option<String>,
    /// The caller's number, masked (only the last digits show).
    pub caller: String,
    pub queue: Option<String>,
    /// Login of the agent ringing or talking.
    pub agent: Option<String>,
    /// Why routing chose that agent (`RoutingReason::as_str`); known from
    /// the moment their phone rings, before the inquiry records it at the
    /// answer — the operator's screen pop shows it while ringing.
    pub routing_reason: Option<&'static str>,
    pub state: LiveCallState,
    /// When the call entered its current state, Unix ms.
    pub since_ms: i64,
    /// The call's own task reads these.
    pub control: mpsc::UnboundedSender<CallControl>,
}

impl LiveCall {
    /// A call that just started, in the IVR; the number is masked here so
    /// that the full number never sits in the shared map.
    pub fn new(
        caller_number: &str,
        since_ms: i64,
        control: mpsc::UnboundedSender<CallControl>,
    ) -> LiveCall {
        LiveCall {
            inquiry_id: None,
            caller: mask_phone(caller_number),
            queue: None,
            agent: None,
            routing_reason: None,
            state: LiveCallState::InIvr,
            since_ms,
            control,
        }
    }
}

/// A live call as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct LiveCallView {
    pub id: u64,
    pub inquiry_id: Option<String>,
    pub caller: String,
    pub queue: Option<String>,
    pub agent: Option<String>,
    /// Why routing chose the agent (`personal_manager`, `longest_idle`, ...).
    pub routing_reason: Option<String>,
    pub state: LiveCallState,
    pub since_ms: i64,
}

/// The shared registry of calls in progress. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct LiveCalls {
    calls: Arc<Mutex<BTreeMap<CallId, LiveCall>>>,
}

impl LiveCalls {
    pub fn new() -> LiveCalls {
        LiveCalls::default()
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<CallId, LiveCall>> {
        // A panic elsewhere while holding the lock leaves a consistent map
        // (every change is one insert/remove/field write): keep serving.
        self.calls.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn insert(&self, id: CallId, call: LiveCall) {
        self.lock().insert(id, call);
    }

    /// Changes an entry in place; nothing happens when the call is gone.
    pub fn update(&self, id: CallId, change: impl FnOnce(&mut LiveCall)) {
        if let Some(call) = self.lock().get_mut(&id) {
            change(call);
        }
    }

    pub fn remove(&self, id: CallId) {
        self.lock().remove(&id);
    }

    pub fn get(&self, id: CallId) -> Option<LiveCallView> {
        self.lock().get(&id).map(|call| view(id, call))
    }

    /// Every live call, oldest call id first.
    pub fn list(&self) -> Vec<LiveCallView> {
        self.lock()
            .iter()
            .map(|(&id, call)| view(id, call))
            .collect()
    }

    /// Sends `control` to the call. `false` when the call is unknown or has
    /// already ended (its task dropped the receiver).
    pub fn send(&self, id: CallId, control: CallControl) -> bool {
        let sender = self.lock().get(&id).map(|call| call.control.clone());
        sender.is_some_and(|tx| tx.send(control).is_ok())
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }
}

fn view(id: CallId, call: &LiveCall) -> LiveCallView {
    LiveCallView {
        id: id.0,
        inquiry_id: call.inquiry_id.clone(),
        caller: call.caller.clone(),
        queue: call.queue.clone(),
        agent: call.agent.clone(),
        routing_reason: call.routing_reason.map(str::to_owned),
        state: call.state,
        since_ms: call.since_ms,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_masked_updated_and_controlled() {
        let calls = LiveCalls::new();
        let (tx, mut rx) = mpsc::unbounded_channel();
        calls.insert(CallId(7), LiveCall::new("79161234567", 1, tx));
        let listed = calls.list();
        assert_eq!(listed.len(), 1);
        assert!(!listed[0].caller.contains("7916123"));
        calls.update(CallId(7), |c| {
            c.state = LiveCallState::Talking;
            c.agent = Some("1001".into());
        });
        assert_eq!(calls.get(CallId(7)).unwrap().state, LiveCallState::Talking);
        assert!(calls.send(CallId(7), CallControl::Hangup));
        assert_eq!(rx.try_recv().unwrap(), CallControl::Hangup);
        drop(rx);
        assert!(!calls.send(CallId(7), CallControl::Hangup));
        calls.remove(CallId(7));
        assert!(!calls.send(CallId(7), CallControl::Hangup));
        assert!(calls.is_empty());
    }
}
