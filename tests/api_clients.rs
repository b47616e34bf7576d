//! `/api/v1/clients` over a real socket: search in every written form,
//! create with conflicts, read, edit, delete, merge, history across
//! channels, personal managers, and who may see which client (with the
//! audit rows that leaves).

#[path = "common/api_helpers.rs"]
mod api_helpers;

use api_helpers::{Reply, TestServer, temp_db};
use hotline::role::Role;
use hotline::store::{NewAgent, QueueSkill};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::path::Path;

fn assert_error(r: &Reply, status: StatusCode, code: &str) {
    assert_eq!(r.status, status, "{}", r.text);
    assert_eq!(r.json["error"]["code"], code, "{}", r.text);
}

fn ids(r: &Reply) -> Vec<String> {
    r.json["items"]
        .as_array()
        .unwrap_or_else(|| panic!("no items: {}", r.text))
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_string())
        .collect()
}

/// (actor, action) of the audit rows about one client.
async fn audit_rows(db: &Path, id: &str) -> Vec<(String, String)> {
    let pool = sqlx::SqlitePool::connect(&api_helpers::db_url(db))
        .await
        .unwrap();
    let rows = sqlx::query_as(
        "SELECT actor, action FROM audit WHERE object_kind = 'client' AND object_id = ?1 \
         ORDER BY at_ms, id",
    )
    .bind(id)
    .fetch_all(&pool)
    .await
    .unwrap();
    pool.close().await;
    rows
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

fn assert_newest_first(r: &Reply) {
    let times: Vec<&str> = r.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["created_at"].as_str().unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "{times:?}");
}

fn query(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn create(s: &TestServer, token: &str, body: Value) -> String {
    let r = s.post("/api/v1/clients", token, body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    r.json["id"].as_str().unwrap().to_string()
}

/// An agent of `queue` with a token.
async fn agent(s: &TestServer, login: &str, queue: &str) -> String {
    let password = format!("{login}-password");
    s.store
        .create_agent(
            &NewAgent {
                login: login.into(),
                name: login.into(),
                role: Role::AdmissionManager,
                password: password.clone(),
                queues: vec![QueueSkill::new(queue)],
                digest_algorithms: vec![],
                nat: false,
            },
            api_helpers::REALM,
        )
        .await
        .unwrap();
    s.login(login, &password).await
}

/// A typed-in inquiry for `client_id` handled by the token's user.
async fn visit(s: &TestServer, token: &str, client_id: &str, channel: &str) -> String {
    let r = s
        .post(
            "/api/v1/inquiries",
            token,
            json!({"channel": channel, "client_id": client_id, "topic": "visit"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    r.json["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn create_read_update_and_search_in_every_written_form() {
    let (_dir, db) = temp_db();
    let s = TestServer::start(&db).await;
    let admin = s.admin_token().await;

    let r = s
        .post(
            "/api/v1/clients",
            &admin,
            json!({
                "name": "Иванова Мария",
                "category": "parent",
                "phones": ["8 (916) 123-45-67"],
                "emails": ["Maria@Example.RU"],
                "handles": [{"messenger": "telegram", "handle": "@maria"}]
            }),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let maria = r.json["id"].as_str().unwrap().to_string();
    assert_eq!(r.json["phones"], json!(["79161234567"]));
    assert_eq!(r.json["emails"], json!(["maria@example.ru"]));
    assert_eq!(r.json["handles"][0]["handle"], "@maria");
    assert_eq!(r.json["managers"], json!([]));
    assert!(r.json["created_at"].is_string());
    let petr = create(&s, &admin, json!({"name": "Petrov", "phones": ["100"]})).await;

    for q in [
        "+7 916 123-45-67",
        "89161234567",
        "ИВАНОВА",
        "мария",
        "MARIA@example",
        "@maria",
    ] {
        let r = s
            .get(&format!("/api/v1/clients?q={}", query(q)), &admin)
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(ids(&r), std::slice::from_ref(&maria), "q={q}");
    }
    let r = s.get("/api/v1/clients", &admin).await;
    assert_eq!(ids(&r), [petr.clone(), maria.clone()], "newest first");

    let r = s.get(&format!("/api/v1/clients/{maria}"), &admin).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json["name"], "Иванова Мария");
    assert_eq!(r.json["category"], "parent");

    let r = s
        .patch(
            &format!("/api/v1/clients/{maria}"),
            &admin,
            json!({"name": "Иванова М. И.", "phones": ["89161234567", "+7 903 000 00 01"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json["name"], "Иванова М. И.");
    assert_eq!(r.json["phones"].as_array().unwrap().len(), 2);
    assert_eq!(r.json["emails"], json!(["maria@example.ru"]), "untouched");

    let actions: Vec<String> = audit_rows(&db, &maria)
        .await
        .into_iter()
        .map(|(_, a)| a)
        .collect();
    for action in ["create", "read", "update"] {
        assert!(
            actions.contains(&action.to_string()),
            "{action}: {actions:?}"
        );
    }
    assert!(
        actions.iter().filter(|a| *a == "read").count() >= 7,
        "every search result and the get are audited: {actions:?}"
    );
}

#[tokio::test]
async fn validation_conflicts_and_not_found() {
    let (_dir, db) = temp_db();
    let s = TestServer::start(&db).await;
    let admin = s.admin_token().await;
    let first = create(&s, &admin, json!({"phones": ["100"], "emails": ["a@b.c"]})).await;

    let r = s
        .post(
            "/api/v1/clients",
            &admin,
            json!({"name": "", "category": "alien", "phones": ["abc"], "emails": ["nope"]}),
        )
        .await;
    assert_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    for field in ["name", "category", "phones", "emails"] {
        assert!(
            r.json["error"]["fields"][field].is_string(),
            "{field}: {}",
            r.text
        );
    }
    let r = s
        .post("/api/v1/clients", &admin, json!({"phones": ["1-0-0"]}))
        .await;
    assert_error(&r, StatusCode::CONFLICT, "conflict");
    let r = s
        .post("/api/v1/clients", &admin, json!({"emails": ["A@B.C"]}))
        .await;
    assert_error(&r, StatusCode::CONFLICT, "conflict");
    let second = create(&s, &admin, json!({"phones": ["200"]})).await;
    let r = s
        .patch(
            &format!("/api/v1/clients/{second}"),
            &admin,
            json!({"phones": ["100"]}),
        )
        .await;
    assert_error(&r, StatusCode::CONFLICT, "conflict");
    let r = s.get(&format!("/api/v1/clients/{first}"), &admin).await;
    assert_eq!(
        r.json["phones"],
        json!(["100"]),
        "a refused change writes nothing"
    );

    let missing = "/api/v1/clients/01JNKQ0000000000000000000Z";
    assert_error(
        &s.get(missing, &admin).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_error(
        &s.patch(missing, &admin, json!({"name": "x"})).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_error(
        &s.delete(missing, &admin).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_error(
        &s.get(&format!("{missing}/history"), &admin).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_error(
        &s.get("/api/v1/clients?limit=0", &admin).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    );
    assert_error(
        &s.get("/api/v1/clients?nmae=x", &admin).await,
        StatusCode::BAD_REQUEST,
        "bad_query",
    );
    let r = s
        .request(reqwest::Method::GET, "/api/v1/clients", None, None)
        .await;
    assert_error(&r, StatusCode::UNAUTHORIZED, "unauthenticated");
}

#[tokio::test]
async fn a_manager_sees_only_their_clients_and_refusals_are_audited() {
    let (_dir, db) = temp_db();
    let s = TestServer::start(&db).await;
    let admin = s.admin_token().await;
    let anna = agent(&s, "anna", "admission").await;
    let boris = agent(&s, "boris", "admission").await;
    let head = s.user_with_role("olga", Role::Head).await;

    let annas = create(
        &s,
        &admin,
        json!({"name": "Anna's client", "phones": ["100"]}),
    )
    .await;
    let boris_client = create(&s, &admin, json!({"name": "Boris's", "phones": ["200"]})).await;
    let managed = create(&s, &admin, json!({"name": "Managed", "phones": ["300"]})).await;
    visit(&s, &anna, &annas, "in_person").await;
    visit(&s, &boris, &boris_client, "chat").await;
    let r = s
        .request(
            reqwest::Method::PUT,
            &format!("/api/v1/clients/{managed}/managers/admission"),
            Some(&head),
            Some(json!({"login": "anna"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);

    let r = s.get("/api/v1/clients", &anna).await;
    assert_eq!(
        sorted(ids(&r)),
        sorted(vec![managed.clone(), annas.clone()])
    );
    let r = s.get(&format!("/api/v1/clients/{annas}"), &anna).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = s.get(&format!("/api/v1/clients/{managed}"), &anna).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);

    for path in [
        format!("/api/v1/clients/{boris_client}"),
        format!("/api/v1/clients/{boris_client}/history"),
    ] {
        let r = s.get(&path, &anna).await;
        assert_error(&r, StatusCode::FORBIDDEN, "forbidden");
        assert!(!r.text.contains("Boris's"), "no data in a refusal");
    }
    let r = s
        .patch(
            &format!("/api/v1/clients/{boris_client}"),
            &anna,
            json!({"name": "x"}),
        )
        .await;
    assert_error(&r, StatusCode::FORBIDDEN, "forbidden");
    let rows = audit_rows(&db, &boris_client).await;
    let denied = rows
        .iter()
        .filter(|(actor, action)| actor == "anna" && action == "denied")
        .count();
    assert_eq!(denied, 3, "{rows:?}");
    assert!(
        !rows
            .iter()
            .any(|(actor, action)| actor == "anna" && action == "read")
    );

    // Admin-only and head-only actions.
    let r = s.delete(&format!("/api/v1/clients/{annas}"), &anna).await;
    assert_error(&r, StatusCode::FORBIDDEN, "forbidden");
    let r = s.delete(&format!("/api/v1/clients/{annas}"), &head).await;
    assert_error(&r, StatusCode::FORBIDDEN, "forbidden");
    let r = s
        .post(
            &format!("/api/v1/clients/{annas}/merge"),
            &anna,
            json!({"from": managed}),
        )
        .await;
    assert_error(&r, StatusCode::FORBIDDEN, "forbidden");

    // The head sees everyone.
    let r = s.get("/api/v1/clients", &head).await;
    assert_eq!(ids(&r).len(), 3);
    let r = s
        .get(&format!("/api/v1/clients/{boris_client}"), &head)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
}

#[tokio::test]
async fn history_spans_channels_newest_first_and_merge_moves_everything() {
    let (_dir, db) = temp_db();
    let s = TestServer::start(&db).await;
    let admin = s.admin_token().await;
    let head = s.user_with_role("olga", Role::Head).await;
    agent(&s, "anna", "admission").await;
    let erik = agent(&s, "erik", "education").await;

    // The same person twice: by phone from a call, by e-mail from a letter.
    let by_phone = s
        .store
        .find_or_create_client_by_phone("8 916 555-00-11", 1_740_000_000_000)
        .await
        .unwrap()
        .id;
    let r = s
        .post(
            "/api/v1/inquiries",
            &erik,
            json!({"channel": "email", "from": "Same.Person@Mail.ru", "topic": "schedule"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let letter = r.json["id"].as_str().unwrap().to_string();
    let by_email = r.json["client_id"].as_str().unwrap().to_string();
    let chat = visit(&s, &admin, &by_phone, "chat").await;
    let in_person = visit(&s, &admin, &by_phone, "in_person").await;
    let r = s
        .request(
            reqwest::Method::PUT,
            &format!("/api/v1/clients/{by_phone}/managers/admission"),
            Some(&admin),
            Some(json!({"login": "anna"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = s
        .request(
            reqwest::Method::PUT,
            &format!("/api/v1/clients/{by_email}/managers/education"),
            Some(&erik),
            Some(json!({"login": "erik"})),
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "a manager takes on their own client: {}",
        r.text
    );

    let r = s
        .get(&format!("/api/v1/clients/{by_phone}/history"), &head)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        sorted(ids(&r)),
        sorted(vec![in_person.clone(), chat.clone()])
    );
    assert_newest_first(&r);

    let r = s
        .post(
            &format!("/api/v1/clients/{by_phone}/merge"),
            &head,
            json!({"from": by_email}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json["phones"], json!(["79165550011"]));
    assert_eq!(r.json["emails"], json!(["same.person@mail.ru"]));
    assert_eq!(
        r.json["managers"],
        json!([{"area": "admission", "login": "anna"}, {"area": "education", "login": "erik"}])
    );
    let r = s.get(&format!("/api/v1/clients/{by_email}"), &head).await;
    assert_error(&r, StatusCode::NOT_FOUND, "not_found");
    let r = s
        .get(
            &format!("/api/v1/clients/{by_phone}/history?limit=2"),
            &head,
        )
        .await;
    assert_eq!(
        sorted(ids(&r)),
        sorted(vec![in_person.clone(), chat.clone()])
    );
    assert_newest_first(&r);
    let cursor = r.json["next_cursor"].as_str().unwrap().to_string();
    let r = s
        .get(
            &format!("/api/v1/clients/{by_phone}/history?limit=2&cursor={cursor}"),
            &head,
        )
        .await;
    assert_eq!(
        ids(&r),
        std::slice::from_ref(&letter),
        "the letter joined the history"
    );
    assert_eq!(r.json["items"][0]["channel"], "email");
    // Erik handled the letter, so the merged client is his too now.
    let r = s.get(&format!("/api/v1/clients/{by_phone}"), &erik).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);

    let r = s
        .post(
            &format!("/api/v1/clients/{by_phone}/merge"),
            &head,
            json!({"from": by_phone}),
        )
        .await;
    assert_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    let r = s
        .post(
            &format!("/api/v1/clients/{by_phone}/merge"),
            &head,
            json!({"from": "gone"}),
        )
        .await;
    assert_error(&r, StatusCode::NOT_FOUND, "not_found");
    let actions: Vec<String> = audit_rows(&db, &by_email)
        .await
        .into_iter()
        .map(|(_, a)| a)
        .collect();
    assert!(actions.contains(&"delete".to_string()), "{actions:?}");
}

#[tokio::test]
async fn personal_managers_are_checked_and_cleared() {
    let (_dir, db) = temp_db();
    let s = TestServer::start(&db).await;
    let admin = s.admin_token().await;
    let anna = agent(&s, "anna", "admission").await;
    agent(&s, "boris", "admission").await;
    agent(&s, "gena", "general").await;
    let c = create(&s, &admin, json!({"phones": ["100"]})).await;
    let put = |area: &str, token: &str, login: &str| {
        let path = format!("/api/v1/clients/{c}/managers/{area}");
        let token = token.to_string();
        let body = json!({ "login": login });
        let s = &s;
        async move {
            s.request(reqwest::Method::PUT, &path, Some(&token), Some(body))
                .await
        }
    };

    let r = put("admission", &admin, "gena").await;
    assert_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert!(r.json["error"]["fields"]["login"].is_string(), "{}", r.text);
    let r = put("general", &admin, "anna").await;
    assert_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert!(r.json["error"]["fields"]["area"].is_string(), "{}", r.text);
    let r = put("admission", &anna, "boris").await;
    assert_error(&r, StatusCode::FORBIDDEN, "forbidden");
    let r = put("admission", &anna, "anna").await;
    assert_error(&r, StatusCode::FORBIDDEN, "forbidden"); // not yet her client

    let r = put("admission", &admin, "anna").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        s.store
            .personal_manager(&c, "admission")
            .await
            .unwrap()
            .as_deref(),
        Some("anna")
    );
    let r = put("admission", &admin, "boris").await;
    assert_eq!(
        r.json["managers"],
        json!([{"area": "admission", "login": "boris"}])
    );

    let path = format!("/api/v1/clients/{c}/managers/admission");
    let r = s.delete(&path, &anna).await;
    assert_error(&r, StatusCode::FORBIDDEN, "forbidden");
    let r = s.delete(&path, &admin).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    assert_eq!(
        s.store.personal_manager(&c, "admission").await.unwrap(),
        None
    );

    // Deleting the client: admin only; its inquiries remain, detached.
    let inquiry = visit(&s, &admin, &c, "in_person").await;
    let r = s.delete(&format!("/api/v1/clients/{c}"), &admin).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    let r = s.get(&format!("/api/v1/inquiries/{inquiry}"), &admin).await;
    assert_eq!(r.json["client_id"], Value::Null);
    assert_eq!(
        r.json["from"], "100",
        "the client's phone when typed in by id"
    );
}

#[tokio::test]
async fn search_pages_are_stable_while_clients_are_added() {
    let (_dir, db) = temp_db();
    let s = TestServer::start(&db).await;
    let admin = s.admin_token().await;
    for i in 0..5 {
        create(&s, &admin, json!({"phones": [format!("10{i}")]})).await;
    }
    let expected = ids(&s.get("/api/v1/clients", &admin).await);
    assert_eq!(expected.len(), 5);
    let mut seen = Vec::new();
    let mut path = "/api/v1/clients?limit=2".to_string();
    for page in 0.. {
        let r = s.get(&path, &admin).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        seen.extend(ids(&r));
        create(&s, &admin, json!({"phones": [format!("20{page}")]})).await;
        match r.json["next_cursor"].as_str() {
            Some(c) => path = format!("/api/v1/clients?limit=2&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen, expected);
}
