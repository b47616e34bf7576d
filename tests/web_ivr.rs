//! The console's IVR editor over plain HTTP (no browser): who may open it,
//! CSRF on every save, a broken script re-rendered at 422 with its
//! `line:col` message and the text as typed, a good save, the simulator,
//! a version's diff and rollback.

mod common;

use common::console::ConsoleSession;
use common::ivr_editor::{
    broken_script, edited_script, head_and_manager, script_on_disk, shipped_script,
    start_with_scripts,
};
use reqwest::StatusCode;

#[tokio::test]
async fn a_save_without_the_csrf_token_is_refused_and_changes_nothing() {
    let server = start_with_scripts(head_and_manager(), &[]).await;
    let head = ConsoleSession::sign_in(&server, "head").await;
    let reply = head
        .post_form_without_csrf(
            "/ivr/hotline",
            &[("text", &edited_script()), ("base_version", "1")],
        )
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    let reply = head
        .post_form_without_csrf("/ivr/hotline/versions/1/restore", &[])
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert_eq!(script_on_disk(&server), shipped_script());
    server.running.stop().await.unwrap();
}

#[tokio::test]
async fn a_broken_save_shows_each_problem_at_its_line_and_keeps_the_text() {
    let server = start_with_scripts(head_and_manager(), &[]).await;
    let head = ConsoleSession::sign_in(&server, "head").await;

    let (status, list) = head.get("/ivr").await;
    assert_eq!(status, StatusCode::OK);
    assert!(list.contains(r#"href="/ivr/hotline""#), "{list}");

    let (status, editor) = head.get("/ivr/hotline").await;
    assert_eq!(status, StatusCode::OK);
    assert!(editor.contains(r#"id="script""#), "{editor}");
    assert!(
        editor.contains(r#"name="base_version" value="1""#),
        "{editor}"
    );

    let (broken, (line, col)) = broken_script();
    // A browser submits a textarea with CRLF line breaks.
    let typed = broken.replace('\n', "\r\n");
    let reply = head
        .post_form("/ivr/hotline", &[("text", &typed), ("base_version", "1")])
        .await;
    let page = reply.text;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{page}");
    assert!(
        page.contains(&format!(
            r#"data-line="{line}">{line}:{col}</a> unknown node `aplicants`"#
        )),
        "the diagnostic at {line}:{col}: {page}"
    );
    assert!(
        page.contains(&format!(r#"<span class="bad" id="L{line}">{line}</span>"#)),
        "the gutter marks line {line}"
    );
    assert!(
        page.contains("&quot;1&quot; = &quot;aplicants&quot;"),
        "the text as typed is kept"
    );
    assert_eq!(script_on_disk(&server), shipped_script(), "nothing saved");
    server.running.stop().await.unwrap();
}

#[tokio::test]
async fn a_good_save_simulation_diff_and_restore() {
    let server = start_with_scripts(head_and_manager(), &[]).await;
    let head = ConsoleSession::sign_in(&server, "head").await;

    let edited = edited_script();
    let reply = head
        .post_form(
            "/ivr/hotline",
            &[
                ("text", &edited.replace('\n', "\r\n")),
                ("base_version", "1"),
            ],
        )
        .await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
    assert_eq!(reply.location(), Some("/ivr/hotline?saved=2"));
    assert_eq!(script_on_disk(&server), edited, "saved with LF line breaks");
    let (_, page) = head.get("/ivr/hotline?saved=2").await;
    assert!(page.contains(r#"id="notice""#), "{page}");
    assert!(page.contains(r#"id="current-version">2<"#), "{page}");

    // A save still based on version 1 is refused; the text stays, and
    // a second save (now based on version 2) would replace it knowingly.
    let late = edited.replacen(r#"topic = "alumni""#, r#"topic = "late""#, 1);
    let reply = head
        .post_form("/ivr/hotline", &[("text", &late), ("base_version", "1")])
        .await;
    let page = reply.text;
    assert_eq!(reply.status, StatusCode::CONFLICT, "{page}");
    assert!(page.contains("topic = &quot;late&quot;"), "{page}");
    assert!(page.contains(r#"name="base_version" value="2""#), "{page}");
    assert_eq!(script_on_disk(&server), edited);

    // The simulator on the saved version and on an unsaved text.
    let reply = head
        .post_form(
            "/ivr/hotline/simulate",
            &[("text", &edited), ("keys", "3"), ("source", "saved")],
        )
        .await;
    let page = reply.text;
    assert_eq!(reply.status, StatusCode::OK, "{page}");
    assert!(
        page.contains("route queue general category=other topic=alumni"),
        "{page}"
    );
    let unsaved = edited.replacen(r#"topic = "alumni""#, r#"topic = "former""#, 1);
    let reply = head
        .post_form(
            "/ivr/hotline/simulate",
            &[("text", &unsaved), ("keys", "3"), ("source", "edited")],
        )
        .await;
    let page = reply.text;
    assert!(
        page.contains("route queue general category=other topic=former"),
        "{page}"
    );
    assert!(
        page.contains("topic = &quot;former&quot;"),
        "edited text kept"
    );
    // At a chosen local time, which the form keeps.
    let reply = head
        .post_form(
            "/ivr/hotline/simulate",
            &[
                ("text", &edited),
                ("keys", "3"),
                ("source", "saved"),
                ("at", "2026-01-03T20:30"),
            ],
        )
        .await;
    let page = reply.text;
    assert_eq!(reply.status, StatusCode::OK, "{page}");
    assert!(page.contains("call at 2026-01-03 20:30"), "{page}");
    assert!(page.contains(r#"value="2026-01-03T20:30""#), "{page}");

    // Version 1 against the current one, then rollback.
    let (status, page) = head.get("/ivr/hotline/versions/1").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains(r#"<tr class="removed">"#) && page.contains("topic = &quot;graduates&quot;"),
        "{page}"
    );
    assert!(
        page.contains(r#"<tr class="added">"#) && page.contains("topic = &quot;alumni&quot;"),
        "{page}"
    );
    let reply = head.post_form("/ivr/hotline/versions/1/restore", &[]).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
    assert_eq!(reply.location(), Some("/ivr/hotline?saved=3&restored=1"));
    assert_eq!(script_on_disk(&server), shipped_script());
    server.running.stop().await.unwrap();
}

#[tokio::test]
async fn a_manager_gets_403_on_every_editor_page() {
    let server = start_with_scripts(head_and_manager(), &[]).await;
    let manager = ConsoleSession::sign_in(&server, "manager").await;
    for path in ["/ivr", "/ivr/hotline", "/ivr/hotline/versions/1"] {
        let (status, _) = manager.get(path).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
    }
    let reply = manager
        .post_form(
            "/ivr/hotline",
            &[("text", &edited_script()), ("base_version", "1")],
        )
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    let reply = manager
        .post_form("/ivr/hotline/simulate", &[("keys", "3")])
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert_eq!(script_on_disk(&server), shipped_script());
    server.running.stop().await.unwrap();
}
