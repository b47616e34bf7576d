//! The call side of the endpoint: INVITE dialogs as a UAS, and what every
//! dialog shares whichever side created it (calls we place are set up in
//! `outgoing.rs`).
//!
//! A new INVITE gets `100 Trying` at once and becomes an
//! [`Action::Incoming`]; the call layer decides (flow lookup, SDP, RTP port)
//! and answers with [`Endpoint::answer`] or [`Endpoint::reject`]. From then
//! on every in-dialog request (BYE, re-INVITE, INFO, REFER) is turned into a
//! [`CallEvent`] for that call, and [`Endpoint::hangup`] sends our BYE.
//! Timers (2xx retransmission, ACK timeout, client transactions) run on the
//! same `now` as the rest.

use super::{Action, Endpoint, Peer};
use crate::sip::dialog::{CallHandle, CancelState, Dialog, DialogState, strip_tag};
use crate::sip::message::{self, Message, Method, NameAddr};
use crate::sip::transaction::{ClientEvent, TransactionKey};
use bytes::Bytes;
use std::cmp::Reverse;
use std::net::SocketAddr;
use std::time::Instant;

/// A new call for the call layer to decide on.
#[derive(Debug, Clone, PartialEq)]
pub struct IncomingCall {
    pub handle: CallHandle,
    pub call_id: String,
    /// Request-URI user: the number dialled (`hotline`, `100`).
    pub dialled: String,
    /// The caller's number or user as in From (unnormalised).
    pub caller: String,
    pub caller_display: Option<String>,
    /// The SDP offer, if the INVITE carried one.
    pub offer: Option<Bytes>,
    pub peer: Peer,
    pub user_agent: Option<String>,
}

/// Something that happened in a call's dialog.
#[derive(Debug, Clone, PartialEq)]
pub enum CallEvent {
    /// The caller ACKed our 2xx: media may flow both ways.
    Confirmed,
    /// The caller gave up before we answered (CANCEL).
    Cancelled,
    /// The caller hung up (BYE).
    HungUp,
    /// INFO in the dialog (DTMF relay and friends).
    Info { content_type: String, body: Bytes },
    /// re-INVITE (hold, resume, new address): answer with
    /// [`Endpoint::answer`] again.
    Reoffer { offer: Option<Bytes> },
    /// Outgoing call: the agent's phone rings (180) or sends early media
    /// (183). `100 Trying` is not reported.
    Progress { status: u16 },
    /// Outgoing call: the agent answered (2xx, its SDP answer). The
    /// endpoint has sent the ACK itself.
    Answered { answer: Bytes },
    /// Outgoing call: a final non-2xx (486 busy, 603 declined, 487 after
    /// our CANCEL, 408 when the phone never answered). `Ended` follows.
    Rejected { status: u16 },
    /// REFER in the dialog (either leg): a blind transfer to `target` (the
    /// Refer-To URI). The endpoint has answered 202 Accepted; report the
    /// outcome with [`Endpoint::refer_outcome`].
    Refer {
        target: String,
        referred_by: Option<String>,
    },
    /// Our 2xx was never ACKed (64*T1): the dialog is being torn down.
    AckTimeout,
    /// The dialog is over (a BYE either way, a rejection, a CANCEL or a
    /// timeout). The last event of every call, delivered exactly once.
    Ended,
}

/// What one of our client transactions is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ClientRole {
    Invite,
    Cancel,
    Bye,
    /// The outcome of a REFER; its answer changes nothing.
    Notify,
    /// BYE to a forked branch that answered after another (§13.2.2.4).
    StrayBye,
}

/// A client transaction of a call, found by (branch, CSeq method): a
/// CANCEL shares its INVITE's branch.
#[derive(Debug, Clone)]
pub(super) struct ClientRef {
    pub call: CallHandle,
    pub key: TransactionKey,
    pub role: ClientRole,
    /// Where the request went; retransmissions and ACKs follow it even after
    /// the call itself has ended.
    pub peer: Peer,
    /// INVITE: the To tag of the 2xx we took and its ACK, resent on every
    /// retransmission of that 2xx (§13.2.2.4).
    pub acked: Option<(String, Bytes)>,
}

impl Endpoint {
    pub(super) fn next_call_handle(&mut self) -> CallHandle {
        self.next_call += 1;
        self.next_call
    }

    /// Calls (dialogs) the endpoint is tracking.
    pub fn call_count(&self) -> usize {
        self.calls.len()
    }

    /// A new INVITE that passed the generic checks.
    pub(super) fn start_call(
        &mut self,
        msg: &Message,
        key: TransactionKey,
        from: Peer,
        now: Instant,
    ) -> Vec<Action> {
        let (Ok(from_hdr), Ok(to_hdr), Ok(call_id), Ok(cseq)) = (
            msg.from_header(),
            msg.to_header(),
            msg.call_id(),
            msg.cseq(),
        ) else {
            return Vec::new();
        };
        let handle = self.next_call_handle();
        let local_tag = format!("{:016x}", self.next_random());
        let remote_target = match msg.contacts() {
            Ok(message::Contacts::List(list)) => list
                .first()
                .map(|c| c.uri.as_str().to_string())
                .unwrap_or_else(|| from_hdr.uri.as_str().to_string()),
            _ => from_hdr.uri.as_str().to_string(),
        };
        let caller = from_hdr
            .uri
            .user
            .as_deref()
            .unwrap_or(&from_hdr.uri.host)
            .to_string();
        let dialled = msg
            .request_uri()
            .and_then(|u| message::Uri::parse(u).ok())
            .and_then(|u| u.user.map(|user| user.to_string()))
            .unwrap_or_default();
        let dialog = Dialog {
            handle,
            state: DialogState::Early,
            call_id: call_id.to_string(),
            local_tag: local_tag.clone(),
            remote_tag: from_hdr.tag().unwrap_or("").to_string(),
            remote_uri: strip_tag(msg.header("From").unwrap_or("")),
            local_uri: strip_tag(msg.header("To").unwrap_or("")),
            remote_target,
            route_set: msg
                .header_list("Record-Route")
                .into_iter()
                .map(str::to_string)
                .collect(),
            peer: from,
            local_addr: None,
            local_cseq: 0,
            remote_cseq: cseq.seq,
            invite_key: Some(key.clone()),
            pending_request: Some(msg.clone()),
            reinvite_key: None,
            pending_ack: None,
            bye_key: None,
            uac: None,
            refer_cseq: None,
        };
        let _ = to_hdr;
        self.dialog_index
            .insert((dialog.call_id.clone(), local_tag), handle);
        self.invite_index.insert(key.clone(), handle);
        self.calls.insert(handle, dialog);

        let mut actions = Vec::new();
        // 100 Trying stops the caller's INVITE retransmissions while the
        // call layer sets up media (RFC 3261 §8.2.6.1): no To tag.
        let trying = message::response(msg, 100, "Trying").build();
        if let Some(bytes) = self
            .transactions
            .respond(&key, 100, Bytes::from(trying), now)
        {
            actions.push(Action::Send {
                to: super::response_peer(msg, from),
                bytes,
            });
        }
        let offer = (!msg.body().is_empty()).then(|| Bytes::copy_from_slice(msg.body()));
        actions.push(Action::Incoming(IncomingCall {
            handle,
            call_id: call_id.to_string(),
            dialled,
            caller,
            caller_display: from_hdr.display_name.as_deref().map(str::to_string),
            offer,
            peer: from,
            user_agent: msg.header("User-Agent").map(str::to_string),
        }));
        actions
    }

    /// Final answer to the INVITE (or pending re-INVITE) of `call`:
    /// `sdp` is our answer. `local` is our SIP address as the caller reaches
    /// it, for the Contact header.
    pub fn answer(
        &mut self,
        call: CallHandle,
        sdp: &str,
        local: SocketAddr,
        now: Instant,
    ) -> Vec<Action> {
        let user_agent = self.config.user_agent.clone();
        let timers = self.config.timers;
        let Some(dialog) = self.calls.get_mut(&call) else {
            return Vec::new();
        };
        let Some(request) = dialog.pending_request.take() else {
            return Vec::new();
        };
        let key = match (dialog.invite_key.take(), dialog.reinvite_key.take()) {
            (Some(k), _) | (None, Some(k)) => k,
            (None, None) => return Vec::new(),
        };
        dialog.local_addr = Some(local);
        let user = request
            .request_uri()
            .and_then(|u| message::Uri::parse(u).ok())
            .and_then(|u| u.user.map(|user| user.to_string()))
            .unwrap_or_else(|| "hotline".to_string());
        let transport = if dialog.peer.transport.is_reliable() {
            ";transport=tcp"
        } else {
            ""
        };
        let response = Bytes::from(
            message::response(&request, 200, "OK")
                .to_tag(&dialog.local_tag)
                .header("Contact", &format!("<sip:{user}@{local}{transport}>"))
                .header("Allow", super::ALLOW)
                .header("Supported", "")
                .header("Server", &user_agent)
                .body("application/sdp", sdp.as_bytes())
                .build(),
        );
        if dialog.state == DialogState::Early {
            dialog.state = DialogState::Answered;
        }
        dialog.await_ack(response.clone(), &timers, now);
        let next = dialog.pending_ack.as_ref().map(|p| p.next_at);
        let to = super::response_peer(&request, dialog.peer);
        self.invite_index.remove(&key);
        if let Some(at) = next {
            self.call_timers.push(Reverse((at, call)));
        }
        match self.transactions.respond(&key, 200, response, now) {
            Some(bytes) => vec![Action::Send { to, bytes }],
            None => Vec::new(),
        }
    }

    /// Refuses the call's INVITE (404 no such number, 488 no common codec,
    /// 503 out of ports...). The call ends.
    pub fn reject(
        &mut self,
        call: CallHandle,
        status: u16,
        reason: &str,
        now: Instant,
    ) -> Vec<Action> {
        let Some(dialog) = self.calls.get_mut(&call) else {
            return Vec::new();
        };
        let (Some(request), Some(key)) = (dialog.pending_request.take(), dialog.invite_key.take())
        else {
            // A re-INVITE we cannot take: refuse it, the call goes on.
            if let (Some(request), Some(key)) =
                (dialog.pending_request.take(), dialog.reinvite_key.take())
            {
                let tag = dialog.local_tag.clone();
                let to = super::response_peer(&request, dialog.peer);
                let bytes = Bytes::from(
                    message::response(&request, status, reason)
                        .to_tag(&tag)
                        .build(),
                );
                return self
                    .transactions
                    .respond(&key, status, bytes, now)
                    .map(|bytes| vec![Action::Send { to, bytes }])
                    .unwrap_or_default();
            }
            return Vec::new();
        };
        let tag = dialog.local_tag.clone();
        let to = super::response_peer(&request, dialog.peer);
        let bytes = Bytes::from(
            message::response(&request, status, reason)
                .to_tag(&tag)
                .header("Server", &self.config.user_agent)
                .build(),
        );
        self.invite_index.remove(&key);
        let mut actions: Vec<Action> = self
            .transactions
            .respond(&key, status, bytes, now)
            .map(|bytes| Action::Send { to, bytes })
            .into_iter()
            .collect();
        actions.extend(self.end_call(call));
        actions
    }

    /// Ends the call from our side: BYE when answered; an incoming call not
    /// yet answered gets 480, an outgoing one is cancelled.
    pub fn hangup(&mut self, call: CallHandle, now: Instant) -> Vec<Action> {
        let Some(dialog) = self.calls.get(&call) else {
            return Vec::new();
        };
        match dialog.state {
            DialogState::Early if dialog.uac.is_some() => self.cancel(call, now),
            DialogState::Early => self.reject(call, 480, "Temporarily Unavailable", now),
            DialogState::Answered | DialogState::Confirmed => self.send_bye(call, now),
            DialogState::Terminating | DialogState::Terminated => Vec::new(),
        }
    }

    pub(super) fn send_bye(&mut self, call: CallHandle, now: Instant) -> Vec<Action> {
        let branch = self.new_branch();
        let user_agent = self.config.user_agent.clone();
        let Some(dialog) = self.calls.get_mut(&call) else {
            return Vec::new();
        };
        dialog.pending_ack = None;
        dialog.state = DialogState::Terminating;
        let peer = dialog.peer;
        let (key, bytes) = dialog.bye(&branch, &user_agent);
        dialog.bye_key = Some(key.clone());
        vec![self.start_client(call, ClientRole::Bye, peer, key, bytes, now)]
    }

    /// A fresh RFC 3261 branch for a request we send.
    pub(super) fn new_branch(&mut self) -> String {
        format!("z9hG4bK{:016x}", self.next_random())
    }

    /// Starts a client transaction for `call` and returns the send action.
    pub(super) fn start_client(
        &mut self,
        call: CallHandle,
        role: ClientRole,
        peer: Peer,
        key: TransactionKey,
        bytes: Bytes,
        now: Instant,
    ) -> Action {
        self.client_index.insert(
            (key.branch.clone(), key.method.clone()),
            ClientRef {
                call,
                key: key.clone(),
                role,
                peer,
                acked: None,
            },
        );
        let is_invite = role == ClientRole::Invite;
        let bytes =
            self.client
                .send_request(key, is_invite, peer.transport.is_reliable(), bytes, now);
        Action::Send { to: peer, bytes }
    }

    /// Forgets a call and tells the call layer it is over. Client
    /// transactions of the call run on (a late 487 still gets its ACK, a
    /// late 2xx its ACK and BYE) and leave the index when they terminate.
    pub(super) fn end_call(&mut self, call: CallHandle) -> Vec<Action> {
        let Some(mut dialog) = self.calls.remove(&call) else {
            return Vec::new();
        };
        dialog.state = DialogState::Terminated;
        self.dialog_index
            .remove(&(dialog.call_id.clone(), dialog.local_tag.clone()));
        if let Some(key) = dialog.invite_key.take() {
            self.invite_index.remove(&key);
        }
        if dialog.uac.is_some() {
            self.outgoing_calls = self.outgoing_calls.saturating_sub(1);
        }
        vec![Action::Call(call, CallEvent::Ended)]
    }

    /// A request with a To tag: it belongs to a dialog, ours or none.
    /// Returns the final response to send through the transaction, or None
    /// when the call layer answers later (re-INVITE).
    pub(super) fn in_dialog(
        &mut self,
        msg: &Message,
        method: &Method,
        key: &TransactionKey,
        now: Instant,
        actions: &mut Vec<Action>,
    ) -> Option<(u16, Vec<u8>)> {
        let Some(call) = self.dialog_of(msg) else {
            return Some((
                481,
                self.respond(msg, 481, "Call/Transaction Does Not Exist")
                    .build(),
            ));
        };
        let dialog = self.calls.get_mut(&call)?;
        let tag = dialog.local_tag.clone();
        if let Ok(cseq) = msg.cseq() {
            dialog.remote_cseq = dialog.remote_cseq.max(cseq.seq);
        }
        let ok = |this: &mut Endpoint| {
            Some((
                200,
                message::response(msg, 200, "OK")
                    .to_tag(&tag)
                    .header("Server", &this.config.user_agent)
                    .build(),
            ))
        };
        match method {
            Method::Bye => {
                dialog.state = DialogState::Terminated;
                actions.push(Action::Call(call, CallEvent::HungUp));
                // A re-INVITE still open is over with the dialog.
                let pending = dialog
                    .reinvite_key
                    .take()
                    .zip(dialog.pending_request.take());
                if let Some((rkey, request)) = pending {
                    let bytes = Bytes::from(
                        message::response(&request, 487, "Request Terminated")
                            .to_tag(&tag)
                            .build(),
                    );
                    let _ = self.transactions.respond(&rkey, 487, bytes, now);
                }
                let response = ok(self);
                actions.extend(self.end_call(call));
                response
            }
            Method::Info => {
                actions.push(Action::Call(
                    call,
                    CallEvent::Info {
                        content_type: msg.header("Content-Type").unwrap_or("").to_string(),
                        body: Bytes::copy_from_slice(msg.body()),
                    },
                ));
                ok(self)
            }
            Method::Refer => {
                let refer_to = msg
                    .header("Refer-To")
                    .and_then(|v| NameAddr::parse(v, "Refer-To").ok());
                let Some(refer_to) = refer_to else {
                    return Some((
                        400,
                        message::response(msg, 400, "Missing or Bad Refer-To")
                            .to_tag(&tag)
                            .build(),
                    ));
                };
                dialog.refer_cseq = msg.cseq().ok().map(|c| c.seq);
                let referred_by =
                    msg.header("Referred-By")
                        .map(|v| match NameAddr::parse(v, "Referred-By") {
                            Ok(addr) => addr.uri.as_str().to_string(),
                            Err(_) => v.to_string(),
                        });
                actions.push(Action::Call(
                    call,
                    CallEvent::Refer {
                        target: refer_to.uri.as_str().to_string(),
                        referred_by,
                    },
                ));
                Some((
                    202,
                    message::response(msg, 202, "Accepted")
                        .to_tag(&tag)
                        .header("Server", &self.config.user_agent)
                        .build(),
                ))
            }
            Method::Invite => {
                let our_invite_open = dialog.uac.is_some() && dialog.state == DialogState::Early;
                if dialog.reinvite_key.is_some() || dialog.invite_key.is_some() || our_invite_open {
                    // RFC 3261 §14.2: one INVITE at a time.
                    return Some((
                        491,
                        message::response(msg, 491, "Request Pending")
                            .to_tag(&tag)
                            .build(),
                    ));
                }
                dialog.reinvite_key = Some(key.clone());
                dialog.pending_request = Some(msg.clone());
                if let Ok(message::Contacts::List(list)) = msg.contacts()
                    && let Some(contact) = list.first()
                {
                    dialog.remote_target = contact.uri.as_str().to_string();
                }
                let offer = (!msg.body().is_empty()).then(|| Bytes::copy_from_slice(msg.body()));
                actions.push(Action::Call(call, CallEvent::Reoffer { offer }));
                None
            }
            Method::Options | Method::Update | Method::Notify => ok(self),
            _ => Some((
                405,
                message::response(msg, 405, "Method Not Allowed")
                    .to_tag(&tag)
                    .header("Allow", super::ALLOW)
                    .build(),
            )),
        }
    }

    /// The call a request or ACK belongs to, by Call-ID and our tag.
    fn dialog_of(&self, msg: &Message) -> Option<CallHandle> {
        let call_id = msg.call_id().ok()?;
        let to = msg.to_header().ok()?;
        let tag = to.tag()?;
        self.dialog_index
            .get(&(call_id.to_string(), tag.to_string()))
            .copied()
    }

    /// An ACK: for our 2xx it confirms the dialog.
    pub(super) fn on_ack(&mut self, msg: &Message) -> Vec<Action> {
        let Some(call) = self.dialog_of(msg) else {
            return Vec::new();
        };
        let Some(dialog) = self.calls.get_mut(&call) else {
            return Vec::new();
        };
        if dialog.pending_ack.take().is_some() && dialog.state == DialogState::Answered {
            dialog.state = DialogState::Confirmed;
            return vec![Action::Call(call, CallEvent::Confirmed)];
        }
        Vec::new()
    }

    /// CANCEL: matches the INVITE server transaction with the same branch.
    pub(super) fn on_cancel(
        &mut self,
        msg: &Message,
        key: &TransactionKey,
        now: Instant,
        actions: &mut Vec<Action>,
    ) -> (u16, Vec<u8>) {
        let invite_key = TransactionKey {
            method: "INVITE".to_string(),
            ..key.clone()
        };
        let Some(&call) = self.invite_index.get(&invite_key) else {
            return (
                481,
                self.respond(msg, 481, "Call/Transaction Does Not Exist")
                    .build(),
            );
        };
        let tag = self
            .calls
            .get(&call)
            .map(|d| d.local_tag.clone())
            .unwrap_or_default();
        actions.push(Action::Call(call, CallEvent::Cancelled));
        actions.extend(self.reject(call, 487, "Request Terminated", now));
        (200, message::response(msg, 200, "OK").to_tag(&tag).build())
    }

    /// A response: ours only come from client transactions (INVITE,
    /// CANCEL, BYE, NOTIFY), matched by top Via branch and CSeq method
    /// (§17.1.3). Anything else is dropped (§18.1.2).
    pub(super) fn on_response(&mut self, msg: &Message, now: Instant) -> Vec<Action> {
        let (Ok(via), Ok(cseq), Some(status)) = (msg.top_via(), msg.cseq(), msg.status()) else {
            return Vec::new();
        };
        let Some(branch) = via.branch() else {
            return Vec::new();
        };
        let index = (branch.to_string(), cseq.method.as_str().to_string());
        let Some(entry) = self.client_index.get(&index).cloned() else {
            return Vec::new();
        };
        if entry.role == ClientRole::Invite {
            return self.on_invite_response(msg, status, entry, now);
        }
        let mut actions = Vec::new();
        for event in self.client.on_response(&entry.key, status, None, now) {
            if let ClientEvent::Response(code) = event
                && code >= 200
                && entry.role == ClientRole::Bye
            {
                actions.extend(self.end_call(entry.call));
            }
        }
        actions
    }

    /// Call timers: 2xx retransmission, ACK timeout, CANCEL give-up, and
    /// the client transactions.
    pub(super) fn call_timeouts(&mut self, now: Instant) -> Vec<Action> {
        let mut actions = Vec::new();
        while let Some(Reverse((at, call))) = self.call_timers.peek().copied() {
            if at > now {
                break;
            }
            self.call_timers.pop();
            let Some(dialog) = self.calls.get_mut(&call) else {
                continue;
            };
            if let Some(uac) = &dialog.uac
                && uac.cancel == (CancelState::Sent { give_up_at: at })
            {
                actions.extend(self.give_up_cancelled(call));
                continue;
            }
            let Some(pending) = dialog.pending_ack.as_mut() else {
                continue;
            };
            if pending.next_at != at {
                continue; // a stale entry: the timer moved
            }
            if now >= pending.give_up_at {
                dialog.pending_ack = None;
                actions.push(Action::Call(call, CallEvent::AckTimeout));
                actions.extend(self.send_bye(call, now));
                continue;
            }
            if !dialog.peer.transport.is_reliable() {
                actions.push(Action::Send {
                    to: dialog.peer,
                    bytes: pending.response.clone(),
                });
            }
            pending.interval = (pending.interval * 2).min(self.config.timers.t2);
            pending.next_at = (now + pending.interval).min(pending.give_up_at);
            let next = pending.next_at;
            self.call_timers.push(Reverse((next, call)));
        }
        for (key, event) in self.client.handle_timeout(now) {
            let index = (key.branch.clone(), key.method.clone());
            let Some(entry) = self.client_index.get(&index).cloned() else {
                continue;
            };
            match event {
                ClientEvent::Transmit(bytes) => {
                    actions.push(Action::Send {
                        to: entry.peer,
                        bytes,
                    });
                }
                ClientEvent::Timeout => match entry.role {
                    // Timer B: the phone never answered at all.
                    ClientRole::Invite => {
                        if self
                            .calls
                            .get(&entry.call)
                            .is_some_and(|d| d.uac.is_some() && d.state == DialogState::Early)
                        {
                            actions.push(Action::Call(
                                entry.call,
                                CallEvent::Rejected { status: 408 },
                            ));
                            actions.extend(self.end_call(entry.call));
                        }
                    }
                    ClientRole::Bye => actions.extend(self.end_call(entry.call)),
                    ClientRole::Cancel | ClientRole::Notify | ClientRole::StrayBye => {}
                },
                ClientEvent::Terminated => {
                    self.client_index.remove(&index);
                    let still_ringing = entry.role == ClientRole::Invite
                        && self
                            .calls
                            .get(&entry.call)
                            .is_some_and(|d| d.uac.is_some() && d.state == DialogState::Early);
                    if entry.role == ClientRole::Bye {
                        actions.extend(self.end_call(entry.call));
                    } else if still_ringing {
                        // The INVITE is over but never settled the call (a
                        // 2xx without a To tag): end it rather than leave
                        // it ringing for ever.
                        actions.push(Action::Call(
                            entry.call,
                            CallEvent::Rejected { status: 408 },
                        ));
                        actions.extend(self.end_call(entry.call));
                    }
                }
                ClientEvent::Response(_) => {}
            }
        }
        actions
    }

    pub(super) fn call_poll_timeout(&self) -> Option<Instant> {
        let calls = self.call_timers.peek().map(|Reverse((at, _))| *at);
        let client = self.client.poll_timeout();
        match (calls, client) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}
