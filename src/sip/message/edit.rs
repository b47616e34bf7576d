//! Editing a parsed message (proxies, B2BUA legs) and serializing it so that
//! every header line that was not touched is written back byte-exact.

use super::names::{self, header_id, same_header};
use super::parse::{Body, HeaderLine, Message, Text};
use bytes::Bytes;

/// Removes line breaks from values given to the editing API so an edit can
/// never create extra header lines.
fn clean(s: &str) -> Box<str> {
    s.replace(['\r', '\n'], " ").into_boxed_str()
}

fn new_line(name: &str, value: &str) -> HeaderLine {
    HeaderLine {
        id: header_id(name.as_bytes()),
        name: Text::Owned(clean(name)),
        value: Text::Owned(clean(value)),
        raw: None,
    }
}

impl Message {
    fn matching(&self, name: &str) -> Vec<usize> {
        let want = header_id(name.as_bytes());
        self.headers
            .iter()
            .enumerate()
            .filter(|(_, h)| same_header(h.id, self.text(&h.name), want, name))
            .map(|(i, _)| i)
            .collect()
    }

    /// Replaces all lines of that header with one line placed where the first
    /// was, or appends it when absent.
    pub fn set_header(&mut self, name: &str, value: &str) {
        let found = self.matching(name);
        let line = new_line(name, value);
        match found.split_first() {
            Some((&first, rest)) => {
                for &i in rest.iter().rev() {
                    self.headers.remove(i);
                }
                if let Some(slot) = self.headers.get_mut(first) {
                    *slot = line;
                }
            }
            None => self.headers.push(line),
        }
    }

    pub fn remove_header(&mut self, name: &str) {
        let found = self.matching(name);
        for &i in found.iter().rev() {
            self.headers.remove(i);
        }
    }

    /// Inserts a header line before all others (e.g. a proxy's own Via).
    pub fn push_header_front(&mut self, name: &str, value: &str) {
        self.headers.insert(0, new_line(name, value));
    }

    /// Replaces the body; Content-Length is rewritten on serialization.
    pub fn set_body(&mut self, body: impl Into<Bytes>) {
        self.body = Body::Owned(body.into());
        self.body_changed = true;
    }

    /// Serializes the message: the start line and untouched header lines are
    /// copied byte-exact from the original; edited or added lines are written
    /// as `Name: value`. Content-Length is recomputed only if the body changed.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.raw.len() + 64);
        out.extend_from_slice(self.raw.get(self.start_raw.range()).unwrap_or(&[]));
        let body = self.body();
        let mut wrote_length = false;
        for h in &self.headers {
            if self.body_changed && h.id == names::CONTENT_LENGTH {
                if !wrote_length {
                    out.extend_from_slice(self.text(&h.name).as_bytes());
                    out.extend_from_slice(format!(": {}\r\n", body.len()).as_bytes());
                    wrote_length = true;
                }
                continue;
            }
            match h.raw {
                Some(span) => out.extend_from_slice(self.raw.get(span.range()).unwrap_or(&[])),
                None => {
                    out.extend_from_slice(self.text(&h.name).as_bytes());
                    out.extend_from_slice(b": ");
                    out.extend_from_slice(self.text(&h.value).as_bytes());
                    out.extend_from_slice(b"\r\n");
                }
            }
        }
        if self.body_changed && !wrote_length {
            out.extend_from_slice(format!("Content-Length: {}\r\n", body.len()).as_bytes());
        }
        out.extend_from_slice(self.raw.get(self.blank_raw.range()).unwrap_or(b"\r\n"));
        out.extend_from_slice(body);
        out
    }
}

#[cfg(test)]
mod tests {
    use crate::sip::message::{Limits, Message};
    use bytes::Bytes;

    const RAW: &str = "INVITE sip:b@h SIP/2.0\r\n\
        Via:   SIP/2.0/UDP a;branch=z9hG4bK1\r\n\
        Subject: folded\r\n  value\r\n\
        Route: <sip:r1>\r\n\
        Route: <sip:r2>\r\n\
        l: 3\r\n\r\nabc";

    fn parse(s: &[u8]) -> Message {
        Message::parse(Bytes::copy_from_slice(s), &Limits::default()).unwrap()
    }

    #[test]
    fn untouched_message_round_trips_byte_exact() {
        assert_eq!(parse(RAW.as_bytes()).to_bytes(), RAW.as_bytes());
    }

    #[test]
    fn edits_keep_other_lines_byte_exact() {
        let mut m = parse(RAW.as_bytes());
        m.push_header_front("Via", "SIP/2.0/TCP proxy;branch=z9hG4bKp");
        m.set_header("route", "<sip:r3>");
        m.remove_header("s");
        let out = String::from_utf8(m.to_bytes()).unwrap();
        assert_eq!(
            out,
            "INVITE sip:b@h SIP/2.0\r\nVia: SIP/2.0/TCP proxy;branch=z9hG4bKp\r\nVia:   SIP/2.0/UDP a;branch=z9hG4bK1\r\nroute: <sip:r3>\r\nl: 3\r\n\r\nabc"
        );
        let again = parse(out.as_bytes());
        assert_eq!(again.vias().unwrap().len(), 2);
        assert_eq!(again.header("Route"), Some("<sip:r3>"));
    }

    #[test]
    fn new_body_recomputes_content_length() {
        let mut m = parse(RAW.as_bytes());
        m.set_body(&b"hello"[..]);
        let again = parse(&m.to_bytes());
        assert_eq!(again.body(), b"hello");
        assert_eq!(again.content_length().unwrap(), Some(5));
        let mut m = parse(b"OPTIONS sip:a@b SIP/2.0\r\n\r\n");
        m.set_body(&b"xy"[..]);
        assert_eq!(parse(&m.to_bytes()).content_length().unwrap(), Some(2));
    }

    #[test]
    fn set_header_appends_when_absent() {
        let mut m = parse(b"OPTIONS sip:a@b SIP/2.0\r\nCall-ID: x\r\n\r\n");
        m.set_header("Max-Forwards", "69\r\nEvil: 1");
        let again = parse(&m.to_bytes());
        assert_eq!(again.header("Max-Forwards"), Some("69  Evil: 1"));
        assert_eq!(again.header("Evil"), None);
    }
}
