//! RFC 4475 "SIP Torture Test Messages": one test per message, checking what
//! the RFC says a receiver must do with it (see tests/data/sip-torture/README.md).

use bytes::Bytes;
use hotline::sip::message::{
    Contacts, Frame, Limits, Message, Method, Scheme, StartLine, StreamFramer, response,
    response_from_salvage, salvage_for_response,
};

fn load(name: &str) -> Bytes {
    let path = format!(
        "{}/tests/data/sip-torture/{name}.dat",
        env!("CARGO_MANIFEST_DIR")
    );
    Bytes::from(std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}")))
}

fn parse(name: &str) -> Message {
    Message::parse(load(name), &Limits::default()).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// A valid request: parses, passes validation, and can be answered.
fn valid_request(name: &str) -> Message {
    let m = parse(name);
    assert!(m.is_request(), "{name}");
    assert_eq!(m.validate_request(), Ok(()), "{name}");
    let answer = response(&m, 200, "OK").to_tag("t").build();
    let r = Message::parse(Bytes::from(answer), &Limits::default()).unwrap();
    assert_eq!(
        r.validate_response(),
        Ok(()),
        "{name}: our answer must be valid"
    );
    m
}

/// An invalid request: either the parser refuses it, or validation answers
/// with `status`. Never accepted.
fn rejected(name: &str, status: u16) -> String {
    match Message::parse(load(name), &Limits::default()) {
        Err(e) => {
            assert!(e.is_answerable(), "{name}: {e}");
            assert_eq!(e.status(), status, "{name}: {e}");
            // The endpoint can still answer it.
            let s = salvage_for_response(&load(name))
                .unwrap_or_else(|| panic!("{name}: not salvageable"));
            let r = response_from_salvage(&s, e.status(), "Bad Request").build();
            assert!(Message::parse(Bytes::from(r), &Limits::default()).is_ok());
            e.to_string()
        }
        Ok(m) => {
            let rej = m.validate_request().expect_err(name);
            assert_eq!(rej.status, status, "{name}: {rej}");
            rej.reason
        }
    }
}

// ---- 3.1.1 valid messages --------------------------------------------------

#[test]
fn wsinv_short_tortuous_invite() {
    let m = valid_request("wsinv");
    assert_eq!(m.method(), Some(&Method::Invite));
    assert_eq!(
        m.request_uri(),
        Some("sip:vivekg@chair-dnrc.example.com;unknownparam")
    );
    assert_eq!(m.call_id().unwrap(), "wsinv.ndaksdj@192.0.2.1");
    assert_eq!(m.to_header().unwrap().tag(), Some("1918181833n"));
    let from = m.from_header().unwrap();
    assert_eq!(from.tag(), Some("98asjd8"));
    assert_eq!(from.display_name.as_deref(), Some("J Rosenberg \\\""));
    assert_eq!(m.max_forwards().unwrap(), Some(68));
    let cseq = m.cseq().unwrap();
    assert_eq!((cseq.seq, cseq.method), (9, Method::Invite));
    let vias = m.vias().unwrap();
    assert_eq!(vias.len(), 3);
    assert_eq!(
        (vias[0].transport.as_str(), vias[0].host.as_str()),
        ("UDP", "192.0.2.2")
    );
    assert_eq!(vias[0].branch(), Some("390skdjuw"));
    assert_eq!(vias[1].branch(), Some("z9hG4bK9ikj8"));
    assert_eq!(vias[2].host, "192.168.255.111");
    assert_eq!(vias[2].branch(), Some("z9hG4bK30239"));
    assert_eq!(
        m.header("NewFangledHeader"),
        Some("newfangled value continued newfangled value")
    );
    assert_eq!(m.header("Subject"), Some(""));
    let Contacts::List(contacts) = m.contacts().unwrap() else {
        panic!()
    };
    assert_eq!(
        contacts[0].display_name.as_deref(),
        Some("Quoted string \"\"")
    );
    assert_eq!(contacts[0].param("newparam"), Some(Some("newvalue")));
    assert_eq!(contacts[0].param("secondparam"), Some(None));
    assert_eq!(contacts[0].q(), Some(0.33));
    assert_eq!(m.content_length().unwrap(), Some(150));
    assert_eq!(m.body().len(), 150);
}

#[test]
fn intmeth_wide_range_of_valid_characters() {
    let m = valid_request("intmeth");
    let method = Method::Extension("!interesting-Method0123456789_*+`.%indeed'~".into());
    assert_eq!(m.method(), Some(&method));
    assert_eq!(m.cseq().unwrap().method, method);
    assert_eq!(
        m.call_id().unwrap(),
        "intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{"
    );
    let to = m.to_header().unwrap();
    assert_eq!(to.display_name.as_deref(), Some("BEL:\x07 NUL:\0 DEL:\x7f"));
    assert_eq!(
        to.uri.user.as_deref(),
        Some("1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*")
    );
    let from = m.from_header().unwrap();
    assert_eq!(
        from.display_name.as_deref(),
        Some("token1~` token2'+_ token3*%!.-")
    );
    assert_eq!(from.tag(), Some("_token~1'+`*%!-."));
    assert_eq!(from.param("fromParam''~+*_!.-%"), Some(Some("работающий")));
    assert_eq!(
        m.header("extensionHeader-!.%*+_`'~"),
        Some("\u{FEFF}\u{5927}\u{505c}\u{96fb}")
    );
    let uri = hotline::sip::message::Uri::parse(m.request_uri().unwrap()).unwrap();
    assert_eq!(
        uri.password.as_deref(),
        Some("&it+has=1,weird!*pas$wo~d_too.(doesn't-it)")
    );
    assert_eq!(m.top_via().unwrap().branch(), Some("z9hG4bK-.!%66*_+`'~"));
}

#[test]
fn esc01_valid_use_of_escapes() {
    let m = valid_request("esc01");
    let uri = hotline::sip::message::Uri::parse(m.request_uri().unwrap()).unwrap();
    assert_eq!(uri.user.as_deref(), Some("sips:user@example.com"));
    assert_eq!(uri.host, "example.net");
    assert_eq!(m.to_header().unwrap().uri.user.as_deref(), Some("user"));
    assert_eq!(
        m.from_header().unwrap().uri.user.as_deref(),
        Some("I have spaces")
    );
    assert_eq!(m.call_id().unwrap(), "esc01.239409asdfakjkn23onasd0-3234");
    let Contacts::List(c) = m.contacts().unwrap() else {
        panic!()
    };
    assert_eq!(c[0].uri.user.as_deref(), Some("caller"));
    assert_eq!(c[0].uri.param("lr"), Some(None));
    assert_eq!(c[0].uri.param("name"), Some(Some("value%41")));
    assert_eq!(m.header("Content-Type"), Some("application/sdp"));
}

#[test]
fn escnull_escaped_nulls_in_uris() {
    let m = valid_request("escnull");
    assert_eq!(
        m.to_header().unwrap().uri.user.as_deref(),
        Some("null-\0-null")
    );
    assert_eq!(m.from_header().unwrap().tag(), Some("839923423"));
    let Contacts::List(c) = m.contacts().unwrap() else {
        panic!()
    };
    assert_eq!(c.len(), 2);
    assert_eq!(c[1].uri.user.as_deref(), Some("\0\0"));
    assert_eq!(m.content_length().unwrap(), Some(0));
}

#[test]
fn esc02_escaped_method_is_an_extension() {
    let m = valid_request("esc02");
    assert_eq!(m.method(), Some(&Method::Extension("RE%47IST%45R".into())));
    assert_ne!(m.method(), Some(&Method::Register));
    assert_eq!(
        m.to_header().unwrap().display_name.as_deref(),
        Some("%Z%45")
    );
    let Contacts::List(c) = m.contacts().unwrap() else {
        panic!()
    };
    assert_eq!(c.len(), 2, "C%6Fntact is an extension header, not Contact");
    assert_eq!(
        m.header("C%6Fntact"),
        Some("<sip:alias2@host2.example.com>")
    );
}

#[test]
fn lwsdisp_no_lws_between_display_name_and_uri() {
    let m = valid_request("lwsdisp");
    let from = m.from_header().unwrap();
    assert_eq!(from.display_name.as_deref(), Some("caller"));
    assert_eq!(from.tag(), Some("323"));
}

#[test]
fn longreq_long_values() {
    let m = valid_request("longreq");
    assert_eq!(m.vias().unwrap().len(), 34);
    assert!(m.call_id().unwrap().ends_with("longcallid"));
    let to = m.to_header().unwrap();
    assert_eq!(to.uri.port, Some(6000));
    assert!(
        to.display_name
            .is_some_and(|d| d.ends_with("extreme proportion"))
    );
    assert!(to.uri.params.len() >= 3);
    assert!(
        m.from_header()
            .unwrap()
            .tag()
            .is_some_and(|t| t.len() > 100)
    );
    assert_eq!(m.body().len(), 150);
}

#[test]
fn dblreq_only_the_first_request_counts() {
    let m = valid_request("dblreq");
    assert_eq!(m.method(), Some(&Method::Register));
    assert_eq!(
        m.call_id().unwrap(),
        "dblreq.0ha0isndaksdj99sdfafnl3lk233412"
    );
    assert!(m.body().is_empty());
    assert!(m.as_bytes().len() < load("dblreq").len());
}

#[test]
fn semiuri_semicolon_in_user_part() {
    let m = valid_request("semiuri");
    let uri = hotline::sip::message::Uri::parse(m.request_uri().unwrap()).unwrap();
    assert_eq!(uri.user.as_deref(), Some("user;par=u@example.net"));
    assert_eq!(uri.host, "example.com");
    assert!(uri.params.is_empty());
    assert_eq!(m.header_list("Accept").len(), 6);
}

#[test]
fn transports_unknown_transport_types() {
    let m = valid_request("transports");
    let t: Vec<_> = m.vias().unwrap().into_iter().map(|v| v.transport).collect();
    assert_eq!(t, ["UDP", "SCTP", "TLS", "UNKNOWN", "TCP"]);
    assert_eq!(m.call_id().unwrap(), "transports.kijh4akdnaqjkwendsasfdj");
}

#[test]
fn mpart01_multipart_binary_body() {
    let m = valid_request("mpart01");
    assert_eq!(m.method(), Some(&Method::Message));
    assert_eq!(m.body().len(), 553);
    assert_eq!(m.top_via().unwrap().rport(), Some(None));
}

#[test]
fn unreason_unusual_reason_phrase() {
    let m = parse("unreason");
    assert_eq!(m.status(), Some(200));
    let StartLine::Response { reason, .. } = m.start_line() else {
        panic!()
    };
    assert!(reason.starts_with("= 2**3 * 5**2 "));
    assert!(reason.contains("сто девяносто девять"));
    assert_eq!(m.validate_response(), Ok(()));
    assert_eq!(m.body().len(), 154);
}

#[test]
fn noreason_empty_reason_phrase() {
    let m = parse("noreason");
    assert_eq!(m.status(), Some(100));
    assert_eq!(m.reason(), Some(""));
    assert_eq!(m.validate_response(), Ok(()));
}

// ---- 3.1.2 invalid messages ------------------------------------------------

#[test]
fn badinv01_extraneous_semicolons_and_commas() {
    assert!(rejected("badinv01", 400).contains("Via"));
}

#[test]
fn clerr_content_length_larger_than_message() {
    rejected("clerr", 400);
}

#[test]
fn ncl_negative_content_length() {
    rejected("ncl", 400);
}

#[test]
fn scalar02_request_scalar_fields_with_overlarge_values() {
    assert!(rejected("scalar02", 400).contains("CSeq"));
    let m = parse("scalar02");
    assert_eq!(
        m.expires().unwrap(),
        Some(u32::MAX),
        "huge Expires saturates"
    );
    let Contacts::List(c) = m.contacts().unwrap() else {
        panic!()
    };
    assert_eq!(c[0].expires(), Some(u32::MAX));
}

#[test]
fn scalarlg_response_scalar_fields_with_overlarge_values() {
    let m = parse("scalarlg");
    assert_eq!(m.status(), Some(503));
    assert!(
        m.validate_response().is_err(),
        "the response must be discarded"
    );
    assert_eq!(m.cseq().unwrap_err().header, "CSeq");
}

#[test]
fn quotbal_unterminated_quoted_string_in_display_name() {
    assert!(rejected("quotbal", 400).contains("To"));
}

#[test]
fn ltgtruri_angle_brackets_around_request_uri() {
    rejected("ltgtruri", 400);
}

#[test]
fn lwsruri_malformed_sip_request_uri_embedded_lws() {
    rejected("lwsruri", 400);
}

#[test]
fn lwsstart_multiple_sp_in_request_line() {
    rejected("lwsstart", 400);
}

#[test]
fn trws_sp_characters_at_end_of_request_line() {
    rejected("trws", 400);
}

#[test]
fn escruri_escaped_headers_in_request_uri() {
    assert!(rejected("escruri", 400).contains("Request-URI"));
}

#[test]
fn baddate_invalid_time_zone_in_date() {
    assert!(rejected("baddate", 400).contains("Date"));
}

#[test]
fn regbadct_contact_with_header_outside_angle_brackets() {
    assert!(rejected("regbadct", 400).contains("Contact"));
}

#[test]
fn badaspec_spaces_within_addr_spec() {
    assert!(rejected("badaspec", 400).contains("To"));
}

#[test]
fn baddn_non_token_characters_in_display_name() {
    assert!(rejected("baddn", 400).contains("From"));
}

#[test]
fn badvers_unknown_protocol_version() {
    rejected("badvers", 505);
}

#[test]
fn mismatch01_start_line_and_cseq_method_mismatch() {
    assert!(rejected("mismatch01", 400).contains("CSeq"));
}

#[test]
fn mismatch02_unknown_method_with_cseq_mismatch() {
    assert!(rejected("mismatch02", 400).contains("CSeq"));
}

#[test]
fn bigcode_overlarge_response_code() {
    let e = Message::parse(load("bigcode"), &Limits::default()).unwrap_err();
    assert_eq!(e.kind, hotline::sip::message::ParseErrorKind::BadStartLine);
    assert!(
        salvage_for_response(&load("bigcode")).is_none(),
        "responses are never answered"
    );
}

// ---- 3.2 transaction layer ---------------------------------------------------

#[test]
fn badbranch_bare_magic_cookie_branch() {
    let m = valid_request("badbranch");
    assert_eq!(m.top_via().unwrap().branch(), Some("z9hG4bK"));
}

// ---- 3.3 application layer: valid syntax, answered by the application ------

#[test]
fn insuf_missing_required_headers() {
    let reason = rejected("insuf", 400);
    assert!(
        reason.contains("Call-ID") && reason.contains("From") && reason.contains("To"),
        "{reason}"
    );
}

#[test]
fn unkscm_unknown_scheme_in_request_uri() {
    rejected("unkscm", 416);
}

#[test]
fn unksm2_unknown_schemes_in_header_fields() {
    let m = valid_request("unksm2");
    assert_eq!(
        m.to_header().unwrap().uri.scheme,
        Scheme::Other("isbn".into())
    );
    assert_eq!(
        m.from_header().unwrap().uri.scheme,
        Scheme::Other("http".into())
    );
    let Contacts::List(c) = m.contacts().unwrap() else {
        panic!()
    };
    assert_eq!(c[0].uri.scheme, Scheme::Other("name".into()));
}

#[test]
fn bext01_unknown_option_tags_left_to_the_application() {
    let m = valid_request("bext01");
    assert_eq!(
        m.header_list("Require"),
        ["nothingSupportsThis", "nothingSupportsThisEither"]
    );
    assert_eq!(m.top_via().unwrap().sent_by_port(), 5061);
}

#[test]
fn invut_unknown_content_type() {
    let m = valid_request("invut");
    assert_eq!(m.header("c"), Some("application/unknownformat"));
    assert_eq!(m.body().len(), 40);
}

#[test]
fn regaut01_unknown_authorization_scheme() {
    let m = valid_request("regaut01");
    assert_eq!(
        m.header("Authorization"),
        Some("NoOneKnowsThisScheme opaque-data=here")
    );
}

#[test]
fn multi01_multiple_values_in_single_value_headers() {
    assert!(rejected("multi01", 400).contains("Duplicate"));
}

#[test]
fn mcl01_multiple_content_length_values() {
    rejected("mcl01", 400);
}

#[test]
fn bcast_response_with_broadcast_via() {
    let m = parse("bcast");
    assert_eq!(m.status(), Some(200));
    assert_eq!(m.validate_response(), Ok(()));
    assert_eq!(m.vias().unwrap()[1].host, "255.255.255.255");
}

#[test]
fn zeromf_max_forwards_zero_left_to_the_application() {
    let m = valid_request("zeromf");
    assert_eq!(m.max_forwards().unwrap(), Some(0));
}

#[test]
fn cparam01_contact_param_without_angle_brackets_belongs_to_header() {
    let m = valid_request("cparam01");
    let Contacts::List(c) = m.contacts().unwrap() else {
        panic!()
    };
    assert_eq!(c[0].param("unknownparam"), Some(None));
    assert!(c[0].uri.params.is_empty());
    assert_eq!(c[0].uri.user.as_deref(), Some("+19725552222"));
}

#[test]
fn cparam02_contact_param_inside_angle_brackets_belongs_to_uri() {
    let m = valid_request("cparam02");
    let Contacts::List(c) = m.contacts().unwrap() else {
        panic!()
    };
    assert_eq!(c[0].uri.param("unknownparam"), Some(None));
    assert!(c[0].params.is_empty());
}

#[test]
fn regescrt_escaped_header_in_contact_uri() {
    let m = valid_request("regescrt");
    let Contacts::List(c) = m.contacts().unwrap() else {
        panic!()
    };
    assert_eq!(
        c[0].uri.headers,
        vec![("Route".to_owned(), "<sip:sip.example.com>".to_owned())]
    );
}

#[test]
fn sdp01_unacceptable_accept() {
    let m = valid_request("sdp01");
    assert_eq!(m.header("Accept"), Some("text/nobodyKnowsThis"));
}

#[test]
fn novelsc_novel_scheme_in_request_uri() {
    rejected("novelsc", 416);
}

// ---- 3.4 backward compatibility -------------------------------------------

#[test]
fn inv2543_rfc2543_style_invite() {
    let m = valid_request("inv2543");
    assert_eq!(m.top_via().unwrap().branch(), None);
    assert_eq!(m.from_header().unwrap().tag(), None);
    assert_eq!(m.content_length().unwrap(), None);
    assert!(
        !m.body().is_empty(),
        "no Content-Length over UDP: body is the rest"
    );
    assert_eq!(m.to_header().unwrap().param("user"), Some(Some("phone")));
}

// ---- every message over a stream --------------------------------------------

/// Every torture message with a correct Content-Length frames over a stream
/// to exactly itself; the others are refused by the framer.
#[test]
fn every_message_through_the_stream_framer() {
    let dir = format!("{}/tests/data/sip-torture", env!("CARGO_MANIFEST_DIR"));
    let mut count = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "dat") {
            continue;
        }
        count += 1;
        let bytes = std::fs::read(&path).unwrap();
        let mut f = StreamFramer::new(Limits::default());
        f.push(&bytes);
        match f.next_frame() {
            Ok(Some(Frame::Message(frame))) => {
                // Must parse the same way as the datagram did.
                let as_frame =
                    Message::parse(frame, &Limits::default()).map(|m| m.as_bytes().to_vec());
                let as_datagram = Message::parse(Bytes::from(bytes.clone()), &Limits::default())
                    .map(|m| m.as_bytes().to_vec());
                assert_eq!(as_frame.ok(), as_datagram.ok(), "{path:?}");
            }
            Ok(other) => {
                // Waiting for more bytes is right for clerr (short body).
                assert!(
                    path.ends_with("clerr.dat") && other.is_none(),
                    "{path:?}: {other:?}"
                );
            }
            Err(_) => {}
        }
    }
    assert_eq!(count, 49);
}
