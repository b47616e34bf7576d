//! The operator's journey in a real headless Chromium: a known client
//! calls, picks "graduates" in the voice menu, the operator's phone rings
//! and the screen pop in the open page shows who it is and why — without
//! a reload; the operator answers, fills the inquiry form, resolves it,
//! and the JSON API agrees. Then a visitor is registered at the desk.
//!
//! Needs Debian's `chromium` and `chromium-driver` (see
//! `tests/browser_login.rs`); screenshots go to `target/browser-screenshots/`.

mod common;

use common::agent_phone::AgentPhone;
use common::call_phone::{CallPhone, DialOptions};
use common::console::ConsoleSession;
use common::webdriver::{Browser, WAIT};
use common::{TestServer, password_of, start_with, user, wait_until};
use hotline::acd::AgentState;
use hotline::role::Role;
use reqwest::Method;
use serde_json::{Value, json};

/// The number the simulated caller dials from.
const CALLER: &str = "79161234567";

/// The operator `anna`, whose calls are recorded.
async fn start() -> TestServer {
    start_with(vec![user("anna", Role::ContactManager)], |config| {
        config.recording.enabled = true;
    })
    .await
}

/// `who`'s inquiry once its status is `status` (the call layer writes
/// asynchronously).
/// The call's inquiry once it has `status`. Phone only: the client's open
/// e-mail inquiry is `in_progress` too, and would be found first while the
/// call's own status is still being written.
async fn call_inquiry_in(who: &ConsoleSession, status: &str) -> Value {
    let path = format!("/api/v1/inquiries?status={status}&channel=phone");
    wait_until(&format!("an inquiry {status}"), async || {
        let (_, page) = who.api(Method::GET, &path, None).await;
        page["items"].get(0).cloned().ok_or(page)
    })
    .await
}

#[tokio::test]
#[ignore = "needs chromium + chromium-driver; run by .ci/run"]
async fn a_known_client_calls_the_pop_shows_them_and_the_operator_resolves_the_inquiry() {
    let server = start().await;
    let base = server.base_url();
    let anna = ConsoleSession::sign_in(&server, "anna").await;

    // A client the department knows, with an inquiry still open.
    let client = anna
        .api_ok(
            Method::POST,
            "/api/v1/clients",
            Some(json!({"name": "Мария Петрова", "phones": ["+7 916 123-45-67"], "category": "graduate"})),
        )
        .await;
    let client_id = client["id"].as_str().unwrap().to_owned();
    anna.new_inquiry(
        json!({"channel": "email", "client_id": client_id, "category": "graduate",
               "topic": "Дубликат диплома", "notes": "Письмо от 12 мая"}),
    )
    .await;

    let mut phone = AgentPhone::register(server.sip(), "anna", &password_of("anna")).await;
    server.wait_state("anna", AgentState::Available).await;

    let browser = Browser::signed_in(&server, "anna").await;
    browser
        .wait_url("the operator desk", |u| u.ends_with("/operator"))
        .await;
    browser
        .wait_text("#my-state-badge", "available", |t| t.contains("Свободен"))
        .await;
    browser
        .wait_text("#no-call", "no call", |t| t.contains("Сейчас звонка нет"))
        .await;
    // Wait until the live feed is connected, so the ring is not missed.
    browser.find("#live-status.connected").await;
    browser
        .execute("window.sameOperatorPage = true", vec![])
        .await;
    browser.screenshot("operator-idle").await;

    // The client calls and picks "3" (graduates) in the main menu.
    let mut caller = CallPhone::dial(server.sip(), "hotline", DialOptions::default()).await;
    assert_eq!(caller.final_status, 200);
    caller.send_silence(5).await;
    caller.press_rfc4733('3').await;
    caller.send_silence(10).await;
    let invite = phone.wait_invite(WAIT).await.expect("anna's phone rings");
    assert_eq!(invite.caller, CALLER);
    phone.ring().await;

    // The screen pop, in the page already open.
    browser
        .wait_text("#pop-client", "the client's name", |t| {
            t.contains("Мария Петрова")
        })
        .await;
    let state = browser.find("#pop-state").await;
    assert_eq!(
        browser.attribute(&state, "data-state").await.as_deref(),
        Some("ringing")
    );
    let caller_shown = browser.text(&browser.find("#pop-caller").await).await;
    assert_eq!(
        caller_shown, "+7 916 123-45-67",
        "the number as people write it"
    );
    let reason = browser.text(&browser.find("#pop-reason").await).await;
    assert_eq!(
        reason, "Дольше всех свободен",
        "the reason shows while ringing"
    );
    let category = browser.text(&browser.find("#pop-category").await).await;
    assert_eq!(category, "Другое");
    let topic = browser.text(&browser.find("#pop-topic").await).await;
    assert_eq!(topic, "Выпускники");
    let queue = browser.text(&browser.find("#pop-queue").await).await;
    assert_eq!(queue, "general");
    let open = browser.text(&browser.find("#pop-open").await).await;
    assert!(open.contains("Дубликат диплома"), "open inquiries: {open}");
    let same_page = browser
        .execute("return window.sameOperatorPage === true", vec![])
        .await;
    assert_eq!(same_page, json!(true), "the pop came without a reload");
    browser
        .wait_text("#my-state-badge", "ringing", |t| t.contains("Звонок"))
        .await;
    browser.screenshot("operator-screen-pop").await;

    // Anna answers; the pop follows and leads to the inquiry form.
    assert!(phone.answer().await, "the server ACKs the answer");
    let talking = call_inquiry_in(&anna, "in_progress").await;
    let id = talking["id"].as_str().unwrap().to_owned();
    assert_eq!(talking["client_id"], json!(client_id));
    let pop = browser.find("#pop-state[data-state=talking]").await;
    assert!(browser.text(&pop).await.contains("Разговор"));
    browser
        .wait_text("#pop-reason", "the routing reason", |t| {
            t.contains("Дольше всех свободен")
        })
        .await;
    browser.click_css("#pop-open-inquiry").await;
    browser
        .wait_url("the inquiry page", |u| {
            u.ends_with(&format!("/inquiries/{id}"))
        })
        .await;
    browser
        .wait_text("#detail-client", "the client", |t| {
            t.contains("Мария Петрова")
        })
        .await;
    browser.find("#transfer-target").await;
    browser.find("#recording audio").await;

    browser
        .fill("#notes", "Спрашивает, когда будет готов дубликат диплома.")
        .await;
    browser
        .fill("#resolution", "Сообщили срок: 10 рабочих дней.")
        .await;
    browser.click_css("#informed").await;
    browser.screenshot("inquiry-form").await;
    browser.click_css("#resolve").await;
    browser
        .wait_text("#inquiry-status", "resolved", |t| t.contains("Решено"))
        .await;
    browser.find("#notice").await;

    let resolved = anna
        .api(Method::GET, &format!("/api/v1/inquiries/{id}"), None)
        .await
        .1;
    assert_eq!(resolved["status"], "resolved", "{resolved}");
    assert_eq!(resolved["resolution"], "Сообщили срок: 10 рабочих дней.");
    assert_eq!(
        resolved["notes"],
        "Спрашивает, когда будет готов дубликат диплома."
    );
    assert_eq!(resolved["resolved_by"], "anna");
    assert_eq!(resolved["informed_how"], "phone");

    caller.hang_up().await;
    assert!(phone.wait_bye(WAIT).await, "the agent leg ends");

    // Back at the desk: the call is gone from the pop, wrap-up counts down.
    browser.goto(&format!("{base}/operator")).await;
    browser
        .wait_text("#my-state-badge", "wrap-up", |t| {
            t.contains("Постобработка")
        })
        .await;
    let left = browser.find("#wrap-up-left [data-remaining-ms]").await;
    let left: u64 = browser
        .attribute(&left, "data-remaining-ms")
        .await
        .and_then(|ms| ms.parse().ok())
        .expect("the wrap-up left, in ms");
    assert!(
        (1..=10_000).contains(&left),
        "at most the queue's 10 s: {left}"
    );
    browser.find("#no-call").await;
    browser.screenshot("operator-wrap-up").await;

    // A visitor at the desk.
    browser.click_css("#new-visit").await;
    browser
        .wait_url("the visit form", |u| u.ends_with("/visits/new"))
        .await;
    browser.fill("#visit-name", "Иван Сидоров").await;
    browser.fill("#visit-phone", "+7 903 111-22-33").await;
    browser.select("#visit-category", "applicant").await;
    browser
        .fill("#visit-topic", "Документы для поступления")
        .await;
    browser.fill("#visit-notes", "Принёс аттестат").await;
    browser.screenshot("new-visit").await;
    browser.click_css("#visit-submit").await;
    let url = browser
        .wait_url("the new inquiry", |u| u.contains("/inquiries/"))
        .await;
    let visit_id = url.rsplit('/').next().unwrap().to_owned();
    let visit = anna
        .api(Method::GET, &format!("/api/v1/inquiries/{visit_id}"), None)
        .await
        .1;
    assert_eq!(visit["channel"], "in_person", "{visit}");
    assert_eq!(visit["from"], "79031112233");
    browser
        .wait_text("#detail-client", "the visitor", |t| {
            t.contains("Иван Сидоров")
        })
        .await;
}
