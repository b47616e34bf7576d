//! The last routing state of each agent, so that a restart restores who was
//! paused (ARCHITECTURE §5: no restart leaves an agent stuck, and none
//! silently un-pauses an operator who stepped away).

use super::events::append;
use super::{Store, StoreError};
use crate::acd::{AgentState, StateCause};
use sqlx::Row;
use std::collections::HashMap;

/// Reads a state name written by [`Store::save_agent_state`].
fn state_from_str(s: &str) -> Result<AgentState, StoreError> {
    AgentState::ALL
        .into_iter()
        .find(|state| state.as_str() == s)
        .ok_or_else(|| StoreError::Corrupt(format!("agent_state.state {s:?}")))
}

/// Event kind of an agent's state change in the event log.
pub const AGENT_STATE: &str = "agent.state";

/// One agent state change, as the routing engine reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentStateChange {
    pub login: String,
    pub from: AgentState,
    pub to: AgentState,
    pub cause: StateCause,
    pub at_ms: i64,
}

impl Store {
    /// Appends an `agent.state` event (`{"from","to","cause"}`) per change
    /// and keeps each agent's `agent_state` row at its latest state, all in
    /// one transaction: routing hands over changes in bursts, and one
    /// commit per burst keeps the writer ahead of a busy contact centre.
    /// A change of an agent deleted meanwhile is logged but has no row.
    pub async fn record_agent_states(
        &self,
        changes: &[AgentStateChange],
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        let mut appended = Vec::with_capacity(changes.len());
        for change in changes {
            let data = serde_json::json!({
                "from": change.from.as_str(),
                "to": change.to.as_str(),
                "cause": change.cause.as_str(),
            });
            appended.push(
                append(
                    &mut tx,
                    change.at_ms,
                    AGENT_STATE,
                    None,
                    Some(&change.login),
                    &data,
                )
                .await?,
            );
            sqlx::query(
                "INSERT INTO agent_state (login, state, updated_at_ms) \
                 SELECT $1, $2, $3 WHERE EXISTS (SELECT 1 FROM agents WHERE login = $4) \
                 ON CONFLICT (login) DO UPDATE SET state = excluded.state, \
                 updated_at_ms = excluded.updated_at_ms",
            )
            .bind(change.login.as_str())
            .bind(change.to.as_str())
            .bind(change.at_ms)
            .bind(change.login.as_str())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        // Live boards (the event stream) see agents change state.
        self.publish_events(appended);
        Ok(())
    }

    /// Every agent's last recorded routing state, by login.
    pub async fn load_agent_states(&self) -> Result<HashMap<String, AgentState>, StoreError> {
        let rows = sqlx::query("SELECT login, state FROM agent_state")
            .fetch_all(&self.pool)
            .await?;
        let mut states = HashMap::with_capacity(rows.len());
        for row in rows {
            let login: String = row.try_get("login")?;
            let state: String = row.try_get("state")?;
            states.insert(login, state_from_str(&state)?);
        }
        Ok(states)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::role::Role;
    use crate::store::{NewAgent, QueueSkill};

    #[tokio::test]
    async fn state_round_trips_and_follows_the_agent() {
        let store = Store::connect("sqlite::memory:").await.unwrap();
        store.migrate().await.unwrap();
        let agent = NewAgent {
            login: "1001".into(),
            name: "A".into(),
            role: Role::ContactManager,
            password: "secret-password".into(),
            queues: vec![QueueSkill::new("general")],
            digest_algorithms: Vec::new(),
            nat: false,
        };
        store.create_agent(&agent, "hotline").await.unwrap();
        let change = |login: &str, to| AgentStateChange {
            login: login.into(),
            from: AgentState::Paused,
            to,
            cause: StateCause::Requested,
            at_ms: 4,
        };
        store
            .record_agent_states(&[
                change("1001", AgentState::Available),
                change("ghost", AgentState::Available),
                change("1001", AgentState::Paused),
            ])
            .await
            .unwrap();
        let states = store.load_agent_states().await.unwrap();
        assert_eq!(states.len(), 1);
        assert_eq!(states.get("1001"), Some(&AgentState::Paused));
        store.delete_agent("1001").await.unwrap();
        assert!(store.load_agent_states().await.unwrap().is_empty());
    }
}
