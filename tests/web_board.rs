//! The head's live board and reports pages without a browser: who may
//! open them, what the board fragment shows, the charts' bars and the CSV
//! downloads against the JSON API over a scripted set of inquiries. (The
//! live update in a real browser is `tests/browser_board.rs`.)

mod common;

use common::console::{ConsoleSession, client, past_inquiry};
use common::{TestServer, user};
use hotline::acd::CallId;
use hotline::role::Role;
use hotline::routing::{LiveCall, LiveCallState};
use hotline::store::{Channel, Store};
use reqwest::header::{CONTENT_DISPOSITION, CONTENT_TYPE, LOCATION};
use reqwest::{Method, StatusCode};

/// Monday 2025-03-03T00:00:00Z.
const DAY: i64 = 1_740_960_000_000;
const HOUR: i64 = 3_600_000;
const SEC: i64 = 1_000;

/// A head (`olga`) and an operator (`anna`, a contact-centre manager).
async fn server() -> TestServer {
    let mut olga = user("olga", Role::Head);
    olga.name = "Olga Head".into();
    let mut anna = user("anna", Role::ContactManager);
    anna.name = "Anna Operator".into();
    TestServer::start(vec![olga, anna]).await
}

/// A page that must open for `session`: its HTML.
async fn page_ok(session: &ConsoleSession, path: &str) -> String {
    let (status, html) = session.get(path).await;
    assert_eq!(status, StatusCode::OK, "{path}");
    html
}

/// The body of a JSON API `GET` as `session`'s user, as text (a CSV).
async fn api_text(session: &ConsoleSession, path: &str) -> String {
    reqwest::Client::new()
        .get(format!("{}{path}", session.base))
        .bearer_auth(&session.token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// 3 March: two calls anna answered (after 5 s and 30 s), one abandoned
/// after 45 s, an e-mail; 5 March: one call answered after 10 s.
async fn the_week(store: &Store) {
    past_inquiry(
        store,
        DAY + 9 * HOUR,
        Channel::Phone,
        Some(5 * SEC),
        Some("anna"),
    )
    .await;
    past_inquiry(
        store,
        DAY + 9 * HOUR + 1,
        Channel::Phone,
        Some(30 * SEC),
        Some("anna"),
    )
    .await;
    past_inquiry(store, DAY + 14 * HOUR, Channel::Phone, Some(45 * SEC), None).await;
    past_inquiry(store, DAY + 11 * HOUR, Channel::Email, None, Some("anna")).await;
    past_inquiry(
        store,
        DAY + 2 * 24 * HOUR + 10 * HOUR,
        Channel::Phone,
        Some(10 * SEC),
        Some("anna"),
    )
    .await;
}

#[tokio::test]
async fn a_manager_gets_403_on_the_board_and_the_reports() {
    let server = server().await;
    let anna = ConsoleSession::sign_in(&server, "anna").await;
    for path in [
        "/board",
        "/board/fragment",
        "/reports",
        "/reports/summary.csv?from=2025-03-01&to=2025-03-07",
        "/reports/agents.csv?from=2025-03-01&to=2025-03-07",
    ] {
        let (status, body) = anna.get(path).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
        assert!(body.contains("403"), "an HTML error page: {body}");
    }
    let olga = ConsoleSession::sign_in(&server, "olga").await;
    for path in ["/board", "/board/fragment", "/reports"] {
        assert_eq!(olga.get(path).await.0, StatusCode::OK, "{path}");
    }
    // Without a session the board sends the browser to the login form.
    let reply = client()
        .get(format!("{}/board", server.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.headers()[LOCATION], "/login?next=/board");
}

#[tokio::test]
async fn the_board_page_is_live_and_its_fragment_shows_agents_queues_and_calls() {
    let server = server().await;
    let olga = ConsoleSession::sign_in(&server, "olga").await;

    let board = page_ok(&olga, "/board").await;
    assert!(board.contains("data-live"), "{board}");
    assert!(board.contains(r#"id="live-status""#), "{board}");
    assert!(board.contains(r#"hx-get="/board/fragment""#), "{board}");
    assert!(
        board.contains("hotline-event from:body throttle:300ms, every 5s"),
        "{board}"
    );
    // Nothing today yet; the figures are shared by every open board and
    // must follow the next write (checked below).
    assert_eq!(figure(&board, "calls"), "0", "{board}");

    // anna talks on a call in the general queue (as the call layer would
    // record it); the caller's full number never reaches the page.
    let (control, _orders) = tokio::sync::mpsc::unbounded_channel();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let call = CallId(9_000_001);
    server
        .running
        .live_calls
        .insert(call, LiveCall::new("79161234567", now - 65 * SEC, control));
    server.running.live_calls.update(call, |c| {
        c.queue = Some("general".into());
        c.agent = Some("anna".into());
        c.state = LiveCallState::Talking;
    });
    // A call of today counts in today's figures (the test calendar is UTC).
    past_inquiry(
        &server.running.store,
        now - 10 * SEC,
        Channel::Phone,
        Some(4 * SEC),
        Some("anna"),
    )
    .await;

    let fragment = page_ok(&olga, "/board/fragment").await;
    assert!(!fragment.contains("<html"), "a fragment, not a page");
    for expected in [
        r#"id="agent-anna""#,
        "Anna Operator",
        r#"id="agent-olga""#,
        "state-offline",
        "Не в сети",
        r#"id="queue-general""#,
        r#"id="call-9000001""#,
        "Разговор",
        "data-elapsed-ms=",
    ] {
        assert!(fragment.contains(expected), "{expected} in {fragment}");
    }
    assert!(!fragment.contains("79161234567"), "the number is masked");
    assert!(
        fragment.contains("4567"),
        "its last digits show: {fragment}"
    );
    let calls_today = figure(&fragment, "calls");
    assert_eq!(calls_today, "1", "{fragment}");
    assert_eq!(figure(&fragment, "service-level"), "100.0 %");
    // anna's row names the call she is on.
    let anna_row = between(&fragment, r#"id="agent-anna""#, "</tr>");
    assert!(anna_row.contains("general"), "{anna_row}");

    // English on request.
    let (_, english) = olga.get_in_english("/board/fragment").await;
    assert!(
        english.contains("Offline") && english.contains("Calls in progress"),
        "{english}"
    );
}

/// The text of the headline figure `id` in a page.
fn figure(html: &str, id: &str) -> String {
    let card = between(html, &format!(r#"id="figure-{id}""#), "</div></div>");
    let value = card.rsplit(r#"class="figure">"#).next().unwrap_or_default();
    value.trim_end_matches("</div>").to_owned()
}

/// Asserts that `chart` has a bar for each `(key, value)`.
fn assert_bars(chart: &str, bars: &[(&str, &str)]) {
    for (key, value) in bars {
        assert!(
            chart.contains(&format!(r#"data-key="{key}" data-value="{value}""#)),
            "{key} = {value}: {chart}"
        );
    }
}

fn between<'a>(text: &'a str, start: &str, end: &str) -> &'a str {
    let from = text
        .find(start)
        .unwrap_or_else(|| panic!("no {start} in {text}"));
    let rest = &text[from..];
    &rest[..rest.find(end).unwrap_or(rest.len())]
}

#[tokio::test]
async fn the_charts_draw_a_bar_per_day_and_per_hour_with_the_reports_figures() {
    let server = server().await;
    the_week(&server.running.store).await;
    let olga = ConsoleSession::sign_in(&server, "olga").await;
    let html = page_ok(
        &olga,
        "/reports?from=2025-03-01&to=2025-03-07&tz=%2B00%3A00",
    )
    .await;

    let per_day = between(&html, r#"id="chart-per-day""#, "</svg>");
    assert_eq!(
        per_day.matches("<rect").count(),
        7,
        "one bar per day: {per_day}"
    );
    assert_bars(
        per_day,
        &[
            ("2025-03-03", "4"),
            ("2025-03-05", "1"),
            ("2025-03-01", "0"),
        ],
    );

    let per_hour = between(&html, r#"id="chart-per-hour""#, "</svg>");
    assert_eq!(per_hour.matches("<rect").count(), 24, "{per_hour}");
    assert_bars(per_hour, &[("09:00", "2"), ("10:00", "1")]);

    // Service level: 3 March 1 of 2 answered within 20 s, 5 March 1 of 1;
    // days without answered calls have no bar.
    let sl = between(&html, r#"id="chart-service-level""#, "</svg>");
    assert_eq!(sl.matches("<rect").count(), 2, "{sl}");
    assert_bars(sl, &[("2025-03-03", "0.5"), ("2025-03-05", "1")]);

    let table = between(&html, r#"id="agents-report""#, "</table>");
    let anna = between(table, r#"id="agent-row-anna""#, "</tr>");
    assert!(anna.contains("Anna Operator"), "{anna}");
    assert!(
        anna.contains("<td class=\"num\">3</td>"),
        "3 calls handled: {anna}"
    );
    assert_eq!(figure(&html, "inquiries"), "5");
    assert_eq!(figure(&html, "abandoned"), "25.0 %");

    // The download links carry the same period.
    assert!(
        html.contains(
            r#"href="/reports/summary.csv?from=2025-03-01&amp;to=2025-03-07&amp;tz=%2B00%3A00""#
        ),
        "{html}"
    );
}

#[tokio::test]
async fn a_period_the_reports_refuse_is_shown_again_with_the_problem_at_its_field() {
    let server = server().await;
    let olga = ConsoleSession::sign_in(&server, "olga").await;
    let (status, html) = olga
        .get("/reports?from=2025-03-09&to=2025-03-01&tz=Moscow")
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains(r#"id="error-to""#), "{html}");
    assert!(html.contains(r#"id="error-tz""#), "{html}");
    assert!(!html.contains(r#"id="error-from""#), "{html}");
    assert!(
        html.contains(r#"value="Moscow""#),
        "the input is kept: {html}"
    );
    // Defaults when nothing is given: a page with charts.
    let html = page_ok(&olga, "/reports").await;
    assert!(html.contains(r#"id="chart-per-day""#));
    assert_eq!(
        between(&html, r#"id="chart-per-day""#, "</svg>")
            .matches("<rect")
            .count(),
        14
    );
}

#[tokio::test]
async fn csv_downloads_are_attachments_with_the_apis_figures() {
    let server = server().await;
    the_week(&server.running.store).await;
    let olga = ConsoleSession::sign_in(&server, "olga").await;
    let period = "from=2025-03-01&to=2025-03-07&tz=%2B00%3A00";

    let download = olga
        .request(Method::GET, &format!("/reports/summary.csv?{period}"))
        .send()
        .await
        .unwrap();
    assert_eq!(download.status(), StatusCode::OK);
    assert_eq!(download.headers()[CONTENT_TYPE], "text/csv; charset=utf-8");
    assert_eq!(
        download.headers()[CONTENT_DISPOSITION],
        "attachment; filename=\"hotline-summary-2025-03-01_2025-03-07.csv\""
    );
    let csv = download.text().await.unwrap();
    let api_csv = api_text(
        &olga,
        &format!("/api/v1/reports/summary?{period}&format=csv"),
    )
    .await;
    assert_eq!(csv, api_csv, "the console serves the API's CSV");
    let (_, json) = olga
        .api(
            Method::GET,
            &format!("/api/v1/reports/summary?{period}"),
            None,
        )
        .await;

    // The figures a head would look at, read from the CSV by column name.
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let cell = |row: &str, column: &str| -> String {
        let i = header.iter().position(|h| *h == column).unwrap();
        row.split(',').nth(i).unwrap().to_owned()
    };
    let march_3 = lines
        .clone()
        .find(|l| l.starts_with("2025-03-03,"))
        .unwrap();
    assert_eq!(cell(march_3, "inquiries"), "4");
    assert_eq!(cell(march_3, "calls_offered"), "3");
    assert_eq!(cell(march_3, "calls_answered"), "2");
    assert_eq!(cell(march_3, "service_level"), "0.5");
    assert_eq!(cell(march_3, "abandoned_share"), "0.3333");
    let day = &json["periods"][2];
    assert_eq!(day["period"], "2025-03-03");
    for column in [
        "inquiries",
        "calls_offered",
        "calls_answered",
        "avg_wait_ms",
    ] {
        assert_eq!(
            cell(march_3, column).parse::<f64>().ok(),
            day[column].as_f64(),
            "{column}"
        );
    }
    let total = lines.find(|l| l.starts_with("total,")).unwrap();
    assert_eq!(
        cell(total, "inquiries"),
        json["total"]["inquiries"].to_string()
    );

    let agents = olga
        .request(Method::GET, &format!("/reports/agents.csv?{period}"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        agents.headers()[CONTENT_DISPOSITION],
        "attachment; filename=\"hotline-agents-2025-03-01_2025-03-07.csv\""
    );
    let agents_csv = agents.text().await.unwrap();
    assert!(
        agents_csv.starts_with("agent,calls_handled,inquiries_resolved,"),
        "{agents_csv}"
    );
    assert!(agents_csv.contains("\r\nanna,3,"), "{agents_csv}");
    let api_agents = api_text(
        &olga,
        &format!("/api/v1/reports/agents?{period}&format=csv"),
    )
    .await;
    assert_eq!(agents_csv, api_agents);

    // A bad period in a download is a 422 page naming the field.
    let (status, bad) = olga
        .get("/reports/summary.csv?from=2025-02-30&to=2025-03-01")
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.contains("from"));
}
