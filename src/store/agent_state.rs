//! The last routing state of each agent, so that a restart restores who was
//! paused (ARCHITECTURE §5: no restart leaves an agent stuck, and none
//! silently un-pauses an operator who stepped away).

use super::{Store, StoreError, is_foreign_key_violation};
use crate::acd::AgentState;
use sqlx::Row;
use std::collections::HashMap;

/// Reads a state name written by [`Store::save_agent_state`].
fn state_from_str(s: &str) -> Result<AgentState, StoreError> {
    AgentState::ALL
        .into_iter()
        .find(|state| state.as_str() == s)
        .ok_or_else(|| StoreError::Corrupt(format!("agent_state.state {s:?}")))
}

impl Store {
    /// Records `login`'s current routing state. `NotFound` when the agent
    /// no longer exists (deleted while a change was on its way).
    pub async fn save_agent_state(
        &self,
        login: &str,
        state: AgentState,
        at_ms: i64,
    ) -> Result<(), StoreError> {
        let result = sqlx::query(
            "INSERT INTO agent_state (login, state, updated_at_ms) VALUES ($1, $2, $3) \
             ON CONFLICT (login) DO UPDATE SET state = excluded.state, \
             updated_at_ms = excluded.updated_at_ms",
        )
        .bind(login)
        .bind(state.as_str())
        .bind(at_ms)
        .execute(&self.pool)
        .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if is_foreign_key_violation(&e) => Err(StoreError::NotFound),
            Err(e) => Err(e.into()),
        }
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
        store
            .save_agent_state("1001", AgentState::Available, 1)
            .await
            .unwrap();
        store
            .save_agent_state("1001", AgentState::Paused, 2)
            .await
            .unwrap();
        let states = store.load_agent_states().await.unwrap();
        assert_eq!(states.get("1001"), Some(&AgentState::Paused));
        assert!(matches!(
            store.save_agent_state("ghost", AgentState::Paused, 3).await,
            Err(StoreError::NotFound)
        ));
        store.delete_agent("1001").await.unwrap();
        assert!(store.load_agent_states().await.unwrap().is_empty());
    }
}
