//! The admin view in a real headless Chromium: the admin creates an agent
//! (after a refused attempt shown at its field) and finds it in the API,
//! adds it to a queue, edits the working hours and adds a holiday, and
//! sees them again after a reload. Screenshots of each section, the edit
//! page and the delete confirmation go to `target/browser-screenshots/`.
//!
//! Needs Debian's `chromium` and `chromium-driver`: `#[ignore]`d in a plain
//! `cargo test`; run with `cargo test --test browser_admin -- --ignored`.

mod common;
#[path = "common/http.rs"]
mod http;

use common::webdriver::Browser;
use common::{TestServer, user};
use hotline::role::Role;
use http::Api;
use serde_json::{Value, json};

/// Scrolls the section `id` to the top of the viewport, for its screenshot.
async fn show_section(browser: &Browser, id: &str) {
    browser
        .execute(
            "document.getElementById(arguments[0]).scrollIntoView({block: 'start'});",
            vec![json!(id)],
        )
        .await;
}

/// `login` as `GET /api/v1/agents` lists it, if it does.
async fn listed_agent(api: &Api, token: &str, login: &str) -> Option<Value> {
    let page = api.get("/api/v1/agents", token).await;
    page.json["items"]
        .as_array()?
        .iter()
        .find(|a| a["login"] == login)
        .cloned()
}

#[tokio::test]
#[ignore = "needs chromium + chromium-driver; run by .ci/run"]
async fn admin_creates_an_agent_puts_it_in_a_queue_and_edits_the_working_hours() {
    let server = TestServer::start(vec![
        user("root", Role::Admin),
        user("anna", Role::ContactManager),
    ])
    .await;
    let base = server.base_url();
    let api = Api::new(&server);
    let token = api.login("root").await;
    let browser = Browser::signed_in(&server, "root").await;

    browser.goto(&format!("{base}/admin")).await;
    browser
        .wait_text("h1", "the admin title", |t| t.contains("Администрирование"))
        .await;
    browser.find("#agent-anna").await;
    browser.screenshot("admin-agents").await;

    // A refused attempt: the message is next to the field, the name kept.
    browser.fill("#new-login", "Вера").await;
    browser.fill("#new-name", "Вера Петрова").await;
    browser.fill("#new-password", "vera-password").await;
    browser.click_css("#create-agent-submit").await;
    browser
        .wait_text("#error-login", "the login's error", |t| t.contains("a-z"))
        .await;
    let name = browser.find("#new-name").await;
    assert_eq!(browser.property(&name, "value").await, "Вера Петрова");
    browser.screenshot("admin-agent-refused").await;

    browser.fill("#new-login", "vera").await;
    browser.select("#new-role", "admission_manager").await;
    browser.fill("#new-password", "vera-password").await;
    browser.click_css("#new-queue-admission").await;
    browser.fill("#new-skill-admission", "3").await;
    browser.click_css("#create-agent-submit").await;
    browser
        .wait_text("#admin-notice", "the confirmation", |t| t.contains("vera"))
        .await;
    browser.find("#agent-vera").await;
    let vera = listed_agent(&api, &token, "vera")
        .await
        .expect("vera is in GET /api/v1/agents");
    assert_eq!(vera["name"], "Вера Петрова");
    assert_eq!(vera["role"], "admission_manager");
    assert_eq!(vera["queues"], json!([{"queue": "admission", "skill": 3}]));

    // Into the general queue, with skill 2.
    show_section(&browser, "queue-general").await;
    browser.select("#add-member-general", "vera").await;
    browser.fill("#add-skill-general", "2").await;
    browser.click_css("#add-member-submit-general").await;
    browser.find("#member-general-vera").await;
    let vera = listed_agent(&api, &token, "vera").await.unwrap();
    assert_eq!(
        vera["queues"],
        json!([{"queue": "admission", "skill": 3}, {"queue": "general", "skill": 2}])
    );
    show_section(&browser, "queues").await;
    browser.screenshot("admin-queues").await;

    // Saturday mornings open, and a holiday added.
    show_section(&browser, "hours").await;
    browser.fill("#hours-sat", "10:00-14:00").await;
    let holidays = browser.find("#holidays").await;
    browser.type_text(&holidays, "\n2026-01-07").await;
    browser.click_css("#save-hours").await;
    browser
        .wait_text("#admin-notice", "the hours saved", |t| {
            t.contains("Рабочее время сохранено")
        })
        .await;

    browser.goto(&format!("{base}/admin")).await;
    let saturday = browser.find("#hours-sat").await;
    assert_eq!(browser.property(&saturday, "value").await, "10:00-14:00");
    let holidays = browser.find("#holidays").await;
    let listed = browser.property(&holidays, "value").await;
    assert!(
        listed.as_str().is_some_and(|t| t.contains("2026-01-07")),
        "the holiday after a reload: {listed}"
    );
    browser
        .wait_text("#hours-source", "where the hours come from", |t| {
            t.contains("Сохранено в консоли") && t.contains("root")
        })
        .await;
    let calendar = api.get("/api/v1/calendar", &token).await.json;
    assert_eq!(calendar["hours"]["sat"], "10:00-14:00");
    assert!(
        calendar["holidays"]
            .as_array()
            .unwrap()
            .contains(&json!("2026-01-07"))
    );
    show_section(&browser, "hours").await;
    browser.screenshot("admin-hours").await;

    browser.goto(&format!("{base}/admin/agents/vera")).await;
    browser.find("#save-agent").await;
    browser.screenshot("admin-agent-edit").await;
    browser
        .goto(&format!("{base}/admin/agents/vera/delete"))
        .await;
    browser.find("#confirm-delete").await;
    browser.screenshot("admin-agent-delete").await;
}
