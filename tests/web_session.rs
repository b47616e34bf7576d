//! The console's front door without a browser: the login form, the session
//! cookie's flags, CSRF refusals, logout revoking the session, and the
//! embedded assets. (The browser journeys are in `tests/browser.rs`.)

mod common;

use common::console::{ConsoleSession, client, post_login};
use common::{TestServer, user};
use hotline::role::Role;
use reqwest::header::{CONTENT_TYPE, LOCATION, SET_COOKIE};
use reqwest::{Method, StatusCode};

async fn server() -> (TestServer, String) {
    let server = TestServer::start(vec![user("head", Role::Head)]).await;
    let base = server.base_url();
    (server, base)
}

#[tokio::test]
async fn login_form_sets_an_http_only_strict_cookie_and_refuses_a_wrong_password() {
    let (_server, base) = server().await;
    let form = client().get(format!("{base}/login")).send().await.unwrap();
    assert_eq!(form.status(), StatusCode::OK);
    assert_eq!(form.headers()["x-frame-options"], "DENY");
    assert_eq!(form.headers()["cache-control"], "no-store");
    let csp = form.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("script-src 'self'"), "{csp}");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    let html = form.text().await.unwrap();
    assert!(html.contains("name=\"password\""), "{html}");
    assert!(html.contains("lang=\"ru\""), "Russian by default: {html}");

    let wrong = post_login(&base, &[("username", "head"), ("password", "nope")]).await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert!(wrong.headers().get(SET_COOKIE).is_none());
    assert!(
        wrong
            .text()
            .await
            .unwrap()
            .contains("Неверный логин или пароль")
    );

    let good = post_login(
        &base,
        &[
            ("username", "head"),
            ("password", "head-password"),
            ("next", "/reports"),
        ],
    )
    .await;
    assert_eq!(good.status(), StatusCode::SEE_OTHER);
    assert_eq!(good.headers()[LOCATION], "/reports");
    let cookie = good.headers()[SET_COOKIE].to_str().unwrap();
    assert!(cookie.starts_with("hotline_session="), "{cookie}");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Strict"), "{cookie}");
}

#[tokio::test]
async fn an_open_redirect_after_login_is_refused() {
    let (_server, base) = server().await;
    let reply = post_login(
        &base,
        &[
            ("username", "head"),
            ("password", "head-password"),
            ("next", "//evil.example/"),
        ],
    )
    .await;
    assert_eq!(reply.headers()[LOCATION], "/board");
}

#[tokio::test]
async fn a_login_posted_from_another_site_is_refused() {
    let (_server, base) = server().await;
    let reply = client()
        .post(format!("{base}/login"))
        .header("origin", "http://evil.example")
        .form(&[("username", "head"), ("password", "head-password")])
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), StatusCode::FORBIDDEN);
    assert!(reply.headers().get(SET_COOKIE).is_none());
}

#[tokio::test]
async fn pages_without_a_session_send_the_browser_to_the_login_form() {
    let (_server, base) = server().await;
    let reply = client().get(format!("{base}/")).send().await.unwrap();
    assert_eq!(reply.headers()[LOCATION], "/login");
    let reply = client().get(format!("{base}/live")).send().await.unwrap();
    assert_eq!(reply.headers()[LOCATION], "/login?next=/live");
}

#[tokio::test]
async fn logout_needs_the_csrf_token_and_then_revokes_the_session() {
    let (server, _base) = server().await;
    let head = ConsoleSession::sign_in(&server, "head").await;
    // The session works: the live feed opens.
    let live = head.request(Method::GET, "/live").send().await.unwrap();
    assert_eq!(live.status(), StatusCode::OK);
    assert!(
        live.headers()[CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    drop(live);

    // A form without the token (as another site would post it) is refused.
    let forged = head.post_form_without_csrf("/logout", &[("x", "1")]).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    let wrong = head
        .post_form_without_csrf("/logout", &[("_csrf", "00000000000000000000000000000000")])
        .await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);

    // The token a signed-in page shows works. (The login page has no CSRF
    // field; the session computes the token the way a signed-in page
    // shows it.)
    let (_, login_page) = head.get("/login").await;
    assert!(!login_page.contains("_csrf"));
    let out = head.post_form("/logout", &[]).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert!(
        out.headers[SET_COOKIE]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    let after = head.request(Method::GET, "/live").send().await.unwrap();
    assert_eq!(
        after.status(),
        StatusCode::SEE_OTHER,
        "the old cookie no longer opens anything"
    );
}

#[tokio::test]
async fn a_browser_gets_a_404_page_and_an_api_client_json() {
    let (_server, base) = server().await;
    let page = client()
        .get(format!("{base}/no-such-page"))
        .header("accept", "text/html,application/xhtml+xml")
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::NOT_FOUND);
    assert!(page.text().await.unwrap().contains("<h1>404"));
    let api = client()
        .get(format!("{base}/api/v1/no-such"))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), StatusCode::NOT_FOUND);
    let body: serde_json::Value = api.json().await.unwrap();
    assert_eq!(body["error"]["code"], "not_found");
}

#[tokio::test]
async fn assets_are_served_from_the_binary() {
    let (_server, base) = server().await;
    let htmx = client()
        .get(format!("{base}/static/htmx.min.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(htmx.status(), StatusCode::OK);
    assert!(
        htmx.headers()[CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
    assert!(htmx.text().await.unwrap().contains("htmx"));
    let missing = client()
        .get(format!("{base}/static/nope.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
}
