//! The append-only event log: one row per state change of an inquiry, a
//! call or an agent. Reports and live boards (issue 6) are computed from
//! it, so one definition serves both; the inquiry timeline of the API is
//! its rows for one inquiry.
//!
//! Event ids come from [`ids::next_event_id`](super::ids::next_event_id),
//! monotonic in write order, so `ORDER BY id` replays what happened in
//! the order it was written, even within one millisecond.

use super::ids::next_event_id;
use super::{Store, StoreError};
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

/// Kinds written by the store itself. Others (`agent.state`, `call.*`)
/// are free-form strings chosen by their writers.
pub const INQUIRY_CREATED: &str = "inquiry.created";
pub const INQUIRY_UPDATED: &str = "inquiry.updated";

/// One entry of the log.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Event {
    pub id: String,
    #[serde(rename = "at", serialize_with = "super::serde_time::ms")]
    #[schema(value_type = String, format = DateTime)]
    pub at_ms: i64,
    pub kind: String,
    pub inquiry_id: Option<String>,
    pub agent: Option<String>,
    /// A JSON object; for `inquiry.updated`, the fields that changed.
    pub data: serde_json::Value,
}

/// Appends one event on `conn` (normally inside the transaction of the
/// change it records, so the log never disagrees with the rows).
pub(super) async fn append(
    conn: &mut AnyConnection,
    at_ms: i64,
    kind: &str,
    inquiry_id: Option<&str>,
    agent: Option<&str>,
    data: &serde_json::Value,
) -> Result<String, StoreError> {
    let id = next_event_id(at_ms);
    sqlx::query(
        "INSERT INTO events (id, at_ms, kind, inquiry_id, agent, data) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(id.as_str())
    .bind(at_ms)
    .bind(kind)
    .bind(inquiry_id)
    .bind(agent)
    .bind(data.to_string())
    .execute(&mut *conn)
    .await?;
    Ok(id)
}

fn event_from_row(row: &AnyRow) -> Result<Event, StoreError> {
    let data: String = row.try_get("data")?;
    Ok(Event {
        id: row.try_get("id")?,
        at_ms: row.try_get("at_ms")?,
        kind: row.try_get("kind")?,
        inquiry_id: row.try_get("inquiry_id")?,
        agent: row.try_get("agent")?,
        data: serde_json::from_str(&data)
            .map_err(|e| StoreError::Corrupt(format!("events.data: {e}")))?,
    })
}

impl Store {
    /// Appends an event that is not part of an inquiry write (e.g.
    /// `agent.state`); returns its id.
    pub async fn append_event(
        &self,
        at_ms: i64,
        kind: &str,
        inquiry_id: Option<&str>,
        agent: Option<&str>,
        data: &serde_json::Value,
    ) -> Result<String, StoreError> {
        let mut conn = self.pool.acquire().await?;
        append(&mut conn, at_ms, kind, inquiry_id, agent, data).await
    }

    /// The timeline of one inquiry, in the order it was written.
    pub async fn events_of_inquiry(&self, id: &str) -> Result<Vec<Event>, StoreError> {
        sqlx::query(
            "SELECT id, at_ms, kind, inquiry_id, agent, data FROM events \
             WHERE inquiry_id = $1 ORDER BY id",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(event_from_row)
        .collect()
    }
}
