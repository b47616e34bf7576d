//! Working hours through `/api/v1/calendar`, against the whole server: the
//! admin replaces them, the head reads them, bad values are 422 naming the
//! field, a save is audited, calls that start afterwards are answered by
//! the new hours, and the saved hours survive a restart and win over the
//! config file's `[calendar]`.

mod common;
#[path = "common/http.rs"]
mod http;

use common::TestServer;
use common::call_phone::{CallPhone, DialOptions, best_correlation, decode, prompt_samples};
use hotline::media::g711::CodecKind;
use hotline::role::Role;
use http::{Api, Reply, assert_error, start_with, user};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

async fn server() -> TestServer {
    start_with(
        vec![
            user("root", Role::Admin),
            user("hanna", Role::Head),
            user("anna", Role::ContactManager),
        ],
        |_| {},
    )
    .await
}

async fn put(api: &Api, token: &str, body: Value) -> Reply {
    api.request(Method::PUT, "/api/v1/calendar", Some(token), Some(body))
        .await
}

/// `YYYY-MM-DD` of UTC today plus `days`.
fn utc_date(days: i64) -> String {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    let day = now.as_secs() as i64 / 86_400 + days;
    let date = hotline::ivr::calendar::Date::from_days_since_epoch(day);
    date.to_string()
}

/// Open around the clock in UTC, but yesterday, today and tomorrow are
/// holidays: closed now, whatever the hour the test runs at.
fn closed_around_today() -> Value {
    let all_day = "00:00-24:00";
    json!({
        "utc_offset": "Z",
        "hours": {"mon": all_day, "tue": all_day, "wed": all_day, "thu": all_day,
                  "fri": all_day, "sat": all_day, "sun": all_day},
        "holidays": [utc_date(-1), utc_date(0), utc_date(1)],
    })
}

fn prompt(id: &str) -> Vec<i16> {
    prompt_samples(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("prompts/ru/{id}.wav")),
        CodecKind::Pcmu,
    )
}

/// Dials the hotline and tells how well what it plays first matches the
/// `closed` message and the `greeting`.
async fn first_words(server: &TestServer) -> (f64, f64) {
    let mut phone = CallPhone::dial(server.sip(), "hotline", DialOptions::default()).await;
    assert_eq!(phone.final_status, 200);
    phone.send_silence(5).await;
    // Three seconds, and the message may start up to one second in: on a
    // loaded machine the first packets can be silence while the call is set
    // up, and which message plays is the question, not how soon.
    let heard = decode(&phone.wait_packets(150, Duration::from_secs(10)).await);
    phone.hang_up().await;
    (
        best_correlation(&heard, &prompt("closed"), 8000, 8000),
        best_correlation(&heard, &prompt("greeting"), 8000, 8000),
    )
}

#[tokio::test]
async fn the_admin_replaces_the_hours_the_head_reads_them_and_the_save_is_audited() {
    let s = server().await;
    let api = Api::new(&s);
    let (root, hanna) = (api.login("root").await, api.login("hanna").await);

    let before = api.get("/api/v1/calendar", &hanna).await;
    assert_eq!(before.status, StatusCode::OK, "{}", before.text);
    assert_eq!(before.json["source"], "config");
    assert_eq!(before.json["hours"]["mon"], "00:00-24:00");
    assert_eq!(before.json["saved_by"], Value::Null);

    let saved = put(
        &api,
        &root,
        json!({
            "utc_offset": "+03:00",
            "hours": {"mon": "14:00-18:00, 09:00-13:00", "tue": "09:00-18:00", "sat": "closed"},
            "holidays": ["2026-01-07", "2026-01-01"],
        }),
    )
    .await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.text);

    let after = api.get("/api/v1/calendar", &hanna).await;
    assert_eq!(after.status, StatusCode::OK);
    assert_eq!(after.json, saved.json, "PUT answers what GET then shows");
    assert_eq!(after.json["utc_offset"], "+03:00");
    assert_eq!(after.json["hours"]["mon"], "09:00-13:00, 14:00-18:00");
    assert_eq!(after.json["hours"]["tue"], "09:00-18:00");
    assert_eq!(after.json["hours"]["wed"], "closed", "a day not listed");
    assert_eq!(after.json["holidays"], json!(["2026-01-01", "2026-01-07"]));
    assert_eq!(after.json["source"], "saved");
    assert_eq!(after.json["saved_by"], "root");
    assert!(
        after.json["saved_at"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z'))
    );

    let audit = api.get("/api/v1/audit?object_kind=calendar", &hanna).await;
    let rows = audit.json["items"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{}", audit.text);
    assert_eq!(rows[0]["actor"], "root");
    assert_eq!(rows[0]["action"], "update");
    assert!(rows[0]["detail"].as_str().unwrap().contains("2026-01-07"));
}

#[tokio::test]
async fn bad_values_are_refused_with_422_naming_each_field_and_nothing_changes() {
    let s = server().await;
    let api = Api::new(&s);
    let root = api.login("root").await;

    let r = put(
        &api,
        &root,
        json!({
            "utc_offset": "Moscow",
            "hours": {
                "mon": "09:00-13:00, 12:00-18:00",
                "tue": "18:00-09:00",
                "wed": "9-18",
                "someday": "09:00-18:00",
            },
            "holidays": ["2026-01-01", "2026-02-30", "tomorrow"],
        }),
    )
    .await;
    assert_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    let fields = r.json["error"]["fields"].as_object().unwrap();
    let named: Vec<&str> = fields.keys().map(String::as_str).collect();
    assert_eq!(
        named,
        [
            "holidays[1]",
            "holidays[2]",
            "hours.mon",
            "hours.someday",
            "hours.tue",
            "hours.wed",
            "utc_offset"
        ],
        "{}",
        r.text
    );
    assert!(fields["hours.mon"].as_str().unwrap().contains("overlap"));
    assert!(
        fields["hours.someday"]
            .as_str()
            .unwrap()
            .contains("unknown day")
    );
    assert!(
        fields["holidays[1]"]
            .as_str()
            .unwrap()
            .contains("YYYY-MM-DD")
    );

    let r = put(&api, &root, json!({"hours": {}})).await;
    assert_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(r.json["error"]["fields"]["utc_offset"], "is required");

    let r = put(
        &api,
        &root,
        json!({"utc_offset": "Z", "hours": {}, "colour": "red"}),
    )
    .await;
    assert_eq!(
        r.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "unknown key: {}",
        r.text
    );

    let r = api
        .client
        .put(format!("{}/api/v1/calendar", api.base))
        .bearer_auth(&root)
        .body("utc_offset = \"Z\"")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);

    let now = api.get("/api/v1/calendar", &root).await;
    assert_eq!(now.json["source"], "config", "nothing was saved");
    assert_eq!(now.json["hours"]["mon"], "00:00-24:00");
}

#[tokio::test]
async fn the_head_reads_but_may_not_change_the_hours_and_a_manager_may_do_neither() {
    let s = server().await;
    let api = Api::new(&s);
    let (hanna, anna) = (api.login("hanna").await, api.login("anna").await);

    let r = put(&api, &hanna, closed_around_today()).await;
    assert_error(&r, StatusCode::FORBIDDEN, "forbidden");
    let r = api.get("/api/v1/calendar", &anna).await;
    assert_error(&r, StatusCode::FORBIDDEN, "forbidden");
    let r = put(&api, &anna, closed_around_today()).await;
    assert_error(&r, StatusCode::FORBIDDEN, "forbidden");
    let r = api
        .request(Method::GET, "/api/v1/calendar", None, None)
        .await;
    assert_error(&r, StatusCode::UNAUTHORIZED, "unauthenticated");
    let r = api.get("/api/v1/calendar", &hanna).await;
    assert_eq!(
        r.json["source"], "config",
        "the refused PUTs changed nothing"
    );
}

#[tokio::test]
async fn a_call_after_the_save_is_answered_by_the_new_hours() {
    let s = server().await;
    let api = Api::new(&s);
    let root = api.login("root").await;

    let r = put(&api, &root, closed_around_today()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let (closed, _) = first_words(&s).await;
    assert!(closed > 0.95, "closed-message correlation {closed}");

    // And back: open around the clock, no holidays.
    let mut open = closed_around_today();
    open["holidays"] = json!([]);
    let r = put(&api, &root, open).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let (_, greeting) = first_words(&s).await;
    assert!(greeting > 0.95, "greeting correlation {greeting}");
}

#[tokio::test]
async fn saved_hours_survive_a_restart_and_win_over_the_config_file() {
    let s = server().await;
    let api = Api::new(&s);
    let root = api.login("root").await;
    let r = put(&api, &root, closed_around_today()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);

    // The config still says open around the clock (tests/common).
    assert_eq!(s.config.calendar, common::always(true));
    let s = s.restart().await;
    let api = Api::new(&s);
    let root = api.login("root").await;
    let r = api.get("/api/v1/calendar", &root).await;
    assert_eq!(r.json["source"], "saved", "{}", r.text);
    assert_eq!(r.json["saved_by"], "root");
    assert_eq!(r.json["holidays"][1], utc_date(0));
    assert_eq!(r.json["utc_offset"], "+00:00");

    let (closed, _) = first_words(&s).await;
    assert!(
        closed > 0.95,
        "the saved hours answer after the restart: closed-message correlation {closed}"
    );
}
