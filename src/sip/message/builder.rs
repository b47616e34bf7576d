//! Building responses (RFC 3261 §8.2.6) and requests as wire bytes.

use super::headers::NameAddr;
use super::names;
use super::salvage::Salvaged;
use super::{Message, Method};

/// Strips line breaks so values from the network or callers can never
/// inject header lines.
fn clean(s: &str) -> String {
    s.chars()
        .map(|c| if c == '\r' || c == '\n' { ' ' } else { c })
        .collect()
}

fn write_headers_and_body(
    out: &mut Vec<u8>,
    headers: &[(String, String)],
    body: &Option<(String, Vec<u8>)>,
) {
    for (name, value) in headers {
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    let body_bytes: &[u8] = match body {
        Some((content_type, bytes)) => {
            out.extend_from_slice(b"Content-Type: ");
            out.extend_from_slice(content_type.as_bytes());
            out.extend_from_slice(b"\r\n");
            bytes
        }
        None => &[],
    };
    out.extend_from_slice(format!("Content-Length: {}\r\n\r\n", body_bytes.len()).as_bytes());
    out.extend_from_slice(body_bytes);
}

/// A response under construction.
#[derive(Clone, Debug)]
pub struct ResponseBuilder {
    status: u16,
    reason: String,
    headers: Vec<(String, String)>,
    body: Option<(String, Vec<u8>)>,
}

/// Starts a response to `req`, copying all Via values (in order), From, To,
/// Call-ID and CSeq exactly as received (RFC 3261 §8.2.6).
pub fn response(req: &Message, status: u16, reason: &str) -> ResponseBuilder {
    let mut headers = Vec::with_capacity(8);
    for line in req.lines_by_id(names::VIA) {
        headers.push(("Via".to_owned(), req.text(&line.value).to_owned()));
    }
    for (id, name) in [
        (names::FROM, "From"),
        (names::TO, "To"),
        (names::CALL_ID, "Call-ID"),
        (names::CSEQ, "CSeq"),
    ] {
        if let Some(v) = req.first_by_id(id) {
            headers.push((name.to_owned(), v.to_owned()));
        }
    }
    ResponseBuilder {
        status,
        reason: clean(reason),
        headers,
        body: None,
    }
}

/// Starts a response to a request only [`super::salvage_for_response`]
/// could read.
pub fn response_from_salvage(s: &Salvaged, status: u16, reason: &str) -> ResponseBuilder {
    let mut headers = Vec::with_capacity(8);
    for via in &s.vias {
        headers.push(("Via".to_owned(), clean(via)));
    }
    headers.push(("From".to_owned(), clean(&s.from)));
    headers.push(("To".to_owned(), clean(&s.to)));
    headers.push(("Call-ID".to_owned(), clean(&s.call_id)));
    headers.push(("CSeq".to_owned(), clean(&s.cseq)));
    ResponseBuilder {
        status,
        reason: clean(reason),
        headers,
        body: None,
    }
}

/// Whether a To value already carries a tag (also when it does not parse,
/// judged textually, so a broken To is never given a second tag).
fn has_tag(to: &str) -> bool {
    match NameAddr::parse(to, "To") {
        Ok(n) => n.tag().is_some(),
        Err(_) => {
            let after_uri = to.rfind('>').map_or(to, |i| to.get(i..).unwrap_or(""));
            after_uri
                .to_ascii_lowercase()
                .replace([' ', '\t'], "")
                .contains(";tag=")
        }
    }
}

impl ResponseBuilder {
    /// Adds `;tag=` to To unless it already has a tag (a dialog-forming or
    /// final response needs one; a retransmitted in-dialog request keeps its).
    pub fn to_tag(mut self, tag: &str) -> Self {
        if let Some((_, to)) = self.headers.iter_mut().find(|(n, _)| n == "To") {
            if !has_tag(to) {
                to.push_str(";tag=");
                to.push_str(&clean(tag));
            }
        }
        self
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((clean(name), clean(value)));
        self
    }

    pub fn body(mut self, content_type: &str, body: &[u8]) -> Self {
        self.body = Some((clean(content_type), body.to_vec()));
        self
    }

    /// The response bytes; Content-Length is always written.
    pub fn build(self) -> Vec<u8> {
        let mut out = Vec::with_capacity(512);
        out.extend_from_slice(format!("SIP/2.0 {} {}\r\n", self.status, self.reason).as_bytes());
        write_headers_and_body(&mut out, &self.headers, &self.body);
        out
    }
}

/// A request under construction (UAC side and B2BUA legs). The caller adds
/// Via, From, To, Call-ID, CSeq, Max-Forwards as needed.
#[derive(Clone, Debug)]
pub struct RequestBuilder {
    method: Method,
    uri: String,
    headers: Vec<(String, String)>,
    body: Option<(String, Vec<u8>)>,
}

impl RequestBuilder {
    pub fn new(method: Method, uri: &str) -> Self {
        RequestBuilder {
            method,
            uri: clean(uri).replace(' ', "%20"),
            headers: Vec::new(),
            body: None,
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((clean(name), clean(value)));
        self
    }

    pub fn body(mut self, content_type: &str, body: &[u8]) -> Self {
        self.body = Some((clean(content_type), body.to_vec()));
        self
    }

    /// The request bytes; Content-Length is always written.
    pub fn build(self) -> Vec<u8> {
        let mut out = Vec::with_capacity(512);
        out.extend_from_slice(format!("{} {} SIP/2.0\r\n", self.method, self.uri).as_bytes());
        write_headers_and_body(&mut out, &self.headers, &self.body);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::message::Limits;
    use bytes::Bytes;

    fn parse(b: &[u8]) -> Message {
        Message::parse(Bytes::copy_from_slice(b), &Limits::default()).unwrap()
    }

    const REQ: &[u8] = b"INVITE sip:bob@b.example SIP/2.0\r\n\
        Via: SIP/2.0/UDP p1.example;branch=z9hG4bK1;received=192.0.2.1\r\n\
        v: SIP/2.0/UDP p2.example;branch=z9hG4bK2, SIP/2.0/UDP p3.example\r\n\
        f: Alice <sip:alice@a.example> ;tag = 88\r\n\
        t: <sip:bob@b.example>\r\n\
        i: abc@def\r\n\
        CSeq: 7 INVITE\r\n\
        Max-Forwards: 70\r\n\
        l: 0\r\n\r\n";

    #[test]
    fn response_copies_the_transaction_headers_exactly() {
        let req = parse(REQ);
        let resp = response(&req, 180, "Ringing")
            .to_tag("xyz")
            .header("Contact", "<sip:srv@h>")
            .build();
        let r = parse(&resp);
        assert_eq!(r.status(), Some(180));
        assert_eq!(
            r.headers("Via").collect::<Vec<_>>(),
            req.headers("Via").collect::<Vec<_>>()
        );
        assert_eq!(
            r.header("From"),
            Some("Alice <sip:alice@a.example> ;tag = 88")
        );
        assert_eq!(r.header("To"), Some("<sip:bob@b.example>;tag=xyz"));
        assert_eq!(r.header("Call-ID"), Some("abc@def"));
        assert_eq!(r.header("CSeq"), Some("7 INVITE"));
        assert_eq!(r.content_length().unwrap(), Some(0));
        assert_eq!(r.validate_response(), Ok(()));
    }

    #[test]
    fn to_tag_keeps_an_existing_tag() {
        let text = String::from_utf8(REQ.to_vec()).unwrap().replace(
            "t: <sip:bob@b.example>",
            "t: <sip:bob@b.example> ; tag = old",
        );
        let req = parse(text.as_bytes());
        let r = parse(&response(&req, 200, "OK").to_tag("new").build());
        assert_eq!(r.to_header().unwrap().tag(), Some("old"));
    }

    #[test]
    fn bodies_and_requests() {
        let req = RequestBuilder::new(Method::Options, "sip:a@b")
            .header("Via", "SIP/2.0/UDP h;branch=z9hG4bKq")
            .header("X-Evil", "a\r\nInjected: yes")
            .body("text/plain", b"hi")
            .build();
        let m = parse(&req);
        assert_eq!(m.method(), Some(&Method::Options));
        assert_eq!(m.header("X-Evil"), Some("a  Injected: yes"));
        assert_eq!(m.header("Injected"), None);
        assert_eq!(m.body(), b"hi");
        assert_eq!(m.header("Content-Type"), Some("text/plain"));
    }

    #[test]
    fn salvage_response() {
        let s = crate::sip::message::salvage_for_response(b"OPTIONS  sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h\r\nTo: <sip:a@b>\r\nFrom: <sip:c@d>;tag=1\r\nCall-ID: x\r\nCSeq: 1 OPTIONS\r\n\r\n").unwrap();
        let r = parse(
            &response_from_salvage(&s, 400, "Bad Request Line")
                .to_tag("t1")
                .build(),
        );
        assert_eq!(r.status(), Some(400));
        assert_eq!(r.to_header().unwrap().tag(), Some("t1"));
        assert_eq!(r.top_via().unwrap().host, "h");
    }
}
