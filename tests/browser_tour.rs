//! Every console page on a laptop (1366×900) and a tablet (768×1024): the
//! page renders (no error page) and nothing forces the whole page to
//! scroll sideways (wide tables scroll inside their own box). Screenshots
//! of each page at both sizes go to `target/browser-screenshots/tour-*`.

mod common;

use common::webdriver::Browser;
use common::{TestServer, agent};
use hotline::role::Role;
use hotline::sip::digest::Algorithm;

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
    let mut admin = agent("boss", "boss-password", &[Algorithm::Md5]);
    admin.role = Role::Admin;
    let dir = tempfile::tempdir().unwrap();
    let mut config = common::test_config(&dir, vec![admin]);
    // The editor page edits files: give it a copy, never the repository's.
    let ivr_dir = dir.path().join("ivr-scripts");
    std::fs::create_dir_all(&ivr_dir).unwrap();
    for entry in std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/ivr-scripts")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), ivr_dir.join(entry.file_name())).unwrap();
    }
    config.paths.ivr_dir = ivr_dir;
    let running = hotline::server::start(config.clone()).await.unwrap();
    let server = TestServer {
        running,
        dir,
        config,
    };
    let base = format!("http://{}", server.running.http_addr);
    let browser = Browser::start().await;
    browser.sign_in(&base, "boss", "boss-password").await;

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
