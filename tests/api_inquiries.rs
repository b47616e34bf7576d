//! `GET /api/v1/inquiries` and `/{id}` over a real socket: newest first,
//! filters, cursor paging, the event timeline, auth errors and the
//! manager's view of only their own inquiries.

#[path = "common/api_helpers.rs"]
mod api_helpers;

use api_helpers::{Reply, TestServer, temp_db};
use hotline::role::Role;
use hotline::store::ids::new_id;
use hotline::store::{
    Channel, InquiryStatus, InquiryUpdate, InquiryWrite, InquiryWriter, NewInquiry,
};
use reqwest::StatusCode;
use serde_json::Value;

/// 2025-03-01T09:00:00Z
const T0: i64 = 1_740_819_600_000;
const HOUR: i64 = 3_600_000;

fn assert_error(r: &Reply, status: StatusCode, code: &str) {
    assert_eq!(r.status, status, "{}", r.text);
    assert_eq!(r.json["error"]["code"], code, "{}", r.text);
}

/// (actor, action) of the audit rows about one object, oldest first, read
/// straight from the database file.
async fn audit_rows(db: &std::path::Path, kind: &str, id: &str) -> Vec<(String, String)> {
    let pool = sqlx::SqlitePool::connect(&api_helpers::db_url(db))
        .await
        .unwrap();
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT actor, action FROM audit WHERE object_kind = ?1 AND object_id = ?2 ORDER BY id",
    )
    .bind(kind)
    .bind(id)
    .fetch_all(&pool)
    .await
    .unwrap();
    pool.close().await;
    rows
}

fn ids(r: &Reply) -> Vec<String> {
    r.json["items"]
        .as_array()
        .unwrap_or_else(|| panic!("no items: {}", r.text))
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_string())
        .collect()
}

struct Seeded {
    /// Newest first.
    newest_first: Vec<String>,
    anna: String,
    boris: String,
}

/// Five calls one hour apart, written through the call layer's writer:
/// #1 handled by anna, #3 by boris, #4 an e-mail, #0 resolved in the IVR.
async fn seed(s: &TestServer) -> Seeded {
    let (writer, _task) = InquiryWriter::spawn(s.store.clone());
    let mut created = Vec::new();
    for i in 0..5_i64 {
        let at = T0 + i * HOUR;
        let id = new_id(at, &mut rand::thread_rng());
        let (channel, from) = if i == 4 {
            (Channel::Email, "pupil@example.org".to_string())
        } else {
            (Channel::Phone, format!("8 916 000-00-0{i}"))
        };
        writer.send(InquiryWrite::Create {
            id: id.clone(),
            inquiry: NewInquiry {
                channel,
                from: from.clone(),
                client_id: None,
                status: InquiryStatus::InIvr,
                call_id: Some(format!("call-{i}")),
                language: Some("ru".into()),
                created_at_ms: at,
            },
            phone_for_client: (channel == Channel::Phone).then_some(from),
        });
        created.push(id);
    }
    let update = |id: &str, update: InquiryUpdate, at_ms: i64| InquiryWrite::Update {
        id: id.to_string(),
        update,
        at_ms,
    };
    writer.send(update(
        &created[0],
        InquiryUpdate {
            ivr_path: Some("1,1".into()),
            category: Some("applicant".into()),
            topic: Some("admission".into()),
            status: Some(InquiryStatus::ResolvedInIvr),
            ended_at_ms: Some(T0 + 60_000),
            ..Default::default()
        },
        T0 + 60_000,
    ));
    for (i, agent) in [(1, "anna"), (3, "boris")] {
        writer.send(update(
            &created[i],
            InquiryUpdate {
                status: Some(InquiryStatus::InProgress),
                queue: Some("admission".into()),
                agent: Some(agent.into()),
                category: Some("parent".into()),
                answered_at_ms: Some(T0 + i as i64 * HOUR + 30_000),
                wait_ms: Some(30_000),
                ..Default::default()
            },
            T0 + i as i64 * HOUR + 30_000,
        ));
    }
    writer.flush().await;
    Seeded {
        anna: created[1].clone(),
        boris: created[3].clone(),
        newest_first: created.into_iter().rev().collect(),
    }
}

#[tokio::test]
async fn admin_lists_newest_first_with_the_architecture_field_names() {
    let (_dir, db) = temp_db();
    let s = TestServer::start(&db).await;
    let seeded = seed(&s).await;
    let token = s.admin_token().await;

    let r = s.get("/api/v1/inquiries", &token).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(ids(&r), seeded.newest_first);
    assert_eq!(r.json["next_cursor"], Value::Null);

    let oldest = &r.json["items"][4];
    assert_eq!(oldest["channel"], "phone");
    assert_eq!(oldest["from"], "79160000000", "caller number normalised");
    assert!(oldest["client_id"].is_string(), "client found or created");
    assert_eq!(oldest["ivr_path"], "1,1");
    assert_eq!(oldest["category"], "applicant");
    assert_eq!(oldest["topic"], "admission");
    assert_eq!(oldest["status"], "resolved_in_ivr");
    assert_eq!(oldest["created_at"], "2025-03-01T09:00:00Z");
    assert_eq!(oldest["ended_at"], "2025-03-01T09:01:00Z");
    assert_eq!(oldest["answered_at"], Value::Null);
    for field in [
        "queue",
        "agent",
        "routing_reason",
        "resolved_at",
        "client_informed_at",
        "wait_ms",
        "talk_ms",
        "recording",
        "notes",
        "resolution",
        "language",
    ] {
        assert!(oldest.get(field).is_some(), "{field}: {oldest}");
    }
    let email = &r.json["items"][0];
    assert_eq!(email["channel"], "email");
    assert_eq!(email["from"], "pupil@example.org");
    assert_eq!(email["client_id"], Value::Null);
}

#[tokio::test]
async fn filters_narrow_the_list() {
    let (_dir, db) = temp_db();
    let s = TestServer::start(&db).await;
    let seeded = seed(&s).await;
    let token = s.admin_token().await;
    let list = |q: &str| format!("/api/v1/inquiries?{q}");

    let r = s.get(&list("status=in_progress"), &token).await;
    assert_eq!(ids(&r), [seeded.boris.clone(), seeded.anna.clone()]);
    let r = s
        .get(&list("agent=anna&queue=admission&category=parent"), &token)
        .await;
    assert_eq!(ids(&r), std::slice::from_ref(&seeded.anna));
    let r = s.get(&list("channel=email"), &token).await;
    assert_eq!(ids(&r), seeded.newest_first[..1]);
    let r = s.get(&list("status=resolved_in_ivr"), &token).await;
    let client_id = r.json["items"][0]["client_id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = s
        .get(&list(&format!("client_id={client_id}")), &token)
        .await;
    assert_eq!(ids(&r).len(), 1);
    // 10:00..12:00 UTC: calls #1 and #2 (12:00 is exclusive).
    let r = s
        .get(
            &list("from=2025-03-01T10:00:00Z&to=2025-03-01T12:00:00Z"),
            &token,
        )
        .await;
    assert_eq!(ids(&r), seeded.newest_first[2..4].to_vec());
    // The same window in Moscow time.
    let r = s
        .get(
            &list("from=2025-03-01T13:00:00%2B03:00&to=2025-03-01T15:00:00%2B03:00"),
            &token,
        )
        .await;
    assert_eq!(ids(&r), seeded.newest_first[2..4].to_vec());
    // Whole days: `to` includes its date.
    let r = s.get(&list("from=2025-03-01&to=2025-03-01"), &token).await;
    assert_eq!(ids(&r).len(), 5);
    let r = s.get(&list("from=2025-03-02"), &token).await;
    assert!(ids(&r).is_empty());
    let r = s.get(&list("status="), &token).await;
    assert_eq!(ids(&r).len(), 5, "an empty filter is no filter");
}

#[tokio::test]
async fn cursor_pages_are_stable_while_calls_arrive() {
    let (_dir, db) = temp_db();
    let s = TestServer::start(&db).await;
    let seeded = seed(&s).await;
    let token = s.admin_token().await;

    let mut seen = Vec::new();
    let mut path = "/api/v1/inquiries?limit=2".to_string();
    for page in 0.. {
        let r = s.get(&path, &token).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert!(ids(&r).len() <= 2);
        seen.extend(ids(&r));
        // A new call lands between page requests.
        let at = T0 + 10 * HOUR + page;
        s.store
            .create_inquiry(
                &new_id(at, &mut rand::thread_rng()),
                &NewInquiry {
                    channel: Channel::Phone,
                    from: "100".into(),
                    client_id: None,
                    status: InquiryStatus::InIvr,
                    call_id: None,
                    language: None,
                    created_at_ms: at,
                },
            )
            .await
            .unwrap();
        match r.json["next_cursor"].as_str() {
            Some(c) => path = format!("/api/v1/inquiries?limit=2&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen, seeded.newest_first);
}

#[tokio::test]
async fn get_returns_the_inquiry_with_its_timeline() {
    let (_dir, db) = temp_db();
    let s = TestServer::start(&db).await;
    let seeded = seed(&s).await;
    let token = s.admin_token().await;

    let r = s
        .get(&format!("/api/v1/inquiries/{}", seeded.anna), &token)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json["id"], seeded.anna.as_str());
    assert_eq!(r.json["agent"], "anna");
    assert_eq!(r.json["status"], "in_progress");
    assert_eq!(r.json["wait_ms"], 30_000);
    let events = r.json["events"].as_array().unwrap();
    let kinds: Vec<&str> = events.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["inquiry.created", "inquiry.updated"]);
    assert_eq!(events[0]["at"], "2025-03-01T10:00:00Z");
    assert_eq!(events[1]["at"], "2025-03-01T10:00:30Z");
    assert_eq!(events[1]["agent"], "anna");
    assert_eq!(events[1]["data"]["status"], "in_progress");
    assert_eq!(events[1]["inquiry_id"], seeded.anna.as_str());
    assert!(
        s.store.count_audit("inquiry", &seeded.anna).await.unwrap() >= 1,
        "the read is audited"
    );

    let r = s
        .get("/api/v1/inquiries/01JNKQ0000000000000000000Z", &token)
        .await;
    assert_error(&r, StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn auth_and_validation_errors() {
    let (_dir, db) = temp_db();
    let s = TestServer::start(&db).await;
    let seeded = seed(&s).await;
    let token = s.admin_token().await;

    for path in [
        "/api/v1/inquiries".to_string(),
        format!("/api/v1/inquiries/{}", seeded.anna),
    ] {
        let r = s.request(reqwest::Method::GET, &path, None, None).await;
        assert_error(&r, StatusCode::UNAUTHORIZED, "unauthenticated");
        let r = s.get(&path, "not-a-token").await;
        assert_error(&r, StatusCode::UNAUTHORIZED, "invalid_token");
    }

    let r = s
        .get(
            "/api/v1/inquiries?limit=0&status=lost&channel=fax&from=yesterday&to=2025-02-30",
            &token,
        )
        .await;
    assert_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    for field in ["limit", "status", "channel", "from", "to"] {
        assert!(
            r.json["error"]["fields"][field].is_string(),
            "{field}: {}",
            r.text
        );
    }
    let r = s.get("/api/v1/inquiries?cursor=garbage", &token).await;
    assert_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert!(
        r.json["error"]["fields"]["cursor"].is_string(),
        "{}",
        r.text
    );
    let r = s.get("/api/v1/inquiries?stauts=new", &token).await;
    assert_error(&r, StatusCode::BAD_REQUEST, "bad_query");
}

#[tokio::test]
async fn a_manager_sees_only_their_own_inquiries() {
    let (_dir, db) = temp_db();
    let s = TestServer::start(&db).await;
    let seeded = seed(&s).await;
    let anna = s.user_with_role("anna", Role::AdmissionManager).await;
    let head = s.user_with_role("olga", Role::Head).await;

    let r = s.get("/api/v1/inquiries", &anna).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(ids(&r), std::slice::from_ref(&seeded.anna));
    let r = s.get("/api/v1/inquiries?agent=anna", &anna).await;
    assert_eq!(ids(&r), std::slice::from_ref(&seeded.anna));
    let r = s.get("/api/v1/inquiries?agent=boris", &anna).await;
    assert_error(&r, StatusCode::FORBIDDEN, "forbidden");

    let r = s
        .get(&format!("/api/v1/inquiries/{}", seeded.anna), &anna)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = s
        .get(&format!("/api/v1/inquiries/{}", seeded.boris), &anna)
        .await;
    assert_error(&r, StatusCode::FORBIDDEN, "forbidden");
    assert_eq!(
        audit_rows(&db, "inquiry", &seeded.boris).await,
        [("anna".to_string(), "denied".to_string())],
        "a refused read returns no data and is audited as denied"
    );

    let r = s.get("/api/v1/inquiries", &head).await;
    assert_eq!(ids(&r), seeded.newest_first, "the head sees everything");
    let r = s
        .get(&format!("/api/v1/inquiries?q={}", "pupil%40EXAMPLE"), &head)
        .await;
    assert_eq!(ids(&r), seeded.newest_first[..1], "free text, any case");
    let r = s
        .get(&format!("/api/v1/inquiries/{}", seeded.boris), &head)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
}

fn inquiry_path(id: &str) -> String {
    format!("/api/v1/inquiries/{id}")
}

#[tokio::test]
async fn a_manager_types_in_a_visit_and_the_client_is_found_by_phone() {
    let (_dir, db) = temp_db();
    let s = TestServer::start(&db).await;
    let seeded = seed(&s).await;
    let anna = s.user_with_role("anna", Role::AdmissionManager).await;

    // The caller of inquiry #2 (8 916 000-00-02) now comes in person.
    let r = s
        .post(
            "/api/v1/inquiries",
            &anna,
            serde_json::json!({
                "channel": "in_person",
                "from": "+7 (916) 000-00-02",
                "category": "applicant",
                "topic": "dormitory",
                "notes": "asked about rooms"
            }),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let visit = r.json.clone();
    assert_eq!(visit["channel"], "in_person");
    assert_eq!(visit["from"], "79160000002", "phone normalised");
    assert_eq!(visit["agent"], "anna", "the creator handles it by default");
    assert_eq!(visit["created_by"], "anna");
    assert_eq!(visit["status"], "in_progress");
    assert_eq!(visit["topic"], "dormitory");
    assert_eq!(visit["notes"], "asked about rooms");
    let kinds: Vec<&str> = visit["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["inquiry.created", "inquiry.updated"]);
    assert_eq!(visit["events"][1]["data"]["by"], "anna");

    let admin = s.admin_token().await;
    let r = s.get(&inquiry_path(&seeded.newest_first[2]), &admin).await;
    assert_eq!(
        visit["client_id"], r.json["client_id"],
        "same client as the earlier call"
    );
    let id = visit["id"].as_str().unwrap();
    assert_eq!(
        audit_rows(&db, "inquiry", id).await,
        [("anna".to_string(), "create".to_string())]
    );

    // An e-mail typed in: address lower-cased, a client created for it.
    let r = s
        .post(
            "/api/v1/inquiries",
            &anna,
            serde_json::json!({"channel": "email", "from": "Parent@Example.ORG"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.json["from"], "parent@example.org");
    assert!(r.json["client_id"].is_string());

    // A chat nickname: no client, but an inquiry all the same.
    let r = s
        .post(
            "/api/v1/inquiries",
            &anna,
            serde_json::json!({"channel": "chat", "from": "guest-42"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.json["client_id"], Value::Null);
}

#[tokio::test]
async fn create_validates_every_field_and_guards_assignment() {
    let (_dir, db) = temp_db();
    let s = TestServer::start(&db).await;
    let anna = s.user_with_role("anna", Role::AdmissionManager).await;
    s.user_with_role("boris", Role::AdmissionManager).await;
    let head = s.user_with_role("olga", Role::Head).await;

    let r = s
        .post(
            "/api/v1/inquiries",
            &anna,
            serde_json::json!({
                "channel": "fax", "from": "x", "category": "alien", "topic": " ", "agent": "nobody"
            }),
        )
        .await;
    assert_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    for field in ["channel", "category", "topic", "agent"] {
        assert!(
            r.json["error"]["fields"][field].is_string(),
            "{field}: {}",
            r.text
        );
    }
    let bad = [
        (
            serde_json::json!({"channel": "email", "from": "not-an-address"}),
            "from",
        ),
        (
            serde_json::json!({"channel": "phone", "from": "caller"}),
            "from",
        ),
        (serde_json::json!({"channel": "in_person"}), "from"),
        (
            serde_json::json!({"channel": "in_person", "client_id": "01JNKQ0000000000000000000Z"}),
            "client_id",
        ),
    ];
    for (body, field) in bad {
        let r = s.post("/api/v1/inquiries", &anna, body.clone()).await;
        assert_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        assert!(
            r.json["error"]["fields"][field].is_string(),
            "{body}: {}",
            r.text
        );
    }
    let r = s
        .post(
            "/api/v1/inquiries",
            &anna,
            serde_json::json!({"chanel": "chat"}),
        )
        .await;
    assert_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");

    // A manager cannot hand a new inquiry to someone else; the head can.
    let body = serde_json::json!({"channel": "chat", "from": "guest", "assignee": "boris"});
    let r = s.post("/api/v1/inquiries", &anna, body.clone()).await;
    assert_error(&r, StatusCode::FORBIDDEN, "forbidden");
    let r = s.post("/api/v1/inquiries", &head, body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.json["agent"], "boris");
    assert_eq!(r.json["created_by"], "olga");

    let r = s
        .request(
            reqwest::Method::POST,
            "/api/v1/inquiries",
            None,
            Some(serde_json::json!({"channel": "chat", "from": "x"})),
        )
        .await;
    assert_error(&r, StatusCode::UNAUTHORIZED, "unauthenticated");
}

#[tokio::test]
async fn patch_edits_and_only_the_head_reassigns() {
    let (_dir, db) = temp_db();
    let s = TestServer::start(&db).await;
    let seeded = seed(&s).await;
    let anna = s.user_with_role("anna", Role::AdmissionManager).await;
    s.user_with_role("boris", Role::AdmissionManager).await;
    let head = s.user_with_role("olga", Role::Head).await;

    let r = s
        .patch(
            &inquiry_path(&seeded.anna),
            &anna,
            serde_json::json!({"category": "student", "topic": "exams", "notes": "call back"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json["category"], "student");
    assert_eq!(r.json["topic"], "exams");
    assert_eq!(r.json["notes"], "call back");
    let last = r.json["events"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["data"]["by"], "anna");
    assert_eq!(last["data"]["topic"], "exams");

    let r = s
        .patch(
            &inquiry_path(&seeded.anna),
            &anna,
            serde_json::json!({"category": "alien"}),
        )
        .await;
    assert_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert!(r.json["error"]["fields"]["category"].is_string());

    let r = s
        .patch(
            &inquiry_path(&seeded.anna),
            &anna,
            serde_json::json!({"agent": "boris"}),
        )
        .await;
    assert_error(&r, StatusCode::FORBIDDEN, "forbidden");
    let r = s
        .patch(
            &inquiry_path(&seeded.boris),
            &anna,
            serde_json::json!({"notes": "mine now"}),
        )
        .await;
    assert_error(&r, StatusCode::FORBIDDEN, "forbidden");
    let rows = audit_rows(&db, "inquiry", &seeded.boris).await;
    assert_eq!(rows, [("anna".to_string(), "denied".to_string())]);

    let r = s
        .patch(
            &inquiry_path(&seeded.anna),
            &head,
            serde_json::json!({"assignee": "boris"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json["agent"], "boris");
    let r = s.get(&inquiry_path(&seeded.anna), &anna).await;
    assert_error(&r, StatusCode::FORBIDDEN, "forbidden");

    let r = s
        .patch(
            &inquiry_path("01JNKQ0000000000000000000Z"),
            &head,
            serde_json::json!({}),
        )
        .await;
    assert_error(&r, StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn resolve_and_inform_are_recorded_with_who_and_when() {
    let (_dir, db) = temp_db();
    let s = TestServer::start(&db).await;
    let seeded = seed(&s).await;
    let anna = s.user_with_role("anna", Role::AdmissionManager).await;
    let path = inquiry_path(&seeded.anna);
    let before = hotline::api::rfc3339_from_ms(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64
            - 1000,
    );

    let r = s
        .post(
            &format!("{path}/resolve"),
            &anna,
            serde_json::json!({"resolution": "  "}),
        )
        .await;
    assert_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert!(r.json["error"]["fields"]["resolution"].is_string());

    let r = s
        .post(
            &format!("{path}/resolve"),
            &anna,
            serde_json::json!({"resolution": "Sent the list of documents"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json["status"], "resolved");
    assert_eq!(r.json["resolution"], "Sent the list of documents");
    assert_eq!(r.json["resolved_by"], "anna");
    let resolved_at = r.json["resolved_at"].as_str().unwrap().to_string();
    assert!(resolved_at >= before, "{resolved_at} >= {before}");

    let r = s
        .post(
            &format!("{path}/inform"),
            &anna,
            serde_json::json!({"how": "pigeon"}),
        )
        .await;
    assert_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert!(r.json["error"]["fields"]["how"].is_string());
    let r = s
        .post(
            &format!("{path}/inform"),
            &anna,
            serde_json::json!({"how": "phone", "note": "called back at 15:00"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json["informed_by"], "anna");
    assert_eq!(r.json["informed_how"], "phone");
    assert_eq!(r.json["informed_note"], "called back at 15:00");
    assert!(r.json["client_informed_at"].as_str().unwrap() >= before.as_str());
    assert_eq!(r.json["status"], "resolved", "informing keeps the status");

    let events = r.json["events"].as_array().unwrap();
    let resolve = &events[events.len() - 2]["data"];
    assert_eq!(resolve["status"], "resolved");
    assert_eq!(resolve["resolved_by"], "anna");
    let inform = &events[events.len() - 1]["data"];
    assert_eq!(inform["informed_how"], "phone");
    assert_eq!(inform["by"], "anna");

    let actions: Vec<String> = audit_rows(&db, "inquiry", &seeded.anna)
        .await
        .into_iter()
        .map(|(_, action)| action)
        .collect();
    assert!(actions.contains(&"resolve".to_string()), "{actions:?}");
    assert!(actions.contains(&"inform".to_string()), "{actions:?}");

    // Another manager's inquiry: refused and audited.
    let r = s
        .post(
            &format!("{}/resolve", inquiry_path(&seeded.boris)),
            &anna,
            serde_json::json!({"resolution": "done"}),
        )
        .await;
    assert_error(&r, StatusCode::FORBIDDEN, "forbidden");
    let r = s
        .post(
            &format!("{}/inform", inquiry_path("01JNKQ0000000000000000000Z")),
            &anna,
            serde_json::json!({"how": "email"}),
        )
        .await;
    assert_error(&r, StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn free_text_searches_topic_notes_resolution_and_client_name() {
    let (_dir, db) = temp_db();
    let s = TestServer::start(&db).await;
    let seeded = seed(&s).await;
    let admin = s.admin_token().await;
    let r = s
        .patch(
            &inquiry_path(&seeded.boris),
            &admin,
            serde_json::json!({"notes": "Общежитие, 50% скидка"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let client_id = r.json["client_id"].as_str().unwrap().to_string();
    s.store
        .update_client(
            &client_id,
            &hotline::store::ClientFields {
                name: Some("Иванова Мария".into()),
                ..Default::default()
            },
            "admin",
            T0,
        )
        .await
        .unwrap();
    let search = |q: &str| format!("/api/v1/inquiries?q={}", urlencode(q));
    for q in ["Общежитие", "50%", "иванова", "ИВАНОВА", "8 916 000-00-03"] {
        let r = s.get(&search(q), &admin).await;
        assert_eq!(
            ids(&r),
            std::slice::from_ref(&seeded.boris),
            "q={q}: {}",
            r.text
        );
    }
    let r = s.get(&search("admission"), &admin).await;
    assert_eq!(ids(&r), seeded.newest_first[4..], "topic");
    let r = s.get(&search("5_%"), &admin).await;
    assert!(ids(&r).is_empty(), "LIKE wildcards match themselves");
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
