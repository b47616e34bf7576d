//! The operator's pages without a browser: the state buttons need the CSRF
//! token and change the state the API reports; another manager's inquiry
//! is a 403 page; a visit becomes an in-person inquiry with its client; the
//! inquiry form answers invalid fields with 422 next to the field and
//! resolves through the API's rules. (The journey with a real call and a
//! browser is `tests/browser_operator.rs`.)

mod common;

use common::agent_phone::AgentPhone;
use common::call_phone::{CallPhone, DialOptions};
use common::{TestServer, agent};
use hotline::acd::{AgentRequest, AgentState};
use hotline::role::Role;
use hotline::sip::digest::Algorithm;
use reqwest::StatusCode;
use reqwest::header::{LOCATION, SET_COOKIE};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(10);

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn password(login: &str) -> String {
    format!("password-{login}")
}

async fn server() -> (TestServer, String) {
    let mut head = agent("head", &password("head"), &[Algorithm::Md5]);
    head.role = Role::Head;
    let server = TestServer::start(vec![
        agent("anna", &password("anna"), &[Algorithm::Md5]),
        agent("boris", &password("boris"), &[Algorithm::Md5]),
        head,
    ])
    .await;
    let base = format!("http://{}", server.running.http_addr);
    (server, base)
}

/// A console session: the cookie and the CSRF token its pages carry.
struct Session {
    base: String,
    cookie: String,
    csrf: String,
}

impl Session {
    async fn sign_in(base: &str, login: &str) -> Session {
        let reply = client()
            .post(format!("{base}/login"))
            .form(&[("username", login), ("password", &password(login))])
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), StatusCode::SEE_OTHER, "{login} signs in");
        let cookie = reply.headers()[SET_COOKIE]
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_owned();
        let mut session = Session {
            base: base.to_owned(),
            cookie,
            csrf: String::new(),
        };
        let (status, page) = session.get("/operator").await;
        assert_eq!(status, StatusCode::OK, "{page}");
        session.csrf = hidden_csrf(&page).expect("the page carries the CSRF token");
        session
    }

    async fn get(&self, path: &str) -> (StatusCode, String) {
        let reply = client()
            .get(format!("{}{path}", self.base))
            .header("cookie", &self.cookie)
            .send()
            .await
            .unwrap();
        (reply.status(), reply.text().await.unwrap())
    }

    /// Posts a form with the session's CSRF token.
    async fn post(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        let mut form: Vec<(&str, &str)> = fields.to_vec();
        form.push(("_csrf", &self.csrf));
        self.post_raw(path, &form).await
    }

    async fn post_raw(&self, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        client()
            .post(format!("{}{path}", self.base))
            .header("cookie", &self.cookie)
            .form(form)
            .send()
            .await
            .unwrap()
    }
}

/// The value of the first hidden `_csrf` input of a page.
fn hidden_csrf(html: &str) -> Option<String> {
    let at = html.find(r#"name="_csrf" value=""#)? + r#"name="_csrf" value=""#.len();
    let rest = html.get(at..)?;
    Some(rest[..rest.find('"')?].to_owned())
}

async fn api_token(base: &str, login: &str) -> String {
    let reply: Value = client()
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"username": login, "password": password(login)}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    reply["token"].as_str().unwrap().to_owned()
}

async fn api_get(base: &str, token: &str, path: &str) -> (StatusCode, Value) {
    let reply = client()
        .get(format!("{base}{path}"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    (reply.status(), reply.json().await.unwrap_or_default())
}

async fn api_post(base: &str, token: &str, path: &str, body: Value) -> (StatusCode, Value) {
    let reply = client()
        .post(format!("{base}{path}"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    (reply.status(), reply.json().await.unwrap_or_default())
}

/// An in-person inquiry typed in by `login` through the API: its id.
async fn inquiry_of(base: &str, login: &str, from: &str) -> String {
    let token = api_token(base, login).await;
    let (status, body) = api_post(
        base,
        &token,
        "/api/v1/inquiries",
        json!({"channel": "in_person", "from": from, "category": "student", "topic": "schedule"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["id"].as_str().unwrap().to_owned()
}

async fn wait_state(server: &TestServer, login: &str, state: AgentState) {
    let deadline = Instant::now() + WAIT;
    loop {
        let snapshot = server.running.routing.snapshot().await;
        let now = snapshot
            .agents
            .iter()
            .find(|a| a.login == login)
            .map(|a| a.state);
        if now == Some(state) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{login} never became {state:?}: {now:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn the_desk_shows_my_state_no_call_and_the_way_to_a_visit() {
    let (_server, base) = server().await;
    let anna = Session::sign_in(&base, "anna").await;
    let (status, page) = anna.get("/operator").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("id=\"my-state\""), "{page}");
    assert!(page.contains("data-state=\"offline\""), "{page}");
    assert!(page.contains("Сейчас звонка нет"), "{page}");
    assert!(page.contains("href=\"/visits/new\""), "{page}");
    assert!(page.contains("data-live"), "the page follows the live feed");
    // The fragments htmx re-fetches answer on their own.
    let (status, pop) = anna.get("/operator/pop").await;
    assert_eq!(status, StatusCode::OK);
    assert!(pop.starts_with("<div id=\"screen-pop\""), "{pop}");
    let (status, card) = anna.get("/operator/state").await;
    assert_eq!(status, StatusCode::OK);
    assert!(card.contains("id=\"state-paused\""), "{card}");
}

#[tokio::test]
async fn the_state_buttons_need_the_csrf_token_and_change_what_the_api_reports() {
    let (server, base) = server().await;
    let _phone = AgentPhone::register(server.sip(), "anna", &password("anna")).await;
    wait_state(&server, "anna", AgentState::Available).await;
    let anna = Session::sign_in(&base, "anna").await;
    let token = api_token(&base, "anna").await;

    let forged = anna
        .post_raw("/operator/state", &[("state", "paused")])
        .await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let wrong = anna
        .post_raw(
            "/operator/state",
            &[
                ("state", "paused"),
                ("_csrf", "0123456789abcdef0123456789abcdef"),
            ],
        )
        .await;
    assert_eq!(wrong.status(), StatusCode::FORBIDDEN);
    let (_, me) = api_get(&base, &token, "/api/v1/agents/anna").await;
    assert_eq!(me["state"], "available", "refused requests changed nothing");

    let paused = anna.post("/operator/state", &[("state", "paused")]).await;
    assert_eq!(paused.status(), StatusCode::SEE_OTHER);
    assert_eq!(paused.headers()[LOCATION], "/operator");
    let (_, me) = api_get(&base, &token, "/api/v1/agents/anna").await;
    assert_eq!(me["state"], "paused", "{me}");

    // The htmx click: the CSRF header instead of the field, the card back.
    let card = client()
        .post(format!("{base}/operator/state"))
        .header("cookie", &anna.cookie)
        .header("hx-request", "true")
        .header("x-csrf-token", &anna.csrf)
        .form(&[("state", "available")])
        .send()
        .await
        .unwrap();
    assert_eq!(card.status(), StatusCode::OK);
    let card = card.text().await.unwrap();
    assert!(card.contains("data-state=\"available\""), "{card}");
    let (_, me) = api_get(&base, &token, "/api/v1/agents/anna").await;
    assert_eq!(me["state"], "available", "{me}");

    // Nonsense is refused, not applied.
    let bad = anna.post("/operator/state", &[("state", "asleep")]).await;
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn without_a_phone_the_state_card_says_so_instead_of_failing() {
    let (_server, base) = server().await;
    let anna = Session::sign_in(&base, "anna").await;
    let card = client()
        .post(format!("{base}/operator/state"))
        .header("cookie", &anna.cookie)
        .header("hx-request", "true")
        .header("x-csrf-token", &anna.csrf)
        .form(&[("state", "available")])
        .send()
        .await
        .unwrap();
    assert_eq!(card.status(), StatusCode::OK, "htmx swaps the card in");
    let card = card.text().await.unwrap();
    assert!(card.contains("id=\"state-error\""), "{card}");
    assert!(card.contains("Телефон не зарегистрирован"), "{card}");
}

#[tokio::test]
async fn another_managers_inquiry_is_a_403_page_and_my_own_opens() {
    let (_server, base) = server().await;
    let borises = inquiry_of(&base, "boris", "+7 916 000-00-01").await;
    let annas = inquiry_of(&base, "anna", "+7 916 000-00-02").await;
    let anna = Session::sign_in(&base, "anna").await;

    let (status, page) = anna.get(&format!("/inquiries/{borises}")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(page.contains("<h1>403"), "an HTML error page: {page}");
    assert!(!page.contains("79160000001"), "no data of it leaks: {page}");
    // Nor can it be changed or its recording fetched.
    let save = anna
        .post(
            &format!("/inquiries/{borises}"),
            &[("action", "save"), ("notes", "x")],
        )
        .await;
    assert_eq!(save.status(), StatusCode::FORBIDDEN);
    let (status, _) = anna.get(&format!("/inquiries/{borises}/recording")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let (status, page) = anna.get(&format!("/inquiries/{annas}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("79160000002"), "{page}");
    assert!(page.contains("id=\"inquiry-form\""), "{page}");
    assert!(
        page.contains("<option value=\"student\" selected"),
        "{page}"
    );
    let (status, _) = anna.get("/inquiries/01NOSUCHINQUIRY").await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // The head opens anyone's.
    let head = Session::sign_in(&base, "head").await;
    let (status, _) = head.get(&format!("/inquiries/{borises}")).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn a_new_visit_becomes_an_in_person_inquiry_with_its_client() {
    let (_server, base) = server().await;
    let anna = Session::sign_in(&base, "anna").await;
    let (status, form) = anna.get("/visits/new").await;
    assert_eq!(status, StatusCode::OK);
    assert!(form.contains("id=\"visit-form\""), "{form}");

    let reply = anna
        .post(
            "/visits/new",
            &[
                ("name", "Мария Иванова"),
                ("phone", "8 (916) 555-44-33"),
                ("email", "Maria@Example.org"),
                ("category", "applicant"),
                ("topic", "Документы для поступления"),
                ("notes", "Принесла аттестат"),
            ],
        )
        .await;
    assert_eq!(reply.status(), StatusCode::SEE_OTHER);
    let location = reply.headers()[LOCATION].to_str().unwrap().to_owned();
    let id = location.strip_prefix("/inquiries/").expect(&location);

    let token = api_token(&base, "anna").await;
    let (status, inquiry) = api_get(&base, &token, &format!("/api/v1/inquiries/{id}")).await;
    assert_eq!(status, StatusCode::OK, "{inquiry}");
    assert_eq!(inquiry["channel"], "in_person");
    assert_eq!(inquiry["from"], "79165554433");
    assert_eq!(inquiry["category"], "applicant");
    assert_eq!(inquiry["topic"], "Документы для поступления");
    assert_eq!(inquiry["notes"], "Принесла аттестат");
    assert_eq!(inquiry["agent"], "anna");
    let client_id = inquiry["client_id"].as_str().expect("a client").to_owned();
    let (_, client) = api_get(&base, &token, &format!("/api/v1/clients/{client_id}")).await;
    assert_eq!(client["name"], "Мария Иванова", "{client}");
    assert_eq!(client["emails"], json!(["maria@example.org"]), "{client}");

    // The same visitor again is the same client.
    let again = anna
        .post(
            "/visits/new",
            &[("phone", "+79165554433"), ("topic", "Ещё вопрос")],
        )
        .await;
    let location = again.headers()[LOCATION].to_str().unwrap().to_owned();
    let (_, second) = api_get(&base, &token, &format!("/api/v1{location}")).await;
    assert_eq!(second["client_id"], json!(client_id));

    // Only a name: a new client by that name.
    let named = anna
        .post("/visits/new", &[("name", "Гость без телефона")])
        .await;
    assert_eq!(named.status(), StatusCode::SEE_OTHER);
    let location = named.headers()[LOCATION].to_str().unwrap().to_owned();
    let (_, third) = api_get(&base, &token, &format!("/api/v1{location}")).await;
    let (_, guest) = api_get(
        &base,
        &token,
        &format!("/api/v1/clients/{}", third["client_id"].as_str().unwrap()),
    )
    .await;
    assert_eq!(guest["name"], "Гость без телефона", "{guest}");
}

#[tokio::test]
async fn a_visit_form_with_bad_fields_is_shown_again_with_422() {
    let (_server, base) = server().await;
    let anna = Session::sign_in(&base, "anna").await;
    let empty = anna.post("/visits/new", &[("topic", "x")]).await;
    assert_eq!(empty.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = empty.text().await.unwrap();
    assert!(page.contains("id=\"error-name\""), "{page}");
    assert!(page.contains("value=\"x\""), "what was typed stays: {page}");

    let bad = anna
        .post(
            "/visits/new",
            &[("phone", "not a number"), ("category", "alien")],
        )
        .await;
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = bad.text().await.unwrap();
    assert!(page.contains("id=\"error-phone\""), "{page}");

    let bad = anna
        .post(
            "/visits/new",
            &[("phone", "+79160000009"), ("category", "alien")],
        )
        .await;
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = bad.text().await.unwrap();
    assert!(page.contains("id=\"error-category\""), "{page}");
    let token = api_token(&base, "anna").await;
    let (_, list) = api_get(&base, &token, "/api/v1/inquiries").await;
    assert_eq!(list["items"], json!([]), "nothing was created: {list}");
}

#[tokio::test]
async fn the_inquiry_form_refuses_a_bad_category_with_422_and_saves_and_resolves() {
    let (_server, base) = server().await;
    let id = inquiry_of(&base, "anna", "+7 916 000-00-03").await;
    let anna = Session::sign_in(&base, "anna").await;
    let token = api_token(&base, "anna").await;
    let path = format!("/inquiries/{id}");

    let bad = anna
        .post(
            &path,
            &[
                ("action", "save"),
                ("category", "martian"),
                ("topic", "schedule"),
                ("notes", "typed notes"),
            ],
        )
        .await;
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = bad.text().await.unwrap();
    assert!(page.contains("id=\"error-category\""), "{page}");
    assert!(
        page.contains("typed notes"),
        "the typed notes are kept: {page}"
    );
    assert!(page.contains("id=\"inquiry-form\""), "{page}");
    let (_, now) = api_get(&base, &token, &format!("/api/v1{path}")).await;
    assert_eq!(now["category"], "student", "nothing saved: {now}");
    assert_eq!(now["notes"], Value::Null, "{now}");

    // Resolve without a resolution: 422 at the resolution.
    let empty = anna
        .post(
            &path,
            &[
                ("action", "resolve"),
                ("category", "student"),
                ("resolution", " "),
            ],
        )
        .await;
    assert_eq!(empty.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        empty
            .text()
            .await
            .unwrap()
            .contains("id=\"error-resolution\"")
    );

    let save = anna
        .post(
            &path,
            &[
                ("action", "save"),
                ("category", "graduate"),
                ("topic", "diploma copy"),
                ("notes", "asked for a copy"),
            ],
        )
        .await;
    assert_eq!(save.status(), StatusCode::SEE_OTHER);
    let (_, now) = api_get(&base, &token, &format!("/api/v1{path}")).await;
    assert_eq!(
        (&now["category"], &now["topic"], &now["notes"]),
        (
            &json!("graduate"),
            &json!("diploma copy"),
            &json!("asked for a copy")
        )
    );

    let resolve = anna
        .post(
            &path,
            &[
                ("action", "resolve"),
                ("category", "graduate"),
                ("topic", "diploma copy"),
                ("notes", "asked for a copy"),
                ("resolution", "copy sent by post"),
                ("informed", "on"),
                ("how", "email"),
            ],
        )
        .await;
    assert_eq!(resolve.status(), StatusCode::SEE_OTHER);
    let (_, now) = api_get(&base, &token, &format!("/api/v1{path}")).await;
    assert_eq!(now["status"], "resolved", "{now}");
    assert_eq!(now["resolution"], "copy sent by post");
    assert_eq!(now["resolved_by"], "anna");
    assert_eq!(now["informed_how"], "email");
    assert!(now["client_informed_at"].is_string(), "{now}");

    let (status, page) = anna.get(&path).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("data-status=\"resolved\""), "{page}");
    assert!(page.contains("inquiry.updated"), "the timeline: {page}");
}

#[tokio::test]
async fn a_transfer_without_a_live_call_is_refused_on_the_page() {
    let (_server, base) = server().await;
    let id = inquiry_of(&base, "anna", "+7 916 000-00-04").await;
    let anna = Session::sign_in(&base, "anna").await;
    let (_, page) = anna.get(&format!("/inquiries/{id}")).await;
    assert!(
        !page.contains("id=\"transfer\""),
        "no call, no transfer: {page}"
    );
    let reply = anna
        .post(
            &format!("/inquiries/{id}/transfer"),
            &[("target", "queue:general")],
        )
        .await;
    assert_eq!(reply.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        reply
            .text()
            .await
            .unwrap()
            .contains("id=\"error-transfer\"")
    );
}

#[tokio::test]
async fn a_live_call_is_transferred_from_its_inquiry_page_and_its_recording_plays() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = common::test_config(
        &dir,
        vec![
            agent("anna", &password("anna"), &[Algorithm::Md5]),
            agent("boris", &password("boris"), &[Algorithm::Md5]),
        ],
    );
    config.paths.recordings_dir = dir.path().join("recordings");
    config.recording.enabled = true;
    config.departments = vec![hotline::config::DepartmentConfig {
        name: "accounting".to_owned(),
        number: "5000".to_owned(),
        login: None,
        queue: Some("general".to_owned()),
    }];
    let running = hotline::server::start(config.clone()).await.unwrap();
    let server = TestServer {
        running,
        dir,
        config,
    };
    let base = format!("http://{}", server.running.http_addr);
    let mut anna_phone = AgentPhone::register(server.sip(), "anna", &password("anna")).await;
    let mut boris_phone = AgentPhone::register(server.sip(), "boris", &password("boris")).await;
    wait_state(&server, "boris", AgentState::Available).await;
    wait_state(&server, "anna", AgentState::Available).await;
    // Boris is on a break, so the call is Anna's.
    server
        .running
        .routing
        .agent_request("boris", AgentRequest::Pause)
        .await
        .unwrap();

    let mut caller = CallPhone::dial(server.sip(), "hotline", DialOptions::default()).await;
    assert_eq!(caller.final_status, 200);
    caller.send_silence(5).await;
    caller.press_rfc4733('3').await;
    anna_phone
        .wait_invite(WAIT)
        .await
        .expect("anna's phone rings");
    assert!(anna_phone.answer().await);
    let token = api_token(&base, "anna").await;
    let id = {
        let deadline = Instant::now() + WAIT;
        loop {
            let (_, page) = api_get(&base, &token, "/api/v1/inquiries?status=in_progress").await;
            if let Some(id) = page["items"][0]["id"].as_str() {
                break id.to_owned();
            }
            assert!(Instant::now() < deadline, "the call never became anna's");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    let anna = Session::sign_in(&base, "anna").await;

    let (_, pop) = anna.get("/operator/pop").await;
    assert!(pop.contains("data-state=\"talking\""), "{pop}");
    assert!(pop.contains(&format!("href=\"/inquiries/{id}\"")), "{pop}");

    let (status, page) = anna.get(&format!("/inquiries/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("id=\"transfer\""), "{page}");
    assert!(page.contains("value=\"queue:general\""), "{page}");
    assert!(page.contains("value=\"department:accounting\""), "{page}");
    assert!(
        page.contains(&format!("src=\"/inquiries/{id}/recording\"")),
        "the agent who took the call may hear it: {page}"
    );
    // The recorder writes the WAV header with its first second of audio.
    let deadline = Instant::now() + WAIT;
    loop {
        let recording = client()
            .get(format!("{base}/inquiries/{id}/recording"))
            .header("cookie", &anna.cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(recording.status(), StatusCode::OK);
        assert_eq!(recording.headers()["content-type"], "audio/wav");
        if recording.bytes().await.unwrap().starts_with(b"RIFF") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the recording never had a header"
        );
        caller.send_silence(5).await;
    }

    let unknown = anna
        .post(
            &format!("/inquiries/{id}/transfer"),
            &[("target", "queue:nowhere")],
        )
        .await;
    assert_eq!(unknown.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        unknown
            .text()
            .await
            .unwrap()
            .contains("id=\"error-transfer\"")
    );

    server
        .running
        .routing
        .agent_request("boris", AgentRequest::Available)
        .await
        .unwrap();
    let moved = anna
        .post(
            &format!("/inquiries/{id}/transfer"),
            &[("target", "queue:general")],
        )
        .await;
    assert_eq!(moved.status(), StatusCode::SEE_OTHER);
    assert_eq!(moved.headers()[LOCATION], "/operator?transferred=1");
    assert!(anna_phone.wait_bye(WAIT).await, "anna's leg is released");
    boris_phone
        .wait_invite(WAIT)
        .await
        .expect("boris rings after the transfer");
    let (_, desk) = anna.get("/operator?transferred=1").await;
    assert!(desk.contains("id=\"notice\""), "{desk}");
    // Anna talked, so she wraps up: the card counts the queue's 10 s down.
    wait_state(&server, "anna", AgentState::WrapUp).await;
    let (_, card) = anna.get("/operator/state").await;
    assert!(card.contains("id=\"wrap-up-left\""), "{card}");
    let left: u64 = card
        .split("data-remaining-ms=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .and_then(|ms| ms.parse().ok())
        .expect("the wrap-up left, in ms");
    assert!((1..=10_000).contains(&left), "{left}");
    caller.hang_up().await;
}
