//! Best-effort recovery of the headers needed to answer a request whose
//! structure is broken, so the sender gets a 400 instead of silence
//! (RFC 3261 §8.2.6 needs only Via, From, To, Call-ID and CSeq).

use super::Method;
use super::lex::{is_token, trim_lws};
use super::names::{self, header_id};

/// What a response to a broken request needs, copied from its header lines.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Salvaged {
    pub method: Method,
    /// Every Via line's value, in order.
    pub vias: Vec<String>,
    pub from: String,
    pub to: String,
    pub call_id: String,
    pub cseq: String,
}

/// How much of a broken message is worth looking at.
const MAX_SCAN_BYTES: usize = 65_535;
const MAX_SCAN_LINES: usize = 256;

/// Best effort: is it a request (not a response, not ACK, which is never
/// answered) with the Via, From, To, Call-ID and CSeq a response needs?
/// `None` means drop silently.
pub fn salvage_for_response(bytes: &[u8]) -> Option<Salvaged> {
    let bytes = bytes.get(..bytes.len().min(MAX_SCAN_BYTES))?;
    let start = bytes.iter().position(|b| *b != b'\r' && *b != b'\n')?;
    let bytes = bytes.get(start..)?;
    // Logical lines: physical lines with continuations joined.
    let mut physical = bytes
        .split(|b| *b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    let request_line = String::from_utf8_lossy(physical.next()?).into_owned();
    let method_token = request_line.split([' ', '\t']).next()?;
    if !is_token(method_token) || !request_line.contains("SIP/") {
        return None;
    }
    let method = Method::from_token(method_token);
    if method == Method::Ack {
        return None;
    }
    let mut logical: Vec<String> = Vec::new();
    for line in physical.take(MAX_SCAN_LINES) {
        if line.is_empty() {
            break;
        }
        let text = String::from_utf8_lossy(line);
        if line.first().is_some_and(|b| *b == b' ' || *b == b'\t') {
            if let Some(prev) = logical.last_mut() {
                prev.push(' ');
                prev.push_str(trim_lws(&text));
            }
            continue;
        }
        logical.push(text.into_owned());
    }
    let mut s = Salvaged {
        method,
        vias: Vec::new(),
        from: String::new(),
        to: String::new(),
        call_id: String::new(),
        cseq: String::new(),
    };
    for line in &logical {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = trim_lws(value);
        if value.is_empty() {
            continue;
        }
        let slot = match header_id(trim_lws(name).as_bytes()) {
            id if id == names::VIA => {
                s.vias.push(value.to_owned());
                continue;
            }
            id if id == names::FROM => &mut s.from,
            id if id == names::TO => &mut s.to,
            id if id == names::CALL_ID => &mut s.call_id,
            id if id == names::CSEQ => &mut s.cseq,
            _ => continue,
        };
        if slot.is_empty() {
            *slot = value.to_owned();
        }
    }
    let complete = !s.vias.is_empty()
        && !s.from.is_empty()
        && !s.to.is_empty()
        && !s.call_id.is_empty()
        && !s.cseq.is_empty();
    complete.then_some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn salvages_a_request_with_a_broken_start_line() {
        let raw = b"INVITE  sip:user@example.com  SIP/2.0\r\nVia: SIP/2.0/UDP h1;branch=z9hG4bK1\r\nv: SIP/2.0/UDP h2\r\nTo: sip:user@example.com\r\nFrom: sip:caller@example.net;tag=8814\r\nCall-ID: x\r\nCSeq: 1893884\r\n INVITE\r\n\r\n";
        let s = salvage_for_response(raw).unwrap();
        assert_eq!(s.method, Method::Invite);
        assert_eq!(
            s.vias,
            vec!["SIP/2.0/UDP h1;branch=z9hG4bK1", "SIP/2.0/UDP h2"]
        );
        assert_eq!(s.cseq, "1893884 INVITE");
        assert_eq!(s.call_id, "x");
    }

    #[test]
    fn drops_responses_acks_garbage_and_incomplete() {
        let headers = "Via: SIP/2.0/UDP h\r\nTo: <sip:a@b>\r\nFrom: <sip:c@d>;tag=1\r\nCall-ID: x\r\nCSeq: 1 ACK\r\n\r\n";
        assert!(
            salvage_for_response(format!("ACK sip:a@b SIP/2.0\r\n{headers}").as_bytes()).is_none()
        );
        assert!(salvage_for_response(format!("SIP/2.0 200 OK\r\n{headers}").as_bytes()).is_none());
        assert!(salvage_for_response(b"\x00\x01\x02garbage").is_none());
        assert!(
            salvage_for_response(b"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h\r\n\r\n")
                .is_none()
        );
        assert!(salvage_for_response(b"").is_none());
    }
}
