//! The reports' only I/O: read the rows of a range from the store, then
//! hand them to the pure computations. Read-only, portable SQL.

use super::InquiryRow;
use super::agents::{AgentsReport, agents};
use super::period::{DateRange, Group};
use super::state_time::{StateChange, StateInterval, parse_state, state_intervals};
use super::summary::{SummaryReport, summary};
use crate::store::{Store, StoreError};
use sqlx::Row;
use sqlx::any::AnyRow;

/// Kind of the events the routing shell writes on every agent state
/// change; `data` is `{"from": ..., "to": ..., "cause": ...}`.
pub const AGENT_STATE: &str = "agent.state";

/// The summary report of `range` as of `now_ms` (agent state time stops
/// at now when the range has not ended yet).
pub async fn summary_report(
    store: &Store,
    range: &DateRange,
    group: Group,
    service_level_s: u32,
    now_ms: i64,
) -> Result<SummaryReport, StoreError> {
    let inquiries = inquiry_rows(store, range).await?;
    let intervals = agent_intervals(store, range, now_ms).await?;
    Ok(summary(
        range,
        group,
        service_level_s,
        &inquiries,
        &intervals,
    ))
}

/// The agents report of `range` as of `now_ms`.
pub async fn agents_report(
    store: &Store,
    range: &DateRange,
    now_ms: i64,
) -> Result<AgentsReport, StoreError> {
    let inquiries = inquiry_rows(store, range).await?;
    let intervals = agent_intervals(store, range, now_ms).await?;
    Ok(agents(range, &inquiries, &intervals))
}

/// The inquiries created in the range.
async fn inquiry_rows(store: &Store, range: &DateRange) -> Result<Vec<InquiryRow>, StoreError> {
    sqlx::query(
        "SELECT channel, category, topic, status, agent, created_at_ms, answered_at_ms, \
         resolved_at_ms, wait_ms, talk_ms FROM inquiries \
         WHERE created_at_ms >= $1 AND created_at_ms < $2",
    )
    .bind(range.start_ms())
    .bind(range.end_ms())
    .fetch_all(store.pool())
    .await?
    .iter()
    .map(inquiry_row)
    .collect()
}

fn inquiry_row(row: &AnyRow) -> Result<InquiryRow, StoreError> {
    let channel: String = row.try_get("channel")?;
    let status: String = row.try_get("status")?;
    Ok(InquiryRow {
        channel: channel
            .parse()
            .map_err(|e| StoreError::Corrupt(format!("inquiries.channel: {e}")))?,
        category: row.try_get("category")?,
        topic: row.try_get("topic")?,
        status: status
            .parse()
            .map_err(|e| StoreError::Corrupt(format!("inquiries.status: {e}")))?,
        agent: row.try_get("agent")?,
        created_at_ms: row.try_get("created_at_ms")?,
        answered_at_ms: row.try_get("answered_at_ms")?,
        resolved_at_ms: row.try_get("resolved_at_ms")?,
        wait_ms: row.try_get("wait_ms")?,
        talk_ms: row.try_get("talk_ms")?,
    })
}

/// Every agent's states within the range, up to `now_ms`: the last
/// change before the range (the state open at its start) and the
/// changes inside it.
async fn agent_intervals(
    store: &Store,
    range: &DateRange,
    now_ms: i64,
) -> Result<Vec<StateInterval>, StoreError> {
    let (start, stop) = (range.start_ms(), range.end_ms().min(now_ms));
    if stop <= start {
        return Ok(Vec::new());
    }
    let opening = sqlx::query(
        "SELECT e.id, e.agent, e.at_ms, e.data FROM events e \
         WHERE e.kind = $1 AND e.agent IS NOT NULL AND e.at_ms < $2 AND e.id = ( \
           SELECT l.id FROM events l WHERE l.kind = $1 AND l.agent = e.agent AND l.at_ms < $2 \
           ORDER BY l.at_ms DESC, l.id DESC LIMIT 1)",
    )
    .bind(AGENT_STATE)
    .bind(start)
    .fetch_all(store.pool())
    .await?;
    let inside = sqlx::query(
        "SELECT id, agent, at_ms, data FROM events \
         WHERE kind = $1 AND agent IS NOT NULL AND at_ms >= $2 AND at_ms < $3",
    )
    .bind(AGENT_STATE)
    .bind(start)
    .bind(stop)
    .fetch_all(store.pool())
    .await?;
    let mut changes = opening
        .iter()
        .chain(&inside)
        .map(state_change)
        .collect::<Result<Vec<_>, _>>()?;
    changes
        .sort_by(|(a_id, a), (b_id, b)| (&a.agent, a.at_ms, a_id).cmp(&(&b.agent, b.at_ms, b_id)));
    let changes: Vec<StateChange> = changes.into_iter().map(|(_, c)| c).collect();
    Ok(state_intervals(&changes, start, stop))
}

/// An `agent.state` row with its id (the tie-break within a millisecond).
fn state_change(row: &AnyRow) -> Result<(String, StateChange), StoreError> {
    let id: String = row.try_get("id")?;
    let data: String = row.try_get("data")?;
    let to = serde_json::from_str::<serde_json::Value>(&data)
        .ok()
        .and_then(|v| v.get("to").and_then(|t| t.as_str()).and_then(parse_state));
    if to.is_none() {
        tracing::warn!(event = %id, "agent.state event without a known `to` state: its time is not counted");
    }
    Ok((
        id,
        StateChange {
            agent: row.try_get("agent")?,
            at_ms: row.try_get("at_ms")?,
            to,
        },
    ))
}
