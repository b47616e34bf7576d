//! The head's live board and reports in a real headless Chromium: an
//! operator's state change shows on the open board without a reload, the
//! reports draw their charts and table, and the CSV link downloads the
//! figures.
//!
//! Needs Debian's `chromium` and `chromium-driver`, hence `#[ignore]`;
//! run with `cargo test --test browser_board -- --ignored`. Screenshots
//! go to `target/browser-screenshots/` (`board.png`, `reports.png`).

mod common;

use common::agent_phone::AgentPhone;
use common::console::{ConsoleSession, past_inquiry};
use common::webdriver::{Browser, WAIT};
use common::{TestServer, password_of, user};
use hotline::acd::AgentState;
use hotline::role::Role;
use hotline::store::Channel;
use reqwest::Method;
use serde_json::{Value, json};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const HOUR: i64 = 3_600_000;
const SEC: i64 = 1_000;

/// A head (`olga`) and two operators.
async fn server() -> TestServer {
    let mut olga = user("olga", Role::Head);
    olga.name = "Ольга Руководитель".into();
    let mut anna = user("anna", Role::ContactManager);
    anna.name = "Анна Оператор".into();
    let mut boris = user("boris", Role::ContactManager);
    boris.name = "Борис Оператор".into();
    TestServer::start(vec![olga, anna, boris]).await
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// Waits until `script` (run in the page) returns something `ok` accepts.
async fn wait_script(
    browser: &Browser,
    what: &str,
    script: &str,
    ok: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + WAIT;
    loop {
        let value = browser.execute(script, vec![]).await;
        if ok(&value) {
            return value;
        }
        assert!(Instant::now() < deadline, "never {what}; last {value}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
#[ignore = "needs chromium + chromium-driver; run by .ci/run"]
async fn an_agents_pause_shows_on_the_open_board_without_a_reload() {
    let server = server().await;
    let base = server.base_url();
    let _anna_phone = AgentPhone::register(server.sip(), "anna", &password_of("anna")).await;
    let _boris_phone = AgentPhone::register(server.sip(), "boris", &password_of("boris")).await;
    server.wait_state("anna", AgentState::Available).await;
    server.wait_state("boris", AgentState::Available).await;
    let browser = Browser::signed_in(&server, "olga").await;
    browser.goto(&format!("{base}/board")).await;
    browser
        .wait_text("#agent-anna .badge", "anna available", |t| t == "Свободен")
        .await;
    // The event stream is open before the change is made.
    browser.find("#live-status.connected").await;
    browser
        .execute("window.__noReload = 1; return 1", vec![])
        .await;

    let head = ConsoleSession::sign_in(&server, "olga").await;
    let changed_at = Instant::now();
    let (status, body) = head
        .api(
            Method::PATCH,
            "/api/v1/agents/anna/state",
            Some(json!({"state": "paused"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");

    browser
        .wait_text("#agent-anna .badge", "anna paused", |t| t == "Пауза")
        .await;
    let took = changed_at.elapsed();
    let class = browser
        .attribute(&browser.find("#agent-anna .badge").await, "class")
        .await
        .unwrap_or_default();
    assert!(class.contains("state-paused"), "{class}");
    // The time in state restarted: a fresh clock, counting from zero.
    let clock = browser
        .text(&browser.find("#agent-anna .clock").await)
        .await;
    assert!(clock.starts_with("00:0"), "time in the new state: {clock}");
    // The change came over the event stream, not a page load.
    let marker = browser.execute("return window.__noReload", vec![]).await;
    assert_eq!(marker, json!(1), "the page was not reloaded");
    let last_event = browser
        .execute(
            "return document.getElementById('live-status').dataset.lastEvent || ''",
            vec![],
        )
        .await;
    assert!(
        last_event.as_str().is_some_and(|id| !id.is_empty()),
        "an event arrived: {last_event}"
    );
    eprintln!("the board showed the pause {took:?} after the request");
    browser.screenshot("board").await;
    server.running.stop().await.unwrap();
}

#[tokio::test]
#[ignore = "needs chromium + chromium-driver; run by .ci/run"]
async fn the_reports_draw_charts_and_the_csv_link_downloads_the_figures() {
    let server = server().await;
    // A fortnight of traffic ending yesterday (UTC: the test calendar's
    // zone, which the page defaults to): more calls on weekdays' mornings.
    let today_start = now_ms() - now_ms().rem_euclid(24 * HOUR);
    let store = &server.running.store;
    let mut expected_total = 0;
    for day in 1..=13i64 {
        let start = today_start - day * 24 * HOUR;
        for n in 0..(day % 5 + 2) {
            let agent = if n % 3 == 2 {
                None
            } else if n % 2 == 0 {
                Some("anna")
            } else {
                Some("boris")
            };
            let at = start + (9 + (n * 2) % 9) * HOUR + n * 7 * 60 * SEC;
            past_inquiry(store, at, Channel::Phone, Some((5 + n * 9) * SEC), agent).await;
            expected_total += 1;
        }
        past_inquiry(store, start + 12 * HOUR, Channel::Email, None, Some("anna")).await;
        expected_total += 1;
    }

    let browser = Browser::signed_in(&server, "olga").await;
    browser
        .goto(&format!("{}/reports", server.base_url()))
        .await;
    browser
        .wait_text("#figure-inquiries .figure", "the period's inquiries", |t| {
            t == expected_total.to_string()
        })
        .await;
    let bars =
        |chart: &str| format!("return document.querySelectorAll('#{chart} rect.bar').length");
    assert_eq!(
        browser.execute(&bars("chart-per-day"), vec![]).await,
        json!(14)
    );
    assert_eq!(
        browser.execute(&bars("chart-per-hour"), vec![]).await,
        json!(24)
    );
    let sl_bars = browser.execute(&bars("chart-service-level"), vec![]).await;
    assert_eq!(sl_bars, json!(13), "every day but today had answered calls");
    browser
        .wait_text("#agent-row-anna", "anna's row", |t| {
            t.contains("Анна Оператор")
        })
        .await;
    browser.find("#agent-row-boris").await;
    browser.screenshot("reports").await;

    // "Download" the CSV the link points at, from inside the page (with
    // the page's own session), and read it.
    browser
        .execute(
            "window.__csv = null; \
             fetch(document.getElementById('csv-summary').href) \
               .then(r => r.text().then(t => { window.__csv = { disposition: r.headers.get('content-disposition'), text: t }; }));\
             return 1",
            vec![],
        )
        .await;
    let download = wait_script(&browser, "downloaded the CSV", "return window.__csv", |v| {
        !v.is_null()
    })
    .await;
    let disposition = download["disposition"].as_str().unwrap_or_default();
    assert!(
        disposition.starts_with("attachment; filename=\"hotline-summary-"),
        "{disposition}"
    );
    let text = download["text"].as_str().unwrap_or_default();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or_default().split(',').collect();
    assert_eq!(&header[..4], ["period", "from", "to", "inquiries"]);
    let total = lines.find(|l| l.starts_with("total,")).unwrap_or_default();
    let inquiries = total.split(',').nth(3).unwrap_or_default();
    assert_eq!(inquiries, expected_total.to_string(), "{text}");
    server.running.stop().await.unwrap();
}
