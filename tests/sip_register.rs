//! The registrar as an operator's softphone sees it, over real sockets:
//! challenges, right and wrong passwords, both digest algorithms, expiry,
//! unregister, several contacts, restart.

mod common;

use common::sip_phone::{DEADLINE, SipPhone, parse_challenge};
use common::{TestServer, agent, test_config};
use hotline::sip::digest::Algorithm;
use std::time::{Duration, Instant};

const MD5: &[Algorithm] = &[Algorithm::Md5];
const BOTH: &[Algorithm] = &[Algorithm::Sha256, Algorithm::Md5];

fn expires_of(contact_header: &str) -> u32 {
    contact_header
        .split(';')
        .find_map(|p| p.trim().strip_prefix("expires="))
        .and_then(|v| v.parse().ok())
        .expect("expires param in Contact")
}

#[tokio::test]
async fn options_answered_over_udp_and_tcp() {
    let server = TestServer::start(vec![]).await;
    for mut phone in [
        SipPhone::udp(server.sip()).await,
        SipPhone::tcp(server.sip()).await,
    ] {
        let r = phone.send_options().await.expect("OPTIONS answered");
        assert_eq!(r.status, 200, "{}", r.raw);
        let allow = r.header("Allow").expect("Allow");
        for m in ["INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "REGISTER"] {
            assert!(allow.contains(m), "Allow lacks {m}: {allow}");
        }
        assert!(r.header("Accept").unwrap().contains("application/sdp"));
        assert!(r.header("Supported").is_some());
        assert!(
            r.header("To").unwrap().contains("tag="),
            "UAS adds a To tag"
        );
    }
}

#[tokio::test]
async fn md5_register_right_password_is_bound() {
    let server = TestServer::start(vec![agent("1001", "secret-1001", MD5)]).await;
    let mut phone = SipPhone::udp(server.sip()).await;

    // The first REGISTER is challenged with one MD5 digest, qop=auth.
    let req = phone.register_request("1001", Some(&phone.contact("1001")), Some(600), None);
    phone.send_raw(req.as_bytes()).await;
    let challenge = phone.recv(DEADLINE).await.unwrap();
    assert_eq!(challenge.status, 401);
    let offered = challenge.all("WWW-Authenticate");
    assert_eq!(offered.len(), 1);
    let c = parse_challenge(offered[0]);
    assert_eq!(c.algorithm, "MD5");
    assert_eq!(c.qop.as_deref(), Some("auth"));
    assert_eq!(c.realm, "hotline");
    assert!(!c.stale);

    let ok = phone
        .register(
            "1001",
            "secret-1001",
            Some(&phone.contact("1001")),
            Some(600),
        )
        .await;
    assert_eq!(ok.status, 200, "{}", ok.raw);
    let contact = ok.header("Contact").expect("200 lists the binding");
    assert!(contact.contains(&phone.local.to_string()), "{contact}");
    let left = expires_of(contact);
    assert!((590..=600).contains(&left), "expires {left}");
    assert_eq!(server.running.registered_contacts("1001").len(), 1);
}

#[tokio::test]
async fn wrong_password_and_unknown_login_get_the_same_403() {
    let server = TestServer::start(vec![agent("1001", "secret-1001", MD5)]).await;
    let mut phone = SipPhone::udp(server.sip()).await;
    let wrong = phone
        .register(
            "1001",
            "not-the-password",
            Some(&phone.contact("1001")),
            None,
        )
        .await;
    assert_eq!(wrong.status, 403);

    // An unknown login is challenged exactly like a known default agent…
    let req = phone.register_request("9999", Some(&phone.contact("9999")), None, None);
    phone.send_raw(req.as_bytes()).await;
    let challenge = phone.recv(DEADLINE).await.unwrap();
    assert_eq!(challenge.status, 401);
    assert_eq!(challenge.all("WWW-Authenticate").len(), 1);
    assert_eq!(
        parse_challenge(challenge.all("WWW-Authenticate")[0]).algorithm,
        "MD5"
    );
    // …and refused with the same status and reason after answering it.
    let unknown = phone
        .register("9999", "whatever-pw", Some(&phone.contact("9999")), None)
        .await;
    assert_eq!((unknown.status, &unknown.reason), (403, &wrong.reason));
    assert!(server.running.registered_contacts("1001").is_empty());
    assert!(server.running.registered_contacts("9999").is_empty());
}

#[tokio::test]
async fn sha256_agent_gets_both_challenges_sha256_first_and_either_works() {
    let server = TestServer::start(vec![agent("2001", "secret-2001", BOTH)]).await;
    let mut phone = SipPhone::udp(server.sip()).await;
    let req = phone.register_request("2001", Some(&phone.contact("2001")), None, None);
    phone.send_raw(req.as_bytes()).await;
    let challenge = phone.recv(DEADLINE).await.unwrap();
    let algorithms: Vec<String> = challenge
        .all("WWW-Authenticate")
        .into_iter()
        .map(|v| parse_challenge(v).algorithm)
        .collect();
    assert_eq!(algorithms, ["SHA-256", "MD5"]);

    let pick = |alg: &'static str| {
        move |offered: &[common::sip_phone::ChallengeParams]| {
            offered
                .iter()
                .find(|c| c.algorithm == alg)
                .cloned()
                .unwrap()
        }
    };
    let sha = phone
        .register_with(
            "2001",
            "secret-2001",
            Some(&phone.contact("2001")),
            None,
            pick("SHA-256"),
        )
        .await;
    assert_eq!(sha.status, 200, "{}", sha.raw);
    let md5 = phone
        .register_with(
            "2001",
            "secret-2001",
            Some(&phone.contact("2001")),
            None,
            pick("MD5"),
        )
        .await;
    assert_eq!(md5.status, 200, "{}", md5.raw);
    let bad = phone
        .register_with(
            "2001",
            "wrong-password",
            Some(&phone.contact("2001")),
            None,
            pick("SHA-256"),
        )
        .await;
    assert_eq!(bad.status, 403);
}

#[tokio::test]
async fn expires_bounds_423_and_clamp() {
    let server = TestServer::start(vec![agent("1001", "secret-1001", MD5)]).await;
    let mut phone = SipPhone::udp(server.sip()).await;
    let brief = phone
        .register(
            "1001",
            "secret-1001",
            Some(&phone.contact("1001")),
            Some(30),
        )
        .await;
    assert_eq!(brief.status, 423);
    assert_eq!(brief.header("Min-Expires"), Some("60"));

    let long = phone
        .register(
            "1001",
            "secret-1001",
            Some(&phone.contact("1001")),
            Some(7200),
        )
        .await;
    assert_eq!(long.status, 200);
    let left = expires_of(long.header("Contact").unwrap());
    assert!((3590..=3600).contains(&left), "clamped to 3600, got {left}");
}

#[tokio::test]
async fn several_contacts_then_unregister_one_then_all() {
    let server = TestServer::start(vec![agent("1001", "secret-1001", MD5)]).await;
    let mut desk = SipPhone::udp(server.sip()).await;
    let mut mobile = SipPhone::tcp(server.sip()).await;
    assert_eq!(
        desk.register("1001", "secret-1001", Some(&desk.contact("1001")), None)
            .await
            .status,
        200
    );
    let both = mobile
        .register("1001", "secret-1001", Some(&mobile.contact("1001")), None)
        .await;
    assert_eq!(both.status, 200);
    assert_eq!(
        both.all("Contact").len(),
        2,
        "200 lists every binding: {}",
        both.raw
    );
    assert_eq!(server.running.registered_contacts("1001").len(), 2);

    let gone = desk
        .register("1001", "secret-1001", Some(&desk.contact("1001")), Some(0))
        .await;
    assert_eq!(gone.status, 200);
    let left = server.running.registered_contacts("1001");
    assert_eq!(left.len(), 1);
    assert!(left[0].contains(&mobile.local.to_string()));

    let all = mobile
        .register("1001", "secret-1001", Some("*"), Some(0))
        .await;
    assert_eq!(all.status, 200, "{}", all.raw);
    assert!(server.running.registered_contacts("1001").is_empty());
}

#[tokio::test]
async fn bindings_expire_on_time() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(&dir, vec![agent("1001", "secret-1001", MD5)]);
    config.sip.min_expires = 1;
    let running = hotline::server::start(config).await.unwrap();
    let mut phone = SipPhone::udp(running.sip_addr).await;
    let ok = phone
        .register("1001", "secret-1001", Some(&phone.contact("1001")), Some(1))
        .await;
    assert_eq!(ok.status, 200);
    assert_eq!(running.registered_contacts("1001").len(), 1);
    // Wait for the expiry event with a deadline, not a fixed sleep.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !running.registered_contacts("1001").is_empty() {
        assert!(Instant::now() < deadline, "binding did not expire");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // And the store forgot it too: a restart does not bring it back.
    let store = running.store.clone();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let left = store.bindings_of("1001", 0).await.unwrap();
        if left.is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "expired binding still stored");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    running.stop().await.unwrap();
}

#[tokio::test]
async fn restart_keeps_bindings() {
    let server = TestServer::start(vec![agent("1001", "secret-1001", MD5)]).await;
    let mut phone = SipPhone::udp(server.sip()).await;
    assert_eq!(
        phone
            .register("1001", "secret-1001", Some(&phone.contact("1001")), None)
            .await
            .status,
        200
    );
    let before = server.running.registered_contacts("1001");
    let server = server.restart().await;
    assert_eq!(server.running.registered_contacts("1001"), before);
}

#[tokio::test]
async fn repeated_failures_block_the_source() {
    let server = TestServer::start(vec![agent("1001", "secret-1001", MD5)]).await;
    let mut phone = SipPhone::udp(server.sip()).await;
    for attempt in 1..=10 {
        let r = phone
            .register("1001", "bad-password", Some(&phone.contact("1001")), None)
            .await;
        assert_eq!(r.status, 403, "attempt {attempt}");
    }
    // The 11th request from that address is ignored: no answer at all,
    // even to OPTIONS, and even with the right password.
    let req = phone.options();
    phone.send_raw(req.as_bytes()).await;
    assert!(phone.recv(Duration::from_millis(500)).await.is_none());
    assert!(server.running.sip_stats().dropped_throttled >= 1);
}

#[tokio::test]
async fn register_over_tcp() {
    let server = TestServer::start(vec![agent("1002", "secret-1002", MD5)]).await;
    let mut phone = SipPhone::tcp(server.sip()).await;
    let ok = phone
        .register("1002", "secret-1002", Some(&phone.contact("1002")), None)
        .await;
    assert_eq!(ok.status, 200, "{}", ok.raw);
    assert_eq!(server.running.registered_contacts("1002").len(), 1);
}
