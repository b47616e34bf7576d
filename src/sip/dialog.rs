//! One inbound call's SIP dialog on the UAS side (RFC 3261 §12, §13.3, §15).
//!
//! The dialog remembers what every later message of the call must repeat —
//! Call-ID, both tags, the caller's URI and Contact, the route set — and the
//! state of the INVITE it was created by: the 2xx we keep retransmitting
//! until the ACK arrives (§13.3.1.4), the CSeq for requests we send. It is
//! plain data; the endpoint drives it with `now`.

use super::endpoint::Peer;
use super::message::{Message, Method, RequestBuilder};
use super::transaction::{Timers, TransactionKey};
use bytes::Bytes;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// The endpoint's handle of a call; stable for the call's life.
pub type CallHandle = u64;

/// Where the dialog is (RFC 3261 §12: early, confirmed, terminated).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DialogState {
    /// INVITE received, no final response yet.
    Early,
    /// 2xx sent, waiting for the ACK.
    Answered,
    /// ACK received.
    Confirmed,
    /// We sent BYE and wait for its response.
    Terminating,
    Terminated,
}

/// Retransmission of our 2xx until the ACK (§13.3.1.4): T1 doubling to
/// T2, given up after 64*T1 (then the call is ended with a BYE).
#[derive(Debug, Clone)]
pub struct PendingAck {
    pub response: Bytes,
    pub next_at: Instant,
    pub interval: Duration,
    pub give_up_at: Instant,
}

#[derive(Debug, Clone)]
pub struct Dialog {
    pub handle: CallHandle,
    pub state: DialogState,
    pub call_id: String,
    pub local_tag: String,
    pub remote_tag: String,
    /// The caller's From header value without the tag param: the To of our
    /// requests (we add `;tag=remote_tag`).
    pub remote_uri: String,
    /// Our To URI (from the INVITE's To): the From of our requests.
    pub local_uri: String,
    /// Where in-dialog requests go (the INVITE's Contact URI).
    pub remote_target: String,
    /// Record-Route values in order: our Route headers (§12.1.1).
    pub route_set: Vec<String>,
    /// The flow the INVITE came over; our requests go back over it
    /// (symmetric signalling works through NAT and for phones whose
    /// Contact is unreachable).
    pub peer: Peer,
    /// Our SIP address as the caller reaches it (Via, Contact).
    pub local_addr: Option<SocketAddr>,
    pub local_cseq: u32,
    pub remote_cseq: u32,
    /// The INVITE server transaction while no final response was sent.
    pub invite_key: Option<TransactionKey>,
    /// The request that opened the dialog or a pending re-INVITE, kept
    /// to build responses.
    pub pending_request: Option<Message>,
    /// A re-INVITE waiting for the call layer's answer.
    pub reinvite_key: Option<TransactionKey>,
    pub pending_ack: Option<PendingAck>,
    /// Client transaction of our BYE.
    pub bye_key: Option<TransactionKey>,
}

impl Dialog {
    /// A BYE for this dialog with a fresh branch.
    pub fn bye(&mut self, branch: &str, user_agent: &str) -> (TransactionKey, Bytes) {
        self.local_cseq = self.local_cseq.saturating_add(1);
        let local = self
            .local_addr
            .map(|a| a.to_string())
            .unwrap_or_else(|| "0.0.0.0".to_string());
        let transport = self.peer.transport.as_str().to_ascii_uppercase();
        let mut request = RequestBuilder::new(Method::Bye, &self.remote_target)
            .header(
                "Via",
                &format!("SIP/2.0/{transport} {local};branch={branch};rport"),
            )
            .header("Max-Forwards", "70");
        for route in &self.route_set {
            request = request.header("Route", route);
        }
        let bytes = request
            .header(
                "From",
                &format!("{};tag={}", self.local_uri, self.local_tag),
            )
            .header(
                "To",
                &format!("{};tag={}", self.remote_uri, self.remote_tag),
            )
            .header("Call-ID", &self.call_id)
            .header("CSeq", &format!("{} BYE", self.local_cseq))
            .header("User-Agent", user_agent)
            .build();
        let key = TransactionKey::new(branch, &local, "BYE");
        (key, Bytes::from(bytes))
    }

    /// Arms 2xx retransmission for `response` (only over UDP; over a
    /// reliable transport the 2xx is sent once and only the ACK timeout
    /// remains).
    pub fn await_ack(&mut self, response: Bytes, timers: &Timers, now: Instant) {
        let interval = if self.peer.transport.is_reliable() {
            timers.t1 * 64
        } else {
            timers.t1
        };
        self.pending_ack = Some(PendingAck {
            response,
            next_at: now + interval,
            interval,
            give_up_at: now + timers.t1 * 64,
        });
    }
}

/// `value` without its `;tag=...` parameter (tags are compared apart from
/// the rest of the header).
pub fn strip_tag(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut depth = 0i32;
    let mut quoted = false;
    let mut start = 0;
    let bytes = value.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => quoted = !quoted,
            b'<' if !quoted => depth += 1,
            b'>' if !quoted => depth -= 1,
            b';' if !quoted && depth == 0 => {
                let rest = &value[i + 1..];
                let name = rest.split(['=', ';']).next().unwrap_or("").trim();
                if name.eq_ignore_ascii_case("tag") {
                    out.push_str(&value[start..i]);
                    let end = rest.find(';').map(|p| i + 1 + p).unwrap_or(value.len());
                    start = end;
                    i = end;
                    continue;
                }
            }
            _ => {}
        }
        i += 1;
    }
    out.push_str(&value[start..]);
    out.trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::strip_tag;

    #[test]
    fn strips_only_the_tag_param() {
        assert_eq!(strip_tag("<sip:a@b>;tag=123"), "<sip:a@b>");
        assert_eq!(
            strip_tag("\"A;tag=x\" <sip:a@b;tag=in-uri>;x=1;tag=9;y"),
            "\"A;tag=x\" <sip:a@b;tag=in-uri>;x=1;y"
        );
        assert_eq!(strip_tag("sip:a@b ; TAG = 5"), "sip:a@b");
        assert_eq!(strip_tag("<sip:a@b>"), "<sip:a@b>");
    }
}
