//! The amoCRM sync against a local stand-in for amoCRM's API v4, with the
//! real server: calls written through the call layer's inquiry writer
//! arrive in the CRM exactly once, outages are retried without losing
//! anything (across a restart too), and a refused push is recorded.
//! Inquiries typed in through the API or filed by the e-mail and
//! messenger channels make sure their client is a contact too.

mod common;

use axum::Json;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use common::{agent, test_config};
use hotline::config::{AgentConfig, Config, CrmConfig, MessengerConfig};
use hotline::server::{self, Running};
use hotline::store::{
    Channel, ClientKey, InquiryStatus, InquiryUpdate, InquiryWrite, NewInquiry, OutboxEntry, Store,
};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const TOKEN: &str = "stand-in-token";
const PHONE: &str = "+7 916 123-45-67";

/// What the stand-in has been told, and how it misbehaves.
#[derive(Clone, Default)]
struct AmoStandIn {
    /// Requests still to answer with 503, whatever they are.
    fail_next: Arc<AtomicUsize>,
    /// Answer `POST /api/v4/calls` with 400 (a call amoCRM will never take).
    refuse_calls: Arc<std::sync::atomic::AtomicBool>,
    contacts: Arc<Mutex<Vec<(i64, String)>>>,
    calls: Arc<Mutex<Vec<Value>>>,
    call_requests: Arc<AtomicUsize>,
}

impl AmoStandIn {
    /// 401 without the token, 503 while failing; `None` to go on.
    fn gate(&self, headers: &HeaderMap) -> Option<Response> {
        let auth = headers.get("authorization").and_then(|v| v.to_str().ok());
        if auth != Some(&format!("Bearer {TOKEN}")) {
            return Some(StatusCode::UNAUTHORIZED.into_response());
        }
        let failing = self
            .fail_next
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        failing.then(|| (StatusCode::SERVICE_UNAVAILABLE, "down for maintenance").into_response())
    }

    fn calls(&self) -> Vec<Value> {
        self.calls.lock().unwrap().clone()
    }

    fn contacts(&self) -> Vec<(i64, String)> {
        self.contacts.lock().unwrap().clone()
    }
}

async fn find_contacts(
    State(amo): State<AmoStandIn>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if let Some(r) = amo.gate(&headers) {
        return r;
    }
    let wanted = query.get("query").cloned().unwrap_or_default();
    let found: Vec<Value> = amo
        .contacts()
        .into_iter()
        .filter(|(_, phone)| !wanted.is_empty() && phone.contains(&wanted))
        .map(|(id, _)| json!({ "id": id }))
        .collect();
    if found.is_empty() {
        // amoCRM answers a search that finds nothing with 204 and no body.
        return StatusCode::NO_CONTENT.into_response();
    }
    Json(json!({ "_embedded": { "contacts": found } })).into_response()
}

async fn create_contacts(
    State(amo): State<AmoStandIn>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if let Some(r) = amo.gate(&headers) {
        return r;
    }
    let mut contacts = amo.contacts.lock().unwrap();
    let mut created = Vec::new();
    for item in body.as_array().unwrap() {
        let phone = item["custom_fields_values"][0]["values"][0]["value"]
            .as_str()
            .unwrap()
            .to_string();
        let id = contacts.len() as i64 + 1000;
        contacts.push((id, phone));
        created.push(json!({ "id": id, "request_id": "0" }));
    }
    Json(json!({ "_embedded": { "contacts": created } })).into_response()
}

async fn add_calls(
    State(amo): State<AmoStandIn>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if let Some(r) = amo.gate(&headers) {
        return r;
    }
    amo.call_requests.fetch_add(1, Ordering::SeqCst);
    if amo.refuse_calls.load(Ordering::SeqCst) {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({ "title": "Bad Request", "detail": "duration is invalid" })),
        )
            .into_response();
    }
    let mut calls = amo.calls.lock().unwrap();
    calls.extend(body.as_array().unwrap().iter().cloned());
    Json(json!({ "_embedded": { "calls": [{ "id": calls.len(), "request_id": "0" }] }, "errors": [] }))
        .into_response()
}

/// Serves the stand-in on 127.0.0.1:0.
async fn serve(amo: AmoStandIn) -> SocketAddr {
    let app = Router::new()
        .route("/api/v4/contacts", get(find_contacts).post(create_contacts))
        .route("/api/v4/calls", post(add_calls))
        .with_state(amo);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

/// A config whose CRM is at `crm` with short retry delays.
fn config_with_crm(dir: &tempfile::TempDir, crm: SocketAddr) -> Config {
    let mut config = test_config(dir, vec![]);
    config.crm = CrmConfig {
        amocrm_url: Some(format!("http://{crm}")),
        amocrm_token: Some(TOKEN.into()),
        poll_interval_ms: 20,
        retry_first_ms: 20,
        retry_max_ms: 200,
        request_timeout_ms: 2_000,
        ..CrmConfig::default()
    };
    config
}

fn dir_url(dir: &tempfile::TempDir) -> String {
    test_config(dir, vec![]).database.url
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// A call from `from` that has just ended, answered by anna after 5 s,
/// 65 s long in all, written as the call layer writes it. Returns the
/// inquiry id.
async fn finished_call(running: &Running, from: &str) -> String {
    let end = now_ms();
    let start = end - 65_000;
    let id = hotline::store::ids::new_id(start, &mut rand::thread_rng());
    running.inquiries.send(InquiryWrite::Create {
        id: id.clone(),
        inquiry: NewInquiry {
            channel: Channel::Phone,
            from: from.into(),
            client_id: None,
            status: InquiryStatus::InIvr,
            call_id: Some(format!("{id}@test")),
            language: Some("ru".into()),
            created_at_ms: start,
        },
        phone_for_client: Some(from.into()),
    });
    running.inquiries.send(InquiryWrite::Update {
        id: id.clone(),
        update: InquiryUpdate {
            status: Some(InquiryStatus::Resolved),
            agent: Some("anna".into()),
            answered_at_ms: Some(start + 5_000),
            ended_at_ms: Some(end),
            talk_ms: Some(60_000),
            ..InquiryUpdate::default()
        },
        at_ms: end,
    });
    running.inquiries.flush().await;
    id
}

/// Polls `check` until it yields a value, failing after 10 s.
async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn outbox_when(store: &Store, done: impl Fn(&[OutboxEntry]) -> bool) -> Vec<OutboxEntry> {
    eventually("the outbox", || async {
        let rows = store.crm_outbox().await.unwrap();
        done(&rows).then_some(rows)
    })
    .await
}

fn all_sent(rows: &[OutboxEntry]) -> bool {
    !rows.is_empty() && rows.iter().all(|r| r.status == "sent")
}

#[tokio::test]
async fn a_call_arrives_exactly_once_after_the_crm_recovers() {
    let amo = AmoStandIn::default();
    amo.fail_next.store(3, Ordering::SeqCst);
    let crm = serve(amo.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let running = server::start(config_with_crm(&dir, crm)).await.unwrap();

    let id = finished_call(&running, PHONE).await;
    // No number, nothing to file: no rows for an anonymous caller.
    finished_call(&running, "anonymous").await;
    let rows = outbox_when(&running.store, all_sent).await;

    let kinds: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| (r.kind.as_str(), r.id.as_str()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("contact", format!("contact:{id}").as_str()),
            ("call", format!("call:{id}").as_str())
        ]
    );
    // Three 503s, each one failed attempt, then one success per row.
    assert_eq!(rows.iter().map(|r| r.attempts).sum::<i64>(), 5, "{rows:?}");
    assert!(
        rows.iter()
            .any(|r| r.last_error.as_deref().unwrap_or("").contains("503")),
        "{rows:?}"
    );
    running.stop().await.unwrap();

    let calls = amo.calls();
    assert_eq!(calls.len(), 1, "{calls:?}");
    let call = &calls[0];
    assert_eq!(call["uniq"], id.as_str());
    assert_eq!(call["phone"], "+79161234567");
    assert_eq!(call["direction"], "inbound");
    assert_eq!(call["duration"], 65);
    assert_eq!(call["call_status"], 4);
    assert_eq!(call["source"], "hotline");
    // Client data left for the CRM: audited, once per push.
    let store = Store::connect(&dir_url(&dir)).await.unwrap();
    assert_eq!(store.count_audit("inquiry", &id).await.unwrap(), 2);
    store.close().await;
    assert_eq!(amo.call_requests.load(Ordering::SeqCst), 1);
    // Found the second time, not created again.
    assert_eq!(amo.contacts(), [(1000, "+79161234567".to_string())]);
}

#[tokio::test]
async fn crm_down_loses_nothing_and_a_restart_resumes() {
    // A port nobody listens on: every request is refused.
    let down = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let dir = tempfile::tempdir().unwrap();
    let mut config = config_with_crm(&dir, down);
    let running = server::start(config.clone()).await.unwrap();
    let id = finished_call(&running, PHONE).await;
    outbox_when(&running.store, |rows| {
        rows.len() == 2
            && rows
                .iter()
                .all(|r| r.status == "pending" && r.attempts >= 2)
    })
    .await;
    running.stop().await.unwrap();

    // Still queued after the stop, with why.
    let store = Store::connect(&config.database.url).await.unwrap();
    let rows = store.crm_outbox().await.unwrap();
    assert_eq!(rows.len(), 2);
    for row in &rows {
        assert_eq!(row.status, "pending", "{row:?}");
        assert!(row.last_error.is_some(), "{row:?}");
        assert_eq!(row.done_at_ms, None);
    }
    store.close().await;

    let amo = AmoStandIn::default();
    config.crm.amocrm_url = Some(format!("http://{}", serve(amo.clone()).await));
    let running = server::start(config).await.unwrap();
    outbox_when(&running.store, all_sent).await;
    running.stop().await.unwrap();

    let calls = amo.calls();
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(calls[0]["uniq"], id.as_str());
}

#[tokio::test]
async fn a_refused_call_is_recorded_as_failed_and_not_retried() {
    let amo = AmoStandIn::default();
    amo.refuse_calls
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let crm = serve(amo.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let running = server::start(config_with_crm(&dir, crm)).await.unwrap();
    let id = finished_call(&running, PHONE).await;

    let rows = outbox_when(&running.store, |rows| {
        rows.len() == 2 && rows.iter().all(|r| r.status != "pending")
    })
    .await;
    let call = rows.iter().find(|r| r.kind == "call").unwrap();
    assert_eq!(call.id, format!("call:{id}"));
    assert_eq!(call.status, "failed");
    assert_eq!(call.attempts, 1);
    let error = call.last_error.as_deref().unwrap();
    assert!(
        error.contains("400") && error.contains("duration is invalid"),
        "{error}"
    );
    assert!(call.done_at_ms.is_some());
    let contact = rows.iter().find(|r| r.kind == "contact").unwrap();
    assert_eq!(contact.status, "sent");
    running.stop().await.unwrap();
    assert_eq!(amo.call_requests.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn without_crm_config_nothing_is_queued() {
    let dir = tempfile::tempdir().unwrap();
    let running = server::start(test_config(&dir, vec![])).await.unwrap();
    finished_call(&running, PHONE).await;
    assert_eq!(running.store.crm_outbox().await.unwrap(), []);
    running.stop().await.unwrap();
}

const INGEST_TOKEN: &str = "mta-ingest-token-for-crm-test";
const BOT_SECRET: &str = "bot-secret-for-crm-test";

/// `POST`/`PATCH` `body` to the server's `path` with optional extra
/// headers; the status and the JSON answer.
async fn send(
    running: &Running,
    method: reqwest::Method,
    path: &str,
    headers: &[(&str, &str)],
    body: reqwest::Body,
) -> (StatusCode, Value) {
    let mut request = reqwest::Client::new()
        .request(method, format!("http://{}{path}", running.http_addr))
        .body(body);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    let status = StatusCode::from_u16(response.status().as_u16()).unwrap();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn send_json(
    running: &Running,
    method: reqwest::Method,
    path: &str,
    token: Option<&str>,
    body: Value,
) -> (StatusCode, Value) {
    let bearer = token.map(|t| format!("Bearer {t}"));
    let mut headers = vec![("content-type", "application/json")];
    if let Some(b) = &bearer {
        headers.push(("authorization", b));
    }
    send(running, method, path, &headers, body.to_string().into()).await
}

/// A Telegram update: a text message from user 4242 in chat `chat_id`.
fn telegram_message(update_id: i64, chat_id: i64) -> Value {
    json!({
        "update_id": update_id,
        "message": {
            "message_id": update_id * 10,
            "from": { "id": 4242, "is_bot": false, "first_name": "Ivan" },
            "chat": { "id": chat_id, "type": "private" },
            "date": 1_741_000_000,
            "text": "When are the exams?"
        }
    })
}

#[tokio::test]
async fn inquiries_from_the_api_and_the_channels_make_their_client_a_contact() {
    let amo = AmoStandIn::default();
    let crm = serve(amo.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = config_with_crm(&dir, crm);
    config.agents = vec![AgentConfig {
        role: hotline::role::Role::Head,
        ..agent(
            "boss",
            "pw-boss-secret",
            &[hotline::sip::digest::Algorithm::Md5],
        )
    }];
    config.channels.email_ingest_token = Some(INGEST_TOKEN.into());
    config.channels.messenger.insert(
        "telegram".into(),
        MessengerConfig {
            secret: BOT_SECRET.into(),
        },
    );
    let running = server::start(config).await.unwrap();
    let post = reqwest::Method::POST;

    let (status, login) = send_json(
        &running,
        post.clone(),
        "/api/v1/auth/login",
        None,
        json!({"username": "boss", "password": "pw-boss-secret"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{login}");
    let token = login["token"].as_str().unwrap();
    let created = |body: (StatusCode, Value)| {
        assert_eq!(body.0, StatusCode::CREATED, "{}", body.1);
        body.1
    };

    // A visit typed in by phone number: the contact is that number.
    let visit = created(
        send_json(
            &running,
            post.clone(),
            "/api/v1/inquiries",
            Some(token),
            json!({"channel": "in_person", "from": "8 (903) 555-01-02", "topic": "visit"}),
        )
        .await,
    );
    // A chat nickname is nobody the CRM could find: nothing queued.
    created(
        send_json(
            &running,
            post.clone(),
            "/api/v1/inquiries",
            Some(token),
            json!({"channel": "chat", "from": "guest_17"}),
        )
        .await,
    );
    // An e-mail from the MTA: the contact is the sender's address.
    let email = created(
        send(
            &running,
            post.clone(),
            "/api/v1/channels/email",
            &[
                ("x-hotline-token", INGEST_TOKEN),
                ("content-type", "message/rfc822"),
            ],
            std::fs::read(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/data/email/plain.eml"
            ))
            .unwrap()
            .into(),
        )
        .await,
    );
    // A messenger user known by handle only: nothing queued ...
    let secret = [
        ("x-telegram-bot-api-secret-token", BOT_SECRET),
        ("content-type", "application/json"),
    ];
    let first_chat = created(
        send(
            &running,
            post.clone(),
            "/api/v1/channels/messenger/telegram",
            &secret,
            telegram_message(700, 4242).to_string().into(),
        )
        .await,
    );
    // ... until the client has a phone number on record: a new inquiry
    // (another chat of the same user) then pushes that number.
    let client_id = first_chat["client_id"].as_str().unwrap();
    let (status, client) = send_json(
        &running,
        reqwest::Method::PATCH,
        &format!("/api/v1/clients/{client_id}"),
        Some(token),
        json!({"phones": ["+7 916 000-11-22"]}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{client}");
    let second_chat = created(
        send(
            &running,
            post,
            "/api/v1/channels/messenger/telegram",
            &secret,
            telegram_message(701, -100_500).to_string().into(),
        )
        .await,
    );
    assert_eq!(second_chat["client_id"], client_id);

    let rows = outbox_when(&running.store, |rows| rows.len() == 3 && all_sent(rows)).await;
    running.stop().await.unwrap();

    let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
    let expected = [
        format!("contact:{}", visit["id"].as_str().unwrap()),
        format!("contact:{}", email["inquiry_id"].as_str().unwrap()),
        format!("contact:{}", second_chat["inquiry_id"].as_str().unwrap()),
    ];
    assert_eq!(ids, expected.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(rows[1].payload["email"], "ivan.petrov@example.org");
    assert_eq!(rows[1].payload["phone"], "");
    assert!(rows.iter().all(|r| r.kind == "contact"), "{rows:?}");

    let contacts: Vec<String> = amo.contacts().into_iter().map(|(_, c)| c).collect();
    assert_eq!(
        contacts,
        ["+79035550102", "ivan.petrov@example.org", "+79160001122"]
    );
    // Contacts only: no call is recorded for an inquiry that is no call.
    assert_eq!(amo.call_requests.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn without_crm_config_typed_inquiries_are_not_queued() {
    let dir = tempfile::tempdir().unwrap();
    let running = server::start(test_config(&dir, vec![])).await.unwrap();
    let now = now_ms();
    let id = hotline::store::ids::new_id(now, &mut rand::thread_rng());
    let new = NewInquiry {
        channel: Channel::InPerson,
        from: "79035550102".into(),
        client_id: None,
        status: InquiryStatus::InProgress,
        call_id: None,
        language: None,
        created_at_ms: now,
    };
    running
        .store
        .create_typed_inquiry(
            &id,
            &new,
            ClientKey::Phone("79035550102"),
            &InquiryUpdate::default(),
            "admin",
        )
        .await
        .unwrap();
    assert_eq!(running.store.crm_outbox().await.unwrap(), []);
    running.stop().await.unwrap();
}
