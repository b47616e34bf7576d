//! Store tests on a private in-memory SQLite database.

use super::*;
use crate::role::Role;
use crate::sip::Transport;
use crate::sip::digest::{Algorithm, ha1};
use crate::sip::registrar::Binding;

const REALM: &str = "hotline";

/// A fresh, migrated store: in-memory SQLite, or — when
/// `HOTLINE_TEST_POSTGRES_URL` names a scratch PostgreSQL database — a new
/// schema in it, so the same tests prove the PostgreSQL path.
async fn store() -> Store {
    let url = match std::env::var("HOTLINE_TEST_POSTGRES_URL") {
        Ok(base) => postgres_schema(&base).await,
        Err(_) => "sqlite::memory:".to_string(),
    };
    let s = Store::connect(&url).await.unwrap();
    s.migrate().await.unwrap();
    s
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

fn new_agent(login: &str) -> NewAgent {
    NewAgent {
        login: login.to_string(),
        name: format!("Agent {login}"),
        role: Role::ContactManager,
        password: "secret-password".to_string(),
        queues: vec![QueueSkill {
            queue: "general".into(),
            skill: 3,
        }],
        digest_algorithms: vec![],
        nat: false,
    }
}

fn binding(login: &str, contact: &str, expires_at_ms: i64) -> Binding {
    Binding {
        login: login.to_string(),
        contact: contact.to_string(),
        expires_at_ms,
        call_id: "abc@host".into(),
        cseq: 7,
        source: "192.0.2.10:5062".parse().unwrap(),
        transport: Transport::Udp,
        nat: true,
        q: Some(0.5),
        user_agent: Some("baresip".into()),
    }
}

#[test]
fn ha1_matches_coreutils() {
    // printf '1001:hotline:secret' | md5sum / sha256sum
    assert_eq!(
        ha1(Algorithm::Md5, "1001", "hotline", "secret"),
        "9825b4c9c75afc481a419b95f9c54647"
    );
    assert_eq!(
        ha1(Algorithm::Sha256, "1001", "hotline", "secret"),
        "ceaf51d05610e9e0762530bc66589f6a3265c1a4462084a8e2a914ec293b35c6"
    );
}

#[tokio::test]
async fn sip_credentials_hold_ha1_per_algorithm_and_default_to_md5() {
    let s = store().await;
    let mut a = new_agent("1001");
    a.password = "secret12".into();
    s.create_agent(&a, REALM).await.unwrap();
    let c = s.sip_credentials("1001").await.unwrap().unwrap();
    assert_eq!(c.digest_algorithms, vec![Algorithm::Md5]);
    assert_eq!(c.ha1_md5, ha1(Algorithm::Md5, "1001", REALM, "secret12"));
    assert_eq!(
        c.ha1(Algorithm::Sha256),
        ha1(Algorithm::Sha256, "1001", REALM, "secret12")
    );
    assert!(!c.nat);
    assert!(s.sip_credentials("nobody").await.unwrap().is_none());
}

#[tokio::test]
async fn create_get_list_and_conflict() {
    let s = store().await;
    let mut a = new_agent("anna");
    a.digest_algorithms = vec![Algorithm::Sha256, Algorithm::Md5];
    a.queues.push(QueueSkill {
        queue: "admission".into(),
        skill: 1,
    });
    let created = s.create_agent(&a, REALM).await.unwrap();
    assert_eq!(created.login, "anna");
    assert_eq!(created.queues.len(), 2);
    assert_eq!(created.queues[1].queue, "admission", "queue order is kept");
    assert_eq!(
        created.digest_algorithms,
        vec![Algorithm::Sha256, Algorithm::Md5]
    );
    assert_eq!(s.get_agent("anna").await.unwrap(), Some(created));
    assert!(matches!(
        s.create_agent(&a, REALM).await,
        Err(StoreError::Conflict(_))
    ));
    s.create_agent(&new_agent("boris"), REALM).await.unwrap();
    let logins: Vec<_> = s
        .list_agents()
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.login)
        .collect();
    assert_eq!(logins, ["anna", "boris"]);
    let page = s.list_agents_page(Some("anna"), 10).await.unwrap();
    assert_eq!(page.len(), 1);
    assert_eq!(page[0].queues.len(), 1);
}

#[tokio::test]
async fn invalid_agents_are_rejected_with_the_field() {
    let s = store().await;
    for (mutate, field) in [
        (
            Box::new(|a: &mut NewAgent| a.login = "Bad Login".into()) as Box<dyn Fn(&mut NewAgent)>,
            "login",
        ),
        (
            Box::new(|a: &mut NewAgent| a.login = String::new()),
            "login",
        ),
        (
            Box::new(|a: &mut NewAgent| a.login = "x".repeat(65)),
            "login",
        ),
        (Box::new(|a: &mut NewAgent| a.name = "  ".into()), "name"),
        (
            Box::new(|a: &mut NewAgent| a.password = "short".into()),
            "password",
        ),
        (
            Box::new(|a: &mut NewAgent| {
                a.queues = vec![QueueSkill {
                    queue: "Gen eral".into(),
                    skill: 1,
                }]
            }),
            "queues",
        ),
        (
            Box::new(|a: &mut NewAgent| a.digest_algorithms = vec![Algorithm::Md5, Algorithm::Md5]),
            "digest_algorithms",
        ),
    ] {
        let mut a = new_agent("ok");
        mutate(&mut a);
        match s.create_agent(&a, REALM).await {
            Err(StoreError::Invalid { field: f, .. }) => assert_eq!(f, field),
            other => panic!("expected Invalid({field}), got {other:?}"),
        }
    }
    let mut bad = new_agent("Bad");
    bad.password = "x".into();
    let fields: Vec<_> = validate_new_agent(&bad)
        .into_iter()
        .map(|e| e.field)
        .collect();
    assert_eq!(
        fields,
        ["login", "password"],
        "all problems reported at once"
    );
}

#[tokio::test]
async fn update_changes_password_ha1_and_fields() {
    let s = store().await;
    s.create_agent(&new_agent("anna"), REALM).await.unwrap();
    let patch = AgentPatch {
        name: Some("Anna K.".into()),
        role: Some(Role::Head),
        password: Some("another-secret".into()),
        queues: Some(vec![]),
        digest_algorithms: Some(vec![Algorithm::Sha256]),
        nat: Some(true),
    };
    let a = s.update_agent("anna", &patch, REALM).await.unwrap();
    assert_eq!(
        (a.name.as_str(), a.role, a.nat),
        ("Anna K.", Role::Head, true)
    );
    assert!(a.queues.is_empty());
    let c = s.sip_credentials("anna").await.unwrap().unwrap();
    assert_eq!(
        c.ha1_md5,
        ha1(Algorithm::Md5, "anna", REALM, "another-secret")
    );
    assert_eq!(c.digest_algorithms, vec![Algorithm::Sha256]);
    assert!(c.nat);
    assert!(
        s.verify_password("anna", "secret-password")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        s.verify_password("anna", "another-secret")
            .await
            .unwrap()
            .is_some()
    );

    let only_name = AgentPatch {
        name: Some("Anna".into()),
        ..Default::default()
    };
    let a = s.update_agent("anna", &only_name, REALM).await.unwrap();
    assert_eq!((a.name.as_str(), a.role), ("Anna", Role::Head));
    assert!(matches!(
        s.update_agent("ghost", &only_name, REALM).await,
        Err(StoreError::NotFound)
    ));
}

#[tokio::test]
async fn a_new_password_ends_the_old_sessions_and_a_rename_does_not() {
    let s = store().await;
    s.create_agent(&new_agent("anna"), REALM).await.unwrap();
    let token = s.create_token("anna", 3600, 0).await.unwrap();
    let rename = AgentPatch {
        name: Some("Anna".into()),
        ..Default::default()
    };
    s.update_agent("anna", &rename, REALM).await.unwrap();
    assert!(s.token_user(&token, 0).await.unwrap().is_some());
    let new_password = AgentPatch {
        password: Some("another-secret".into()),
        ..Default::default()
    };
    s.update_agent("anna", &new_password, REALM).await.unwrap();
    assert!(s.token_user(&token, 0).await.unwrap().is_none());
}

#[tokio::test]
async fn verify_password_rejects_wrong_and_unknown() {
    let s = store().await;
    s.create_agent(&new_agent("anna"), REALM).await.unwrap();
    let ok = s
        .verify_password("anna", "secret-password")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ok.login, "anna");
    assert!(
        s.verify_password("anna", "wrong-password")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        s.verify_password("ghost", "secret-password")
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn upsert_replaces_but_keeps_created_at() {
    let s = store().await;
    let first = s.upsert_agent(&new_agent("anna"), REALM).await.unwrap();
    let mut again = new_agent("anna");
    again.name = "Renamed".into();
    again.queues = vec![];
    let second = s.upsert_agent(&again, REALM).await.unwrap();
    assert_eq!(second.name, "Renamed");
    assert!(second.queues.is_empty());
    assert_eq!(second.created_at_ms, first.created_at_ms);
}

#[tokio::test]
async fn bindings_upsert_expire_and_remove() {
    let s = store().await;
    s.create_agent(&new_agent("anna"), REALM).await.unwrap();
    let b = binding("anna", "sip:anna@192.0.2.10:5062", 10_000);
    s.save_binding(&b).await.unwrap();
    s.save_binding(&binding("anna", "sip:anna@198.51.100.1", 2_000))
        .await
        .unwrap();
    assert_eq!(s.load_bindings(1_000).await.unwrap().len(), 2);
    assert_eq!(s.load_bindings(5_000).await.unwrap(), vec![b.clone()]);

    let mut refreshed = b.clone();
    refreshed.expires_at_ms = 20_000;
    refreshed.cseq = 8;
    refreshed.q = None;
    refreshed.user_agent = None;
    refreshed.transport = Transport::Tcp;
    s.save_binding(&refreshed).await.unwrap();
    assert_eq!(
        s.bindings_of("anna", 15_000).await.unwrap(),
        vec![refreshed]
    );

    s.remove_binding("anna", &b.contact).await.unwrap();
    assert!(s.bindings_of("anna", 0).await.unwrap().len() == 1);
    assert_eq!(s.purge_expired_bindings(5_000).await.unwrap(), 1);
    assert!(s.load_bindings(0).await.unwrap().is_empty());

    assert!(matches!(
        s.save_binding(&binding("ghost", "sip:ghost@x", 10_000))
            .await,
        Err(StoreError::NotFound)
    ));
}

#[tokio::test]
async fn delete_removes_bindings_and_tokens() {
    let s = store().await;
    s.create_agent(&new_agent("anna"), REALM).await.unwrap();
    s.save_binding(&binding("anna", "sip:anna@h", i64::MAX))
        .await
        .unwrap();
    let token = s.create_token("anna", 3600, 0).await.unwrap();
    s.delete_agent("anna").await.unwrap();
    assert!(s.get_agent("anna").await.unwrap().is_none());
    assert!(s.load_bindings(0).await.unwrap().is_empty());
    assert!(s.token_user(&token, 0).await.unwrap().is_none());
    assert!(matches!(
        s.delete_agent("anna").await,
        Err(StoreError::NotFound)
    ));
    // The login is free again.
    s.create_agent(&new_agent("anna"), REALM).await.unwrap();
}

#[tokio::test]
async fn tokens_expire_and_are_stored_hashed() {
    let s = store().await;
    s.create_agent(&new_agent("anna"), REALM).await.unwrap();
    let token = s.create_token("anna", 60, 1_000).await.unwrap();
    assert_eq!(token.len(), 64);
    assert_eq!(
        s.token_user(&token, 60_999).await.unwrap().unwrap().login,
        "anna"
    );
    assert!(s.token_user(&token, 61_000).await.unwrap().is_none());
    assert!(s.token_user("not-a-token", 1_000).await.unwrap().is_none());
    let stored: Vec<String> = sqlx::query_scalar("SELECT token_sha256 FROM api_tokens")
        .fetch_all(&s.pool)
        .await
        .unwrap();
    assert_eq!(stored.len(), 1);
    assert_ne!(stored[0], token, "only the digest is stored");
    s.revoke_token(&token).await.unwrap();
    assert!(s.token_user(&token, 1_000).await.unwrap().is_none());
}

#[tokio::test]
async fn ensure_admin_generates_once() {
    let s = store().await;
    let password = s.ensure_admin(None, REALM).await.unwrap().unwrap();
    assert!(password.len() >= 16);
    let admin = s
        .verify_password("admin", &password)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(admin.role, Role::Admin);
    assert_eq!(s.ensure_admin(None, REALM).await.unwrap(), None);
    assert_eq!(
        s.ensure_admin(Some("other-password"), REALM).await.unwrap(),
        None
    );
    assert!(
        s.verify_password("admin", &password)
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test]
async fn ensure_admin_uses_the_given_password() {
    let s = store().await;
    assert_eq!(
        s.ensure_admin(Some("from-the-env"), REALM).await.unwrap(),
        None
    );
    assert!(
        s.verify_password("admin", "from-the-env")
            .await
            .unwrap()
            .is_some()
    );
    assert!(matches!(
        store().await.ensure_admin(Some("short"), REALM).await,
        Err(StoreError::Invalid {
            field: "password",
            ..
        })
    ));
}

#[test]
fn queue_skill_accepts_name_or_object() {
    let qs: Vec<QueueSkill> = serde_json::from_str(
        r#"["general", {"queue": "admission", "skill": 5}, {"queue": "education"}]"#,
    )
    .unwrap();
    assert_eq!(
        qs,
        [
            QueueSkill {
                queue: "general".into(),
                skill: 1
            },
            QueueSkill {
                queue: "admission".into(),
                skill: 5
            },
            QueueSkill {
                queue: "education".into(),
                skill: 1
            },
        ]
    );
    assert!(serde_json::from_str::<QueueSkill>(r#"{"queue": "x", "skil": 2}"#).is_err());
    assert!(serde_json::from_str::<QueueSkill>("5").is_err());
    assert_eq!(
        serde_json::to_value(&qs[1]).unwrap(),
        serde_json::json!({"queue": "admission", "skill": 5})
    );
}

#[test]
fn debug_never_shows_passwords() {
    let a = new_agent("anna");
    assert!(!format!("{a:?}").contains("secret-password"));
    let p = AgentPatch {
        password: Some("hidden-pass".into()),
        ..Default::default()
    };
    assert!(!format!("{p:?}").contains("hidden-pass"));
}
