//! The HTTP API over a real socket: auth, roles, agent CRUD, registrations,
//! error shapes, and persistence across a restart.

#[path = "common/api_helpers.rs"]
mod api_helpers;

use api_helpers::{ADMIN_PASSWORD, REALM, Reply, TestServer, temp_db};
use hotline::api::AgentEvent;
use hotline::role::Role;
use hotline::sip::Transport;
use hotline::sip::registrar::Binding;
use hotline::store::Store;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn anna() -> Value {
    json!({
        "login": "anna",
        "name": "Anna Petrova",
        "role": "contact_manager",
        "password": "anna-secret-1",
        "queues": ["general", {"queue": "admission", "skill": 5}],
        "digest_algorithms": ["SHA-256", "MD5"]
    })
}

/// The secrets that must never appear in a response.
fn assert_no_secrets(r: &Reply) {
    for needle in ["password", "ha1", "argon2", "anna-secret-1", ADMIN_PASSWORD] {
        assert!(
            !r.text.to_lowercase().contains(needle),
            "response leaks {needle:?}: {}",
            r.text
        );
    }
}

fn assert_error(r: &Reply, status: StatusCode, code: &str) {
    assert_eq!(r.status, status, "{}", r.text);
    assert_eq!(r.json["error"]["code"], code, "{}", r.text);
    assert!(r.json["error"]["message"].is_string(), "{}", r.text);
    assert!(r.json["error"]["fields"].is_object(), "{}", r.text);
}

fn binding(login: &str, contact: &str, expires_at_ms: i64) -> Binding {
    Binding {
        login: login.into(),
        contact: contact.into(),
        expires_at_ms,
        call_id: "c1@phone".into(),
        cseq: 1,
        source: "192.0.2.7:5060".parse().unwrap(),
        transport: Transport::Udp,
        nat: false,
        q: None,
        user_agent: Some("baresip v1.0".into()),
    }
}

async fn next_event(server: &mut TestServer) -> AgentEvent {
    tokio::time::timeout(Duration::from_secs(5), server.events.recv())
        .await
        .expect("no agent event within 5 s")
        .unwrap()
}

#[tokio::test]
async fn healthz_answers_ok() {
    let (_dir, db) = temp_db();
    let s = TestServer::start(&db).await;
    let r = s
        .request(reqwest::Method::GET, "/healthz", None, None)
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json, json!({"status": "ok"}));
    s.store.close().await;
    let r = s
        .request(reqwest::Method::GET, "/healthz", None, None)
        .await;
    assert_eq!(
        r.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "closed database is reported"
    );
}

#[tokio::test]
async fn login_gives_a_token_only_for_the_right_password() {
    let (_dir, db) = temp_db();
    let s = TestServer::start(&db).await;
    let ok = s.try_login("admin", ADMIN_PASSWORD).await;
    assert_eq!(ok.status, StatusCode::OK);
    let token = ok.json["token"].as_str().unwrap();
    assert_eq!(token.len(), 64);
    assert!(token.bytes().all(|b| b.is_ascii_hexdigit()));
    assert!(ok.json["expires_at"].as_str().unwrap().ends_with('Z'));
    assert_no_secrets(&ok);

    let wrong = s.try_login("admin", "wrong-password").await;
    let unknown = s.try_login("nobody", "wrong-password").await;
    assert_error(&wrong, StatusCode::UNAUTHORIZED, "invalid_credentials");
    assert_eq!(
        wrong.text, unknown.text,
        "unknown user looks like a wrong password"
    );
    assert_eq!(unknown.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn missing_or_bad_token_gets_401_with_a_bearer_challenge() {
    let (_dir, db) = temp_db();
    let s = TestServer::start(&db).await;
    let none = s
        .request(reqwest::Method::GET, "/api/v1/agents", None, None)
        .await;
    assert_error(&none, StatusCode::UNAUTHORIZED, "unauthenticated");
    let challenge = none.headers["www-authenticate"].to_str().unwrap();
    assert!(challenge.starts_with("Bearer"), "{challenge}");

    let bad = s.get("/api/v1/agents", "0123456789abcdef").await;
    assert_error(&bad, StatusCode::UNAUTHORIZED, "invalid_token");
    assert!(
        bad.headers["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("invalid_token")
    );

    let basic = s
        .client
        .get(format!("{}/api/v1/agents", s.base))
        .basic_auth("admin", Some(ADMIN_PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(basic.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn admin_creates_reads_updates_and_deletes_an_agent() {
    let (_dir, db) = temp_db();
    let mut s = TestServer::start(&db).await;
    let admin = s.admin_token().await;

    let created = s.post("/api/v1/agents", &admin, anna()).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    assert_no_secrets(&created);
    let a = &created.json;
    assert_eq!(a["login"], "anna");
    assert_eq!(a["name"], "Anna Petrova");
    assert_eq!(a["role"], "contact_manager");
    assert_eq!(
        a["queues"],
        json!([{"queue": "general", "skill": 1}, {"queue": "admission", "skill": 5}])
    );
    assert_eq!(a["digest_algorithms"], json!(["SHA-256", "MD5"]));
    assert_eq!(a["nat"], false);
    assert_eq!(a["state"], "offline");
    assert_eq!(a["registrations"], json!([]));
    assert_eq!(next_event(&mut s).await, AgentEvent::Changed("anna".into()));

    let got = s.get("/api/v1/agents/anna", &admin).await;
    assert_eq!(got.status, StatusCode::OK);
    assert_eq!(got.json, created.json);

    let patched = s
        .patch(
            "/api/v1/agents/anna",
            &admin,
            json!({"name": "Anna P.", "nat": true, "password": "new-anna-pass"}),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.text);
    assert_no_secrets(&patched);
    assert_eq!(patched.json["name"], "Anna P.");
    assert_eq!(patched.json["nat"], true);
    assert_eq!(
        patched.json["role"], "contact_manager",
        "untouched fields stay"
    );
    assert_eq!(next_event(&mut s).await, AgentEvent::Changed("anna".into()));
    // The new password opens the API; the old one no longer does.
    let anna_token = s.login("anna", "new-anna-pass").await;
    assert_eq!(
        s.try_login("anna", "anna-secret-1").await.status,
        StatusCode::UNAUTHORIZED
    );

    let list = s.get("/api/v1/agents", &admin).await;
    assert_eq!(list.status, StatusCode::OK);
    assert_no_secrets(&list);
    let logins: Vec<_> = list.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["login"].as_str().unwrap())
        .collect();
    assert_eq!(logins, ["admin", "anna"]);
    assert_eq!(list.json["next_cursor"], Value::Null);

    let deleted = s.delete("/api/v1/agents/anna", &admin).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    assert!(deleted.text.is_empty());
    assert_eq!(next_event(&mut s).await, AgentEvent::Deleted("anna".into()));
    assert_error(
        &s.get("/api/v1/agents/anna", &admin).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_error(
        &s.delete("/api/v1/agents/anna", &admin).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_error(
        &s.patch("/api/v1/agents/anna", &admin, json!({"name": "x"}))
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    // A deleted agent's token dies with it.
    assert_error(
        &s.get("/api/v1/agents/anna", &anna_token).await,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    );

    // Each change of a user is on the audit log, without the password.
    let audit = s
        .get("/api/v1/audit?object_kind=agent&object_id=anna", &admin)
        .await;
    assert_eq!(audit.status, StatusCode::OK, "{}", audit.text);
    let rows: Vec<(String, String)> = audit.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["action"].as_str().unwrap().to_owned(),
                r["detail"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            ("delete".to_owned(), String::new()),
            ("update".to_owned(), "name, password, nat".to_owned()),
            ("create".to_owned(), "role=contact_manager".to_owned()),
        ],
        "newest first"
    );
    assert!(!audit.text.contains("new-anna-pass"));
}

#[tokio::test]
async fn duplicate_login_is_a_conflict() {
    let (_dir, db) = temp_db();
    let s = TestServer::start(&db).await;
    let admin = s.admin_token().await;
    assert_eq!(
        s.post("/api/v1/agents", &admin, anna()).await.status,
        StatusCode::CREATED
    );
    let again = s.post("/api/v1/agents", &admin, anna()).await;
    assert_error(&again, StatusCode::CONFLICT, "login_taken");
}

#[tokio::test]
async fn invalid_agents_get_422_with_every_field_named() {
    let (_dir, db) = temp_db();
    let s = TestServer::start(&db).await;
    let admin = s.admin_token().await;

    let mut body = anna();
    body["login"] = json!("Anna Petrova");
    body["password"] = json!("short");
    let r = s.post("/api/v1/agents", &admin, body).await;
    assert_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    let fields = r.json["error"]["fields"].as_object().unwrap();
    assert!(
        fields["login"].as_str().unwrap().contains("a-z"),
        "{}",
        r.text
    );
    assert!(
        fields["password"].as_str().unwrap().contains("at least 8"),
        "{}",
        r.text
    );
    assert_eq!(fields.len(), 2, "{}", r.text);

    let r = s
        .post(
            "/api/v1/agents",
            &admin,
            json!({"role": "pope", "digest_algorithms": ["SHA-1"], "queues": ["Bad Queue"]}),
        )
        .await;
    assert_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    let fields = r.json["error"]["fields"].as_object().unwrap();
    for field in [
        "login",
        "name",
        "password",
        "role",
        "digest_algorithms",
        "queues",
    ] {
        assert!(fields.contains_key(field), "{field} missing in {}", r.text);
    }
    assert_eq!(fields["login"], "is required");

    let r = s
        .patch(
            "/api/v1/agents/admin",
            &admin,
            json!({"name": " ", "digest_algorithms": []}),
        )
        .await;
    assert_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(
        r.json["error"]["fields"].as_object().unwrap().len(),
        2,
        "{}",
        r.text
    );

    // Well-formed JSON of the wrong shape: 422; broken JSON: 400.
    let r = s.post("/api/v1/agents", &admin, json!({"login": 5})).await;
    assert_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    let r = s
        .post(
            "/api/v1/agents",
            &admin,
            json!({"login": "x", "pasword": "typo-typo"}),
        )
        .await;
    assert_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    let broken = s
        .client
        .post(format!("{}/api/v1/agents", s.base))
        .bearer_auth(&admin)
        .header("content-type", "application/json")
        .body("{\"login\": ")
        .send()
        .await
        .unwrap();
    let r = api_helpers::into_reply(broken).await;
    assert_error(&r, StatusCode::BAD_REQUEST, "malformed_json");
    let r = s
        .request(
            reqwest::Method::POST,
            "/api/v1/auth/login",
            None,
            Some(json!({"username": "admin"})),
        )
        .await;
    assert_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
}

#[tokio::test]
async fn head_reads_agents_but_cannot_change_them() {
    let (_dir, db) = temp_db();
    let s = TestServer::start(&db).await;
    let head = s.user_with_role("olga", Role::Head).await;
    let list = s.get("/api/v1/agents", &head).await;
    assert_eq!(list.status, StatusCode::OK);
    assert_eq!(list.json["items"].as_array().unwrap().len(), 2);
    assert_eq!(
        s.get("/api/v1/agents/admin", &head).await.status,
        StatusCode::OK
    );
    assert_error(
        &s.post("/api/v1/agents", &head, anna()).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    assert_error(
        &s.patch("/api/v1/agents/olga", &head, json!({"role": "admin"}))
            .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    assert_error(
        &s.delete("/api/v1/agents/admin", &head).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
}

#[tokio::test]
async fn manager_sees_only_themselves() {
    let (_dir, db) = temp_db();
    let s = TestServer::start(&db).await;
    let manager = s.user_with_role("ivan", Role::AdmissionManager).await;
    s.user_with_role("petr", Role::ContactManager).await;
    assert_error(
        &s.get("/api/v1/agents", &manager).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    let me = s.get("/api/v1/agents/ivan", &manager).await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.json["role"], "admission_manager");
    assert_no_secrets(&me);
    assert_error(
        &s.get("/api/v1/agents/petr", &manager).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    assert_error(
        &s.get("/api/v1/agents/ghost", &manager).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
}

#[tokio::test]
async fn live_bindings_show_as_registrations_and_make_the_agent_available() {
    let (_dir, db) = temp_db();
    let s = TestServer::start(&db).await;
    let admin = s.admin_token().await;
    assert_eq!(
        s.post("/api/v1/agents", &admin, anna()).await.status,
        StatusCode::CREATED
    );
    let now = now_ms();
    s.store
        .save_binding(&binding("anna", "sip:anna@192.0.2.7:5060", now + 600_000))
        .await
        .unwrap();
    s.store
        .save_binding(&binding("anna", "sip:anna@192.0.2.8:5060", now - 1))
        .await
        .unwrap();
    s.store
        .save_binding(&binding("admin", "sip:admin@192.0.2.9", now - 1))
        .await
        .unwrap();

    let a = s.get("/api/v1/agents/anna", &admin).await.json;
    assert_eq!(a["state"], "available");
    let regs = a["registrations"].as_array().unwrap();
    assert_eq!(regs.len(), 1, "expired binding hidden: {a}");
    assert_eq!(regs[0]["contact"], "sip:anna@192.0.2.7:5060");
    assert_eq!(regs[0]["transport"], "udp");
    assert_eq!(regs[0]["source"], "192.0.2.7:5060");
    assert_eq!(regs[0]["user_agent"], "baresip v1.0");
    assert!(regs[0]["expires_at"].as_str().unwrap().ends_with('Z'));

    let list = s.get("/api/v1/agents", &admin).await.json;
    let items = list["items"].as_array().unwrap();
    assert_eq!(items[0]["login"], "admin");
    assert_eq!(items[0]["state"], "offline", "only an expired binding");
    assert_eq!(items[0]["registrations"], json!([]));
    assert_eq!(items[1]["state"], "available");
}

#[tokio::test]
async fn list_pages_with_a_cursor() {
    let (_dir, db) = temp_db();
    let s = TestServer::start(&db).await;
    let admin = s.admin_token().await;
    for login in ["a1", "a2", "a3"] {
        let mut body = anna();
        body["login"] = json!(login);
        assert_eq!(
            s.post("/api/v1/agents", &admin, body).await.status,
            StatusCode::CREATED
        );
    }
    let mut seen = Vec::new();
    let mut path = "/api/v1/agents?limit=3".to_string();
    loop {
        let page = s.get(&path, &admin).await.json;
        for a in page["items"].as_array().unwrap() {
            seen.push(a["login"].as_str().unwrap().to_string());
        }
        match page["next_cursor"].as_str() {
            Some(c) => path = format!("/api/v1/agents?limit=3&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen, ["a1", "a2", "a3", "admin"]);
    assert_error(
        &s.get("/api/v1/agents?limit=0", &admin).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    );
}

#[tokio::test]
async fn the_last_admin_cannot_be_removed_or_demoted() {
    let (_dir, db) = temp_db();
    let s = TestServer::start(&db).await;
    let admin = s.admin_token().await;
    assert_error(
        &s.delete("/api/v1/agents/admin", &admin).await,
        StatusCode::CONFLICT,
        "last_admin",
    );
    assert_error(
        &s.patch("/api/v1/agents/admin", &admin, json!({"role": "head"}))
            .await,
        StatusCode::CONFLICT,
        "last_admin",
    );
    s.user_with_role("root2", Role::Admin).await;
    assert_eq!(
        s.delete("/api/v1/agents/admin", &admin).await.status,
        StatusCode::NO_CONTENT
    );
}

#[tokio::test]
async fn unknown_routes_and_methods_use_the_error_shape() {
    let (_dir, db) = temp_db();
    let s = TestServer::start(&db).await;
    let admin = s.admin_token().await;
    assert_error(
        &s.get("/api/v1/nothing", &admin).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    let r = s
        .request(reqwest::Method::PUT, "/api/v1/agents", Some(&admin), None)
        .await;
    assert_error(&r, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
}

#[tokio::test]
async fn ensure_admin_generates_a_password_once() {
    let (_dir, db) = temp_db();
    let store = Store::connect(&api_helpers::db_url(&db)).await.unwrap();
    store.migrate().await.unwrap();
    let generated = store
        .ensure_admin(None, REALM)
        .await
        .unwrap()
        .expect("generated on first start");
    assert_eq!(store.ensure_admin(None, REALM).await.unwrap(), None);
    store.close().await;
    // The server (which would pass HOTLINE_ADMIN_PASSWORD) keeps the first password.
    let s = TestServer::start(&db).await;
    s.login("admin", &generated).await;
    assert_eq!(
        s.try_login("admin", ADMIN_PASSWORD).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn agents_bindings_and_tokens_survive_a_restart() {
    let (_dir, db) = temp_db();
    assert!(!db.exists());
    let s = TestServer::start(&db).await;
    assert!(db.exists(), "database file created on first start");
    assert!(
        db.with_extension("db-wal").exists(),
        "SQLite runs in WAL mode"
    );
    let admin = s.admin_token().await;
    assert_eq!(
        s.post("/api/v1/agents", &admin, anna()).await.status,
        StatusCode::CREATED
    );
    let expires = now_ms() + 600_000;
    s.store
        .save_binding(&binding("anna", "sip:anna@192.0.2.7:5060", expires))
        .await
        .unwrap();
    s.stop().await;

    let s = TestServer::start(&db).await;
    assert_eq!(
        s.get("/api/v1/agents", &admin).await.status,
        StatusCode::OK,
        "token kept"
    );
    s.login("anna", "anna-secret-1").await;
    let a = s.get("/api/v1/agents/anna", &admin).await.json;
    assert_eq!(a["state"], "available");
    assert_eq!(a["queues"][1]["skill"], 5);
    let bindings = s.store.load_bindings(now_ms()).await.unwrap();
    assert_eq!(bindings.len(), 1);
    assert_eq!(bindings[0].expires_at_ms, expires);
    let creds = s.store.sip_credentials("anna").await.unwrap().unwrap();
    assert_eq!(
        creds.ha1_md5,
        hotline::sip::digest::ha1(
            hotline::sip::digest::Algorithm::Md5,
            "anna",
            REALM,
            "anna-secret-1"
        )
    );
}
