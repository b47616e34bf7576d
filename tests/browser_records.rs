//! The records views in a real headless Chromium: the head searches the
//! inquiries with a filter, opens the client from a result and reads the
//! history, edits the client on the card; a manager's browser session is
//! refused another manager's client with the 403 page. Screenshots of the
//! search, the client search, the card and the 403 page go to
//! `target/browser-screenshots/records-*.png`.
//!
//! Needs Debian's `chromium` and `chromium-driver`, hence `#[ignore]`;
//! run with `cargo test --test browser_records -- --ignored`.

mod common;

use common::console::ConsoleSession;
use common::webdriver::Browser;
use common::{TestServer, user};
use hotline::role::Role;
use reqwest::Method;
use serde_json::{Value, json};

/// The server with a head and two managers.
async fn server() -> TestServer {
    TestServer::start(vec![
        user("head", Role::Head),
        user("mgr-a", Role::ContactManager),
        user("mgr-b", Role::ContactManager),
    ])
    .await
}

/// An inquiry `who` types in through the API, then its client named;
/// returns (inquiry, client).
async fn inquiry_of(who: &ConsoleSession, inquiry: Value, name: &str) -> (String, String) {
    let (id, client) = who.new_inquiry(inquiry).await;
    who.api_ok(
        Method::PATCH,
        &format!("/api/v1/clients/{client}"),
        Some(json!({ "name": name })),
    )
    .await;
    (id, client)
}

#[tokio::test]
#[ignore = "needs chromium + chromium-driver; run by .ci/run"]
async fn head_finds_an_inquiry_by_filter_and_reads_the_clients_history() {
    let server = server().await;
    let base = server.base_url();
    let a = ConsoleSession::sign_in(&server, "mgr-a").await;
    let (call, anna) = inquiry_of(
        &a,
        json!({ "channel": "phone", "from": "8 916 111-22-33",
                "category": "applicant", "topic": "Приём документов" }),
        "Анна Смирнова",
    )
    .await;
    let (letter, _) = a
        .new_inquiry(json!({ "channel": "email", "client_id": anna,
                "category": "applicant", "topic": "Список документов" }))
        .await;
    a.api_ok(
        Method::POST,
        &format!("/api/v1/inquiries/{letter}/resolve"),
        Some(json!({ "resolution": "Отправили список документов" })),
    )
    .await;
    let b = ConsoleSession::sign_in(&server, "mgr-b").await;
    inquiry_of(
        &b,
        json!({ "channel": "in_person", "from": "+7 495 765-43-21",
                "category": "parent", "topic": "Расписание занятий" }),
        "Борис Петров",
    )
    .await;

    let browser = Browser::signed_in(&server, "head").await;
    browser.goto(&format!("{base}/inquiries")).await;
    browser
        .wait_text("#inquiry-results", "all three inquiries", |t| {
            t.contains("Расписание занятий") && t.contains("Приём документов")
        })
        .await;
    browser.select("#status", "resolved").await;
    browser.select("#channel", "email").await;
    browser.click_css("#search").await;
    let url = browser
        .wait_url("the search in the URL", |u| u.contains("status=resolved"))
        .await;
    assert!(
        url.contains("channel=email"),
        "a bookmarkable search: {url}"
    );
    let results = browser
        .wait_text("#inquiry-results tbody", "the resolved letter", |t| {
            t.contains("Список документов")
        })
        .await;
    assert!(
        !results.contains("Расписание") && !results.contains("Приём документов"),
        "only the matching row: {results}"
    );
    assert_eq!(browser.find_all("#inquiry-results tbody tr").await.len(), 1);
    browser.screenshot("records-inquiry-search").await;

    // The client from the row opens the card with the whole history.
    browser
        .click_css(&format!(
            "tr[data-inquiry=\"{letter}\"] a[href^=\"/clients/\"]"
        ))
        .await;
    browser
        .wait_text("#client-name", "the client's name", |t| {
            t.contains("Анна Смирнова")
        })
        .await;
    let history = browser
        .wait_text("#history", "both contacts", |t| {
            t.contains("Приём документов") && t.contains("Отправили список документов")
        })
        .await;
    assert!(history.contains("Телефон") && history.contains("Эл. почта"));
    assert!(
        browser
            .try_find(&format!(
                "#history tr[data-inquiry=\"{call}\"] a[href=\"/inquiries/{call}\"]"
            ))
            .await
            .is_some(),
        "each contact links to its inquiry"
    );
    browser.screenshot("records-client-card").await;

    // Editing through the card's form (the browser carries the CSRF field).
    browser.fill("#name", "Анна Смирнова-Иванова").await;
    browser.fill("#emails", "anna@example.org").await;
    browser.click_css("#save-client").await;
    browser
        .wait_text("#saved", "the saved notice", |t| !t.is_empty())
        .await;
    browser
        .wait_text("#client-emails", "the new e-mail", |t| {
            t.contains("anna@example.org")
        })
        .await;

    // The client search finds her by a phone written another way.
    browser
        .goto(&format!("{base}/clients?q=%2B7+916+1112233"))
        .await;
    browser
        .wait_text("#client-results", "the client", |t| {
            t.contains("Анна Смирнова-Иванова") && t.contains("+7 916 111-22-33")
        })
        .await;
    browser.screenshot("records-client-search").await;
}

#[tokio::test]
#[ignore = "needs chromium + chromium-driver; run by .ci/run"]
async fn a_managers_browser_cannot_open_another_managers_client() {
    let server = server().await;
    let base = server.base_url();
    let b = ConsoleSession::sign_in(&server, "mgr-b").await;
    let (_, boris) = inquiry_of(
        &b,
        json!({ "channel": "in_person", "from": "+7 495 765-43-21",
                "topic": "Расписание занятий" }),
        "Борис Петров",
    )
    .await;

    let browser = Browser::signed_in(&server, "mgr-a").await;
    browser.goto(&format!("{base}/clients/{boris}")).await;
    browser
        .wait_text("h1", "the 403 page", |t| t.contains("403"))
        .await;
    let source = browser.page_source().await;
    assert!(!source.contains("Борис"), "nothing of the client shows");
    browser.screenshot("records-403").await;

    // The manager's own card opens (after a contact of their own).
    let a = ConsoleSession::sign_in(&server, "mgr-a").await;
    let (_, anna) = inquiry_of(
        &a,
        json!({ "channel": "phone", "from": "8 916 111-22-33" }),
        "Анна Смирнова",
    )
    .await;
    browser.goto(&format!("{base}/clients/{anna}")).await;
    browser
        .wait_text("#client-name", "own client", |t| t.contains("Анна"))
        .await;
}
