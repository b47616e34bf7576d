//! HTTP helpers for tests against the whole server (`common::TestServer`):
//! requests with or without a bearer token, logins, users of each role.
#![allow(dead_code)]

use crate::common::{TestServer, password_of};
/// Users and servers are made the same way for the API's and the console's
/// tests; re-exported so API tests need only this module.
#[allow(unused_imports)]
pub use crate::common::{start_with, user};
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub text: String,
    pub json: Value,
}

pub struct Api {
    pub base: String,
    pub client: reqwest::Client,
}

impl Api {
    pub fn new(server: &TestServer) -> Api {
        Api {
            base: server.base_url(),
            client: reqwest::Client::new(),
        }
    }

    pub async fn request(
        &self,
        method: Method,
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
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap();
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        Reply {
            status,
            headers,
            text,
            json,
        }
    }

    pub async fn get(&self, path: &str, token: &str) -> Reply {
        self.request(Method::GET, path, Some(token), None).await
    }

    pub async fn put(&self, path: &str, token: &str, body: Value) -> Reply {
        self.request(Method::PUT, path, Some(token), Some(body))
            .await
    }

    pub async fn post(&self, path: &str, token: &str, body: Option<Value>) -> Reply {
        self.request(Method::POST, path, Some(token), body).await
    }

    pub async fn try_login(&self, username: &str, password: &str) -> Reply {
        self.request(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(json!({ "username": username, "password": password })),
        )
        .await
    }

    /// Logs in as a [`user`]; panics unless it succeeds.
    pub async fn login(&self, login: &str) -> String {
        let r = self.try_login(login, &password_of(login)).await;
        assert_eq!(r.status, StatusCode::OK, "login {login}: {}", r.text);
        r.json["token"].as_str().unwrap().to_string()
    }
}

pub fn assert_error(r: &Reply, status: StatusCode, code: &str) {
    assert_eq!(r.status, status, "{}", r.text);
    assert_eq!(r.json["error"]["code"], code, "{}", r.text);
    assert!(r.json["error"]["message"].is_string(), "{}", r.text);
}
