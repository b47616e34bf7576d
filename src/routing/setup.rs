//! Building the routing engine at start from the configuration and the
//! store, and keeping its agents in step with the API.

use super::Routing;
use crate::acd::{AgentSpec, AgentState, Engine, EngineConfig, PersistedAgent, QueueConfig};
use crate::api::AgentEvent;
use crate::config::QueueSettings;
use crate::store::{Agent, Store};
use anyhow::Context;
use std::collections::HashSet;
use std::time::Duration;
use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;

/// The engine's queue settings from `[[queues]]`. The config is validated
/// before this runs; an overflow it could not read is left out (logged).
pub fn engine_config(queues: &[QueueSettings]) -> EngineConfig {
    EngineConfig {
        queues: queues
            .iter()
            .map(|q| {
                let mut config = QueueConfig::new(q.name.clone()).with_strategy(q.strategy);
                config.ring_timeout = Duration::from_secs(q.ring_timeout_s);
                config.wrap_up = Duration::from_secs(q.wrap_up_s);
                config.personal_ring = Duration::from_secs(q.personal_ring_s);
                config.announce_every = Duration::from_secs(q.announce_every_s);
                match (q.max_wait_s, q.overflow_target()) {
                    (Some(wait), Ok(Some(target))) => {
                        config = config.with_overflow(Duration::from_secs(wait), target);
                    }
                    (_, Err(e)) => tracing::warn!(queue = %q.name, error = %e, "overflow ignored"),
                    _ => {}
                }
                config
            })
            .collect(),
    }
}

/// An agent as the engine sees it: queues the engine does not have are
/// left out (an agent saved through the API may name one).
fn spec_of(agent: &Agent, queues: &HashSet<&str>) -> AgentSpec {
    let mut spec = AgentSpec::new(agent.login.clone());
    for membership in &agent.queues {
        if queues.contains(membership.queue.as_str()) {
            spec = spec.serving(membership.queue.clone(), membership.skill);
        } else {
            tracing::warn!(login = %agent.login, queue = %membership.queue, "agent serves an unconfigured queue; ignored");
        }
    }
    spec
}

/// Builds the engine from the store (every agent with its queues, who has
/// a live registration, the state each was last in) and spawns the actor.
/// A paused agent comes back paused; one who was on a call comes back
/// available (the call did not survive the restart).
pub async fn start(
    queues: &[QueueSettings],
    store: Store,
    now_ms: i64,
    stop: watch::Receiver<bool>,
) -> anyhow::Result<(Routing, JoinHandle<()>)> {
    let config = engine_config(queues);
    let names: HashSet<&str> = config.queues.iter().map(|q| q.name.as_str()).collect();
    let agents = store.list_agents().await.context("loading agents")?;
    let states = store
        .load_agent_states()
        .await
        .context("loading agent states")?;
    let registered: HashSet<String> = store
        .load_bindings(now_ms)
        .await
        .context("loading registrations")?
        .into_iter()
        .map(|b| b.login)
        .collect();
    let persisted = agents
        .iter()
        .map(|agent| PersistedAgent {
            spec: spec_of(agent, &names),
            registered: registered.contains(&agent.login),
            state: states
                .get(&agent.login)
                .copied()
                .unwrap_or(AgentState::Offline),
            calls_today: 0,
        })
        .collect();
    let (engine, restored) = Engine::restore(config.clone(), persisted, now_of_tokio())
        .context("building the routing engine")?;
    Ok(Routing::spawn_with(
        engine,
        Some(config),
        restored,
        store,
        stop,
    ))
}

fn now_of_tokio() -> std::time::Instant {
    tokio::time::Instant::now().into_std()
}

/// Applies agent changes made through the API to routing: a new agent
/// joins its queues, a changed one is rebuilt, a deleted one stops taking
/// calls. Ends when `stop` turns true or the channel closes.
pub fn follow_agent_events(
    routing: Routing,
    store: Store,
    mut events: broadcast::Receiver<AgentEvent>,
    mut stop: watch::Receiver<bool>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let event = tokio::select! {
                event = events.recv() => event,
                _ = stop.changed() => return,
            };
            match event {
                Ok(AgentEvent::Changed(login)) => match store.get_agent(&login).await {
                    Ok(Some(agent)) => routing.agent_upserted(full_spec(&agent)),
                    Ok(None) => routing.agent_deleted(&login),
                    Err(e) => tracing::error!(error = %e, "cannot reload an agent for routing"),
                },
                Ok(AgentEvent::Deleted(login)) => routing.agent_deleted(&login),
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    // Missed changes: offer every agent again; unchanged
                    // ones are no-ops.
                    match store.list_agents().await {
                        Ok(agents) => {
                            for agent in &agents {
                                routing.agent_upserted(full_spec(agent));
                            }
                        }
                        Err(e) => tracing::error!(error = %e, "cannot reload agents for routing"),
                    }
                }
                Err(broadcast::error::RecvError::Closed) => return,
            }
        }
    })
}

/// Every queue the agent lists; the actor drops those it does not have.
fn full_spec(agent: &Agent) -> AgentSpec {
    agent
        .queues
        .iter()
        .fold(AgentSpec::new(agent.login.clone()), |spec, m| {
            spec.serving(m.queue.clone(), m.skill)
        })
}
