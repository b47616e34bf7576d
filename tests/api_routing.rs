//! Routing through the HTTP API of a whole server: an agent's state
//! (`PATCH /api/v1/agents/{login}/state`), the queue board, live calls,
//! transfer and hang-up, with their error answers.

mod common;

use common::sip_phone::SipPhone;
use common::{TestServer, agent, test_config};
use hotline::acd::CallId;
use hotline::config::{AgentConfig, DepartmentConfig};
use hotline::role::Role;
use hotline::routing::{CallControl, LiveCall, LiveCallState, TransferTarget};
use hotline::server;
use hotline::sip::digest::Algorithm;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;
use tokio::sync::mpsc;

const DEADLINE: Duration = Duration::from_secs(10);

fn staff() -> Vec<AgentConfig> {
    let with_role = |login: &str, role: Role| AgentConfig {
        role,
        ..agent(login, &format!("pw-{login}-secret"), &[Algorithm::Md5])
    };
    vec![
        with_role("1001", Role::ContactManager),
        with_role("1002", Role::ContactManager),
        AgentConfig {
            queues: vec![hotline::store::QueueSkill::new("admission")],
            ..with_role("2001", Role::AdmissionManager)
        },
        with_role("boss", Role::Head),
        with_role("root", Role::Admin),
    ]
}

struct Api {
    server: TestServer,
    client: reqwest::Client,
}

impl Api {
    async fn start() -> Api {
        let dir = tempfile::tempdir().unwrap();
        let mut config = test_config(&dir, staff());
        config.departments = vec![DepartmentConfig {
            name: "Accounting".into(),
            number: "301".into(),
            login: Some("boss".into()),
            queue: None,
        }];
        let running = server::start(config.clone()).await.unwrap();
        Api {
            server: TestServer {
                running,
                dir,
                config,
            },
            client: reqwest::Client::new(),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.server.running.http_addr)
    }

    async fn token(&self, login: &str) -> String {
        let r = self
            .call(
                reqwest::Method::POST,
                "/api/v1/auth/login",
                None,
                Some(json!({"username": login, "password": format!("pw-{login}-secret")})),
            )
            .await;
        assert_eq!(r.0, StatusCode::OK, "{}", r.1);
        r.1["token"].as_str().unwrap().to_string()
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self.client.request(method, self.url(path));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        let response = req.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn get(&self, path: &str, token: &str) -> (StatusCode, Value) {
        self.call(reqwest::Method::GET, path, Some(token), None)
            .await
    }

    async fn post(&self, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        self.call(reqwest::Method::POST, path, Some(token), Some(body))
            .await
    }

    async fn set_state(&self, login: &str, token: &str, state: &str) -> (StatusCode, Value) {
        self.call(
            reqwest::Method::PATCH,
            &format!("/api/v1/agents/{login}/state"),
            Some(token),
            Some(json!({ "state": state })),
        )
        .await
    }

    /// `login`'s state on the board.
    async fn board_state(&self, token: &str, login: &str) -> Option<String> {
        let (status, board) = self.get("/api/v1/queues", token).await;
        assert_eq!(status, StatusCode::OK);
        board["agents"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["login"] == login)
            .map(|a| a["state"].as_str().unwrap().to_string())
    }

    /// Waits until the board shows `login` in `state`.
    async fn wait_state(&self, token: &str, login: &str, state: &str) {
        let deadline = tokio::time::Instant::now() + DEADLINE;
        loop {
            if self.board_state(token, login).await.as_deref() == Some(state) {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{login} never became {state}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// A live call on `agent`'s desk, as the call layer registers it.
    fn live_call(&self, id: u64, agent: &str) -> mpsc::UnboundedReceiver<CallControl> {
        let (tx, rx) = mpsc::unbounded_channel();
        let mut call = LiveCall::new("+79161234567", 1_700_000_000_000, tx);
        call.queue = Some("general".into());
        call.agent = Some(agent.into());
        call.state = LiveCallState::Talking;
        call.inquiry_id = Some(format!("inq-{id}"));
        self.server.running.live_calls.insert(CallId(id), call);
        rx
    }
}

async fn register(phone: &mut SipPhone, login: &str, expires: u32) {
    let contact = phone.contact(login);
    let response = phone
        .register(
            login,
            &format!("pw-{login}-secret"),
            Some(&contact),
            Some(expires),
        )
        .await;
    assert_eq!(response.status, 200);
}

#[tokio::test]
async fn an_agent_registers_pauses_and_comes_back_through_the_api() {
    let api = Api::start().await;
    let me = api.token("1001").await;
    assert_eq!(
        api.board_state(&me, "1001").await.as_deref(),
        Some("offline")
    );
    // No phone yet: the engine refuses.
    let (status, body) = api.set_state("1001", &me, "paused").await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["error"]["code"], "agent_offline");

    let mut phone = SipPhone::udp(api.server.sip()).await;
    register(&mut phone, "1001", 300).await;
    api.wait_state(&me, "1001", "available").await;

    let (status, body) = api.set_state("1001", &me, "paused").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        json!({"login": "1001", "state": "paused", "pause_pending": false})
    );
    let (_, board) = api.get("/api/v1/queues", &me).await;
    let general = board["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["name"] == "general")
        .unwrap()
        .clone();
    assert_eq!(general["agents"]["paused"], 1);
    assert_eq!(general["waiting"], 0);

    // The head may change anyone's state.
    let boss = api.token("boss").await;
    let (status, body) = api.set_state("1001", &boss, "available").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["state"], "available");

    // Unregistering takes the agent offline.
    register(&mut phone, "1001", 0).await;
    api.wait_state(&me, "1001", "offline").await;
}

#[tokio::test]
async fn state_changes_are_refused_for_others_unknown_agents_and_bad_values() {
    let api = Api::start().await;
    let me = api.token("1001").await;
    let boss = api.token("boss").await;
    let (status, body) = api.set_state("1002", &me, "paused").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["error"]["code"], "forbidden");
    let (status, _) = api.set_state("ghost", &boss, "paused").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = api.set_state("1001", &me, "busy").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["error"]["code"], "validation_failed");
    let (status, _) = api
        .call(
            reqwest::Method::PATCH,
            "/api/v1/agents/1001/state",
            None,
            Some(json!({"state": "paused"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_board_lists_every_queue_for_any_signed_in_user() {
    let api = Api::start().await;
    let me = api.token("1001").await;
    let (status, board) = api.get("/api/v1/queues", &me).await;
    assert_eq!(status, StatusCode::OK);
    let names: Vec<&str> = board["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["general", "admission", "education"]);
    let general = &board["items"][0];
    assert_eq!(general["agents"]["offline"], 4); // 1001, 1002, boss, root
    assert_eq!(general["longest_wait_ms"], 0);
    let (status, _) = api
        .call(reqwest::Method::GET, "/api/v1/queues", None, None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // An agent created through the API joins the board.
    let root = api.token("root").await;
    let (status, _) = api
        .post(
            "/api/v1/agents",
            &root,
            json!({"login": "1003", "name": "New", "password": "new-secret-1", "queues": ["general"]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    api.wait_state(&me, "1003", "offline").await;
}

#[tokio::test]
async fn live_calls_show_managers_their_own_and_the_head_all() {
    let api = Api::start().await;
    let _first = api.live_call(1, "1001");
    let _second = api.live_call(2, "1002");
    let (status, calls) = api.get("/api/v1/calls", &api.token("boss").await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(calls["items"].as_array().unwrap().len(), 2);
    let (_, mine) = api.get("/api/v1/calls", &api.token("1001").await).await;
    let items = mine["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["id"], 1);
    assert_eq!(items[0]["agent"], "1001");
    assert_eq!(items[0]["state"], "talking");
    assert_eq!(items[0]["inquiry_id"], "inq-1");
    let caller = items[0]["caller"].as_str().unwrap();
    assert!(
        caller.ends_with("4567") && !caller.contains("916123"),
        "{caller}"
    );
}

#[tokio::test]
async fn transfer_sends_the_target_to_the_call_and_refuses_bad_requests() {
    let api = Api::start().await;
    let mut control = api.live_call(1, "1001");
    let me = api.token("1001").await;
    let (status, body) = api
        .post(
            "/api/v1/calls/1/transfer",
            &me,
            json!({"queue": "admission"}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body["target"], json!({"queue": "admission"}));
    assert_eq!(
        control.recv().await,
        Some(CallControl::Transfer(TransferTarget::Queue(
            "admission".into()
        )))
    );
    let boss = api.token("boss").await;
    let (status, _) = api
        .post("/api/v1/calls/1/transfer", &boss, json!({"agent": "2001"}))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(
        control.recv().await,
        Some(CallControl::Transfer(TransferTarget::Agent("2001".into())))
    );
    // A department by its number.
    let (status, _) = api
        .post(
            "/api/v1/calls/1/transfer",
            &boss,
            json!({"department": "301"}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(
        control.recv().await,
        Some(CallControl::Transfer(TransferTarget::Department(
            "Accounting".into()
        )))
    );

    for (body, field) in [
        (json!({"queue": "nowhere"}), "queue"),
        (json!({"agent": "ghost"}), "agent"),
        (json!({"department": "999"}), "department"),
        (json!({}), "target"),
        (json!({"queue": "general", "agent": "2001"}), "target"),
    ] {
        let (status, reply) = api.post("/api/v1/calls/1/transfer", &boss, body).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{reply}");
        assert!(reply["error"]["fields"][field].is_string(), "{reply}");
    }
    for path in ["/api/v1/calls/99/transfer", "/api/v1/calls/abc/transfer"] {
        let (status, _) = api.post(path, &boss, json!({"queue": "general"})).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
    // A manager cannot move someone else's call.
    let other = api.token("1002").await;
    let (status, _) = api
        .post(
            "/api/v1/calls/1/transfer",
            &other,
            json!({"queue": "general"}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(control.try_recv().is_err());
}

#[tokio::test]
async fn hangup_reaches_the_call_and_a_finished_call_is_not_found() {
    let api = Api::start().await;
    let mut control = api.live_call(5, "1001");
    let boss = api.token("boss").await;
    let (status, body) = api.post("/api/v1/calls/5/hangup", &boss, json!({})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body["id"], 5);
    assert_eq!(control.recv().await, Some(CallControl::Hangup));
    let other = api.token("1002").await;
    let (status, _) = api.post("/api/v1/calls/5/hangup", &other, json!({})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // The call's task ended (its receiver is gone) before the entry was removed.
    drop(control);
    let (status, _) = api.post("/api/v1/calls/5/hangup", &boss, json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    api.server.running.live_calls.remove(CallId(5));
    let (status, _) = api.post("/api/v1/calls/5/hangup", &boss, json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
