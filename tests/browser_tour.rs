//! Every console page on a laptop (1366×900) and a tablet (768×1024): the
//! page renders (no error page) and nothing forces the whole page to
//! scroll sideways (wide tables scroll inside their own box). Screenshots
//! of each page at both sizes go to `target/browser-screenshots/tour-*`.

mod common;

use common::ivr_editor::start_with_scripts;
use common::user;
use common::webdriver::Browser;
use hotline::role::Role;

const PAGES: &[(&str, &str)] = &[
    ("operator", "/operator"),
    ("visit", "/visits/new"),
    ("inquiries", "/inquiries"),
    ("clients", "/clients"),
    ("board", "/board"),
    ("reports", "/reports"),
    ("ivr", "/ivr"),
    ("ivr-editor", "/ivr/hotline"),
    ("admin", "/admin"),
];

#[tokio::test]
#[ignore = "needs chromium + chromium-driver; run by .ci/run"]
async fn every_page_fits_a_laptop_and_a_tablet() {
    // The editor page edits files: it gets a copy, never the repository's.
    let server = start_with_scripts(vec![user("boss", Role::Admin)], &[]).await;
    let base = server.base_url();
    let browser = Browser::signed_in(&server, "boss").await;

    for (width, height, size) in [(1366, 900, "laptop"), (768, 1024, "tablet")] {
        browser.set_window(width, height).await;
        for (name, path) in PAGES {
            browser.goto(&format!("{base}{path}")).await;
            browser.find("main").await;
            assert!(
                browser.try_find(".error-page").await.is_none(),
                "{path} shows an error page"
            );
            browser.screenshot(&format!("tour-{size}-{name}")).await;
            let overflow = browser.horizontal_overflow().await;
            assert!(
                overflow <= 0,
                "{path} is {overflow} px wider than a {size} window ({width} px)"
            );
        }
    }
}
