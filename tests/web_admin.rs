//! The console's admin view over plain HTTP (no browser): only admins get
//! in, forms without the CSRF token are refused, a created, edited or
//! deleted agent is what the JSON API then shows, bad input comes back as
//! the form with 422 and the message next to its field, working hours are
//! saved through the calendar API, and a member added to a queue in the
//! console gets that queue's next call even while another call is going on.

mod common;
#[path = "common/http.rs"]
mod http;

use common::agent_phone::AgentPhone;
use common::call_phone::{CallPhone, DialOptions};
use common::console::ConsoleSession;
use common::{TestServer, WAIT, start_with, user};
use hotline::acd::AgentState;
use hotline::role::Role;
use hotline::store::QueueSkill;
use http::Api;
use reqwest::StatusCode;

async fn server() -> TestServer {
    let mut bob = user("bob", Role::EducationManager);
    bob.queues = vec![QueueSkill::new("education")];
    start_with(
        vec![
            user("root", Role::Admin),
            user("hanna", Role::Head),
            user("anna", Role::ContactManager),
            bob,
        ],
        |_| {},
    )
    .await
}

async fn agent_json(server: &TestServer, login: &str) -> (StatusCode, serde_json::Value) {
    let api = Api::new(server);
    let token = api.login("root").await;
    let r = api.get(&format!("/api/v1/agents/{login}"), &token).await;
    (r.status, r.json)
}

#[tokio::test]
async fn only_the_admin_gets_the_admin_view_with_its_three_sections() {
    let s = server().await;
    for login in ["hanna", "anna"] {
        let session = ConsoleSession::sign_in(&s, login).await;
        let (status, page) = session.get("/admin").await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{login}: {page}");
        let reply = session
            .post_form(
                "/admin/agents",
                &[
                    ("login", "eve"),
                    ("name", "Eve"),
                    ("password", "eve-password"),
                ],
            )
            .await;
        assert_eq!(
            reply.status,
            StatusCode::FORBIDDEN,
            "{login} may not create"
        );
        let reply = session
            .post_form(
                "/admin/hours",
                &[("utc_offset", "Z"), ("hours.mon", "closed")],
            )
            .await;
        assert_eq!(
            reply.status,
            StatusCode::FORBIDDEN,
            "{login} may not save hours"
        );
        let reply = session
            .post_form("/admin/queues/general/members", &[("login", "bob")])
            .await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN);
    }
    assert_eq!(agent_json(&s, "eve").await.0, StatusCode::NOT_FOUND);

    let root = ConsoleSession::sign_in(&s, "root").await;
    let (status, page) = root.get("/admin").await;
    assert_eq!(status, StatusCode::OK);
    for id in ["id=\"agents\"", "id=\"queues\"", "id=\"hours\""] {
        assert!(page.contains(id), "section {id}");
    }
    assert!(page.contains("id=\"agent-bob\""), "bob's row");
    assert!(page.contains("education (1)"), "bob's queue with skill");
    assert!(page.contains("id=\"queue-general\""));
    assert!(
        page.contains("id=\"member-general-anna\""),
        "anna is in general"
    );
    assert!(
        page.contains("только показаны"),
        "queue settings are said to be read-only"
    );
    assert!(page.contains("id=\"hours-mon\""));
    assert!(
        page.contains("из файла конфигурации"),
        "the hours in force come from the config file"
    );
}

#[tokio::test]
async fn a_form_without_the_csrf_token_creates_nothing_and_with_it_the_agent_exists() {
    let s = server().await;
    let root = ConsoleSession::sign_in(&s, "root").await;
    let fields = [
        ("login", "vera"),
        ("name", "Вера Петрова"),
        ("role", "admission_manager"),
        ("password", "vera-password"),
        ("queue", "admission"),
        ("skill.admission", "3"),
        ("queue", "general"),
        ("skill.general", ""),
    ];
    let forged = root.post_form_without_csrf("/admin/agents", &fields).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert_eq!(agent_json(&s, "vera").await.0, StatusCode::NOT_FOUND);

    let reply = root.post_form("/admin/agents", &fields).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
    assert_eq!(reply.location(), Some("/admin?created=vera#agents"));
    let (status, vera) = agent_json(&s, "vera").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(vera["name"], "Вера Петрова");
    assert_eq!(vera["role"], "admission_manager");
    assert_eq!(
        vera["queues"],
        serde_json::json!([{"queue": "admission", "skill": 3}, {"queue": "general", "skill": 1}])
    );
    // The password opens the API (and the phone).
    let api = Api::new(&s);
    assert_eq!(
        api.try_login("vera", "vera-password").await.status,
        StatusCode::OK
    );
    let (_, page) = root.get("/admin?created=vera").await;
    assert!(
        page.contains("Создан пользователь vera"),
        "the confirmation"
    );
}

#[tokio::test]
async fn bad_input_comes_back_as_the_form_with_422_and_each_message_at_its_field() {
    let s = server().await;
    let root = ConsoleSession::sign_in(&s, "root").await;
    let reply = root
        .post_form(
            "/admin/agents",
            &[
                ("login", "Not Valid!"),
                ("name", "Nina"),
                ("password", "short"),
                ("queue", "general"),
                ("skill.general", "2"),
            ],
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    let page = reply.text;
    assert!(page.contains("id=\"error-login\""), "{page}");
    assert!(page.contains("id=\"error-password\""));
    assert!(page.contains("at least 8 characters"));
    assert!(!page.contains("id=\"error-name\""), "the name was fine");
    assert!(page.contains("value=\"Nina\""), "what was typed is kept");
    assert!(page.contains("value=\"Not Valid!\""));

    let reply = root
        .post_form(
            "/admin/agents",
            &[
                ("login", "nina"),
                ("name", "Nina"),
                ("password", "nina-password"),
                ("queue", "general"),
                ("skill.general", "300"),
            ],
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(reply.text.contains("id=\"error-queues\""));

    let reply = root
        .post_form(
            "/admin/agents",
            &[
                ("login", "anna"),
                ("name", "Another Anna"),
                ("password", "anna-password-2"),
            ],
        )
        .await;
    assert_eq!(reply.status, StatusCode::CONFLICT, "the login is taken");
    assert!(reply.text.contains("id=\"error-login\""));
    assert_eq!(agent_json(&s, "nina").await.0, StatusCode::NOT_FOUND);

    let reply = root
        .post_form(
            "/admin/hours",
            &[
                ("utc_offset", "+03:00"),
                ("hours.mon", "09:00-13:00, 12:00-18:00"),
                ("hours.tue", "nine to five"),
                ("holidays", "2026-01-01\n2026-13-01"),
            ],
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    let page = reply.text;
    assert!(page.contains("id=\"error-hours-mon\""), "{page}");
    assert!(page.contains("overlap"));
    assert!(page.contains("id=\"error-hours-tue\""));
    assert!(page.contains("2026-13-01"), "the bad date is named");
    assert!(
        page.contains("value=\"nine to five\""),
        "what was typed is kept"
    );

    let reply = root
        .post_form(
            "/admin/queues/general/members",
            &[("login", "bob"), ("skill", "x")],
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(reply.text.contains("id=\"error-skill\""));
    let reply = root
        .post_form("/admin/queues/nowhere/members", &[("login", "bob")])
        .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    let (_, bob) = agent_json(&s, "bob").await;
    assert_eq!(
        bob["queues"],
        serde_json::json!([{"queue": "education", "skill": 1}])
    );
}

#[tokio::test]
async fn an_agent_is_edited_and_deleted_after_confirming() {
    let s = server().await;
    let root = ConsoleSession::sign_in(&s, "root").await;
    let (status, page) = root.get("/admin/agents/anna").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("value=\"Agent anna\""), "the current name");

    let reply = root
        .post_form(
            "/admin/agents/anna",
            &[
                ("name", "Анна Смирнова"),
                ("role", "head"),
                ("password", "a-new-password"),
                ("queue", "education"),
                ("skill.education", "7"),
            ],
        )
        .await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
    let (_, anna) = agent_json(&s, "anna").await;
    assert_eq!(anna["name"], "Анна Смирнова");
    assert_eq!(anna["role"], "head");
    assert_eq!(
        anna["queues"],
        serde_json::json!([{"queue": "education", "skill": 7}])
    );
    let api = Api::new(&s);
    assert_eq!(
        api.try_login("anna", "a-new-password").await.status,
        StatusCode::OK
    );

    let (status, page) = root.get("/admin/agents/anna/delete").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("id=\"confirm-delete\""));
    assert_eq!(
        agent_json(&s, "anna").await.0,
        StatusCode::OK,
        "asking deletes nothing"
    );
    let reply = root.post_form("/admin/agents/anna/delete", &[]).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
    assert_eq!(agent_json(&s, "anna").await.0, StatusCode::NOT_FOUND);

    // With the built-in admin gone, root is the only admin and cannot
    // delete themselves: said on the confirmation page.
    let reply = root.post_form("/admin/agents/admin/delete", &[]).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
    let reply = root.post_form("/admin/agents/root/delete", &[]).await;
    assert_eq!(reply.status, StatusCode::CONFLICT);
    assert!(reply.text.contains("id=\"delete-error\""));
    let (status, _) = root.get("/admin/agents/nobody").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn working_hours_saved_in_the_console_are_what_the_calendar_api_shows() {
    let s = server().await;
    let root = ConsoleSession::sign_in(&s, "root").await;
    let mut fields = vec![
        ("utc_offset", "+03:00"),
        ("hours.mon", "09:00-18:00"),
        ("hours.tue", "09:00-13:00, 14:00-18:00"),
        ("hours.wed", "09:00-18:00"),
        ("hours.thu", "09:00-18:00"),
        ("hours.fri", "09:00-16:45"),
        ("hours.sat", "closed"),
        ("hours.sun", ""),
    ];
    fields.push(("holidays", "2026-01-01\r\n2026-01-07\r\n\r\n"));
    let reply = root.post_form("/admin/hours", &fields).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
    assert_eq!(reply.location(), Some("/admin?hours=saved#hours"));

    let api = Api::new(&s);
    let hanna = api.login("hanna").await;
    let calendar = api.get("/api/v1/calendar", &hanna).await.json;
    assert_eq!(calendar["hours"]["tue"], "09:00-13:00, 14:00-18:00");
    assert_eq!(calendar["hours"]["fri"], "09:00-16:45");
    assert_eq!(calendar["hours"]["sun"], "closed");
    assert_eq!(
        calendar["holidays"],
        serde_json::json!(["2026-01-01", "2026-01-07"])
    );
    assert_eq!(calendar["saved_by"], "root");

    let (_, page) = root.get("/admin").await;
    assert!(
        page.contains("Сохранено в консоли"),
        "where the hours come from"
    );
    assert!(page.contains("вместо раздела [calendar]"));
    assert!(page.contains("value=\"09:00-16:45\""));
}

/// Dials the hotline and presses `0` (a contact manager, queue `general`).
async fn caller_for_general(server: &TestServer) -> CallPhone {
    let mut phone = CallPhone::dial(server.sip(), "hotline", DialOptions::default()).await;
    assert_eq!(phone.final_status, 200);
    phone.send_silence(5).await;
    phone.press_rfc4733('0').await;
    phone.send_silence(10).await;
    phone
}

#[tokio::test]
async fn a_member_added_in_the_console_takes_the_next_call_while_another_call_goes_on() {
    let s = server().await;
    let mut anna = AgentPhone::register(s.sip(), "anna", "anna-password").await;
    let mut bob = AgentPhone::register(s.sip(), "bob", "bob-password").await;
    s.wait_state("anna", AgentState::Available).await;
    s.wait_state("bob", AgentState::Available).await;

    // Anna takes a call of the general queue and stays on it.
    let mut first = caller_for_general(&s).await;
    anna.wait_invite(WAIT).await.expect("anna's phone rings");
    anna.ring().await;
    assert!(anna.answer().await);
    s.wait_state("anna", AgentState::Busy).await;

    let root = ConsoleSession::sign_in(&s, "root").await;
    let reply = root
        .post_form(
            "/admin/queues/general/members",
            &[("login", "bob"), ("skill", "2")],
        )
        .await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
    assert_eq!(reply.location(), Some("/admin?queue=general#queue-general"));
    let (_, page) = root.get("/admin").await;
    assert!(page.contains("id=\"member-general-bob\""), "bob is listed");

    let mut second = caller_for_general(&s).await;
    let invite = bob.wait_invite(WAIT).await;
    assert!(
        invite.is_some(),
        "the next call of general rings bob, its new member, while anna talks"
    );

    // Removed again: bob keeps education only.
    bob.decline(486).await;
    let reply = root
        .post_form("/admin/queues/general/members/bob/remove", &[])
        .await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
    let (_, json) = agent_json(&s, "bob").await;
    assert_eq!(
        json["queues"],
        serde_json::json!([{"queue": "education", "skill": 1}])
    );
    second.hang_up().await;
    first.hang_up().await;
}
