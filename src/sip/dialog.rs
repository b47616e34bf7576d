//! One call's SIP dialog (RFC 3261 §12, §13, §15), inbound (UAS) or
//! outbound (UAC, the agent leg of the B2BUA).
//!
//! The dialog remembers what every later message of the call must repeat —
//! Call-ID, both tags, the peer's URI and Contact, the route set — and the
//! state of the INVITE it was created by: as a UAS the 2xx we keep
//! retransmitting until the ACK arrives (§13.3.1.4), as a UAC our INVITE's
//! client transaction and whether it is being cancelled (§9.1). It is plain
//! data; the endpoint drives it with `now`.

use super::endpoint::Peer;
use super::message::{self, Message, Method, RequestBuilder};
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
    /// Set when we placed the call (UAC); `None` for calls we answered.
    pub uac: Option<UacState>,
    /// CSeq of the last REFER we accepted: the `id` of the NOTIFY that
    /// reports its outcome (RFC 3515 §2.4.6).
    pub refer_cseq: Option<u32>,
}

/// Our INVITE of an outgoing call while it has no final answer.
#[derive(Debug, Clone)]
pub struct UacState {
    /// The INVITE client transaction (its branch is the CANCEL's too).
    pub invite_key: TransactionKey,
    /// The INVITE's Request-URI: CANCEL and the ACK of a non-2xx repeat it.
    pub request_uri: String,
    /// A provisional response arrived: only now may a CANCEL go (§9.1).
    pub provisional: bool,
    /// The last 1xx status reported as progress (retransmissions are not
    /// reported again).
    pub last_progress: u16,
    pub cancel: CancelState,
}

/// Where withdrawing an unanswered outgoing call stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelState {
    NotRequested,
    /// Withdrawn before any provisional response: the CANCEL goes when one
    /// arrives (a final response or Timer B may settle it first).
    AwaitingProvisional,
    /// CANCEL sent; if the INVITE still has no final response at this
    /// moment (64*T1), the call is given up (§9.1).
    Sent {
        give_up_at: Instant,
    },
}

impl Dialog {
    /// The dialog of a call we place (UAC, §12.1.2): the peer's tag is
    /// learnt from its answer, until then requests go to `target`.
    #[allow(clippy::too_many_arguments)]
    pub fn outgoing(
        handle: CallHandle,
        call_id: String,
        local_uri: String,
        local_tag: String,
        remote_uri: String,
        target: String,
        peer: Peer,
        local_addr: Option<SocketAddr>,
        invite_cseq: u32,
    ) -> Dialog {
        Dialog {
            handle,
            state: DialogState::Early,
            call_id,
            local_tag,
            remote_tag: String::new(),
            remote_uri,
            local_uri,
            remote_target: target,
            route_set: Vec::new(),
            peer,
            local_addr,
            local_cseq: invite_cseq,
            remote_cseq: 0,
            invite_key: None,
            pending_request: None,
            reinvite_key: None,
            pending_ack: None,
            bye_key: None,
            uac: None,
            refer_cseq: None,
        }
    }

    /// A BYE for this dialog with a fresh branch.
    pub fn bye(&mut self, branch: &str, user_agent: &str) -> (TransactionKey, Bytes) {
        self.local_cseq = self.local_cseq.saturating_add(1);
        let cseq = self.local_cseq;
        let bytes = self.request(Method::Bye, cseq, branch, user_agent).build();
        (self.client_key(branch, "BYE"), Bytes::from(bytes))
    }

    /// Our SIP address as written in Via and Contact.
    pub fn local_host(&self) -> String {
        self.local_addr
            .map(|a| a.to_string())
            .unwrap_or_else(|| "0.0.0.0".to_string())
    }

    /// The key of a client transaction we start in this dialog.
    pub fn client_key(&self, branch: &str, method: &str) -> TransactionKey {
        TransactionKey::new(branch, self.local_host(), method)
    }

    /// An in-dialog request (§12.2.1.1) with the headers every one carries:
    /// Via with `branch`, Route set, From/To with both tags, Call-ID,
    /// `cseq`, User-Agent. The caller adds the rest (Contact, body).
    pub fn request(
        &self,
        method: Method,
        cseq: u32,
        branch: &str,
        user_agent: &str,
    ) -> RequestBuilder {
        let transport = self.peer.transport.as_str().to_ascii_uppercase();
        let method_name = method.as_str().to_string();
        let mut request = RequestBuilder::new(method, &self.remote_target)
            .header(
                "Via",
                &format!(
                    "SIP/2.0/{transport} {};branch={branch};rport",
                    self.local_host()
                ),
            )
            .header("Max-Forwards", "70");
        for route in &self.route_set {
            request = request.header("Route", route);
        }
        request
            .header(
                "From",
                &format!("{};tag={}", self.local_uri, self.local_tag),
            )
            .header(
                "To",
                &format!("{};tag={}", self.remote_uri, self.remote_tag),
            )
            .header("Call-ID", &self.call_id)
            .header("CSeq", &format!("{cseq} {method_name}"))
            .header("User-Agent", user_agent)
    }

    /// Takes the peer's side of the dialog from a 2xx to our INVITE
    /// (§12.1.2): its To tag, its Contact as the remote target (kept when
    /// absent) and the Record-Route set in reverse order.
    pub fn adopt_answer(&mut self, response: &Message) {
        if let Ok(to) = response.to_header() {
            self.remote_tag = to.tag().unwrap_or("").to_string();
        }
        if let Ok(message::Contacts::List(list)) = response.contacts()
            && let Some(contact) = list.first()
        {
            self.remote_target = contact.uri.as_str().to_string();
        }
        self.route_set = response
            .header_list("Record-Route")
            .into_iter()
            .rev()
            .map(str::to_string)
            .collect();
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
