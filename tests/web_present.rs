//! How stored values read on console pages (`hotline::web::present`), seen
//! as an operator in Moscow sees them: times on the institute's clock with
//! the zone named, the inquiry search's dates as the institute's days, and
//! a number written as people write it. The institute's zone is the
//! calendar's, so an admin who changes the offset changes every page.

mod common;
#[path = "common/http.rs"]
mod http;

use hotline::role::Role;
use hotline::store::{Channel, InquiryStatus, NewInquiry};
use http::{Api, start_with, user};
use reqwest::{Method, StatusCode};
use serde_json::json;

/// 2025-03-01 22:30 UTC: already 2 March, 01:30, in Moscow.
const LATE_EVENING_UTC: i64 = 1_740_868_200_000;

/// A console page as `token`'s session (the console cookie is the API token).
async fn page(api: &Api, token: &str, path: &str) -> String {
    let reply = api
        .client
        .get(format!("{}{path}", api.base))
        .header("cookie", format!("hotline_session={token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), StatusCode::OK, "{path}");
    reply.text().await.unwrap()
}

#[tokio::test]
async fn times_are_the_institutes_and_the_date_filter_agrees_with_them() {
    let server = start_with(
        vec![user("head", Role::Head), user("root", Role::Admin)],
        |config| config.calendar.utc_offset_minutes = 180,
    )
    .await;
    let store = &server.running.store;
    store
        .create_inquiry(
            "01JNKW0000000000000000LATE",
            &NewInquiry {
                channel: Channel::Phone,
                from: "79160001122".into(),
                client_id: None,
                status: InquiryStatus::Abandoned,
                call_id: None,
                language: None,
                created_at_ms: LATE_EVENING_UTC,
            },
        )
        .await
        .unwrap();
    let api = Api::new(&server);
    let head = api.login("head").await;
    let row = r#"data-inquiry="01JNKW0000000000000000LATE""#;

    // Moscow's 2 March holds it, and the row says 2 March, 01:30 (UTC+3).
    let html = page(&api, &head, "/inquiries?from=2025-03-02&to=2025-03-02").await;
    assert!(html.contains(row), "found on its local day: {html}");
    assert!(html.contains("Создано (UTC+3)"), "the zone is named");
    assert!(html.contains(">2025-03-02 01:30</time>"), "{html}");
    assert!(
        html.contains(r#"title="2025-03-02 01:30 UTC+3 = 2025-03-01 22:30:00 UTC""#),
        "the exact instant on hover: {html}"
    );
    assert!(html.contains("+7 916 000-11-22"), "the number as written");
    assert!(html.contains("Потеряно"), "the status in words");
    // In UTC it was 1 March, but no page shows 1 March for it.
    let html = page(&api, &head, "/inquiries?from=2025-03-01&to=2025-03-01").await;
    assert!(!html.contains(row), "not on a day the page does not show");

    // The admin moves the institute to UTC+5: every page follows at once.
    let root = api.login("root").await;
    let saved = api
        .request(
            Method::PUT,
            "/api/v1/calendar",
            Some(&root),
            Some(json!({ "utc_offset": "+05:00", "hours": { "mon": "09:00-18:00" } })),
        )
        .await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.text);
    let html = page(&api, &head, "/inquiries?from=2025-03-02&to=2025-03-02").await;
    assert!(html.contains("Создано (UTC+5)"), "{html}");
    assert!(html.contains(">2025-03-02 03:30</time>"), "{html}");
}
