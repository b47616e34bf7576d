//! Store tests for inquiries, clients, events and the inquiry writer, on
//! in-memory SQLite, or on PostgreSQL when `HOTLINE_TEST_POSTGRES_URL` is
//! set (a fresh schema per test, as in `tests.rs`).

use super::ids::new_id;
use super::*;
use std::collections::{HashMap, HashSet};

pub(super) async fn store() -> Store {
    let url = match std::env::var("HOTLINE_TEST_POSTGRES_URL") {
        Ok(base) => postgres_schema(&base).await,
        Err(_) => "sqlite::memory:".to_string(),
    };
    let s = Store::connect(&url).await.unwrap();
    s.migrate().await.unwrap();
    s
}

/// A file-backed SQLite store (several connections, so concurrency is
/// real), unless PostgreSQL is configured.
pub(super) async fn concurrent_store() -> (Store, Option<tempfile::TempDir>) {
    if std::env::var("HOTLINE_TEST_POSTGRES_URL").is_ok() {
        return (store().await, None);
    }
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    let s = Store::connect(&url).await.unwrap();
    s.migrate().await.unwrap();
    (s, Some(dir))
}

async fn postgres_schema(base: &str) -> String {
    use rand::Rng;
    let schema = format!("t{:016x}", rand::thread_rng().r#gen::<u64>());
    let admin = Store::connect(base).await.unwrap();
    sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(&admin.pool)
        .await
        .unwrap();
    admin.close().await;
    let separator = if base.contains('?') { '&' } else { '?' };
    format!("{base}{separator}options=-c%20search_path%3D{schema}")
}

const T0: i64 = 1_740_000_000_000;

pub(super) fn id_at(ms: i64) -> String {
    new_id(ms, &mut rand::thread_rng())
}

pub(super) fn call(from: &str, at_ms: i64) -> NewInquiry {
    NewInquiry {
        channel: Channel::Phone,
        from: from.to_string(),
        client_id: None,
        status: InquiryStatus::InIvr,
        call_id: Some(format!("{at_ms}@phone")),
        language: Some("ru".into()),
        created_at_ms: at_ms,
    }
}

#[tokio::test]
async fn find_or_create_client_is_idempotent_across_number_forms() {
    let s = store().await;
    let a = s
        .find_or_create_client_by_phone("+7 (916) 123-45-67", T0)
        .await
        .unwrap();
    let b = s
        .find_or_create_client_by_phone("89161234567", T0 + 5)
        .await
        .unwrap();
    assert_eq!(a, b);
    assert_eq!(a.phones, vec!["79161234567".to_string()]);
    assert_eq!(a.created_at_ms, T0);
    let other = s.find_or_create_client_by_phone("100", T0).await.unwrap();
    assert_ne!(other.id, a.id);
    assert_eq!(s.count_clients().await.unwrap(), 2);
    assert!(matches!(
        s.find_or_create_client_by_phone("anonymous", T0).await,
        Err(StoreError::Invalid { field: "phone", .. })
    ));
}

#[tokio::test]
async fn find_or_create_client_is_race_safe() {
    let (s, _dir) = concurrent_store().await;
    let tasks: Vec<_> = (0..100)
        .map(|i| {
            let s = s.clone();
            // Different spellings of one number, all at once.
            let raw = if i % 2 == 0 {
                "89031112233"
            } else {
                "+7 903 111-22-33"
            };
            tokio::spawn(async move { s.find_or_create_client_by_phone(raw, T0 + i).await })
        })
        .collect();
    let mut ids = HashSet::new();
    for t in tasks {
        ids.insert(t.await.unwrap().unwrap().id);
    }
    assert_eq!(ids.len(), 1, "every caller got the same client");
    assert_eq!(s.count_clients().await.unwrap(), 1, "no orphan client rows");
}

#[tokio::test]
async fn create_then_updates_leave_the_row_and_one_event_per_write() {
    let s = store().await;
    let id = id_at(T0);
    s.create_inquiry(&id, &call("8 916 123 45 67", T0))
        .await
        .unwrap();
    let created = s.get_inquiry(&id).await.unwrap().unwrap();
    assert_eq!(created.from, "79161234567", "stored normalised");
    assert_eq!(created.status, InquiryStatus::InIvr);
    assert_eq!(created.created_at_ms, T0);

    s.update_inquiry(
        &id,
        &InquiryUpdate {
            ivr_path: Some("1".into()),
            category: Some("applicant".into()),
            ..Default::default()
        },
        T0 + 3_000,
    )
    .await
    .unwrap();
    s.update_inquiry(
        &id,
        &InquiryUpdate {
            status: Some(InquiryStatus::ResolvedInIvr),
            ivr_path: Some("1,1".into()),
            topic: Some("admission".into()),
            ended_at_ms: Some(T0 + 20_000),
            ..Default::default()
        },
        T0 + 20_000,
    )
    .await
    .unwrap();

    let row = s.get_inquiry(&id).await.unwrap().unwrap();
    assert_eq!(row.status, InquiryStatus::ResolvedInIvr);
    assert_eq!(row.ivr_path.as_deref(), Some("1,1"));
    assert_eq!(
        row.category.as_deref(),
        Some("applicant"),
        "kept from the first update"
    );
    assert_eq!(row.topic.as_deref(), Some("admission"));
    assert_eq!(row.ended_at_ms, Some(T0 + 20_000));
    assert_eq!(row.language.as_deref(), Some("ru"));
    assert_eq!(row.agent, None);

    let events = s.events_of_inquiry(&id).await.unwrap();
    let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, [INQUIRY_CREATED, INQUIRY_UPDATED, INQUIRY_UPDATED]);
    assert_eq!(events[0].data["from"], "79161234567");
    assert_eq!(
        events[1].data,
        serde_json::json!({"ivr_path": "1", "category": "applicant"})
    );
    assert_eq!(events[2].data["status"], "resolved_in_ivr");
    assert_eq!(events[2].at_ms, T0 + 20_000);

    assert!(matches!(
        s.update_inquiry(&id_at(T0), &InquiryUpdate::default(), T0)
            .await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        s.create_inquiry(&id, &call("100", T0)).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(s.events_of_inquiry(&id).await.unwrap().len(), 3);
    assert_eq!(s.get_inquiry("nope").await.unwrap(), None);
}

#[tokio::test]
async fn inquiry_serialises_with_the_api_field_names() {
    let s = store().await;
    let id = id_at(T0);
    s.create_inquiry(&id, &call("100", 951_782_400_000))
        .await
        .unwrap();
    let json = serde_json::to_value(s.get_inquiry(&id).await.unwrap().unwrap()).unwrap();
    assert_eq!(json["id"], id.as_str());
    assert_eq!(json["channel"], "phone");
    assert_eq!(json["from"], "100");
    assert_eq!(json["status"], "in_ivr");
    assert_eq!(json["created_at"], "2000-02-29T00:00:00Z");
    assert_eq!(json["answered_at"], serde_json::Value::Null);
    for field in [
        "client_id",
        "category",
        "topic",
        "ivr_path",
        "queue",
        "agent",
        "routing_reason",
        "ended_at",
        "resolved_at",
        "client_informed_at",
        "wait_ms",
        "talk_ms",
        "recording",
        "notes",
        "resolution",
        "language",
    ] {
        assert!(json.get(field).is_some(), "{field} missing: {json}");
    }
    assert!(json.get("created_at_ms").is_none());
    assert!(json.get("from_addr").is_none());
}

#[tokio::test]
async fn list_filters_and_pages_newest_first_stably_under_inserts() {
    let s = store().await;
    let mut ids = Vec::new();
    for i in 0..25_i64 {
        let id = id_at(T0 + i * 1000);
        let mut new = call(&format!("8916000{:04}", i), T0 + i * 1000);
        if i % 5 == 0 {
            new.channel = Channel::Email;
            new.from = format!("user{i}@example.org");
        }
        s.create_inquiry(&id, &new).await.unwrap();
        ids.push(id);
    }
    // Two inquiries in the same millisecond: the id breaks the tie. Their
    // last characters differ from ids[10]'s (random) one, or a twin could
    // be ids[10] itself.
    let mut suffixes = ['A', 'B', 'C']
        .into_iter()
        .filter(|c| !ids[10].ends_with(*c));
    let twin_a = format!("{}{}", &ids[10][..25], suffixes.next().unwrap());
    let twin_b = format!("{}{}", &ids[10][..25], suffixes.next().unwrap());
    for twin in [&twin_a, &twin_b] {
        s.create_inquiry(twin, &call("100", T0 + 10_000))
            .await
            .unwrap();
    }
    let expected: Vec<String> = {
        let mut all: Vec<(i64, String)> = ids
            .iter()
            .enumerate()
            .map(|(i, id)| (T0 + i as i64 * 1000, id.clone()))
            .chain([(T0 + 10_000, twin_a.clone()), (T0 + 10_000, twin_b.clone())])
            .collect();
        all.sort();
        all.into_iter().rev().map(|(_, id)| id).collect()
    };

    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut inserted = 0;
    loop {
        let (page, next) = s
            .list_inquiries(&InquiryFilter::default(), 4, cursor.as_deref())
            .await
            .unwrap();
        assert!(page.len() <= 4);
        seen.extend(page.into_iter().map(|i| i.id));
        // New calls keep arriving while someone pages.
        inserted += 1;
        s.create_inquiry(
            &id_at(T0 + 100_000 + inserted),
            &call("100", T0 + 100_000 + inserted),
        )
        .await
        .unwrap();
        match next {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(
        seen, expected,
        "every row once, newest first, none of the new ones"
    );

    let email = InquiryFilter {
        channel: Some(Channel::Email),
        ..Default::default()
    };
    let (page, next) = s.list_inquiries(&email, 100, None).await.unwrap();
    assert_eq!(page.len(), 5);
    assert!(next.is_none());
    assert!(page.iter().all(|i| i.channel == Channel::Email));

    let window = InquiryFilter {
        channel: Some(Channel::Phone),
        created_from_ms: Some(T0 + 3_000),
        created_before_ms: Some(T0 + 7_000),
        ..Default::default()
    };
    let (page, _) = s.list_inquiries(&window, 100, None).await.unwrap();
    let got: Vec<&str> = page.iter().map(|i| i.id.as_str()).collect();
    assert_eq!(got, [ids[6].as_str(), ids[4].as_str(), ids[3].as_str()]);

    s.update_inquiry(
        &ids[7],
        &InquiryUpdate {
            agent: Some("anna".into()),
            queue: Some("admission".into()),
            status: Some(InquiryStatus::InProgress),
            ..Default::default()
        },
        T0 + 50_000,
    )
    .await
    .unwrap();
    let anna = InquiryFilter {
        agent: Some("anna".into()),
        queue: Some("admission".into()),
        status: Some(InquiryStatus::InProgress),
        ..Default::default()
    };
    let (page, _) = s.list_inquiries(&anna, 100, None).await.unwrap();
    assert_eq!(page.len(), 1);
    assert_eq!(page[0].id, ids[7]);

    assert!(matches!(
        s.list_inquiries(&InquiryFilter::default(), 10, Some("garbage"))
            .await,
        Err(StoreError::Invalid {
            field: "cursor",
            ..
        })
    ));
}

#[tokio::test]
async fn writer_applies_every_write_of_500_concurrent_calls_in_order() {
    let (s, _dir) = concurrent_store().await;
    let (writer, task) = InquiryWriter::spawn(s.clone());
    const CALLS: i64 = 500;
    const UPDATES: i64 = 19; // + 1 create = 20 writes per call, 10 000 in all
    let calls: Vec<_> = (0..CALLS)
        .map(|c| {
            let writer = writer.clone();
            tokio::spawn(async move {
                let id = new_id(T0 + c, &mut rand::thread_rng());
                // A few callers share a number: one client for them.
                let phone = format!("8916{:07}", c % 50);
                writer.send(InquiryWrite::Create {
                    id: id.clone(),
                    inquiry: call(&phone, T0 + c),
                    phone_for_client: Some(phone),
                });
                for u in 1..=UPDATES {
                    writer.send(InquiryWrite::Update {
                        id: id.clone(),
                        update: InquiryUpdate {
                            ivr_path: Some(format!("step{u}")),
                            wait_ms: Some(u),
                            status: (u == UPDATES).then_some(InquiryStatus::Abandoned),
                            ..Default::default()
                        },
                        at_ms: T0 + c + u,
                    });
                    if u % 5 == 0 {
                        tokio::task::yield_now().await;
                    }
                }
                id
            })
        })
        .collect();
    let mut ids = Vec::new();
    for c in calls {
        ids.push(c.await.unwrap());
    }
    writer.flush().await;

    for id in &ids {
        let row = s.get_inquiry(id).await.unwrap().unwrap();
        assert_eq!(row.status, InquiryStatus::Abandoned, "{id}");
        assert_eq!(row.ivr_path.as_deref(), Some("step19"), "last write wins");
        assert_eq!(row.wait_ms, Some(UPDATES));
        assert!(row.client_id.is_some());
        let events = s.events_of_inquiry(id).await.unwrap();
        assert_eq!(events.len(), 1 + UPDATES as usize, "{id}");
        assert_eq!(events[0].kind, INQUIRY_CREATED);
        for (u, e) in events.iter().skip(1).enumerate() {
            assert_eq!(
                e.data["ivr_path"],
                format!("step{}", u + 1),
                "{id} in order"
            );
        }
    }
    let mut clients: HashMap<String, HashSet<String>> = HashMap::new();
    for id in &ids {
        let row = s.get_inquiry(id).await.unwrap().unwrap();
        clients
            .entry(row.from.clone())
            .or_default()
            .insert(row.client_id.unwrap());
    }
    assert_eq!(clients.len(), 50);
    assert!(
        clients.values().all(|c| c.len() == 1),
        "one client per number"
    );
    assert_eq!(s.count_clients().await.unwrap(), 50);

    drop(writer);
    tokio::time::timeout(std::time::Duration::from_secs(10), task)
        .await
        .expect("writer task ends when every handle is dropped")
        .unwrap();
}

#[tokio::test]
async fn writer_skips_impossible_writes_without_blocking_the_rest() {
    let s = store().await;
    let (writer, _task) = InquiryWriter::spawn(s.clone());
    let id = id_at(T0);
    writer.send(InquiryWrite::Update {
        id: "never-created".into(),
        update: InquiryUpdate::default(),
        at_ms: T0,
    });
    for _ in 0..2 {
        writer.send(InquiryWrite::Create {
            id: id.clone(),
            inquiry: call("anonymous", T0),
            phone_for_client: Some("anonymous".into()),
        });
    }
    writer.flush().await;
    let row = s.get_inquiry(&id).await.unwrap().unwrap();
    assert_eq!(row.from, "anonymous");
    assert_eq!(row.client_id, None, "no digits, no client");
    assert_eq!(s.events_of_inquiry(&id).await.unwrap().len(), 1);
}

#[tokio::test]
async fn append_event_and_audit_rows() {
    let s = store().await;
    let first = s
        .append_event(
            T0,
            "agent.state",
            None,
            Some("anna"),
            &serde_json::json!({"state": "available"}),
        )
        .await
        .unwrap();
    let second = s
        .append_event(
            T0,
            "agent.state",
            None,
            Some("anna"),
            &serde_json::json!({"state": "busy"}),
        )
        .await
        .unwrap();
    assert!(second > first, "same millisecond, still in write order");
    s.audit(
        &AuditEntry {
            actor: "admin",
            action: "read",
            object_kind: "inquiry",
            object_id: Some("X"),
            detail: None,
        },
        T0,
    )
    .await
    .unwrap();
    assert_eq!(s.count_audit("inquiry", "X").await.unwrap(), 1);
}
