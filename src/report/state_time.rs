//! Time agents spent in each state, from their `agent.state` events.
//!
//! The log records changes, not durations: an agent is in the state of
//! its last change until its next one. So the state already open when a
//! window starts is the `to` of the last change before it, and the state
//! still open at the end runs to the end of the window, or to "now" when
//! the window reaches into the future (time that has not happened yet is
//! nobody's).

use crate::acd::AgentState;

/// One `agent.state` event: from `at_ms` on, `agent` is in `to`.
/// `to` is `None` for a state this version does not know (written by a
/// newer one): it still ends the previous state, and its time is not
/// counted anywhere.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateChange {
    pub agent: String,
    pub at_ms: i64,
    pub to: Option<AgentState>,
}

/// `agent` was in `state` from `start_ms` (included) to `end_ms` (excluded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateInterval {
    pub agent: String,
    pub state: AgentState,
    pub start_ms: i64,
    pub end_ms: i64,
}

/// The intervals of every agent within `[start_ms, end_ms)`. `changes`
/// must hold, per agent, the last change before `start_ms` (if any) and
/// every change up to `end_ms`, ordered by agent, then time, then write
/// order; earlier changes are harmless (clipped away). Before an
/// agent's first known change its state is unknown and not counted.
pub fn state_intervals(changes: &[StateChange], start_ms: i64, end_ms: i64) -> Vec<StateInterval> {
    let mut out = Vec::new();
    let mut push = |agent: &str, state: Option<AgentState>, from: i64, to: i64| {
        let (from, to) = (from.max(start_ms), to.min(end_ms));
        if let Some(state) = state
            && from < to
        {
            out.push(StateInterval {
                agent: agent.to_string(),
                state,
                start_ms: from,
                end_ms: to,
            });
        }
    };
    let mut open: Option<(&StateChange, i64)> = None;
    for change in changes {
        if let Some((prev, since)) = open
            && prev.agent == change.agent
        {
            push(&prev.agent, prev.to, since, change.at_ms);
        } else if let Some((prev, since)) = open {
            push(&prev.agent, prev.to, since, end_ms);
        }
        open = Some((change, change.at_ms));
    }
    if let Some((prev, since)) = open {
        push(&prev.agent, prev.to, since, end_ms);
    }
    out
}

/// Milliseconds of `intervals` (optionally only `agent`'s, only in
/// `state`) that overlap `[start_ms, end_ms)`.
pub fn time_within(
    intervals: &[StateInterval],
    agent: Option<&str>,
    state: AgentState,
    start_ms: i64,
    end_ms: i64,
) -> i64 {
    intervals
        .iter()
        .filter(|i| i.state == state && agent.is_none_or(|a| a == i.agent))
        .map(|i| (i.end_ms.min(end_ms) - i.start_ms.max(start_ms)).max(0))
        .sum()
}

/// Parses a state name as written in the log (`wrap_up`, ...).
pub fn parse_state(name: &str) -> Option<AgentState> {
    AgentState::ALL.into_iter().find(|s| s.as_str() == name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use AgentState::*;

    fn change(agent: &str, at_ms: i64, to: AgentState) -> StateChange {
        StateChange {
            agent: agent.into(),
            at_ms,
            to: Some(to),
        }
    }

    fn total(intervals: &[StateInterval], agent: &str, state: AgentState) -> i64 {
        time_within(intervals, Some(agent), state, i64::MIN, i64::MAX)
    }

    #[test]
    fn the_state_open_at_the_start_counts_from_the_start() {
        // Window [100, 200). anna: available since 50, busy at 120,
        // wrap_up at 150, available at 160, paused at 250 (after the end).
        let changes = [
            change("anna", 10, Offline),
            change("anna", 50, Available),
            change("anna", 120, Busy),
            change("anna", 150, WrapUp),
            change("anna", 160, Available),
            change("anna", 250, Paused),
        ];
        let i = state_intervals(&changes, 100, 200);
        assert_eq!(total(&i, "anna", Offline), 0);
        assert_eq!(total(&i, "anna", Available), 20 + 40);
        assert_eq!(total(&i, "anna", Busy), 30);
        assert_eq!(total(&i, "anna", WrapUp), 10);
        assert_eq!(total(&i, "anna", Paused), 0);
        let all: i64 = AgentState::ALL.iter().map(|s| total(&i, "anna", *s)).sum();
        assert_eq!(all, 100);
    }

    #[test]
    fn agents_do_not_leak_into_each_other() {
        // boris has no change before the window: his time starts at his
        // first change; anna's last state runs to the end, not into boris.
        let changes = [
            change("anna", 0, Paused),
            change("boris", 130, Available),
            change("boris", 180, Offline),
        ];
        let i = state_intervals(&changes, 100, 200);
        assert_eq!(total(&i, "anna", Paused), 100);
        assert_eq!(total(&i, "boris", Available), 50);
        assert_eq!(total(&i, "boris", Offline), 20);
        assert_eq!(total(&i, "boris", Paused), 0);
    }

    #[test]
    fn an_unknown_state_ends_the_previous_one_and_counts_nowhere() {
        let changes = [
            change("anna", 100, Available),
            StateChange {
                agent: "anna".into(),
                at_ms: 140,
                to: None,
            },
            change("anna", 170, Busy),
        ];
        let i = state_intervals(&changes, 100, 200);
        assert_eq!(total(&i, "anna", Available), 40);
        assert_eq!(total(&i, "anna", Busy), 30);
        assert_eq!(i.len(), 2);
    }

    #[test]
    fn time_within_clips_to_a_sub_window() {
        let i = state_intervals(&[change("anna", 0, WrapUp)], 100, 200);
        assert_eq!(time_within(&i, None, WrapUp, 150, 160), 10);
        assert_eq!(time_within(&i, None, WrapUp, 190, 300), 10);
        assert_eq!(time_within(&i, None, WrapUp, 300, 400), 0);
        assert_eq!(time_within(&i, Some("boris"), WrapUp, 0, 400), 0);
        assert_eq!(parse_state("wrap_up"), Some(WrapUp));
        assert_eq!(parse_state("lunch"), None);
    }
}
