//! The console's IVR editor over plain HTTP (no browser): who may open it,
//! CSRF on every save, a broken script re-rendered at 422 with its
//! `line:col` message and the text as typed, a good save, the simulator,
//! a version's diff and rollback.

mod common;
#[path = "common/http.rs"]
mod http;
#[path = "common/ivr_editor.rs"]
mod ivr_editor;

use hotline::role::Role;
use hotline::web::session::csrf_token;
use http::user;
use ivr_editor::{broken_script, edited_script, script_file, shipped_script, start_with_scripts};
use reqwest::StatusCode;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// A signed-in console session: its cookie and CSRF token.
struct Session {
    base: String,
    cookie: String,
    csrf: String,
}

impl Session {
    async fn sign_in(base: &str, login: &str) -> Session {
        let reply = client()
            .post(format!("{base}/login"))
            .form(&[
                ("username", login),
                ("password", &format!("{login}-password")),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), StatusCode::SEE_OTHER);
        let cookie = reply.headers()[SET_COOKIE].to_str().unwrap();
        let cookie = cookie.split(';').next().unwrap().to_owned();
        let token = cookie.split_once('=').unwrap().1.to_owned();
        Session {
            base: base.to_owned(),
            cookie,
            csrf: csrf_token(&token),
        }
    }

    async fn get(&self, path: &str) -> (StatusCode, String) {
        let reply = client()
            .get(format!("{}{path}", self.base))
            .header(COOKIE, &self.cookie)
            .send()
            .await
            .unwrap();
        (reply.status(), reply.text().await.unwrap())
    }

    /// Posts a form; `with_csrf` adds the session's token.
    async fn post(
        &self,
        path: &str,
        fields: &[(&str, &str)],
        with_csrf: bool,
    ) -> (StatusCode, Option<String>, String) {
        let mut fields: Vec<(&str, &str)> = fields.to_vec();
        if with_csrf {
            fields.push(("_csrf", &self.csrf));
        }
        let reply = client()
            .post(format!("{}{path}", self.base))
            .header(COOKIE, &self.cookie)
            .form(&fields)
            .send()
            .await
            .unwrap();
        let location = reply
            .headers()
            .get(LOCATION)
            .map(|l| l.to_str().unwrap().to_owned());
        (reply.status(), location, reply.text().await.unwrap())
    }
}

fn staff() -> Vec<hotline::config::AgentConfig> {
    vec![
        user("head", Role::Head),
        user("manager", Role::ContactManager),
    ]
}

#[tokio::test]
async fn a_save_without_the_csrf_token_is_refused_and_changes_nothing() {
    let server = start_with_scripts(staff(), &[]).await;
    let base = format!("http://{}", server.running.http_addr);
    let head = Session::sign_in(&base, "head").await;
    let (status, _, _) = head
        .post(
            "/ivr/hotline",
            &[("text", &edited_script()), ("base_version", "1")],
            false,
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, _) = head
        .post("/ivr/hotline/versions/1/restore", &[], false)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        std::fs::read_to_string(script_file(&server)).unwrap(),
        shipped_script()
    );
    server.running.stop().await.unwrap();
}

#[tokio::test]
async fn a_broken_save_shows_each_problem_at_its_line_and_keeps_the_text() {
    let server = start_with_scripts(staff(), &[]).await;
    let base = format!("http://{}", server.running.http_addr);
    let head = Session::sign_in(&base, "head").await;

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
    let (status, _, page) = head
        .post(
            "/ivr/hotline",
            &[("text", &typed), ("base_version", "1")],
            true,
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{page}");
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
    assert_eq!(
        std::fs::read_to_string(script_file(&server)).unwrap(),
        shipped_script(),
        "nothing saved"
    );
    server.running.stop().await.unwrap();
}

#[tokio::test]
async fn a_good_save_simulation_diff_and_restore() {
    let server = start_with_scripts(staff(), &[]).await;
    let base = format!("http://{}", server.running.http_addr);
    let head = Session::sign_in(&base, "head").await;

    let edited = edited_script();
    let (status, location, _) = head
        .post(
            "/ivr/hotline",
            &[
                ("text", &edited.replace('\n', "\r\n")),
                ("base_version", "1"),
            ],
            true,
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location.as_deref(), Some("/ivr/hotline?saved=2"));
    assert_eq!(
        std::fs::read_to_string(script_file(&server)).unwrap(),
        edited,
        "saved with LF line breaks"
    );
    let (_, page) = head.get("/ivr/hotline?saved=2").await;
    assert!(page.contains(r#"id="notice""#), "{page}");
    assert!(page.contains(r#"id="current-version">2<"#), "{page}");

    // A save still based on version 1 is refused; the text stays, and
    // a second save (now based on version 2) would replace it knowingly.
    let late = edited.replacen(r#"topic = "alumni""#, r#"topic = "late""#, 1);
    let (status, _, page) = head
        .post(
            "/ivr/hotline",
            &[("text", &late), ("base_version", "1")],
            true,
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{page}");
    assert!(page.contains("topic = &quot;late&quot;"), "{page}");
    assert!(page.contains(r#"name="base_version" value="2""#), "{page}");
    assert_eq!(
        std::fs::read_to_string(script_file(&server)).unwrap(),
        edited
    );

    // The simulator on the saved version and on an unsaved text.
    let (status, _, page) = head
        .post(
            "/ivr/hotline/simulate",
            &[("text", &edited), ("keys", "3"), ("source", "saved")],
            true,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(
        page.contains("route queue general category=other topic=alumni"),
        "{page}"
    );
    let unsaved = edited.replacen(r#"topic = "alumni""#, r#"topic = "former""#, 1);
    let (_, _, page) = head
        .post(
            "/ivr/hotline/simulate",
            &[("text", &unsaved), ("keys", "3"), ("source", "edited")],
            true,
        )
        .await;
    assert!(
        page.contains("route queue general category=other topic=former"),
        "{page}"
    );
    assert!(
        page.contains("topic = &quot;former&quot;"),
        "edited text kept"
    );

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
    let (status, location, _) = head
        .post("/ivr/hotline/versions/1/restore", &[], true)
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location.as_deref(), Some("/ivr/hotline?saved=3&restored=1"));
    assert_eq!(
        std::fs::read_to_string(script_file(&server)).unwrap(),
        shipped_script()
    );
    server.running.stop().await.unwrap();
}

#[tokio::test]
async fn a_manager_gets_403_on_every_editor_page() {
    let server = start_with_scripts(staff(), &[]).await;
    let base = format!("http://{}", server.running.http_addr);
    let manager = Session::sign_in(&base, "manager").await;
    for path in ["/ivr", "/ivr/hotline", "/ivr/hotline/versions/1"] {
        let (status, _) = manager.get(path).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
    }
    let (status, _, _) = manager
        .post(
            "/ivr/hotline",
            &[("text", &edited_script()), ("base_version", "1")],
            true,
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, _) = manager
        .post("/ivr/hotline/simulate", &[("keys", "3")], true)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        std::fs::read_to_string(script_file(&server)).unwrap(),
        shipped_script()
    );
    server.running.stop().await.unwrap();
}
