//! The console's login in a real headless Chromium: Russian by default,
//! a wrong password answered on the form, English one click away, and the
//! session cookie out of reach of page scripts.
//!
//! Browser tests need Debian's `chromium` and `chromium-driver`, so they
//! are `#[ignore]`d in a plain `cargo test`; `.ci/run` installs both and
//! runs every `tests/browser_*.rs` with `--ignored`. Screenshots go to
//! `target/browser-screenshots/`.

mod common;

use common::webdriver::Browser;
use common::{TestServer, user};
use hotline::role::Role;

const NEEDS_CHROMIUM: &str = "needs chromium + chromium-driver; run by .ci/run";

#[tokio::test]
#[ignore = "needs chromium + chromium-driver; run by .ci/run"]
async fn head_signs_in_after_a_wrong_password_and_switches_to_english() {
    let _ = NEEDS_CHROMIUM;
    let server = TestServer::start(vec![user("head", Role::Head)]).await;
    let base = server.base_url();
    let browser = Browser::start().await;

    browser.goto(&format!("{base}/login")).await;
    browser
        .wait_text("h1", "the Russian title", |t| t.contains("Вход"))
        .await;
    browser.screenshot("login").await;
    browser.fill("#username", "head").await;
    browser.fill("#password", "wrong").await;
    browser.click_css("#sign-in").await;
    browser
        .wait_text("#login-error", "the error", |t| {
            t.contains("Неверный логин или пароль")
        })
        .await;
    browser.screenshot("login-wrong-password").await;

    browser.click_css("#lang-en").await;
    browser
        .wait_text("h1", "the English title", |t| t.contains("Sign in"))
        .await;

    browser.sign_in(&base, "head", "head-password").await;
    let url = browser.current_url().await;
    assert!(
        url.ends_with("/board"),
        "the head lands on the board: {url}"
    );
    let cookies = browser.execute("return document.cookie", vec![]).await;
    let cookies = cookies.as_str().unwrap_or_default();
    assert!(
        !cookies.contains("hotline_session"),
        "the session cookie is HttpOnly: {cookies}"
    );
    assert!(cookies.contains("hotline_lang=en"), "{cookies}");
}
