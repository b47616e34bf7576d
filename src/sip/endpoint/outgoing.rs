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
use crate::sip::message::{Message, Method, RequestBuilder, Uri};
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
    /// is reached at the source as well.
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
    /// way). An exact address match wins; otherwise a login that is the only
    /// one registered from that IP (a phone may send calls from another
    /// port than its REGISTER).
    pub fn login_at(&self, source: SocketAddr, now_ms: i64) -> Option<String> {
        let mut by_ip: Option<&str> = None;
        let mut ip_ambiguous = false;
        for login in self.registrar.registered_logins() {
            for binding in self.registrar.lookup(login, now_ms) {
                if binding.source == source {
                    return Some(login.to_string());
                }
                if binding.source.ip() == source.ip() {
                    match by_ip {
                        Some(other) if other != login => ip_ambiguous = true,
                        _ => by_ip = Some(login),
                    }
                }
            }
        }
        by_ip.filter(|_| !ip_ambiguous).map(str::to_string)
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
        // The INVITE is an in-dialog request shape minus the To tag (which
        // `Dialog::request` leaves empty until the answer brings one).
        let mut request = invite_builder(&dialog, &branch, &self.config.user_agent)
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
        let user = strip_tag(&dialog.local_uri);
        let user = Uri::parse(
            user.trim_start_matches(|c| c != '<')
                .trim_matches(['<', '>']),
        )
        .ok()
        .and_then(|u| u.user.map(|u| u.to_string()))
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
            invite_builder_with(dialog, Method::Cancel, &request_uri, &branch, &user_agent).build();
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

/// The INVITE (or its CANCEL) of a dialog: Via with the INVITE's branch,
/// From with our tag, To without a tag, CSeq 1.
fn invite_builder(dialog: &Dialog, branch: &str, user_agent: &str) -> RequestBuilder {
    invite_builder_with(
        dialog,
        Method::Invite,
        &dialog.remote_target,
        branch,
        user_agent,
    )
}

fn invite_builder_with(
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
