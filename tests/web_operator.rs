//! The operator's pages without a browser: the state buttons need the CSRF
//! token and change the state the API reports; another manager's inquiry
//! is a 403 page; a visit becomes an in-person inquiry with its client; the
//! inquiry form answers invalid fields with 422 next to the field and
//! resolves through the API's rules. (The journey with a real call and a
//! browser is `tests/browser_operator.rs`.)

mod common;

use common::agent_phone::AgentPhone;
use common::call_phone::{CallPhone, DialOptions};
use common::console::ConsoleSession;
use common::{TestServer, WAIT, password_of, start_with, user, wait_until};
use hotline::acd::{AgentRequest, AgentState};
use hotline::role::Role;
use reqwest::header::LOCATION;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::time::Instant;

async fn server() -> TestServer {
    TestServer::start(vec![
        user("anna", Role::ContactManager),
        user("boris", Role::ContactManager),
        user("head", Role::Head),
    ])
    .await
}

/// Signs `login` in to the console and checks that the operator's desk
/// carries the session's CSRF token in its forms.
async fn sign_in(server: &TestServer, login: &str) -> ConsoleSession {
    let session = ConsoleSession::sign_in(server, login).await;
    let (status, page) = session.get("/operator").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(
        hidden_csrf(&page).as_deref(),
        Some(session.csrf.as_str()),
        "the page carries the CSRF token"
    );
    session
}

/// The value of the first hidden `_csrf` input of a page.
fn hidden_csrf(html: &str) -> Option<String> {
    let at = html.find(r#"name="_csrf" value=""#)? + r#"name="_csrf" value=""#.len();
    let rest = html.get(at..)?;
    Some(rest[..rest.find('"')?].to_owned())
}

/// An in-person inquiry typed in by `who` through the API: its id.
async fn inquiry_of(who: &ConsoleSession, from: &str) -> String {
    let body =
        json!({"channel": "in_person", "from": from, "category": "student", "topic": "schedule"});
    who.new_inquiry(body).await.0
}

#[tokio::test]
async fn the_desk_shows_my_state_no_call_and_the_way_to_a_visit() {
    let server = server().await;
    let anna = sign_in(&server, "anna").await;
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
    let server = server().await;
    let _phone = AgentPhone::register(server.sip(), "anna", &password_of("anna")).await;
    server.wait_state("anna", AgentState::Available).await;
    let anna = sign_in(&server, "anna").await;

    let forged = anna
        .post_form_without_csrf("/operator/state", &[("state", "paused")])
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    let wrong = anna
        .post_form_without_csrf(
            "/operator/state",
            &[
                ("state", "paused"),
                ("_csrf", "0123456789abcdef0123456789abcdef"),
            ],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);
    let (_, me) = anna.api(Method::GET, "/api/v1/agents/anna", None).await;
    assert_eq!(me["state"], "available", "refused requests changed nothing");

    let paused = anna
        .post_form("/operator/state", &[("state", "paused")])
        .await;
    assert_eq!(paused.status, StatusCode::SEE_OTHER);
    assert_eq!(paused.headers[LOCATION], "/operator");
    let (_, me) = anna.api(Method::GET, "/api/v1/agents/anna", None).await;
    assert_eq!(me["state"], "paused", "{me}");

    // The htmx click: the CSRF header instead of the field, the card back.
    let card = anna
        .post_htmx("/operator/state", &[("state", "available")])
        .await;
    assert_eq!(card.status, StatusCode::OK);
    let card = card.text;
    assert!(card.contains("data-state=\"available\""), "{card}");
    let (_, me) = anna.api(Method::GET, "/api/v1/agents/anna", None).await;
    assert_eq!(me["state"], "available", "{me}");

    // Nonsense is refused, not applied.
    let bad = anna
        .post_form("/operator/state", &[("state", "asleep")])
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn without_a_phone_the_state_card_says_so_instead_of_failing() {
    let server = server().await;
    let anna = sign_in(&server, "anna").await;
    let card = anna
        .post_htmx("/operator/state", &[("state", "available")])
        .await;
    assert_eq!(card.status, StatusCode::OK, "htmx swaps the card in");
    let card = card.text;
    assert!(card.contains("id=\"state-error\""), "{card}");
    assert!(card.contains("Телефон не зарегистрирован"), "{card}");
}

#[tokio::test]
async fn another_managers_inquiry_is_a_403_page_and_my_own_opens() {
    let server = server().await;
    let boris = ConsoleSession::sign_in(&server, "boris").await;
    let anna = sign_in(&server, "anna").await;
    let borises = inquiry_of(&boris, "+7 916 000-00-01").await;
    let annas = inquiry_of(&anna, "+7 916 000-00-02").await;

    let (status, page) = anna.get(&format!("/inquiries/{borises}")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(page.contains("<h1>403"), "an HTML error page: {page}");
    assert!(!page.contains("79160000001"), "no data of it leaks: {page}");
    // Nor can it be changed or its recording fetched.
    let save = anna
        .post_form(
            &format!("/inquiries/{borises}"),
            &[("action", "save"), ("notes", "x")],
        )
        .await;
    assert_eq!(save.status, StatusCode::FORBIDDEN);
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
    let head = sign_in(&server, "head").await;
    let (status, _) = head.get(&format!("/inquiries/{borises}")).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn a_new_visit_becomes_an_in_person_inquiry_with_its_client() {
    let server = server().await;
    let anna = sign_in(&server, "anna").await;
    let (status, form) = anna.get("/visits/new").await;
    assert_eq!(status, StatusCode::OK);
    assert!(form.contains("id=\"visit-form\""), "{form}");

    let reply = anna
        .post_form(
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
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
    let location = reply.location().unwrap().to_owned();
    let id = location.strip_prefix("/inquiries/").expect(&location);

    let (status, inquiry) = anna
        .api(Method::GET, &format!("/api/v1/inquiries/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{inquiry}");
    assert_eq!(inquiry["channel"], "in_person");
    assert_eq!(inquiry["from"], "79165554433");
    assert_eq!(inquiry["category"], "applicant");
    assert_eq!(inquiry["topic"], "Документы для поступления");
    assert_eq!(inquiry["notes"], "Принесла аттестат");
    assert_eq!(inquiry["agent"], "anna");
    let client_id = inquiry["client_id"].as_str().expect("a client").to_owned();
    let (_, client) = anna
        .api(Method::GET, &format!("/api/v1/clients/{client_id}"), None)
        .await;
    assert_eq!(client["name"], "Мария Иванова", "{client}");
    assert_eq!(client["emails"], json!(["maria@example.org"]), "{client}");

    // The same visitor again is the same client.
    let again = anna
        .post_form(
            "/visits/new",
            &[("phone", "+79165554433"), ("topic", "Ещё вопрос")],
        )
        .await;
    let location = again.location().unwrap().to_owned();
    let (_, second) = anna
        .api(Method::GET, &format!("/api/v1{location}"), None)
        .await;
    assert_eq!(second["client_id"], json!(client_id));

    // Only a name: a new client by that name.
    let named = anna
        .post_form("/visits/new", &[("name", "Гость без телефона")])
        .await;
    assert_eq!(named.status, StatusCode::SEE_OTHER);
    let location = named.location().unwrap().to_owned();
    let (_, third) = anna
        .api(Method::GET, &format!("/api/v1{location}"), None)
        .await;
    let guest_path = format!("/api/v1/clients/{}", third["client_id"].as_str().unwrap());
    let (_, guest) = anna.api(Method::GET, &guest_path, None).await;
    assert_eq!(guest["name"], "Гость без телефона", "{guest}");
}

#[tokio::test]
async fn a_visit_form_with_bad_fields_is_shown_again_with_422() {
    let server = server().await;
    let anna = sign_in(&server, "anna").await;
    let empty = anna.post_form("/visits/new", &[("topic", "x")]).await;
    assert_eq!(empty.status, StatusCode::UNPROCESSABLE_ENTITY);
    let page = empty.text;
    assert!(page.contains("id=\"error-name\""), "{page}");
    assert!(page.contains("value=\"x\""), "what was typed stays: {page}");

    let bad = anna
        .post_form(
            "/visits/new",
            &[("phone", "not a number"), ("category", "alien")],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    let page = bad.text;
    assert!(page.contains("id=\"error-phone\""), "{page}");

    let bad = anna
        .post_form(
            "/visits/new",
            &[("phone", "+79160000009"), ("category", "alien")],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    let page = bad.text;
    assert!(page.contains("id=\"error-category\""), "{page}");
    let (_, list) = anna.api(Method::GET, "/api/v1/inquiries", None).await;
    assert_eq!(list["items"], json!([]), "nothing was created: {list}");
}

#[tokio::test]
async fn the_inquiry_form_refuses_a_bad_category_with_422_and_saves_and_resolves() {
    let server = server().await;
    let anna = sign_in(&server, "anna").await;
    let id = inquiry_of(&anna, "+7 916 000-00-03").await;
    let path = format!("/inquiries/{id}");

    let bad = anna
        .post_form(
            &path,
            &[
                ("action", "save"),
                ("category", "martian"),
                ("topic", "schedule"),
                ("notes", "typed notes"),
            ],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    let page = bad.text;
    assert!(page.contains("id=\"error-category\""), "{page}");
    assert!(
        page.contains("typed notes"),
        "the typed notes are kept: {page}"
    );
    assert!(page.contains("id=\"inquiry-form\""), "{page}");
    let (_, now) = anna.api(Method::GET, &format!("/api/v1{path}"), None).await;
    assert_eq!(now["category"], "student", "nothing saved: {now}");
    assert_eq!(now["notes"], Value::Null, "{now}");

    // Resolve without a resolution: 422 at the resolution.
    let empty = anna
        .post_form(
            &path,
            &[
                ("action", "resolve"),
                ("category", "student"),
                ("resolution", " "),
            ],
        )
        .await;
    assert_eq!(empty.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(empty.text.contains("id=\"error-resolution\""));

    let save = anna
        .post_form(
            &path,
            &[
                ("action", "save"),
                ("category", "graduate"),
                ("topic", "diploma copy"),
                ("notes", "asked for a copy"),
            ],
        )
        .await;
    assert_eq!(save.status, StatusCode::SEE_OTHER);
    let (_, now) = anna.api(Method::GET, &format!("/api/v1{path}"), None).await;
    assert_eq!(
        (&now["category"], &now["topic"], &now["notes"]),
        (
            &json!("graduate"),
            &json!("diploma copy"),
            &json!("asked for a copy")
        )
    );

    let resolve = anna
        .post_form(
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
    assert_eq!(resolve.status, StatusCode::SEE_OTHER);
    let (_, now) = anna.api(Method::GET, &format!("/api/v1{path}"), None).await;
    assert_eq!(now["status"], "resolved", "{now}");
    assert_eq!(now["resolution"], "copy sent by post");
    assert_eq!(now["resolved_by"], "anna");
    assert_eq!(now["informed_how"], "email");
    assert!(now["client_informed_at"].is_string(), "{now}");

    let (status, page) = anna.get(&path).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("data-status=\"resolved\""), "{page}");
    assert!(
        page.contains(r#"<td data-kind="inquiry.updated">Изменено</td>"#),
        "the timeline names its events in words: {page}"
    );
}

#[tokio::test]
async fn a_transfer_without_a_live_call_is_refused_on_the_page() {
    let server = server().await;
    let anna = sign_in(&server, "anna").await;
    let id = inquiry_of(&anna, "+7 916 000-00-04").await;
    let (_, page) = anna.get(&format!("/inquiries/{id}")).await;
    assert!(
        !page.contains("id=\"transfer\""),
        "no call, no transfer: {page}"
    );
    let reply = anna
        .post_form(
            &format!("/inquiries/{id}/transfer"),
            &[("target", "queue:general")],
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(reply.text.contains("id=\"error-transfer\""));
}

#[tokio::test]
async fn a_live_call_is_transferred_from_its_inquiry_page_and_its_recording_plays() {
    let server = start_with(
        vec![
            user("anna", Role::ContactManager),
            user("boris", Role::ContactManager),
        ],
        |config| {
            config.recording.enabled = true;
            config.departments = vec![hotline::config::DepartmentConfig {
                name: "accounting".to_owned(),
                number: "5000".to_owned(),
                login: None,
                queue: Some("general".to_owned()),
            }];
        },
    )
    .await;
    let mut anna_phone = AgentPhone::register(server.sip(), "anna", &password_of("anna")).await;
    let mut boris_phone = AgentPhone::register(server.sip(), "boris", &password_of("boris")).await;
    server.wait_state("boris", AgentState::Available).await;
    server.wait_state("anna", AgentState::Available).await;
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
    let anna = sign_in(&server, "anna").await;
    let id = wait_until("the call became anna's inquiry", async || {
        let (_, page) = anna
            .api(Method::GET, "/api/v1/inquiries?status=in_progress", None)
            .await;
        page["items"][0]["id"]
            .as_str()
            .map(str::to_owned)
            .ok_or(page)
    })
    .await;

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
        let recording = anna
            .request(Method::GET, &format!("/inquiries/{id}/recording"))
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
        .post_form(
            &format!("/inquiries/{id}/transfer"),
            &[("target", "queue:nowhere")],
        )
        .await;
    assert_eq!(unknown.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(unknown.text.contains("id=\"error-transfer\""));

    server
        .running
        .routing
        .agent_request("boris", AgentRequest::Available)
        .await
        .unwrap();
    let moved = anna
        .post_form(
            &format!("/inquiries/{id}/transfer"),
            &[("target", "queue:general")],
        )
        .await;
    assert_eq!(moved.status, StatusCode::SEE_OTHER);
    assert_eq!(moved.headers[LOCATION], "/operator?transferred=1");
    assert!(anna_phone.wait_bye(WAIT).await, "anna's leg is released");
    boris_phone
        .wait_invite(WAIT)
        .await
        .expect("boris rings after the transfer");
    let (_, desk) = anna.get("/operator?transferred=1").await;
    assert!(desk.contains("id=\"notice\""), "{desk}");
    // Anna talked, so she wraps up: the card counts the queue's 10 s down.
    server.wait_state("anna", AgentState::WrapUp).await;
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
