//! The agents report: per agent, the calls handled, the inquiries
//! resolved, the handle time and the time spent in each state.

use super::InquiryRow;
use super::period::{DateRange, date_label};
use super::state_time::{StateInterval, time_within};
use super::stats::mean_rounded;
use crate::acd::AgentState;
use crate::store::Channel;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// The agents report over a range: one row per agent and a totals row.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct AgentsReport {
    /// First day of the range, `YYYY-MM-DD`.
    pub from: String,
    /// Last day of the range (included).
    pub to: String,
    /// UTC offset the days are read in.
    pub tz: String,
    /// Ordered by login.
    pub agents: Vec<AgentRow>,
    /// Sums over all agents (`agent` is `total`).
    pub total: AgentRow,
}

/// One agent's figures.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct AgentRow {
    /// Login.
    pub agent: String,
    /// Phone inquiries of the range this agent answered (the inquiry's
    /// `agent`, `answered_at` set).
    pub calls_handled: u64,
    /// Inquiries of the range, any channel, assigned to this agent and
    /// resolved (status `resolved` or `resolved_at` set).
    pub inquiries_resolved: u64,
    /// Sum of `talk_ms` of the calls handled.
    pub talk_ms: i64,
    /// Time in `wrap_up` within the range.
    pub wrap_up_ms: i64,
    /// (`talk_ms` + `wrap_up_ms`) / calls handled with a known talk time.
    pub avg_handle_ms: Option<i64>,
    /// Milliseconds in each state within the range (up to now, if the
    /// range is not over); every state is listed.
    pub state_ms: BTreeMap<String, i64>,
}

/// Computes the agents report. `inquiries` are those created in the
/// range; `intervals` the agents' states within it.
pub fn agents(
    range: &DateRange,
    inquiries: &[InquiryRow],
    intervals: &[StateInterval],
) -> AgentsReport {
    let logins: BTreeSet<&str> = inquiries
        .iter()
        .filter_map(|r| r.agent.as_deref())
        .chain(intervals.iter().map(|i| i.agent.as_str()))
        .collect();
    let (start, end) = (range.start_ms(), range.end_ms());
    let rows: Vec<AgentRow> = logins
        .into_iter()
        .map(|login| {
            let own: Vec<&InquiryRow> = inquiries
                .iter()
                .filter(|r| r.agent.as_deref() == Some(login))
                .collect();
            let handled: Vec<&&InquiryRow> = own
                .iter()
                .filter(|r| r.channel == Channel::Phone && r.is_answered())
                .collect();
            let talks: Vec<i64> = handled.iter().filter_map(|r| r.talk_ms).collect();
            let talk_ms: i64 = talks.iter().sum();
            let state_ms: BTreeMap<String, i64> = AgentState::ALL
                .iter()
                .map(|s| {
                    let ms = time_within(intervals, Some(login), *s, start, end);
                    (s.as_str().to_string(), ms)
                })
                .collect();
            let wrap_up_ms = state_ms
                .get(AgentState::WrapUp.as_str())
                .copied()
                .unwrap_or(0);
            AgentRow {
                agent: login.to_string(),
                calls_handled: handled.len() as u64,
                inquiries_resolved: own.iter().filter(|r| r.is_resolved()).count() as u64,
                talk_ms,
                wrap_up_ms,
                avg_handle_ms: mean_rounded(talk_ms.saturating_add(wrap_up_ms), talks.len() as u64),
                state_ms,
            }
        })
        .collect();
    let total = total_row(&rows, inquiries);
    AgentsReport {
        from: date_label(range.first_day),
        to: date_label(range.last_day),
        tz: range.tz_label(),
        agents: rows,
        total,
    }
}

fn total_row(rows: &[AgentRow], inquiries: &[InquiryRow]) -> AgentRow {
    let mut state_ms: BTreeMap<String, i64> = AgentState::ALL
        .iter()
        .map(|s| (s.as_str().to_string(), 0))
        .collect();
    for row in rows {
        for (state, ms) in &row.state_ms {
            *state_ms.entry(state.clone()).or_insert(0) += ms;
        }
    }
    let talk_ms: i64 = rows.iter().map(|r| r.talk_ms).sum();
    let wrap_up_ms: i64 = rows.iter().map(|r| r.wrap_up_ms).sum();
    // Calls with a known talk time, over all agents: the divisor of the
    // per-agent averages, summed.
    let timed_calls = inquiries
        .iter()
        .filter(|r| r.agent.is_some() && r.channel == Channel::Phone && r.is_answered())
        .filter(|r| r.talk_ms.is_some())
        .count() as u64;
    AgentRow {
        agent: "total".into(),
        calls_handled: rows.iter().map(|r| r.calls_handled).sum(),
        inquiries_resolved: rows.iter().map(|r| r.inquiries_resolved).sum(),
        talk_ms,
        wrap_up_ms,
        avg_handle_ms: mean_rounded(talk_ms.saturating_add(wrap_up_ms), timed_calls),
        state_ms,
    }
}
