//! The routing shell with a real engine: orders reach the call's channel at
//! the virtual instants the engine's timers say (paused tokio time), agents
//! follow registrations and requests, and a restart restores paused agents.
//!
//! With paused time the clock jumps straight to the next timer whenever
//! every task waits, so these tests assert *when* (virtual time) each order
//! arrives rather than sleeping.

use hotline::acd::{
    AcdError, AgentRequest, AgentSpec, AgentState, CallId, Engine, EngineConfig, IncomingCall,
    QueueConfig, RoutingReason,
};
use hotline::config::QueueSettings;
use hotline::routing::{self, CallOrder, Routing};
use hotline::sip::Transport;
use hotline::sip::registrar::Binding;
use hotline::store::{NewAgent, QueueSkill, Store};
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

const LONG: Duration = Duration::from_secs(3600);

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

struct Shell {
    routing: Routing,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Shell {
    /// Queues `general` and `admission` with defaults (15 s ring, 10 s
    /// wrap-up, announcements every 30 s), agents serving `general`,
    /// all registered; then the clock is paused.
    async fn start(agents: &[&str]) -> Shell {
        let store = Store::connect("sqlite::memory:").await.unwrap();
        store.migrate().await.unwrap();
        tokio::time::pause();
        let mut engine = Engine::new(EngineConfig {
            queues: vec![QueueConfig::new("general"), QueueConfig::new("admission")],
        })
        .unwrap();
        let now = Instant::now().into_std();
        for login in agents {
            engine
                .add_agent(AgentSpec::new(*login).serving("general", 1), now)
                .unwrap();
        }
        engine
            .add_agent(AgentSpec::new("adm").serving("admission", 1), now)
            .unwrap();
        let (stop, stop_rx) = watch::channel(false);
        let (routing, task) = Routing::spawn(engine, store, stop_rx);
        for login in agents {
            routing.agent_registered(login);
        }
        routing.agent_registered("adm");
        Shell {
            routing,
            stop,
            task,
        }
    }

    async fn state(&self, login: &str) -> AgentState {
        self.routing
            .snapshot()
            .await
            .agents
            .into_iter()
            .find(|a| a.login == login)
            .map(|a| a.state)
            .unwrap()
    }

    fn enter(&self, id: u64, queue: &str) -> mpsc::UnboundedReceiver<CallOrder> {
        let (tx, rx) = mpsc::unbounded_channel();
        self.routing
            .call_entered(IncomingCall::new(CallId(id), queue), tx);
        rx
    }

    async fn stop(self) {
        let _ = self.stop.send(true);
        self.task.await.unwrap();
    }
}

/// The next order other than a position announcement, and how much
/// virtual time passed until it came.
async fn next_order(rx: &mut mpsc::UnboundedReceiver<CallOrder>) -> (CallOrder, Duration) {
    let start = Instant::now();
    loop {
        let order = tokio::time::timeout(LONG, rx.recv())
            .await
            .expect("an order within the hour")
            .expect("the order channel is open");
        if !matches!(order, CallOrder::AnnouncePosition { .. }) {
            return (order, start.elapsed());
        }
    }
}

/// Tokio's timer wheel rounds deadlines up to the next millisecond.
fn assert_near(got: Duration, want: Duration) {
    assert!(
        got >= want && got <= want + Duration::from_millis(5),
        "{got:?} is not {want:?}"
    );
}

fn ring(agent: &str) -> CallOrder {
    CallOrder::Ring {
        agent: agent.into(),
        queue: "general".into(),
        reason: RoutingReason::LongestIdle,
    }
}

#[tokio::test]
async fn ring_timeout_moves_the_call_to_the_next_agent() {
    let shell = Shell::start(&["a", "b"]).await;
    let mut orders = shell.enter(1, "general");
    let (order, waited) = next_order(&mut orders).await;
    assert_eq!(order, ring("a"));
    assert!(waited < secs(1));

    // Nobody answers: after the 15 s ring timeout a's phone stops and b rings.
    let (order, waited) = next_order(&mut orders).await;
    assert_eq!(order, CallOrder::CancelRing { agent: "a".into() });
    assert_near(waited, secs(15));
    let (order, waited) = next_order(&mut orders).await;
    assert_eq!(order, ring("b"));
    assert_near(waited, Duration::ZERO);
    // An agent who lets a call ring out is paused, so the next caller does
    // not ring an empty desk.
    assert_eq!(shell.state("a").await, AgentState::Paused);
    assert_eq!(shell.state("b").await, AgentState::Ringing);

    shell.routing.agent_answered(CallId(1), "b");
    assert_eq!(
        next_order(&mut orders).await.0,
        CallOrder::Bridge { agent: "b".into() }
    );
    assert_eq!(shell.state("b").await, AgentState::Busy);
    shell.stop().await;
}

#[tokio::test]
async fn wrap_up_ends_and_the_agent_takes_the_next_caller() {
    let shell = Shell::start(&["a"]).await;
    let mut first = shell.enter(1, "general");
    assert_eq!(next_order(&mut first).await.0, ring("a"));
    shell.routing.agent_answered(CallId(1), "a");
    assert_eq!(
        next_order(&mut first).await.0,
        CallOrder::Bridge { agent: "a".into() }
    );
    tokio::time::advance(secs(60)).await;
    shell.routing.call_ended(CallId(1));
    assert_eq!(shell.state("a").await, AgentState::WrapUp);

    // A caller arriving during wrap-up rings a the moment it ends (10 s).
    let mut second = shell.enter(2, "general");
    let (order, waited) = next_order(&mut second).await;
    assert_eq!(order, ring("a"));
    assert_near(waited, secs(10));
    shell.routing.caller_hung_up(CallId(2));
    let (order, _) = next_order(&mut second).await;
    assert_eq!(order, CallOrder::CancelRing { agent: "a".into() });
    assert!(matches!(
        next_order(&mut second).await.0,
        CallOrder::Abandoned { .. }
    ));
    assert_eq!(shell.state("a").await, AgentState::Available);
    shell.stop().await;
}

#[tokio::test]
async fn registration_makes_an_agent_reachable_and_its_loss_offline() {
    let shell = Shell::start(&["a"]).await;
    shell.routing.agent_unregistered("a");
    assert_eq!(shell.state("a").await, AgentState::Offline);
    // Requests from an agent without a phone are refused.
    assert_eq!(
        shell
            .routing
            .agent_request("a", AgentRequest::Available)
            .await,
        Err(AcdError::NotRegistered("a".into()))
    );
    assert_eq!(
        shell
            .routing
            .agent_request("ghost", AgentRequest::Pause)
            .await,
        Err(AcdError::UnknownAgent("ghost".into()))
    );

    // A caller waits; the agent's phone registers an hour later: it rings.
    let mut orders = shell.enter(1, "general");
    tokio::time::advance(LONG).await;
    shell.routing.agent_registered("a");
    assert_eq!(next_order(&mut orders).await.0, ring("a"));
    // Repeated reports of the same registration change nothing.
    shell.routing.agent_registered("a");
    assert_eq!(shell.state("a").await, AgentState::Ringing);

    // The phone unregisters while ringing: the offer is withdrawn.
    shell.routing.agent_unregistered("a");
    assert_eq!(
        next_order(&mut orders).await.0,
        CallOrder::CancelRing { agent: "a".into() }
    );
    assert_eq!(shell.state("a").await, AgentState::Offline);
    shell.stop().await;
}

#[tokio::test]
async fn pause_and_available_requests_change_the_state() {
    let shell = Shell::start(&["a"]).await;
    let paused = shell.routing.agent_request("a", AgentRequest::Pause).await;
    assert_eq!(paused, Ok(AgentState::Paused));
    // A paused agent is not rung ...
    let mut orders = shell.enter(1, "general");
    tokio::time::advance(secs(5)).await;
    assert_eq!(shell.state("a").await, AgentState::Paused);
    // ... until *50.
    let available = shell
        .routing
        .agent_request("a", AgentRequest::Available)
        .await;
    assert!(available.is_ok());
    assert_eq!(next_order(&mut orders).await.0, ring("a"));
    shell.stop().await;
}

#[tokio::test]
async fn a_call_whose_channel_closed_is_hung_up_and_frees_its_agent() {
    let shell = Shell::start(&["a"]).await;
    let mut orders = shell.enter(1, "general");
    assert_eq!(next_order(&mut orders).await.0, ring("a"));
    // The call's task dies without telling routing.
    drop(orders);
    // At the ring timeout the cancel cannot be delivered: routing treats
    // the call as hung up, and nothing waits in the queue any more.
    tokio::time::sleep(secs(16)).await;
    let snapshot = shell.routing.snapshot().await;
    let general = snapshot
        .queues
        .iter()
        .find(|q| q.name == "general")
        .unwrap();
    assert_eq!(general.waiting, 0);
    assert!(snapshot.agents.iter().all(|a| a.call.is_none()));
    shell.stop().await;
}

#[tokio::test]
async fn an_unknown_queue_closes_the_orders_channel() {
    let shell = Shell::start(&["a"]).await;
    let mut orders = shell.enter(1, "nowhere");
    assert_eq!(orders.recv().await, None);
    shell.stop().await;
}

#[tokio::test]
async fn transfer_to_a_queue_rings_there_and_sends_later_orders_to_the_new_channel() {
    let shell = Shell::start(&["a"]).await;
    let mut orders = shell.enter(1, "general");
    assert_eq!(next_order(&mut orders).await.0, ring("a"));
    shell.routing.agent_answered(CallId(1), "a");
    assert_eq!(
        next_order(&mut orders).await.0,
        CallOrder::Bridge { agent: "a".into() }
    );
    let (tx, mut moved) = mpsc::unbounded_channel();
    shell
        .routing
        .transfer_to_queue(CallId(1), "admission", tx)
        .await
        .unwrap();
    assert_eq!(
        next_order(&mut moved).await.0,
        CallOrder::Ring {
            agent: "adm".into(),
            queue: "admission".into(),
            reason: RoutingReason::LongestIdle
        }
    );
    assert_eq!(shell.state("a").await, AgentState::WrapUp);
    let (tx, _) = mpsc::unbounded_channel();
    assert_eq!(
        shell
            .routing
            .transfer_to_queue(CallId(9), "admission", tx)
            .await,
        Err(AcdError::UnknownCall(CallId(9)))
    );
    let (tx, _) = mpsc::unbounded_channel();
    assert_eq!(
        shell.routing.transfer_to_agent(CallId(1), "a", tx).await,
        Err(AcdError::AgentUnavailable("a".into()))
    );
    shell.stop().await;
}

async fn file_store(dir: &tempfile::TempDir) -> Store {
    let url = format!("sqlite://{}", dir.path().join("hotline.db").display());
    let store = Store::connect(&url).await.unwrap();
    store.migrate().await.unwrap();
    store
}

fn binding(login: &str, expires_at_ms: i64) -> Binding {
    Binding {
        login: login.into(),
        contact: format!("<sip:{login}@127.0.0.1:5070>"),
        expires_at_ms,
        call_id: "c1".into(),
        cseq: 1,
        source: "127.0.0.1:5070".parse().unwrap(),
        transport: Transport::Udp,
        nat: false,
        q: None,
        user_agent: None,
    }
}

/// Real time: the store is written by the actor's writer task.
#[tokio::test]
async fn a_restart_restores_a_paused_agent_and_the_events_record_each_change() {
    let dir = tempfile::tempdir().unwrap();
    let store = file_store(&dir).await;
    for login in ["1001", "1002"] {
        store
            .create_agent(
                &NewAgent {
                    login: login.into(),
                    name: login.into(),
                    role: hotline::role::Role::ContactManager,
                    password: "secret-password".into(),
                    queues: vec![QueueSkill::new("general")],
                    digest_algorithms: Vec::new(),
                    nat: false,
                },
                "hotline",
            )
            .await
            .unwrap();
    }
    let now_ms = 1_700_000_000_000;
    store
        .save_binding(&binding("1001", i64::MAX))
        .await
        .unwrap();
    store
        .save_binding(&binding("1002", i64::MAX))
        .await
        .unwrap();
    let queues = vec![QueueSettings::new("general")];

    let (stop, stop_rx) = watch::channel(false);
    let (routing, task) = routing::start(&queues, store.clone(), now_ms, stop_rx)
        .await
        .unwrap();
    let state = |routing: Routing, login: &'static str| async move {
        routing
            .snapshot()
            .await
            .agents
            .into_iter()
            .find(|a| a.login == login)
            .map(|a| a.state)
    };
    assert_eq!(
        state(routing.clone(), "1001").await,
        Some(AgentState::Available)
    );
    assert_eq!(
        routing.agent_request("1001", AgentRequest::Pause).await,
        Ok(AgentState::Paused)
    );
    // 1002 is mid-call when the server stops.
    let (tx, _rx) = mpsc::unbounded_channel();
    routing.call_entered(IncomingCall::new(CallId(1), "general"), tx);
    routing.agent_answered(CallId(1), "1002");
    assert_eq!(state(routing.clone(), "1002").await, Some(AgentState::Busy));
    let _ = stop.send(true);
    task.await.unwrap();

    let (stop, stop_rx) = watch::channel(false);
    let (routing, task) = routing::start(&queues, store.clone(), now_ms, stop_rx)
        .await
        .unwrap();
    assert_eq!(
        state(routing.clone(), "1001").await,
        Some(AgentState::Paused)
    );
    // The call did not survive; its agent is free again.
    assert_eq!(
        state(routing.clone(), "1002").await,
        Some(AgentState::Available)
    );
    let _ = stop.send(true);
    task.await.unwrap();

    let url = format!("sqlite://{}", dir.path().join("hotline.db").display());
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&url).await.unwrap();
    let rows: Vec<(String, String)> =
        sqlx::query_as("SELECT agent, data FROM events WHERE kind = 'agent.state' ORDER BY id")
            .fetch_all(&pool)
            .await
            .unwrap();
    let of = |login: &str| -> Vec<serde_json::Value> {
        rows.iter()
            .filter(|(agent, _)| agent == login)
            .map(|(_, data)| serde_json::from_str(data).unwrap())
            .collect()
    };
    let first = of("1001");
    assert_eq!(
        first[0],
        serde_json::json!({"from": "offline", "to": "available", "cause": "restart"})
    );
    assert_eq!(
        first[1],
        serde_json::json!({"from": "available", "to": "paused", "cause": "requested"})
    );
    let second: Vec<String> = of("1002")
        .iter()
        .map(|d| d["to"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        second,
        ["available", "ringing", "busy", "available"].map(String::from)
    );
    assert_eq!(of("1002").last().unwrap()["cause"], "restart");
}

/// Real time: agents change through the API while routing runs.
#[tokio::test]
async fn agents_created_changed_and_deleted_follow_into_routing() {
    let dir = tempfile::tempdir().unwrap();
    let store = file_store(&dir).await;
    let queues = vec![
        QueueSettings::new("general"),
        QueueSettings::new("admission"),
    ];
    let (stop, stop_rx) = watch::channel(false);
    let (routing, task) = routing::start(&queues, store.clone(), 0, stop_rx)
        .await
        .unwrap();
    let members = |routing: Routing, queue: &'static str| async move {
        let snapshot = routing.snapshot().await;
        let q = snapshot
            .queues
            .into_iter()
            .find(|q| q.name == queue)
            .unwrap();
        AgentState::ALL
            .into_iter()
            .map(|s| q.agents.get(s))
            .sum::<usize>()
    };
    // A phone that registered a moment before its agent reached routing.
    routing.agent_registered("n1");
    routing.agent_upserted(
        AgentSpec::new("n1")
            .serving("general", 1)
            .serving("sales", 1),
    );
    assert_eq!(members(routing.clone(), "general").await, 1);
    assert_eq!(
        routing.agent_request("n1", AgentRequest::Pause).await,
        Ok(AgentState::Paused)
    );
    // Moved to admission: applied at once, as no call is in routing.
    routing.agent_upserted(AgentSpec::new("n1").serving("admission", 2));
    assert_eq!(members(routing.clone(), "general").await, 0);
    assert_eq!(members(routing.clone(), "admission").await, 1);
    let snapshot = routing.snapshot().await;
    assert_eq!(snapshot.agents[0].state, AgentState::Paused);

    // While a call is in routing a queue change applies too (the next
    // call of a queue must reach its new member); the call ringing n1
    // keeps ringing them.
    assert!(
        routing
            .agent_request("n1", AgentRequest::Available)
            .await
            .is_ok()
    );
    let (tx, mut orders) = mpsc::unbounded_channel();
    routing.call_entered(IncomingCall::new(CallId(1), "admission"), tx);
    assert!(matches!(orders.recv().await, Some(CallOrder::Ring { .. })));
    routing.agent_upserted(AgentSpec::new("n1").serving("general", 1));
    assert_eq!(members(routing.clone(), "general").await, 1);
    assert_eq!(members(routing.clone(), "admission").await, 0);
    assert_eq!(
        routing.snapshot().await.agents[0].state,
        AgentState::Ringing
    );
    routing.caller_hung_up(CallId(1));
    assert_eq!(members(routing.clone(), "general").await, 1);
    assert_eq!(
        routing.snapshot().await.agents[0].state,
        AgentState::Available
    );

    routing.agent_deleted("n1");
    assert!(routing.snapshot().await.agents.is_empty());
    let _ = stop.send(true);
    task.await.unwrap();
}
