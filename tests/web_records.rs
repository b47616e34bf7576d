//! The console's records views without a browser: inquiry search with its
//! filters, client search, the client card and its edit form — and the
//! rules they inherit from the API: a manager sees only their own
//! inquiries and clients (403 for another's, audited), forms need the CSRF
//! token, unknown clients are 404 and bad filters a 422 form.
//!
//! The data is made the way operators make it: through the JSON API, with
//! the same session token the console cookie carries.

mod common;

use common::console::ConsoleSession;
use common::{TestServer, user};
use hotline::role::Role;
use reqwest::header::LOCATION;
use reqwest::{Method, StatusCode};
use serde_json::json;

/// The server, its users, and what they have recorded:
/// - `anna` (manager A's client): a phone call about documents, then an
///   e-mail about the same, resolved;
/// - `boris` (manager B's client): an in-person visit.
struct World {
    _server: TestServer,
    head: ConsoleSession,
    a: ConsoleSession,
    b: ConsoleSession,
    anna: String,
    anna_call: String,
    anna_letter: String,
    boris: String,
    boris_visit: String,
}

async fn world() -> World {
    let server = TestServer::start(vec![
        user("head", Role::Head),
        user("mgr-a", Role::ContactManager),
        user("mgr-b", Role::AdmissionManager),
    ])
    .await;
    let head = ConsoleSession::sign_in(&server, "head").await;
    let a = ConsoleSession::sign_in(&server, "mgr-a").await;
    let b = ConsoleSession::sign_in(&server, "mgr-b").await;

    let (anna_call, anna) = a
        .new_inquiry(json!({
            "channel": "phone", "from": "8 (916) 111-22-33",
            "category": "applicant", "topic": "Приём документов"
        }))
        .await;
    a.api_ok(
        Method::PATCH,
        &format!("/api/v1/clients/{anna}"),
        Some(json!({ "name": "Анна Смирнова", "emails": ["anna@example.org"] })),
    )
    .await;
    let (anna_letter, _) = a
        .new_inquiry(json!({
            "channel": "email", "client_id": anna,
            "category": "applicant", "topic": "Список документов"
        }))
        .await;
    a.api_ok(
        Method::POST,
        &format!("/api/v1/inquiries/{anna_letter}/resolve"),
        Some(json!({ "resolution": "Отправили список документов" })),
    )
    .await;
    let (boris_visit, boris) = b
        .new_inquiry(json!({
            "channel": "in_person", "from": "+7 495 765-43-21",
            "category": "parent", "topic": "Расписание занятий"
        }))
        .await;
    b.api_ok(
        Method::PATCH,
        &format!("/api/v1/clients/{boris}"),
        Some(json!({ "name": "Борис Петров" })),
    )
    .await;
    World {
        _server: server,
        head,
        a,
        b,
        anna,
        anna_call,
        anna_letter,
        boris,
        boris_visit,
    }
}

fn row(id: &str) -> String {
    format!("data-inquiry=\"{id}\"")
}

#[tokio::test]
async fn a_manager_opening_another_managers_client_is_refused_and_audited() {
    let w = world().await;
    let (status, html) = w.a.get(&format!("/clients/{}", w.boris)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{html}");
    assert!(html.contains("403"), "{html}");
    assert!(
        !html.contains("Борис") && !html.contains("765"),
        "nothing of the client leaks: {html}"
    );
    let audit = w
        .head
        .api_ok(
            Method::GET,
            &format!("/api/v1/audit?actor=mgr-a&object_id={}", w.boris),
            None,
        )
        .await;
    let actions: Vec<(&str, &str)> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["action"].as_str().unwrap_or_default(),
                r["detail"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert!(
        actions.contains(&("denied", "read")),
        "the denied read is audited: {audit}"
    );

    // The edit is refused too, with the CSRF token present.
    let post =
        w.a.post_form(&format!("/clients/{}", w.boris), &[("name", "Чужой")])
            .await;
    assert_eq!(post.status, StatusCode::FORBIDDEN);
    // And the other manager's clients do not turn up in a search.
    let (_, found) = w.a.get("/clients?q=%D0%91%D0%BE%D1%80%D0%B8%D1%81").await;
    assert!(found.contains("id=\"no-results\""), "{found}");
}

#[tokio::test]
async fn own_client_card_shows_the_details_and_the_whole_history() {
    let w = world().await;
    let (status, html) = w.a.get(&format!("/clients/{}", w.anna)).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains("Анна Смирнова"), "{html}");
    assert!(
        html.contains("+7 916 111-22-33"),
        "phone as written: {html}"
    );
    assert!(html.contains("anna@example.org"), "{html}");
    assert!(html.contains("Абитуриент"), "category in words: {html}");
    // Both contacts, on two channels, newest first, each linking to its page.
    let letter = html
        .find(&row(&w.anna_letter))
        .expect("the e-mail is listed");
    let call = html.find(&row(&w.anna_call)).expect("the call is listed");
    assert!(letter < call, "newest first");
    assert!(html.contains(&format!("href=\"/inquiries/{}\"", w.anna_call)));
    assert!(html.contains("Отправили список документов"), "resolution");
    assert!(html.contains("Эл. почта") && html.contains("Телефон"));
    // The card has an edit form carrying the CSRF token.
    assert!(html.contains(&w.a.csrf), "{html}");
    // The head sees any client.
    let (status, html) = w.head.get(&format!("/clients/{}", w.boris)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Борис Петров") && html.contains(&row(&w.boris_visit)));
}

#[tokio::test]
async fn an_unknown_client_is_a_404_page() {
    let w = world().await;
    let (status, html) = w.head.get("/clients/no-such-client").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(html.contains("404"), "{html}");
}

#[tokio::test]
async fn editing_a_client_needs_the_csrf_token_and_uses_the_apis_rules() {
    let w = world().await;
    let path = format!("/clients/{}", w.anna);
    let forged =
        w.a.post_form_without_csrf(&path, &[("name", "Взлом"), ("phones", "")])
            .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);

    let bad =
        w.a.post_form(
            &path,
            &[
                ("name", "Анна Смирнова"),
                ("category", "applicant"),
                ("phones", "8 916 111-22-33\nне номер"),
                ("emails", "anna@example.org"),
            ],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    let html = bad.text;
    assert!(html.contains("id=\"error-phones\""), "{html}");
    assert!(html.contains("«не номер»"), "names the bad entry: {html}");
    assert!(html.contains("не номер</textarea>"), "keeps what was typed");

    let good =
        w.a.post_form(
            &path,
            &[
                ("name", "Анна Смирнова-Иванова"),
                ("category", "student"),
                ("phones", "8 916 111-22-33\n+7 (903) 000-11-22"),
                ("emails", "anna@example.org"),
            ],
        )
        .await;
    assert_eq!(good.status, StatusCode::SEE_OTHER);
    assert_eq!(good.headers[LOCATION], format!("{path}?saved=1"));
    let stored = w
        .head
        .api_ok(Method::GET, &format!("/api/v1/clients/{}", w.anna), None)
        .await;
    assert_eq!(stored["name"], "Анна Смирнова-Иванова");
    assert_eq!(stored["category"], "student");
    assert_eq!(stored["phones"], json!(["79161112233", "79030001122"]));

    // A phone that is another client's is a conflict shown on the form.
    let taken =
        w.a.post_form(&path, &[("phones", "+7 495 765-43-21")])
            .await;
    assert_eq!(taken.status, StatusCode::CONFLICT);
    assert!(taken.text.contains("id=\"form-error\""));
}

#[tokio::test]
async fn inquiry_filters_return_the_matching_rows() {
    let w = world().await;
    let (status, html) = w.head.get("/inquiries?status=resolved&channel=email").await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains(&row(&w.anna_letter)), "{html}");
    assert!(!html.contains(&row(&w.anna_call)));
    assert!(!html.contains(&row(&w.boris_visit)));
    // The form shows the search it ran.
    assert!(
        html.contains("<option value=\"resolved\" selected>"),
        "{html}"
    );

    let (_, html) = w.head.get("/inquiries?channel=in_person").await;
    assert!(html.contains(&row(&w.boris_visit)));
    assert!(html.contains("Борис Петров"), "the client's name: {html}");
    assert!(!html.contains(&row(&w.anna_letter)));

    // Free text finds the client by name; a phone in any form finds the call.
    let (_, html) = w
        .head
        .get("/inquiries?q=%D1%81%D0%BC%D0%B8%D1%80%D0%BD%D0%BE%D0%B2%D0%B0")
        .await;
    assert!(html.contains(&row(&w.anna_call)) && html.contains(&row(&w.anna_letter)));
    assert!(!html.contains(&row(&w.boris_visit)));

    let (_, html) = w.head.get("/inquiries?status=abandoned").await;
    assert!(html.contains("id=\"no-results\""), "{html}");
}

#[tokio::test]
async fn a_manager_sees_only_their_own_inquiries() {
    let w = world().await;
    let (status, html) = w.a.get("/inquiries").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(&row(&w.anna_call)) && html.contains(&row(&w.anna_letter)));
    assert!(!html.contains(&row(&w.boris_visit)), "{html}");
    let (_, html) = w.b.get("/inquiries").await;
    assert!(html.contains(&row(&w.boris_visit)));
    assert!(!html.contains(&row(&w.anna_call)));
    // Asking for another agent's list by hand is the API's 403.
    let (status, _) = w.a.get("/inquiries?agent=mgr-b").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_bad_filter_re_renders_the_form_with_the_error_at_the_field() {
    let w = world().await;
    let (status, html) = w.head.get("/inquiries?from=yesterday&q=x").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("id=\"error-from\""), "{html}");
    assert!(html.contains("ГГГГ-ММ-ДД"), "{html}");
    assert!(html.contains("value=\"yesterday\""), "keeps what was typed");
    assert!(html.contains("id=\"inquiry-search\""), "the form is there");
    let (status, html) = w.head.get("/inquiries?status=lost").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("id=\"error-status\""), "{html}");
    let (status, html) = w.head.get("/clients?q=anna&limit=0").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("value=\"anna\""), "{html}");
}

#[tokio::test]
async fn pages_follow_the_cursor_and_keep_the_filters() {
    let w = world().await;
    let (_, first) = w.head.get("/inquiries?limit=25&category=applicant").await;
    assert!(!first.contains("id=\"next-page\""), "two rows fit one page");
    // One row per page: the next-page link carries the filters.
    let (_, html) = w.head.get("/inquiries?category=applicant&limit=1").await;
    let start = html.find("id=\"next-page\" href=\"").expect("a next page") + 21;
    let end = start + html[start..].find('"').unwrap();
    let href = html[start..end].replace("&amp;", "&");
    assert!(
        href.contains("category=applicant") && href.contains("limit=1"),
        "{href}"
    );
    let (status, next) = w.head.get(&href).await;
    assert_eq!(status, StatusCode::OK);
    // Anna's two applicant inquiries, one on each page; never Boris's.
    let pages = [&html, &next];
    for id in [&w.anna_letter, &w.anna_call] {
        let on: Vec<bool> = pages.iter().map(|p| p.contains(&row(id))).collect();
        assert!(on == [true, false] || on == [false, true], "{id}: {on:?}");
    }
    assert!(pages.iter().all(|p| !p.contains(&row(&w.boris_visit))));
    assert!(next.contains("id=\"first-page\""));
}

#[tokio::test]
async fn client_search_finds_by_phone_in_any_form_and_by_e_mail() {
    let w = world().await;
    for q in [
        "8+916+111+22+33",
        "anna%40example",
        "%D0%B0%D0%BD%D0%BD%D0%B0",
    ] {
        let (status, html) = w.a.get(&format!("/clients?q={q}")).await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            html.contains(&format!("href=\"/clients/{}\"", w.anna)),
            "{q}: {html}"
        );
    }
    let (_, html) = w.head.get("/clients").await;
    assert!(html.contains(&w.anna) && html.contains(&w.boris));
}

#[tokio::test]
async fn the_pages_speak_english_when_asked() {
    let w = world().await;
    let (_, html) = w.head.get_in_english("/inquiries?channel=phone").await;
    assert!(
        html.contains("Created (UTC)") && html.contains("Search"),
        "{html}"
    );
    assert!(
        html.contains(">Phone<") && html.contains("In progress"),
        "{html}"
    );
}
