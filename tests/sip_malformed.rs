//! Hostile and broken input over UDP and TCP: each case gets the answer a
//! SIP client should get (or is dropped), and afterwards the server still
//! answers OPTIONS — nothing crashes, nothing stalls.

mod common;

use common::TestServer;
use common::sip_phone::{DEADLINE, SipPhone};
use std::time::Duration;

/// What the server must do with a case.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Expect {
    Status(u16),
    /// Dropped without an answer (nothing to answer to, or must not answer).
    NoAnswer,
    /// Either an answer with this status or silence (UDP vs TCP differ).
    StatusOrNothing(u16),
}

fn request(method: &str, extra_headers: &str, body: &str) -> String {
    format!(
        "{method} sip:hotline@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5999;rport;branch=z9hG4bK-{n}\r\nMax-Forwards: 70\r\nFrom: <sip:a@127.0.0.1>;tag=1\r\nTo: <sip:hotline@127.0.0.1>\r\nCall-ID: bad-{n}@test\r\nCSeq: 1 {method}\r\n{extra_headers}Content-Length: {}\r\n\r\n{body}",
        body.len(),
        n = rand_tag(),
    )
}

fn rand_tag() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(1);
    N.fetch_add(1, Ordering::Relaxed) * 7919 + std::process::id() as u64
}

/// `request` without the header lines starting with `name`.
fn without(name: &str) -> Vec<u8> {
    request("OPTIONS", "", "")
        .split_inclusive("\r\n")
        .filter(|l| !l.starts_with(name))
        .collect::<String>()
        .into_bytes()
}

fn cases() -> Vec<(&'static str, Vec<u8>, Expect)> {
    let mut many_vias = String::new();
    for i in 0..300 {
        many_vias.push_str(&format!(
            "Via: SIP/2.0/UDP 10.0.0.{}:5060;branch=z9hG4bK{i}\r\n",
            i % 250
        ));
    }
    let ok = request("OPTIONS", "", "");
    vec![
        ("truncated start line", b"OPTIONS sip:hotline@127.0.0.1".to_vec(), Expect::NoAnswer),
        ("truncated headers", ok.as_bytes()[..ok.len() / 2].to_vec(), Expect::StatusOrNothing(400)),
        ("binary garbage", (0u8..=255).rev().cycle().take(700).collect(), Expect::NoAnswer),
                ("non-UTF-8 header value", { let mut r = request("OPTIONS", "Subject: @@\r\n", "").into_bytes(); let at = r.windows(2).position(|w| w == b"@@").unwrap(); r[at] = 0xFF; r[at + 1] = 0xFE; r }, Expect::Status(400)),
        ("huge Content-Length", request("OPTIONS", "", "").replace("Content-Length: 0", "Content-Length: 99999999999999999999").into_bytes(), Expect::StatusOrNothing(400)),
        ("negative Content-Length", request("OPTIONS", "", "").replace("Content-Length: 0", "Content-Length: -5").into_bytes(), Expect::StatusOrNothing(400)),
        ("Content-Length larger than body", request("OPTIONS", "", "").replace("Content-Length: 0", "Content-Length: 500").into_bytes(), Expect::StatusOrNothing(400)),
        ("two different Content-Lengths", request("OPTIONS", "Content-Length: 4\r\n", "").into_bytes(), Expect::StatusOrNothing(400)),
        ("hundreds of Via headers", format!("OPTIONS sip:hotline@127.0.0.1 SIP/2.0\r\n{many_vias}Max-Forwards: 70\r\nFrom: <sip:a@h>;tag=1\r\nTo: <sip:b@h>\r\nCall-ID: vias@test\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n").into_bytes(), Expect::StatusOrNothing(400)),
        ("header without colon", request("OPTIONS", "This line has no colon\r\n", "").into_bytes(), Expect::StatusOrNothing(400)),
        ("unknown method", request("FROBNICATE", "", "").into_bytes(), Expect::Status(501)),
        ("SIP/3.0", request("OPTIONS", "", "").replacen("SIP/2.0\r\n", "SIP/3.0\r\n", 1).into_bytes(), Expect::Status(505)),
        ("empty datagram or segment", Vec::new(), Expect::NoAnswer),
        ("CRLF keep-alive", b"\r\n\r\n".to_vec(), Expect::NoAnswer),
        ("missing Call-ID", without("Call-ID"), Expect::Status(400)),
        ("missing CSeq", without("CSeq"), Expect::Status(400)),
        ("CSeq method mismatch", request("OPTIONS", "", "").replace("CSeq: 1 OPTIONS", "CSeq: 1 INVITE").into_bytes(), Expect::Status(400)),
        ("CSeq not a number", request("OPTIONS", "", "").replace("CSeq: 1 OPTIONS", "CSeq: one OPTIONS").into_bytes(), Expect::Status(400)),
        ("Via without branch host", request("OPTIONS", "", "").replace("Via: SIP/2.0/UDP 127.0.0.1:5999;", "Via: SIP/2.0/UDP ;").into_bytes(), Expect::StatusOrNothing(400)),
        ("a response nobody asked for", b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bKx\r\nFrom: <sip:a@h>;tag=1\r\nTo: <sip:b@h>;tag=2\r\nCall-ID: stray@test\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n".to_vec(), Expect::NoAnswer),
        ("BYE for an unknown dialog", request("BYE", "", "").replace("To: <sip:hotline@127.0.0.1>", "To: <sip:hotline@127.0.0.1>;tag=nope").into_bytes(), Expect::Status(481)),
        ("CANCEL for an unknown transaction", request("CANCEL", "", "").into_bytes(), Expect::Status(481)),
        ("unsupported Request-URI scheme", request("OPTIONS", "", "").replacen("OPTIONS sip:hotline@127.0.0.1", "OPTIONS http://example.com/", 1).into_bytes(), Expect::Status(416)),
        ("Require of an unknown extension", request("OPTIONS", "Require: nothing-like-this\r\n", "").into_bytes(), Expect::Status(420)),
        ("NUL bytes in the start line", b"OPT\0IONS sip:x SIP/2.0\r\n\r\n".to_vec(), Expect::NoAnswer),
        ("only a start line", b"OPTIONS sip:hotline@127.0.0.1 SIP/2.0\r\n\r\n".to_vec(), Expect::NoAnswer),
    ]
}

async fn check(server: &TestServer, tcp: bool) {
    for (name, bytes, expect) in cases() {
        let mut phone = if tcp {
            SipPhone::tcp(server.sip()).await
        } else {
            SipPhone::udp(server.sip()).await
        };
        // An empty TCP write sends nothing; over UDP it is an empty datagram.
        if !tcp || !bytes.is_empty() {
            phone.send_raw(&bytes).await;
        }
        let wait = match expect {
            Expect::Status(_) => DEADLINE,
            _ => Duration::from_millis(300),
        };
        let answer = phone.recv(wait).await;
        match (expect, &answer) {
            (Expect::Status(code), Some(r)) => assert_eq!(
                r.status,
                code,
                "{name} over {}: {}",
                phone.transport(),
                r.raw
            ),
            (Expect::Status(code), None) => panic!(
                "{name} over {}: expected {code}, got nothing",
                phone.transport()
            ),
            (Expect::NoAnswer, Some(r)) => panic!(
                "{name} over {}: expected no answer, got {}",
                phone.transport(),
                r.raw
            ),
            (Expect::StatusOrNothing(code), Some(r)) => assert_eq!(
                r.status,
                code,
                "{name} over {}: {}",
                phone.transport(),
                r.raw
            ),
            _ => {}
        }
        // The server still serves: a fresh phone gets its OPTIONS answered.
        let mut probe = if tcp {
            SipPhone::tcp(server.sip()).await
        } else {
            SipPhone::udp(server.sip()).await
        };
        let alive = probe.send_options().await;
        assert_eq!(
            alive.map(|r| r.status),
            Some(200),
            "server stopped answering after {name} over {}",
            probe.transport()
        );
    }
}

#[tokio::test]
async fn malformed_input_over_udp() {
    let server = TestServer::start(vec![]).await;
    check(&server, false).await;
}

#[tokio::test]
async fn malformed_input_over_tcp() {
    let server = TestServer::start(vec![]).await;
    check(&server, true).await;
}

#[tokio::test]
async fn oversized_header_over_tcp_is_cut_off() {
    let server = TestServer::start(vec![]).await;
    let mut phone = SipPhone::tcp(server.sip()).await;
    let mut big = String::from("OPTIONS sip:hotline@127.0.0.1 SIP/2.0\r\nSubject: ");
    big.push_str(&"x".repeat(70 * 1024));
    big.push_str("\r\n\r\n");
    phone.send_raw(big.as_bytes()).await;
    assert!(
        phone.closed_by_server(DEADLINE).await,
        "a 70 KiB header line closes the connection"
    );
    let mut probe = SipPhone::tcp(server.sip()).await;
    assert_eq!(probe.send_options().await.map(|r| r.status), Some(200));
}

#[tokio::test]
async fn stalled_tcp_peer_is_disconnected_without_affecting_others() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = common::test_config(&dir, vec![]);
    config.sip.tcp_header_timeout_ms = 300;
    let running = hotline::server::start(config).await.unwrap();
    let mut staller = SipPhone::tcp(running.sip_addr).await;
    staller
        .send_raw(b"OPTIONS sip:hotline@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1")
        .await;
    // Meanwhile another client is served normally.
    let mut other = SipPhone::tcp(running.sip_addr).await;
    assert_eq!(other.send_options().await.map(|r| r.status), Some(200));
    assert!(
        staller.closed_by_server(DEADLINE).await,
        "stalled peer cut off after the header timeout"
    );
    assert_eq!(other.send_options().await.map(|r| r.status), Some(200));
    running.stop().await.unwrap();
}

#[tokio::test]
async fn retransmitted_request_gets_the_same_response() {
    let server = TestServer::start(vec![]).await;
    let mut phone = SipPhone::udp(server.sip()).await;
    let req = phone.options();
    phone.send_raw(req.as_bytes()).await;
    let first = phone.recv(DEADLINE).await.unwrap();
    phone.send_raw(req.as_bytes()).await;
    let again = phone.recv(DEADLINE).await.unwrap();
    assert_eq!(
        first.raw, again.raw,
        "a retransmission is answered from the transaction, byte for byte"
    );
    assert_eq!(server.running.sip_stats().retransmissions_absorbed, 1);
}
