//! The append-only event log: one row per state change of an inquiry, a
//! call or an agent. Reports and live boards (issue 6) are computed from
//! it, so one definition serves both; the inquiry timeline of the API is
//! its rows for one inquiry.
//!
//! Event ids come from [`ids::next_event_id`](super::ids::next_event_id),
//! monotonic in write order, so `ORDER BY id` replays what happened in
//! the order it was written, even within one millisecond.
//!
//! Live feed: every event is also published on a broadcast channel of the
//! [`Store`] once its transaction has committed ([`Store::subscribe_events`];
//! `GET /api/v1/events` streams it). A writer that appends with [`append`]
//! inside its own transaction gets the [`Event`] back and must hand it to
//! [`Store::publish_events`] after `commit` (never before: a subscriber
//! could then see an event that a rollback removes).

use super::ids::next_event_id;
use super::paging::{Param, bind_all};
use super::{Store, StoreError};
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};
use tokio::sync::broadcast;

/// Kinds written by the store itself. Others (`agent.state`, `call.*`)
/// are free-form strings chosen by their writers.
pub const INQUIRY_CREATED: &str = "inquiry.created";
pub const INQUIRY_UPDATED: &str = "inquiry.updated";

/// One entry of the log.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Event {
    pub id: String,
    /// RFC 3339 UTC.
    #[serde(rename = "at", serialize_with = "super::serde_time::ms")]
    #[schema(value_type = String, format = DateTime)]
    pub at_ms: i64,
    pub kind: String,
    pub inquiry_id: Option<String>,
    pub agent: Option<String>,
    /// A JSON object; for `inquiry.updated`, the fields that changed.
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
}

/// How many events a slow live subscriber may fall behind before it
/// misses some (it then catches up from the table, see the SSE handler).
pub const LIVE_CAPACITY: usize = 4096;

/// Largest page of [`Store::events_after`].
pub const MAX_EVENT_PAGE: i64 = 1000;

/// Appends one event on `conn` (normally inside the transaction of the
/// change it records, so the log never disagrees with the rows) and
/// returns it, to be published after the commit.
pub(super) async fn append(
    conn: &mut AnyConnection,
    at_ms: i64,
    kind: &str,
    inquiry_id: Option<&str>,
    agent: Option<&str>,
    data: &serde_json::Value,
) -> Result<Event, StoreError> {
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
    Ok(Event {
        id,
        at_ms,
        kind: kind.to_string(),
        inquiry_id: inquiry_id.map(str::to_string),
        agent: agent.map(str::to_string),
        data: data.clone(),
    })
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
        // Autocommit: the row is committed when `append` returns.
        let event = append(&mut conn, at_ms, kind, inquiry_id, agent, data).await?;
        let id = event.id.clone();
        self.publish_events([event]);
        Ok(id)
    }

    /// Publishes committed events to live subscribers. Nobody listening is
    /// not an error.
    pub fn publish_events(&self, events: impl IntoIterator<Item = Event>) {
        for event in events {
            let _ = self.live.send(event);
        }
    }

    /// A receiver of every event committed from now on, in publication
    /// order (which is id order except when two transactions commit in the
    /// other order than they appended).
    pub fn subscribe_events(&self) -> broadcast::Receiver<Event> {
        self.live.subscribe()
    }

    /// The id of the newest event, `None` when the log is empty: where a
    /// live subscriber that asked for no replay stands.
    pub async fn last_event_id(&self) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT MAX(id) AS id FROM events")
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get("id")?)
    }

    /// Up to `limit` events with ids after `after` (all when `None`),
    /// oldest first. With `visible_to`, only that agent's: events naming
    /// the agent, and events of inquiries currently assigned to them.
    pub async fn events_after(
        &self,
        after: Option<&str>,
        visible_to: Option<&str>,
        limit: i64,
    ) -> Result<Vec<Event>, StoreError> {
        let limit = limit.clamp(1, MAX_EVENT_PAGE);
        let mut conditions = Vec::new();
        let mut params = Vec::new();
        if let Some(after) = after {
            params.push(Param::Text(after));
            conditions.push(format!("id > ${}", params.len()));
        }
        if let Some(agent) = visible_to {
            params.push(Param::Text(agent));
            let n = params.len();
            conditions.push(format!(
                "(agent = ${n} OR inquiry_id IN (SELECT id FROM inquiries WHERE agent = ${n}))"
            ));
        }
        params.push(Param::Int(limit));
        let limit_n = params.len();
        let where_clause = super::paging::where_clause(&conditions);
        let sql = format!(
            "SELECT id, at_ms, kind, inquiry_id, agent, data FROM events {where_clause} \
             ORDER BY id LIMIT ${limit_n}"
        );
        bind_all(&sql, params)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(event_from_row)
            .collect()
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
