//! Runs the real API router on 127.0.0.1:0 over a temp-file SQLite database
//! and talks to it with reqwest.

#![allow(dead_code)]

use hotline::api::{AgentEvent, AppState, router};
use hotline::role::Role;
use hotline::store::{NewAgent, QueueSkill, Store};
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::Value;
use std::path::{Path, PathBuf};
use tokio::sync::broadcast;
use tokio::task::JoinHandle;

pub const REALM: &str = "hotline";
pub const ADMIN_PASSWORD: &str = "admin-password";

pub struct TestServer {
    pub base: String,
    pub store: Store,
    pub client: reqwest::Client,
    pub events: broadcast::Receiver<AgentEvent>,
    serve: JoinHandle<()>,
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    /// The raw body, to assert on what must never appear in it.
    pub text: String,
    pub json: Value,
}

pub fn db_url(path: &Path) -> String {
    format!("sqlite://{}", path.display())
}

/// A fresh temp directory with the database path inside.
pub fn temp_db() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hotline.db");
    (dir, path)
}

impl TestServer {
    /// Opens (creating if needed) the database at `path`, migrates, makes
    /// sure `admin` exists with [`ADMIN_PASSWORD`] and serves the API.
    pub async fn start(path: &Path) -> TestServer {
        let store = Store::connect(&db_url(path)).await.unwrap();
        store.migrate().await.unwrap();
        store
            .ensure_admin(Some(ADMIN_PASSWORD), REALM)
            .await
            .unwrap();
        let (agent_events, events) = broadcast::channel(64);
        let app = router(AppState {
            store: store.clone(),
            realm: REALM.to_string(),
            token_ttl_s: 3600,
            agent_events,
            channels: Default::default(),
            recordings_dir: Default::default(),
            routing: None,
            reports: Default::default(),
            lockout: hotline::store::LoginLockout::default(),
            metrics: Default::default(),
            stopping: tokio::sync::watch::channel(false).1,
            calendar: Default::default(),
            ivr: None,
            board_today: Default::default(),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let serve = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        TestServer {
            base: format!("http://{addr}"),
            store,
            client: reqwest::Client::new(),
            events,
            serve,
        }
    }

    /// Stops serving and closes the database, as a process exit would.
    pub async fn stop(self) {
        self.serve.abort();
        let _ = self.serve.await;
        self.store.close().await;
    }

    pub async fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let mut req = self.client.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        into_reply(req.send().await.unwrap()).await
    }

    pub async fn get(&self, path: &str, token: &str) -> Reply {
        self.request(reqwest::Method::GET, path, Some(token), None)
            .await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> Reply {
        self.request(reqwest::Method::POST, path, Some(token), Some(body))
            .await
    }

    pub async fn patch(&self, path: &str, token: &str, body: Value) -> Reply {
        self.request(reqwest::Method::PATCH, path, Some(token), Some(body))
            .await
    }

    pub async fn delete(&self, path: &str, token: &str) -> Reply {
        self.request(reqwest::Method::DELETE, path, Some(token), None)
            .await
    }

    pub async fn try_login(&self, username: &str, password: &str) -> Reply {
        self.request(
            reqwest::Method::POST,
            "/api/v1/auth/login",
            None,
            Some(serde_json::json!({ "username": username, "password": password })),
        )
        .await
    }

    /// Logs in and returns the token; panics unless the login succeeds.
    pub async fn login(&self, username: &str, password: &str) -> String {
        let r = self.try_login(username, password).await;
        assert_eq!(r.status, StatusCode::OK, "login {username}: {}", r.text);
        r.json["token"].as_str().unwrap().to_string()
    }

    pub async fn admin_token(&self) -> String {
        self.login("admin", ADMIN_PASSWORD).await
    }

    /// Creates an agent directly in the store and returns its token.
    pub async fn user_with_role(&self, login: &str, role: Role) -> String {
        let password = format!("{login}-password");
        self.store
            .create_agent(
                &NewAgent {
                    login: login.to_string(),
                    name: format!("User {login}"),
                    role,
                    password: password.clone(),
                    queues: vec![QueueSkill {
                        queue: "general".into(),
                        skill: 1,
                    }],
                    digest_algorithms: vec![],
                    nat: false,
                },
                REALM,
            )
            .await
            .unwrap();
        self.login(login, &password).await
    }
}

pub async fn into_reply(resp: reqwest::Response) -> Reply {
    let status = resp.status();
    let headers = resp.headers().clone();
    let text = resp.text().await.unwrap();
    let json = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::Null)
    };
    Reply {
        status,
        headers,
        text,
        json,
    }
}
