//! Login lockout, logout, expired tokens and the audit log API, against the
//! whole server over a real socket.

mod common;
#[path = "common/http.rs"]
mod http;

use hotline::role::Role;
use http::{Api, Reply, assert_error, start_with, user};
use reqwest::{Method, StatusCode};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn audit_actions(r: &Reply) -> Vec<(String, String)> {
    r.json["items"]
        .as_array()
        .unwrap_or_else(|| panic!("no items: {}", r.text))
        .iter()
        .map(|i| {
            (
                i["actor"].as_str().unwrap().to_string(),
                i["action"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn repeated_failures_lock_a_login_until_the_lockout_ends() {
    let s = start_with(
        vec![
            user("anna", Role::ContactManager),
            user("hanna", Role::Head),
        ],
        |c| {
            c.http.lockout_failures = 3;
            c.http.lockout_s = 1;
        },
    )
    .await;
    let api = Api::new(&s);
    for _ in 0..3 {
        let r = api.try_login("anna", "wrong").await;
        assert_error(&r, StatusCode::UNAUTHORIZED, "invalid_credentials");
    }
    // Locked now: even the right password is refused, with Retry-After.
    let r = api.try_login("anna", "anna-password").await;
    assert_error(&r, StatusCode::TOO_MANY_REQUESTS, "login_locked");
    let retry: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=1).contains(&retry), "Retry-After {retry}");

    // Another login is not affected.
    let head = api.login("hanna").await;

    // The lock lifts after lockout_s: poll until it does, with a deadline.
    let deadline = Instant::now() + Duration::from_secs(10);
    let token = loop {
        let r = api.try_login("anna", "anna-password").await;
        if r.status == StatusCode::OK {
            break r.json["token"].as_str().unwrap().to_string();
        }
        assert_error(&r, StatusCode::TOO_MANY_REQUESTS, "login_locked");
        assert!(Instant::now() < deadline, "still locked after 10 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(
        api.get("/api/v1/inquiries", &token).await.status,
        StatusCode::OK
    );

    // The success reset the count: two more failures do not lock again.
    for _ in 0..2 {
        let r = api.try_login("anna", "wrong").await;
        assert_error(&r, StatusCode::UNAUTHORIZED, "invalid_credentials");
    }
    api.login("anna").await;

    // Everything is in the audit log.
    let r = api
        .get(
            "/api/v1/audit?actor=anna&object_kind=user&limit=1000",
            &head,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let actions: Vec<String> = audit_actions(&r).into_iter().map(|(_, a)| a).collect();
    for expected in ["login_failed", "locked", "login_locked", "login"] {
        assert!(
            actions.contains(&expected.to_string()),
            "{expected} in {actions:?}"
        );
    }
    assert_eq!(actions.iter().filter(|a| *a == "locked").count(), 1);
    s.running.stop().await.unwrap();
}

#[tokio::test]
async fn unknown_logins_answer_like_wrong_passwords_and_lock_too() {
    let s = start_with(vec![user("anna", Role::ContactManager)], |c| {
        c.http.lockout_failures = 2;
    })
    .await;
    let api = Api::new(&s);
    let known = api.try_login("anna", "wrong").await;
    let unknown = api.try_login("nobody", "wrong").await;
    assert_eq!(known.status, unknown.status);
    assert_eq!(known.json, unknown.json);
    assert_error(&unknown, StatusCode::UNAUTHORIZED, "invalid_credentials");

    let unknown = api.try_login("nobody", "wrong").await;
    assert_error(&unknown, StatusCode::UNAUTHORIZED, "invalid_credentials");
    api.try_login("anna", "wrong").await;
    let known = api.try_login("anna", "anna-password").await;
    let unknown = api.try_login("nobody", "whatever").await;
    assert_error(&known, StatusCode::TOO_MANY_REQUESTS, "login_locked");
    assert_error(&unknown, StatusCode::TOO_MANY_REQUESTS, "login_locked");
    assert_eq!(known.json, unknown.json);
    assert_eq!(known.headers["retry-after"], unknown.headers["retry-after"]);
    s.running.stop().await.unwrap();
}

#[tokio::test]
async fn a_lockout_survives_a_restart() {
    let s = start_with(vec![user("anna", Role::ContactManager)], |c| {
        c.http.lockout_failures = 2;
    })
    .await;
    let api = Api::new(&s);
    api.try_login("anna", "wrong").await;
    api.try_login("anna", "wrong").await;
    let s = s.restart().await;
    let api = Api::new(&s);
    let r = api.try_login("anna", "anna-password").await;
    assert_error(&r, StatusCode::TOO_MANY_REQUESTS, "login_locked");
    s.running.stop().await.unwrap();
}

#[tokio::test]
async fn logout_revokes_the_token() {
    let s = start_with(vec![user("anna", Role::ContactManager)], |_| {}).await;
    let api = Api::new(&s);
    let token = api.login("anna").await;
    let other = api.login("anna").await;
    let r = api
        .request(Method::POST, "/api/v1/auth/logout", Some(&token), None)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    assert!(r.text.is_empty());
    let r = api.get("/api/v1/inquiries", &token).await;
    assert_error(&r, StatusCode::UNAUTHORIZED, "invalid_token");
    // Logging out twice, or without a token, is a 401.
    let r = api
        .request(Method::POST, "/api/v1/auth/logout", Some(&token), None)
        .await;
    assert_error(&r, StatusCode::UNAUTHORIZED, "invalid_token");
    let r = api
        .request(Method::POST, "/api/v1/auth/logout", None, None)
        .await;
    assert_error(&r, StatusCode::UNAUTHORIZED, "unauthenticated");
    // Only that one session ended.
    assert_eq!(
        api.get("/api/v1/inquiries", &other).await.status,
        StatusCode::OK
    );
    assert_eq!(
        s.running.store.count_audit("user", "anna").await.unwrap(),
        // two logins and one logout
        3
    );
    s.running.stop().await.unwrap();
}

#[tokio::test]
async fn an_expired_token_gets_401() {
    let s = start_with(vec![user("anna", Role::ContactManager)], |_| {}).await;
    let api = Api::new(&s);
    // A token whose lifetime ended a second ago.
    let token = s
        .running
        .store
        .create_token("anna", 1, now_ms() - 2_000)
        .await
        .unwrap();
    let r = api.get("/api/v1/inquiries", &token).await;
    assert_error(&r, StatusCode::UNAUTHORIZED, "invalid_token");
    assert!(
        r.headers["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("invalid_token")
    );
    s.running.stop().await.unwrap();
}

#[tokio::test]
async fn audit_lists_newest_first_with_filters_and_paging() {
    let s = start_with(
        vec![
            user("anna", Role::ContactManager),
            user("hanna", Role::Head),
            user("root", Role::Admin),
        ],
        |_| {},
    )
    .await;
    let api = Api::new(&s);
    let anna = api.login("anna").await;
    let head = api.login("hanna").await;
    let admin = api.login("root").await;
    let store = &s.running.store;
    // 2025-03-01T09:00:00Z, then one row a minute.
    let t0 = 1_740_819_600_000_i64;
    for i in 0..5_i64 {
        let id = format!("inq-{i}");
        store
            .audit(
                &hotline::store::AuditEntry {
                    actor: if i % 2 == 0 { "anna" } else { "boris" },
                    action: "read",
                    object_kind: "inquiry",
                    object_id: Some(&id),
                    detail: None,
                },
                t0 + i * 60_000,
            )
            .await
            .unwrap();
    }

    // A manager may not read the audit log.
    let r = api.get("/api/v1/audit", &anna).await;
    assert_error(&r, StatusCode::FORBIDDEN, "forbidden");
    let r = api.request(Method::GET, "/api/v1/audit", None, None).await;
    assert_error(&r, StatusCode::UNAUTHORIZED, "unauthenticated");

    // Filter by kind and page two at a time, newest first.
    let mut seen = Vec::new();
    let mut path = "/api/v1/audit?object_kind=inquiry&limit=2".to_string();
    loop {
        let r = api.get(&path, &head).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        for item in r.json["items"].as_array().unwrap() {
            seen.push(item["object_id"].as_str().unwrap().to_string());
            assert_eq!(item["object_kind"], "inquiry");
            assert!(item["at"].as_str().unwrap().ends_with('Z'));
        }
        match r.json["next_cursor"].as_str() {
            Some(c) => path = format!("/api/v1/audit?object_kind=inquiry&limit=2&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen, ["inq-4", "inq-3", "inq-2", "inq-1", "inq-0"]);

    // actor, object_id and the time range.
    let r = api
        .get("/api/v1/audit?actor=boris&object_kind=inquiry", &admin)
        .await;
    assert_eq!(audit_actions(&r).len(), 2, "{}", r.text);
    let r = api.get("/api/v1/audit?object_id=inq-3", &admin).await;
    assert_eq!(r.json["items"][0]["actor"], "boris", "{}", r.text);
    assert_eq!(r.json["items"].as_array().unwrap().len(), 1);
    let r = api
        .get(
            "/api/v1/audit?object_kind=inquiry&from=2025-03-01T09:01:00Z&to=2025-03-01T09:03:00%2B00:00",
            &head,
        )
        .await;
    let ids: Vec<&str> = r.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["object_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["inq-2", "inq-1"], "{}", r.text);

    // Bad parameters are 422 naming the field.
    for (query, field) in [
        ("from=yesterday", "from"),
        ("to=2025-13-01", "to"),
        ("limit=0", "limit"),
        ("cursor=garbage", "cursor"),
    ] {
        let r = api.get(&format!("/api/v1/audit?{query}"), &head).await;
        assert_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        assert!(
            r.json["error"]["fields"][field].is_string(),
            "{query}: {}",
            r.text
        );
    }
    let r = api.get("/api/v1/audit?colour=red", &head).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    s.running.stop().await.unwrap();
}
