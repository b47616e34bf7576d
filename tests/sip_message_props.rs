//! Property tests of the SIP message layer: editing keeps every untouched
//! header line byte-exact and re-parses to the same values; nothing panics
//! on arbitrary or mutated input.

use bytes::Bytes;
use hotline::sip::message::{
    Frame, Limits, Message, StreamFramer, response, response_from_salvage, salvage_for_response,
};
use proptest::prelude::*;

const NAMES: &[&str] = &[
    "Via",
    "v",
    "VIA",
    "From",
    "f",
    "To",
    "t",
    "Call-ID",
    "i",
    "call-id",
    "CSeq",
    "Contact",
    "m",
    "Subject",
    "s",
    "X-Custom",
    "x-custom",
    "X-Other",
    "Max-Forwards",
    "Accept",
];

/// Canonical form for comparing names the way the parser does.
fn canonical(name: &str) -> String {
    match name.to_ascii_lowercase().as_str() {
        "v" => "via".into(),
        "f" => "from".into(),
        "t" => "to".into(),
        "i" => "call-id".into(),
        "m" => "contact".into(),
        "s" => "subject".into(),
        other => other.into(),
    }
}

#[derive(Debug, Clone)]
struct GenHeader {
    name: &'static str,
    space_before_colon: &'static str,
    space_after_colon: &'static str,
    words: Vec<String>,
    /// Per gap between words: true = folded onto a continuation line.
    folds: Vec<bool>,
}

impl GenHeader {
    fn line(&self) -> String {
        let mut s = format!(
            "{}{}:{}",
            self.name, self.space_before_colon, self.space_after_colon
        );
        for (i, w) in self.words.iter().enumerate() {
            if i > 0 {
                s.push_str(if self.folds.get(i - 1).copied().unwrap_or(false) {
                    "\r\n   "
                } else {
                    " "
                });
            }
            s.push_str(w);
        }
        s.push_str("\r\n");
        s
    }

    fn value(&self) -> String {
        self.words.join(" ")
    }
}

fn header_strategy() -> impl Strategy<Value = GenHeader> {
    (
        proptest::sample::select(NAMES),
        proptest::sample::select(&["", " ", "\t", "  "][..]),
        proptest::sample::select(&["", " ", "   ", "\t"][..]),
        proptest::collection::vec("[A-Za-z0-9;=@.<>_:/-]{1,12}", 1..5),
        proptest::collection::vec(any::<bool>(), 4),
    )
        .prop_map(
            |(name, space_before_colon, space_after_colon, words, folds)| GenHeader {
                name,
                space_before_colon,
                space_after_colon,
                words,
                folds,
            },
        )
}

#[derive(Debug, Clone)]
enum Edit {
    Set(usize, String),
    Remove(usize),
    PushFront(String),
}

fn edit_strategy() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), "[A-Za-z0-9 ;=@.]{0,20}").prop_map(|(i, v)| Edit::Set(i, v)),
        any::<usize>().prop_map(Edit::Remove),
        "[A-Za-z0-9;=@.]{1,20}".prop_map(Edit::PushFront),
    ]
}

fn build(headers: &[GenHeader], body: &str) -> String {
    let mut s = String::from("OPTIONS sip:user@example.com SIP/2.0\r\n");
    for h in headers {
        s.push_str(&h.line());
    }
    if !body.is_empty() {
        s.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    s.push_str("\r\n");
    s.push_str(body);
    s
}

fn parse(bytes: &[u8]) -> Message {
    Message::parse(Bytes::copy_from_slice(bytes), &Limits::default())
        .expect("generated message parses")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn values_are_unfolded_and_trimmed(headers in proptest::collection::vec(header_strategy(), 0..12), body in "[a-z\r\n]{0,40}") {
        let m = parse(build(&headers, &body).as_bytes());
        let got: Vec<(String, String)> = m.header_lines()
            .filter(|(n, _)| !n.eq_ignore_ascii_case("Content-Length"))
            .map(|(n, v)| (n.to_owned(), v.to_owned()))
            .collect();
        let want: Vec<(String, String)> = headers.iter().map(|h| (h.name.to_owned(), h.value())).collect();
        prop_assert_eq!(got, want);
        prop_assert_eq!(m.body(), body.as_bytes());
        // An untouched message serializes to exactly its bytes.
        prop_assert_eq!(m.to_bytes(), m.as_bytes().to_vec());
        for h in &headers {
            let first = headers.iter().find(|o| canonical(o.name) == canonical(h.name)).map(GenHeader::value);
            prop_assert_eq!(m.header(h.name).map(str::to_owned), first);
        }
    }

    #[test]
    fn edits_keep_untouched_lines_byte_exact(
        headers in proptest::collection::vec(header_strategy(), 1..12),
        edit in edit_strategy(),
        body in "[a-z]{0,20}",
    ) {
        let text = build(&headers, &body);
        let mut m = parse(text.as_bytes());
        let touched: Option<String> = match &edit {
            Edit::Set(i, v) => {
                let h = &headers[i % headers.len()];
                m.set_header(h.name, v);
                Some(canonical(h.name))
            }
            Edit::Remove(i) => {
                let h = &headers[i % headers.len()];
                m.remove_header(h.name);
                Some(canonical(h.name))
            }
            Edit::PushFront(v) => {
                m.push_header_front("Via", v);
                None
            }
        };
        let out = m.to_bytes();
        let out_text = String::from_utf8(out.clone()).unwrap();
        // Every untouched line appears byte-exact, in order.
        let mut cursor = 0;
        for h in headers.iter().filter(|h| Some(canonical(h.name)) != touched) {
            let line = h.line();
            let found = out_text[cursor..].find(&line);
            prop_assert!(found.is_some(), "line {:?} missing from {:?}", line, out_text);
            cursor += found.unwrap() + line.len();
        }
        // The re-parse yields the same values.
        let again = parse(&out);
        let untouched: Vec<String> = headers.iter()
            .filter(|h| Some(canonical(h.name)) != touched)
            .map(GenHeader::value)
            .collect();
        let reparsed: Vec<String> = again.header_lines()
            .filter(|(n, _)| Some(canonical(n)) != touched && !n.eq_ignore_ascii_case("Content-Length"))
            .map(|(_, v)| v.to_owned())
            .collect();
        match &edit {
            Edit::Set(i, v) => {
                prop_assert_eq!(reparsed, untouched);
                let name = headers[i % headers.len()].name;
                let values: Vec<&str> = again.headers(name).collect();
                prop_assert_eq!(values, vec![v.trim()]);
            }
            Edit::Remove(i) => {
                prop_assert_eq!(reparsed, untouched);
                prop_assert_eq!(again.header(headers[i % headers.len()].name), None);
            }
            Edit::PushFront(v) => {
                prop_assert_eq!(&reparsed[1..], &untouched[..]);
                prop_assert_eq!(again.header("Via"), Some(v.as_str()));
            }
        }
        prop_assert_eq!(again.body(), body.as_bytes());
    }

    #[test]
    fn parse_never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..1500)) {
        exercise(&bytes);
    }

    #[test]
    fn parse_never_panics_on_mutated_messages(
        headers in proptest::collection::vec(header_strategy(), 1..10),
        mutations in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8),
        splits in proptest::collection::vec(any::<usize>(), 0..4),
    ) {
        let mut bytes = build(&headers, "hello").into_bytes();
        for (at, b) in mutations {
            let len = bytes.len();
            bytes[at % len] = b;
        }
        exercise(&bytes);
        let mut framer = StreamFramer::new(Limits::default());
        let mut cuts: Vec<usize> = splits.iter().map(|s| s % (bytes.len() + 1)).collect();
        cuts.sort_unstable();
        let mut last = 0;
        for cut in cuts.into_iter().chain([bytes.len()]) {
            framer.push(&bytes[last..cut]);
            last = cut;
            while let Ok(Some(frame)) = framer.next_frame() {
                if let Frame::Message(f) = frame {
                    exercise(&f);
                }
            }
        }
    }
}

/// Everything a server would do with untrusted bytes.
fn exercise(bytes: &[u8]) {
    if let Some(s) = salvage_for_response(bytes) {
        let r = response_from_salvage(&s, 400, "Bad Request")
            .to_tag("x")
            .build();
        assert!(Message::parse(Bytes::from(r), &Limits::default()).is_ok());
    }
    let Ok(m) = Message::parse(Bytes::copy_from_slice(bytes), &Limits::default()) else {
        return;
    };
    let _ = (
        m.vias(),
        m.top_via(),
        m.from_header(),
        m.to_header(),
        m.call_id(),
        m.cseq(),
    );
    let _ = (
        m.contacts(),
        m.expires(),
        m.max_forwards(),
        m.content_length(),
    );
    let _ = (
        m.validate_request(),
        m.validate_response(),
        m.header_list("Via"),
        m.start_line(),
    );
    let out = m.to_bytes();
    assert_eq!(out, m.as_bytes(), "untouched messages serialize byte-exact");
    if m.is_request() {
        let r = response(&m, 400, "Bad").to_tag("t").build();
        assert!(Message::parse(Bytes::from(r), &Limits::default()).is_ok());
    }
}
