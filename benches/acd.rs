//! Cost of one routing decision of the ACD engine with 50 agents and 1 000
//! callers waiting. Goal: well under 1 ms; aimed at microseconds, since the
//! decision is linear in a queue's agents and logarithmic in its callers.

use criterion::{Criterion, black_box, criterion_group, criterion_main};
use hotline::acd::{
    AgentRequest, AgentSpec, CallId, Command, Engine, EngineConfig, IncomingCall, QueueConfig,
};
use std::time::{Duration, Instant};

const AGENTS: usize = 50;
const WAITING: u64 = 1_000;

fn login(i: usize) -> String {
    format!("agent{i:02}")
}

/// 50 agents in `general`, all registered and available.
fn engine_with_agents(now: Instant) -> Engine {
    let mut engine = Engine::new(EngineConfig {
        queues: vec![QueueConfig::new("general")],
    })
    .unwrap();
    for i in 0..AGENTS {
        engine
            .add_agent(
                AgentSpec::new(login(i)).serving("general", (i % 3) as u8),
                now,
            )
            .unwrap();
        engine.agent_registered(&login(i), now).unwrap();
    }
    engine
}

/// 49 agents talking, the last one paused, and 1 000 callers in line.
fn busy_engine(now: Instant) -> Engine {
    let mut engine = engine_with_agents(now);
    engine
        .agent_request(&login(AGENTS - 1), AgentRequest::Pause, now)
        .unwrap();
    for id in 0..(AGENTS as u64 - 1) + WAITING {
        let call = IncomingCall {
            priority: (id % 3) as u8,
            has_open_inquiry: id % 5 == 0,
            ..IncomingCall::new(CallId(id), "general")
        };
        for command in engine.call_entered(call, now).unwrap() {
            if let Command::RingAgent { call, agent, .. } = command {
                engine.agent_answered(call, &agent, now);
            }
        }
    }
    assert_eq!(engine.snapshot(now).queues[0].waiting, WAITING as usize);
    engine
}

fn routing(c: &mut Criterion) {
    let now = Instant::now();
    let later = now + Duration::from_secs(60);

    // An agent frees up: the best of 1 000 waiting callers rings them. The
    // agent then declines, which puts the caller back in place and scans the
    // queue's 50 agents for the next one: two decisions per iteration.
    let mut engine = busy_engine(now);
    let free = login(AGENTS - 1);
    c.bench_function("acd: agent frees up, 1000 waiting (+ decline)", |b| {
        b.iter(|| {
            let out = engine
                .agent_request(&free, AgentRequest::Available, later)
                .unwrap();
            let Some(Command::RingAgent { call, .. }) =
                out.iter().find(|c| matches!(c, Command::RingAgent { .. }))
            else {
                panic!("nobody rung: {out:?}");
            };
            black_box(engine.agent_declined(*call, &free, later));
        })
    });

    // A caller arrives behind 1 000 others with every agent busy: placed in
    // line and told their position; then hangs up.
    let mut engine = busy_engine(now);
    let mut next = 1_000_000;
    c.bench_function("acd: call enters behind 1000 waiting (+ hang-up)", |b| {
        b.iter(|| {
            next += 1;
            let call = IncomingCall::new(CallId(next), "general");
            black_box(engine.call_entered(call, later).unwrap());
            black_box(engine.caller_hung_up(CallId(next), later));
        })
    });

    // A caller arrives with all 50 agents available: longest-idle picks
    // among all 50; then the caller hangs up while it rings.
    let mut engine = engine_with_agents(now);
    let mut next = 0;
    c.bench_function(
        "acd: call enters, pick among 50 available (+ hang-up)",
        |b| {
            b.iter(|| {
                next += 1;
                let call = IncomingCall::new(CallId(next), "general");
                black_box(engine.call_entered(call, later).unwrap());
                black_box(engine.caller_hung_up(CallId(next), later));
            })
        },
    );
}

criterion_group!(benches, routing);
criterion_main!(benches);
