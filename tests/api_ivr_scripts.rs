//! `/api/v1/ivr-scripts` against the whole server: a broken script is
//! refused at its line and column and the live flow stays; a valid one
//! becomes a version, the file and the flow new calls get (while a call
//! in progress keeps its own); history, rollback, stale saves, roles and
//! the simulator.

mod common;
#[path = "common/http.rs"]
mod http;

use common::ivr_editor::{
    broken_script, edited_script, head_and_manager, script_file, script_on_disk, shipped_script,
    start_with_scripts,
};
use http::{Api, assert_error};
use reqwest::{Method, StatusCode};
use serde_json::json;

const SCRIPT: &str = "/api/v1/ivr-scripts/hotline";

#[tokio::test]
async fn a_broken_script_is_refused_at_its_line_and_column_and_the_live_flow_stays() {
    let server = start_with_scripts(head_and_manager(), &[]).await;
    let api = Api::new(&server);
    let head = api.login("head").await;

    let current = api.get(SCRIPT, &head).await;
    assert_eq!(current.status, StatusCode::OK, "{}", current.text);
    assert_eq!(current.json["version"], 1, "the deployed file is version 1");
    assert_eq!(current.json["author"], "file");
    assert_eq!(current.json["text"], shipped_script());
    assert_eq!(current.json["live"], true);

    let (broken, (line, col)) = broken_script();
    let refused = api
        .put(SCRIPT, &head, json!({ "text": broken, "base_version": 1 }))
        .await;
    assert_error(
        &refused,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    );
    let diagnostics = refused.json["error"]["diagnostics"]
        .as_array()
        .expect("diagnostics");
    let at_the_typo = diagnostics
        .iter()
        .find(|d| d["message"].as_str().unwrap_or("").contains("aplicants"))
        .unwrap_or_else(|| panic!("a diagnostic names the bad node: {}", refused.text));
    assert_eq!(at_the_typo["line"], line, "{}", refused.text);
    assert_eq!(at_the_typo["col"], col, "{}", refused.text);
    assert!(
        refused.json["error"]["fields"]["text"].is_string(),
        "{}",
        refused.text
    );

    // Nothing changed: file, live flow, history.
    assert_eq!(script_on_disk(&server), shipped_script());
    let live = server.running.ivr.lookup("100").expect("flow on 100");
    assert_eq!(live.source.text, shipped_script());
    let versions = api.get(&format!("{SCRIPT}/versions"), &head).await;
    assert_eq!(versions.json["items"].as_array().unwrap().len(), 1);
    server.running.stop().await.unwrap();
}

#[tokio::test]
async fn a_valid_save_goes_live_for_new_calls_while_a_running_call_keeps_its_version() {
    let server = start_with_scripts(head_and_manager(), &[]).await;
    let api = Api::new(&server);
    let head = api.login("head").await;
    let running_call = server.running.ivr.lookup("hotline").expect("the flow");

    let edited = edited_script();
    let saved = api
        .put(SCRIPT, &head, json!({ "text": edited, "base_version": 1 }))
        .await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.text);
    assert_eq!(saved.json["version"], 2);
    assert_eq!(saved.json["author"], "head");
    assert_eq!(saved.json["live"], true);

    assert_eq!(script_on_disk(&server), edited);
    let new_call = server.running.ivr.lookup("hotline").expect("the flow");
    assert_eq!(new_call.source.text, edited, "new calls get version 2");
    assert_eq!(
        running_call.source.text,
        shipped_script(),
        "the call in progress keeps version 1"
    );
    assert_eq!(
        server
            .running
            .store
            .count_audit("ivr_script", "hotline")
            .await
            .unwrap(),
        1,
        "the save is audited"
    );

    // The history, newest first, and the old text.
    let versions = api.get(&format!("{SCRIPT}/versions"), &head).await;
    assert_eq!(versions.status, StatusCode::OK, "{}", versions.text);
    let items = versions.json["items"].as_array().unwrap();
    let listed: Vec<(i64, &str)> = items
        .iter()
        .map(|v| {
            (
                v["version"].as_i64().unwrap(),
                v["author"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(listed, vec![(2, "head"), (1, "file")]);
    assert_eq!(items[0]["size"], edited.len());
    assert!(items[0]["at"].as_str().unwrap().ends_with('Z'));
    let v1 = api.get(&format!("{SCRIPT}/versions/1"), &head).await;
    assert_eq!(v1.json["text"], shipped_script());

    // Someone still editing version 1 cannot overwrite version 2.
    let stale = api
        .put(
            SCRIPT,
            &head,
            json!({ "text": shipped_script(), "base_version": 1 }),
        )
        .await;
    assert_error(&stale, StatusCode::CONFLICT, "stale_version");
    assert_eq!(script_on_disk(&server), edited);

    // Rollback: version 1's text becomes version 3, live at once.
    let restored = api
        .post(&format!("{SCRIPT}/versions/1/restore"), &head, None)
        .await;
    assert_eq!(restored.status, StatusCode::OK, "{}", restored.text);
    assert_eq!(restored.json["version"], 3);
    assert_eq!(restored.json["text"], shipped_script());
    assert_eq!(script_on_disk(&server), shipped_script());
    assert_eq!(
        server.running.ivr.lookup("100").unwrap().source.text,
        shipped_script()
    );
    let versions = api.get(&format!("{SCRIPT}/versions?limit=2"), &head).await;
    assert_eq!(versions.json["items"][0]["version"], 3);
    assert_eq!(versions.json["next_cursor"], "2");
    let rest = api
        .get(&format!("{SCRIPT}/versions?limit=2&cursor=2"), &head)
        .await;
    assert_eq!(rest.json["items"][0]["version"], 1);
    assert_eq!(rest.json["next_cursor"], serde_json::Value::Null);

    // The same text again is no new version.
    let same = api
        .put(SCRIPT, &head, json!({ "text": shipped_script() }))
        .await;
    assert_eq!(same.json["version"], 3, "{}", same.text);
    server.running.stop().await.unwrap();
}

#[tokio::test]
async fn a_script_taking_another_flows_number_is_refused() {
    let other = shipped_script()
        .replacen(r#"name = "hotline""#, r#"name = "second""#, 1)
        .replacen(r#"numbers = ["hotline", "100"]"#, r#"numbers = ["200"]"#, 1);
    let server = start_with_scripts(head_and_manager(), &[("second.toml", &other)]).await;
    let api = Api::new(&server);
    let head = api.login("head").await;

    let list = api.get("/api/v1/ivr-scripts", &head).await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.text);
    let names: Vec<&str> = list.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["hotline", "second"]);
    assert_eq!(list.json["items"][1]["numbers"], json!(["200"]));
    assert_eq!(list.json["items"][1]["version"], 1);
    assert_eq!(list.json["items"][1]["live"], true);

    let grabbing = other.replacen(r#"numbers = ["200"]"#, r#"numbers = ["200", "100"]"#, 1);
    let refused = api
        .put(
            "/api/v1/ivr-scripts/second",
            &head,
            json!({ "text": grabbing }),
        )
        .await;
    assert_error(
        &refused,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    );
    assert!(
        refused.json["error"]["diagnostics"][0]["message"]
            .as_str()
            .unwrap()
            .contains("number `100` is already used"),
        "{}",
        refused.text
    );
    server.running.stop().await.unwrap();
}

#[tokio::test]
async fn a_manager_may_not_read_or_edit_scripts() {
    let server = start_with_scripts(head_and_manager(), &[]).await;
    let api = Api::new(&server);
    let manager = api.login("manager").await;
    for (method, path, body) in [
        (Method::GET, "/api/v1/ivr-scripts".to_owned(), None),
        (Method::GET, SCRIPT.to_owned(), None),
        (
            Method::PUT,
            SCRIPT.to_owned(),
            Some(json!({ "text": edited_script() })),
        ),
        (Method::GET, format!("{SCRIPT}/versions"), None),
        (Method::GET, format!("{SCRIPT}/versions/1"), None),
        (Method::POST, format!("{SCRIPT}/versions/1/restore"), None),
        (
            Method::POST,
            format!("{SCRIPT}/simulate"),
            Some(json!({ "keys": "3" })),
        ),
    ] {
        let r = api
            .request(method.clone(), &path, Some(&manager), body)
            .await;
        assert_error(&r, StatusCode::FORBIDDEN, "forbidden");
    }
    let anonymous = api.request(Method::GET, SCRIPT, None, None).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    assert_eq!(script_on_disk(&server), shipped_script());
    server.running.stop().await.unwrap();
}

#[tokio::test]
async fn the_simulator_walks_the_saved_or_an_unsaved_text() {
    let server = start_with_scripts(head_and_manager(), &[]).await;
    let api = Api::new(&server);
    let head = api.login("head").await;
    let simulate = |body| api.post("/api/v1/ivr-scripts/hotline/simulate", &head, Some(body));

    let saved = simulate(json!({ "keys": "3" })).await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.text);
    assert_eq!(saved.json["version"], 1);
    let lines: Vec<&str> = saved.json["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    assert!(lines.contains(&"play main_menu (ru)"), "{lines:?}");
    assert!(lines.contains(&"key 3"), "{lines:?}");
    assert!(
        lines.contains(&"route queue general category=other topic=graduates"),
        "{lines:?}"
    );

    let unsaved = simulate(json!({ "keys": "3", "text": edited_script() })).await;
    assert_eq!(unsaved.status, StatusCode::OK, "{}", unsaved.text);
    assert_eq!(unsaved.json["version"], serde_json::Value::Null);
    assert!(
        unsaved
            .text
            .contains("route queue general category=other topic=alumni"),
        "{}",
        unsaved.text
    );

    let (broken, (line, _)) = broken_script();
    let refused = simulate(json!({ "keys": "1", "text": broken })).await;
    assert_error(
        &refused,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    );
    assert!(
        refused.json["error"]["diagnostics"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["line"] == line),
        "{}",
        refused.text
    );

    let bad_keys = simulate(json!({ "keys": "1,x" })).await;
    assert_error(
        &bad_keys,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    );
    assert!(bad_keys.json["error"]["fields"]["keys"].is_string());

    // A call at another time: a Saturday evening, local time.
    let evening = simulate(json!({ "keys": "", "at": "2026-01-03T20:30" })).await;
    assert_eq!(evening.status, StatusCode::OK, "{}", evening.text);
    let first = evening.json["lines"][0].as_str().unwrap_or_default();
    assert!(first.starts_with("call at 2026-01-03 20:30"), "{first}");
    let bad_time = simulate(json!({ "keys": "1", "at": "Saturday" })).await;
    assert_error(
        &bad_time,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    );
    assert!(bad_time.json["error"]["fields"]["at"].is_string());
    server.running.stop().await.unwrap();
}

#[tokio::test]
async fn unknown_scripts_and_versions_are_404_and_names_cannot_leave_the_directory() {
    let server = start_with_scripts(head_and_manager(), &[]).await;
    let api = Api::new(&server);
    let head = api.login("head").await;
    for path in [
        "/api/v1/ivr-scripts/nope",
        "/api/v1/ivr-scripts/..%2Fhotline",
        "/api/v1/ivr-scripts/.hotline",
        "/api/v1/ivr-scripts/hotline/versions/7",
        "/api/v1/ivr-scripts/hotline/versions/x",
    ] {
        let r = api.get(path, &head).await;
        assert_error(&r, StatusCode::NOT_FOUND, "not_found");
    }
    let r = api
        .put(
            "/api/v1/ivr-scripts/nope",
            &head,
            json!({ "text": shipped_script() }),
        )
        .await;
    assert_error(&r, StatusCode::NOT_FOUND, "not_found");
    assert!(!server.config.paths.ivr_dir.join("nope.toml").exists());
    server.running.stop().await.unwrap();
}

#[tokio::test]
async fn an_edit_made_on_disk_joins_the_history_before_the_next_save() {
    let server = start_with_scripts(head_and_manager(), &[]).await;
    let api = Api::new(&server);
    let head = api.login("head").await;
    assert_eq!(api.get(SCRIPT, &head).await.json["version"], 1);

    // An admin edits the file by hand.
    std::fs::write(script_file(&server), edited_script()).unwrap();
    let current = api.get(SCRIPT, &head).await;
    assert_eq!(current.json["version"], 2, "{}", current.text);
    assert_eq!(current.json["author"], "file");
    assert_eq!(current.json["text"], edited_script());

    // A head who opened version 1 before that edit cannot overwrite it.
    let stale = api
        .put(
            SCRIPT,
            &head,
            json!({ "text": shipped_script(), "base_version": 1 }),
        )
        .await;
    assert_error(&stale, StatusCode::CONFLICT, "stale_version");
    server.running.stop().await.unwrap();
}
