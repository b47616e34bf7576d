//! The head's reports over a scripted day: a known set of calls, e-mails,
//! a visit and agent state changes (some across the range's edges) gives
//! exactly the expected figures, and the JSON, the CSV and `hotline
//! report` agree on every one of them.

#[path = "common/api_helpers.rs"]
mod api_helpers;

use api_helpers::{Reply, TestServer, temp_db};
use hotline::role::Role;
use hotline::store::ids::new_id;
use hotline::store::{Channel, InquiryStatus, InquiryUpdate, NewInquiry, Store};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

/// Monday 2025-03-03T00:00:00Z.
const DAY: i64 = 1_740_960_000_000;
const HOUR: i64 = 3_600_000;
const MIN: i64 = 60_000;
const SEC: i64 = 1_000;

/// What one scripted inquiry ends up as.
struct Scripted {
    at: i64,
    channel: Channel,
    status: InquiryStatus,
    category: Option<&'static str>,
    topic: Option<&'static str>,
    agent: Option<&'static str>,
    wait_ms: Option<i64>,
    talk_ms: Option<i64>,
}

fn inquiry(at: i64, channel: Channel, status: InquiryStatus) -> Scripted {
    Scripted {
        at,
        channel,
        status,
        category: None,
        topic: None,
        agent: None,
        wait_ms: None,
        talk_ms: None,
    }
}

impl Scripted {
    fn about(mut self, category: &'static str, topic: &'static str) -> Self {
        self.category = Some(category);
        self.topic = Some(topic);
        self
    }

    fn waited(mut self, wait_ms: i64) -> Self {
        self.wait_ms = Some(wait_ms);
        self
    }

    /// Answered by `agent` after the wait, talked `talk_ms`.
    fn answered(mut self, agent: &'static str, talk_ms: i64) -> Self {
        self.agent = Some(agent);
        self.talk_ms = Some(talk_ms);
        self
    }

    fn handled_by(mut self, agent: &'static str) -> Self {
        self.agent = Some(agent);
        self
    }
}

/// The day (times UTC):
/// - c1 09:00 call, waited 5 s, anna talked 2 min, resolved (applicant/admission)
/// - c2 10:00 call, waited 30 s (slow), anna talked 1 min, transferred (student/schedule)
/// - c3 13:00 call, waited exactly 20 s, boris talked 3 min, resolved (applicant/admission)
/// - c4 14:00 call, abandoned after 45 s in the queue (applicant/admission)
/// - c5 15:00 call, abandoned in the IVR, never classified
/// - c6, c7 16:00, 16:30 calls resolved in the IVR (opening_hours; applicant, parent)
/// - c8 17:00 call, callback requested after 60 s in the queue (student/schedule)
/// - e9 11:00 e-mail, new (student/schedule)
/// - e10 12:00 e-mail answered by anna, resolved (applicant/admission)
/// - v11 15:30 visit handled by boris, resolved (listener/courses)
/// - and two calls just outside the day: 03-02 23:59:59 and 03-04 00:00:00.
fn the_day() -> Vec<Scripted> {
    use Channel::*;
    use InquiryStatus::*;
    vec![
        inquiry(DAY + 9 * HOUR, Phone, Resolved)
            .about("applicant", "admission")
            .waited(5 * SEC)
            .answered("anna", 2 * MIN),
        inquiry(DAY + 10 * HOUR, Phone, Transferred)
            .about("student", "schedule")
            .waited(30 * SEC)
            .answered("anna", MIN),
        inquiry(DAY + 13 * HOUR, Phone, Resolved)
            .about("applicant", "admission")
            .waited(20 * SEC)
            .answered("boris", 3 * MIN),
        inquiry(DAY + 14 * HOUR, Phone, Abandoned)
            .about("applicant", "admission")
            .waited(45 * SEC),
        inquiry(DAY + 15 * HOUR, Phone, Abandoned),
        inquiry(DAY + 16 * HOUR, Phone, ResolvedInIvr).about("applicant", "opening_hours"),
        inquiry(DAY + 16 * HOUR + 30 * MIN, Phone, ResolvedInIvr).about("parent", "opening_hours"),
        inquiry(DAY + 17 * HOUR, Phone, CallbackRequested)
            .about("student", "schedule")
            .waited(MIN),
        inquiry(DAY + 11 * HOUR, Email, New).about("student", "schedule"),
        inquiry(DAY + 12 * HOUR, Email, Resolved)
            .about("applicant", "admission")
            .handled_by("anna"),
        inquiry(DAY + 15 * HOUR + 30 * MIN, InPerson, Resolved)
            .about("listener", "courses")
            .handled_by("boris"),
        inquiry(DAY - SEC, Phone, Abandoned),
        inquiry(DAY + 24 * HOUR, Phone, Abandoned),
    ]
}

/// Agent state changes: anna is available from the evening before (the
/// state open at the start of the day), boris's first change is at noon,
/// and boris's last state runs past midnight.
fn the_states() -> Vec<(&'static str, i64, &'static str, &'static str)> {
    vec![
        ("anna", DAY - 4 * HOUR, "offline", "available"),
        ("anna", DAY + 9 * HOUR + 5 * SEC, "available", "busy"),
        (
            "anna",
            DAY + 9 * HOUR + 2 * MIN + 5 * SEC,
            "busy",
            "wrap_up",
        ),
        (
            "anna",
            DAY + 9 * HOUR + 2 * MIN + 35 * SEC,
            "wrap_up",
            "available",
        ),
        ("anna", DAY + 10 * HOUR + 30 * SEC, "available", "busy"),
        ("anna", DAY + 10 * HOUR + MIN + 30 * SEC, "busy", "wrap_up"),
        (
            "anna",
            DAY + 10 * HOUR + MIN + 50 * SEC,
            "wrap_up",
            "available",
        ),
        ("anna", DAY + 18 * HOUR, "available", "offline"),
        ("boris", DAY + 12 * HOUR, "offline", "available"),
        ("boris", DAY + 13 * HOUR + 20 * SEC, "available", "busy"),
        (
            "boris",
            DAY + 13 * HOUR + 3 * MIN + 20 * SEC,
            "busy",
            "wrap_up",
        ),
        ("boris", DAY + 13 * HOUR + 4 * MIN, "wrap_up", "paused"),
        ("boris", DAY + 14 * HOUR, "paused", "available"),
        ("boris", DAY + 26 * HOUR, "available", "offline"),
    ]
}

async fn seed(store: &Store) {
    let mut rng = rand::thread_rng();
    for (n, s) in the_day().into_iter().enumerate() {
        let id = new_id(s.at, &mut rng);
        let from = match s.channel {
            Channel::Phone => format!("7916000{n:04}"),
            _ => format!("client{n}@example.org"),
        };
        store
            .create_inquiry(
                &id,
                &NewInquiry {
                    channel: s.channel,
                    from,
                    client_id: None,
                    status: InquiryStatus::New,
                    call_id: None,
                    language: None,
                    created_at_ms: s.at,
                },
            )
            .await
            .unwrap();
        let answered_at = s
            .agent
            .filter(|_| s.channel == Channel::Phone)
            .map(|_| s.at + 10 * SEC + s.wait_ms.unwrap_or(0));
        let update = InquiryUpdate {
            status: Some(s.status),
            category: s.category.map(String::from),
            topic: s.topic.map(String::from),
            agent: s.agent.map(String::from),
            answered_at_ms: answered_at,
            wait_ms: s.wait_ms,
            talk_ms: s.talk_ms,
            ..Default::default()
        };
        store
            .update_inquiry(&id, &update, s.at + 5 * MIN)
            .await
            .unwrap();
    }
    for (agent, at, from, to) in the_states() {
        store
            .append_event(
                at,
                "agent.state",
                None,
                Some(agent),
                &json!({ "from": from, "to": to, "cause": "test" }),
            )
            .await
            .unwrap();
    }
}

async fn seeded_server() -> (tempfile::TempDir, std::path::PathBuf, TestServer, String) {
    let (dir, db) = temp_db();
    let s = TestServer::start(&db).await;
    seed(&s.store).await;
    let head = s.user_with_role("olga", Role::Head).await;
    (dir, db, s, head)
}

fn counts(pairs: &[(&str, u64)]) -> Value {
    Value::Object(
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), json!(v)))
            .collect(),
    )
}

#[tokio::test]
async fn the_scripted_day_gives_the_expected_summary() {
    let (_dir, _db, s, head) = seeded_server().await;
    let r = s
        .get(
            "/api/v1/reports/summary?from=2025-03-03&to=2025-03-03",
            &head,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let report = &r.json;
    assert_eq!(report["from"], "2025-03-03");
    assert_eq!(report["to"], "2025-03-03");
    assert_eq!(report["tz"], "+00:00");
    assert_eq!(report["group"], "day");
    assert_eq!(report["service_level_s"], 20);
    assert_eq!(report["periods"].as_array().unwrap().len(), 1);
    let day = &report["periods"][0];
    assert_eq!(day["period"], "2025-03-03");

    assert_eq!(day["inquiries"], 11);
    assert_eq!(
        day["by_channel"],
        counts(&[
            ("chat", 0),
            ("email", 2),
            ("in_person", 1),
            ("messenger", 0),
            ("phone", 8)
        ])
    );
    assert_eq!(
        day["by_status"],
        counts(&[
            ("abandoned", 2),
            ("callback_requested", 1),
            ("in_ivr", 0),
            ("in_progress", 0),
            ("new", 1),
            ("resolved", 4),
            ("resolved_in_ivr", 2),
            ("transferred", 1),
            ("waiting", 0),
        ])
    );
    assert_eq!(
        day["by_category"],
        counts(&[
            ("(none)", 1),
            ("applicant", 5),
            ("listener", 1),
            ("parent", 1),
            ("student", 3)
        ])
    );
    assert_eq!(
        day["by_topic"],
        counts(&[
            ("(none)", 1),
            ("admission", 4),
            ("courses", 1),
            ("opening_hours", 2),
            ("schedule", 3)
        ])
    );
    assert_eq!(day["calls_offered"], 8);
    assert_eq!(day["calls_answered"], 3);
    assert_eq!(day["calls_abandoned"], 2);
    assert_eq!(day["calls_resolved_in_ivr"], 2);
    assert_eq!(day["ivr_resolved_share"], 0.25);
    assert_eq!(day["callbacks_requested"], 1);
    // 5 s and exactly 20 s are within 20 s, 30 s is not.
    assert_eq!(day["answered_within_service_level"], 2);
    assert_eq!(day["service_level"], 0.6667);
    // Waits 5, 20, 30, 45, 60 s: mean 32 s, nearest-rank p90 the 5th.
    assert_eq!(day["avg_wait_ms"], 32_000);
    assert_eq!(day["p90_wait_ms"], 60_000);
    assert_eq!(day["avg_talk_ms"], 120_000);
    // anna 30 s + 20 s, boris 40 s of wrap-up.
    assert_eq!(day["wrap_up_ms"], 90_000);
    assert_eq!(day["avg_handle_ms"], (360_000 + 90_000) / 3);

    // One period: the totals row holds the same figures.
    let mut total = report["total"].clone();
    assert_eq!(total["period"], "total");
    total["period"] = day["period"].clone();
    assert_eq!(&total, day);
    s.stop().await;
}

#[tokio::test]
async fn the_scripted_day_gives_the_expected_agent_figures() {
    let (_dir, _db, s, head) = seeded_server().await;
    let r = s
        .get(
            "/api/v1/reports/agents?from=2025-03-03&to=2025-03-03",
            &head,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let agents = r.json["agents"].as_array().unwrap();
    let logins: Vec<&str> = agents
        .iter()
        .map(|a| a["agent"].as_str().unwrap())
        .collect();
    assert_eq!(logins, ["anna", "boris"]);

    let anna = &agents[0];
    assert_eq!(anna["calls_handled"], 2);
    assert_eq!(anna["inquiries_resolved"], 2, "c1 and the e-mail");
    assert_eq!(anna["talk_ms"], 180_000);
    assert_eq!(anna["wrap_up_ms"], 50_000);
    assert_eq!(anna["avg_handle_ms"], 115_000);
    // Available from midnight (the state open at the start), not from
    // the evening before; offline from 18:00 to midnight.
    assert_eq!(
        anna["state_ms"],
        json!({
            "available": 9 * HOUR + 5 * SEC + 57 * MIN + 55 * SEC + 7 * HOUR + 58 * MIN + 10 * SEC,
            "busy": 180_000,
            "offline": 6 * HOUR,
            "paused": 0,
            "ringing": 0,
            "wrap_up": 50_000,
        })
    );
    let day_total: i64 = anna["state_ms"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_i64().unwrap())
        .sum();
    assert_eq!(day_total, 24 * HOUR);

    let boris = &agents[1];
    assert_eq!(boris["calls_handled"], 1);
    assert_eq!(boris["inquiries_resolved"], 2, "c3 and the visit");
    assert_eq!(boris["avg_handle_ms"], 220_000);
    // Nothing known before his first change at noon; available until
    // midnight, not until his 02:00 log-off the next day.
    assert_eq!(
        boris["state_ms"],
        json!({
            "available": HOUR + 20 * SEC + 10 * HOUR,
            "busy": 180_000,
            "offline": 0,
            "paused": 56 * MIN,
            "ringing": 0,
            "wrap_up": 40_000,
        })
    );

    let total = &r.json["total"];
    assert_eq!(total["agent"], "total");
    assert_eq!(total["calls_handled"], 3);
    assert_eq!(total["inquiries_resolved"], 4);
    assert_eq!(total["talk_ms"], 360_000);
    assert_eq!(total["wrap_up_ms"], 90_000);
    assert_eq!(total["avg_handle_ms"], 150_000);
    assert_eq!(total["state_ms"]["paused"], 56 * MIN);
    s.stop().await;
}

#[tokio::test]
async fn weeks_start_on_monday_and_months_split_the_range() {
    let (_dir, _db, s, head) = seeded_server().await;
    // Saturday 1 March to Tuesday 4 March: the week of 24 February
    // (clipped to 1-2 March) holds the call at 23:59:59 on Sunday.
    let r = s
        .get(
            "/api/v1/reports/summary?from=2025-03-01&to=2025-03-04&group=week",
            &head,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let periods = r.json["periods"].as_array().unwrap();
    let rows: Vec<(&str, &str, &str, i64)> = periods
        .iter()
        .map(|p| {
            (
                p["period"].as_str().unwrap(),
                p["from"].as_str().unwrap(),
                p["to"].as_str().unwrap(),
                p["inquiries"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            ("2025-02-24", "2025-03-01", "2025-03-02", 1),
            ("2025-03-03", "2025-03-03", "2025-03-04", 12),
        ]
    );
    assert_eq!(r.json["total"]["inquiries"], 13);

    let r = s
        .get(
            "/api/v1/reports/summary?from=2025-02-01&to=2025-03-31&group=month",
            &head,
        )
        .await;
    let labels: Vec<(&str, i64)> = r.json["periods"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["period"].as_str().unwrap(),
                p["inquiries"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(labels, [("2025-02", 0), ("2025-03", 13)]);

    // Read in Moscow time, the call at 23:59:59 UTC on 2 March falls on 3 March.
    let r = s
        .get(
            "/api/v1/reports/summary?from=2025-03-03&to=2025-03-03&tz=%2B03:00",
            &head,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json["tz"], "+03:00");
    assert_eq!(r.json["total"]["inquiries"], 12);
    s.stop().await;
}

/// The JSON value a CSV column of a summary row stands for.
fn summary_cell(row: &Value, column: &str) -> Value {
    for (prefix, map) in [
        ("channel_", "by_channel"),
        ("status_", "by_status"),
        ("category_", "by_category"),
        ("topic_", "by_topic"),
    ] {
        if let Some(key) = column.strip_prefix(prefix) {
            return row[map][key].clone();
        }
    }
    row[column].clone()
}

fn agent_cell(row: &Value, column: &str) -> Value {
    match column.strip_suffix("_ms") {
        Some(state) if row["state_ms"].get(state).is_some() => row["state_ms"][state].clone(),
        _ => row[column].clone(),
    }
}

/// Every cell of the CSV equals its JSON value (numbers compared as
/// numbers, an empty cell as null); one CSV row per JSON row, in order.
fn assert_csv_matches(csv: &str, rows: &[&Value], cell: fn(&Value, &str) -> Value) {
    assert!(csv.ends_with("\r\n"), "RFC 4180 line ends");
    let mut lines = csv.split("\r\n").filter(|l| !l.is_empty());
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let records: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(records.len(), rows.len());
    for (record, row) in records.iter().zip(rows) {
        assert_eq!(record.len(), header.len());
        for (column, text) in header.iter().zip(record) {
            let expected = cell(row, column);
            let same = match &expected {
                Value::Null => text.is_empty(),
                Value::Number(n) => text.parse::<f64>().ok() == n.as_f64(),
                Value::String(s) => s == text,
                other => panic!("column {column} is not a scalar: {other}"),
            };
            assert!(same, "column {column}: CSV {text:?}, JSON {expected}");
        }
    }
}

fn with_total<'a>(list: &'a Value, total: &'a Value) -> Vec<&'a Value> {
    list.as_array().unwrap().iter().chain([total]).collect()
}

fn hotline_report(db: &Path, args: &[&str]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_hotline"))
        .arg("report")
        .args(args)
        .arg("--database")
        .arg(format!("sqlite://{}", db.display()))
        .current_dir(dir.path())
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test]
async fn json_csv_and_the_command_line_give_the_same_figures() {
    let (_dir, db, s, head) = seeded_server().await;
    let query = "from=2025-03-01&to=2025-03-04&group=week";
    let json = s
        .get(&format!("/api/v1/reports/summary?{query}"), &head)
        .await;
    assert_eq!(json.status, StatusCode::OK, "{}", json.text);
    let csv = s
        .get(
            &format!("/api/v1/reports/summary?{query}&format=csv"),
            &head,
        )
        .await;
    assert_eq!(csv.status, StatusCode::OK, "{}", csv.text);
    assert_eq!(csv.headers["content-type"], "text/csv; charset=utf-8");
    assert_eq!(
        csv.headers["content-disposition"],
        "attachment; filename=\"hotline-summary-2025-03-01_2025-03-04.csv\""
    );
    assert!(csv.text.contains(",topic_opening_hours,"), "{}", csv.text);
    assert_csv_matches(
        &csv.text,
        &with_total(&json.json["periods"], &json.json["total"]),
        summary_cell,
    );

    let agents = s
        .get(
            "/api/v1/reports/agents?from=2025-03-03&to=2025-03-03",
            &head,
        )
        .await;
    let agents_csv = s
        .get(
            "/api/v1/reports/agents?from=2025-03-03&to=2025-03-03&format=csv",
            &head,
        )
        .await;
    assert_eq!(agents_csv.status, StatusCode::OK, "{}", agents_csv.text);
    assert_eq!(
        agents_csv.headers["content-disposition"],
        "attachment; filename=\"hotline-agents-2025-03-03_2025-03-03.csv\""
    );
    assert_csv_matches(
        &agents_csv.text,
        &with_total(&agents.json["agents"], &agents.json["total"]),
        agent_cell,
    );

    // The command line reads the same database and prints the same.
    let cli_json: Value = serde_json::from_str(&hotline_report(
        &db,
        &[
            "--from",
            "2025-03-01",
            "--to",
            "2025-03-04",
            "--group",
            "week",
        ],
    ))
    .unwrap();
    assert_eq!(cli_json, json.json);
    let cli_csv = hotline_report(
        &db,
        &[
            "--from",
            "2025-03-01",
            "--to",
            "2025-03-04",
            "--group",
            "week",
            "--format",
            "csv",
        ],
    );
    assert_eq!(cli_csv, csv.text);
    let cli_agents: Value = serde_json::from_str(&hotline_report(
        &db,
        &[
            "--kind",
            "agents",
            "--from",
            "2025-03-03",
            "--to",
            "2025-03-03",
        ],
    ))
    .unwrap();
    assert_eq!(cli_agents, agents.json);
    let cli_agents_csv = hotline_report(
        &db,
        &[
            "--kind",
            "agents",
            "--from",
            "2025-03-03",
            "--to",
            "2025-03-03",
            "--format",
            "csv",
        ],
    );
    assert_eq!(cli_agents_csv, agents_csv.text);
    s.stop().await;
}

fn fields(r: &Reply) -> BTreeMap<String, String> {
    serde_json::from_value(r.json["error"]["fields"].clone()).unwrap()
}

#[tokio::test]
async fn only_head_and_admin_get_reports_and_bad_input_is_422_per_field() {
    let (_dir, _db, s, head) = seeded_server().await;
    let manager = s.user_with_role("anna", Role::ContactManager).await;
    let admin = s.admin_token().await;
    let ok = "/api/v1/reports/summary?from=2025-03-03&to=2025-03-03";
    for path in [ok, "/api/v1/reports/agents?from=2025-03-03&to=2025-03-03"] {
        let r = s.get(path, &manager).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
        assert_eq!(r.json["error"]["code"], "forbidden");
        let r = s.request(reqwest::Method::GET, path, None, None).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        assert_eq!(s.get(path, &admin).await.status, StatusCode::OK);
    }

    let r = s
        .get(
            "/api/v1/reports/summary?from=2025-02-30&to=yesterday&group=year&format=xml&tz=MSK",
            &head,
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert_eq!(r.json["error"]["code"], "validation_failed");
    let f = fields(&r);
    assert_eq!(
        f.keys().collect::<Vec<_>>(),
        ["format", "from", "group", "to", "tz"],
        "{}",
        r.text
    );
    assert!(f["group"].contains("day, week, month"), "{}", f["group"]);

    let r = s.get("/api/v1/reports/agents", &head).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert_eq!(fields(&r).keys().collect::<Vec<_>>(), ["from", "to"]);

    let r = s
        .get(
            "/api/v1/reports/agents?from=2025-03-04&to=2025-03-03",
            &head,
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert_eq!(fields(&r)["to"], "must not be before from");
    s.stop().await;
}

#[test]
fn the_command_line_refuses_bad_dates_and_a_missing_database() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_hotline"))
            .arg("report")
            .args(args)
            .current_dir(dir.path())
            .env("RUST_LOG", "warn")
            .output()
            .unwrap()
    };
    let out = run(&["--from", "2025-02-30", "--to", "2025-03-01"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: --from: must be a date written YYYY-MM-DD\n"
    );
    let out = run(&[
        "--from",
        "2025-03-01",
        "--to",
        "2025-03-01",
        "--database",
        "sqlite://none.db",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: database file none.db not found\n"
    );
    assert!(
        !dir.path().join("none.db").exists(),
        "no empty database left behind"
    );
    assert!(out.stdout.is_empty());
}
