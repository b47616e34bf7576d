//! RFC 4475 at the endpoint: every torture message goes through the same
//! sans-IO endpoint the server runs, and gets the answer the RFC names —
//! valid requests are answered, invalid ones get 400 (or the specific
//! code), responses and unanswerable garbage are dropped. Never accepted.

use bytes::Bytes;
use hotline::sip::Transport;
use hotline::sip::endpoint::{Action, Endpoint, EndpointConfig, Peer};
use hotline::sip::message::Limits;
use hotline::sip::registrar::RegistrarConfig;
use hotline::sip::transaction::Timers;
use std::time::{Duration, Instant};

fn endpoint() -> Endpoint {
    Endpoint::new(
        EndpointConfig {
            realm: "hotline".into(),
            user_agent: "hotline-test".into(),
            limits: Limits::default(),
            registrar: RegistrarConfig::default(),
            nonce_secret: [1; 32],
            nonce_lifetime_s: 300,
            auth_fail_limit: 10,
            auth_fail_window: Duration::from_secs(60),
            auth_block: Duration::from_secs(300),
            timers: Timers::default(),
            max_calls: 100,
        },
        7,
    )
}

/// The status of the first response the endpoint sends, None if it sends none.
fn answer(name: &str, transport: Transport) -> Option<u16> {
    let path = format!(
        "{}/tests/data/sip-torture/{name}.dat",
        env!("CARGO_MANIFEST_DIR")
    );
    let bytes = std::fs::read(&path).unwrap();
    let mut e = endpoint();
    let peer = Peer {
        addr: "192.0.2.10:5060".parse().unwrap(),
        transport,
        conn: (transport == Transport::Tcp).then_some(1),
    };
    let actions = e.on_message(Bytes::from(bytes), peer, Instant::now(), 1_800_000_000_000);
    actions.iter().find_map(|a| match a {
        Action::Send { bytes, .. } => {
            let text = String::from_utf8_lossy(bytes);
            assert!(
                text.starts_with("SIP/2.0 "),
                "{name}: not a response: {text}"
            );
            Some(text[8..11].parse().unwrap())
        }
        _ => None,
    })
}

/// What RFC 4475 expects of a UAS/registrar that serves none of the
/// example.com users, with the status this server gives. `None` = dropped.
const EXPECTED: &[(&str, Option<u16>, &str)] = &[
    // §3.1.1 valid messages: parsed and answered.
    (
        "wsinv",
        Some(481),
        "valid INVITE with a To tag: in-dialog, no such dialog",
    ),
    (
        "intmeth",
        Some(501),
        "valid extension method we do not implement",
    ),
    (
        "esc01",
        Some(100),
        "valid INVITE: 100 Trying, handed to the call layer",
    ),
    ("escnull", Some(401), "valid REGISTER: challenged"),
    ("esc02", Some(501), "escaped method is an extension method"),
    ("lwsdisp", Some(200), "valid OPTIONS"),
    (
        "longreq",
        Some(100),
        "valid long INVITE: handed to the call layer",
    ),
    (
        "dblreq",
        Some(401),
        "only the first REGISTER in the datagram counts",
    ),
    ("semiuri", Some(200), "valid OPTIONS"),
    (
        "transports",
        Some(200),
        "valid OPTIONS with unknown transports in Via",
    ),
    ("mpart01", Some(405), "valid MESSAGE, not allowed here"),
    ("unreason", None, "a response: nothing to answer"),
    ("noreason", None, "a response: nothing to answer"),
    // §3.1.2 invalid messages: 400 (or the RFC's code), or dropped.
    ("badinv01", Some(400), "extraneous semicolons and commas"),
    ("clerr", Some(400), "Content-Length larger than the message"),
    ("ncl", Some(400), "negative Content-Length"),
    ("scalar02", Some(400), "overlarge scalar values"),
    (
        "scalarlg",
        None,
        "a response with overlarge scalars: dropped",
    ),
    ("quotbal", Some(400), "unterminated quoted string"),
    ("ltgtruri", Some(400), "<> around the Request-URI"),
    ("lwsruri", Some(400), "LWS inside the Request-URI"),
    ("lwsstart", Some(400), "several SP in the request line"),
    ("trws", Some(400), "SP at the end of the request line"),
    ("escruri", Some(400), "escaped headers in the Request-URI"),
    ("baddate", Some(400), "non-GMT Date"),
    ("regbadct", Some(400), "Contact header params outside <>"),
    ("badaspec", Some(400), "spaces within addr-spec"),
    ("baddn", Some(400), "non-token characters in a display name"),
    ("badvers", Some(505), "SIP/7.0"),
    (
        "mismatch01",
        Some(400),
        "CSeq method does not match the request",
    ),
    (
        "mismatch02",
        Some(400),
        "unknown method with a CSeq mismatch",
    ),
    (
        "bigcode",
        None,
        "a response with an overlarge status code: dropped",
    ),
    // §3.2 transaction layer.
    (
        "badbranch",
        Some(200),
        "a bare z9hG4bK branch still identifies the transaction",
    ),
    // §3.3 application layer.
    ("insuf", Some(400), "missing Call-ID, From, To"),
    ("unkscm", Some(416), "unknown scheme in the Request-URI"),
    ("unksm2", Some(400), "REGISTER whose To is not a SIP URI"),
    ("bext01", Some(420), "Require of an unknown extension"),
    ("invut", Some(415), "INVITE with a body we cannot read"),
    (
        "regaut01",
        Some(401),
        "Authorization in an unknown scheme: challenge",
    ),
    (
        "multi01",
        Some(400),
        "several values in single-value headers",
    ),
    ("mcl01", Some(400), "several Content-Length headers"),
    ("bcast", None, "a response to a broadcast: dropped"),
    ("zeromf", Some(200), "Max-Forwards 0 at a UAS: processed"),
    ("cparam01", Some(401), "contact params: REGISTER challenged"),
    ("cparam02", Some(401), "contact params: REGISTER challenged"),
    (
        "regescrt",
        Some(401),
        "escaped headers in a Contact: REGISTER challenged",
    ),
    ("sdp01", Some(406), "INVITE that refuses SDP in the answer"),
    ("novelsc", Some(416), "atypical scheme in the Request-URI"),
    // §3.4 backward compatibility.
    (
        "inv2543",
        Some(100),
        "RFC 2543 INVITE without a branch: 100 Trying, handed to the call layer",
    ),
];

#[test]
fn every_torture_message_gets_the_rfc_answer_over_udp_and_tcp() {
    assert_eq!(EXPECTED.len(), 49, "all of RFC 4475");
    let mut wrong = Vec::new();
    for transport in [Transport::Udp, Transport::Tcp] {
        for &(name, expected, why) in EXPECTED {
            let got = answer(name, transport);
            if got != expected {
                wrong.push(format!(
                    "{name} over {transport}: expected {expected:?} ({why}), got {got:?}"
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "\n{}", wrong.join("\n"));
}

#[test]
fn every_torture_file_is_in_the_table() {
    let dir = format!("{}/tests/data/sip-torture", env!("CARGO_MANIFEST_DIR"));
    for entry in std::fs::read_dir(dir).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().to_string();
        if let Some(stem) = name.strip_suffix(".dat") {
            assert!(
                EXPECTED.iter().any(|(n, ..)| *n == stem),
                "{stem} has no expectation"
            );
        }
    }
}
