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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::acd::{OverflowTarget, Strategy};
    use crate::config::Config;

    #[test]
    fn queue_settings_become_the_engine_config() {
        let text = "[[queues]]\nname = \"general\"\nstrategy = \"round_robin\"\nring_timeout_s = 12\nwrap_up_s = 0\nmax_wait_s = 60\noverflow = \"queue:spill\"\n\n[[queues]]\nname = \"spill\"\nmax_wait_s = 120\noverflow = \"callback\"\n";
        let config = Config::from_toml_str(text, "q.toml").unwrap();
        let engine = engine_config(&config.queues);
        let general = &engine.queues[0];
        assert_eq!(general.strategy, Strategy::RoundRobin);
        assert_eq!(general.ring_timeout, Duration::from_secs(12));
        assert_eq!(general.wrap_up, Duration::ZERO);
        assert_eq!(general.max_wait, Some(Duration::from_secs(60)));
        assert_eq!(
            general.overflow,
            Some(OverflowTarget::Queue("spill".into()))
        );
        assert_eq!(engine.queues[1].overflow, Some(OverflowTarget::Callback));
        assert_eq!(engine.queues[1].personal_ring, Duration::from_secs(20));
        assert!(Engine::new(engine).is_ok());
    }

    #[test]
    fn the_default_queues_are_the_institutes_three() {
        let names: Vec<String> = engine_config(&Config::default().queues)
            .queues
            .into_iter()
            .map(|q| q.name)
            .collect();
        assert_eq!(names, ["general", "admission", "education"]);
    }

    #[test]
    fn routing_mistakes_are_reported_where_they_are() {
        let text = "[[queues]]\nname = \"general\"\nmax_wait_s = 30\noverflow = \"queue:nowhere\"\n\n[[queues]]\nname = \"general\"\nring_timeout_s = 0\n\n[[departments]]\nname = \"Accounting\"\nnumber = \"30x\"\nlogin = \"3001\"\nqueue = \"general\"\n\n[[agents]]\nlogin = \"1001\"\nrole = \"contact_manager\"\npassword = \"pw\"\nqueues = [\"sales\"]\n";
        let error = Config::from_toml_str(text, "r.toml")
            .unwrap_err()
            .to_string();
        let expected = [
            "r.toml:20:11: queue \"sales\" is not configured in [[queues]]",
            "r.toml:4:12: overflow queue \"nowhere\" is not configured",
            "r.toml:7:8: duplicate queue name \"general\"",
            "r.toml:8:18: ring_timeout_s must be at least 1",
            "r.toml:12:10: department number \"30x\" must be digits (it is dialled)",
            "r.toml:11:8: a department needs exactly one of login (its head) or queue",
        ];
        for line in expected {
            assert!(error.contains(line), "{line:?} missing from:\n{error}");
        }
        let error = Config::from_toml_str(
            "[[queues]]\nname = \"general\"\noverflow = \"elsewhere\"\n",
            "o.toml",
        )
        .unwrap_err()
        .to_string();
        assert!(
            error.contains("o.toml:3:12: overflow \"elsewhere\" must be"),
            "{error}"
        );
    }
}
