//! Semantic checks on a structurally parsed request before the server acts
//! on it (RFC 3261 §8.2, §16.3 and the RFC 4475 expectations).

use super::Method;
use super::names::{self, HeaderId};
use super::parse::Message;
use super::uri::{Scheme, Uri};

/// The status (and a reason phrase naming the problem) to answer a request
/// that must not be processed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{status} {reason}")]
pub struct Rejection {
    pub status: u16,
    pub reason: String,
}

impl Rejection {
    fn bad(reason: impl Into<String>) -> Self {
        Rejection {
            status: 400,
            reason: reason.into(),
        }
    }
}

impl Message {
    fn count(&self, id: HeaderId) -> usize {
        self.lines_by_id(id).count()
    }

    /// Semantic checks for a request the server will process. The error
    /// carries the status to answer: 505 for a version other than SIP/2.0,
    /// 416 for a Request-URI scheme other than sip/sips/tel, 400 (with a
    /// reason phrase naming the problem) for everything else. Max-Forwards 0
    /// (483) and unknown methods (501) are left to the caller.
    pub fn validate_request(&self) -> Result<(), Rejection> {
        let Some(method) = self.method() else {
            return Err(Rejection::bad("Not a request"));
        };
        if !self.version().eq_ignore_ascii_case("SIP/2.0") {
            return Err(Rejection {
                status: 505,
                reason: "Version Not Supported".into(),
            });
        }
        let mut missing = Vec::new();
        for (id, name) in [
            (names::CALL_ID, "Call-ID"),
            (names::FROM, "From"),
            (names::TO, "To"),
            (names::CSEQ, "CSeq"),
            (names::VIA, "Via"),
        ] {
            match self.count(id) {
                0 => missing.push(name),
                1 => {}
                _ if id == names::VIA => {}
                _ => return Err(Rejection::bad(format!("Duplicate {name} header"))),
            }
        }
        if !missing.is_empty() {
            return Err(Rejection::bad(format!(
                "Missing {} header",
                missing.join(", ")
            )));
        }
        self.vias()
            .map_err(|e| Rejection::bad(format!("Bad Via header: {}", e.reason)))?;
        let cseq = self
            .cseq()
            .map_err(|e| Rejection::bad(format!("Bad CSeq header: {}", e.reason)))?;
        if cseq.seq > 0x7fff_ffff {
            return Err(Rejection::bad("Bad CSeq header: sequence number too large"));
        }
        if &cseq.method != method {
            return Err(Rejection::bad("CSeq method does not match request method"));
        }
        self.call_id()
            .map_err(|e| Rejection::bad(format!("Bad Call-ID header: {}", e.reason)))?;
        self.from_header()
            .map_err(|e| Rejection::bad(format!("Bad From header: {}", e.reason)))?;
        self.to_header()
            .map_err(|e| Rejection::bad(format!("Bad To header: {}", e.reason)))?;
        let uri_text = self.request_uri().unwrap_or("");
        let uri = Uri::parse(uri_text)
            .map_err(|e| Rejection::bad(format!("Bad Request-URI: {}", e.reason)))?;
        if let Scheme::Other(_) = uri.scheme {
            return Err(Rejection {
                status: 416,
                reason: "Unsupported URI Scheme".into(),
            });
        }
        // Headers are not allowed in a Request-URI (RFC 3261 §19.1.1 table 1;
        // RFC 4475 escruri).
        if !uri.headers.is_empty() {
            return Err(Rejection::bad("Bad Request-URI: headers not allowed"));
        }
        if self.count(names::CONTENT_LENGTH) > 1 {
            return Err(Rejection::bad("Duplicate Content-Length header"));
        }
        self.content_length()
            .map_err(|e| Rejection::bad(format!("Bad Content-Length header: {}", e.reason)))?;
        self.contacts()
            .map_err(|e| Rejection::bad(format!("Bad Contact header: {}", e.reason)))?;
        if self.count(names::MAX_FORWARDS) > 1 {
            return Err(Rejection::bad("Duplicate Max-Forwards header"));
        }
        self.max_forwards()
            .map_err(|e| Rejection::bad(format!("Bad Max-Forwards header: {}", e.reason)))?;
        if *method == Method::Register || self.count(names::EXPIRES) > 0 {
            self.expires()
                .map_err(|e| Rejection::bad(format!("Bad Expires header: {}", e.reason)))?;
        }
        // SIP dates are always GMT (RFC 3261 §20.17; RFC 4475 baddate).
        if let Some(date) = self.first_by_id(names::DATE) {
            if !date.trim_end().ends_with(" GMT") {
                return Err(Rejection::bad("Bad Date header: time zone must be GMT"));
            }
        }
        Ok(())
    }

    /// Checks a response has what the transaction layer needs to match it
    /// (RFC 3261 §17.1.3, §18.1.2): one parseable top Via, CSeq, Call-ID,
    /// From and To. A response that fails is discarded, never answered.
    pub fn validate_response(&self) -> Result<(), super::HeaderError> {
        self.vias()?;
        self.cseq()?;
        self.call_id()?;
        self.from_header()?;
        self.to_header()?;
        self.content_length()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::message::Limits;
    use bytes::Bytes;

    fn req(start: &str, headers: &str) -> Message {
        let text = format!("{start}\r\n{headers}\r\n");
        Message::parse(Bytes::from(text), &Limits::default()).unwrap()
    }

    const GOOD: &str = "Via: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:c@d>\r\nCall-ID: x@y\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\n";

    #[test]
    fn accepts_a_good_request() {
        assert_eq!(
            req("OPTIONS sip:c@d SIP/2.0", GOOD).validate_request(),
            Ok(())
        );
        assert_eq!(
            req("OPTIONS tel:+123 SIP/2.0", GOOD).validate_request(),
            Ok(())
        );
    }

    #[test]
    fn rejects_with_the_right_status() {
        assert_eq!(
            req("OPTIONS sip:c@d SIP/3.0", GOOD)
                .validate_request()
                .unwrap_err()
                .status,
            505
        );
        assert_eq!(
            req("OPTIONS foo:bar SIP/2.0", GOOD)
                .validate_request()
                .unwrap_err()
                .status,
            416
        );
        let r = req(
            "OPTIONS sip:c@d SIP/2.0",
            "CSeq: 1 OPTIONS\r\nVia: SIP/2.0/UDP h\r\n",
        )
        .validate_request()
        .unwrap_err();
        assert_eq!(
            (r.status, r.reason.as_str()),
            (400, "Missing Call-ID, From, To header")
        );
        let r = req("INVITE sip:c@d SIP/2.0", GOOD)
            .validate_request()
            .unwrap_err();
        assert_eq!(r.reason, "CSeq method does not match request method");
        let dup = format!("{GOOD}Call-ID: other\r\n");
        assert_eq!(
            req("OPTIONS sip:c@d SIP/2.0", &dup)
                .validate_request()
                .unwrap_err()
                .reason,
            "Duplicate Call-ID header"
        );
        let big = GOOD.replace("CSeq: 1", "CSeq: 2147483648");
        assert_eq!(
            req("OPTIONS sip:c@d SIP/2.0", &big)
                .validate_request()
                .unwrap_err()
                .status,
            400
        );
        let hdrs = req("OPTIONS sip:c@d?Route=x SIP/2.0", GOOD)
            .validate_request()
            .unwrap_err();
        assert_eq!(hdrs.status, 400);
    }
}
