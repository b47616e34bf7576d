//! A whole server whose IVR directory is a copy of the shipped scripts in
//! the test's temp dir, so the editor's saves never touch the repository's
//! `ivr-scripts/`. Shared by the IVR editor's API, console and browser tests
//! and the browser tour of every page.
#![allow(dead_code)]

use crate::common::{TestServer, test_config, user};
use hotline::config::AgentConfig;
use hotline::role::Role;
use std::path::PathBuf;

/// Who the editor's tests sign in as: `head` may edit, `manager` may not.
pub fn head_and_manager() -> Vec<AgentConfig> {
    vec![
        user("head", Role::Head),
        user("manager", Role::ContactManager),
    ]
}

/// The shipped default flow, as the tests start from it.
pub fn shipped_script() -> String {
    std::fs::read_to_string("ivr-scripts/hotline.toml").expect("the shipped script")
}

/// Starts the server with `ivr-scripts/hotline.toml` copied into the temp
/// dir, plus `extra` scripts (`(file name, text)`). Hot reload polling is
/// off: a save must make its flow live by itself.
pub async fn start_with_scripts(agents: Vec<AgentConfig>, extra: &[(&str, &str)]) -> TestServer {
    let dir = tempfile::tempdir().unwrap();
    let ivr_dir = dir.path().join("ivr-scripts");
    std::fs::create_dir(&ivr_dir).unwrap();
    std::fs::write(ivr_dir.join("hotline.toml"), shipped_script()).unwrap();
    for (name, text) in extra {
        std::fs::write(ivr_dir.join(name), text).unwrap();
    }
    let mut config = test_config(&dir, agents);
    config.paths.ivr_dir = ivr_dir;
    config.ivr.reload_interval_ms = 0;
    TestServer::start_in(dir, config).await
}

/// The copy of the default flow the server serves.
pub fn script_file(server: &TestServer) -> PathBuf {
    server.config.paths.ivr_dir.join("hotline.toml")
}

/// The default flow's file as the server last wrote it.
pub fn script_on_disk(server: &TestServer) -> String {
    std::fs::read_to_string(script_file(server)).unwrap()
}

/// 1-based line and column of the first `needle` in `text`.
pub fn position_of(text: &str, needle: &str) -> (u64, u64) {
    let at = text.find(needle).expect("needle in the text");
    let before = &text[..at];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
    (line as u64, col as u64)
}

/// The shipped script with a menu option pointing at a node that does not
/// exist (`aplicants`), and where that bad reference is.
pub fn broken_script() -> (String, (u64, u64)) {
    let text = shipped_script().replacen(r#""1" = "applicants""#, r#""1" = "aplicants""#, 1);
    let at = position_of(&text, r#""aplicants""#);
    (text, at)
}

/// The shipped script with graduates filed under the topic `alumni`.
pub fn edited_script() -> String {
    let text = shipped_script();
    let edited = text.replacen(r#"topic = "graduates""#, r#"topic = "alumni""#, 1);
    assert_ne!(text, edited);
    edited
}
