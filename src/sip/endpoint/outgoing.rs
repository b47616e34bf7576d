//! The call side of the endpoint as a UAC: calls we place to an agent's
//! phone (the agent leg of the B2BUA, ARCHITECTURE §3).
//!
//! [`Endpoint::place_call`] sends the INVITE; responses become
//! [`CallEvent::Progress`], [`CallEvent::Answered`] (we ACK the 2xx
//! ourselves) or [`CallEvent::Rejected`], and every call ends with exactly
//! one [`CallEvent::Ended`]. [`Endpoint::cancel`] withdraws a ringing call
//! by the rules of RFC 3261 §9.1: no CANCEL before a provisional response,
//! and a 2xx that crosses our CANCEL is ACKed and hung up with BYE. Once
//! answered, the dialog is the same as an incoming one: BYE, re-INVITE,
//! INFO and REFER from the agent arrive as the same events.

use super::calls::{ClientRef, ClientRole};
use super::{Action, CallEvent, Endpoint, Peer};
use crate::sip::Transport;
use crate::sip::dialog::{CallHandle, CancelState, Dialog, DialogState, UacState, strip_tag};
use crate::sip::message::{Message, Method, NameAddr, RequestBuilder, Uri};
use crate::sip::registrar::Binding;
use crate::sip::transaction::{ClientEvent, TransactionKey};
use bytes::Bytes;
use std::cmp::Reverse;
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

/// A call to place: what the agent's phone shows before it is answered.
#[derive(Debug, Clone, PartialEq)]
pub struct OutgoingCall {
    /// The registered Contact URI of the agent's phone.
    pub request_uri: String,
    /// To header URI, e.g. `sip:anna@hotline`.
    pub to: String,
    /// The caller's number, e.g. `79161234567` (the From user).
    pub from_user: String,
    /// Display name shown by the phone, e.g. `Абитуриент · приём`. Quoted
    /// and escaped here; UTF-8 is valid in a SIP quoted-string.
    pub from_display: Option<String>,
    /// Extra headers, e.g. `("Call-Info", "<http://.../inquiries/ID>;purpose=info")`.
    /// Names that are not SIP tokens are skipped.
    pub extra_headers: Vec<(String, String)>,
    /// The SDP offer (application/sdp).
    pub offer: Bytes,
    /// Our SIP address for Via, Contact and the From host.
    pub local: SocketAddr,
}

impl Endpoint {
    /// Registered contacts of `login` with the peer to send to, preferred
    /// first. ARCHITECTURE §3: requests go to the Contact, except when the
    /// REGISTER showed NAT or the agent has `nat = true` — then to the
    /// REGISTER's source over the same flow. A TCP phone is always reached
    /// over its registration's connection (the shell opens none), and a
    /// Contact whose host is not an IP address (no DNS in a sans-IO core)
    /// is reached at the source as well. A TCP target whose connection is
    /// gone (`conn: None`, e.g. restored after a restart) cannot be reached
    /// until the phone registers again: skip it.
    pub fn agent_targets(&self, login: &str, now_ms: i64) -> Vec<(String, Peer)> {
        self.registrar
            .lookup(login, now_ms)
            .into_iter()
            .map(|binding| (binding.contact.clone(), self.peer_of(binding)))
            .collect()
    }

    fn peer_of(&self, binding: &Binding) -> Peer {
        let flow = Peer {
            addr: binding.source,
            transport: binding.transport,
            conn: match binding.transport {
                Transport::Tcp => self.tcp_flows.get(&binding.source).copied(),
                Transport::Udp => None,
            },
        };
        if binding.nat || binding.transport.is_reliable() {
            return flow;
        }
        match contact_address(&binding.contact) {
            Some(addr) => Peer {
                addr,
                transport: Transport::Udp,
                conn: None,
            },
            None => flow,
        }
    }

    /// The login whose live binding came from `source` (feature codes
    /// `*50`/`*51` dialled from an operator's phone are recognised this
    /// way). Only an exact address match counts: on a shared IP (a NAT, or
    /// a test host) a caller must never be taken for an operator.
    pub fn login_at(&self, source: SocketAddr, now_ms: i64) -> Option<String> {
        self.registrar
            .registered_logins()
            .find(|login| {
                self.registrar
                    .lookup(login, now_ms)
                    .iter()
                    .any(|binding| binding.source == source)
            })
            .map(str::to_string)
    }

    /// Calls `to` (an agent's phone): sends the INVITE and returns the
    /// call's handle. Events follow as `Action::Call(handle, ...)`.
    pub fn place_call(
        &mut self,
        call: OutgoingCall,
        to: Peer,
        now: Instant,
    ) -> (CallHandle, Vec<Action>) {
        let handle = self.next_call_handle();
        let local_tag = format!("{:016x}", self.next_random());
        let call_id = format!("{:016x}{:016x}", self.next_random(), self.next_random());
        let branch = self.new_branch();
        let user = escape_user(&call.from_user);
        let local = call.local;
        let local_uri = match call.from_display.as_deref() {
            Some(name) if !name.trim().is_empty() => {
                format!("{} <sip:{user}@{local}>", quoted(name))
            }
            _ => format!("<sip:{user}@{local}>"),
        };
        let remote_uri = if call.to.trim_start().starts_with('<') {
            call.to.trim().to_string()
        } else {
            format!("<{}>", call.to.trim())
        };
        let mut dialog = Dialog::outgoing(
            handle,
            call_id,
            local_uri,
            local_tag,
            remote_uri,
            call.request_uri.clone(),
            to,
            Some(local),
            1,
        );
        let transport_param = if to.transport.is_reliable() {
            ";transport=tcp"
        } else {
            ""
        };
        let mut request = initial_request(
            &dialog,
            Method::Invite,
            &call.request_uri,
            &branch,
            &self.config.user_agent,
        )
        .header("Contact", &format!("<sip:{user}@{local}{transport_param}>"))
        .header("Allow", super::ALLOW)
        .header("Supported", "");
        for (name, value) in &call.extra_headers {
            if is_token(name) {
                request = request.header(name, value);
            }
        }
        let bytes = Bytes::from(request.body("application/sdp", &call.offer).build());
        let key = dialog.client_key(&branch, "INVITE");
        dialog.uac = Some(UacState {
            invite_key: key.clone(),
            request_uri: call.request_uri,
            provisional: false,
            last_progress: 0,
            cancel: CancelState::NotRequested,
        });
        self.dialog_index
            .insert((dialog.call_id.clone(), dialog.local_tag.clone()), handle);
        self.calls.insert(handle, dialog);
        self.outgoing_calls += 1;
        let send = self.start_client(handle, ClientRole::Invite, to, key, bytes, now);
        (handle, vec![send])
    }

    /// Withdraws an outgoing call: CANCEL while it rings (only after a
    /// provisional response arrived, RFC 3261 §9.1 — before that the CANCEL
    /// waits for one), BYE if it was answered meanwhile. The call always
    /// ends with [`CallEvent::Ended`] (after `Rejected { 487 }` in the
    /// usual case); no `Answered` is reported once cancelled. For any other
    /// call this is [`Endpoint::hangup`].
    pub fn cancel(&mut self, call: CallHandle, now: Instant) -> Vec<Action> {
        let Some(dialog) = self.calls.get_mut(&call) else {
            return Vec::new();
        };
        let early = dialog.state == DialogState::Early;
        match dialog.uac.as_mut() {
            Some(uac) if early => match uac.cancel {
                CancelState::NotRequested if uac.provisional => self.send_cancel(call, now),
                CancelState::NotRequested => {
                    uac.cancel = CancelState::AwaitingProvisional;
                    Vec::new()
                }
                CancelState::AwaitingProvisional | CancelState::Sent { .. } => Vec::new(),
            },
            _ => self.hangup(call, now),
        }
    }

    /// Reports the outcome of the REFER accepted in `call`'s dialog: a
    /// NOTIFY (Event: refer, Subscription-State: terminated) whose
    /// message/sipfrag body is `SIP/2.0 <status> <reason>` (RFC 3515 §2.4.5).
    /// Nothing happens when no REFER is pending or the dialog is gone.
    pub fn refer_outcome(&mut self, call: CallHandle, status: u16, now: Instant) -> Vec<Action> {
        let branch = self.new_branch();
        let user_agent = self.config.user_agent.clone();
        let Some(dialog) = self.calls.get_mut(&call) else {
            return Vec::new();
        };
        if !matches!(dialog.state, DialogState::Answered | DialogState::Confirmed) {
            return Vec::new();
        }
        let Some(refer_cseq) = dialog.refer_cseq.take() else {
            return Vec::new();
        };
        dialog.local_cseq = dialog.local_cseq.saturating_add(1);
        let cseq = dialog.local_cseq;
        let user = NameAddr::parse(&dialog.local_uri, "From")
            .ok()
            .and_then(|addr| addr.uri.user.map(|u| u.to_string()))
            .unwrap_or_else(|| "hotline".to_string());
        let transport_param = if dialog.peer.transport.is_reliable() {
            ";transport=tcp"
        } else {
            ""
        };
        let contact = format!(
            "<sip:{}@{}{transport_param}>",
            escape_user(&user),
            dialog.local_host()
        );
        let fragment = format!("SIP/2.0 {status} {}\r\n", reason_phrase(status));
        let bytes = dialog
            .request(Method::Notify, cseq, &branch, &user_agent)
            .header("Event", &format!("refer;id={refer_cseq}"))
            .header("Subscription-State", "terminated;reason=noresource")
            .header("Contact", &contact)
            .body("message/sipfrag;version=2.0", fragment.as_bytes())
            .build();
        let key = dialog.client_key(&branch, "NOTIFY");
        let peer = dialog.peer;
        vec![self.start_client(call, ClientRole::Notify, peer, key, Bytes::from(bytes), now)]
    }

    /// CANCEL for the INVITE of `call` (§9.1): same Request-URI, Call-ID,
    /// From, To (no tag), CSeq number and top Via as the INVITE.
    fn send_cancel(&mut self, call: CallHandle, now: Instant) -> Vec<Action> {
        let give_up_at = now + self.config.timers.t1 * 64;
        let user_agent = self.config.user_agent.clone();
        let Some(dialog) = self.calls.get_mut(&call) else {
            return Vec::new();
        };
        let Some(uac) = dialog.uac.as_mut() else {
            return Vec::new();
        };
        uac.cancel = CancelState::Sent { give_up_at };
        let branch = uac.invite_key.branch.clone();
        let request_uri = uac.request_uri.clone();
        let bytes =
            initial_request(dialog, Method::Cancel, &request_uri, &branch, &user_agent).build();
        let key = dialog.client_key(&branch, "CANCEL");
        let peer = dialog.peer;
        self.call_timers.push(Reverse((give_up_at, call)));
        vec![self.start_client(call, ClientRole::Cancel, peer, key, Bytes::from(bytes), now)]
    }

    /// 64*T1 after our CANCEL the INVITE still has no final response: the
    /// phone is not playing by the rules, so the call is given up.
    pub(super) fn give_up_cancelled(&mut self, call: CallHandle) -> Vec<Action> {
        if let Some(key) = self
            .calls
            .get(&call)
            .and_then(|d| d.uac.as_ref())
            .map(|uac| uac.invite_key.clone())
        {
            self.client.terminate(&key);
            self.client_index.remove(&(key.branch, key.method));
        }
        let mut actions = vec![Action::Call(call, CallEvent::Rejected { status: 408 })];
        actions.extend(self.end_call(call));
        actions
    }

    /// A response to one of our INVITEs.
    pub(super) fn on_invite_response(
        &mut self,
        msg: &Message,
        status: u16,
        entry: ClientRef,
        now: Instant,
    ) -> Vec<Action> {
        if status < 200 {
            self.client.on_response(&entry.key, status, None, now);
            return self.on_provisional(entry.call, status, now);
        }
        if status < 300 {
            self.client.on_response(&entry.key, status, None, now);
            return self.on_success(msg, entry, now);
        }
        // A final non-2xx: the transaction ACKs it (and every
        // retransmission of it) with the same branch (§17.1.1.3).
        let request_uri = self
            .calls
            .get(&entry.call)
            .and_then(|d| d.uac.as_ref())
            .map(|uac| uac.request_uri.clone());
        let ack = Bytes::from(failure_ack(
            msg,
            request_uri.as_deref(),
            &entry.key,
            &self.config.user_agent,
        ));
        let mut actions = Vec::new();
        let mut first = false;
        for event in self.client.on_response(&entry.key, status, Some(ack), now) {
            match event {
                ClientEvent::Transmit(bytes) => actions.push(Action::Send {
                    to: entry.peer,
                    bytes,
                }),
                ClientEvent::Response(_) => first = true,
                ClientEvent::Timeout | ClientEvent::Terminated => {}
            }
        }
        let ringing = self
            .calls
            .get(&entry.call)
            .is_some_and(|d| d.uac.is_some() && d.state == DialogState::Early);
        if first && ringing {
            actions.push(Action::Call(entry.call, CallEvent::Rejected { status }));
            actions.extend(self.end_call(entry.call));
        }
        actions
    }

    fn on_provisional(&mut self, call: CallHandle, status: u16, now: Instant) -> Vec<Action> {
        let Some(dialog) = self.calls.get_mut(&call) else {
            return Vec::new();
        };
        if dialog.state != DialogState::Early {
            return Vec::new();
        }
        let Some(uac) = dialog.uac.as_mut() else {
            return Vec::new();
        };
        uac.provisional = true;
        match uac.cancel {
            CancelState::AwaitingProvisional => self.send_cancel(call, now),
            CancelState::Sent { .. } => Vec::new(),
            CancelState::NotRequested if status > 100 && status != uac.last_progress => {
                uac.last_progress = status;
                vec![Action::Call(call, CallEvent::Progress { status })]
            }
            CancelState::NotRequested => Vec::new(),
        }
    }

    /// A 2xx: the first one answers the call (or, if we withdrew it
    /// meanwhile, is ACKed and hung up); its retransmissions get the same
    /// ACK; a 2xx from another fork (another To tag) gets ACK and BYE.
    fn on_success(&mut self, msg: &Message, entry: ClientRef, now: Instant) -> Vec<Action> {
        let Some(to_tag) = msg
            .to_header()
            .ok()
            .and_then(|to| to.tag().map(str::to_string))
        else {
            return Vec::new(); // a 2xx without a To tag forms no dialog
        };
        let index = (entry.key.branch.clone(), entry.key.method.clone());
        if let Some((tag, ack)) = &entry.acked {
            if *tag == to_tag {
                return vec![Action::Send {
                    to: entry.peer,
                    bytes: ack.clone(),
                }];
            }
            return self.hang_up_stray(msg, &entry, now);
        }
        let live = self
            .calls
            .get(&entry.call)
            .is_some_and(|d| d.uac.is_some() && d.state == DialogState::Early);
        if !live {
            // The call was given up before this 2xx: end the dialog the
            // phone thinks it has.
            return self.hang_up_stray(msg, &entry, now);
        }
        let branch = self.new_branch();
        let user_agent = self.config.user_agent.clone();
        let invite_cseq = msg.cseq().map(|c| c.seq).unwrap_or(1);
        let Some(dialog) = self.calls.get_mut(&entry.call) else {
            return Vec::new();
        };
        dialog.adopt_answer(msg);
        dialog.state = DialogState::Confirmed;
        let ack = Bytes::from(
            dialog
                .request(Method::Ack, invite_cseq, &branch, &user_agent)
                .build(),
        );
        let withdrawn = dialog
            .uac
            .as_ref()
            .is_some_and(|uac| uac.cancel != CancelState::NotRequested);
        if let Some(stored) = self.client_index.get_mut(&index) {
            stored.acked = Some((to_tag, ack.clone()));
        }
        let mut actions = vec![Action::Send {
            to: entry.peer,
            bytes: ack,
        }];
        if withdrawn {
            // 200 crossed our CANCEL: the agent answered a call we no
            // longer want (§9.1), so it is hung up at once.
            actions.extend(self.send_bye(entry.call, now));
        } else {
            actions.push(Action::Call(
                entry.call,
                CallEvent::Answered {
                    answer: Bytes::copy_from_slice(msg.body()),
                },
            ));
        }
        actions
    }

    /// ACK and BYE for a dialog a 2xx created that we do not keep.
    fn hang_up_stray(&mut self, msg: &Message, entry: &ClientRef, now: Instant) -> Vec<Action> {
        let (Ok(from), Ok(to), Ok(call_id), Ok(cseq)) = (
            msg.from_header(),
            msg.to_header(),
            msg.call_id(),
            msg.cseq(),
        ) else {
            return Vec::new();
        };
        let local_addr = msg.top_via().ok().and_then(|via| {
            let host = via.host.trim_start_matches('[').trim_end_matches(']');
            host.parse::<IpAddr>()
                .ok()
                .map(|ip| SocketAddr::new(ip, via.sent_by_port()))
        });
        let mut stray = Dialog::outgoing(
            entry.call,
            call_id.to_string(),
            strip_tag(msg.header("From").unwrap_or("")),
            from.tag().unwrap_or("").to_string(),
            strip_tag(msg.header("To").unwrap_or("")),
            String::new(),
            entry.peer,
            local_addr,
            cseq.seq,
        );
        stray.adopt_answer(msg);
        if stray.remote_target.is_empty() {
            // No Contact: nowhere to address ACK or BYE but the To URI.
            stray.remote_target = to.uri.as_str().to_string();
        }
        let ack_branch = self.new_branch();
        let bye_branch = self.new_branch();
        let user_agent = &self.config.user_agent;
        let ack = stray
            .request(Method::Ack, cseq.seq, &ack_branch, user_agent)
            .build();
        let bye = stray
            .request(
                Method::Bye,
                cseq.seq.saturating_add(1),
                &bye_branch,
                user_agent,
            )
            .build();
        let key = stray.client_key(&bye_branch, "BYE");
        vec![
            Action::Send {
                to: entry.peer,
                bytes: Bytes::from(ack),
            },
            self.start_client(
                entry.call,
                ClientRole::StrayBye,
                entry.peer,
                key,
                Bytes::from(bye),
                now,
            ),
        ]
    }
}

/// The INVITE that opens a dialog, or its CANCEL: Via with the INVITE's
/// branch, From with our tag, To still without one, CSeq 1.
fn initial_request(
    dialog: &Dialog,
    method: Method,
    request_uri: &str,
    branch: &str,
    user_agent: &str,
) -> RequestBuilder {
    let transport = dialog.peer.transport.as_str().to_ascii_uppercase();
    let cseq = format!("1 {}", method.as_str());
    RequestBuilder::new(method, request_uri)
        .header(
            "Via",
            &format!(
                "SIP/2.0/{transport} {};branch={branch};rport",
                dialog.local_host()
            ),
        )
        .header("Max-Forwards", "70")
        .header(
            "From",
            &format!("{};tag={}", dialog.local_uri, dialog.local_tag),
        )
        .header("To", &dialog.remote_uri)
        .header("Call-ID", &dialog.call_id)
        .header("CSeq", &cseq)
        .header("User-Agent", user_agent)
}

/// The ACK of a final non-2xx (§17.1.1.3): the INVITE's branch and top
/// Via, the response's To (with its tag), CSeq method ACK, and the
/// INVITE's Request-URI (`request_uri`; the To URI when the call is gone).
fn failure_ack(
    msg: &Message,
    request_uri: Option<&str>,
    key: &TransactionKey,
    user_agent: &str,
) -> Vec<u8> {
    let seq = msg.cseq().map(|c| c.seq).unwrap_or(1);
    let uri = match request_uri {
        Some(uri) => uri.to_string(),
        None => msg
            .to_header()
            .map(|to| to.uri.as_str().to_string())
            .unwrap_or_default(),
    };
    let mut request = RequestBuilder::new(Method::Ack, &uri);
    if let Some(via) = msg.headers("Via").next() {
        request = request.header("Via", via);
    } else {
        request = request.header("Via", &format!("SIP/2.0/UDP 0.0.0.0;branch={}", key.branch));
    }
    request = request.header("Max-Forwards", "70");
    for name in ["From", "To", "Call-ID"] {
        if let Some(value) = msg.header(name) {
            request = request.header(name, value);
        }
    }
    request
        .header("CSeq", &format!("{seq} ACK"))
        .header("User-Agent", user_agent)
        .build()
}

/// The address a Contact URI names, when its host is an IP literal.
fn contact_address(contact: &str) -> Option<SocketAddr> {
    let uri = Uri::parse(contact).ok()?;
    let host = uri.host.trim_start_matches('[').trim_end_matches(']');
    let ip: IpAddr = host.parse().ok()?;
    Some(SocketAddr::new(ip, uri.port.unwrap_or(5060)))
}

/// A display name as a SIP quoted-string (RFC 3261 §25.1): `"` and `\`
/// escaped, control characters dropped. Any UTF-8 is allowed.
fn quoted(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 2);
    out.push('"');
    for c in name.trim().chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The user part of a SIP URI with everything outside `unreserved` and
/// `user-unreserved` %-escaped (RFC 3261 §25.1), so a number like
/// `+7 916 ...` cannot break the URI.
fn escape_user(user: &str) -> String {
    let mut out = String::with_capacity(user.len());
    for b in user.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.!~*'()&=+$,;?/".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    if out.is_empty() {
        out.push_str("anonymous");
    }
    out
}

/// A header name that is a SIP token (RFC 3261 §25.1).
fn is_token(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&b))
}

/// Reason phrases for the statuses a transfer's outcome can take.
fn reason_phrase(status: u16) -> &'static str {
    match status {
        100 => "Trying",
        180 => "Ringing",
        183 => "Session Progress",
        200 => "OK",
        202 => "Accepted",
        403 => "Forbidden",
        404 => "Not Found",
        408 => "Request Timeout",
        480 => "Temporarily Unavailable",
        486 => "Busy Here",
        487 => "Request Terminated",
        488 => "Not Acceptable Here",
        500 => "Server Internal Error",
        503 => "Service Unavailable",
        603 => "Decline",
        _ => match status / 100 {
            1 => "Progress",
            2 => "Success",
            3 => "Redirected",
            4 => "Client Error",
            5 => "Server Error",
            _ => "Failure",
        },
    }
}

#[cfg(test)]
mod tests {
    //! The agent leg driven with virtual time: the "phone" here is a few
    //! hand-built responses and requests.
    use super::*;
    use crate::sip::endpoint::tests::{
        T0_MS, answer, call_events, caller, config, endpoint_with, invite, nonce_of, register,
        sent, status,
    };
    use crate::sip::endpoint::{EndpointConfig, IncomingCall};
    use crate::sip::message::{self, Limits};
    use std::time::Duration;

    const LOCAL: &str = "10.0.0.1:5060";
    const CONTACT: &str = "sip:anna@10.2.0.5:5062";
    const OFFER: &str = "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\nm=audio 30000 RTP/AVP 0\r\n";
    const ANSWER: &str = "v=0\r\no=- 2 2 IN IP4 10.2.0.5\r\ns=-\r\nc=IN IP4 10.2.0.5\r\nt=0 0\r\nm=audio 4002 RTP/AVP 0\r\n";

    fn phone() -> Peer {
        Peer {
            addr: "10.2.0.5:5062".parse().unwrap(),
            transport: Transport::Udp,
            conn: None,
        }
    }

    fn outgoing() -> OutgoingCall {
        OutgoingCall {
            request_uri: CONTACT.into(),
            to: "sip:anna@hotline".into(),
            from_user: "79161234567".into(),
            from_display: Some("Абитуриент · \"приём\"".into()),
            extra_headers: vec![
                (
                    "Call-Info".into(),
                    "<http://127.0.0.1:8080/inquiries/42>;purpose=info".into(),
                ),
                ("Bad Name".into(), "dropped".into()),
            ],
            offer: Bytes::from_static(OFFER.as_bytes()),
            local: LOCAL.parse().unwrap(),
        }
    }

    fn parse(text: &str) -> Message {
        Message::parse(Bytes::from(text.to_string()), &Limits::default()).unwrap()
    }

    fn branch_of(text: &str) -> String {
        parse(text).top_via().unwrap().branch().unwrap().to_string()
    }

    /// The phone's response to `request`: `tag` on To, its Contact, `body`.
    fn reply(request: &str, status: u16, tag: Option<&str>, body: &str) -> Bytes {
        let mut response = message::response(&parse(request), status, reason_phrase(status));
        if let Some(tag) = tag {
            response = response.to_tag(tag);
        }
        response = response.header("Contact", &format!("<{CONTACT}>"));
        if !body.is_empty() {
            response = response.body("application/sdp", body.as_bytes());
        }
        Bytes::from(response.build())
    }

    /// A request from the phone in the dialog it answered with `tag`.
    fn from_phone(invite: &str, tag: &str, method: &str, cseq: u32, extra: &str) -> Bytes {
        let msg = parse(invite);
        Bytes::from(format!(
            "{method} sip:79161234567@{LOCAL} SIP/2.0\r\nVia: SIP/2.0/UDP 10.2.0.5:5062;branch=z9hG4bK{method}{cseq}\r\nMax-Forwards: 70\r\nFrom: <sip:anna@hotline>;tag={tag}\r\nTo: {}\r\nCall-ID: {}\r\nCSeq: {cseq} {method}\r\nContact: <{CONTACT}>\r\n{extra}Content-Length: 0\r\n\r\n",
            msg.header("From").unwrap(),
            msg.call_id().unwrap(),
        ))
    }

    fn feed(e: &mut Endpoint, bytes: Bytes, at: Instant) -> Vec<Action> {
        e.on_message(bytes, phone(), at, T0_MS)
    }

    fn place(e: &mut Endpoint, t0: Instant) -> (CallHandle, String) {
        let (handle, actions) = e.place_call(outgoing(), phone(), t0);
        let invite = sent(&actions).remove(0);
        (handle, invite)
    }

    /// Fires every timer up to `until`, collecting what was sent and the events.
    fn run(e: &mut Endpoint, until: Instant) -> (Vec<String>, Vec<CallEvent>) {
        let mut out = (Vec::new(), Vec::new());
        while let Some(at) = e.poll_timeout(until, T0_MS).filter(|at| *at <= until) {
            let actions = e.handle_timeout(at, T0_MS);
            out.0.extend(sent(&actions));
            out.1.extend(call_events(&actions));
        }
        out
    }

    fn answered(e: &mut Endpoint, t0: Instant) -> (CallHandle, String) {
        let (handle, invite) = place(e, t0);
        let actions = feed(e, reply(&invite, 200, Some("ph1"), ANSWER), t0);
        assert!(matches!(
            call_events(&actions).as_slice(),
            [CallEvent::Answered { .. }]
        ));
        (handle, invite)
    }

    #[test]
    fn invite_shows_the_caller_and_retransmits_until_timer_b() {
        let mut e = endpoint_with(&[]);
        let t0 = Instant::now();
        let (handle, invite) = place(&mut e, t0);
        let msg = parse(&invite);
        assert_eq!(msg.request_uri(), Some(CONTACT));
        let from = msg.from_header().unwrap();
        assert_eq!(from.display_name.as_deref(), Some("Абитуриент · \"приём\""));
        assert_eq!(from.uri.user.as_deref(), Some("79161234567"));
        assert!(from.tag().is_some());
        let to = msg.to_header().unwrap();
        assert_eq!(to.uri.as_str(), "sip:anna@hotline");
        assert!(to.tag().is_none());
        assert_eq!(
            msg.header("Call-Info"),
            Some("<http://127.0.0.1:8080/inquiries/42>;purpose=info")
        );
        assert!(msg.header("Bad Name").is_none());
        assert_eq!(
            msg.header("Contact"),
            Some("<sip:79161234567@10.0.0.1:5060>")
        );
        assert_eq!(msg.header("Content-Type"), Some("application/sdp"));
        assert_eq!(msg.body(), OFFER.as_bytes());
        assert_eq!(e.call_count(), 1);
        // Nobody answers: Timer A resends at 0.5, 1.5, 3.5 s ..., Timer B
        // gives up after 64*T1 = 32 s.
        let (resent, events) = run(&mut e, t0 + Duration::from_secs(40));
        assert!(resent.len() >= 5 && resent.iter().all(|r| *r == invite));
        assert_eq!(
            events,
            [CallEvent::Rejected { status: 408 }, CallEvent::Ended]
        );
        assert_eq!(e.call_count(), 0);
        assert!(e.cancel(handle, t0).is_empty(), "unknown now");
    }

    #[test]
    fn ringing_then_answer_is_acked_and_retransmissions_get_the_same_ack() {
        let mut e = endpoint_with(&[]);
        let t0 = Instant::now();
        let (_, invite) = place(&mut e, t0);
        assert!(call_events(&feed(&mut e, reply(&invite, 100, None, ""), t0)).is_empty());
        let ringing = feed(&mut e, reply(&invite, 180, Some("ph1"), ""), t0);
        assert_eq!(call_events(&ringing), [CallEvent::Progress { status: 180 }]);
        assert!(call_events(&feed(&mut e, reply(&invite, 180, Some("ph1"), ""), t0)).is_empty());
        let ok = reply(&invite, 200, Some("ph1"), ANSWER);
        let actions = feed(&mut e, ok.clone(), t0 + Duration::from_secs(3));
        assert_eq!(
            call_events(&actions),
            [CallEvent::Answered {
                answer: Bytes::from_static(ANSWER.as_bytes())
            }]
        );
        let acks = sent(&actions);
        assert_eq!(acks.len(), 1);
        let ack = parse(&acks[0]);
        assert_eq!(ack.method(), Some(&Method::Ack));
        assert_eq!(ack.request_uri(), Some(CONTACT), "ACK goes to the Contact");
        assert_eq!(ack.header("CSeq"), Some("1 ACK"));
        assert_eq!(ack.to_header().unwrap().tag(), Some("ph1"));
        assert_ne!(
            branch_of(&acks[0]),
            branch_of(&invite),
            "a 2xx ACK is its own transaction"
        );
        // The 200 is retransmitted: the same ACK again, no new event.
        let again = feed(&mut e, ok, t0 + Duration::from_secs(4));
        assert_eq!(sent(&again), acks);
        assert!(call_events(&again).is_empty());
        // The INVITE is no longer retransmitted.
        let (resent, events) = run(&mut e, t0 + Duration::from_secs(60));
        assert!(resent.is_empty() && events.is_empty(), "{resent:?}");
    }

    #[test]
    fn a_second_fork_that_answers_gets_ack_and_bye() {
        let mut e = endpoint_with(&[]);
        let t0 = Instant::now();
        let (handle, invite) = answered(&mut e, t0);
        let other = feed(&mut e, reply(&invite, 200, Some("fork2"), ANSWER), t0);
        let out = sent(&other);
        assert_eq!(out.len(), 2, "{out:?}");
        assert!(out[0].starts_with("ACK ") && out[1].starts_with("BYE "));
        for m in &out {
            assert_eq!(parse(m).to_header().unwrap().tag(), Some("fork2"));
        }
        assert!(call_events(&other).is_empty());
        // The stray BYE's answer changes nothing; our call is still up.
        feed(&mut e, reply(&out[1], 200, None, ""), t0);
        assert_eq!(e.call_count(), 1);
        // The agent hangs up ours.
        let bye = feed(&mut e, from_phone(&invite, "ph1", "BYE", 1, ""), t0);
        assert_eq!(status(&sent(&bye)[0]), 200);
        assert_eq!(call_events(&bye), [CallEvent::HungUp, CallEvent::Ended]);
        assert_eq!(e.call_count(), 0);
        assert!(e.hangup(handle, t0).is_empty());
    }

    #[test]
    fn cancel_waits_for_a_provisional_and_487_ends_the_call() {
        let mut e = endpoint_with(&[]);
        let t0 = Instant::now();
        let (handle, invite) = place(&mut e, t0);
        assert!(
            e.cancel(handle, t0).is_empty(),
            "no CANCEL before a provisional"
        );
        let actions = feed(&mut e, reply(&invite, 180, Some("ph1"), ""), t0);
        assert!(
            call_events(&actions).is_empty(),
            "no progress once withdrawn"
        );
        let cancel_text = sent(&actions).remove(0);
        let cancel = parse(&cancel_text);
        assert_eq!(cancel.method(), Some(&Method::Cancel));
        assert_eq!(cancel.request_uri(), Some(CONTACT));
        assert_eq!(branch_of(&cancel_text), branch_of(&invite));
        assert_eq!(cancel.header("CSeq"), Some("1 CANCEL"));
        assert_eq!(cancel.header("Call-ID"), parse(&invite).header("Call-ID"));
        assert!(cancel.to_header().unwrap().tag().is_none());
        assert!(feed(&mut e, reply(&cancel_text, 200, Some("ph1"), ""), t0).is_empty());
        let terminated = reply(&invite, 487, Some("ph1"), "");
        let actions = feed(&mut e, terminated.clone(), t0);
        assert_eq!(
            call_events(&actions),
            [CallEvent::Rejected { status: 487 }, CallEvent::Ended]
        );
        let ack = sent(&actions).remove(0);
        assert!(ack.starts_with(&format!("ACK {CONTACT} SIP/2.0")), "{ack}");
        assert_eq!(
            branch_of(&ack),
            branch_of(&invite),
            "non-2xx ACK: same branch"
        );
        // A retransmitted 487 is ACKed again, quietly.
        let again = feed(&mut e, terminated, t0 + Duration::from_secs(1));
        assert_eq!(sent(&again), [ack]);
        assert!(call_events(&again).is_empty());
        assert_eq!(e.call_count(), 0);
    }

    #[test]
    fn cancel_after_ringing_goes_at_once_and_twice_is_once() {
        let mut e = endpoint_with(&[]);
        let t0 = Instant::now();
        let (handle, invite) = place(&mut e, t0);
        feed(&mut e, reply(&invite, 180, Some("ph1"), ""), t0);
        let cancel = sent(&e.cancel(handle, t0));
        assert!(cancel[0].starts_with("CANCEL "));
        assert!(e.cancel(handle, t0).is_empty());
        assert!(e.hangup(handle, t0).is_empty());
    }

    #[test]
    fn answer_crossing_our_cancel_is_acked_and_hung_up() {
        let mut e = endpoint_with(&[]);
        let t0 = Instant::now();
        let (handle, invite) = place(&mut e, t0);
        feed(&mut e, reply(&invite, 180, Some("ph1"), ""), t0);
        e.cancel(handle, t0);
        let actions = feed(&mut e, reply(&invite, 200, Some("ph1"), ANSWER), t0);
        let out = sent(&actions);
        assert!(
            out[0].starts_with("ACK ") && out[1].starts_with("BYE "),
            "{out:?}"
        );
        assert!(call_events(&actions).is_empty(), "never Answered");
        let done = feed(&mut e, reply(&out[1], 200, None, ""), t0);
        assert_eq!(call_events(&done), [CallEvent::Ended]);
        assert_eq!(e.call_count(), 0);
    }

    #[test]
    fn busy_is_acked_and_rejected() {
        let mut e = endpoint_with(&[]);
        let t0 = Instant::now();
        let (_, invite) = place(&mut e, t0);
        let actions = feed(&mut e, reply(&invite, 486, Some("ph1"), ""), t0);
        assert!(sent(&actions)[0].starts_with("ACK "));
        assert_eq!(
            call_events(&actions),
            [CallEvent::Rejected { status: 486 }, CallEvent::Ended]
        );
    }

    #[test]
    fn withdrawn_before_any_response_ends_on_timer_b_without_cancel() {
        let mut e = endpoint_with(&[]);
        let t0 = Instant::now();
        let (handle, _) = place(&mut e, t0);
        assert!(e.cancel(handle, t0).is_empty());
        let (out, events) = run(&mut e, t0 + Duration::from_secs(40));
        assert!(out.iter().all(|m| m.starts_with("INVITE ")));
        assert_eq!(
            events,
            [CallEvent::Rejected { status: 408 }, CallEvent::Ended]
        );
    }

    #[test]
    fn a_phone_that_ignores_our_cancel_is_given_up_after_64_t1() {
        let mut e = endpoint_with(&[]);
        let t0 = Instant::now();
        let (handle, invite) = place(&mut e, t0);
        feed(&mut e, reply(&invite, 180, Some("ph1"), ""), t0);
        e.cancel(handle, t0);
        let (out, events) = run(&mut e, t0 + Duration::from_secs(60));
        assert!(
            out.iter().any(|m| m.starts_with("CANCEL ")),
            "CANCEL retransmitted"
        );
        assert_eq!(
            events,
            [CallEvent::Rejected { status: 408 }, CallEvent::Ended]
        );
        assert_eq!(e.call_count(), 0);
        assert_eq!(e.client_index.len(), 0, "no transaction left behind");
    }

    #[test]
    fn our_hangup_sends_bye_along_the_route_set() {
        let mut e = endpoint_with(&[]);
        let t0 = Instant::now();
        let (handle, invite) = place(&mut e, t0);
        let ok = String::from_utf8(reply(&invite, 200, Some("ph1"), ANSWER).to_vec())
            .unwrap()
            .replacen(
                "Contact:",
                "Record-Route: <sip:10.9.9.8;lr>, <sip:10.9.9.9;lr>\r\nContact:",
                1,
            );
        let actions = feed(&mut e, Bytes::from(ok), t0);
        let ack = parse(&sent(&actions)[0]);
        assert_eq!(
            ack.header_list("Route"),
            ["<sip:10.9.9.9;lr>", "<sip:10.9.9.8;lr>"],
            "the reversed Record-Route (§12.1.2)"
        );
        let bye_text = sent(&e.hangup(handle, t0)).remove(0);
        let bye = parse(&bye_text);
        assert_eq!(bye.request_uri(), Some(CONTACT));
        assert_eq!(bye.to_header().unwrap().tag(), Some("ph1"));
        assert_eq!(bye.header("CSeq"), Some("2 BYE"));
        assert_eq!(bye.header_list("Route").len(), 2);
        let done = feed(&mut e, reply(&bye_text, 200, None, ""), t0);
        assert_eq!(call_events(&done), [CallEvent::Ended]);
    }

    #[test]
    fn refer_is_accepted_reported_and_its_outcome_notified() {
        let mut e = endpoint_with(&[]);
        let t0 = Instant::now();
        let (handle, invite) = answered(&mut e, t0);
        let refer = from_phone(
            &invite,
            "ph1",
            "REFER",
            7,
            "Refer-To: <sip:admission@hotline>\r\nReferred-By: <sip:anna@hotline>\r\n",
        );
        let actions = feed(&mut e, refer, t0);
        assert_eq!(status(&sent(&actions)[0]), 202);
        assert_eq!(
            call_events(&actions),
            [CallEvent::Refer {
                target: "sip:admission@hotline".into(),
                referred_by: Some("sip:anna@hotline".into()),
            }]
        );
        let notify_text = sent(&e.refer_outcome(handle, 200, t0)).remove(0);
        let notify = parse(&notify_text);
        assert_eq!(notify.method(), Some(&Method::Notify));
        assert_eq!(notify.header("Event"), Some("refer;id=7"));
        assert!(
            notify
                .header("Subscription-State")
                .unwrap()
                .starts_with("terminated")
        );
        assert!(
            notify
                .header("Content-Type")
                .unwrap()
                .starts_with("message/sipfrag")
        );
        assert_eq!(notify.body(), b"SIP/2.0 200 OK\r\n");
        assert_eq!(notify.to_header().unwrap().tag(), Some("ph1"));
        assert!(
            e.refer_outcome(handle, 200, t0).is_empty(),
            "one NOTIFY per REFER"
        );
        feed(&mut e, reply(&notify_text, 200, None, ""), t0);
        // Without Refer-To: 400. Unknown dialog or none: 481.
        let bare = feed(&mut e, from_phone(&invite, "ph1", "REFER", 8, ""), t0);
        assert_eq!(status(&sent(&bare)[0]), 400);
        assert!(call_events(&bare).is_empty());
        let stranger = String::from_utf8(
            from_phone(&invite, "ph1", "REFER", 9, "Refer-To: <sip:x@y>\r\n").to_vec(),
        )
        .unwrap()
        .replace("Call-ID: ", "Call-ID: other-");
        assert_eq!(
            status(&sent(&feed(&mut e, Bytes::from(stranger.clone()), t0))[0]),
            481
        );
        let untagged = stranger
            .lines()
            .map(|l| {
                if l.starts_with("To:") {
                    "To: <sip:79161234567@10.0.0.1>"
                } else {
                    l
                }
            })
            .collect::<Vec<_>>()
            .join("\r\n")
            .replace("branch=z9hG4bKREFER9", "branch=z9hG4bKREFER10")
            + "\r\n";
        assert_eq!(
            status(&sent(&feed(&mut e, Bytes::from(untagged), t0))[0]),
            481
        );
    }

    #[test]
    fn refer_on_an_incoming_call_is_reported_too() {
        let mut e = endpoint_with(&[]);
        let t0 = Instant::now();
        let actions = e.on_message(invite("r1", "rc1"), caller(), t0, T0_MS);
        let Some(Action::Incoming(IncomingCall { handle, .. })) = actions
            .into_iter()
            .find(|a| matches!(a, Action::Incoming(_)))
        else {
            panic!("no Incoming")
        };
        let ok = sent(&e.answer(handle, "v=0\r\n", LOCAL.parse().unwrap(), t0));
        let tag = parse(&ok[0])
            .to_header()
            .unwrap()
            .tag()
            .unwrap()
            .to_string();
        let refer = format!(
            "REFER sip:hotline@hotline SIP/2.0\r\nVia: SIP/2.0/UDP 10.1.0.9:5060;branch=z9hG4bKrefer\r\nFrom: <sip:79161234567@10.1.0.9>;tag=caller\r\nTo: <sip:hotline@hotline>;tag={tag}\r\nCall-ID: rc1\r\nCSeq: 2 REFER\r\nr: <sip:education@hotline>\r\nContent-Length: 0\r\n\r\n"
        );
        let actions = e.on_message(Bytes::from(refer), caller(), t0, T0_MS);
        assert_eq!(status(&sent(&actions)[0]), 202);
        assert_eq!(
            call_events(&actions),
            [CallEvent::Refer {
                target: "sip:education@hotline".into(),
                referred_by: None
            }]
        );
        let notify = sent(&e.refer_outcome(handle, 503, t0)).remove(0);
        assert!(notify.starts_with("NOTIFY sip:79161234567@10.1.0.9:5060 SIP/2.0"));
        assert!(notify.ends_with("SIP/2.0 503 Service Unavailable\r\n"));
    }

    #[test]
    fn hold_from_the_agent_is_a_reoffer_answered_like_any_other() {
        let mut e = endpoint_with(&[]);
        let t0 = Instant::now();
        let (handle, invite) = answered(&mut e, t0);
        let hold_sdp = ANSWER.replace("RTP/AVP 0\r\n", "RTP/AVP 0\r\na=sendonly\r\n");
        let reinvite = String::from_utf8(from_phone(&invite, "ph1", "INVITE", 2, "").to_vec())
            .unwrap()
            .replace(
                "Content-Length: 0\r\n\r\n",
                &format!(
                    "Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{hold_sdp}",
                    hold_sdp.len()
                ),
            );
        let actions = feed(&mut e, Bytes::from(reinvite), t0);
        assert_eq!(
            call_events(&actions),
            [CallEvent::Reoffer {
                offer: Some(Bytes::from(hold_sdp))
            }]
        );
        let ok = sent(&e.answer(handle, "v=0\r\n", LOCAL.parse().unwrap(), t0));
        assert_eq!(status(&ok[0]), 200);
        let info = feed(
            &mut e,
            from_phone(
                &invite,
                "ph1",
                "INFO",
                3,
                "Content-Type: application/dtmf-relay\r\n",
            ),
            t0,
        );
        assert!(matches!(
            call_events(&info).as_slice(),
            [CallEvent::Info { .. }]
        ));
    }

    #[test]
    fn outgoing_calls_do_not_count_against_max_calls() {
        let mut e = Endpoint::new(
            EndpointConfig {
                max_calls: 1,
                ..config()
            },
            5,
        );
        let t0 = Instant::now();
        for _ in 0..3 {
            place(&mut e, t0);
        }
        let actions = e.on_message(invite("m1", "mc1"), caller(), t0, T0_MS);
        assert!(actions.iter().any(|a| matches!(a, Action::Incoming(_))));
        assert_eq!(e.call_count(), 4);
    }

    #[test]
    fn a_tcp_target_gets_tcp_via_and_contact_and_no_retransmissions() {
        let mut e = endpoint_with(&[]);
        let t0 = Instant::now();
        let tcp = Peer {
            transport: Transport::Tcp,
            conn: Some(9),
            ..phone()
        };
        let (_, actions) = e.place_call(outgoing(), tcp, t0);
        assert!(matches!(actions[0], Action::Send { to, .. } if to == tcp));
        let invite = sent(&actions).remove(0);
        assert!(invite.contains("Via: SIP/2.0/TCP 10.0.0.1:5060;branch="));
        assert!(invite.contains(";transport=tcp>"));
        let (out, events) = run(&mut e, t0 + Duration::from_secs(40));
        assert!(out.is_empty());
        assert_eq!(
            events,
            [CallEvent::Rejected { status: 408 }, CallEvent::Ended]
        );
    }

    fn registered(e: &mut Endpoint, login: &str, via: Peer, source: Peer, t0: Instant) {
        let challenge = sent(&e.on_message(
            register(login, via, 1, &format!("{login}a"), None),
            source,
            t0,
            T0_MS,
        ));
        let auth = answer(login, &format!("pw-{login}"), &nonce_of(&challenge[0]));
        let ok = sent(&e.on_message(
            register(login, via, 2, &format!("{login}b"), Some(&auth)),
            source,
            t0,
            T0_MS,
        ));
        assert_eq!(status(&ok[0]), 200);
    }

    #[test]
    fn agent_targets_follow_the_nat_rule_and_login_at_finds_the_phone() {
        let mut e = endpoint_with(&["1001", "1002"]);
        let t0 = Instant::now();
        let direct = phone();
        registered(&mut e, "1001", direct, direct, t0);
        // 1002's REGISTER claims 192.168.1.20 in Via but comes from a NAT.
        let private = Peer {
            addr: "192.168.1.20:5060".parse().unwrap(),
            ..direct
        };
        let nat = Peer {
            addr: "203.0.113.7:40001".parse().unwrap(),
            ..direct
        };
        registered(&mut e, "1002", private, nat, t0);
        assert_eq!(
            e.agent_targets("1001", T0_MS),
            [("sip:1001@10.2.0.5:5062".to_string(), direct)]
        );
        assert_eq!(
            e.agent_targets("1002", T0_MS),
            [("sip:1002@192.168.1.20:5060".to_string(), nat)],
            "NAT: to the REGISTER's source"
        );
        assert!(e.agent_targets("nobody", T0_MS).is_empty());
        assert_eq!(e.login_at(direct.addr, T0_MS).as_deref(), Some("1001"));
        assert_eq!(e.login_at(nat.addr, T0_MS).as_deref(), Some("1002"));
        assert_eq!(
            e.login_at("203.0.113.7:5999".parse().unwrap(), T0_MS),
            None,
            "same IP, other port: maybe a caller behind the same NAT"
        );
        assert_eq!(e.login_at("10.99.0.1:5060".parse().unwrap(), T0_MS), None);
        // After expiry (Expires: 120) nothing is found.
        let later = T0_MS + 121_000;
        assert!(e.agent_targets("1001", later).is_empty());
        assert_eq!(e.login_at(direct.addr, later), None);
    }

    #[test]
    fn a_tcp_registration_is_reached_over_its_connection() {
        let mut e = endpoint_with(&["1003"]);
        let t0 = Instant::now();
        let flow = Peer {
            addr: "10.3.0.1:50000".parse().unwrap(),
            transport: Transport::Tcp,
            conn: Some(77),
        };
        registered(&mut e, "1003", flow, flow, t0);
        let targets = e.agent_targets("1003", T0_MS);
        assert_eq!(targets[0].1, flow);
    }

    #[test]
    fn a_2xx_without_to_tag_cannot_leave_the_call_ringing() {
        let mut e = endpoint_with(&[]);
        let t0 = Instant::now();
        let (_, invite) = place(&mut e, t0);
        feed(&mut e, reply(&invite, 180, Some("ph1"), ""), t0);
        let odd = feed(&mut e, reply(&invite, 200, None, ANSWER), t0);
        assert!(call_events(&odd).is_empty());
        let (_, events) = run(&mut e, t0 + Duration::from_secs(40));
        assert_eq!(
            events,
            [CallEvent::Rejected { status: 408 }, CallEvent::Ended]
        );
        assert_eq!(e.call_count(), 0);
    }

    #[test]
    fn garbage_responses_never_panic_and_the_call_ends_once() {
        let mut e = endpoint_with(&[]);
        let t0 = Instant::now();
        let (_, invite) = place(&mut e, t0);
        let mut samples: Vec<Vec<u8>> = Vec::new();
        for status in [100, 180, 183, 200, 302, 486, 699] {
            samples.push(reply(&invite, status, Some("g"), ANSWER).to_vec());
        }
        // A 2xx without a To tag, a status out of range, a response to no request.
        samples.push(reply(&invite, 200, None, ANSWER).to_vec());
        samples.push(
            String::from_utf8(reply(&invite, 180, None, "").to_vec())
                .unwrap()
                .replacen("180", "999", 1)
                .into_bytes(),
        );
        samples.push(reply(&invite, 200, Some("g"), "").to_vec().split_off(20));
        let mut rng = 0x9E37_79B9_7F4A_7C15u64;
        let mut ended = 0;
        for round in 0..2000 {
            let Some(base) = samples.get(round % samples.len()) else {
                continue;
            };
            let mut bytes = base.clone();
            for _ in 0..(round % 4) {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                let at = (rng as usize) % bytes.len().max(1);
                if let Some(b) = bytes.get_mut(at) {
                    *b = (rng >> 32) as u8;
                }
            }
            if round % 7 == 0 {
                bytes.truncate((rng as usize) % (bytes.len() + 1));
            }
            let actions = feed(&mut e, Bytes::from(bytes), t0);
            ended += call_events(&actions)
                .iter()
                .filter(|ev| **ev == CallEvent::Ended)
                .count();
        }
        let (_, events) = run(&mut e, t0 + Duration::from_secs(60));
        ended += events.iter().filter(|ev| **ev == CallEvent::Ended).count();
        assert!(ended <= 1, "Ended {ended} times");
    }
}
