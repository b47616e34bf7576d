//! The IVR editor in a real headless Chromium: the head breaks a script on
//! a known line, saves, and sees the error at that line (gutter mark, a
//! `line:col` link that puts the cursor there); fixes it and sees the new
//! version; runs the simulator and sees the route; restores the previous
//! version from the history. Screenshots: the list, the editor, the
//! editor with the error, the simulator, the history diff.
//!
//! Needs Debian's `chromium` and `chromium-driver`: `#[ignore]`d in a
//! plain `cargo test`; `.ci/run` runs it with `--ignored`.

mod common;

use common::ivr_editor::{broken_script, script_on_disk, shipped_script, start_with_scripts};
use common::user;
use common::webdriver::Browser;
use hotline::role::Role;
use serde_json::json;

/// Replaces the first `from` with `to` in the editor's textarea, as typing
/// would (the `input` event fires, so the gutter follows).
async fn edit(browser: &Browser, from: &str, to: &str) {
    let done = browser
        .execute(
            "var t = document.getElementById('script');
             if (t.value.indexOf(arguments[0]) < 0) return false;
             t.value = t.value.replace(arguments[0], arguments[1]);
             t.dispatchEvent(new Event('input'));
             return true;",
            vec![json!(from), json!(to)],
        )
        .await;
    assert_eq!(done, json!(true), "`{from}` is in the editor");
}

/// The 1-based line the textarea's cursor is on.
async fn cursor_line(browser: &Browser) -> u64 {
    browser
        .execute(
            "var t = document.getElementById('script');
             return t.value.substring(0, t.selectionStart).split('\\n').length;",
            vec![],
        )
        .await
        .as_u64()
        .unwrap_or(0)
}

#[tokio::test]
#[ignore = "needs chromium + chromium-driver; run by .ci/run"]
async fn head_fixes_a_broken_script_simulates_and_rolls_back() {
    let server = start_with_scripts(vec![user("head", Role::Head)], &[]).await;
    let base = server.base_url();
    let browser = Browser::signed_in(&server, "head").await;

    browser.goto(&format!("{base}/ivr")).await;
    browser
        .wait_text("#ivr-scripts", "the shipped script", |t| {
            t.contains("hotline")
        })
        .await;
    browser.screenshot("ivr-list").await;
    browser
        .click_css("#ivr-scripts a[href='/ivr/hotline']")
        .await;
    browser
        .wait_text("#current-version", "version 1", |t| t == "1")
        .await;
    browser.screenshot("ivr-editor").await;

    // A typo in a menu option: the node `aplicants` does not exist.
    let (broken, (line, col)) = broken_script();
    edit(&browser, r#""1" = "applicants""#, r#""1" = "aplicants""#).await;
    browser.click_css("#save").await;
    let diagnostics = browser
        .wait_text("#diagnostics", "the error at its line", |t| {
            t.contains(&format!("{line}:{col} unknown node `aplicants`"))
        })
        .await;
    let marked = browser.find(&format!("#gutter #L{line}")).await;
    assert_eq!(
        browser.attribute(&marked, "class").await.as_deref(),
        Some("bad"),
        "the gutter marks line {line}"
    );
    let typed = browser
        .property(&browser.find("#script").await, "value")
        .await;
    assert_eq!(typed, json!(broken), "the text as typed: {diagnostics}");
    browser
        .click_css(&format!("#diagnostics a.goto-line[data-line='{line}']"))
        .await;
    assert_eq!(
        cursor_line(&browser).await,
        line,
        "the link moves the cursor"
    );
    browser.screenshot("ivr-editor-error").await;
    assert_eq!(script_on_disk(&server), shipped_script(), "nothing saved");

    // Fixed, with a real change: graduates filed under `alumni`.
    edit(&browser, r#""1" = "aplicants""#, r#""1" = "applicants""#).await;
    edit(&browser, r#"topic = "graduates""#, r#"topic = "alumni""#).await;
    browser.click_css("#save").await;
    browser
        .wait_text("#current-version", "version 2", |t| t == "2")
        .await;
    browser
        .wait_text("#notice", "the saved notice", |t| t.contains('2'))
        .await;
    assert!(browser.try_find("#diagnostics").await.is_none());
    assert!(
        server
            .running
            .ivr
            .lookup("100")
            .unwrap()
            .source
            .text
            .contains(r#"topic = "alumni""#),
        "new calls get version 2"
    );

    browser.fill("#sim-keys", "3").await;
    browser.click_css("#simulate-saved").await;
    browser
        .wait_text("#simulation", "the route", |t| {
            t.contains("route queue general category=other topic=alumni")
        })
        .await;
    browser
        .execute(
            "document.getElementById('simulator').scrollIntoView()",
            vec![],
        )
        .await;
    browser.screenshot("ivr-simulator").await;

    // The history: version 1 against the current one, then rollback.
    browser
        .click_css("#versions a[href='/ivr/hotline/versions/1']")
        .await;
    browser
        .wait_text("#diff", "the changed topic", |t| {
            t.contains(r#"topic = "graduates""#) && t.contains(r#"topic = "alumni""#)
        })
        .await;
    browser.screenshot("ivr-history-diff").await;
    browser.click_css("button[data-restore='1']").await;
    browser
        .wait_text("#current-version", "version 3", |t| t == "3")
        .await;
    let restored = browser
        .property(&browser.find("#script").await, "value")
        .await;
    assert_eq!(restored, json!(shipped_script()));
    assert_eq!(script_on_disk(&server), shipped_script());
    server.running.stop().await.unwrap();
}
