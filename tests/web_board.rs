//! The head's live board and reports pages without a browser: who may
//! open them, what the board fragment shows, the charts' bars and the CSV
//! downloads against the JSON API over a scripted set of inquiries. (The
//! live update in a real browser is `tests/browser_board.rs`.)

mod common;

use common::{TestServer, agent};
use hotline::acd::CallId;
use hotline::role::Role;
use hotline::routing::{LiveCall, LiveCallState};
use hotline::sip::digest::Algorithm;
use hotline::store::ids::new_id;
use hotline::store::{Channel, InquiryStatus, InquiryUpdate, NewInquiry, Store};
use reqwest::StatusCode;
use reqwest::header::{CONTENT_DISPOSITION, CONTENT_TYPE, SET_COOKIE};
use serde_json::Value;

/// Monday 2025-03-03T00:00:00Z.
const DAY: i64 = 1_740_960_000_000;
const HOUR: i64 = 3_600_000;
const SEC: i64 = 1_000;

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// A head (`olga`) and an operator (`anna`, a contact-centre manager).
async fn server() -> (TestServer, String) {
    let mut head = agent("olga", "olga-password", &[Algorithm::Md5]);
    head.role = Role::Head;
    head.name = "Olga Head".into();
    let mut anna = agent("anna", "anna-password", &[Algorithm::Md5]);
    anna.name = "Anna Operator".into();
    let server = TestServer::start(vec![head, anna]).await;
    let base = format!("http://{}", server.running.http_addr);
    (server, base)
}

/// Signs in through the console's form; returns the cookie (`name=value`).
async fn session(base: &str, login: &str) -> String {
    let reply = client()
        .post(format!("{base}/login"))
        .form(&[
            ("username", login),
            ("password", &format!("{login}-password")),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), StatusCode::SEE_OTHER, "login {login}");
    let cookie = reply.headers()[SET_COOKIE].to_str().unwrap().to_owned();
    cookie.split(';').next().unwrap().to_owned()
}

/// An API bearer token for `login`.
async fn token(base: &str, login: &str) -> String {
    let reply: Value = client()
        .post(format!("{base}/api/v1/auth/login"))
        .json(&serde_json::json!({"username": login, "password": format!("{login}-password")}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    reply["token"].as_str().unwrap().to_owned()
}

/// `path` of the JSON API with a bearer token.
async fn api(base: &str, bearer: &str, path: &str) -> reqwest::Response {
    client()
        .get(format!("{base}{path}"))
        .bearer_auth(bearer)
        .send()
        .await
        .unwrap()
}

async fn page(base: &str, cookie: &str, path: &str) -> reqwest::Response {
    client()
        .get(format!("{base}{path}"))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
}

async fn text(base: &str, cookie: &str, path: &str) -> String {
    let reply = page(base, cookie, path).await;
    assert_eq!(reply.status(), StatusCode::OK, "{path}");
    reply.text().await.unwrap()
}

/// One inquiry created at `at` on `channel`; a phone call that `agent`
/// answered after `wait_ms`, or that was abandoned after it.
async fn inquiry(
    store: &Store,
    at: i64,
    channel: Channel,
    wait_ms: Option<i64>,
    agent: Option<&str>,
) {
    let id = new_id(at, &mut rand::thread_rng());
    store
        .create_inquiry(
            &id,
            &NewInquiry {
                channel,
                from: if channel == Channel::Phone {
                    "79160001122".into()
                } else {
                    "someone@example.org".into()
                },
                client_id: None,
                status: InquiryStatus::New,
                call_id: None,
                language: None,
                created_at_ms: at,
            },
        )
        .await
        .unwrap();
    let answered = agent.is_some() && channel == Channel::Phone;
    let status = match (channel, answered) {
        (Channel::Phone, false) => InquiryStatus::Abandoned,
        _ => InquiryStatus::Resolved,
    };
    let update = InquiryUpdate {
        status: Some(status),
        agent: agent.map(String::from),
        answered_at_ms: answered.then(|| at + wait_ms.unwrap_or(0)),
        wait_ms,
        talk_ms: answered.then_some(60 * SEC),
        ..Default::default()
    };
    store.update_inquiry(&id, &update, at + HOUR).await.unwrap();
}

/// 3 March: two calls anna answered (after 5 s and 30 s), one abandoned
/// after 45 s, an e-mail; 5 March: one call answered after 10 s.
async fn the_week(store: &Store) {
    inquiry(
        store,
        DAY + 9 * HOUR,
        Channel::Phone,
        Some(5 * SEC),
        Some("anna"),
    )
    .await;
    inquiry(
        store,
        DAY + 9 * HOUR + 1,
        Channel::Phone,
        Some(30 * SEC),
        Some("anna"),
    )
    .await;
    inquiry(store, DAY + 14 * HOUR, Channel::Phone, Some(45 * SEC), None).await;
    inquiry(store, DAY + 11 * HOUR, Channel::Email, None, Some("anna")).await;
    inquiry(
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
    let (_server, base) = server().await;
    let anna = session(&base, "anna").await;
    for path in [
        "/board",
        "/board/fragment",
        "/reports",
        "/reports/summary.csv?from=2025-03-01&to=2025-03-07",
        "/reports/agents.csv?from=2025-03-01&to=2025-03-07",
    ] {
        let reply = page(&base, &anna, path).await;
        assert_eq!(reply.status(), StatusCode::FORBIDDEN, "{path}");
        let body = reply.text().await.unwrap();
        assert!(body.contains("403"), "an HTML error page: {body}");
    }
    let olga = session(&base, "olga").await;
    for path in ["/board", "/board/fragment", "/reports"] {
        assert_eq!(
            page(&base, &olga, path).await.status(),
            StatusCode::OK,
            "{path}"
        );
    }
    // Without a session the board sends the browser to the login form.
    let reply = client().get(format!("{base}/board")).send().await.unwrap();
    assert_eq!(reply.headers()["location"], "/login?next=/board");
}

#[tokio::test]
async fn the_board_page_is_live_and_its_fragment_shows_agents_queues_and_calls() {
    let (server, base) = server().await;
    let olga = session(&base, "olga").await;

    let board = text(&base, &olga, "/board").await;
    assert!(board.contains("data-live"), "{board}");
    assert!(board.contains(r#"id="live-status""#), "{board}");
    assert!(board.contains(r#"hx-get="/board/fragment""#), "{board}");
    assert!(
        board.contains("hotline-event from:body throttle:300ms, every 5s"),
        "{board}"
    );

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
    inquiry(
        &server.running.store,
        now - 10 * SEC,
        Channel::Phone,
        Some(4 * SEC),
        Some("anna"),
    )
    .await;

    let fragment = text(&base, &olga, "/board/fragment").await;
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
    let english = client()
        .get(format!("{base}/board/fragment"))
        .header("cookie", format!("{olga}; hotline_lang=en"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
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

fn between<'a>(text: &'a str, start: &str, end: &str) -> &'a str {
    let from = text
        .find(start)
        .unwrap_or_else(|| panic!("no {start} in {text}"));
    let rest = &text[from..];
    &rest[..rest.find(end).unwrap_or(rest.len())]
}

#[tokio::test]
async fn the_charts_draw_a_bar_per_day_and_per_hour_with_the_reports_figures() {
    let (server, base) = server().await;
    the_week(&server.running.store).await;
    let olga = session(&base, "olga").await;
    let html = text(
        &base,
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
    assert!(
        per_day.contains(r#"data-key="2025-03-03" data-value="4""#),
        "{per_day}"
    );
    assert!(
        per_day.contains(r#"data-key="2025-03-05" data-value="1""#),
        "{per_day}"
    );
    assert!(
        per_day.contains(r#"data-key="2025-03-01" data-value="0""#),
        "{per_day}"
    );

    let per_hour = between(&html, r#"id="chart-per-hour""#, "</svg>");
    assert_eq!(per_hour.matches("<rect").count(), 24, "{per_hour}");
    assert!(
        per_hour.contains(r#"data-key="09:00" data-value="2""#),
        "{per_hour}"
    );
    assert!(
        per_hour.contains(r#"data-key="10:00" data-value="1""#),
        "{per_hour}"
    );

    // Service level: 3 March 1 of 2 answered within 20 s, 5 March 1 of 1;
    // days without answered calls have no bar.
    let sl = between(&html, r#"id="chart-service-level""#, "</svg>");
    assert_eq!(sl.matches("<rect").count(), 2, "{sl}");
    assert!(
        sl.contains(r#"data-key="2025-03-03" data-value="0.5""#),
        "{sl}"
    );
    assert!(
        sl.contains(r#"data-key="2025-03-05" data-value="1""#),
        "{sl}"
    );

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
    let (_server, base) = server().await;
    let olga = session(&base, "olga").await;
    let reply = page(
        &base,
        &olga,
        "/reports?from=2025-03-09&to=2025-03-01&tz=Moscow",
    )
    .await;
    assert_eq!(reply.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = reply.text().await.unwrap();
    assert!(html.contains(r#"id="error-to""#), "{html}");
    assert!(html.contains(r#"id="error-tz""#), "{html}");
    assert!(!html.contains(r#"id="error-from""#), "{html}");
    assert!(
        html.contains(r#"value="Moscow""#),
        "the input is kept: {html}"
    );
    // Defaults when nothing is given: a page with charts.
    let html = text(&base, &olga, "/reports").await;
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
    let (server, base) = server().await;
    the_week(&server.running.store).await;
    let olga = session(&base, "olga").await;
    let bearer = token(&base, "olga").await;
    let period = "from=2025-03-01&to=2025-03-07&tz=%2B00%3A00";

    let download = page(&base, &olga, &format!("/reports/summary.csv?{period}")).await;
    assert_eq!(download.status(), StatusCode::OK);
    assert_eq!(download.headers()[CONTENT_TYPE], "text/csv; charset=utf-8");
    assert_eq!(
        download.headers()[CONTENT_DISPOSITION],
        "attachment; filename=\"hotline-summary-2025-03-01_2025-03-07.csv\""
    );
    let csv = download.text().await.unwrap();
    let api_csv = api(
        &base,
        &bearer,
        &format!("/api/v1/reports/summary?{period}&format=csv"),
    )
    .await
    .text()
    .await
    .unwrap();
    assert_eq!(csv, api_csv, "the console serves the API's CSV");
    let json: Value = api(&base, &bearer, &format!("/api/v1/reports/summary?{period}"))
        .await
        .json()
        .await
        .unwrap();

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

    let agents = page(&base, &olga, &format!("/reports/agents.csv?{period}")).await;
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
    let api_agents = api(
        &base,
        &bearer,
        &format!("/api/v1/reports/agents?{period}&format=csv"),
    )
    .await
    .text()
    .await
    .unwrap();
    assert_eq!(agents_csv, api_agents);

    // A bad period in a download is a 422 page naming the field.
    let bad = page(
        &base,
        &olga,
        "/reports/summary.csv?from=2025-02-30&to=2025-03-01",
    )
    .await;
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.text().await.unwrap().contains("from"));
}
