//! Store tests for clients: normalisation of addresses, conflicts, search,
//! merge, delete and personal managers, on in-memory SQLite (or PostgreSQL
//! with `HOTLINE_TEST_POSTGRES_URL`, via the inquiry tests' helpers).

use super::tests_inquiries::{call, concurrent_store, id_at, store};
use super::*;
use crate::role::Role;

const T0: i64 = 1_740_000_000_000;

fn fields(name: &str, phones: &[&str], emails: &[&str]) -> ClientFields {
    ClientFields {
        name: Some(name.to_string()),
        phones: Some(phones.iter().map(|p| p.to_string()).collect()),
        emails: Some(emails.iter().map(|e| e.to_string()).collect()),
        ..Default::default()
    }
}

async fn agent_in(s: &Store, login: &str, queue: &str) {
    s.create_agent(
        &NewAgent {
            login: login.to_string(),
            name: format!("Agent {login}"),
            role: Role::AdmissionManager,
            password: "secret-password".into(),
            queues: vec![QueueSkill::new(queue)],
            digest_algorithms: vec![],
            nat: false,
        },
        "hotline",
    )
    .await
    .unwrap();
}

#[test]
fn emails_are_lower_cased_and_checked() {
    assert_eq!(
        normalize_email("  Ivan.Petrov@Example.RU ").as_deref(),
        Some("ivan.petrov@example.ru")
    );
    assert_eq!(
        normalize_email("ПОЧТА@пример.рф").as_deref(),
        Some("почта@пример.рф")
    );
    for bad in [
        "",
        "no-at",
        "@example.org",
        "a@",
        "a@b@c",
        "a b@c.d",
        "a@.org",
        "a@org.",
    ] {
        assert_eq!(normalize_email(bad), None, "{bad:?}");
    }
}

#[test]
fn client_fields_are_normalised_and_every_problem_reported() {
    let ok = validate_client_fields(&ClientFields {
        name: Some("  Мария  ".into()),
        category: Some("parent".into()),
        phones: Some(vec![
            "8 (916) 123-45-67".into(),
            "+79161234567".into(),
            "100".into(),
        ]),
        emails: Some(vec!["A@B.ru".into(), "a@b.RU".into()]),
        handles: Some(vec![MessengerHandle {
            messenger: " Telegram ".into(),
            handle: "@maria".into(),
        }]),
    })
    .unwrap();
    assert_eq!(ok.name.as_deref(), Some("Мария"));
    assert_eq!(ok.phones, Some(vec!["79161234567".into(), "100".into()]));
    assert_eq!(ok.emails, Some(vec!["a@b.ru".into()]));
    assert_eq!(ok.handles.unwrap()[0].messenger, "telegram");

    let errors = validate_client_fields(&ClientFields {
        name: Some(" ".into()),
        category: Some("alien".into()),
        phones: Some(vec!["caller".into()]),
        emails: Some(vec!["nope".into()]),
        handles: Some(vec![MessengerHandle {
            messenger: "".into(),
            handle: "x".into(),
        }]),
    })
    .unwrap_err();
    let named: Vec<&str> = errors.iter().map(|e| e.field).collect();
    assert_eq!(named, ["name", "category", "phones", "emails", "handles"]);
}

#[tokio::test]
async fn an_address_belongs_to_one_client() {
    let s = store().await;
    let a = s
        .create_client(
            &fields("Anna", &["89161234567"], &["Anna@X.org"]),
            "admin",
            T0,
        )
        .await
        .unwrap();
    assert_eq!(a.phones, ["79161234567"]);
    assert_eq!(a.emails, ["anna@x.org"]);
    for dup in [
        fields("Other", &["+7 916 123-45-67"], &[]),
        fields("Other", &[], &["ANNA@x.org"]),
    ] {
        assert!(matches!(
            s.create_client(&dup, "admin", T0).await,
            Err(StoreError::Conflict(_))
        ));
    }
    assert_eq!(s.count_clients().await.unwrap(), 1, "nothing half-written");
    // Found by e-mail whatever the case.
    let found = s
        .find_or_create_client_by_email("anna@X.ORG", T0)
        .await
        .unwrap();
    assert_eq!(found.id, a.id);

    let b = s
        .create_client(&fields("Boris", &["100"], &[]), "admin", T0 + 1)
        .await
        .unwrap();
    assert!(matches!(
        s.update_client(&b.id, &fields("Boris", &["89161234567"], &[]), "admin", T0)
            .await,
        Err(StoreError::Conflict(_))
    ));
    let b = s
        .update_client(&b.id, &fields("Борис", &["101", "100"], &[]), "admin", T0)
        .await
        .unwrap();
    assert_eq!(b.name.as_deref(), Some("Борис"));
    let mut phones = b.phones.clone();
    phones.sort();
    assert_eq!(phones, ["100", "101"]);
    assert!(matches!(
        s.update_client("nobody", &ClientFields::default(), "admin", T0)
            .await,
        Err(StoreError::NotFound)
    ));
}

#[tokio::test]
async fn search_matches_name_phone_forms_and_email_and_pages_by_id() {
    let s = store().await;
    let maria = s
        .create_client(
            &fields("Иванова Мария", &["89161234567"], &["m@x.ru"]),
            "a",
            T0,
        )
        .await
        .unwrap();
    let petr = s
        .create_client(
            &fields("Petrov Petr", &["100"], &["petr@y.ru"]),
            "a",
            T0 + 1,
        )
        .await
        .unwrap();
    let find = |q: &'static str| {
        let s = s.clone();
        async move {
            let (items, _) = s.search_clients(Some(q), None, 10, None).await.unwrap();
            items.into_iter().map(|c| c.id).collect::<Vec<_>>()
        }
    };
    assert_eq!(find("ИВАНОВА").await, std::slice::from_ref(&maria.id));
    assert_eq!(find("мари").await, std::slice::from_ref(&maria.id));
    assert_eq!(
        find("+7 (916) 123-45-67").await,
        std::slice::from_ref(&maria.id)
    );
    assert_eq!(
        find("8 916 123 45 67").await,
        std::slice::from_ref(&maria.id)
    );
    assert_eq!(find("PETR@").await, std::slice::from_ref(&petr.id));
    assert!(find("%").await.is_empty());

    let (page, next) = s.search_clients(None, None, 1, None).await.unwrap();
    assert_eq!(page[0].id, petr.id, "newest first");
    let (page, next) = s
        .search_clients(None, None, 1, next.as_deref())
        .await
        .unwrap();
    assert_eq!(page[0].id, maria.id);
    assert_eq!(next, None);
}

#[tokio::test]
async fn merge_moves_everything_into_one_client_in_one_go() {
    let s = store().await;
    agent_in(&s, "anna", "admission").await;
    agent_in(&s, "erik", "education").await;
    agent_in(&s, "olga", "admission").await;
    let keep = s
        .create_client(
            &ClientFields {
                category: Some("parent".into()),
                ..fields("Keep", &["100"], &[])
            },
            "admin",
            T0,
        )
        .await
        .unwrap();
    let dup = s
        .create_client(
            &ClientFields {
                handles: Some(vec![MessengerHandle {
                    messenger: "telegram".into(),
                    handle: "@dup".into(),
                }]),
                category: Some("applicant".into()),
                ..fields("Dup", &["200"], &["dup@x.org"])
            },
            "admin",
            T0 + 1,
        )
        .await
        .unwrap();
    s.set_personal_manager(&keep.id, "admission", Some("anna"), "admin")
        .await
        .unwrap();
    s.set_personal_manager(&dup.id, "admission", Some("olga"), "admin")
        .await
        .unwrap();
    s.set_personal_manager(&dup.id, "education", Some("erik"), "admin")
        .await
        .unwrap();
    let inquiry = id_at(T0 + 2);
    s.create_inquiry(
        &inquiry,
        &NewInquiry {
            client_id: Some(dup.id.clone()),
            ..call("200", T0 + 2)
        },
    )
    .await
    .unwrap();

    let merged = s
        .merge_clients(&keep.id, &dup.id, "olga", T0 + 5)
        .await
        .unwrap();
    assert_eq!(merged.name.as_deref(), Some("Keep"), "the kept name wins");
    assert_eq!(merged.category.as_deref(), Some("parent"));
    let mut phones = merged.phones.clone();
    phones.sort();
    assert_eq!(phones, ["100", "200"]);
    assert_eq!(merged.emails, ["dup@x.org"]);
    assert_eq!(merged.handles.len(), 1);
    assert_eq!(
        merged.managers,
        [
            PersonalManager {
                area: "admission".into(),
                login: "anna".into()
            },
            PersonalManager {
                area: "education".into(),
                login: "erik".into()
            },
        ],
        "the kept client's manager stays; areas it lacked come over"
    );
    assert_eq!(
        s.get_inquiry(&inquiry).await.unwrap().unwrap().client_id,
        Some(keep.id.clone())
    );
    let events = s.events_of_inquiry(&inquiry).await.unwrap();
    assert_eq!(events.last().unwrap().data["client_id"], keep.id.as_str());
    assert_eq!(s.get_client(&dup.id).await.unwrap(), None);
    assert_eq!(s.count_clients().await.unwrap(), 1);
    assert!(matches!(
        s.merge_clients(&keep.id, &keep.id, "olga", T0).await,
        Err(StoreError::Invalid { field: "from", .. })
    ));
    assert!(matches!(
        s.merge_clients(&keep.id, "gone", "olga", T0).await,
        Err(StoreError::NotFound)
    ));
}

#[tokio::test]
async fn deleting_a_client_keeps_its_inquiries_detached() {
    let s = store().await;
    let c = s.find_or_create_client_by_phone("100", T0).await.unwrap();
    let inquiry = id_at(T0);
    s.create_inquiry(
        &inquiry,
        &NewInquiry {
            client_id: Some(c.id.clone()),
            ..call("100", T0)
        },
    )
    .await
    .unwrap();
    s.delete_client(&c.id, "admin").await.unwrap();
    assert_eq!(s.get_client(&c.id).await.unwrap(), None);
    let kept = s.get_inquiry(&inquiry).await.unwrap().unwrap();
    assert_eq!(kept.client_id, None);
    assert_eq!(kept.from, "100");
    // The number is free for a new client.
    let again = s.find_or_create_client_by_phone("100", T0).await.unwrap();
    assert_ne!(again.id, c.id);
    assert!(matches!(
        s.delete_client(&c.id, "admin").await,
        Err(StoreError::NotFound)
    ));
}

#[tokio::test]
async fn personal_managers_per_area_for_routing() {
    let s = store().await;
    agent_in(&s, "anna", "admission").await;
    agent_in(&s, "erik", "education").await;
    let c = s.find_or_create_client_by_phone("100", T0).await.unwrap();
    assert_eq!(s.personal_manager(&c.id, "admission").await.unwrap(), None);
    s.set_personal_manager(&c.id, "admission", Some("anna"), "anna")
        .await
        .unwrap();
    assert_eq!(
        s.personal_manager(&c.id, "admission")
            .await
            .unwrap()
            .as_deref(),
        Some("anna")
    );
    assert_eq!(s.personal_manager(&c.id, "education").await.unwrap(), None);
    assert!(s.client_visible_to(&c.id, "anna").await.unwrap());
    assert!(!s.client_visible_to(&c.id, "erik").await.unwrap());
    assert!(matches!(
        s.set_personal_manager(&c.id, "education", Some("anna"), "admin")
            .await,
        Err(StoreError::Invalid { field: "login", .. })
    ));
    assert!(matches!(
        s.set_personal_manager(&c.id, "general", Some("anna"), "admin")
            .await,
        Err(StoreError::Invalid { field: "area", .. })
    ));
    assert!(matches!(
        s.set_personal_manager("nobody", "admission", Some("anna"), "admin")
            .await,
        Err(StoreError::NotFound)
    ));
    s.set_personal_manager(&c.id, "admission", None, "admin")
        .await
        .unwrap();
    assert_eq!(s.personal_manager(&c.id, "admission").await.unwrap(), None);
    assert_eq!(s.count_audit("client", &c.id).await.unwrap(), 2);
    // Deleting the agent ends the assignment.
    s.set_personal_manager(&c.id, "education", Some("erik"), "admin")
        .await
        .unwrap();
    s.delete_agent("erik").await.unwrap();
    assert_eq!(s.personal_manager(&c.id, "education").await.unwrap(), None);
}

#[tokio::test]
async fn open_inquiries_of_a_client() {
    let s = store().await;
    let c = s.find_or_create_client_by_phone("100", T0).await.unwrap();
    let mut ids = Vec::new();
    for i in 0..2 {
        let id = id_at(T0 + i);
        s.create_inquiry(
            &id,
            &NewInquiry {
                client_id: Some(c.id.clone()),
                ..call("100", T0 + i)
            },
        )
        .await
        .unwrap();
        ids.push(id);
    }
    assert!(s.has_open_inquiry(&c.id, &ids[1]).await.unwrap());
    for status in [
        InquiryStatus::Resolved,
        InquiryStatus::Abandoned,
        InquiryStatus::ResolvedInIvr,
    ] {
        s.update_inquiry(
            &ids[0],
            &InquiryUpdate {
                status: Some(status),
                ..Default::default()
            },
            T0 + 9,
        )
        .await
        .unwrap();
        assert!(
            !s.has_open_inquiry(&c.id, &ids[1]).await.unwrap(),
            "{status}"
        );
    }
    assert!(!s.has_open_inquiry("nobody", &ids[1]).await.unwrap());
}

#[tokio::test]
async fn find_or_create_by_email_is_race_safe() {
    let (s, _dir) = concurrent_store().await;
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let s = s.clone();
            let raw = if i % 2 == 0 {
                "Pupil@Example.org"
            } else {
                "pupil@example.ORG"
            };
            tokio::spawn(async move { s.find_or_create_client_by_email(raw, T0 + i).await })
        })
        .collect();
    let mut ids = std::collections::HashSet::new();
    for t in tasks {
        ids.insert(t.await.unwrap().unwrap().id);
    }
    assert_eq!(ids.len(), 1);
    assert_eq!(s.count_clients().await.unwrap(), 1);
}
